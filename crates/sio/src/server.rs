//! The server: configuration, namespaces, the session table, the heartbeat, and the
//! routing of Engine.IO messages to Socket.IO packets.

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

use crate::adapter::{Adapter, LocalAdapter};
use crate::common::{new_id, DisconnectReason, RemoteAddr, Shared, Stats};
use crate::config::Config;
use crate::engine::http::{self as eio_http, open_frame, push_control};
use crate::engine::session::{Budget, Handshake, PartialBinary, Session, Transport};
use crate::ns::{Namespace, NamespaceBuilder};
use crate::packet::{self, PacketKind};
use crate::socket::{Event, Socket};

/// A raw Engine.IO message handler (used instead of Socket.IO, e.g. by an echo server).
pub type EngineHandler = Arc<dyn Fn(&EngineSocket, EngineMessage) + Send + Sync>;

/// A raw Engine.IO message.
#[derive(Debug, Clone)]
pub enum EngineMessage {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Bytes),
}

/// A raw Engine.IO session, for [`ServerBuilder::engine_only`].
pub struct EngineSocket {
    sess: Arc<Session>,
}

impl EngineSocket {
    /// Send a message back.
    pub fn send(&self, msg: EngineMessage) {
        use crate::engine::session::{Class, Frame};
        let f = match msg {
            EngineMessage::Text(t) => Frame::text(format!("4{t}").as_bytes()),
            EngineMessage::Binary(b) => Frame::binary(&b),
        };
        self.sess.push(&[f], Class::Reliable);
    }
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) stats: Arc<Shared>,
    sessions: Mutex<HashMap<Arc<str>, Arc<Session>>>,
    /// Open sessions per client address (only when a per-IP limit is configured).
    per_ip: Mutex<HashMap<IpAddr, IpCount>>,
    /// When a refusal was last logged (ms since `epoch`), to log at most one per second.
    refusal_logged: AtomicU64,
    namespaces: HashMap<String, Arc<Namespace>>,
    engine_handler: Option<EngineHandler>,
    epoch: Instant,
    heartbeat_started: AtomicBool,
}

/// Builds a [`Server`]: configuration, namespaces and their handlers, the adapter.
pub struct ServerBuilder {
    config: Config,
    namespaces: Vec<NamespaceBuilder>,
    adapter: Arc<dyn Adapter>,
    engine_handler: Option<EngineHandler>,
}

impl ServerBuilder {
    /// Add namespace `name` (e.g. `/`), registering its handlers in `f`.
    pub fn namespace(
        mut self,
        name: &str,
        f: impl FnOnce(NamespaceBuilder) -> NamespaceBuilder,
    ) -> Self {
        let b = NamespaceBuilder {
            name: name.to_owned(),
            handlers: Default::default(),
        };
        self.namespaces.push(f(b));
        self
    }

    /// Route broadcasts through `adapter` (default: [`LocalAdapter`]).
    pub fn adapter(mut self, adapter: Arc<dyn Adapter>) -> Self {
        self.adapter = adapter;
        self
    }

    /// Serve raw Engine.IO: every message goes to `f`, no Socket.IO parsing.
    pub fn engine_only(
        mut self,
        f: impl Fn(&EngineSocket, EngineMessage) + Send + Sync + 'static,
    ) -> Self {
        self.engine_handler = Some(Arc::new(f));
        self
    }

    /// Freeze the configuration and handlers.
    pub fn build(self) -> Server {
        let shared = Arc::new(Shared {
            config: self.config.clone(),
            stats: Stats::default(),
        });
        let inner = Arc::new_cyclic(|weak| Inner {
            config: self.config,
            stats: shared.clone(),
            sessions: Mutex::new(HashMap::new()),
            per_ip: Mutex::new(HashMap::new()),
            refusal_logged: AtomicU64::new(0),
            namespaces: self
                .namespaces
                .into_iter()
                .map(|b| {
                    let name = b.name.clone();
                    (
                        name,
                        Arc::new(Namespace::new(
                            b,
                            shared.clone(),
                            weak.clone(),
                            self.adapter.clone(),
                        )),
                    )
                })
                .collect(),
            engine_handler: self.engine_handler,
            epoch: Instant::now(),
            heartbeat_started: AtomicBool::new(false),
        });
        Server { inner }
    }
}

