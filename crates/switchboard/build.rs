//! Embed the official socket.io-client browser bundle (served at /socket.io/socket.io.js).
//! Taken from the npm package at build time, never committed: `$SOCKET_IO_CLIENT_JS`, else
//! `e2e/node_modules` (after `npm ci --prefix e2e`), else `npm pack` of the pinned version.
//! The same for the Socket.IO Admin UI (`@socket.io/admin-ui`'s `ui/dist`, served at
//! /admin-ui/): `$SOCKET_IO_ADMIN_UI_DIST`, else `e2e/node_modules`, else `npm pack`.

use std::path::{Path, PathBuf};
use std::process::Command;

const VERSION: &str = "4.8.1";
const ADMIN_UI_VERSION: &str = "0.5.1";

fn main() {
    admin_ui();
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("socket.io.min.js");
    println!("cargo:rerun-if-env-changed=SOCKET_IO_CLIENT_JS");
    // `SKIP_POSTGRES=1`: the PostgreSQL halves of the store tests are `#[ignore]`d
    // (src/store/test_support.rs), so `cargo test` reports them as ignored.
    println!("cargo:rerun-if-env-changed=SKIP_POSTGRES");
    println!("cargo:rustc-check-cfg=cfg(skip_postgres)");
    if std::env::var("SKIP_POSTGRES").as_deref() == Ok("1") {
        println!("cargo:rustc-cfg=skip_postgres");
    }
    println!("cargo:rerun-if-changed=migrations");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let local = manifest.join("../../e2e/node_modules/socket.io-client/dist/socket.io.min.js");
    println!("cargo:rerun-if-changed={}", local.display());
    let candidates = [
        std::env::var("SOCKET_IO_CLIENT_JS").ok().map(PathBuf::from),
        Some(local),
    ];
    for c in candidates.into_iter().flatten() {
        if c.is_file() {
            std::fs::copy(&c, &out).expect("copy socket.io-client bundle");
            return;
        }
    }
    if npm_pack(out.parent().expect("out dir"), &out) {
        return;
    }
    println!(
        "cargo:warning=socket.io-client bundle not found; /socket.io/socket.io.js will answer 503"
    );
    std::fs::write(&out, b"").expect("write placeholder");
}

fn npm_pack(dir: &Path, out: &Path) -> bool {
    let ok = Command::new("npm")
        .args(["pack", &format!("socket.io-client@{VERSION}"), "--silent"])
        .current_dir(dir)
        .status()
        .is_ok_and(|s| s.success());
    let tgz = dir.join(format!("socket.io-client-{VERSION}.tgz"));
    ok && Command::new("tar")
        .arg("-xzf")
        .arg(&tgz)
        .arg("-C")
        .arg(dir)
        .arg("package/dist/socket.io.min.js")
        .status()
        .is_ok_and(|s| s.success())
        && std::fs::rename(dir.join("package/dist/socket.io.min.js"), out).is_ok()
}

/// Write `admin_ui.rs` into OUT_DIR: `ADMIN_UI: &[(path, bytes)]` with the UI's files (no
/// source maps). The index loses its links to Google Fonts and jsDelivr, so that opening
/// the admin page tells no third party about it (the UI falls back to system fonts).
fn admin_ui() {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    println!("cargo:rerun-if-env-changed=SOCKET_IO_ADMIN_UI_DIST");
    let local = manifest.join("../../e2e/node_modules/@socket.io/admin-ui/ui/dist");
    println!(
        "cargo:rerun-if-changed={}",
        local.join("index.html").display()
    );
    let packed = out_dir.join("admin-ui-pack/package/ui/dist");
    let dist = [
        std::env::var("SOCKET_IO_ADMIN_UI_DIST")
            .ok()
            .map(PathBuf::from),
        Some(local),
    ]
    .into_iter()
    .flatten()
    .find(|d| d.join("index.html").is_file())
    .or_else(|| npm_pack_admin_ui(&out_dir.join("admin-ui-pack")).then_some(packed));
    let mut entries = String::from("/// The Admin UI's files: (path under /admin-ui/, bytes).\npub static ADMIN_UI: &[(&str, &[u8])] = &[\n");
    match dist {
        Some(dist) => {
            let copy = out_dir.join("admin-ui");
            let _ = std::fs::remove_dir_all(&copy);
            let mut files = Vec::new();
            collect(&dist, &dist, &mut files);
            files.sort();
            for rel in files {
                let src = dist.join(&rel);
                let dst = copy.join(&rel);
                std::fs::create_dir_all(dst.parent().expect("parent")).expect("mkdir");
                if rel == "index.html" {
                    let html = std::fs::read_to_string(&src).expect("read index.html");
                    let html = strip_links(&html, &["fonts.googleapis.com", "cdn.jsdelivr.net"]);
                    std::fs::write(&dst, html).expect("write index.html");
                } else {
                    std::fs::copy(&src, &dst).expect("copy admin ui file");
                }
                entries.push_str(&format!(
                    "    ({rel:?}, include_bytes!({:?})),\n",
                    dst.display().to_string()
                ));
            }
        }
        None => println!("cargo:warning=@socket.io/admin-ui not found; /admin-ui/ will answer 503"),
    }
    entries.push_str("];\n");
    std::fs::write(out_dir.join("admin_ui.rs"), entries).expect("write admin_ui.rs");
}

/// Every file under `dir` (relative to `root`, `/`-separated), source maps left out.
fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).expect("read ui dist").flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(root, &p, out);
        } else if p.extension().is_none_or(|x| x != "map") {
            let rel = p.strip_prefix(root).expect("under root");
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

/// `html` without the `<link …>` tags that point at any of `hosts`.
fn strip_links(html: &str, hosts: &[&str]) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find("<link") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('>').map_or(rest.len(), |j| i + j + 1);
        let tag = &rest[i..end];
        if !hosts.iter().any(|h| tag.contains(h)) {
            out.push_str(tag);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn npm_pack_admin_ui(dir: &Path) -> bool {
    let _ = std::fs::create_dir_all(dir);
    let ok = Command::new("npm")
        .args([
            "pack",
            &format!("@socket.io/admin-ui@{ADMIN_UI_VERSION}"),
            "--silent",
        ])
        .current_dir(dir)
        .status()
        .is_ok_and(|s| s.success());
    let tgz = dir.join(format!("socket.io-admin-ui-{ADMIN_UI_VERSION}.tgz"));
    ok && Command::new("tar")
        .arg("-xzf")
        .arg(&tgz)
        .arg("-C")
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success())
}
