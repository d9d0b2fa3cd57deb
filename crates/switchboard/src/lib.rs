//! Switchboard: a standalone real-time server. Browser and mobile apps connect with the
//! unmodified Socket.IO v4 client; backends publish through an HTTP API; Switchboard routes
//! every event to the right rooms.
//!
//! # Layout
//! - [`config`]: one typed [`config::Config`], layered defaults → TOML → `SWITCHBOARD_*`
//!   env → flags, validated before anything binds. [`cli`]: the clap definitions.
//! - [`rules`]: client event → room template → permission → ack shape. Pure data and
//!   functions; the three presets of SPEC §1 ship as `rules/presets.toml`.
//! - [`gateway`]: the Socket.IO side — connection lifecycle events and one handler per
//!   rule, all delegating to `rules`.
//! - [`api`]: the backend HTTP API (axum) on the same port: publish, stats, health, the
//!   compatibility routes, the OpenAPI document.
//! - [`net`]: the client address behind trusted proxies and the HTTP/1 accept loop.
//! - [`app`]: wires config, engine, gateway and API; `App::build(config)` then
//!   `App::run(listener, shutdown)`.
//!
//! `gateway` and `api` are two ways into the same rules and the same engine (`sio`);
//! `rules` knows nothing about sockets or HTTP.

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod conn;
pub mod fdtable;
pub mod feeds;
pub mod gateway;
pub mod hub;
pub mod identity;
pub mod net;
pub mod reply;
pub mod rules;
pub mod runtime;
pub mod store;
pub mod support;
pub mod telemetry;

pub use app::App;