/// The Socket.IO server. Cheap to clone.
#[derive(Clone)]
pub struct Server {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("path", &self.inner.config.path)
            .finish()
    }
}

impl Server {
    /// Start building a server.
    pub fn builder(config: Config) -> ServerBuilder {
        ServerBuilder {
            config,
            namespaces: Vec::new(),
            adapter: Arc::new(LocalAdapter),
            engine_handler: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Whether `path` belongs to the engine endpoint.
    pub fn is_engine_path(&self, path: &str) -> bool {
        let p = self.inner.config.path.trim_end_matches('/');
        path == p || path.strip_prefix(p) == Some("/")
    }

    /// Handle one HTTP request for the engine path (polling, WebSocket upgrade, CORS).
    /// The request must carry hyper's upgrade extension for WebSocket to work.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Full<Bytes>>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        eio_http::handle(self.inner.clone(), req).await
    }

    /// A namespace by name.
    pub fn of(&self, name: &str) -> Option<Arc<Namespace>> {
        self.inner.namespaces.get(name).cloned()
    }

    /// Open Engine.IO sessions from `ip`; counted only when `max_sessions_per_ip` or
    /// `max_pending_per_ip` is set (0 otherwise).
    pub fn sessions_from(&self, ip: IpAddr) -> usize {
        self.inner.sessions_from(ip)
    }

    /// The `n` client addresses with the most open sessions, most first (empty when no
    /// per-IP limit is configured: nothing is counted then).
    pub fn busiest_addresses(&self, n: usize) -> Vec<(IpAddr, usize)> {
        let mut v: Vec<(IpAddr, usize)> = self
            .inner
            .per_ip
            .lock()
            .iter()
            .map(|(ip, c)| (*ip, c.total as usize))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.inner.stats.stats
    }

    /// Open Engine.IO sessions by transport: (websocket, polling).
    pub fn sessions_by_transport(&self) -> (usize, usize) {
        let s = self.inner.sessions.lock();
        let ws = s
            .values()
            .filter(|s| s.transport() == Transport::Websocket)
            .count();
        (ws, s.len() - ws)
    }

    /// Close every session (reason `server shutting down`).
    pub fn close_all(&self) {
        let all: Vec<Arc<Session>> = self.inner.sessions.lock().values().cloned().collect();
        for s in all {
            push_control(&s, b"1");
            self.inner
                .close_session(&s, DisconnectReason::ServerShutdown);
        }
    }

    /// Serve the engine alone on `listener` until `shutdown` resolves (other paths: 404).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                r = listener.accept() => {
                    let (stream, peer) = match r {
                        Ok(x) => x,
                        Err(e) => {
                            // e.g. EMFILE: back off instead of spinning
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let this = self.clone();
                    tokio::spawn(async move {
                        let svc = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                            let this = this.clone();
                            async move {
                                req.extensions_mut().insert(RemoteAddr(peer));
                                if this.is_engine_path(req.uri().path()) {
                                    Ok::<_, Infallible>(this.handle(req).await)
                                } else {
                                    Ok(Response::builder().status(404).body(Full::new(Bytes::from_static(b"not found"))).expect("static"))
                                }
                            }
                        });
                        let io = hyper_util::rt::TokioIo::new(stream);
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(io, svc)
                            .with_upgrades()
                            .await;
                    });
                }
                _ = &mut shutdown => break,
            }
        }
        self.close_all();
        Ok(())
    }
}

/// Sessions of one client address.
#[derive(Debug, Default, Clone, Copy)]
struct IpCount {
    total: u32,
    /// Sessions that have not sent a Socket.IO CONNECT yet.
    pending: u32,
}

/// Why a handshake was refused before a session existed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    TooManyFromIp,
    TooManyPendingFromIp,
}

impl Refused {
    pub(crate) fn message(self) -> &'static str {
        match self {
            Refused::TooManyFromIp => "too many connections from this address",
            Refused::TooManyPendingFromIp => {
                "too many connections from this address waiting for their CONNECT"
            }
        }
    }
}

