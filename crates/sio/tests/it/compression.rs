//! `permessage-deflate` (RFC 7692) over real sockets. tokio-tungstenite 0.26 has no
//! permessage-deflate, so the compressing client here is raw: its own handshake, frames
//! and raw DEFLATE with flate2 (as browsers and Node's `ws` do it).

use crate::harness::*;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use std::sync::atomic::Ordering;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const OFFER: &str = "permessage-deflate; client_max_window_bits";

fn compressing(threshold: usize) -> sio::Config {
    sio::Config {
        compression: true,
        compression_threshold: threshold,
        ..fast_config()
    }
}

/// Raw DEFLATE of one message, sync-flushed, without the trailing `00 00 ff ff`.
fn deflate(data: &[u8]) -> Vec<u8> {
    let mut c = Compress::new(Compression::default(), false);
    let mut out = Vec::with_capacity(data.len() + 64);
    while (c.total_in() as usize) < data.len() || out.len() == out.capacity() {
        out.reserve(out.capacity().max(1024));
        c.compress_vec(
            &data[c.total_in() as usize..],
            &mut out,
            FlushCompress::Sync,
        )
        .unwrap();
    }
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

fn inflate(data: &[u8]) -> Vec<u8> {
    let mut d = Decompress::new(false);
    let mut input = data.to_vec();
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut out = Vec::with_capacity(input.len() * 20 + 1024);
    d.decompress_vec(&input, &mut out, FlushDecompress::Sync)
        .unwrap();
    assert_eq!(d.total_in() as usize, input.len(), "all input inflated");
    out
}

/// A masked client frame; `first` is the whole first header byte (FIN, RSV1, opcode).
fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![first];
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
    let mask = [3u8, 1, 4, 1];
    v.extend_from_slice(&mask);
    v.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    v
}

/// A WebSocket client that may offer `permessage-deflate`.
struct Raw {
    s: TcpStream,
    /// The `Sec-WebSocket-Extensions` the server answered with.
    ext: Option<String>,
}

impl Raw {
    async fn open(addr: std::net::SocketAddr, offer: Option<&str>) -> Raw {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let ext = offer
            .map(|o| format!("Sec-WebSocket-Extensions: {o}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n"
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        tokio::time::timeout(T, async {
            while !head.ends_with(b"\r\n\r\n") {
                head.push(s.read_u8().await.unwrap());
            }
        })
        .await
        .expect("handshake response");
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        let ext = head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("sec-websocket-extensions")
                .then(|| v.trim().to_owned())
        });
        let mut c = Raw { s, ext };
        let (first, open) = c.frame().await.expect("open packet");
        assert_eq!((first, open[0]), (0x81, b'0'));
        c
    }

    /// Open and CONNECT to `/`, then join room `r`.
    async fn member(srv: &TestServer, offer: Option<&str>) -> Raw {
        let mut c = Raw::open(srv.addr, offer).await;
        c.send(0x81, b"40").await;
        assert!(c.text().await.starts_with("40"));
        c.send(0x81, br#"42["join","r"]"#).await;
        c
    }

    async fn send(&mut self, first: u8, payload: &[u8]) {
        self.s
            .write_all(&client_frame(first, payload))
            .await
            .unwrap();
    }

    /// The next data frame: (first header byte, payload); pings answered. `None` at EOF.
    async fn frame(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            let (first, p) = tokio::time::timeout(T, async {
                let mut h = [0u8; 2];
                self.s.read_exact(&mut h).await.ok()?;
                let len = match h[1] & 0x7F {
                    126 => self.s.read_u16().await.ok()? as usize,
                    127 => self.s.read_u64().await.ok()? as usize,
                    n => n as usize,
                };
                let mut p = vec![0u8; len];
                self.s.read_exact(&mut p).await.ok()?;
                Some((h[0], p))
            })
            .await
            .expect("timeout waiting for a frame")?;
            if first == 0x81 && p == b"2" {
                self.send(0x81, b"3").await; // Engine.IO ping
                continue;
            }
            return Some((first, p));
        }
    }

    /// The next text message, inflated if it came compressed.
    async fn text(&mut self) -> String {
        let (first, p) = self.frame().await.expect("a message");
        assert_eq!(first & 0x0F, 0x1, "a text frame");
        String::from_utf8(if first & 0x40 != 0 { inflate(&p) } else { p }).unwrap()
    }

    /// Read until a close frame; its status code.
    async fn close_code(&mut self) -> u16 {
        loop {
            match self.frame().await {
                Some((0x88, p)) => return u16::from_be_bytes([p[0], p[1]]),
                Some(_) => continue,
                None => panic!("EOF without a close frame"),
            }
        }
    }
}

/// A KPI-like JSON array of about `n` bytes.
fn kpis(n: usize) -> serde_json::Value {
    let mut v = Vec::new();
    let mut len = 0;
    let mut i = 0;
    while len < n {
        let trend = ["up", "down", "flat"][i % 3];
        let k = serde_json::json!({
            "id": format!("kpi-{i}"), "label": format!("Revenue {i}"), "value": i * 37 % 1000,
            "trend": trend, "status": "success"
        });
        len += k.to_string().len() + 1;
        v.push(k);
        i += 1;
    }
    serde_json::Value::Array(v)
}

