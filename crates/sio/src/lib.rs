//! `sio`: a fast, lossless Socket.IO v5 / Engine.IO v4 server engine.
//!
//! # Layout
//! Lower layers never import upper ones: `engine` and `recovery` know nothing of
//! Socket.IO; `event` and `state` sit on them, `ns` and `socket` on those (neither
//! imports the other's types: `socket` uses `ns`'s broadcasts, `ns` only `state`);
//! `server` on top.
//! - [`common`]: what every layer shares — `DisconnectReason`, `Stats`, `RemoteAddr`,
//!   the configuration with the counters and the clock (`Shared`), random ids.
//! - [`engine`]: Engine.IO — sessions with one bounded outbound queue each and a data slot
//!   for the layer above (`engine::session`), the endpoint: session table, per-address
//!   admission, heartbeat, and the `Handler` trait through which messages go up
//!   (`engine::endpoint`), HTTP long-polling and the WebSocket upgrade (`engine::http`),
//!   hand-written WebSocket framing (`engine::ws`, see there for why) and the one task per
//!   WebSocket connection that reads and writes (`engine::conn`).
//! - [`packet`]: Socket.IO packet parsing and encoding.
//! - [`event`]: a client event, an ack reply, and the error types of emits and acks.
//! - [`state`]: the structs of a namespace and of a socket, which hold each other (the
//!   handlers, the room index, a socket's inbox and acks, a session's `SioData`).
//! - [`ns`]: what a namespace does — handlers registered, members indexed by room,
//!   broadcasts encoded once.
//! - [`socket`]: what one connected socket does — rooms, data, acks, in-order event
//!   dispatch.
//! - [`recovery`]: connection state recovery (recent broadcasts stored once, persisted
//!   sessions).
//! - [`adapter`]: the seam where a cluster bus plugs in between a broadcast request and
//!   local delivery.
//! - [`server`]: the builder, the Socket.IO layer (the engine's `Handler`: message
//!   routing, one parse per packet), and a standalone `serve` for a bound listener.
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
mod event;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
mod msgpack;
mod ns;
mod packet;
mod recovery;
mod server;
mod socket;
mod state;

pub use adapter::{
    Adapter, BoxFuture, BroadcastMessage, LocalAdapter, Offset, RemoteSession, SessionChange,
};
pub use common::{DisconnectReason, RemoteAddr, Stats};
pub use config::{Config, Cors, Parser, Transports};
pub use engine::session::Handshake;
pub use event::{AckError, AckReply, ArgError, Event, SendError};
pub use ns::{BroadcastOperator, NamespaceBuilder, Paced};
pub use packet::{PacketError, PacketKind};
pub use server::{EngineHandler, EngineMessage, EngineSocket, Server, ServerBuilder};
pub use state::{ConnectError, Namespace, Observer, Socket};
