//! Hardening (issue 12): each test reproduces one attack over a real socket against a
//! real server and shows that the attacker alone pays — refused, closed with a reason, or
//! its cost under a stated bound — while a control client subscribed to a room receives
//! every event published during the attack, in order, without a disconnect.
//!
//! Memory bounds are measured on a separate server process (`ServerProcess`, the
//! `switchboard` binary), whose RSS nothing else in this test binary touches.

use crate::harness::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MIB: u64 = 1 << 20;

/// The switchboard binary on its own port, with extra `SWITCHBOARD_*` settings.
struct ServerProcess {
    addr: SocketAddr,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    async fn spawn(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["serve", "--listen", &addr.to_string()])
            .args(["--database-url", "sqlite::memory:"])
            .envs(env.iter().copied())
            .env("RUST_LOG", "warn")
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = tokio::time::Instant::now() + T;
        while reqwest::get(format!("http://{addr}/health")).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "server did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self {
            addr,
            child,
            _dir: dir,
        }
    }

    /// Resident memory of the server process.
    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kib * 1024
    }

    async fn stats(&self) -> Value {
        reqwest::get(format!("http://{}/api/v1/stats", self.addr))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client subscribed to `module:control` while a backend publishes to it every 20 ms.
struct Control {
    client: TestClient,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU32>,
    publisher: tokio::task::JoinHandle<()>,
    addr: SocketAddr,
}

impl Control {
    async fn start(addr: SocketAddr) -> Self {
        let client = TestClient::connect_to(&format!("http://{addr}/")).await;
        let ok = client
            .ack("module:subscribe", json!({ "moduleKey": "control" }))
            .await;
        assert_eq!(ok["success"], true, "{ok}");
        // The subscription's snapshot (no KPIs for this module) comes first.
        let mut client = client;
        assert_eq!(client.expect("kpi:update:control").await, json!([]));
        let (stop, sent) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU32::new(0)),
        );
        let publisher = tokio::spawn({
            let (stop, sent) = (stop.clone(), sent.clone());
            async move {
                let http = reqwest::Client::new();
                while !stop.load(Ordering::Acquire) {
                    let n = sent.load(Ordering::Acquire);
                    publish(&http, addr, n).await;
                    sent.store(n + 1, Ordering::Release);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
        Self {
            client,
            stop,
            sent,
            publisher,
            addr,
        }
    }

    /// Stop publishing and check that every event arrived, in order, exactly once.
    async fn finish(mut self) {
        self.stop.store(true, Ordering::Release);
        self.publisher.await.unwrap();
        let sent = self.sent.load(Ordering::Acquire);
        publish(&reqwest::Client::new(), self.addr, u32::MAX).await; // the end marker
        let mut got = Vec::new();
        loop {
            let (name, v) = self
                .client
                .next_where(|n| n == "kpi:update:control" || n == "disconnect" || n == "error")
                .await;
            assert_eq!(name, "kpi:update:control", "control client: {name} {v}");
            let n = v["n"]
                .as_u64()
                .unwrap_or_else(|| panic!("control payload {v}")) as u32;
            if n == u32::MAX {
                break;
            }
            got.push(n);
        }
        assert!(sent > 0, "the publisher ran during the attack");
        assert_eq!(
            got,
            (0..sent).collect::<Vec<_>>(),
            "every event, in order, once"
        );
    }
}

async fn publish(http: &reqwest::Client, addr: SocketAddr, n: u32) {
    let r = http
        .post(format!("http://{addr}/api/v1/publish"))
        .json(&json!({ "event": "kpi:update:control", "data": { "n": n }, "rooms": ["module:control"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "publish refused");
}

/// A masked client frame with any opcode.
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => v.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            v.push(0x80 | 126);
            v.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            v.push(0x80 | 127);
            v.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    v.extend_from_slice(&[0, 0, 0, 0]); // a zero mask keeps the payload readable
    v.extend_from_slice(payload);
    v
}

/// A raw WebSocket to the engine, past the 101 and the open packet (not read).
async fn raw_ws(addr: SocketAddr, extra_headers: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra_headers}\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s
}

/// Read frames until one whose text starts with `prefix`; returns its text.
async fn read_until(s: &mut TcpStream, prefix: &str) -> String {
    tokio::time::timeout(T, async {
        loop {
            let mut h = [0u8; 2];
            s.read_exact(&mut h).await.unwrap();
            let len = match h[1] & 0x7F {
                126 => s.read_u16().await.unwrap() as usize,
                127 => s.read_u64().await.unwrap() as usize,
                n => n as usize,
            };
            let mut p = vec![0u8; len];
            s.read_exact(&mut p).await.unwrap();
            let t = String::from_utf8_lossy(&p).into_owned();
            if t.starts_with(prefix) {
                return t;
            }
        }
    })
    .await
    .expect("timeout waiting for a frame")
}

/// Finding 1: pings (any size) from a client that never reads.
#[tokio::test]
async fn ping_flood_from_a_client_that_never_reads_costs_it_alone() {
    let srv = ServerProcess::spawn(&[]).await;
    let ctl = Control::start(srv.addr).await;
    let before = srv.rss();
    // 125-byte pings for 3 s or 512 MiB, whichever first; a write the server does not
    // take within a second ends the attack too (the server stopped reading: fine).
    let mut s = raw_ws(srv.addr, "").await;
    let batch: Vec<u8> = (0..4096).flat_map(|_| frame(0x9, &[b'p'; 125])).collect();
    let start = tokio::time::Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < Duration::from_secs(3) && sent < 512 * MIB {
        match tokio::time::timeout(Duration::from_secs(1), s.write_all(&batch)).await {
            Ok(Ok(())) => sent += batch.len() as u64,
            _ => break,
        }
    }
    let grown = srv.rss().saturating_sub(before);
    eprintln!(
        "ping flood: sent {} MiB, server RSS +{} KiB",
        sent / MIB,
        grown / 1024
    );
    assert!(sent > 32 * MIB, "the attack ran ({sent} bytes)");
    assert!(grown < 32 * MIB, "RSS grew {grown} bytes");
    // A ping over 125 bytes (the 100 KiB pings of the report) is a protocol error: 1002.
    let mut big = raw_ws(srv.addr, "").await;
    let _ = big.write_all(&frame(0x9, &vec![0; 100 << 10])).await;
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(T, big.read_to_end(&mut rest))
        .await
        .expect("closed");
    assert!(
        rest.windows(4).any(|w| w == [0x88, 0x02, 0x03, 0xEA]),
        "close frame with status 1002"
    );
    ctl.finish().await;
}

/// Finding 2: connect → `clientInfo` (1 MB) → drop, in a loop.
#[tokio::test]
async fn client_info_loop_is_bounded() {
    let srv = ServerProcess::spawn(&[]).await;
    let ctl = Control::start(srv.addr).await;
    let before = srv.rss();
    let info = format!(
        r#"42["clientInfo",{{"userAgent":"{}"}}]"#,
        "u".repeat(900_000)
    );
    let small = r#"421["clientInfo",{"userAgent":"Mozilla/5.0","screen":"1920x1080"}]"#;
    for i in 0..200 {
        let mut s = raw_ws(srv.addr, "").await;
        s.write_all(&frame(0x1, b"40")).await.unwrap();
        read_until(&mut s, "40{").await;
        s.write_all(&frame(0x1, info.replacen("42[", "427[", 1).as_bytes()))
            .await
            .unwrap();
        let ack = read_until(&mut s, "437").await;
        assert_eq!(
            ack,
            r#"437[{"success":false,"error":"clientInfo too large (at most 4096 bytes)"}]"#
        );
        if i == 0 {
            s.write_all(&frame(0x1, small.as_bytes())).await.unwrap();
            assert_eq!(read_until(&mut s, "431").await, r#"431[{"success":true}]"#);
        }
        drop(s); // abrupt: the session is kept for recovery
    }
    let grown = srv.rss().saturating_sub(before);
    eprintln!(
        "clientInfo loop: 200 x 900 KB, server RSS +{} KiB",
        grown / 1024
    );
    assert!(grown < 48 * MIB, "RSS grew {grown} bytes");
    assert_eq!(
        srv.stats().await["data"]["counters"]["client_info_refused"],
        200
    );
    ctl.finish().await;
}

/// Finding 4: handshakes with big headers, and sessions that never send CONNECT.
#[tokio::test]
async fn handshakes_cannot_pin_memory() {
    let srv = ServerProcess::spawn(&[("SWITCHBOARD_HEADER_READ_TIMEOUT_SECS", "1")]).await;
    let ctl = Control::start(srv.addr).await;
    let before = srv.rss();
    let http = reqwest::Client::new();
    let url = format!("http://{}/socket.io/?EIO=4&transport=polling", srv.addr);
    let junk = "j".repeat(60 << 10);
    for _ in 0..1000 {
        let r = http.get(&url).header("x-junk", &junk).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 431);
    }
    // Under the header cap, but never CONNECTing: at most max_pending_per_ip (1000) live.
    let junk = "j".repeat(15 << 10);
    let mut refused = 0;
    for _ in 0..1500 {
        let r = http.get(&url).header("x-junk", &junk).send().await.unwrap();
        match r.status().as_u16() {
            200 => {}
            403 => refused += 1,
            s => panic!("status {s}"),
        }
    }
    let grown = srv.rss().saturating_sub(before);
    eprintln!(
        "handshakes: 1000 x 60 KiB refused, 1500 x 15 KiB ({refused} refused), server RSS +{} KiB",
        grown / 1024
    );
    assert_eq!(refused, 500, "1000 pending sessions per address, then 403");
    assert!(grown < 48 * MIB, "RSS grew {grown} bytes");
    // A request head sent slowly is cut off by the header read timeout.
    let mut slow = TcpStream::connect(srv.addr).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let n = tokio::time::timeout(T, slow.read_to_end(&mut rest))
        .await
        .expect("the server closed the slow connection")
        .unwrap_or(0);
    assert!(!String::from_utf8_lossy(&rest[..n]).contains("200 OK"));
    ctl.finish().await;
}

/// Finding 5: ordinary abrupt disconnects, and CONNECT + close in one write, must give
/// their per-IP slot back; a staff socket that drops is announced as `disconnected`.
#[tokio::test]
async fn per_ip_slots_come_back_after_abrupt_disconnects() {
    let mut cfg = test_config();
    cfg.max_connections_per_ip = 5;
    let srv = TestServer::with(cfg).await;
    let ctl = Control::start(srv.addr).await; // uses 1 slot
    let mut observer = TestClient::connect_as(&srv, "boss", &["staff"]).await; // 2
    observer
        .ack("joinDashboard", json!({ "userRole": "staff" }))
        .await;
    observer.expect("staffConnectionUpdate").await; // its own `connected`
    let staff_token = token("desk1", &["staff"], None);
    for _ in 0..50 {
        let mut s = raw_ws(srv.addr, "").await;
        s.write_all(&frame(
            0x1,
            format!(r#"40{{"token":"{staff_token}"}}"#).as_bytes(),
        ))
        .await
        .unwrap();
        read_until(&mut s, "40{").await;
        s.write_all(&frame(0x1, br#"421["joinDashboard",{"userRole":"staff"}]"#))
            .await
            .unwrap();
        read_until(&mut s, "431").await;
        drop(s); // tab closed: no close frame, no Socket.IO DISCONNECT
        let upd = observer.expect("staffConnectionUpdate").await;
        assert_eq!(upd["action"], "connected");
        let upd = observer.expect("staffConnectionUpdate").await;
        assert_eq!(upd["action"], "disconnected", "{upd}");
        assert_eq!(upd["totalConnected"], 1);
        // CONNECT and close in the same write.
        let mut s = raw_ws(srv.addr, "").await;
        let mut both = frame(0x1, b"40");
        both.extend(frame(0x8, &1000u16.to_be_bytes()));
        s.write_all(&both).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + T;
    while srv.get("/api/v1/stats").await.1["data"]["connections"] != 2 {
        assert!(tokio::time::Instant::now() < deadline, "connections settle");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut others = Vec::new();
    for _ in 0..3 {
        others.push(TestClient::connect(&srv).await); // slots 3..5 are free again
    }
    let stats = srv.get("/api/v1/stats").await.1;
    assert_eq!(stats["data"]["counters"]["ip_refused"], 0, "{stats}");
    assert_eq!(
        stats["data"]["addresses"],
        json!([{ "ip": "127.0.0.1", "sessions": 5 }]),
        "the cap is full again, and nothing leaked"
    );
    ctl.finish().await;
}

/// Finding 6: behind a proxy, the forwarded client is the one counted and checked.
#[tokio::test]
async fn trusted_proxies_decide_who_the_client_is() {
    let mut cfg = test_config();
    cfg.max_connections_per_ip = 2;
    cfg.trusted_proxies = vec!["127.0.0.1".into()];
    let srv = TestServer::with(cfg).await;
    let ctl = Control::start(srv.addr).await; // 127.0.0.1: 1 of 2
    let http = reqwest::Client::new();
    let url = srv.url("/socket.io/?EIO=4&transport=polling");
    let open = |xff: &'static str| http.get(&url).header("x-forwarded-for", xff).send();
    // Two internet clients behind the proxy each get their own cap.
    for _ in 0..2 {
        assert_eq!(open("203.0.113.7").await.unwrap().status().as_u16(), 200);
        assert_eq!(
            open("198.51.100.1, 203.0.113.8")
                .await
                .unwrap()
                .status()
                .as_u16(),
            200
        );
    }
    assert_eq!(open("203.0.113.7").await.unwrap().status().as_u16(), 403);
    assert_eq!(open("203.0.113.9").await.unwrap().status().as_u16(), 200);
    // With no API key the API answers loopback callers only: a proxied request is not one.
    let body = json!({ "event": "x", "rooms": ["nowhere"] });
    let r = http
        .post(srv.url("/api/v1/publish"))
        .header("x-forwarded-for", "203.0.113.7")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = http
        .post(srv.url("/api/v1/publish"))
        .header("forwarded", "for=127.0.0.1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        403,
        "a forwarded loopback is still forwarded"
    );
    ctl.finish().await;

    // Without trusted proxies the header is not believed: every request is 127.0.0.1.
    let mut cfg = test_config();
    cfg.max_connections_per_ip = 2;
    let srv = TestServer::with(cfg).await;
    let http = reqwest::Client::new();
    let url = srv.url("/socket.io/?EIO=4&transport=polling");
    let statuses: Vec<u16> = futures_util::future::join_all(
        ["1.1.1.1", "2.2.2.2", "3.3.3.3"]
            .map(|ip| http.get(&url).header("x-forwarded-for", ip).send()),
    )
    .await
    .into_iter()
    .map(|r| r.unwrap().status().as_u16())
    .collect();
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, [200, 200, 403], "{statuses:?}");
}

/// Finding 8: a slow consumer of big messages is bounded in bytes, not packets, and the
/// recovery log by its byte budget.
#[tokio::test]
async fn byte_budgets_bound_slow_consumers_and_the_recovery_log() {
    let srv = ServerProcess::spawn(&[
        ("SWITCHBOARD_MAX_BUFFER_BYTES", "1048576"),
        ("SWITCHBOARD_RECOVERY_MAX_BYTES", "4194304"),
    ])
    .await;
    let ctl = Control::start(srv.addr).await;
    let before = srv.rss();
    let mut slow = raw_ws(srv.addr, "").await;
    slow.write_all(&frame(0x1, b"40")).await.unwrap();
    read_until(&mut slow, "40{").await;
    slow.write_all(&frame(
        0x1,
        br#"421["module:subscribe",{"moduleKey":"big"}]"#,
    ))
    .await
    .unwrap();
    read_until(&mut slow, "431").await;
    // 300 events of 100 KB (30 MB; max_buffer is 4096 packets), never read.
    let http = reqwest::Client::new();
    let big = "x".repeat(100_000);
    for _ in 0..300 {
        let r = http
            .post(format!("http://{}/api/v1/publish", srv.addr))
            .json(&json!({ "event": "kpi:update:big", "data": big, "rooms": ["module:big"] }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    let grown = srv.rss().saturating_sub(before);
    let counters = srv.stats().await["data"]["counters"].clone();
    eprintln!(
        "slow consumer: 300 x 100 KB, server RSS +{} KiB, {counters}",
        grown / 1024
    );
    assert_eq!(counters["slow_consumers"], 1);
    assert!(
        counters["recovery_trimmed"].as_u64().unwrap() >= 250,
        "{counters}"
    );
    assert!(grown < 48 * MIB, "RSS grew {grown} bytes");
    drop(slow);
    ctl.finish().await;
}

/// Finding 5 (recovery): the new connection's identity decides, and a recovery by another
/// user is refused rather than handing over the old user's rooms.
#[tokio::test]
async fn recovery_keeps_the_new_identity_and_refuses_another_user() {
    let srv = TestServer::spawn().await;
    let alice = token("alice", &[], None);
    let mut s = raw_ws(srv.addr, "").await;
    s.write_all(&frame(
        0x1,
        format!(r#"40{{"token":"{alice}"}}"#).as_bytes(),
    ))
    .await
    .unwrap();
    let ack: Value = serde_json::from_str(&read_until(&mut s, "40{").await[2..]).unwrap();
    s.write_all(&frame(0x1, br#"421["notification:subscribe",{}]"#))
        .await
        .unwrap();
    assert_eq!(
        read_until(&mut s, "431").await,
        r#"431[{"success":true,"room":"user:alice"}]"#
    );
    let (status, _) = srv
        .post(
            "/api/v1/publish",
            &json!({ "event": "private", "data": { "for": "alice" }, "rooms": ["user:alice"] }),
        )
        .await;
    assert_eq!(status, 200);
    let ev: Value =
        serde_json::from_str(&read_until(&mut s, r#"42["private""#).await[2..]).unwrap();
    let offset = ev[2].as_str().unwrap().to_owned();
    drop(s); // abrupt: recoverable
    let deadline = tokio::time::Instant::now() + T;
    while srv.get("/api/v1/stats").await.1["data"]["connections"] != 0 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, _) = srv
        .post(
            "/api/v1/publish",
            &json!({ "event": "private", "data": { "n": 2 }, "rooms": ["user:alice"] }),
        )
        .await;
    assert_eq!(status, 200);
    let recover =
        |tok: &str| json!({ "token": tok, "pid": ack["pid"], "offset": offset }).to_string();
    // Mallory holds alice's pid and offset but her own token: refused, nothing replayed.
    let mut m = raw_ws(srv.addr, "").await;
    let mallory = token("mallory", &[], None);
    m.write_all(&frame(0x1, format!("40{}", recover(&mallory)).as_bytes()))
        .await
        .unwrap();
    let refused = read_until(&mut m, "4").await;
    assert_eq!(
        refused,
        r#"44{"message":"this session belongs to another identity: connect without recovery"}"#
    );
    // The session was consumed by that attempt: alice reconnects as a fresh session, and
    // her identity is her new token's.
    let mut a = raw_ws(srv.addr, "").await;
    a.write_all(&frame(0x1, format!("40{}", recover(&alice)).as_bytes()))
        .await
        .unwrap();
    let ack2: Value = serde_json::from_str(&read_until(&mut a, "40{").await[2..]).unwrap();
    assert_ne!(
        ack2["sid"], ack["sid"],
        "not recovered after the refused attempt"
    );
}
