//! One connected socket (a client in one namespace): its rooms, data, pending acks, and
//! the in-order dispatch of its events.

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::FutureExt as _;
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

use crate::common::Offset;
use crate::common::{new_id, DisconnectReason};
use crate::engine::session::{Class, Frame, Handshake, Pushed, Session, Transport};
use crate::ns::{
    encode_ack, encode_control, encode_event_id, BroadcastOperator, ConnectError, Handler,
    Namespace, Resumed,
};
use crate::packet::{split_args, Detached, PacketKind};

/// `std::panic::catch_unwind` for handler calls: handlers are user code; nothing they
/// observe is left half-updated by the engine when they unwind (every engine lock is a
/// non-poisoning `parking_lot` lock taken and released inside engine code).
fn catch_unwind<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    std::panic::catch_unwind(AssertUnwindSafe(f))
}

/// Why an emit to one socket failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SendError {
    /// The data could not be serialized.
    #[error("could not serialize the payload")]
    Serialize,
    /// The socket is disconnected.
    #[error("socket closed")]
    Closed,
    /// The socket's queue was full: a reliable packet disconnected it (slow consumer).
    #[error("slow consumer: queue full")]
    SlowConsumer,
    /// A volatile packet was dropped because the queue was full.
    #[error("dropped (volatile)")]
    Dropped,
}

/// Why an acknowledgement did not arrive.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AckError {
    /// No answer within the timeout.
    #[error("ack timeout")]
    Timeout,
    /// The socket disconnected first.
    #[error("socket closed before the ack")]
    Closed,
    /// The packet could not be sent.
    #[error(transparent)]
    Send(#[from] SendError),
}

/// Why an event argument could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ArgError {
    /// Fewer arguments than asked for.
    #[error("missing argument")]
    Missing,
    /// The argument has the wrong shape.
    #[error("invalid argument: {0}")]
    Invalid(#[from] serde_json::Error),
}

/// A client's answer to an `emit_with_ack`.
#[derive(Debug, Clone)]
pub struct AckReply {
    /// The JSON array of the client's ack arguments.
    pub args: String,
    /// Binary attachments.
    pub bins: Vec<Bytes>,
}

impl AckReply {
    /// The first ack argument, deserialized.
    pub fn first<T: DeserializeOwned>(&self) -> Result<T, ArgError> {
        let args = split_args(&self.args).map_err(|_| ArgError::Missing)?;
        let a = args.first().ok_or(ArgError::Missing)?;
        Ok(serde_json::from_str(a.get())?)
    }
}

/// A client event.
#[derive(Debug)]
pub struct Event {
    name: String,
    /// The whole JSON array `["name", args…]`.
    data: String,
    /// Byte range of the comma-joined arguments inside `data`.
    args: (usize, usize),
    bins: Vec<Bytes>,
    ack: Option<u64>,
}

impl Event {
    pub(crate) fn parse(data: String, bins: Vec<Bytes>, ack: Option<u64>) -> Option<Event> {
        let (name, args) = {
            let parts = split_args(&data).ok()?;
            let first = parts.first()?;
            let name: String = serde_json::from_str(first.get()).ok()?;
            let base = data.as_ptr() as usize;
            let args = match (parts.get(1), parts.last()) {
                (Some(a), Some(z)) => {
                    let s = a.get().as_ptr() as usize - base;
                    let e = z.get().as_ptr() as usize - base + z.get().len();
                    (s, e)
                }
                _ => (0, 0),
            };
            (name, args)
        };
        Some(Event {
            name,
            data,
            args,
            bins,
            ack,
        })
    }

