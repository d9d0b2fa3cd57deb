//! A lean WebSocket client for the generator's hot path (RFC 6455, client side only).
//!
//! Hand-written instead of tokio-tungstenite because the receive side *is* the
//! measurement: tungstenite allocates and copies every message into its own `Message`
//! (plus a `Bytes`/`Utf8Bytes` wrapper and a UTF-8 check), which capped one generator core
//! at ~1.2 M received frames/s, below the fan-out ceiling of the servers it measures.
//! Here server->client frames are parsed in place from one reusable per-connection read
//! buffer (read into its spare capacity: no zero-filling, no per-frame allocation) and
//! handed out as a borrowed `&[u8]` until the next call. Client->server frames are masked
//! (RFC 6455 §5.3) and written through a small write buffer.
//!
//! `permessage-deflate` (RFC 7692) when asked (`connect(.., deflate = true)`): offered in
//! the upgrade, and a compressed message is inflated only as far as its first
//! [`INFLATE_PREFIX`] bytes (the generator reads the event name and `ts` there; a browser
//! would inflate it all, but the client's CPU is not what is measured). Inflating every
//! message whole on one generator core would cap it below the servers it measures.
//!
//! Not a general client: no other extension (RSV bits otherwise are an error), no TLS,
//! no UTF-8 validation of text frames (the generator only looks at ASCII prefixes and
//! digits), no Sec-WebSocket-Accept check (loopback test servers only).

