//! The shapes of a namespace and of its sockets, which hold each other: a [`Namespace`]
//! indexes its [`Socket`]s by room, a socket points back at its namespace. Only the
//! structs live here; what they do is in [`crate::ns`] and [`crate::socket`], which both
//! build on this module and not on each other's types in a loop.

use bytes::Bytes;
use futures_util::future::BoxFuture;
use indexmap::IndexMap;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Weak};
use tokio::sync::oneshot;

use crate::adapter::{Adapter, RemoteSession};
use crate::common::{DisconnectReason, Offset, Shared};
use crate::engine::endpoint::Engine;
use crate::engine::session::Session;
use crate::event::{AckReply, Event};
use crate::packet::Detached;
use crate::recovery::{Recovery, Restored};

/// A session found again for a reconnecting client: from this namespace's own store, or
/// from the adapter's (a cluster).
pub(crate) enum Resumed {
    Local(Restored),
    Remote(RemoteSession),
}

/// A refused connection: sent to the client as `connect_error` (`err.message`, `err.data`).
#[derive(Debug, Clone)]
pub struct ConnectError {
    /// Shown by the client as `err.message`.
    pub message: String,
    /// Optional details (`err.data`).
    pub data: Option<serde_json::Value>,
}

impl ConnectError {
    /// A refusal with a message only.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            data: None,
        }
    }
}

type ConnectHook = Arc<
    dyn Fn(Socket, serde_json::Value) -> BoxFuture<'static, Result<(), ConnectError>> + Send + Sync,
>;
type SyncHandler = Arc<dyn Fn(&Socket, Event) + Send + Sync>;
type ConnectionHandler = Arc<dyn Fn(&Socket) + Send + Sync>;
type DisconnectHandler = Arc<dyn Fn(&Socket, DisconnectReason) + Send + Sync>;
type AsyncHandler = Arc<dyn Fn(Socket, Event) -> BoxFuture<'static, ()> + Send + Sync>;

/// An event handler: sync ones run inline on the connection's task, async ones on a task
/// per socket that drains the socket's events in order.
#[derive(Clone)]
pub(crate) enum Handler {
    Sync(SyncHandler),
    Async(AsyncHandler),
}

#[derive(Default)]
pub(crate) struct Handlers {
    pub(crate) connect: Option<ConnectHook>,
    pub(crate) connection: Option<ConnectionHandler>,
    pub(crate) events: HashMap<String, Handler>,
    pub(crate) any: Option<Handler>,
    pub(crate) disconnect: Option<DisconnectHandler>,
}

pub(crate) struct NsState {
    pub(crate) sockets: IndexMap<Arc<str>, Socket>,
    /// Every room with its members, a socket's own room included. An `IndexMap` (as
    /// `sockets` and the member sets are) because it keeps each key's hash: growing past a
    /// power of two moves the entries without hashing every room name again, which a
    /// `HashMap` does at once (milliseconds at 10 000 sockets, bench/storm.sh).
    pub(crate) rooms: IndexMap<Arc<str>, IndexMap<Arc<str>, Socket>>,
    /// How many of `rooms` are a socket's own room (named by the id of a socket in it),
    /// so that counting the other rooms costs nothing.
    pub(crate) own_rooms: usize,
    pub(crate) recovery: Option<Recovery>,
    pub(crate) seq: u64,
}

/// A Socket.IO namespace.
pub struct Namespace {
    pub(crate) name: Arc<str>,
    pub(crate) handlers: Handlers,
    pub(crate) state: Mutex<NsState>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) engine: Weak<Engine<SioData>>,
    pub(crate) adapter: Arc<dyn Adapter>,
    pub(crate) observer: Option<Arc<dyn Observer>>,
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

pub(crate) enum Job {
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
pub(crate) struct Inbox {
    pub(crate) queue: VecDeque<Job>,
    /// A task is draining the queue (or the connect hook runs): new events queue up.
    pub(crate) running: bool,
}

pub(crate) struct SocketInner {
    pub(crate) id: Arc<str>,
    pub(crate) pid: Option<Arc<str>>,
    pub(crate) ns: Arc<Namespace>,
    pub(crate) session: Arc<SioSession>,
    pub(crate) rooms: Mutex<Vec<Arc<str>>>,
    pub(crate) data: Mutex<http::Extensions>,
    pub(crate) acks: Mutex<HashMap<u64, oneshot::Sender<AckReply>>>,
    pub(crate) next_ack: AtomicU64,
    pub(crate) inbox: Mutex<Inbox>,
    /// The last broadcast this socket was queued for (dedupes multi-room emits).
    pub(crate) last_seq: AtomicU64,
    pub(crate) connected: AtomicBool,
    pub(crate) recovered: bool,
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
