//! Embed the official socket.io-client browser bundle (served at /socket.io/socket.io.js).
//! Taken from the npm package at build time, never committed: `$SOCKET_IO_CLIENT_JS`, else
//! `e2e/node_modules` (after `npm ci --prefix e2e`), else `npm pack` of the pinned version.
//! The same for the Socket.IO Admin UI (`@socket.io/admin-ui`'s `ui/dist`, served at
//! /admin-ui/): `$SOCKET_IO_ADMIN_UI_DIST`, else `e2e/node_modules`, else `npm pack`.

use std::path::{Path, PathBuf};
use std::process::Command;

const VERSION: &str = "4.8.1";
const ADMIN_UI_VERSION: &str = "0.5.1";
const MDI_VERSION: &str = "7.4.47";

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
/// source maps) and the Material Design Icons font it loads from jsDelivr (`@mdi/font`,
/// served at `mdi/`). The index loads the icons from here instead and loses its Google
/// Fonts link (the UI falls back to system fonts), so opening the admin page tells no
/// third party about it and works offline.
fn admin_ui() {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let modules = manifest.join("../../e2e/node_modules");
    println!("cargo:rerun-if-env-changed=SOCKET_IO_ADMIN_UI_DIST");
    println!(
        "cargo:rerun-if-changed={}",
        modules.join("@socket.io/admin-ui/package.json").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        modules.join("@mdi/font/package.json").display()
    );
    let dist = std::env::var("SOCKET_IO_ADMIN_UI_DIST")
        .ok()
        .map(PathBuf::from)
        .filter(|d| d.join("index.html").is_file())
        .or_else(|| {
            package(
                &modules,
                &out_dir,
                "@socket.io/admin-ui",
                ADMIN_UI_VERSION,
                "ui/dist/index.html",
            )
            .map(|p| p.join("ui/dist"))
        });
    let mdi = package(
        &modules,
        &out_dir,
        "@mdi/font",
        MDI_VERSION,
        "css/materialdesignicons.min.css",
    );
    let copy = out_dir.join("admin-ui");
    let _ = std::fs::remove_dir_all(&copy);
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    match &dist {
        Some(dist) => {
            let mut rel = Vec::new();
            collect(dist, dist, &mut rel);
            files.extend(rel.into_iter().map(|r| (r.clone(), dist.join(r))));
        }
        None => println!("cargo:warning=@socket.io/admin-ui not found; /admin-ui/ will answer 503"),
    }
    if let (Some(_), Some(mdi)) = (&dist, &mdi) {
        for f in [
            "css/materialdesignicons.min.css",
            "fonts/materialdesignicons-webfont.woff2",
            "fonts/materialdesignicons-webfont.woff",
        ] {
            files.push((format!("mdi/{f}"), mdi.join(f)));
        }
    }
    files.sort();
    let mut entries = String::from("/// The Admin UI's files: (path under /admin-ui/, bytes).\npub static ADMIN_UI: &[(&str, &[u8])] = &[\n");
    for (rel, src) in files {
        let dst = copy.join(&rel);
        std::fs::create_dir_all(dst.parent().expect("parent")).expect("mkdir");
        if rel == "index.html" {
            let html = std::fs::read_to_string(&src).expect("read index.html");
            let mut html = strip_links(&html, &["fonts.googleapis.com"]);
            if mdi.is_some() {
                html = html.replace(
                    "https://cdn.jsdelivr.net/npm/@mdi/font@latest/css/materialdesignicons.min.css",
                    "mdi/css/materialdesignicons.min.css",
                );
            }
            let html = strip_links(&html, &["cdn.jsdelivr.net"]);
            std::fs::write(&dst, html).expect("write index.html");
        } else {
            std::fs::copy(&src, &dst).expect("copy admin ui file");
        }
        entries.push_str(&format!(
            "    ({rel:?}, include_bytes!({:?})),\n",
            dst.display().to_string()
        ));
    }
    entries.push_str("];\n");
    std::fs::write(out_dir.join("admin_ui.rs"), entries).expect("write admin_ui.rs");
}

/// The directory of npm package `name`: from `e2e/node_modules` when it holds `version`,
/// else unpacked by `npm pack` into OUT_DIR (once: a later build reuses it). `probe` is a
/// file the package must have.
fn package(
    modules: &Path,
    out_dir: &Path,
    name: &str,
    version: &str,
    probe: &str,
) -> Option<PathBuf> {
    let local = modules.join(name);
    let manifest = std::fs::read_to_string(local.join("package.json")).unwrap_or_default();
    if local.join(probe).is_file() && manifest.contains(&format!("\"version\": \"{version}\"")) {
        return Some(local);
    }
    let dir = out_dir.join(format!("pack-{}", name.replace(['@', '/'], "_")));
    let unpacked = dir.join("package");
    if unpacked.join(probe).is_file() {
        return Some(unpacked);
    }
    let _ = std::fs::create_dir_all(&dir);
    let ok = Command::new("npm")
        .args([
            "pack",
            &format!("{name}@{version}"),
            "--silent",
            "--prefer-offline",
            "--fetch-timeout=20000",
            "--fetch-retries=1",
        ])
        .current_dir(&dir)
        .status()
        .is_ok_and(|s| s.success());
    let tgz = dir.join(format!(
        "{}-{version}.tgz",
        name.trim_start_matches('@').replace('/', "-")
    ));
    let ok = ok
        && Command::new("tar")
            .arg("-xzf")
            .arg(&tgz)
            .arg("-C")
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
    (ok && unpacked.join(probe).is_file()).then_some(unpacked)
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
