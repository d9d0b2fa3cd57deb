//! Hostile clients (issue 12): each test plays one attack over a real socket and checks
//! that the attacker alone pays — closed with a reason, refused, or bounded — while another
//! client goes on.

use crate::harness::*;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A masked client frame with any FIN/opcode/length, which no WebSocket library will write.
fn raw_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![(u8::from(fin) << 7) | opcode];
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
    let mask = [9u8, 8, 7, 6];
    v.extend_from_slice(&mask);
    v.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    v
}

/// A raw WebSocket on the engine path, past the 101 and the open packet.
async fn raw_ws(addr: std::net::SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
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
    let (op, open) = read_frame(&mut s).await.expect("open packet");
    assert_eq!((op, open[0]), (0x1, b'0'));
    s
}

/// The next server frame (opcode, payload); `None` at EOF. Bounded by `T`.
async fn read_frame(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    tokio::time::timeout(T, async {
        let mut h = [0u8; 2];
        s.read_exact(&mut h).await.ok()?;
        let len = match h[1] & 0x7F {
            126 => s.read_u16().await.ok()? as usize,
            127 => s.read_u64().await.ok()? as usize,
            n => n as usize,
        };
        let mut p = vec![0u8; len];
        s.read_exact(&mut p).await.ok()?;
        Some((h[0] & 0x0F, p))
    })
    .await
    .expect("timeout waiting for a frame")
}

/// Read until a close frame; returns its status code, and checks that EOF follows.
async fn close_code(s: &mut TcpStream) -> u16 {
    loop {
        match read_frame(s).await {
            Some((0x8, p)) => {
                let code = u16::from_be_bytes([p[0], p[1]]);
                assert!(read_frame(s).await.is_none(), "EOF after the close frame");
                return code;
            }
            Some(_) => continue,
            None => panic!("EOF without a close frame"),
        }
    }
}

