//! Embed the official socket.io-client browser bundle (served at /socket.io/socket.io.js).
//! Taken from the npm package at build time, never committed: `$SOCKET_IO_CLIENT_JS`, else
//! `e2e/node_modules` (after `npm ci --prefix e2e`), else `npm pack` of the pinned version.

use std::path::{Path, PathBuf};
use std::process::Command;

const VERSION: &str = "4.8.1";

fn main() {
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
