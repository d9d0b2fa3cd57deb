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

/// The Socket.IO wire format, server-wide: clients must use the same parser (as with
/// socket.io's `parser` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parser {
    /// The default parser: text packets, binary data as attachments.
    #[default]
    Json,
    /// `socket.io-msgpack-parser`: each packet one msgpack map in a binary message.
    Msgpack,
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
    /// Bytes queued for one connection before it counts as a slow consumer (same policy as
    /// `max_buffer`; a broadcast's bytes are shared, this bounds what one connection can
    /// pin). Defaults to 8 MiB.
    pub max_buffer_bytes: usize,
    /// Accepted transports. Defaults to both.
    pub transports: Transports,
    /// CORS policy. Defaults to disabled.
    pub cors: Cors,
    /// Connection state recovery window (socket.io's `maxDisconnectionDuration`);
    /// `None` disables recovery. Defaults to 2 minutes.
    pub recovery: Option<Duration>,
    /// Most broadcast packets kept for recovery per namespace. Defaults to 100 000.
    pub recovery_max_packets: usize,
    /// Most bytes of broadcast packets kept for recovery per namespace; the oldest are
    /// trimmed first (counted in `Stats::recovery_trimmed`). Defaults to 64 MiB.
    pub recovery_max_bytes: usize,
    /// Most disconnected sessions kept for recovery per namespace; the oldest is evicted
    /// first (counted in `Stats::recovery_evicted`). Defaults to 50 000.
    pub recovery_max_sessions: usize,
    /// Open Engine.IO sessions per client address (the [`crate::RemoteAddr`] of the
    /// handshake); more are refused with HTTP 403 (counted in `Stats::ip_refused`).
    /// 0: no limit. Defaults to 0.
    pub max_sessions_per_ip: usize,
    /// Sessions per client address that have not sent a Socket.IO CONNECT yet (they cost
    /// memory but are not sockets). More are refused like `max_sessions_per_ip`.
    /// 0: no limit. Defaults to 0.
    pub max_pending_per_ip: usize,
    /// Largest total size of the handshake's request headers (names + values) the engine
    /// keeps for the connect hook; a bigger handshake gets HTTP 431. Defaults to 16 KiB
    /// (Node's `maxHeaderSize`).
    pub max_handshake_header_bytes: usize,
    /// Time a client has to send every binary attachment of a packet once its header
    /// arrived; the connection is closed (`parse error`) otherwise. Defaults to 30 s.
    pub attachment_timeout: Duration,
    /// Default timeout of `emit_with_ack`. Defaults to 10 seconds.
    pub ack_timeout: Duration,
    /// Time a client has to send the Socket.IO CONNECT packet after the Engine.IO
    /// handshake (socket.io's `connectTimeout`). Defaults to 45 seconds.
    pub connect_timeout: Duration,
    /// Client events queued for one socket while an async handler runs; more closes the
    /// connection (reason `event queue full`). Defaults to 1024.
    pub max_queued_events: usize,
    /// Negotiate `permessage-deflate` (RFC 7692) on WebSocket connections whose client
    /// offers it (browsers and Node's `ws` do). Off by default, like socket.io. Each
    /// message is compressed on its own (`server_no_context_takeover` and
    /// `client_no_context_takeover`), so no zlib context lives per connection and a
    /// broadcast is compressed once for every member. Polling is never compressed.
    pub compression: bool,
    /// Messages smaller than this many bytes go uncompressed (socket.io's `threshold`).
    /// Defaults to 1024.
    pub compression_threshold: usize,
    /// The wire format of Socket.IO packets. Defaults to [`Parser::Json`].
    pub parser: Parser,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            path: "/socket.io/".into(),
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            max_payload: 1_000_000,
            max_buffer: 4096,
            max_buffer_bytes: 8 << 20,
            transports: Transports::default(),
            cors: Cors::Disabled,
            recovery: Some(Duration::from_secs(120)),
            recovery_max_packets: 100_000,
            recovery_max_bytes: 64 << 20,
            recovery_max_sessions: 50_000,
            max_sessions_per_ip: 0,
            max_pending_per_ip: 0,
            max_handshake_header_bytes: 16 << 10,
            attachment_timeout: Duration::from_secs(30),
            ack_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(45),
            max_queued_events: 1024,
            compression: false,
            compression_threshold: 1024,
            parser: Parser::Json,
        }
    }
}
