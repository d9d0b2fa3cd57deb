//! The seam between "a broadcast was requested" and "deliver it to local members", and
//! where a cluster keeps sessions for connection state recovery.
//!
//! The default [`LocalAdapter`] delivers on this node and leaves recovery to the
//! namespace's own store. A cluster adapter publishes the [`BroadcastMessage`] to its bus
//! and, when any node (itself included) reads it back, calls
//! [`Namespace::deliver`](crate::Namespace::deliver) with the bus's [`Offset`], so that
//! recovery offsets mean the same on every node. It may also keep sessions itself
//! ([`Adapter::restore`], [`Adapter::session_changed`]) so that a client recovers on a
//! node other than the one it left.

use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use crate::common::Offset;
use crate::{Namespace, Socket};

/// A broadcast as requested by the application: everything needed to deliver it anywhere.
#[derive(Debug, Clone, PartialEq)]
pub struct BroadcastMessage {
    /// Target rooms; empty means every socket of the namespace.
    pub rooms: Vec<Arc<str>>,
    /// Sockets in any of these rooms are skipped.
    pub except: Vec<Arc<str>>,
    /// Volatile: may be dropped for slow sockets, not recorded for recovery.
    pub volatile: bool,
    /// Deliver on this node only, never through the bus (socket.io's `local` flag).
    pub local: bool,
    /// Event name.
    pub event: String,
    /// JSON arguments joined by commas (e.g. `{"a":1},2`), possibly empty.
    pub args: String,
    /// Binary attachments referenced by placeholders in `args`.
    pub bins: Vec<Bytes>,
}

/// What changed in a socket's session, told to [`Adapter::session_changed`] after the
/// namespace applied it. `at`: the namespace's newest delivered offset at that moment
/// (under the same lock as the change), so a store knows from where the socket receives.
#[derive(Debug, Clone, Copy)]
pub enum SessionChange<'a> {
    /// The socket was added (after the connect hook); its rooms are `socket.rooms()`.
    Connected {
        /// The newest offset delivered here when it was added.
        at: Offset,
    },
    /// The socket joined a room.
    Joined {
        /// The room.
        room: &'a str,
        /// The newest offset delivered here when it joined.
        at: Offset,
    },
    /// The socket left a room.
    Left {
        /// The room.
        room: &'a str,
    },
    /// The socket left the namespace.
    Closed {
        /// It may come back within the recovery window.
        recoverable: bool,
    },
}

/// A session kept by the adapter, found again for a reconnecting client.
#[derive(Debug)]
pub struct RemoteSession {
    /// The socket id the client had.
    pub sid: String,
    /// Its rooms (its own id room included).
    pub rooms: Vec<String>,
    /// The socket's data as the application stored it (see [`Socket::insert`]).
    pub data: http::Extensions,
    /// The broadcasts it missed, oldest first, each with its offset; all at or before
    /// `through`.
    pub missed: Vec<(Offset, BroadcastMessage)>,
    /// The newest offset the adapter looked at. Broadcasts after it that this node
    /// delivered before the socket is added are taken from the namespace's own log.
    pub through: Offset,
}

/// A boxed future, as [`Adapter::restore`] returns.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Routes broadcasts. Implementations must be cheap to call on every broadcast.
pub trait Adapter: Send + Sync + 'static {
    /// Deliver (or forward) `msg`; returns the number of local sockets it was queued for
    /// (a cluster adapter that delivers when its bus answers returns what it expects).
    fn broadcast(&self, ns: &Namespace, msg: BroadcastMessage) -> usize;

    /// Whether this adapter keeps sessions itself (then the namespace keeps none and asks
    /// [`Adapter::restore`]).
    fn keeps_sessions(&self) -> bool {
        false
    }

    /// `Some` when this adapter keeps sessions: the future resolves to the session `pid`
    /// left (with what it missed after `offset`, or after the point it connected when the
    /// client sent no offset), or `None` when it cannot be recovered exactly.
    fn restore(
        &self,
        ns: &Namespace,
        pid: &str,
        offset: Option<&str>,
    ) -> Option<BoxFuture<Option<RemoteSession>>> {
        let _ = (ns, pid, offset);
        None
    }

    /// A socket's session changed (only called for sockets that have a recovery pid).
    fn session_changed(&self, socket: &Socket, change: SessionChange<'_>) {
        let _ = (socket, change);
    }
}

/// Single-node delivery.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalAdapter;

impl Adapter for LocalAdapter {
    fn broadcast(&self, ns: &Namespace, msg: BroadcastMessage) -> usize {
        ns.deliver(&msg, None)
    }
}
