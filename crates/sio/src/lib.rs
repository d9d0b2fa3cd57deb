//! `sio`: a fast, lossless Socket.IO v5 / Engine.IO v4 server engine.
//!
//! # Layout
//! - [`engine`]: Engine.IO — sessions with one bounded outbound queue each
//!   (`engine::session`), HTTP long-polling and the WebSocket upgrade (`engine::http`),
//!   hand-written WebSocket framing (`engine::ws`, see there for why) and the one task per
//!   WebSocket connection that reads and writes (`engine::conn`).
//! - [`packet`]: Socket.IO packet parsing and encoding.
//! - [`ns`]: namespaces — handlers, the room → members index, broadcasts encoded once.
//! - [`socket`]: one connected socket — rooms, data, acks, in-order event dispatch.
//! - [`recovery`]: connection state recovery (recent broadcasts stored once, persisted
//!   sessions).
//! - [`adapter`]: the seam where a cluster bus plugs in between a broadcast request and
//!   local delivery.
//! - [`server`]: the builder, the session table, the heartbeat, message routing, and a
//!   standalone `serve` for a bound listener.
//!
//! # Guarantees
//! - The connect hook runs before the CONNECT ack; events a client sends meanwhile wait.
//! - One client's events reach handlers in the order sent (sync handlers inline, async
//!   handlers on a per-socket drain task that exists only while there is work).
//! - Nothing reliable is dropped silently: a full queue disconnects the slow consumer
//!   (counted, logged) and its session stays recoverable. Volatile packets are dropped
//!   and counted instead.

mod adapter;
mod config;
pub(crate) mod engine;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
mod ns;
mod packet;
mod recovery;
mod server;
mod socket;

pub use adapter::{Adapter, BroadcastMessage, LocalAdapter};
pub use config::{Config, Cors, Transports};
pub use engine::session::Handshake;
pub use ns::{BroadcastOperator, ConnectError, Namespace, NamespaceBuilder};
pub use packet::{PacketError, PacketKind};
pub use server::{EngineHandler, EngineMessage, EngineSocket, Server, ServerBuilder};
pub use socket::{AckError, AckReply, ArgError, Event, SendError, Socket};

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;

/// The peer address of an HTTP request, as a request extension.
#[derive(Debug, Clone, Copy)]
pub struct RemoteAddr(pub SocketAddr);

/// Why a socket left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The connection was closed by the client or the network.
    TransportClose,
    /// The connection failed (I/O error, protocol misuse of the transports).
    TransportError,
    /// No pong within `ping_timeout`.
    PingTimeout,
    /// The outbound queue was full when a reliable packet had to be queued.
    SlowConsumer,
    /// The client left the namespace.
    ClientNamespaceDisconnect,
    /// The server disconnected the socket.
    ServerNamespaceDisconnect,
    /// The server is shutting down.
    ServerShutdown,
    /// The client sent something malformed.
    ParseError,
    /// A message over `max_payload`.
    MessageTooLarge,
    /// Too many events queued behind a slow async handler.
    EventQueueFull,
    /// No CONNECT within `connect_timeout`.
    ConnectTimeout,
}

impl DisconnectReason {
    /// The socket.io name of the reason.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::PingTimeout => "ping timeout",
            Self::SlowConsumer => "slow consumer",
            Self::ClientNamespaceDisconnect => "client namespace disconnect",
            Self::ServerNamespaceDisconnect => "server namespace disconnect",
            Self::ServerShutdown => "server shutting down",
            Self::ParseError => "parse error",
            Self::MessageTooLarge => "message too large",
            Self::EventQueueFull => "event queue full",
            Self::ConnectTimeout => "connect timeout",
        }
    }

    /// Whether the client may come back and recover its session (socket.io's rule plus
    /// slow consumers, which recovery exists for).
    pub fn is_recoverable(self) -> bool {
        matches!(
            self,
            Self::TransportClose
                | Self::TransportError
                | Self::PingTimeout
                | Self::SlowConsumer
                | Self::ServerShutdown
        )
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Engine counters (monotonic unless noted), for metrics.
#[derive(Debug, Default)]
pub struct Stats {
    /// Open Engine.IO sessions (gauge).
    pub connections: AtomicU64,
    /// Sessions opened since start.
    pub connections_total: AtomicU64,
    /// Connected sockets, all namespaces (gauge).
    pub sockets: AtomicU64,
    /// Socket.IO packets received.
    pub packets_in: AtomicU64,
    /// Client events received.
    pub events_in: AtomicU64,
    /// Client events that had no handler.
    pub unhandled_events: AtomicU64,
    /// Packets emitted to single sockets.
    pub emits: AtomicU64,
    /// Broadcasts requested.
    pub broadcasts: AtomicU64,
    /// Broadcast deliveries queued (one per member).
    pub deliveries: AtomicU64,
    /// Volatile packets dropped for full queues.
    pub volatile_dropped: AtomicU64,
    /// Sessions closed as slow consumers.
    pub slow_consumers: AtomicU64,
    /// Sessions recovered / recovery attempts that failed.
    pub recoveries: AtomicU64,
    /// Recovery attempts that failed (expired session or offset).
    pub recovery_failures: AtomicU64,
    /// Connects refused by the connect hook.
    pub connect_errors: AtomicU64,
    /// Malformed frames or packets (that connection was closed).
    pub malformed: AtomicU64,
    /// Bytes read / written on transports.
    pub bytes_in: AtomicU64,
    /// Bytes written.
    pub bytes_out: AtomicU64,
    /// Handshakes refused by `max_sessions_per_ip` / `max_pending_per_ip`.
    pub ip_refused: AtomicU64,
    /// Handshakes refused for request headers over `max_handshake_header_bytes`.
    pub headers_too_large: AtomicU64,
    /// Handlers (connect hook, event, disconnect) that panicked; the panic was caught.
    pub handler_panics: AtomicU64,
    /// Recovery packets trimmed before their window ended (count or byte budget).
    pub recovery_trimmed: AtomicU64,
    /// Disconnected sessions evicted from the recovery store before their window ended.
    pub recovery_evicted: AtomicU64,
    /// Binary packets whose attachments did not arrive in time (connection closed).
    pub attachment_timeouts: AtomicU64,
}
