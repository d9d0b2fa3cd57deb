//! The sio-bench peer on `crates/sio`: `bench-peer PORT` binds 127.0.0.1:PORT.
//!
//! `join` (string room) joins it; `bcast` (object with `.room`) emits `msg` with the same
//! object, byte for byte, to that room — the behaviour of `../shared/sio-bench`'s peers.
//! Runs on a current-thread runtime: the bench pins the server to one core.

use serde::Deserialize;
use std::borrow::Cow;

#[derive(Deserialize)]
struct Bcast<'a> {
    #[serde(borrow)]
    room: Cow<'a, str>,
}

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("PORT").ok())
        .unwrap_or_else(|| "3000".into())
        .parse()
        .expect("port must be a number");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let io = sio::Server::builder(sio::Config::default())
            .namespace("/", |ns| {
                ns.on("join", |s, ev| {
                    if let Ok(room) = ev.arg::<String>(0) {
                        s.join(room);
                    }
                })
                .on("bcast", |s, ev| {
                    let Some(raw) = ev.arg_raw(0) else { return };
                    if let Ok(b) = serde_json::from_str::<Bcast>(raw.get()) {
                        s.ns().to(&*b.room).emit_raw("msg", raw.get().to_owned(), Vec::new());
                    }
                })
            })
            .build();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
        println!("sio bench-peer listening on 127.0.0.1:{port} pid={}", std::process::id());
        let stats = io.clone();
        let shutdown = async {
            use tokio::signal::unix::{signal, SignalKind};
            let mut int = signal(SignalKind::interrupt()).expect("SIGINT");
            let mut term = signal(SignalKind::terminate()).expect("SIGTERM");
            tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
        };
        io.serve(listener, shutdown).await.expect("serve");
        let s = stats.stats();
        use std::sync::atomic::Ordering::Relaxed;
        println!(
            "shutdown: sessions {}, broadcasts {}, deliveries {}, slow consumers {}, volatile dropped {}",
            s.connections_total.load(Relaxed),
            s.broadcasts.load(Relaxed),
            s.deliveries.load(Relaxed),
            s.slow_consumers.load(Relaxed),
            s.volatile_dropped.load(Relaxed)
        );
    });
    std::process::exit(0);
}
