//! One Engine.IO session: its outbound queue (shared by whichever transport is active),
//! its heartbeat state, and a slot `D` for the state of the layer above (for Socket.IO:
//! the sockets multiplexed on it).

use bytes::Bytes;
use http::HeaderMap;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::Waker;

use super::{deflate, ws};

/// One outgoing Engine.IO packet, pre-framed for WebSocket. Polling strips the header.
#[derive(Clone)]
pub(crate) struct Frame {
    /// WebSocket header + payload. Cloning shares the bytes (a broadcast is encoded once).
    pub(crate) bytes: Bytes,
    /// Length of the WebSocket header at the front of `bytes`.
    pub(crate) hdr: u8,
    /// An Engine.IO binary message (base64 with a `b` prefix over polling).
    pub(crate) binary: bool,
    /// The `permessage-deflate` form of this frame, shared by every queue the frame is in
    /// (a broadcast is compressed once, by the first writer that needs it): present only
    /// when compression is on and the payload reaches the threshold. Holds the compressed
    /// frame, or `bytes` again when compressing did not make it smaller.
    deflated: Option<Arc<OnceLock<Bytes>>>,
    /// A WebSocket writer ends its `writev` batch after this frame and yields before writing
    /// what follows (see [`Frame::alone`]).
    pub(crate) alone: bool,
}

impl Frame {
    /// A text Engine.IO packet (`payload` starts with the packet type digit).
    pub(crate) fn text(payload: &[u8]) -> Self {
        Self {
            hdr: ws::header_len(payload.len()) as u8,
            bytes: ws::frame(ws::OP_TEXT, payload),
            binary: false,
            deflated: None,
            alone: false,
        }
    }
    /// A binary Engine.IO message (a Socket.IO attachment).
    pub(crate) fn binary(payload: &[u8]) -> Self {
        Self {
            hdr: ws::header_len(payload.len()) as u8,
            bytes: ws::frame(ws::OP_BINARY, payload),
            binary: true,
            deflated: None,
            alone: false,
        }
    }
    /// Write this frame in a `writev` of its own, and yield before the frames queued after
    /// it: the CONNECT ack, so that it and the first events of the connection handler do
    /// not reach the client in one TCP segment. socket.io's engine writes the next packet
    /// only after the previous write's callback; clients written against that (the official
    /// protocol test suite attaches its one-shot listener for the next message only after
    /// handling the ack) would otherwise miss the event that arrives in the same read.
    pub(crate) fn alone(mut self) -> Self {
        self.alone = true;
        self
    }
    /// Make this frame compressible for connections that negotiated `permessage-deflate`
    /// when its payload has at least `threshold` bytes (`None`: compression is off).
    pub(crate) fn deflatable(mut self, threshold: Option<usize>) -> Self {
        if threshold.is_some_and(|t| self.payload().len() >= t) {
            self.deflated = Some(Arc::default());
        }
        self
    }
    /// The bytes to write on a WebSocket: the compressed form when the connection
    /// negotiated `permessage-deflate` (`deflate`) and this frame has one.
    pub(crate) fn wire(&self, deflate: bool) -> &Bytes {
        match &self.deflated {
            Some(z) if deflate => z.get_or_init(|| {
                let op = if self.binary {
                    ws::OP_BINARY
                } else {
                    ws::OP_TEXT
                };
                deflate::frame(op, self.payload()).unwrap_or_else(|| self.bytes.clone())
            }),
            _ => &self.bytes,
        }
    }
    /// Whether [`Frame::wire`] would compress now (a writer does that outside its lock).
    pub(crate) fn needs_deflate(&self) -> bool {
        self.deflated.as_ref().is_some_and(|z| z.get().is_none())
    }
    /// The Engine.IO payload without the WebSocket header.
    pub(crate) fn payload(&self) -> &[u8] {
        &self.bytes[self.hdr as usize..]
    }
}

/// How a frame is treated when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Pings, connect acks, close: always queued (they are few and small).
    Control,
    /// Must be delivered: a full queue disconnects the slow consumer instead.
    Reliable,
    /// May be dropped when the queue is full (counted).
    Volatile,
}

/// Result of queueing a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    Queued,
    /// A volatile frame did not fit.
    Dropped,
    /// A reliable frame did not fit: the caller must close the session (slow consumer).
    Overflow,
    /// The session is closed.
    Closed,
}

/// How much one session may have queued before it counts as a slow consumer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    pub(crate) packets: usize,
    pub(crate) bytes: usize,
}

/// The outbound queue. Guarded by `Session::out`.
#[derive(Default)]
pub(crate) struct Outbox {
    pub(crate) queue: VecDeque<Frame>,
    /// Bytes of the frames in `queue` (whole frames, including a partly written front).
    pub(crate) bytes: usize,
    /// Bytes of the front frame already written (WebSocket partial writes).
    pub(crate) head_off: usize,
    /// The active transport's writer, parked on an empty queue.
    pub(crate) waker: Option<Waker>,
    pub(crate) closed: bool,
}

/// Active transport of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Transport {
    Polling = 0,
    Websocket = 1,
}

/// What the connect hook can see of the request that opened the session.
#[derive(Debug, Default)]
pub struct Handshake {
    /// Request headers of the handshake.
    pub headers: HeaderMap,
    /// Raw query string of the handshake.
    pub query: String,
    /// Peer address, when the HTTP layer provided a [`crate::RemoteAddr`].
    pub remote: Option<SocketAddr>,
    /// When the handshake arrived (unix milliseconds).
    pub issued_ms: u64,
}

