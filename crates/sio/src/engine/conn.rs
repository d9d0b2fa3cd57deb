//! The WebSocket connection: one task per connection that both writes and reads.
//!
//! Writing: everything queued for the session goes to the kernel in one `writev` of up to
//! [`IOV_BATCH`] frames; frames are shared `Bytes` (a broadcast is framed once for all
//! members). Reading: bytes are read into a per-thread scratch buffer; a connection keeps
//! only an incomplete frame's tail, so an idle connection costs no read buffer.
//! One task instead of a reader and a writer halves the per-connection task cost.

use bytes::Bytes;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::deflate::{self, InflateError};
use super::endpoint::Engine;
use super::session::{Session, Transport};
use super::ws::{self, FrameError};
use crate::common::DisconnectReason;

/// Frames handed to one `writev` (Linux IOV_MAX is 1024).
const IOV_BATCH: usize = 256;
const SCRATCH_BYTES: usize = 64 * 1024;
/// Reads handled per wake-up before yielding, so one busy client cannot starve others.
const READS_PER_POLL: usize = 16;
/// Control frames of this connection waiting to be written before it reads again. A client
/// that pings (or probes) and never reads stops being read instead of growing the queue:
/// TCP flow control then pushes back on it alone.
const LOCAL_MAX: usize = 8;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(SCRATCH_BYTES));
}

/// How [`Conn::poll_flush`] stopped, other than on a full socket or empty queues.
enum Flushed {
    /// The connection is finished.
    Done(DisconnectReason),
    /// A frame was written alone (`Frame::alone`): yield before writing what follows.
    Yield,
}

struct Conn<S, D> {
    io: S,
    srv: Arc<Engine<D>>,
    sess: Arc<Session<D>>,
    /// Frames that bypass the session queue: probe replies, WebSocket pongs, the close frame.
    local: VecDeque<Bytes>,
    local_off: usize,
    /// The back of `local` is a pong not yet started: a newer ping replaces it (RFC 6455
    /// §5.5.3 allows answering only the most recent ping).
    pong_queued: bool,
    /// The tail of an incomplete frame.
    pending: Vec<u8>,
    /// A fragmented message being reassembled: (opcode, compressed, bytes).
    frag: Option<(u8, bool, Vec<u8>)>,
    /// `permessage-deflate` was negotiated: frames that have a compressed form are written
    /// compressed, and client messages with RSV1 are inflated. No other state: each
    /// message is compressed on its own (see `deflate`).
    deflate: bool,
    /// This connection is a probe of a polling session that has not switched yet.
    probing: bool,
    /// Stop after flushing `local` (a close frame is queued there).
    closing: Option<DisconnectReason>,
}

