//! What every layer shares: why a connection ended, the counters, the peer address, the
//! configuration with the counters and the clock (`Shared`) and random ids. Imports nothing of the crate
//! but `config`, so both the engine and the Socket.IO layer can use it.

use rand::RngCore;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use crate::config::Config;

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
    /// WebSocket messages refused for exceeding `max_payload` (close 1009); for a
    /// compressed message, its inflated size counts.
    pub messages_too_large: AtomicU64,
    /// Compressed (`permessage-deflate`) client messages received.
    pub deflated_in: AtomicU64,
    /// Connections closed because the client speaks the other parser (a text packet on a
    /// msgpack server, a msgpack packet on a JSON one).
    pub parser_mismatch: AtomicU64,
}

/// State shared by the server and its namespaces.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) stats: Stats,
    /// The clock's zero for every `*_ms` time stamp.
    pub(crate) epoch: std::time::Instant,
}

impl Shared {
    /// Milliseconds since `epoch`.
    pub(crate) fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// The `permessage-deflate` threshold when compression is on.
    pub(crate) fn deflate_at(&self) -> Option<usize> {
        self.config
            .compression
            .then_some(self.config.compression_threshold)
    }
}

impl std::ops::Deref for Shared {
    type Target = Stats;
    fn deref(&self) -> &Stats {
        &self.stats
    }
}

/// A random 20-character url-safe id.
pub(crate) fn new_id() -> Arc<str> {
    use base64::Engine as _;
    let mut b = [0u8; 15];
    rand::rng().fill_bytes(&mut b);
    Arc::from(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// Peer address of an HTTP request; insert it as a request extension so connect hooks can
/// see it (the standalone [`Server::serve`] does).
impl From<SocketAddr> for RemoteAddr {
    fn from(a: SocketAddr) -> Self {
        RemoteAddr(a)
    }
}

/// A recovery offset: a Redis stream id `ms-seq`, or a single node's counter (`ms` = 0,
/// shown as the bare number). Ordered; the client treats it as an opaque string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Offset {
    /// Milliseconds part of a stream id (0 for a node-local counter).
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl Offset {
    /// Parse `ms-seq` or a bare number; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        let digits = |p: &str| {
            (!p.is_empty() && p.len() <= 20 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse::<u64>().ok())
                .flatten()
        };
        match s.split_once('-') {
            Some((ms, seq)) => Some(Self {
                ms: digits(ms)?,
                seq: digits(seq)?,
            }),
            None => Some(Self {
                ms: 0,
                seq: digits(s)?,
            }),
        }
    }
}

impl std::fmt::Display for Offset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.ms == 0 {
            write!(f, "{}", self.seq)
        } else {
            write!(f, "{}-{}", self.ms, self.seq)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Offset;

    #[test]
    fn offsets_parse_order_and_print_back() {
        let a = Offset::parse("1700000000000-0").unwrap();
        let b = Offset::parse("1700000000000-1").unwrap();
        let c = Offset::parse("1700000000001-0").unwrap();
        assert!(a < b && b < c);
        assert_eq!(Offset::parse("42"), Some(Offset { ms: 0, seq: 42 }));
        assert!(Offset::parse("42").unwrap() < a);
        for s in ["1700000000000-1", "42", "0"] {
            assert_eq!(Offset::parse(s).unwrap().to_string(), s);
        }
        for bad in [
            "",
            "-",
            "1-",
            "-1",
            "x",
            "1-2-3",
            "1e9",
            "99999999999999999999999",
        ] {
            assert_eq!(Offset::parse(bad), None, "{bad}");
        }
    }
}
