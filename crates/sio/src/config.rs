//! Engine configuration: one plain struct with documented defaults.

use std::time::Duration;

/// Which Engine.IO transports the server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transports {
    /// HTTP long-polling. Defaults to `true`.
    pub polling: bool,
    /// WebSocket. Defaults to `true`.
    pub websocket: bool,
}

impl Default for Transports {
    fn default() -> Self {
        Self {
            polling: true,
            websocket: true,
        }
    }
}

/// Allowed CORS origins for the polling transport.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Cors {
    /// No CORS headers are sent (same-origin only). The default.
    #[default]
    Disabled,
    /// Any origin is reflected back (development).
    Any,
    /// Only these exact origins (e.g. `https://app.example.com`).
    List(Vec<String>),
}

impl Cors {
    pub(crate) fn allows(&self, origin: &str) -> bool {
        match self {
            Cors::Disabled => false,
            Cors::Any => true,
            Cors::List(l) => l.iter().any(|o| o == origin),
        }
    }
}

/// Engine configuration. `Config::default()` matches the socket.io 4 defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// HTTP path of the endpoint. Defaults to `/socket.io/`.
    pub path: String,
    /// Server ping period. Defaults to 25 seconds.
    pub ping_interval: Duration,
    /// How long a client has to answer a ping. Defaults to 20 seconds.
    pub ping_timeout: Duration,
    /// Largest accepted message or polling POST body, in bytes. Defaults to 1 MB.
    pub max_payload: usize,
    /// Packets queued for one connection before it counts as a slow consumer: a reliable
    /// packet that does not fit disconnects it (reason `slow consumer`), a volatile one is
    /// dropped and counted. Defaults to 4096.
    pub max_buffer: usize,
    /// Accepted transports. Defaults to both.
    pub transports: Transports,
    /// CORS policy. Defaults to disabled.
    pub cors: Cors,
    /// Connection state recovery window (socket.io's `maxDisconnectionDuration`);
    /// `None` disables recovery. Defaults to 2 minutes.
    pub recovery: Option<Duration>,
    /// Most broadcast packets kept for recovery per namespace. Defaults to 100 000.
    pub recovery_max_packets: usize,
    /// Default timeout of `emit_with_ack`. Defaults to 10 seconds.
    pub ack_timeout: Duration,
    /// Time a client has to send the Socket.IO CONNECT packet after the Engine.IO
    /// handshake (socket.io's `connectTimeout`). Defaults to 45 seconds.
    pub connect_timeout: Duration,
    /// Client events queued for one socket while an async handler runs; more closes the
    /// connection (reason `event queue full`). Defaults to 1024.
    pub max_queued_events: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            path: "/socket.io/".into(),
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            max_payload: 1_000_000,
            max_buffer: 4096,
            transports: Transports::default(),
            cors: Cors::Disabled,
            recovery: Some(Duration::from_secs(120)),
            recovery_max_packets: 100_000,
            ack_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(45),
            max_queued_events: 1024,
        }
    }
}