    /// The event name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The arguments as JSON values joined by commas (empty when there are none).
    pub fn args_raw(&self) -> &str {
        &self.data[self.args.0..self.args.1]
    }
    /// Number of arguments.
    pub fn arg_count(&self) -> usize {
        split_args(&self.data)
            .map(|v| v.len().saturating_sub(1))
            .unwrap_or(0)
    }
    /// Argument `i` (0 = the first after the name) as raw JSON.
    pub fn arg_raw(&self, i: usize) -> Option<&RawValue> {
        split_args(&self.data).ok()?.get(i + 1).copied()
    }
    /// Argument `i`, deserialized.
    pub fn arg<T: DeserializeOwned>(&self, i: usize) -> Result<T, ArgError> {
        let raw = self.arg_raw(i).ok_or(ArgError::Missing)?;
        Ok(serde_json::from_str(raw.get())?)
    }
    /// Binary attachments.
    pub fn bins(&self) -> &[Bytes] {
        &self.bins
    }
    /// Whether the client asked for an acknowledgement.
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }
    /// Answer the client's ack callback with one argument (at most once; later calls are no-ops).
    pub fn ack<T: Serialize + ?Sized>(
        &mut self,
        socket: &Socket,
        data: &T,
    ) -> Result<(), SendError> {
        let args = serde_json::to_string(data).map_err(|_| SendError::Serialize)?;
        self.ack_raw(socket, &args, Vec::new())
    }
    /// Answer with pre-encoded arguments (JSON values joined by commas) and attachments.
    pub fn ack_raw(
        &mut self,
        socket: &Socket,
        args: &str,
        bins: Vec<Bytes>,
    ) -> Result<(), SendError> {
        let Some(id) = self.ack.take() else {
            return Ok(());
        };
        let ns = &socket.0.ns;
        let z = ns.shared.deflate_at();
        let frames = encode_ack(ns.shared.config.parser, &ns.name, id, args, &bins, z);
        socket.push(&frames, Class::Reliable)
    }
}

/// Binary attachments still expected for a packet.
pub(crate) struct PartialBinary {
    pub(crate) text: String,
    /// `text` parsed (at arrival; not parsed again when complete).
    pub(crate) head: Detached,
    pub(crate) remaining: usize,
    pub(crate) bins: Vec<Bytes>,
    /// Bytes held (text + attachments so far); bounded by `max_payload`.
    pub(crate) bytes: usize,
}

/// The Socket.IO state of one Engine.IO session ([`Session::data`]): its sockets (one per
/// namespace) and a binary packet waiting for its attachments.
#[derive(Default)]
pub(crate) struct SioData {
    pub(crate) sockets: Mutex<Vec<Socket>>,
    pub(crate) partial: Mutex<Option<PartialBinary>>,
    /// When the pending binary packet started (ms since the server's epoch; 0: none), so
    /// the heartbeat can end one whose attachments never come without taking a lock.
    pub(crate) partial_since: AtomicU64,
}

impl SioData {
    /// The session's socket in namespace `ns`.
    pub(crate) fn socket(&self, ns: &str) -> Option<Socket> {
        self.sockets
            .lock()
            .iter()
            .find(|s| s.ns_name() == ns)
            .cloned()
    }
}

/// An Engine.IO session carrying Socket.IO.
pub(crate) type SioSession = Session<SioData>;

enum Job {
    Event(Event),
}

/// Sees what happens to the sockets of every namespace, as socket.io's admin
/// instrumentation does with its listeners (`ServerBuilder::observer`). Called inline on
/// the engine's tasks: implementations return quickly (count, or queue for later) and
/// never block. Without an observer each hook costs one `Option` check.
#[allow(unused_variables)]
pub trait Observer: Send + Sync + 'static {
    /// A socket connected (after its CONNECT ack).
    fn connected(&self, socket: &Socket) {}
    /// A connected socket left its namespace.
    fn disconnected(&self, socket: &Socket, reason: DisconnectReason) {}
    /// A socket joined `room` (it was not a member).
    fn joined(&self, socket: &Socket, room: &str) {}
    /// A socket left `room` (it was a member).
    fn left(&self, socket: &Socket, room: &str) {}
    /// The socket's connection finished its upgrade from polling to WebSocket.
    fn upgraded(&self, socket: &Socket) {}
    /// A client event reached the namespace (before its handler runs).
    fn received(&self, socket: &Socket, event: &Event) {}
    /// An event was emitted to this one socket (`args`: JSON values joined by commas).
    /// Broadcasts are not reported per member, as in socket.io's `onAnyOutgoing`.
    fn sent(&self, socket: &Socket, event: &str, args: &str) {}
}

#[derive(Default)]
struct Inbox {
    queue: VecDeque<Job>,
    /// A task is draining the queue (or the connect hook runs): new events queue up.
    running: bool,
}

