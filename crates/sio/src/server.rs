//! The server: the builder, the namespaces, and the Socket.IO layer on top of the
//! Engine.IO endpoint (`engine::endpoint`): it implements the endpoint's `Handler`,
//! turning Engine.IO messages into Socket.IO packets, and keeps its per-session state
//! (`socket::SioData`) in the sessions' data slot.

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

use crate::adapter::{Adapter, LocalAdapter};
use crate::common::{DisconnectReason, RemoteAddr, Shared, Stats};
use crate::config::{Config, Parser};
use crate::engine::endpoint::{Engine, Handler};
use crate::engine::http as eio_http;
use crate::engine::session::{Class, Frame};
use crate::event::Event;
use crate::msgpack;
use crate::ns::NamespaceBuilder;
use crate::packet::{self, Packet, PacketKind};
use crate::state::{Namespace, Observer, PartialBinary, SioData, SioSession, Socket};

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
    sess: Arc<SioSession>,
}

impl EngineSocket {
    /// Send a message back.
    pub fn send(&self, msg: EngineMessage) {
        let f = match msg {
            EngineMessage::Text(t) => Frame::text(format!("4{t}").as_bytes()),
            EngineMessage::Binary(b) => Frame::binary(&b),
        };
        self.sess.push(&[f], Class::Reliable);
    }
}

/// The Socket.IO layer: what the Engine.IO endpoint hands messages to.
pub(crate) struct Inner {
    shared: Arc<Shared>,
    engine: Weak<Engine<SioData>>,
    namespaces: HashMap<String, Arc<Namespace>>,
    engine_handler: Option<EngineHandler>,
    /// When a parser mismatch was last logged (`Shared::now_ms`; 0: never).
    mismatch_logged_ms: std::sync::atomic::AtomicU64,
}

/// Builds a [`Server`]: configuration, namespaces and their handlers, the adapter.
pub struct ServerBuilder {
    config: Config,
    namespaces: Vec<NamespaceBuilder>,
    adapter: Arc<dyn Adapter>,
    engine_handler: Option<EngineHandler>,
    observer: Option<Arc<dyn Observer>>,
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

    /// Report every namespace's socket events to `observer` (admin tools).
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
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
            config: self.config,
            stats: Stats::default(),
            epoch: Instant::now(),
        });
        let mut sio = None;
        let claim_required = self.engine_handler.is_none();
        let engine = Engine::new(shared.clone(), claim_required, |weak| {
            let inner = Arc::new(Inner {
                shared: shared.clone(),
                engine: weak.clone(),
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
                                self.observer.clone(),
                            )),
                        )
                    })
                    .collect(),
                engine_handler: self.engine_handler,
                mismatch_logged_ms: Default::default(),
            });
            sio = Some(inner.clone());
            inner
        });
        Server {
            engine,
            sio: sio.expect("set by Engine::new"),
        }
    }
}

