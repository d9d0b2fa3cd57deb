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
mod common;
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
pub use common::{DisconnectReason, RemoteAddr, Stats};
pub use config::{Config, Cors, Transports};
pub use engine::session::Handshake;
pub use ns::{BroadcastOperator, ConnectError, Namespace, NamespaceBuilder};
pub use packet::{PacketError, PacketKind};
pub use server::{EngineHandler, EngineMessage, EngineSocket, Server, ServerBuilder};
pub use socket::{AckError, AckReply, ArgError, Event, SendError, Socket};