pub(crate) async fn run<S, D>(
    srv: Arc<Engine<D>>,
    sess: Arc<Session<D>>,
    io: S,
    leftover: Bytes,
    probing: bool,
    deflate: bool,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    D: Default + Send + Sync + 'static,
{
    let mut c = Conn {
        io,
        srv,
        sess,
        local: VecDeque::new(),
        local_off: 0,
        pong_queued: false,
        // Copy, so no reference into hyper's read buffer outlives the handshake.
        pending: Vec::from(&leftover[..]),
        frag: None,
        deflate,
        probing,
        closing: None,
    };
    drop(leftover);
    let reason = loop {
        match poll_fn(|cx| c.poll(cx)).await {
            Some(reason) => break reason,
            // After a frame written alone (`Frame::alone`): let the runtime poll its I/O
            // driver before writing on (`yield_now` defers until then), as socket.io's
            // engine writes the next packet from the previous write's callback.
            None => tokio::task::yield_now().await,
        }
    };
    if c.probing {
        // A probe that never completed: the session continues on polling.
        c.sess.upgrading.store(false, Ordering::Release);
        c.sess.wake();
        return;
    }
    c.srv.close_session(&c.sess, reason);
}

impl<S: AsyncRead + AsyncWrite + Unpin, D: Default + Send + Sync + 'static> Conn<S, D> {
    /// `Ready(Some)`: the connection is finished; `Ready(None)`: yield, then poll again.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<DisconnectReason>> {
        if !self.pending.is_empty() {
            if let Err(r) = self.process_pending() {
                self.fail(r);
            }
        }
        loop {
            match self.poll_flush(cx) {
                Poll::Ready(Flushed::Done(r)) => return Poll::Ready(Some(r)),
                Poll::Ready(Flushed::Yield) => return Poll::Ready(None),
                Poll::Pending => {}
            }
            match self.poll_read(cx) {
                Poll::Ready(Ok(true)) => continue, // handled input: maybe more to write
                Poll::Ready(Ok(false)) => return Poll::Pending,
                Poll::Ready(Err(r)) => {
                    if self.closing.is_none() {
                        return Poll::Ready(Some(r));
                    }
                    // keep flushing the close frame
                    return match self.poll_flush(cx) {
                        Poll::Ready(Flushed::Done(r)) => Poll::Ready(Some(r)),
                        Poll::Ready(Flushed::Yield) => Poll::Ready(None),
                        Poll::Pending => Poll::Pending,
                    };
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn push_local(&mut self, f: Bytes) {
        self.local.push_back(f);
        self.pong_queued = false;
    }

    /// Queue a close frame and stop reading.
    fn fail(&mut self, reason: DisconnectReason) {
        if self.closing.is_none() {
            let code: u16 = match reason {
                DisconnectReason::ParseError => 1002,
                DisconnectReason::MessageTooLarge => 1009,
                _ => 1000,
            };
            self.push_local(ws::frame(ws::OP_CLOSE, &code.to_be_bytes()));
            self.closing = Some(reason);
        }
    }

    /// Write until both queues are empty or the socket is full (`Pending`), the connection
    /// is finished, or a frame written alone asks the task to yield.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Flushed> {
        loop {
            // Control frames of this connection first (probe replies, pongs, close).
            if let Some(front) = self.local.front() {
                match Pin::new(&mut self.io).poll_write(cx, &front[self.local_off..]) {
                    Poll::Ready(Ok(n)) => {
                        self.local_off += n;
                        if self.local.len() == 1 {
                            self.pong_queued = false; // started: no longer replaceable
                        }
                        if self.local_off == front.len() {
                            self.local.pop_front();
                            self.local_off = 0;
                        }
                        continue;
                    }
                    Poll::Ready(Err(_)) => {
                        return Poll::Ready(Flushed::Done(DisconnectReason::TransportError))
                    }
                    Poll::Pending => return Poll::Pending,
                }
            }
            if let Some(r) = self.closing {
                return Poll::Ready(Flushed::Done(r));
            }
            if self.probing {
                return Poll::Pending;
            }
            let mut o = self.sess.out.lock();
            if o.queue.is_empty() {
                if o.closed {
                    drop(o);
                    // Closed by the server (slow consumer, shutdown, ...): say goodbye, best effort.
                    self.push_local(ws::frame(ws::OP_CLOSE, &1000u16.to_be_bytes()));
                    self.closing = Some(DisconnectReason::ServerShutdown);
                    continue;
                }
                if o.queue.capacity() > 1024 {
                    o.queue.shrink_to(64); // give memory back after a burst
                }
                o.waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            if o.closed {
                // Nothing more will be delivered on a closed session: stop now.
                o.queue.clear();
                o.bytes = 0;
                continue;
            }
            if self.deflate {
                // Compress outside the queue's lock (a broadcaster may be waiting to push);
                // the first writer to need a frame's compressed form makes it for all.
                let todo: Vec<_> = o
                    .queue
                    .iter()
                    .take(IOV_BATCH)
                    .filter(|f| f.needs_deflate())
                    .cloned()
                    .collect();
                if !todo.is_empty() {
                    drop(o);
                    for f in &todo {
                        f.wire(true);
                    }
                    continue;
                }
            }
            let deflate = self.deflate;
            let mut iov = [IoSlice::new(&[]); IOV_BATCH];
            let mut k = 0;
            for (i, f) in o.queue.iter().take(IOV_BATCH).enumerate() {
                let skip = if i == 0 { o.head_off } else { 0 };
                iov[k] = IoSlice::new(&f.wire(deflate)[skip..]);
                k += 1;
                if f.alone {
                    break;
                }
            }
            match Pin::new(&mut self.io).poll_write_vectored(cx, &iov[..k]) {
                Poll::Ready(Ok(mut n)) => {
                    self.srv
                        .stats
                        .bytes_out
                        .fetch_add(n as u64, Ordering::Relaxed);
                    let mut wrote_alone = false;
                    while n > 0 {
                        let left = o.queue[0].wire(deflate).len() - o.head_off;
                        if n >= left {
                            n -= left;
                            o.head_off = 0;
                            if let Some(f) = o.queue.pop_front() {
                                o.bytes -= f.bytes.len();
                                wrote_alone |= f.alone;
                            }
                        } else {
                            o.head_off += n;
                            n = 0;
                        }
                    }
                    if wrote_alone && !o.queue.is_empty() {
                        return Poll::Ready(Flushed::Yield);
                    }
                }
                Poll::Ready(Err(_)) => {
                    return Poll::Ready(Flushed::Done(DisconnectReason::TransportError))
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Read and handle what is available. `Ok(true)`: something was handled.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<bool, DisconnectReason>> {
        if let Some(reason) = self.closing {
            return Poll::Ready(Err(reason));
        }
        if self.local.len() >= LOCAL_MAX {
            // The writes are blocked (poll_flush registered the waker): stop reading.
            return Poll::Pending;
        }
        let mut handled = false;
        for _ in 0..READS_PER_POLL {
            let r = SCRATCH.with(|s| {
                let mut s = s.borrow_mut();
                s.clear();
                let mut rb = ReadBuf::uninit(s.spare_capacity_mut());
                match Pin::new(&mut self.io).poll_read(cx, &mut rb) {
                    Poll::Ready(Ok(())) => {
                        let n = rb.filled().len();
                        // SAFETY: `poll_read` initialised the first `n` bytes of the spare capacity.
                        unsafe { s.set_len(n) };
                        if n == 0 {
                            return Poll::Ready(Err(DisconnectReason::TransportClose));
                        }
                        self.srv
                            .stats
                            .bytes_in
                            .fetch_add(n as u64, Ordering::Relaxed);
                        if self.pending.is_empty() {
                            match self.process(&mut s) {
                                Ok(used) => {
                                    self.pending.extend_from_slice(&s[used..]);
                                    Poll::Ready(Ok(()))
                                }
                                Err(e) => Poll::Ready(Err(e)),
                            }
                        } else {
                            self.pending.extend_from_slice(&s);
                            Poll::Ready(self.process_pending())
                        }
                    }
                    Poll::Ready(Err(_)) => Poll::Ready(Err(DisconnectReason::TransportError)),
                    Poll::Pending => Poll::Pending,
                }
            });
            match r {
                Poll::Ready(Ok(())) => handled = true,
                Poll::Ready(Err(reason)) => {
                    if matches!(
                        reason,
                        DisconnectReason::TransportClose | DisconnectReason::TransportError
                    ) {
                        return Poll::Ready(Err(reason));
                    }
                    self.fail(reason);
                    return Poll::Ready(Ok(true));
                }
                Poll::Pending => {
                    return if handled {
                        Poll::Ready(Ok(true))
                    } else {
                        Poll::Pending
                    }
                }
            }
        }
        // Yield so other connections run; we will be polled again.
        cx.waker().wake_by_ref();
        Poll::Ready(Ok(false))
    }

    fn process_pending(&mut self) -> Result<(), DisconnectReason> {
        let mut buf = std::mem::take(&mut self.pending);
        let used = self.process(&mut buf);
        match used {
            Ok(used) => {
                buf.drain(..used);
                if buf.capacity() > 4096 && buf.len() < 1024 {
                    buf.shrink_to(1024);
                }
                self.pending = buf;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Handle every complete frame in `buf`; returns bytes consumed.
    fn process(&mut self, buf: &mut [u8]) -> Result<usize, DisconnectReason> {
        let max = self.srv.config.max_payload;
        let mut pos = 0;
        loop {
            let (f, used) = match ws::parse_ext(&mut buf[pos..], max, self.deflate) {
                Ok(Some(x)) => x,
                Ok(None) => return Ok(pos),
                Err(FrameError::TooLarge) => return Err(self.too_large()),
                Err(FrameError::Protocol(why)) => {
                    tracing::debug!(sid = %self.sess.sid, why, "websocket protocol error");
                    return Err(DisconnectReason::ParseError);
                }
            };
            let payload = &buf[pos + f.start..pos + f.end];
            pos += used;
            match f.opcode {
                ws::OP_TEXT | ws::OP_BINARY if f.fin => {
                    if self.frag.is_some() {
                        return Err(DisconnectReason::ParseError);
                    }
                    if f.rsv1 {
                        let m = self.inflate(payload)?;
                        self.message(f.opcode, &m)?;
                    } else {
                        self.message(f.opcode, payload)?;
                    }
                }
                ws::OP_TEXT | ws::OP_BINARY => {
                    if self.frag.is_some() {
                        return Err(DisconnectReason::ParseError);
                    }
                    self.frag = Some((f.opcode, f.rsv1, payload.to_vec()));
                }
                ws::OP_CONT => {
                    let Some((_, _, acc)) = self.frag.as_mut() else {
                        return Err(DisconnectReason::ParseError);
                    };
                    acc.extend_from_slice(payload);
                    if acc.len() > max {
                        return Err(self.too_large());
                    }
                    if f.fin {
                        let (op, z, m) = self.frag.take().expect("checked");
                        if z {
                            let m = self.inflate(&m)?;
                            self.message(op, &m)?;
                        } else {
                            self.message(op, &m)?;
                        }
                    }
                }
                ws::OP_CLOSE => return Err(DisconnectReason::TransportClose),
                ws::OP_PING => {
                    let pong = ws::frame(ws::OP_PONG, payload);
                    let replace = self.pong_queued && (self.local.len() > 1 || self.local_off == 0);
                    match self.local.back_mut() {
                        Some(last) if replace => *last = pong,
                        _ => {
                            self.local.push_back(pong);
                            self.pong_queued = true;
                        }
                    }
                }
                ws::OP_PONG => {}
                _ => return Err(DisconnectReason::ParseError),
            }
            if self.closing.is_some() || self.sess.is_closed() && !self.probing {
                return Ok(pos);
            }
        }
    }

    /// A message over `max_payload`: counted, closed with 1009.
    fn too_large(&self) -> DisconnectReason {
        self.srv
            .stats
            .messages_too_large
            .fetch_add(1, Ordering::Relaxed);
        DisconnectReason::MessageTooLarge
    }

    /// A compressed message's payload, inflated to at most `max_payload` bytes.
    fn inflate(&self, data: &[u8]) -> Result<Vec<u8>, DisconnectReason> {
        self.srv.stats.deflated_in.fetch_add(1, Ordering::Relaxed);
        deflate::inflate(data, self.srv.config.max_payload).map_err(|e| match e {
            InflateError::TooLarge => self.too_large(),
            InflateError::Corrupt => {
                tracing::debug!(sid = %self.sess.sid, "invalid compressed message");
                self.srv.stats.malformed.fetch_add(1, Ordering::Relaxed);
                DisconnectReason::ParseError
            }
        })
    }

    /// One complete Engine.IO message.
    fn message(&mut self, opcode: u8, payload: &[u8]) -> Result<(), DisconnectReason> {
        if opcode == ws::OP_BINARY {
            if self.probing {
                return Err(DisconnectReason::ParseError);
            }
            return self
                .srv
                .on_binary(&self.sess, Bytes::copy_from_slice(payload));
        }
        let Ok(text) = std::str::from_utf8(payload) else {
            self.srv.stats.malformed.fetch_add(1, Ordering::Relaxed);
            return Err(DisconnectReason::ParseError);
        };
        if self.probing {
            match text {
                "2probe" => {
                    self.push_local(ws::frame(ws::OP_TEXT, b"3probe"));
                    self.sess.wake(); // a pending GET answers with a noop now
                }
                "5" => {
                    self.probing = false;
                    self.sess.set_websocket();
                    self.srv.upgraded(&self.sess);
                }
                "6" => {}
                _ => return Err(DisconnectReason::ParseError),
            }
            return Ok(());
        }
        self.srv
            .on_text(&self.sess, text, Transport::Websocket)
            .inspect_err(|_| {
                self.srv.stats.malformed.fetch_add(1, Ordering::Relaxed);
            })
    }
}
