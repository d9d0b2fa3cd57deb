//! Switchboard: a standalone real-time server. Browser and mobile apps connect with the
//! unmodified Socket.IO v4 client; backends publish through an HTTP API; Switchboard routes
//! every event to the right rooms.
//!
//! # Layout (imports go down this list; `docs/architecture.md` walks an event through it)
//! - [`support`]: the clock, JSON depth, URL redaction, this process's figures.
//! - [`config`]: one typed [`config::Config`], layered defaults → TOML → `SWITCHBOARD_*`
//!   env → flags ([`config::Flags`]), validated before anything binds. [`cli`]: the clap
//!   commands.
//! - [`rules`]: client event → room template → permission → ack → `on_join`. Pure data
//!   and functions; the three presets (README "The three protocols") ship as `rules/presets.toml`.
//! - [`identity`]: JWT verification. [`store`]: the database.
//! - [`hub`]: the engine as the features see it. [`telemetry`]: every counter and metric.
//!   [`conn`]: what is kept on each socket. [`reply`]: how a client event is answered.
//! - [`feeds`]: one type per feature (KPIs, dashboard, notifications, alerts, load
//!   metrics, queue events), each owning its cache and rooms; `on_join` resolves here.
//! - [`gateway`]: the Socket.IO side — connect hook, limits, one handler per rule.
//! - [`api`]: the backend HTTP API (axum) on the same port, with each route's key
//!   scopes declared where it is registered. [`net`]: client addresses, accept loop.
//! - [`commands`]: the one-shot subcommands (`check-config`, `token`, `publish`).
//! - [`app`]: composition only — `App::build(config)` then `App::run(listener,
//!   shutdown)`. Nothing imports it.
//!
//! `gateway` and `api` are two ways into the same features and the same engine (`sio`);
//! `rules` knows nothing about sockets or HTTP.

pub mod admin;
pub mod api;
pub mod app;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod conn;
pub mod fdtable;
pub mod feeds;
pub mod gateway;
pub mod hub;
pub mod identity;
pub mod net;
pub mod otel;
pub mod reply;
pub mod rules;
pub mod runtime;
pub mod store;
pub mod support;
pub mod telemetry;

pub use app::App;