#[tokio::test]
async fn negotiation_answers_with_no_context_takeover_and_only_when_on() {
    // Off by default: an offer is ignored.
    let off = TestServer::spawn(app(fast_config(), Default::default())).await;
    assert_eq!(Raw::open(off.addr, Some(OFFER)).await.ext, None);

    let on = TestServer::spawn(app(compressing(1024), Default::default())).await;
    assert_eq!(
        Raw::open(on.addr, Some(OFFER)).await.ext.as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
    // No offer, or an offer we decline (unknown parameter): a plain WebSocket, not a failure.
    assert_eq!(Raw::open(on.addr, None).await.ext, None);
    assert_eq!(
        Raw::open(on.addr, Some("permessage-deflate; x_unknown=1"))
            .await
            .ext,
        None
    );
    // The first acceptable of several offers.
    assert!(Raw::open(
        on.addr,
        Some("permessage-deflate; server_max_window_bits=9, permessage-deflate")
    )
    .await
    .ext
    .is_some());
}

#[tokio::test]
async fn broadcasts_over_the_threshold_arrive_compressed_once_for_all() {
    let srv = TestServer::spawn(app(compressing(1024), Default::default())).await;
    let mut a = Raw::member(&srv, Some(OFFER)).await;
    let mut b = Raw::member(&srv, Some(OFFER)).await;
    let mut plain = Raw::member(&srv, None).await;
    let ns = srv.io.of("/").unwrap();
    eventually(|| ns.room_size("r") == 3).await;

    let big = kpis(4096);
    ns.to("r").emit("kpi:update", &big).unwrap();
    let (fa, pa) = a.frame().await.unwrap();
    let (fb, pb) = b.frame().await.unwrap();
    assert_eq!(fa, 0x80 | 0x40 | 0x1, "FIN + RSV1 + text");
    assert_eq!(fb, fa);
    // Compressed once: both members got the very same bytes, ≥ 3× smaller.
    assert_eq!(pa, pb);
    let text = String::from_utf8(inflate(&pa)).unwrap();
    let expected = format!(r#"42["kpi:update",{big}"#);
    assert!(text.starts_with(&expected), "{text}");
    assert!(pa.len() * 3 <= text.len(), "{} of {}", pa.len(), text.len());
    // A client that did not negotiate gets the frame uncompressed.
    let (fp, pp) = plain.frame().await.unwrap();
    assert_eq!(fp, 0x81);
    assert_eq!(String::from_utf8(pp).unwrap(), text);

    // Below the threshold: RSV1 clear for everyone.
    ns.to("r").emit("small", &"x".repeat(500)).unwrap();
    for c in [&mut a, &mut b, &mut plain] {
        let (f, p) = c.frame().await.unwrap();
        assert_eq!(f, 0x81);
        assert!(p.starts_with(br#"42["small","xxx"#));
    }
}

#[tokio::test]
async fn compressed_client_messages_are_inflated() {
    let srv = TestServer::spawn(app(compressing(1024), Default::default())).await;
    let mut c = Raw::open(srv.addr, Some(OFFER)).await;
    c.send(0x81, b"40").await;
    assert!(c.text().await.starts_with("40"));
    let data = kpis(3000);
    let msg = format!(r#"42["echo",{data}]"#);
    // One frame with RSV1 ...
    c.send(0x80 | 0x40 | 0x1, &deflate(msg.as_bytes())).await;
    let (f, p) = c.frame().await.unwrap();
    assert_eq!(f & 0x40, 0x40, "the echo is over the threshold: compressed");
    assert_eq!(String::from_utf8(inflate(&p)).unwrap(), msg);
    // ... and fragmented: RSV1 on the first frame only.
    let z = deflate(msg.as_bytes());
    let (one, two) = z.split_at(z.len() / 2);
    c.send(0x40 | 0x1, one).await;
    c.send(0x80, two).await;
    assert_eq!(c.text().await, msg);
    // A small compressed message (clients compress below our threshold too).
    c.send(0xC1, &deflate(br#"42["echo","hi"]"#)).await;
    let (f, p) = c.frame().await.unwrap();
    assert_eq!((f, &p[..]), (0x81, &br#"42["echo","hi"]"#[..]));
    assert_eq!(srv.io.stats().deflated_in.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn rsv1_where_it_does_not_belong_closes_with_1002() {
    let srv = TestServer::spawn(app(compressing(1024), Default::default())).await;
    // Not negotiated.
    let mut c = Raw::open(srv.addr, None).await;
    c.send(0xC1, &deflate(b"40")).await;
    assert_eq!(c.close_code().await, 1002);
    // On a continuation frame.
    let mut c = Raw::open(srv.addr, Some(OFFER)).await;
    c.send(0x01, b"4").await;
    c.send(0xC0, b"0").await;
    assert_eq!(c.close_code().await, 1002);
    // Not DEFLATE.
    let mut c = Raw::open(srv.addr, Some(OFFER)).await;
    c.send(0xC1, &[0xff, 0xff, 0xff, 0xff]).await;
    assert_eq!(c.close_code().await, 1002);
}

#[tokio::test]
async fn a_zip_bomb_is_refused_with_1009_and_counted() {
    let cfg = sio::Config {
        max_payload: 10_000,
        ..compressing(1024)
    };
    let srv = TestServer::spawn(app(cfg, Default::default())).await;
    let mut other = Raw::member(&srv, Some(OFFER)).await;
    // 5 MB of one byte compress to ~5 KB, under max_payload on the wire.
    let bomb = deflate(&vec![b'a'; 5_000_000]);
    assert!(bomb.len() < 10_000, "{}", bomb.len());
    let mut c = Raw::open(srv.addr, Some(OFFER)).await;
    c.send(0xC1, &bomb).await;
    assert_eq!(c.close_code().await, 1009);
    assert_eq!(srv.io.stats().messages_too_large.load(Ordering::Relaxed), 1);
    // Everyone else goes on.
    let ns = srv.io.of("/").unwrap();
    eventually(|| ns.room_size("r") == 1).await;
    ns.to("r").emit("tick", &1).unwrap();
    assert!(other.text().await.starts_with(r#"42["tick",1"#));
}