impl Handshake {
    /// A query parameter's (percent-decoded) value.
    pub fn query_param(&self, key: &str) -> Option<String> {
        query_param(&self.query, key)
    }
}

/// Percent-decoded value of `key` in a query string.
pub(crate) fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    fn hex(c: u8) -> Option<u8> {
        (c as char).to_digit(16).map(|d| d as u8)
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) struct Session<D> {
    pub(crate) sid: Arc<str>,
    pub(crate) out: Mutex<Outbox>,
    transport: AtomicU8,
    /// A WebSocket probe is in progress (polling GETs are answered with noops).
    pub(crate) upgrading: AtomicBool,
    /// A polling GET / POST is in flight (a second one is a protocol error).
    pub(crate) get_pending: AtomicBool,
    pub(crate) post_pending: AtomicBool,
    /// Heartbeat (milliseconds since the server's epoch): next ping, pong deadline (0: none due).
    pub(crate) next_ping: AtomicU64,
    pub(crate) pong_deadline: AtomicU64,
    pub(crate) created_ms: u64,
    /// A Socket.IO CONNECT was received (the connect timeout no longer applies).
    pub(crate) connected_once: AtomicBool,
    pub(crate) handshake: Arc<Handshake>,
    budget: Budget,
    /// The state of the layer above (see [`super::endpoint::Handler`]).
    pub(crate) data: D,
}

impl<D> Session<D> {
    pub(crate) fn new(
        sid: Arc<str>,
        transport: Transport,
        handshake: Handshake,
        now_ms: u64,
        ping_ms: u64,
        budget: Budget,
        data: D,
    ) -> Self {
        Self {
            sid,
            out: Mutex::new(Outbox::default()),
            transport: AtomicU8::new(transport as u8),
            upgrading: AtomicBool::new(false),
            get_pending: AtomicBool::new(false),
            post_pending: AtomicBool::new(false),
            next_ping: AtomicU64::new(now_ms + ping_ms),
            pong_deadline: AtomicU64::new(0),
            created_ms: now_ms,
            connected_once: AtomicBool::new(false),
            handshake: Arc::new(handshake),
            budget,
            data,
        }
    }

    pub(crate) fn transport(&self) -> Transport {
        if self.transport.load(Ordering::Acquire) == Transport::Websocket as u8 {
            Transport::Websocket
        } else {
            Transport::Polling
        }
    }

    /// Switch to WebSocket (end of an upgrade) and wake whoever waits on the queue.
    pub(crate) fn set_websocket(&self) {
        self.transport
            .store(Transport::Websocket as u8, Ordering::Release);
        self.upgrading.store(false, Ordering::Release);
        self.wake();
    }

    pub(crate) fn wake(&self) {
        let w = self.out.lock().waker.take();
        if let Some(w) = w {
            w.wake();
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.out.lock().closed
    }

    /// Queue frames that belong together (a packet and its attachments) under one lock.
    /// Control frames always fit; others must fit the budget in packets and in bytes.
    pub(crate) fn push(&self, frames: &[Frame], class: Class) -> Pushed {
        let size: usize = match frames {
            [one] => one.bytes.len(),
            many => many.iter().map(|f| f.bytes.len()).sum(),
        };
        let waker = {
            let mut o = self.out.lock();
            if o.closed {
                return Pushed::Closed;
            }
            if class != Class::Control
                && (o.queue.len() + frames.len() > self.budget.packets
                    || o.bytes + size > self.budget.bytes)
            {
                return if class == Class::Volatile {
                    Pushed::Dropped
                } else {
                    Pushed::Overflow
                };
            }
            match frames {
                [one] => o.queue.push_back(one.clone()),
                many => o.queue.extend(many.iter().cloned()),
            }
            o.bytes += size;
            o.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Pushed::Queued
    }

    /// Ask the CPU to start loading the outbox's lock, the first thing [`Session::push`]
    /// touches (a hint: no effect on what the program does).
    #[inline(always)]
    pub(crate) fn prefetch_outbox(&self) {
        prefetch(std::ptr::from_ref(&self.out));
    }

    /// Mark closed (idempotent); returns whether this call closed it.
    pub(crate) fn mark_closed(&self) -> bool {
        let (first, waker) = {
            let mut o = self.out.lock();
            let first = !o.closed;
            o.closed = true;
            (first, o.waker.take())
        };
        if let Some(w) = waker {
            w.wake();
        }
        first
    }

    /// Queue a control packet (the heartbeat, the close path, connect errors).
    pub(crate) fn push_control(&self, payload: &[u8]) {
        self.push(&[Frame::text(payload)], Class::Control);
    }
}

/// Start loading the cache line at `p` (x86-64 `prefetcht0`; nothing elsewhere).
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it reads nothing the program sees and never faults,
    // whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_decode() {
        assert_eq!(
            query_param("EIO=4&transport=polling&t=x", "transport").as_deref(),
            Some("polling")
        );
        assert_eq!(
            query_param("token=a%2Bb%3D&x", "token").as_deref(),
            Some("a+b=")
        );
        assert_eq!(query_param("x", "y"), None);
        assert_eq!(query_param("a=%zz%", "a").as_deref(), Some("%zz%"));
    }
}