/// The Socket.IO server. Cheap to clone.
#[derive(Clone)]
pub struct Server {
    engine: Arc<Engine<SioData>>,
    sio: Arc<Inner>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("path", &self.engine.config.path)
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
            observer: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.engine.config
    }

    /// Whether `path` belongs to the engine endpoint.
    pub fn is_engine_path(&self, path: &str) -> bool {
        let p = self.engine.config.path.trim_end_matches('/');
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
        eio_http::handle(self.engine.clone(), req).await
    }

    /// A namespace by name.
    pub fn of(&self, name: &str) -> Option<Arc<Namespace>> {
        self.sio.namespaces.get(name).cloned()
    }

    /// Every namespace, by name.
    pub fn namespaces(&self) -> Vec<Arc<Namespace>> {
        let mut v: Vec<_> = self.sio.namespaces.values().cloned().collect();
        v.sort_by(|a, b| a.name().cmp(b.name()));
        v
    }

    /// Open Engine.IO sessions from `ip`; counted only when `max_sessions_per_ip` or
    /// `max_pending_per_ip` is set (0 otherwise).
    pub fn sessions_from(&self, ip: IpAddr) -> usize {
        self.engine.sessions_from(ip)
    }

    /// The `n` client addresses with the most open sessions, most first (empty when no
    /// per-IP limit is configured: nothing is counted then).
    pub fn busiest_addresses(&self, n: usize) -> Vec<(IpAddr, usize)> {
        self.engine.busiest_addresses(n)
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.engine.stats.stats
    }

    /// Open Engine.IO sessions by transport: (websocket, polling).
    pub fn sessions_by_transport(&self) -> (usize, usize) {
        self.engine.sessions_by_transport()
    }

    /// Close every session (reason `server shutting down`).
    pub fn close_all(&self) {
        for s in self.engine.all_sessions() {
            s.push_control(b"1");
            self.engine
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

impl Handler<SioData> for Inner {
    fn on_upgrade(&self, sess: &Arc<SioSession>) {
        let sockets = sess.data.sockets.lock().clone();
        for s in &sockets {
            if let Some(o) = &s.0.ns.observer {
                s.guard("observer", || o.upgraded(s));
            }
        }
    }

    fn on_disconnect(&self, sess: &Arc<SioSession>, reason: DisconnectReason) {
        *sess.data.partial.lock() = None;
        let sockets: Vec<Socket> = std::mem::take(&mut *sess.data.sockets.lock());
        for s in sockets {
            s.close(reason);
        }
    }

    fn on_message(&self, sess: &Arc<SioSession>, text: &str) -> Result<(), DisconnectReason> {
        if let Some(h) = &self.engine_handler {
            let es = EngineSocket { sess: sess.clone() };
            h(&es, EngineMessage::Text(text.to_owned()));
            return Ok(());
        }
        if self.shared.config.parser == Parser::Msgpack {
            return self.mismatch(sess, Some(text), None);
        }
        self.on_sio(sess, text)
    }

    /// A binary Engine.IO message: an attachment of the pending binary packet.
    fn on_binary(&self, sess: &Arc<SioSession>, data: Bytes) -> Result<(), DisconnectReason> {
        if let Some(h) = &self.engine_handler {
            let es = EngineSocket { sess: sess.clone() };
            h(&es, EngineMessage::Binary(data));
            return Ok(());
        }
        if self.shared.config.parser == Parser::Msgpack {
            return self.on_msgpack(sess, &data);
        }
        let done = {
            let mut p = sess.data.partial.lock();
            let Some(pb) = p.as_mut() else {
                drop(p);
                // not an attachment: a packet of a msgpack client?
                return match msgpack::decode(&data) {
                    Ok(d) => self.mismatch(sess, None, Some(&d)),
                    Err(_) => Err(DisconnectReason::ParseError),
                };
            };
            // The packet and all its attachments together are one message: `max_payload`.
            pb.bytes += data.len();
            if pb.bytes > self.shared.config.max_payload {
                *p = None;
                return Err(DisconnectReason::ParseError);
            }
            pb.bins.push(data);
            pb.remaining -= 1;
            if pb.remaining == 0 {
                sess.data.partial_since.store(0, Ordering::Release);
                p.take()
            } else {
                None
            }
        };
        if let Some(pb) = done {
            return self.on_complete_packet(sess, pb.head.attach(&pb.text), pb.bins);
        }
        Ok(())
    }

    fn on_tick(&self, sess: &SioSession, now_ms: u64) -> Option<DisconnectReason> {
        let partial = sess.data.partial_since.load(Ordering::Acquire);
        let timeout = self.shared.config.attachment_timeout.as_millis() as u64;
        if partial != 0 && now_ms.saturating_sub(partial) >= timeout {
            self.shared
                .stats
                .attachment_timeouts
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(sid = %sess.sid, "binary attachments did not arrive in time");
            return Some(DisconnectReason::ParseError);
        }
        None
    }

    fn on_sweep(&self) {
        self.namespaces.values().for_each(|n| n.sweep());
    }
}

impl Inner {
    /// A packet of the `socket.io-msgpack-parser` format (the server's parser).
    fn on_msgpack(&self, sess: &Arc<SioSession>, data: &[u8]) -> Result<(), DisconnectReason> {
        self.shared.stats.packets_in.fetch_add(1, Ordering::Relaxed);
        let d = match msgpack::decode(data) {
            Ok(d) => d,
            Err(e) => {
                tracing::debug!(sid = %sess.sid, error = %e, "malformed msgpack socket.io packet");
                return Err(DisconnectReason::ParseError);
            }
        };
        let p = Packet {
            kind: d.kind,
            attachments: 0,
            ns: &d.ns,
            id: d.id,
            data: &d.data,
        };
        self.on_complete_packet(sess, p, d.bins)
    }

    /// A client that speaks the other parser: `text` is a JSON-parser packet reaching a
    /// msgpack server, `msgpack` a msgpack packet reaching a JSON server. Counted, logged
    /// (at most once a second, with the running total); a CONNECT is refused with a
    /// CONNECT_ERROR in the client's own format, so its `connect_error` says why; anything
    /// else closes the connection.
    fn mismatch(
        &self,
        sess: &Arc<SioSession>,
        text: Option<&str>,
        packed: Option<&msgpack::Decoded>,
    ) -> Result<(), DisconnectReason> {
        let stats = &self.shared.stats;
        let total = stats.parser_mismatch.fetch_add(1, Ordering::Relaxed) + 1;
        let now = self.shared.now_ms().max(1);
        let last = self.mismatch_logged_ms.load(Ordering::Relaxed);
        if (last == 0 || now.saturating_sub(last) >= 1000)
            && self
                .mismatch_logged_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let (server, client) = match self.shared.config.parser {
                Parser::Msgpack => ("msgpack", "JSON"),
                Parser::Json => ("JSON", "msgpack"),
            };
            tracing::warn!(
                sid = %sess.sid,
                total,
                "client uses the {client} parser but this server speaks {server}: refused"
            );
        }
        let connect_ns = match (text, packed) {
            (Some(t), _) => packet::parse(t)
                .ok()
                .filter(|p| p.kind == PacketKind::Connect)
                .map(|p| p.ns.to_owned()),
            (_, Some(d)) => (d.kind == PacketKind::Connect).then(|| d.ns.clone()),
            _ => None,
        };
        let Some(ns) = connect_ns else {
            return Err(DisconnectReason::ParseError);
        };
        // answer in the client's format, so that it can read why
        let f = match self.shared.config.parser {
            Parser::Msgpack => {
                let json = serde_json::json!({
                    "message": "this server uses the msgpack parser (socket.io-msgpack-parser)"
                });
                let enc = packet::Encoder {
                    kind: PacketKind::ConnectError,
                    ns: &ns,
                    id: None,
                    attachments: 0,
                };
                Frame::text(&enc.raw(&json.to_string()))
            }
            Parser::Json => {
                let json = serde_json::json!({
                    "message": "this server uses the default JSON parser, not msgpack"
                });
                let b = msgpack::raw(PacketKind::ConnectError, &ns, &json.to_string());
                Frame::binary(&b)
            }
        };
        sess.push(&[f], Class::Control);
        Ok(())
    }

    fn on_sio(&self, sess: &Arc<SioSession>, text: &str) -> Result<(), DisconnectReason> {
        let p = match packet::parse(text) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(sid = %sess.sid, error = %e, "malformed socket.io packet");
                return Err(DisconnectReason::ParseError);
            }
        };
        if p.attachments > 0 {
            let mut partial = sess.data.partial.lock();
            if partial.is_some() {
                return Err(DisconnectReason::ParseError);
            }
            *partial = Some(PartialBinary {
                text: text.to_owned(),
                head: p.detach(text),
                remaining: p.attachments,
                bins: Vec::with_capacity(p.attachments.min(8)),
                bytes: text.len(),
            });
            sess.data
                .partial_since
                .store(self.shared.now_ms().max(1), Ordering::Release);
            return Ok(());
        }
        self.on_complete_packet(sess, p, Vec::new())
    }

    /// A whole packet (attachments included), parsed once.
    fn on_complete_packet(
        &self,
        sess: &Arc<SioSession>,
        p: Packet<'_>,
        bins: Vec<Bytes>,
    ) -> Result<(), DisconnectReason> {
        const MALFORMED: Result<(), DisconnectReason> = Err(DisconnectReason::ParseError);
        match p.kind {
            PacketKind::Connect => {
                let Some(ns) = self.namespaces.get(p.ns).cloned() else {
                    let f = crate::ns::encode_control(
                        self.shared.config.parser,
                        PacketKind::ConnectError,
                        p.ns,
                        "{\"message\":\"Invalid namespace\"}",
                    );
                    sess.push(&[f], Class::Control);
                    return Ok(());
                };
                if sess.data.socket(p.ns).is_some() {
                    return Ok(()); // already connected there: ignore the duplicate
                }
                if let Some(engine) = self.engine.upgrade() {
                    engine.note_connected(sess);
                }
                let auth = if p.data.is_empty() {
                    serde_json::Value::Object(Default::default())
                } else {
                    match serde_json::from_str(p.data) {
                        Ok(v) => v,
                        Err(_) => return MALFORMED,
                    }
                };
                Socket::connect(ns, sess.clone(), auth);
                Ok(())
            }
            PacketKind::Event | PacketKind::BinaryEvent => {
                let Some(s) = sess.data.socket(p.ns) else {
                    tracing::debug!(
                        ns = p.ns,
                        "event for a namespace the client is not connected to"
                    );
                    return MALFORMED;
                };
                match Event::parse(p.data.to_owned(), bins, p.id) {
                    Some(ev) => {
                        self.shared.stats.events_in.fetch_add(1, Ordering::Relaxed);
                        s.dispatch(ev);
                        Ok(())
                    }
                    None => MALFORMED,
                }
            }
            PacketKind::Ack | PacketKind::BinaryAck => {
                if let (Some(s), Some(id)) = (sess.data.socket(p.ns), p.id) {
                    s.resolve_ack(id, p.data.to_owned(), bins);
                }
                Ok(())
            }
            PacketKind::Disconnect => {
                if let Some(s) = sess.data.socket(p.ns) {
                    s.close(DisconnectReason::ClientNamespaceDisconnect);
                }
                Ok(())
            }
            PacketKind::ConnectError => MALFORMED,
        }
    }
}