/// A connected client in room `r` that checks it still gets a broadcast.
async fn control(srv: &TestServer) -> Ws {
    let (mut c, _) = Ws::connect(srv.addr, "").await;
    c.send(r#"42["join","r"]"#).await;
    let ns = srv.io.of("/").unwrap();
    eventually(|| ns.room_size("r") == 1).await;
    c
}

async fn control_still_served(srv: &TestServer, c: &mut Ws, n: u32) {
    srv.io.of("/").unwrap().to("r").emit("tick", &n).unwrap();
    // The event, with its recovery offset appended.
    let got = c.recv_text().await;
    assert!(got.starts_with(&format!(r#"42["tick",{n},""#)), "{got}");
}

#[tokio::test]
async fn oversized_and_fragmented_control_frames_close_with_1002() {
    let srv = TestServer::spawn(app(fast_config(), Default::default())).await;
    let mut ctl = control(&srv).await;
    for frame in [
        raw_frame(true, 0x9, &[b'p'; 126]),      // a ping over 125 bytes
        raw_frame(false, 0x9, b"part"),          // a fragmented ping
        raw_frame(true, 0x9, &vec![0; 1 << 20]), // the 1 MB ping of the report
    ] {
        let mut s = raw_ws(srv.addr).await;
        let _ = s.write_all(&frame).await; // the server may close before reading it all
        assert_eq!(close_code(&mut s).await, 1002);
    }
    // A legal ping is still answered with its payload.
    let mut s = raw_ws(srv.addr).await;
    s.write_all(&raw_frame(true, 0x9, &[b'k'; 125]))
        .await
        .unwrap();
    assert_eq!(read_frame(&mut s).await, Some((0xA, vec![b'k'; 125])));
    control_still_served(&srv, &mut ctl, 1).await;
}

#[tokio::test]
async fn ping_floods_get_one_pong_per_read_not_one_per_ping() {
    let srv = TestServer::spawn(app(fast_config(), Default::default())).await;
    let mut ctl = control(&srv).await;
    let mut s = raw_ws(srv.addr).await;
    // 16 MiB of legal 125-byte pings in big writes, never reading.
    let batch: Vec<u8> = (0..4096)
        .flat_map(|i| raw_frame(true, 0x9, &[(i % 251) as u8; 125]))
        .collect();
    let pings = 16 * (1 << 20) / batch.len() * 4096;
    for _ in 0..pings / 4096 {
        s.write_all(&batch).await.unwrap();
    }
    // Now read everything the server queued for us: far fewer pongs than pings (the
    // newest ping of each read is answered, RFC 6455 §5.5.3), so the queue never held
    // more than a handful.
    s.write_all(&raw_frame(true, 0x1, b"3")).await.unwrap(); // harmless pong packet
    s.write_all(&raw_frame(true, 0x8, &1000u16.to_be_bytes()))
        .await
        .unwrap();
    let mut pongs = 0usize;
    while let Some((op, _)) = read_frame(&mut s).await {
        if op == 0xA {
            pongs += 1;
        }
    }
    assert!(pongs >= 1, "pings are answered");
    assert!(
        pongs * 100 < pings,
        "{pongs} pongs for {pings} pings: one per ping would be unbounded"
    );
    control_still_served(&srv, &mut ctl, 2).await;
}

#[tokio::test]
async fn attachments_over_max_payload_close_the_connection() {
    let cfg = sio::Config {
        max_payload: 1000,
        ..fast_config()
    };
    let srv = TestServer::spawn(app(cfg, Default::default())).await;
    let mut ctl = control(&srv).await;
    let (mut c, _) = Ws::connect(srv.addr, "").await;
    c.send(r#"453-["echo",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]"#)
        .await;
    c.send_bin(&[1; 600]).await;
    c.send_bin(&[2; 600]).await; // 1200 bytes of attachments > max_payload
    c.closed().await;
    control_still_served(&srv, &mut ctl, 1).await;
}

#[tokio::test]
async fn attachments_that_never_come_time_out() {
    let cfg = sio::Config {
        attachment_timeout: Duration::from_millis(300),
        ..fast_config()
    };
    let reasons: Reasons = Default::default();
    let srv = TestServer::spawn(app(cfg, reasons.clone())).await;
    let mut ctl = control(&srv).await;
    let (mut c, _) = Ws::connect(srv.addr, "").await;
    c.send(r#"451-["echo",{"_placeholder":true,"num":0}]"#)
        .await;
    c.closed().await;
    assert_eq!(
        srv.io.stats().attachment_timeouts.load(Ordering::Relaxed),
        1
    );
    assert!(reasons
        .lock()
        .unwrap()
        .contains(&sio::DisconnectReason::ParseError));
    control_still_served(&srv, &mut ctl, 1).await;
}

#[tokio::test]
async fn a_panicking_handler_is_caught_and_the_socket_goes_on() {
    let io = sio::Server::builder(fast_config())
        .namespace("/", |ns| {
            ns.on("boom", |_, _| panic!("handler bug"))
                .on_async("boom-later", |_, _| async { panic!("async handler bug") })
                .on("ack", |s, mut ev| {
                    let _ = ev.ack(s, "still here");
                })
                .on("join", |s, ev| {
                    s.join(ev.arg::<String>(0).unwrap());
                })
        })
        .build();
    let srv = TestServer::spawn(io).await;
    let mut ctl = control(&srv).await;
    let (mut c, _) = Ws::connect(srv.addr, "").await;
    c.send(r#"42["boom"]"#).await;
    c.send(r#"42["boom-later"]"#).await;
    c.send(r#"427["ack"]"#).await;
    assert_eq!(c.recv_text().await, r#"437["still here"]"#);
    assert_eq!(srv.io.stats().handler_panics.load(Ordering::Relaxed), 2);
    control_still_served(&srv, &mut ctl, 1).await;
}

#[tokio::test]
async fn hostile_recovery_offsets_give_a_fresh_session() {
    let srv = TestServer::spawn(app(fast_config(), Default::default())).await;
    let mut ctl = control(&srv).await;
    let (c, ack) = Ws::connect(srv.addr, "").await;
    let pid = ack["pid"].as_str().unwrap().to_owned();
    drop(c); // abrupt: the session is kept for recovery
    let ns = srv.io.of("/").unwrap();
    eventually(|| ns.socket_count() == 1).await;
    // u64::MAX + 1 panicked in debug builds while the namespace lock was held.
    let auth = format!(r#"{{"pid":"{pid}","offset":"18446744073709551615"}}"#);
    let (_c, ack2) = Ws::connect(srv.addr, &auth).await;
    assert_ne!(ack2["sid"], ack["sid"], "not recovered: a fresh session");
    assert_eq!(srv.io.stats().recovery_failures.load(Ordering::Relaxed), 1);
    control_still_served(&srv, &mut ctl, 1).await;
    let (_c3, _) = Ws::connect(srv.addr, "").await; // the namespace still works
}

#[tokio::test]
async fn per_ip_counts_are_released_on_every_kind_of_close() {
    let cfg = sio::Config {
        max_sessions_per_ip: 4,
        max_pending_per_ip: 2,
        ..fast_config()
    };
    let srv = TestServer::spawn(app(cfg, Default::default())).await;
    let ip: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let mut ctl = control(&srv).await; // 1 of 4
                                       // Sessions that never CONNECT are capped separately.
    let p1 = Ws::open(srv.addr).await;
    let p2 = Ws::open(srv.addr).await;
    let refused = reqwest::get(srv.url("transport=polling")).await.unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    assert_eq!(
        refused.text().await.unwrap(),
        r#"{"code":4,"message":"too many connections from this address waiting for their CONNECT"}"#
    );
    drop((p1, p2));
    eventually(|| srv.io.sessions_from(ip) == 1).await;
    for _ in 0..20 {
        // An ordinary abrupt disconnect (tab closed, network gone).
        let (c, _) = Ws::connect(srv.addr, "").await;
        drop(c);
        // CONNECT and close in the same write.
        let mut s = raw_ws(srv.addr).await;
        let mut both = raw_frame(true, 0x1, b"40");
        both.extend(raw_frame(true, 0x8, &1000u16.to_be_bytes()));
        s.write_all(&both).await.unwrap();
        drop(s);
        // A connect refused by the hook.
        let mut d = Ws::open(srv.addr).await;
        d.send(r#"40{"deny":true}"#).await;
        assert!(d.recv_text().await.starts_with("44"));
        drop(d);
    }
    eventually(|| srv.io.sessions_from(ip) == 1).await;
    let ns = srv.io.of("/").unwrap();
    eventually(|| ns.socket_count() == 1).await;
    let _a = Ws::connect(srv.addr, "").await;
    let _b = Ws::connect(srv.addr, "").await;
    let _c = Ws::connect(srv.addr, "").await; // 4 of 4: every slot came back
    let refused = reqwest::get(srv.url("transport=polling")).await.unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    assert_eq!(srv.io.stats().ip_refused.load(Ordering::Relaxed), 2);
    control_still_served(&srv, &mut ctl, 1).await;
}

#[tokio::test]
async fn oversized_handshake_headers_are_refused() {
    let srv = TestServer::spawn(app(fast_config(), Default::default())).await;
    let r = reqwest::Client::new()
        .get(srv.url("transport=polling"))
        .header("x-junk", "j".repeat(20 << 10))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 431);
    assert_eq!(srv.io.stats().headers_too_large.load(Ordering::Relaxed), 1);
    assert_eq!(srv.io.stats().connections.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn byte_budgets_bound_a_slow_consumer_and_the_recovery_log() {
    let cfg = sio::Config {
        max_buffer_bytes: 256 << 10,
        recovery_max_bytes: 512 << 10,
        ..fast_config()
    };
    let reasons: Reasons = Default::default();
    let srv = TestServer::spawn(app(cfg, reasons.clone())).await;
    let mut ctl = control(&srv).await;
    let (mut slow, _) = Ws::connect(srv.addr, "").await;
    slow.send(r#"42["join","big"]"#).await;
    let ns = srv.io.of("/").unwrap();
    eventually(|| ns.room_size("big") == 1).await;
    // 300 packets (far under max_buffer = 4096) of 100 KB: 30 MB, more than the
    // kernel's socket buffers; the client never reads.
    let big = "x".repeat(100_000);
    for _ in 0..300 {
        ns.to("big").emit("big", &big).unwrap();
    }
    eventually(|| srv.io.stats().slow_consumers.load(Ordering::Relaxed) == 1).await;
    assert!(reasons
        .lock()
        .unwrap()
        .contains(&sio::DisconnectReason::SlowConsumer));
    // The recovery log kept at most 512 KiB: the oldest packets were trimmed.
    assert!(srv.io.stats().recovery_trimmed.load(Ordering::Relaxed) >= 290);
    control_still_served(&srv, &mut ctl, 1).await;
}
