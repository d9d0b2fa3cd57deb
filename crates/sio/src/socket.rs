//! One connected socket (a client in one namespace): its rooms, data, pending acks, and
//! the in-order dispatch of its events.

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::FutureExt as _;
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

use crate::common::Offset;
use crate::common::{new_id, DisconnectReason};
use crate::engine::session::{Class, Frame, Handshake, Pushed, Transport};
use crate::event::{AckError, AckReply, Event, SendError};
use crate::ns::{encode_ack, encode_control, encode_event_id, BroadcastOperator};
use crate::packet::PacketKind;
use crate::state::{
    ConnectError, Handler, Inbox, Job, Namespace, Resumed, SioSession, Socket, SocketInner,
};

/// `std::panic::catch_unwind` for handler calls: handlers are user code; nothing they
/// observe is left half-updated by the engine when they unwind (every engine lock is a
/// non-poisoning `parking_lot` lock taken and released inside engine code).
fn catch_unwind<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    std::panic::catch_unwind(AssertUnwindSafe(f))
}

impl Event {
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
