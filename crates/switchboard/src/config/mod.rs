//! One typed [`Config`], loaded once and checked before anything binds.
//!
//! Layers, lowest first: built-in defaults, the TOML file (`--config`), the
//! `SWITCHBOARD_*` environment, the command-line flags. The file and the environment
//! are merged as TOML tables, so a value has the same type whichever layer sets it;
//! unknown keys and variables are reported as warnings rather than errors, and
//! [`Config::validate`] runs as the last step of [`Config::load`].
//!
//! The environment is a parameter: nothing below `main` reads the process
//! environment.
//!
//! Files: this one holds the types (every field with its default), [`load`] the layers
//! (and the [`Flags`] layer `cli` parses), [`validate`] the checks. Redaction is
//! `support::redact` (URLs) and [`Secret`] (values).
//!
//! (Considered: `figment` for the layering. Our layers need what it does not give out
//! of the box — the environment as a parameter for tests, warnings with suggestions
//! for unknown keys and variables, errors that name the file, line or variable — and
//! the hand-written merge is a TOML-table merge of ~150 lines with tests, so it stays.)

mod load;
mod validate;

pub use load::{load_api_keys_file, Flags};

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::rules::{RuleConfigError, Rules, RulesConfig};

/// Prefix of the environment variables read by [`Config::load`].
pub const ENV_PREFIX: &str = "SWITCHBOARD_";

/// Name of the API key added by `--api-key` / `SWITCHBOARD_API_KEY`.
pub const DEFAULT_API_KEY_NAME: &str = "default";

/// Shorter HS256 secrets load with a warning (RFC 7518 §3.2 asks for at least 256 bits).
const MIN_JWT_SECRET_LEN: usize = 32;

/// How sockets authenticate (README "Identity and security").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Anonymous sockets are accepted and may use only `public` rules. The default,
    /// for local development.
    #[default]
    Optional,
    /// Every socket must present a valid JWT (production).
    Required,
}

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable text. The default.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The Socket.IO wire format, server-wide (socket.io's `parser` option): clients must use
/// the same one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WireParser {
    /// The default JSON parser of socket.io. The default.
    #[default]
    Json,
    /// `socket.io-msgpack-parser`: each packet one msgpack-encoded binary message.
    Msgpack,
}

/// A secret string (JWT secret, API key). `Debug`, `Display` and `Serialize` all
/// print `[redacted]`; [`Secret::expose`] is the only way to the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    /// Serializes as `"[redacted]"`: serialized configs are for people to read.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// A named key for the backend HTTP API (`[[api_keys]]` in the config file). The name
/// shows up in logs instead of the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Who the key belongs to, e.g. `billing-backend`.
    pub name: String,
    /// The key, sent as `Authorization: Bearer <key>`.
    pub key: Secret,
    /// What the key may do: `publish` (publish, socket-event, KPI writes),
    /// `notifications` (notifications, alerts), `admin` (stats, metrics, monitor).
    /// Empty (the default) means everything.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

/// The transports `transports` may name.
pub(crate) const TRANSPORTS: &[&str] = &["websocket", "polling"];

/// Scopes an API key can be limited to.
pub const API_SCOPES: &[&str] = &["publish", "notifications", "admin"];