impl Inner {
    fn limits_ip(&self) -> bool {
        self.config.max_sessions_per_ip != 0 || self.config.max_pending_per_ip != 0
    }

    /// Count a new session of `ip`, unless a per-IP limit refuses it.
    fn admit_ip(&self, ip: Option<IpAddr>) -> Result<(), Refused> {
        let Some(ip) = ip.filter(|_| self.limits_ip()) else {
            return Ok(());
        };
        let (total_max, pending_max) = (
            self.config.max_sessions_per_ip,
            self.config.max_pending_per_ip,
        );
        let refused = {
            let mut m = self.per_ip.lock();
            let c = m.entry(ip).or_default();
            if total_max != 0 && c.total as usize >= total_max {
                Some(Refused::TooManyFromIp)
            } else if pending_max != 0 && c.pending as usize >= pending_max {
                Some(Refused::TooManyPendingFromIp)
            } else {
                c.total += 1;
                c.pending += 1;
                None
            }
        };
        let Some(why) = refused else { return Ok(()) };
        let n = self.stats.ip_refused.fetch_add(1, Ordering::Relaxed) + 1;
        let now = self.now_ms();
        let last = self.refusal_logged.load(Ordering::Relaxed);
        if (last == 0 || now >= last + 1000)
            && self
                .refusal_logged
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(%ip, reason = why.message(), refused_total = n, "handshake refused (logged at most once a second)");
        }
        Err(why)
    }

    /// A session's first Socket.IO CONNECT: it no longer counts as pending.
    pub(crate) fn note_connected(&self, sess: &Session) {
        if !sess.connected_once.swap(true, Ordering::AcqRel) {
            self.release_ip(sess, false);
        }
    }

    /// Give back what `sess` counted for its address (`closing`: the session is gone).
    fn release_ip(&self, sess: &Session, closing: bool) {
        let Some(ip) = sess.handshake.remote.map(|a| a.ip()) else {
            return;
        };
        if !self.limits_ip() {
            return;
        }
        let mut m = self.per_ip.lock();
        if let Some(c) = m.get_mut(&ip) {
            if closing {
                c.total = c.total.saturating_sub(1);
            } else {
                c.pending = c.pending.saturating_sub(1);
            }
            if c.total == 0 {
                m.remove(&ip);
            }
        }
    }

    /// Open sessions from `ip` (0 when no per-IP limit is configured).
    pub(crate) fn sessions_from(&self, ip: IpAddr) -> usize {
        self.per_ip.lock().get(&ip).map_or(0, |c| c.total as usize)
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// A live session. One whose pong is overdue is closed here rather than waiting for
    /// the next heartbeat tick.
    pub(crate) fn session(&self, sid: &str) -> Option<Arc<Session>> {
        let s = self.sessions.lock().get(sid).cloned()?;
        let deadline = s.pong_deadline.load(Ordering::Acquire);
        if deadline != 0 && self.now_ms() >= deadline {
            self.close_session(&s, DisconnectReason::PingTimeout);
            return None;
        }
        Some(s)
    }

    pub(crate) fn open_session(
        self: &Arc<Self>,
        transport: Transport,
        hs: Handshake,
    ) -> Result<Arc<Session>, Refused> {
        self.admit_ip(hs.remote.map(|a| a.ip()))?;
        self.start_heartbeat();
        let sid = new_id();
        let sess = Arc::new(Session::new(
            sid.clone(),
            transport,
            hs,
            self.now_ms(),
            self.config.ping_interval.as_millis() as u64,
            Budget {
                packets: self.config.max_buffer,
                bytes: self.config.max_buffer_bytes,
            },
        ));
        sess.push(
            &[open_frame(self, &sid, transport)],
            crate::engine::session::Class::Control,
        );
        self.sessions.lock().insert(sid, sess.clone());
        self.stats.connections.fetch_add(1, Ordering::Relaxed);
        self.stats.connections_total.fetch_add(1, Ordering::Relaxed);
        Ok(sess)
    }

    /// Close a session and every socket on it (idempotent).
    pub(crate) fn close_session(&self, sess: &Arc<Session>, reason: DisconnectReason) {
        if !sess.mark_closed() {
            return;
        }
        self.sessions.lock().remove(&sess.sid);
        self.stats.connections.fetch_sub(1, Ordering::Relaxed);
        if !sess.connected_once.swap(true, Ordering::AcqRel) {
            self.release_ip(sess, false);
        }
        self.release_ip(sess, true);
        *sess.partial.lock() = None;
        if reason == DisconnectReason::SlowConsumer {
            self.stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(sid = %sess.sid, "slow consumer disconnected: outbound queue full");
        } else {
            tracing::debug!(sid = %sess.sid, %reason, "session closed");
        }
        let sockets: Vec<Socket> = std::mem::take(&mut *sess.sockets.lock());
        for s in sockets {
            s.close(reason);
        }
    }

    fn start_heartbeat(self: &Arc<Self>) {
        if self.heartbeat_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = Arc::downgrade(self);
        let min = self.config.ping_interval.min(self.config.ping_timeout);
        let tick = (min / 10).clamp(Duration::from_millis(5), Duration::from_secs(1));
        tokio::spawn(async move {
            let mut iv = tokio::time::interval(tick);
            iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut sweeps = 0u32;
            loop {
                iv.tick().await;
                let Some(srv) = weak.upgrade() else { return };
                srv.heartbeat();
                sweeps += 1;
                if sweeps.is_multiple_of(64) {
                    srv.namespaces.values().for_each(|n| n.sweep());
                }
            }
        });
    }

    /// One heartbeat pass: ping who is due, close who missed a pong or never connected.
    fn heartbeat(&self) {
        let now = self.now_ms();
        let timeout = self.config.ping_timeout.as_millis() as u64;
        let connect_timeout = self.config.connect_timeout.as_millis() as u64;
        let attachment_timeout = self.config.attachment_timeout.as_millis() as u64;
        let all: Vec<Arc<Session>> = self.sessions.lock().values().cloned().collect();
        for s in all {
            let deadline = s.pong_deadline.load(Ordering::Acquire);
            if deadline != 0 && now >= deadline {
                self.close_session(&s, DisconnectReason::PingTimeout);
                continue;
            }
            if self.engine_handler.is_none()
                && now.saturating_sub(s.created_ms) >= connect_timeout
                && !s.connected_once.load(Ordering::Acquire)
            {
                push_control(&s, b"1");
                self.close_session(&s, DisconnectReason::ConnectTimeout);
                continue;
            }
            let partial = s.partial_since.load(Ordering::Acquire);
            if partial != 0 && now.saturating_sub(partial) >= attachment_timeout {
                self.stats
                    .attachment_timeouts
                    .fetch_add(1, Ordering::Relaxed);
                tracing::debug!(sid = %s.sid, "binary attachments did not arrive in time");
                self.close_session(&s, DisconnectReason::ParseError);
                continue;
            }
            let due = s.next_ping.load(Ordering::Acquire);
            if deadline == 0 && now >= due {
                // The deadline counts from when the ping was due, not from a late tick
                // (but leaves a late ping at least half the timeout).
                s.pong_deadline
                    .store((due + timeout).max(now + timeout / 2), Ordering::Release);
                push_control(&s, b"2");
            }
        }
    }

    /// An Engine.IO text packet. `false`: malformed, close the connection.
    pub(crate) fn on_text(
        self: &Arc<Self>,
        sess: &Arc<Session>,
        text: &str,
        transport: Transport,
    ) -> bool {
        let b = text.as_bytes();
        match b.first() {
            Some(b'4') => {
                self.stats.packets_in.fetch_add(1, Ordering::Relaxed);
                if let Some(h) = &self.engine_handler {
                    let es = EngineSocket { sess: sess.clone() };
                    h(&es, EngineMessage::Text(text[1..].to_owned()));
                    return true;
                }
                self.on_sio(sess, &text[1..])
            }
            Some(b'3') => {
                // pong: the next ping is due one interval after it (as the reference does).
                sess.pong_deadline.store(0, Ordering::Release);
                sess.next_ping.store(
                    self.now_ms() + self.config.ping_interval.as_millis() as u64,
                    Ordering::Release,
                );
                true
            }
            // Engine.IO v4 pings go server -> client only.
            Some(b'2') => false,
            Some(b'1') => {
                if transport == Transport::Polling {
                    // A pending GET ends with a noop, as the reference does.
                    push_control(sess, b"6");
                }
                self.close_session(sess, DisconnectReason::TransportClose);
                true
            }
            Some(b'6') => true,
            Some(b'5') => transport == Transport::Websocket,
            _ => false,
        }
    }

    /// A binary Engine.IO message: an attachment of the pending binary packet.
    pub(crate) fn on_binary(self: &Arc<Self>, sess: &Arc<Session>, data: Bytes) -> bool {
        if let Some(h) = &self.engine_handler {
            let es = EngineSocket { sess: sess.clone() };
            h(&es, EngineMessage::Binary(data));
            return true;
        }
        let done = {
            let mut p = sess.partial.lock();
            let Some(pb) = p.as_mut() else { return false };
            // The packet and all its attachments together are one message: `max_payload`.
            pb.bytes += data.len();
            if pb.bytes > self.config.max_payload {
                *p = None;
                return false;
            }
            pb.bins.push(data);
            pb.remaining -= 1;
            if pb.remaining == 0 {
                sess.partial_since.store(0, Ordering::Release);
                p.take()
            } else {
                None
            }
        };
        if let Some(pb) = done {
            return self.on_complete_packet(sess, &pb.text, pb.bins);
        }
        true
    }

    fn on_sio(&self, sess: &Arc<Session>, text: &str) -> bool {
        let p = match packet::parse(text) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(sid = %sess.sid, error = %e, "malformed socket.io packet");
                return false;
            }
        };
        if p.attachments > 0 {
            let mut partial = sess.partial.lock();
            if partial.is_some() {
                return false;
            }
            *partial = Some(PartialBinary {
                text: text.to_owned(),
                remaining: p.attachments,
                bins: Vec::with_capacity(p.attachments.min(8)),
                bytes: text.len(),
            });
            sess.partial_since
                .store(self.now_ms().max(1), Ordering::Release);
            return true;
        }
        self.on_complete_packet(sess, text, Vec::new())
    }

    fn on_complete_packet(&self, sess: &Arc<Session>, text: &str, bins: Vec<Bytes>) -> bool {
        let Ok(p) = packet::parse(text) else {
            return false;
        };
        match p.kind {
            PacketKind::Connect => {
                let Some(ns) = self.namespaces.get(p.ns).cloned() else {
                    let enc = packet::Encoder {
                        kind: PacketKind::ConnectError,
                        ns: p.ns,
                        id: None,
                        attachments: 0,
                    };
                    push_control(sess, &enc.raw("{\"message\":\"Invalid namespace\"}"));
                    return true;
                };
                if sess.socket(p.ns).is_some() {
                    return true; // already connected there: ignore the duplicate
                }
                self.note_connected(sess);
                let auth = if p.data.is_empty() {
                    serde_json::Value::Object(Default::default())
                } else {
                    match serde_json::from_str(p.data) {
                        Ok(v) => v,
                        Err(_) => return false,
                    }
                };
                Socket::connect(ns, sess.clone(), auth);
                true
            }
            PacketKind::Event | PacketKind::BinaryEvent => {
                let Some(s) = sess.socket(p.ns) else {
                    tracing::debug!(
                        ns = p.ns,
                        "event for a namespace the client is not connected to"
                    );
                    return false;
                };
                match Event::parse(p.data.to_owned(), bins, p.id) {
                    Some(ev) => {
                        self.stats.events_in.fetch_add(1, Ordering::Relaxed);
                        s.dispatch(ev);
                        true
                    }
                    None => false,
                }
            }
            PacketKind::Ack | PacketKind::BinaryAck => {
                if let (Some(s), Some(id)) = (sess.socket(p.ns), p.id) {
                    s.resolve_ack(id, p.data.to_owned(), bins);
                }
                true
            }
            PacketKind::Disconnect => {
                if let Some(s) = sess.socket(p.ns) {
                    s.close(DisconnectReason::ClientNamespaceDisconnect);
                }
                true
            }
            PacketKind::ConnectError => false,
        }
    }
}