use flate2::{Decompress, FlushDecompress};
use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Frames larger than this are refused (the servers' own max payload is 1 MB).
const MAX_FRAME: u64 = 64 << 20;
/// Do not start a read with less free space than this in the read buffer.
const MIN_READ: usize = 2048;

/// How much of a compressed message is inflated (see the module doc).
pub const INFLATE_PREFIX: usize = 512;

thread_local! {
    /// Bytes read from every WebSocket of this (single-threaded) generator: the wire.
    static WIRE_IN: Cell<u64> = const { Cell::new(0) };
    /// Compressed messages received.
    static DEFLATED_IN: Cell<u64> = const { Cell::new(0) };
    static INFLATE: RefCell<Decompress> = RefCell::new(Decompress::new(false));
}

/// What `next()` hands out for a compressed message it did not inflate (see
/// [`set_inflate_every`]): the caller counts it as a data message without a latency.
pub const SKIPPED: &[u8] = b"\x00skipped";

thread_local! {
    static INFLATE_EVERY: Cell<u64> = const { Cell::new(1) };
}

/// Inflate (the prefix of) only every `n`th compressed message of a connection, the
/// others are [`SKIPPED`]: inflating each of 1000 subscribers' copies of every broadcast
/// costs the one generator core ~15 µs per delivery, which made the generator, not the
/// server, the limit. Latency is then measured on every `n`th broadcast (all its
/// deliveries).
pub fn set_inflate_every(n: u64) {
    INFLATE_EVERY.set(n.max(1));
}

/// (bytes read from all WebSockets, compressed messages received) so far.
pub fn wire_in() -> (u64, u64) {
    (WIRE_IN.get(), DEFLATED_IN.get())
}

/// The first bytes (at most `out.len()`) of a compressed message.
fn inflate_prefix(z: &[u8], out: &mut [u8]) -> Result<usize, String> {
    DEFLATED_IN.set(DEFLATED_IN.get() + 1);
    INFLATE.with(|d| {
        let d = &mut *d.borrow_mut();
        d.reset(false);
        let mut n = 0;
        let mut input = z;
        // Without the trailing 00 00 ff ff every byte of the message is still there.
        while n < out.len() {
            let (i0, o0) = (d.total_in(), d.total_out());
            d.decompress(input, &mut out[n..], FlushDecompress::Sync)
                .map_err(|e| format!("ws: inflate: {e}"))?;
            input = &input[(d.total_in() - i0) as usize..];
            let made = (d.total_out() - o0) as usize;
            n += made;
            if made == 0 && (input.is_empty() || d.total_in() == i0) {
                break;
            }
        }
        Ok(n)
    })
}

/// A server->client frame header.
#[derive(Debug, PartialEq, Eq)]
pub struct FrameHead {
    pub fin: bool,
    /// RSV1: a compressed message (only when permessage-deflate was negotiated).
    pub rsv1: bool,
    pub opcode: u8,
    /// Offset of the payload from the start of the frame (2, 4 or 10: servers do not mask).
    pub off: usize,
    pub len: usize,
}

/// Parses the header of the frame at the start of `b`. `Ok(None)`: not enough bytes yet.
#[cfg(test)]
pub fn parse_head(b: &[u8]) -> Result<Option<FrameHead>, String> {
    parse_head_ext(b, false)
}

/// `parse_head` with RSV1 allowed (`deflate`: permessage-deflate was negotiated).
pub fn parse_head_ext(b: &[u8], deflate: bool) -> Result<Option<FrameHead>, String> {
    if b.len() < 2 {
        return Ok(None);
    }
    if b[0] & 0x30 != 0 || (b[0] & 0x40 != 0 && !deflate) {
        return Err("ws: RSV bits set (no extension was negotiated)".into());
    }
    if b[1] & 0x80 != 0 {
        return Err("ws: masked frame from the server".into());
    }
    let (len, off) = match b[1] & 0x7f {
        126 => {
            if b.len() < 4 {
                return Ok(None);
            }
            (u16::from_be_bytes([b[2], b[3]]) as u64, 4)
        }
        127 => {
            if b.len() < 10 {
                return Ok(None);
            }
            let mut l = [0u8; 8];
            l.copy_from_slice(&b[2..10]);
            (u64::from_be_bytes(l), 10)
        }
        n => (n as u64, 2),
    };
    if len > MAX_FRAME {
        return Err(format!("ws: frame of {len} bytes"));
    }
    Ok(Some(FrameHead {
        fin: b[0] & 0x80 != 0,
        rsv1: b[0] & 0x40 != 0,
        opcode: b[0] & 0x0f,
        off,
        len: len as usize,
    }))
}

/// Appends one masked client->server frame (FIN set) to `out`.
pub fn encode_masked(out: &mut Vec<u8>, opcode: u8, payload: &[u8], key: [u8; 4]) {
    out.push(0x80 | opcode);
    let n = payload.len();
    if n < 126 {
        out.push(0x80 | n as u8);
    } else if n < 65536 {
        out.push(0x80 | 126);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
    out.extend_from_slice(&key);
    let start = out.len();
    out.extend_from_slice(payload);
    for (i, b) in out[start..].iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

/// xorshift64: masking keys and Sec-WebSocket-Key need no cryptographic randomness here.
fn rand_u32() -> u32 {
    thread_local! {
        static S: Cell<u64> = Cell::new(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0x9e37_79b9)
                ^ ((std::process::id() as u64) << 32)
                | 1,
        );
    }
    S.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        (x >> 32) as u32
    })
}

pub fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                o.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                o.push('=');
            }
        }
    }
    o
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