/// The whole server configuration. Every field has a default, so an empty file (or
/// none) is a valid config: `switchboard serve` starts on 127.0.0.1:3000 with SQLite
/// and all rule presets.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Bind address. Defaults to `127.0.0.1:3000`.
    pub listen: SocketAddr,
    /// Database: `sqlite://path` (relative to the working directory),
    /// `sqlite::memory:`, or `postgres://…`. Defaults to `sqlite://switchboard.db`.
    pub database_url: String,
    /// Redis URL (`redis://…` or `rediss://…`); set = cluster mode. Defaults to none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    /// This node's name in a cluster (registry, stats, logs). Defaults to `hostname:port`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    /// Prefix of every Redis key Switchboard owns (sessions, nodes, the epoch), so that
    /// several clusters share one Redis. Defaults to `switchboard`.
    pub redis_prefix: String,
    /// The Redis stream broadcasts travel on; Node's redis-streams adapter and emitter use
    /// `socket.io`. Defaults to `socket.io`.
    pub redis_stream: String,
    /// Approximate length the stream is trimmed to (`XADD … MAXLEN ~ N`); recovery
    /// reaches back at most this far. Defaults to 10000.
    pub redis_stream_maxlen: u64,
    /// How often each node writes its heartbeat to the registry; a node silent for three
    /// intervals drops out. Defaults to 2000.
    pub cluster_heartbeat_ms: u64,
    /// Socket authentication mode. Defaults to `optional`.
    pub auth: AuthMode,
    /// HS256 secret verifying client JWTs. Required when `auth = "required"`.
    /// Defaults to none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_secret: Option<Secret>,
    /// Keys accepted by the backend HTTP API. Defaults to none (the API then answers
    /// loopback clients only).
    pub api_keys: Vec<ApiKey>,
    /// Seed demo data and run the simulator. Defaults to `false`.
    pub demo: bool,
    /// Origins allowed by CORS, e.g. `https://app.example.com`; `["*"]` allows any.
    /// Defaults to none (no CORS headers).
    pub cors_origins: Vec<String>,
    /// Accepted Engine.IO transports, a non-empty subset of `websocket` and `polling`.
    /// Defaults to both.
    pub transports: Vec<String>,
    /// Negotiate `permessage-deflate` on WebSocket connections whose client offers it
    /// (browsers and the Node client do). Each message is compressed on its own, so a
    /// broadcast is compressed once for all its members and no zlib context lives per
    /// connection. Polling is not compressed. Defaults to `false` (as socket.io).
    pub compression: bool,
    /// Messages smaller than this many bytes go uncompressed. Defaults to 1024
    /// (socket.io's `perMessageDeflate.threshold`).
    pub compression_threshold: usize,
    /// Engine.IO ping period, in milliseconds. Defaults to 25 000.
    pub ping_interval_ms: u64,
    /// How long a client has to answer a ping, in milliseconds. Defaults to 20 000.
    pub ping_timeout_ms: u64,
    /// Largest Socket.IO message (or polling body) accepted, in bytes; at least 1024.
    /// Defaults to 1 000 000.
    pub max_payload: usize,
    /// Packets queued per connection before it is disconnected as a slow consumer.
    /// Defaults to 4096.
    pub max_buffer: usize,
    /// Bytes queued per connection before it is disconnected as a slow consumer (volatile
    /// events are dropped and counted instead); at least 64 KiB. Defaults to 8 MiB.
    pub max_buffer_bytes: usize,
    /// Bytes of recent broadcasts kept per namespace for connection state recovery; the
    /// oldest are trimmed first (counted). Defaults to 64 MiB.
    pub recovery_max_bytes: usize,
    /// Disconnected sessions kept for recovery; the oldest is evicted first (counted).
    /// Defaults to 50 000.
    pub recovery_max_sessions: usize,
    /// Connection state recovery window, in seconds; 0 disables recovery.
    /// Defaults to 120.
    pub recovery_window_secs: u64,
    /// Graceful shutdown deadline, in seconds. Defaults to 10.
    pub shutdown_timeout_secs: u64,
    /// Largest HTTP API request body, in bytes; at least 1024. Defaults to 1 048 576.
    pub http_body_limit: usize,
    /// Log format. Defaults to `text`.
    pub log_format: LogFormat,
    /// OTLP/HTTP endpoint (base URL, e.g. `http://collector:4318`) for traces; unset (the
    /// default) falls back to `OTEL_EXPORTER_OTLP_ENDPOINT`, and without either tracing
    /// export is off.
    pub otel_endpoint: Option<String>,
    /// The Socket.IO Admin UI's user name (`/admin` namespace, `/admin-ui/`). With
    /// `admin_password_hash` it turns the admin namespace on. Defaults to none (off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_username: Option<String>,
    /// bcrypt hash of the admin password (`switchboard hash-password` makes one).
    /// Defaults to none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_password_hash: Option<Secret>,
    /// Admins may watch but not act (no emit, join, leave or disconnect). Defaults to
    /// `false`.
    pub admin_read_only: bool,
    /// The JWT role (`roles` claim) that makes a token an admin's: it opens the admin
    /// namespace and the monitor's data routes like an `admin`-scoped API key. Defaults
    /// to `admin`.
    pub admin_role: String,
    /// Extra CORS origins for the Socket.IO endpoint so a hosted Admin UI (e.g.
    /// `https://admin.socket.io`) can connect. Defaults to none.
    pub admin_cors_origins: Vec<String>,
    /// Socket.IO wire format: `json` or `msgpack` (`socket.io-msgpack-parser`).
    /// Defaults to `json`.
    pub parser: WireParser,
    /// Period of the `kpi:update` feed tick, in milliseconds. Defaults to 5000.
    pub kpi_interval_ms: u64,
    /// Period of the `dashboard:update` feed tick, in milliseconds. Defaults to 10 000.
    pub dashboard_interval_ms: u64,
    /// Client events per second one socket may send on average (token bucket); 0 turns
    /// the limit off. Defaults to 50.
    pub rate_limit_per_sec: u64,
    /// Events one socket may send in a burst above the average. Defaults to 100.
    pub rate_limit_burst: u64,
    /// Rate-limited events in a row after which the socket is disconnected
    /// (reason `rate limit`). Defaults to 200.
    pub rate_limit_disconnect_after: u64,
    /// Rooms one socket may be in (its own id room not counted). Defaults to 200.
    pub max_rooms_per_socket: usize,
    /// Open Engine.IO sessions per client IP (behind a proxy: the forwarded client, see
    /// `trusted_proxies`); over it the handshake gets HTTP 403. 0 turns the limit off.
    /// Defaults to 10 000: high enough for an office behind one NAT address or a load
    /// test from one machine, low enough that one address cannot take the whole server.
    pub max_connections_per_ip: usize,
    /// Sessions per client IP that have not sent their Socket.IO CONNECT yet (each holds
    /// a copy of its handshake until then); 0 turns the limit off. Defaults to 1000.
    pub max_pending_per_ip: usize,
    /// Seconds a client has to send a complete HTTP request head. Defaults to 10.
    pub header_read_timeout_secs: u64,
    /// Seconds of clock skew allowed when checking a token's `exp` and `nbf`. Defaults
    /// to 30.
    pub jwt_leeway_secs: u64,
    /// Milliseconds the server waits for a client's ack to a server emit that asked for
    /// one. Defaults to 10 000.
    pub ack_timeout_ms: u64,
    /// Milliseconds an Engine.IO session may wait for its Socket.IO CONNECT before it is
    /// closed. Defaults to 45 000 (socket.io's `connectTimeout`).
    pub connect_timeout_ms: u64,
    /// Client events a socket may have waiting behind a slow asynchronous handler;
    /// over it the socket is disconnected (`EventQueueFull`). Defaults to 1024.
    pub max_queued_events: usize,
    /// Broadcast packets kept for connection state recovery (with
    /// `recovery_max_bytes`, whichever is reached first). Defaults to 100 000.
    pub recovery_max_packets: usize,
    /// Largest `clientInfo` report a socket may store (it lives on in the recovery store
    /// after a disconnect). Defaults to 4096.
    pub max_client_info_bytes: usize,
    /// Database pool size. 0 (the default) picks per backend: 1 for `sqlite::memory:`,
    /// 4 for a SQLite file, 10 for PostgreSQL.
    pub db_max_connections: u32,
    /// Milliseconds an operation waits for a pooled database connection before it fails
    /// (clients get "database unavailable"). Defaults to 3000.
    pub db_acquire_timeout_ms: u64,
    /// Peers whose `Forwarded` / `X-Forwarded-For` headers are believed (CIDRs or
    /// addresses, e.g. `["127.0.0.1", "10.0.0.0/8"]`). Defaults to none: the TCP peer is
    /// the client.
    pub trusted_proxies: Vec<String>,
    /// Deepest JSON nesting accepted in event payloads and API bodies. Defaults to 32.
    pub max_json_depth: usize,
    /// Users a presence listing names per room (`presence:get`, `GET
    /// /api/v1/rooms/{room}/presence`); over it the list is cut (`truncated: true`) and
    /// the room's `presence:join` / `presence:leave` events stop until it is back under.
    /// Defaults to 1000.
    pub presence_max_users: usize,
    /// A PEM file with an RSA or EC (P-256) public key: tokens are then verified with
    /// RS256 or ES256 instead of the HS256 secret. Defaults to none.
    pub jwt_public_key_file: Option<std::path::PathBuf>,
    /// A TOML file with `[[api_keys]]` tables, re-read on SIGHUP so keys rotate without
    /// a restart; its keys replace those of the config file. Defaults to none.
    pub api_keys_file: Option<std::path::PathBuf>,
    /// Join rules: enabled presets and custom rules (`[rules]`). Defaults to all
    /// presets, no custom rules.
    pub rules: RulesConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            database_url: "sqlite://switchboard.db".into(),
            redis_url: None,
            node_id: None,
            redis_prefix: "switchboard".into(),
            redis_stream: "socket.io".into(),
            redis_stream_maxlen: 10_000,
            cluster_heartbeat_ms: 2000,
            auth: AuthMode::Optional,
            jwt_secret: None,
            api_keys: Vec::new(),
            demo: false,
            cors_origins: Vec::new(),
            transports: vec!["websocket".into(), "polling".into()],
            compression: false,
            compression_threshold: 1024,
            ping_interval_ms: 25_000,
            ping_timeout_ms: 20_000,
            max_payload: 1_000_000,
            max_buffer: 4096,
            max_buffer_bytes: 8 << 20,
            recovery_max_bytes: 64 << 20,
            recovery_max_sessions: 50_000,
            recovery_window_secs: 120,
            shutdown_timeout_secs: 10,
            http_body_limit: 1_048_576,
            log_format: LogFormat::Text,
            parser: WireParser::Json,
            kpi_interval_ms: 5000,
            dashboard_interval_ms: 10_000,
            rate_limit_per_sec: 50,
            rate_limit_burst: 100,
            rate_limit_disconnect_after: 200,
            max_rooms_per_socket: 200,
            max_connections_per_ip: 10_000,
            max_pending_per_ip: 1000,
            header_read_timeout_secs: 10,
            jwt_leeway_secs: 30,
            ack_timeout_ms: 10_000,
            connect_timeout_ms: 45_000,
            max_queued_events: 1024,
            recovery_max_packets: 100_000,
            max_client_info_bytes: 4096,
            presence_max_users: 1000,
            db_max_connections: 0,
            db_acquire_timeout_ms: 3000,
            trusted_proxies: Vec::new(),
            max_json_depth: 32,
            api_keys_file: None,
            otel_endpoint: None,
            admin_username: None,
            admin_password_hash: None,
            admin_read_only: false,
            admin_role: "admin".into(),
            admin_cors_origins: Vec::new(),
            jwt_public_key_file: None,
            rules: RulesConfig::default(),
        }
    }
}

