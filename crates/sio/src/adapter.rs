//! The seam between "a broadcast was requested" and "deliver it to local members".
//!
//! The default [`LocalAdapter`] delivers on this node. A cluster adapter publishes the
//! [`BroadcastMessage`] to its bus and, when any node (itself included) reads it back,
//! calls [`Namespace::deliver`](crate::Namespace::deliver) with the bus's offset, so that
//! connection state recovery uses one offset sequence across nodes.

use bytes::Bytes;
use std::sync::Arc;

use crate::Namespace;

/// A broadcast as requested by the application: everything needed to deliver it anywhere.
#[derive(Debug, Clone)]
pub struct BroadcastMessage {
    /// Target rooms; empty means every socket of the namespace.
    pub rooms: Vec<Arc<str>>,
    /// Sockets in any of these rooms are skipped.
    pub except: Vec<Arc<str>>,
    /// Volatile: may be dropped for slow sockets, not recorded for recovery.
    pub volatile: bool,
    /// Event name.
    pub event: String,
    /// JSON arguments joined by commas (e.g. `{"a":1},2`), possibly empty.
    pub args: String,
    /// Binary attachments referenced by placeholders in `args`.
    pub bins: Vec<Bytes>,
}

/// Routes broadcasts. Implementations must be cheap to call on every broadcast.
pub trait Adapter: Send + Sync + 'static {
    /// Deliver (or forward) `msg`; returns the number of local sockets it was queued for.
    fn broadcast(&self, ns: &Namespace, msg: BroadcastMessage) -> usize;
}

/// Single-node delivery.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalAdapter;

impl Adapter for LocalAdapter {
    fn broadcast(&self, ns: &Namespace, msg: BroadcastMessage) -> usize {
        ns.deliver(&msg, None)
    }
}