pub struct WsConn {
    s: TcpStream,
    /// Received bytes; `rbuf[rpos..]` is not consumed yet.
    rbuf: Vec<u8>,
    rpos: usize,
    /// Read-buffer size to keep available.
    cap: usize,
    /// A fragmented message being assembled (rare: the servers send whole frames).
    frag: Vec<u8>,
    in_frag: bool,
    /// `frag` was handed out by the last `next()`: clear it on the next call.
    frag_out: bool,
    /// Bytes to send; `wbuf[wpos..]` is not written yet (a cancelled flush loses nothing).
    wbuf: Vec<u8>,
    wpos: usize,
    /// When the last read returned data (unix ns).
    read_ns: u64,
    /// permessage-deflate was negotiated.
    pub deflate: bool,
    /// The fragmented message being collected is compressed.
    frag_z: bool,
    /// Compressed messages received on this connection.
    zseen: u64,
    /// The inflated prefix of the last compressed message.
    zbuf: Box<[u8; INFLATE_PREFIX]>,
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl WsConn {
    /// TCP connect and the HTTP/1.1 upgrade of `path` on `addr`.
    pub async fn connect(
        addr: SocketAddr,
        path: &str,
        read_buf: usize,
        deflate: bool,
    ) -> Result<WsConn, String> {
        let s = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("tcp connect: {}", e.kind()))?;
        let _ = s.set_nodelay(true);
        let mut key = [0u8; 16];
        for c in key.chunks_mut(4) {
            c.copy_from_slice(&rand_u32().to_ne_bytes());
        }
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n{}\r\n",
            base64(&key),
            if deflate {
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
            } else {
                ""
            }
        );
        let cap = read_buf.max(MIN_READ * 2);
        let mut ws = WsConn {
            s,
            rbuf: Vec::with_capacity(cap),
            rpos: 0,
            cap,
            frag: Vec::new(),
            in_frag: false,
            frag_out: false,
            wbuf: Vec::with_capacity(256),
            wpos: 0,
            read_ns: 0,
            deflate: false,
            frag_z: false,
            zseen: 0,
            zbuf: Box::new([0; INFLATE_PREFIX]),
        };
        ws.s.write_all(req.as_bytes())
            .await
            .map_err(|e| format!("ws upgrade write: {}", e.kind()))?;
        // The response head; whatever follows it (often the Engine.IO OPEN) stays buffered.
        let he = loop {
            if let Some(i) = find(&ws.rbuf, b"\r\n\r\n") {
                break i;
            }
            if ws.rbuf.len() > 16 * 1024 {
                return Err("ws upgrade: response head too long".into());
            }
            ws.fill(ws.rbuf.len() + 1)
                .await
                .map_err(|e| format!("ws upgrade: {e}"))?;
        };
        let head = String::from_utf8_lossy(&ws.rbuf[..he]);
        let status = head.split(' ').nth(1).unwrap_or("");
        if status != "101" {
            return Err(format!(
                "ws upgrade: {:.60}",
                head.lines().next().unwrap_or("")
            ));
        }
        ws.deflate = deflate
            && head.lines().any(|l| {
                let l = l.to_ascii_lowercase();
                l.starts_with("sec-websocket-extensions:") && l.contains("permessage-deflate")
            });
        ws.rpos = he + 4;
        Ok(ws)
    }

    /// Queues a text frame (sent by the next `flush`).
    pub fn feed_text(&mut self, s: &str) {
        self.feed(1, s.as_bytes());
    }

    fn feed(&mut self, opcode: u8, payload: &[u8]) {
        if self.wpos == self.wbuf.len() {
            self.wbuf.clear();
            self.wpos = 0;
        }
        encode_masked(&mut self.wbuf, opcode, payload, rand_u32().to_ne_bytes());
    }

    /// Writes everything queued. Cancel-safe: a partly written buffer resumes where it stopped.
    pub async fn flush(&mut self) -> Result<(), String> {
        while self.wpos < self.wbuf.len() {
            match self.s.write(&self.wbuf[self.wpos..]).await {
                Ok(0) => return Err("ws write: closed".into()),
                Ok(n) => self.wpos += n,
                Err(e) => return Err(format!("ws write: {}", e.kind())),
            }
        }
        self.wbuf.clear();
        self.wpos = 0;
        Ok(())
    }

    pub async fn send_text(&mut self, s: &str) -> Result<(), String> {
        self.feed_text(s);
        self.flush().await
    }

    /// One binary message (a `socket.io-msgpack-parser` packet).
    pub async fn send_binary(&mut self, b: &[u8]) -> Result<(), String> {
        self.feed(2, b);
        self.flush().await
    }

    /// Reads until `rbuf[rpos..]` holds at least `need` bytes' worth of progress: makes
    /// room (the unread tail moves to the front only when the free space is short) and
    /// does one read into the spare capacity. Cancel-safe.
    async fn fill(&mut self, need: usize) -> Result<(), String> {
        let unread = self.rbuf.len() - self.rpos;
        if unread == 0 {
            self.rbuf.clear();
            self.rpos = 0;
        } else if self.rbuf.capacity() - self.rbuf.len() < MIN_READ.max(need.saturating_sub(unread))
            && self.rpos > 0
        {
            self.rbuf.copy_within(self.rpos.., 0);
            self.rbuf.truncate(unread);
            self.rpos = 0;
        }
        let want = need.saturating_sub(unread).max(MIN_READ);
        if self.rbuf.capacity() - self.rbuf.len() < want {
            self.rbuf
                .reserve(want.max(self.cap - self.rbuf.len().min(self.cap)));
        }
        match self.s.read_buf(&mut self.rbuf).await {
            Ok(0) => Err("eof".into()),
            Ok(n) => {
                WIRE_IN.set(WIRE_IN.get() + n as u64);
                self.read_ns = now_ns();
                Ok(())
            }
            Err(e) => Err(format!("read error: {}", e.kind())),
        }
    }

    /// The payload of the next text (or binary) message, borrowed until the next call.
    /// Answers WebSocket pings itself. `Err`: the connection ended (close frame with its
    /// code and reason, `eof`, a read error) or the server broke the protocol.
    pub async fn next(&mut self) -> Result<&[u8], String> {
        self.next_timed().await.map(|(m, _)| m)
    }

    /// `next()` and when the message's last bytes were read from the socket (unix ns):
    /// one clock read per read system call, not per frame.
    pub async fn next_timed(&mut self) -> Result<(&[u8], u64), String> {
        if self.frag_out {
            self.frag.clear();
            self.frag_out = false;
        }
        loop {
            let avail = &self.rbuf[self.rpos..];
            let h = match parse_head_ext(avail, self.deflate)? {
                Some(h) if avail.len() >= h.off + h.len => h,
                Some(h) => {
                    let need = h.off + h.len;
                    self.fill(need).await?;
                    continue;
                }
                None => {
                    let need = avail.len() + 1;
                    self.fill(need).await?;
                    continue;
                }
            };
            let (p0, p1) = (self.rpos + h.off, self.rpos + h.off + h.len);
            self.rpos = p1;
            match h.opcode {
                1 | 2 => {
                    if self.in_frag {
                        return Err("ws: new message inside a fragmented one".into());
                    }
                    if h.fin && h.rsv1 {
                        self.zseen += 1;
                        if !(self.zseen - 1).is_multiple_of(INFLATE_EVERY.get()) {
                            DEFLATED_IN.set(DEFLATED_IN.get() + 1);
                            return Ok((SKIPPED, self.read_ns));
                        }
                        let n = inflate_prefix(&self.rbuf[p0..p1], &mut self.zbuf[..])?;
                        return Ok((&self.zbuf[..n], self.read_ns));
                    }
                    if h.fin {
                        return Ok((&self.rbuf[p0..p1], self.read_ns));
                    }
                    self.frag.clear();
                    self.frag.extend_from_slice(&self.rbuf[p0..p1]);
                    self.in_frag = true;
                    self.frag_z = h.rsv1;
                }
                0 => {
                    if !self.in_frag {
                        return Err("ws: continuation without a message".into());
                    }
                    self.frag.extend_from_slice(&self.rbuf[p0..p1]);
                    if h.fin {
                        self.in_frag = false;
                        self.frag_out = true;
                        if self.frag_z {
                            let n = inflate_prefix(&self.frag, &mut self.zbuf[..])?;
                            return Ok((&self.zbuf[..n], self.read_ns));
                        }
                        return Ok((&self.frag, self.read_ns));
                    }
                }
                8 => {
                    let p = &self.rbuf[p0..p1];
                    let code = (p.len() >= 2).then(|| u16::from_be_bytes([p[0], p[1]]));
                    let reason = String::from_utf8_lossy(p.get(2..).unwrap_or(&[])).into_owned();
                    // Answer the close (best effort) with the same code.
                    let echo: Vec<u8> = p.get(..2).unwrap_or(&[]).to_vec();
                    self.feed(8, &echo);
                    let _ = self.flush().await;
                    return Err(match code {
                        Some(c) => format!("close frame {c} {reason:.60}"),
                        None => "close frame".into(),
                    });
                }
                9 => {
                    let payload = self.rbuf[p0..p1].to_vec();
                    self.feed(10, &payload);
                    self.flush().await?;
                }
                10 => {}
                op => return Err(format!("ws: unknown opcode {op}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![(if fin { 0x80 } else { 0 }) | op];
        let n = payload.len();
        if n < 126 {
            f.push(n as u8);
        } else if n < 65536 {
            f.push(126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            f.push(127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn heads_7_16_64_bit() {
        let f = frame(true, 1, b"42[\"x\"]");
        assert_eq!(
            parse_head(&f).unwrap(),
            Some(FrameHead {
                rsv1: false,
                fin: true,
                opcode: 1,
                off: 2,
                len: 7
            })
        );
        let big = vec![b'a'; 300];
        let f = frame(false, 2, &big);
        assert_eq!(
            parse_head(&f).unwrap(),
            Some(FrameHead {
                rsv1: false,
                fin: false,
                opcode: 2,
                off: 4,
                len: 300
            })
        );
        assert_eq!(parse_head(&f[..3]).unwrap(), None);
        let huge = vec![b'b'; 70_000];
        let f = frame(true, 1, &huge);
        assert_eq!(
            parse_head(&f).unwrap(),
            Some(FrameHead {
                rsv1: false,
                fin: true,
                opcode: 1,
                off: 10,
                len: 70_000
            })
        );
        assert_eq!(parse_head(&f[..9]).unwrap(), None);
        assert_eq!(parse_head(&[0x81]).unwrap(), None);
        assert!(
            parse_head(&[0x81, 0x85, 0, 0, 0, 0]).is_err(),
            "masked from server"
        );
        assert!(parse_head(&[0xc1, 0x00]).is_err(), "RSV1 without extension");
        assert!(parse_head_ext(&[0xc1, 0x00], true).unwrap().unwrap().rsv1);
        assert!(
            parse_head_ext(&[0xa1, 0x00], true).is_err(),
            "RSV2 is never ours"
        );
    }

    #[test]
    fn masked_frames_decode() {
        let key = [1, 2, 3, 4];
        for n in [0usize, 5, 125, 126, 300, 65535, 65536] {
            let p: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let mut out = Vec::new();
            encode_masked(&mut out, 1, &p, key);
            assert_eq!(out[0], 0x81);
            assert!(out[1] & 0x80 != 0);
            let off = match out[1] & 0x7f {
                126 => 4,
                127 => 10,
                _ => 2,
            };
            let k = &out[off..off + 4];
            let got: Vec<u8> = out[off + 4..]
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ k[i & 3])
                .collect();
            assert_eq!(got, p, "n = {n}");
        }
    }

    #[test]
    fn base64_key() {
        assert_eq!(base64(b"hello"), "aGVsbG8=");
        assert_eq!(base64(b"hell"), "aGVsbA==");
        assert_eq!(base64(&[0u8; 16]).len(), 24);
    }

    /// A server writing frames in awkward pieces: split headers and payloads, 16- and 64-bit
    /// lengths, a fragmented message with a ping between its fragments, then a close.
    #[test]
    fn frames_split_across_reads() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            let mid = "m".repeat(300);
            let big = "b".repeat(70_000);
            let (mid2, big2) = (mid.clone(), big.clone());
            let server = tokio::spawn(async move {
                let (mut s, _) = l.accept().await.unwrap();
                let mut req = Vec::new();
                let mut b = [0u8; 1024];
                while find(&req, b"\r\n\r\n").is_none() {
                    let n = s.read(&mut b).await.unwrap();
                    req.extend_from_slice(&b[..n]);
                }
                assert!(String::from_utf8_lossy(&req).contains("Sec-WebSocket-Key: "));
                let mut out = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n".to_vec();
                out.extend(frame(true, 1, b"0{\"sid\":\"x\"}"));
                out.extend(frame(true, 1, mid2.as_bytes()));
                out.extend(frame(true, 1, big2.as_bytes()));
                out.extend(frame(false, 1, b"42[\"a"));
                out.extend(frame(true, 9, b"p"));
                out.extend(frame(false, 0, b"b\""));
                out.extend(frame(true, 0, b"]"));
                out.extend(frame(true, 1, b"2"));
                out.extend(frame(true, 8, &[0x03, 0xe8, b'b', b'y', b'e']));
                // dribble it out: 1, 2, 3, ... byte pieces, then the rest
                let mut i = 0;
                let mut k = 1;
                while i < out.len() {
                    let j = (i + k).min(out.len());
                    s.write_all(&out[i..j]).await.unwrap();
                    s.flush().await.unwrap();
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    i = j;
                    k = if k < 40 { k + 1 } else { 30_000 };
                }
                // what the client sent: a pong for "p", a text "3", a close echo
                let mut got = Vec::new();
                loop {
                    let n = s.read(&mut b).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&b[..n]);
                    if got.len() >= 7 + 7 + 8 {
                        break;
                    }
                }
                got
            });
            let mut ws = WsConn::connect(addr, "/socket.io/?EIO=4&transport=websocket", 4096, false)
                .await
                .unwrap();
            assert_eq!(ws.next().await.unwrap(), b"0{\"sid\":\"x\"}");
            assert_eq!(ws.next().await.unwrap(), mid.as_bytes());
            assert_eq!(ws.next().await.unwrap(), big.as_bytes());
            assert_eq!(ws.next().await.unwrap(), b"42[\"ab\"]");
            assert_eq!(ws.next().await.unwrap(), b"2");
            ws.send_text("3").await.unwrap();
            let e = ws.next().await.unwrap_err();
            assert_eq!(e, "close frame 1000 bye");
            let got = server.await.unwrap();
            // pong: 0x8a, masked len 1; text "3": 0x81, masked len 1; close: 0x88, masked len 2
            assert_eq!((got[0], got[1]), (0x8a, 0x81));
            assert_eq!(got[6] ^ got[2], b'p');
            assert_eq!((got[7], got[8]), (0x81, 0x81));
            assert_eq!(got[13] ^ got[9], b'3');
            assert_eq!((got[14], got[15]), (0x88, 0x82));
        });
    }

    #[test]
    fn inflates_a_prefix_of_compressed_messages() {
        use flate2::{Compress, Compression, FlushCompress};
        let msg = format!(
            "42[\"bench\",{{\"ts\":1234,\"seq\":1,\"pad\":\"{}\"}}]",
            "ab".repeat(3000)
        );
        let mut c = Compress::new(Compression::default(), false);
        let mut z = Vec::with_capacity(msg.len());
        c.compress_vec(msg.as_bytes(), &mut z, FlushCompress::Sync)
            .unwrap();
        z.truncate(z.len() - 4); // as a server sends it: without 00 00 ff ff
        let mut out = [0u8; INFLATE_PREFIX];
        let n = inflate_prefix(&z, &mut out).unwrap();
        assert_eq!(&out[..n], &msg.as_bytes()[..INFLATE_PREFIX]);
        // a message shorter than the prefix comes out whole
        let mut c = Compress::new(Compression::default(), false);
        let mut z = Vec::with_capacity(100);
        c.compress_vec(b"42[\"x\"]", &mut z, FlushCompress::Sync)
            .unwrap();
        let n = inflate_prefix(&z[..z.len() - 4], &mut out).unwrap();
        assert_eq!(&out[..n], b"42[\"x\"]");
    }
}