pub(crate) struct SocketInner {
    pub(crate) id: Arc<str>,
    pub(crate) pid: Option<Arc<str>>,
    pub(crate) ns: Arc<Namespace>,
    pub(crate) session: Arc<SioSession>,
    pub(crate) rooms: Mutex<Vec<Arc<str>>>,
    pub(crate) data: Mutex<http::Extensions>,
    acks: Mutex<HashMap<u64, oneshot::Sender<AckReply>>>,
    next_ack: AtomicU64,
    inbox: Mutex<Inbox>,
    /// The last broadcast this socket was queued for (dedupes multi-room emits).
    pub(crate) last_seq: AtomicU64,
    pub(crate) connected: AtomicBool,
    recovered: bool,
    /// The namespace's newest offset when the socket was added (see `Persisted::since`).
    pub(crate) since: Mutex<Offset>,
}

/// A handle to a connected socket. Cheap to clone.
#[derive(Clone)]
pub struct Socket(pub(crate) Arc<SocketInner>);

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.0.id)
            .field("ns", &self.0.ns.name)
            .finish()
    }
}

impl Socket {
    /// The socket id (also the name of its own room).
    pub fn id(&self) -> &str {
        &self.0.id
    }
    /// The namespace name.
    pub fn ns_name(&self) -> &str {
        &self.0.ns.name
    }
    /// The namespace.
    pub fn ns(&self) -> &Arc<Namespace> {
        &self.0.ns
    }
    /// Whether this connection restored a previous session (connection state recovery).
    pub fn recovered(&self) -> bool {
        self.0.recovered
    }
    /// The private session id a client presents to recover this session (`None` when
    /// recovery is off). A session store keys sessions by it; never send it to others.
    pub fn pid(&self) -> Option<&str> {
        self.0.pid.as_deref()
    }
    /// The Engine.IO session id (socket.io's `socket.conn.id`, the admin UI's `clientId`).
    /// Like the recovery id it lets its holder act as the client: never send it to others.
    pub fn session_id(&self) -> &str {
        &self.0.session.sid
    }
    /// The request that opened the underlying Engine.IO session.
    pub fn handshake(&self) -> &Handshake {
        &self.0.session.handshake
    }
    /// `websocket` or `polling`.
    pub fn transport(&self) -> &'static str {
        match self.0.session.transport() {
            Transport::Websocket => "websocket",
            Transport::Polling => "polling",
        }
    }
    /// Whether the socket is still connected.
    pub fn connected(&self) -> bool {
        self.0.connected.load(Ordering::Acquire)
    }

    /// Store a value on the socket (one per type). Kept across recovery.
    pub fn insert<T: Clone + Send + Sync + 'static>(&self, v: T) {
        self.0.data.lock().insert(v);
    }
    /// A copy of the value of type `T`, if stored.
    pub fn get<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.0.data.lock().get::<T>().cloned()
    }

    /// Join `room` (idempotent). `false` if the socket is no longer connected.
    pub fn join(&self, room: impl AsRef<str>) -> bool {
        self.0.ns.join(self, room.as_ref())
    }
    /// Leave `room`; `true` if it was a member.
    pub fn leave(&self, room: impl AsRef<str>) -> bool {
        self.0.ns.leave(self, room.as_ref())
    }
    /// The rooms this socket is in (its own id room included).
    pub fn rooms(&self) -> Vec<String> {
        self.0.rooms.lock().iter().map(|r| r.to_string()).collect()
    }
    /// Emit to `room`, excluding this socket (like socket.io's `socket.to(room)`).
    pub fn to(&self, room: impl AsRef<str>) -> BroadcastOperator {
        BroadcastOperator::new(self.0.ns.clone())
            .to(room)
            .except(&*self.0.id)
    }

    fn push(&self, frames: &[Frame], class: Class) -> Result<(), SendError> {
        let shared = &self.0.ns.shared;
        match self.0.session.push(frames, class) {
            Pushed::Queued => {
                shared.stats.emits.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Pushed::Closed => Err(SendError::Closed),
            Pushed::Dropped => {
                shared
                    .stats
                    .volatile_dropped
                    .fetch_add(1, Ordering::Relaxed);
                Err(SendError::Dropped)
            }
            Pushed::Overflow => {
                self.0.ns.close_slow(vec![self.0.session.clone()]);
                Err(SendError::SlowConsumer)
            }
        }
    }

    /// Emit `event` with one argument to this socket.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), SendError> {
        let args = serde_json::to_string(data).map_err(|_| SendError::Serialize)?;
        self.emit_raw(event, &args, &[])
    }
    /// Emit, dropping the packet (counted) rather than disconnecting if the queue is full.
    pub fn emit_volatile<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), SendError> {
        let args = serde_json::to_string(data).map_err(|_| SendError::Serialize)?;
        let frames = encode_event_id(
            self.0.ns.shared.config.parser,
            &self.0.ns.name,
            event,
            &args,
            &[],
            None,
            None,
            self.0.ns.shared.deflate_at(),
        );
        self.observe_sent(event, &args);
        self.push(&frames, Class::Volatile)
    }
    /// Emit pre-encoded arguments (JSON values joined by commas) and attachments.
    pub fn emit_raw(&self, event: &str, args: &str, bins: &[Bytes]) -> Result<(), SendError> {
        if !self.connected() {
            return Err(SendError::Closed);
        }
        let frames = encode_event_id(
            self.0.ns.shared.config.parser,
            &self.0.ns.name,
            event,
            args,
            bins,
            None,
            None,
            self.0.ns.shared.deflate_at(),
        );
        self.observe_sent(event, args);
        self.push(&frames, Class::Reliable)
    }

    fn observe_sent(&self, event: &str, args: &str) {
        if let Some(o) = &self.0.ns.observer {
            self.guard("observer", || o.sent(self, event, args));
        }
    }
    /// Emit and wait for the client's acknowledgement (`timeout`: the server default if `None`).
    pub async fn emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
        timeout: Option<Duration>,
    ) -> Result<AckReply, AckError> {
        let args = serde_json::to_string(data).map_err(|_| SendError::Serialize)?;
        let id = self.0.next_ack.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.0.acks.lock().insert(id, tx);
        let frames = encode_event_id(
            self.0.ns.shared.config.parser,
            &self.0.ns.name,
            event,
            &args,
            &[],
            None,
            Some(id),
            self.0.ns.shared.deflate_at(),
        );
        self.observe_sent(event, &args);
        if let Err(e) = self.push(&frames, Class::Reliable) {
            self.0.acks.lock().remove(&id);
            return Err(e.into());
        }
        let timeout = timeout.unwrap_or(self.0.ns.shared.config.ack_timeout);
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(_)) => Err(AckError::Closed),
            Err(_) => {
                self.0.acks.lock().remove(&id);
                Err(AckError::Timeout)
            }
        }
    }

    /// Disconnect this socket from its namespace (the client sees `io server disconnect`).
    pub fn disconnect(&self) {
        let ns = &self.0.ns;
        let frame = encode_control(
            ns.shared.config.parser,
            PacketKind::Disconnect,
            &ns.name,
            "",
        );
        let _ = self.push(&[frame], Class::Control);
        self.close(DisconnectReason::ServerNamespaceDisconnect);
    }

    /// Disconnect this socket and close its connection with every other socket on it
    /// (socket.io's `socket.disconnect(true)`).
    pub fn close_connection(&self) {
        self.disconnect();
        if let Some(srv) = self.0.ns.engine.upgrade() {
            srv.close_session(&self.0.session, DisconnectReason::ServerNamespaceDisconnect);
        }
    }

    /// Leave the namespace: rooms, recovery, disconnect handler, pending acks.
    pub(crate) fn close(&self, reason: DisconnectReason) {
        self.0
            .session
            .data
            .sockets
            .lock()
            .retain(|s| !Arc::ptr_eq(&s.0, &self.0));
        if !self.0.connected.swap(false, Ordering::AcqRel) {
            return;
        }
        let ns = &self.0.ns;
        let rooms = ns.remove(self);
        ns.shared.stats.sockets.fetch_sub(1, Ordering::Relaxed);
        // The handler runs with the socket's data still on it; only then is the data moved
        // into the recovery store.
        if let Some(h) = &ns.handlers.disconnect {
            self.guard("disconnect", || h(self, reason));
        }
        if let Some(o) = &ns.observer {
            self.guard("observer", || o.disconnected(self, reason));
        }
        if let Some(rooms) = rooms {
            ns.session_closed(self, reason.is_recoverable());
            if reason.is_recoverable() {
                ns.persist(self, rooms);
            }
        }
        self.0.acks.lock().clear();
        self.0.inbox.lock().queue.clear();
    }

    pub(crate) fn resolve_ack(&self, id: u64, args: String, bins: Vec<Bytes>) {
        if let Some(tx) = self.0.acks.lock().remove(&id) {
            let _ = tx.send(AckReply { args, bins });
        }
    }

    /// A CONNECT packet: find the session again (connection state recovery), create the
    /// socket, run the connect hook, then acknowledge.
    pub(crate) fn connect(ns: Arc<Namespace>, session: Arc<SioSession>, auth: serde_json::Value) {
        let recovery = ns.shared.config.recovery.is_some();
        // socket.io-client sends `offset` only once it received an event; a pid alone
        // resumes from the point the session connected.
        let pid = auth
            .get("pid")
            .and_then(|v| v.as_str())
            .map(Arc::<str>::from);
        let offset = auth.get("offset").and_then(|v| v.as_str());
        let Some(pid) = pid.filter(|_| recovery) else {
            return Self::connect_resumed(ns, session, auth, None);
        };
        if let Some(fut) = ns.restore_remote(&pid, offset) {
            // The adapter's store answers asynchronously; the client sends nothing before
            // its CONNECT ack, so nothing waits meanwhile.
            tokio::spawn(async move {
                let found = fut.await.map(|r| (pid, Resumed::Remote(r)));
                Self::connect_resumed(ns, session, auth, found);
            });
            return;
        }
        let found = ns.restore(&pid, offset).map(|r| (pid, Resumed::Local(r)));
        Self::connect_resumed(ns, session, auth, found);
    }

    fn connect_resumed(
        ns: Arc<Namespace>,
        session: Arc<SioSession>,
        auth: serde_json::Value,
        restored: Option<(Arc<str>, Resumed)>,
    ) {
        let shared = ns.shared.clone();
        if auth.get("pid").is_some() && shared.config.recovery.is_some() {
            let counter = if restored.is_some() {
                &shared.stats.recoveries
            } else {
                &shared.stats.recovery_failures
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        let (id, pid, mut restored) = match restored {
            Some((pid, r)) => {
                let sid: Arc<str> = match &r {
                    Resumed::Local(l) => l.sid.clone(),
                    Resumed::Remote(x) => Arc::from(x.sid.as_str()),
                };
                (sid, Some(pid), Some(r))
            }
            None => (new_id(), shared.config.recovery.map(|_| new_id()), None),
        };
        let socket = Socket(Arc::new(SocketInner {
            id,
            pid,
            ns: ns.clone(),
            session: session.clone(),
            rooms: Mutex::new(Vec::new()),
            // A recovered socket starts with the old connection's data, so the connect hook
            // can check it (same user?) and overwrite what belongs to this connection.
            data: Mutex::new(
                restored
                    .as_mut()
                    .map(|r| match r {
                        Resumed::Local(l) => std::mem::take(&mut l.data),
                        Resumed::Remote(x) => std::mem::take(&mut x.data),
                    })
                    .unwrap_or_default(),
            ),
            acks: Mutex::new(HashMap::new()),
            next_ack: AtomicU64::new(0),
            inbox: Mutex::new(Inbox {
                queue: VecDeque::new(),
                running: true,
            }),
            last_seq: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            recovered: restored.is_some(),
            since: Mutex::new(Offset::default()),
        }));
        session.data.sockets.lock().push(socket.clone());
        match ns.handlers.connect.clone() {
            Some(hook) => {
                let s = socket.clone();
                tokio::spawn(async move {
                    let res = AssertUnwindSafe(hook(s.clone(), auth))
                        .catch_unwind()
                        .await
                        .unwrap_or_else(|p| {
                            s.panicked("connect", &*p);
                            Err(ConnectError::new("internal server error"))
                        });
                    if s.finish_connect(res, restored) {
                        s.drain(None).await;
                    }
                });
            }
            None => {
                if socket.finish_connect(Ok(()), restored) {
                    socket.0.inbox.lock().running = false;
                }
            }
        }
    }

    /// Acknowledge (or refuse) the connect. `true` when the socket is now connected.
    fn finish_connect(&self, res: Result<(), ConnectError>, restored: Option<Resumed>) -> bool {
        let ns = &self.0.ns;
        let shared = &ns.shared;
        if self.0.session.is_closed() {
            // Never connected: nothing to undo but the session's list.
            self.forget();
            return false;
        }
        match res {
            Err(e) => {
                shared.stats.connect_errors.fetch_add(1, Ordering::Relaxed);
                let mut body = serde_json::json!({ "message": e.message });
                if let Some(d) = e.data {
                    body["data"] = d;
                }
                let frame = encode_control(
                    shared.config.parser,
                    PacketKind::ConnectError,
                    &ns.name,
                    &body.to_string(),
                );
                let _ = self.0.session.push(&[frame], Class::Control);
                self.forget();
                false
            }
            Ok(()) => {
                shared.stats.sockets.fetch_add(1, Ordering::Relaxed);
                ns.add(self, restored);
                // The session may have closed while the hook ran or just now; its close
                // either saw this socket connected (and removed it) or did not, and then
                // this check sees the close: either way it is removed exactly once.
                if self.0.session.is_closed() {
                    self.close(DisconnectReason::TransportClose);
                    return false;
                }
                if let Some(h) = &ns.handlers.connection {
                    self.guard("connection", || h(self));
                }
                if let Some(o) = &ns.observer {
                    self.guard("observer", || o.connected(self));
                }
                true
            }
        }
    }

    /// Hand a client event to its handler, keeping the client's order.
    pub(crate) fn dispatch(&self, ev: Event) {
        let ns = &self.0.ns;
        if let Some(o) = &ns.observer {
            self.guard("observer", || o.received(self, &ev));
        }
        let Some(handler) = ns
            .handlers
            .events
            .get(ev.name())
            .or(ns.handlers.any.as_ref())
            .cloned()
        else {
            ns.shared
                .stats
                .unhandled_events
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(event = ev.name(), "event without handler");
            return;
        };
        {
            let mut inbox = self.0.inbox.lock();
            if inbox.running {
                if inbox.queue.len() >= ns.shared.config.max_queued_events {
                    drop(inbox);
                    tracing::warn!(socket = %self.0.id, "event queue full, closing");
                    if let Some(srv) = ns.engine.upgrade() {
                        srv.close_session(&self.0.session, DisconnectReason::EventQueueFull);
                    }
                    return;
                }
                inbox.queue.push_back(Job::Event(ev));
                return;
            }
            if matches!(handler, Handler::Async(_)) {
                inbox.running = true;
            }
        }
        match handler {
            Handler::Sync(f) => self.guard("event", || f(self, ev)),
            Handler::Async(f) => {
                let s = self.clone();
                let fut = catch_unwind(|| f(s.clone(), ev));
                tokio::spawn(async move { s.drain(fut.ok()).await });
            }
        }
    }

    /// Drop this socket from its session's list (a socket that never connected).
    fn forget(&self) {
        self.0
            .session
            .data
            .sockets
            .lock()
            .retain(|s| !Arc::ptr_eq(&s.0, &self.0));
    }

    /// Run a handler; a panic is caught, logged and counted instead of unwinding through
    /// the connection's task (which would leave its session open forever).
    pub(crate) fn guard(&self, what: &'static str, f: impl FnOnce()) {
        if let Err(p) = catch_unwind(f) {
            self.panicked(what, &*p);
        }
    }

    fn panicked(&self, what: &'static str, payload: &(dyn std::any::Any + Send)) {
        self.0
            .ns
            .shared
            .stats
            .handler_panics
            .fetch_add(1, Ordering::Relaxed);
        let msg = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(non-string panic)");
        tracing::error!(socket = %self.0.id, handler = what, panic = msg, "handler panicked (caught)");
    }

    /// Run queued events in order until the queue is empty.
    async fn drain(self, first: Option<BoxFuture<'static, ()>>) {
        if let Some(f) = first {
            if let Err(p) = AssertUnwindSafe(f).catch_unwind().await {
                self.panicked("event", &*p);
            }
        }
        loop {
            let job = {
                let mut inbox = self.0.inbox.lock();
                match inbox.queue.pop_front() {
                    Some(j) => j,
                    None => {
                        inbox.running = false;
                        return;
                    }
                }
            };
            let Job::Event(ev) = job;
            let ns = &self.0.ns;
            let handler = ns
                .handlers
                .events
                .get(ev.name())
                .or(ns.handlers.any.as_ref())
                .cloned();
            match handler {
                Some(Handler::Sync(f)) => self.guard("event", || f(&self, ev)),
                Some(Handler::Async(f)) => {
                    let fut = catch_unwind(|| f(self.clone(), ev));
                    let res = match fut {
                        Ok(fut) => AssertUnwindSafe(fut).catch_unwind().await,
                        Err(p) => Err(p),
                    };
                    if let Err(p) = res {
                        self.panicked("event", &*p);
                    }
                }
                None => {}
            }
        }
    }
}