impl fmt::Debug for Config {
    /// Like a derived `Debug`, with secrets and URL passwords redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so that a new field cannot be forgotten here.
        let Config {
            listen,
            database_url,
            redis_url,
            node_id,
            redis_prefix,
            redis_stream,
            redis_stream_maxlen,
            cluster_heartbeat_ms,
            auth,
            jwt_secret,
            api_keys,
            demo,
            cors_origins,
            transports,
            compression,
            compression_threshold,
            ping_interval_ms,
            ping_timeout_ms,
            max_payload,
            max_buffer,
            max_buffer_bytes,
            recovery_max_bytes,
            recovery_max_sessions,
            recovery_window_secs,
            shutdown_timeout_secs,
            http_body_limit,
            log_format,
            parser,
            kpi_interval_ms,
            dashboard_interval_ms,
            rate_limit_per_sec,
            rate_limit_burst,
            rate_limit_disconnect_after,
            max_rooms_per_socket,
            max_connections_per_ip,
            max_pending_per_ip,
            header_read_timeout_secs,
            jwt_leeway_secs,
            ack_timeout_ms,
            connect_timeout_ms,
            max_queued_events,
            recovery_max_packets,
            max_client_info_bytes,
            db_max_connections,
            db_acquire_timeout_ms,
            trusted_proxies,
            max_json_depth,
            presence_max_users,
            api_keys_file,
            otel_endpoint,
            admin_username,
            admin_password_hash,
            admin_read_only,
            admin_role,
            admin_cors_origins,
            jwt_public_key_file,
            rules,
        } = self;
        f.debug_struct("Config")
            .field("listen", listen)
            .field("database_url", &crate::support::redact::url(database_url))
            .field(
                "redis_url",
                &redis_url.as_deref().map(crate::support::redact::url),
            )
            .field("node_id", node_id)
            .field("redis_prefix", redis_prefix)
            .field("redis_stream", redis_stream)
            .field("redis_stream_maxlen", redis_stream_maxlen)
            .field("cluster_heartbeat_ms", cluster_heartbeat_ms)
            .field("auth", auth)
            .field("jwt_secret", jwt_secret)
            .field("api_keys", api_keys)
            .field("demo", demo)
            .field("cors_origins", cors_origins)
            .field("transports", transports)
            .field("compression", compression)
            .field("compression_threshold", compression_threshold)
            .field("ping_interval_ms", ping_interval_ms)
            .field("ping_timeout_ms", ping_timeout_ms)
            .field("max_payload", max_payload)
            .field("max_buffer", max_buffer)
            .field("max_buffer_bytes", max_buffer_bytes)
            .field("recovery_max_bytes", recovery_max_bytes)
            .field("recovery_max_sessions", recovery_max_sessions)
            .field("recovery_window_secs", recovery_window_secs)
            .field("shutdown_timeout_secs", shutdown_timeout_secs)
            .field("http_body_limit", http_body_limit)
            .field("log_format", log_format)
            .field("parser", parser)
            .field("kpi_interval_ms", kpi_interval_ms)
            .field("dashboard_interval_ms", dashboard_interval_ms)
            .field("rate_limit_per_sec", rate_limit_per_sec)
            .field("rate_limit_burst", rate_limit_burst)
            .field("rate_limit_disconnect_after", rate_limit_disconnect_after)
            .field("max_rooms_per_socket", max_rooms_per_socket)
            .field("max_connections_per_ip", max_connections_per_ip)
            .field("max_pending_per_ip", max_pending_per_ip)
            .field("header_read_timeout_secs", header_read_timeout_secs)
            .field("jwt_leeway_secs", jwt_leeway_secs)
            .field("ack_timeout_ms", ack_timeout_ms)
            .field("connect_timeout_ms", connect_timeout_ms)
            .field("max_queued_events", max_queued_events)
            .field("recovery_max_packets", recovery_max_packets)
            .field("max_client_info_bytes", max_client_info_bytes)
            .field("db_max_connections", db_max_connections)
            .field("db_acquire_timeout_ms", db_acquire_timeout_ms)
            .field("trusted_proxies", trusted_proxies)
            .field("max_json_depth", max_json_depth)
            .field("presence_max_users", presence_max_users)
            .field("api_keys_file", api_keys_file)
            .field("otel_endpoint", otel_endpoint)
            .field("admin_username", admin_username)
            .field("admin_password_hash", admin_password_hash)
            .field("admin_read_only", admin_read_only)
            .field("admin_role", admin_role)
            .field("admin_cors_origins", admin_cors_origins)
            .field("jwt_public_key_file", jwt_public_key_file)
            .field("rules", rules)
            .finish()
    }
}

/// A configuration that cannot be used. Every message names the file, variable or
/// key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read.
    #[error("cannot read config file `{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid TOML or has a value of the wrong type. The
    /// message names the key and points at the line.
    #[error("invalid config file `{}`: {source}", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        #[source]
        source: toml::de::Error,
    },
    /// A `SWITCHBOARD_*` variable has a value of the wrong type.
    #[error("invalid environment variable {var}: {reason}")]
    Env {
        /// The variable.
        var: String,
        /// Why.
        reason: String,
    },
    /// A value is out of range or inconsistent with another.
    #[error("invalid config `{key}`: {reason}")]
    Invalid {
        /// The key (`ping_interval_ms`, `api_keys[1].key`).
        key: String,
        /// Why.
        reason: String,
    },
    /// The rules table is inconsistent (`[rules]`).
    #[error("invalid config `rules`: {0}")]
    Rules(#[from] RuleConfigError),
}

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

impl Config {
    /// The engine settings this config implies. Fields Switchboard does not expose
    /// keep `sio::Config`'s defaults.
    pub fn sio_config(&self) -> sio::Config {
        // The hosted Admin UI's origins are allowed on the Socket.IO endpoint only.
        let origins: Vec<String> = self
            .cors_origins
            .iter()
            .chain(&self.admin_cors_origins)
            .cloned()
            .collect();
        let cors = match origins.as_slice() {
            [] => sio::Cors::Disabled,
            list if list.iter().any(|o| o == "*") => sio::Cors::Any,
            list => sio::Cors::List(list.to_vec()),
        };
        let has = |t: &str| self.transports.iter().any(|x| x == t);
        sio::Config {
            ping_interval: Duration::from_millis(self.ping_interval_ms),
            ping_timeout: Duration::from_millis(self.ping_timeout_ms),
            max_payload: self.max_payload,
            max_buffer: self.max_buffer,
            max_buffer_bytes: self.max_buffer_bytes,
            recovery_max_bytes: self.recovery_max_bytes,
            recovery_max_sessions: self.recovery_max_sessions,
            max_sessions_per_ip: self.max_connections_per_ip,
            max_pending_per_ip: self.max_pending_per_ip,
            recovery_max_packets: self.recovery_max_packets,
            ack_timeout: Duration::from_millis(self.ack_timeout_ms),
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            max_queued_events: self.max_queued_events,
            compression: self.compression,
            compression_threshold: self.compression_threshold,
            parser: match self.parser {
                WireParser::Json => sio::Parser::Json,
                WireParser::Msgpack => sio::Parser::Msgpack,
            },
            transports: sio::Transports {
                polling: has("polling"),
                websocket: has("websocket"),
            },
            cors,
            recovery: (self.recovery_window_secs > 0)
                .then(|| Duration::from_secs(self.recovery_window_secs)),
            ..sio::Config::default()
        }
    }

    /// The effective config as TOML, for `check-config`: secrets print as
    /// `"[redacted]"` and URL passwords are masked. Loading the output back gives
    /// the same config except for those values.
    pub fn redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = crate::support::redact::url(&shown.database_url);
        shown.redis_url = shown.redis_url.as_deref().map(crate::support::redact::url);
        // Serializing plain data (strings, integers, tables) into TOML cannot fail.
        toml::to_string(&shown).expect("config serializes to TOML")
    }
}

#[cfg(test)]
mod tests;
