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

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::cli::ServeArgs;
use crate::rules::{RuleConfigError, Rules, RulesConfig};

/// Prefix of the environment variables read by [`Config::load`].
pub const ENV_PREFIX: &str = "SWITCHBOARD_";

/// Name of the API key added by `--api-key` / `SWITCHBOARD_API_KEY`.
pub const DEFAULT_API_KEY_NAME: &str = "default";

/// Shorter HS256 secrets load with a warning (RFC 7518 §3.2 asks for at least 256 bits).
const MIN_JWT_SECRET_LEN: usize = 32;

/// How sockets authenticate (SPEC §3).
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

/// Scopes an API key can be limited to.
pub const API_SCOPES: &[&str] = &["publish", "notifications", "admin"];

/// Read `[[api_keys]]` tables from a TOML file (the rotatable key file).
pub fn load_api_keys_file(path: &std::path::Path) -> Result<Vec<ApiKey>, ConfigError> {
    #[derive(Deserialize)]
    struct File {
        #[serde(default)]
        api_keys: Vec<ApiKey>,
    }
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Invalid {
        key: "api_keys_file".into(),
        reason: format!("cannot read {}: {e}", path.display()),
    })?;
    let f: File = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
        key: "api_keys_file".into(),
        reason: format!("{}: {e}", path.display()),
    })?;
    for k in &f.api_keys {
        validate_api_key(k)?;
    }
    Ok(f.api_keys)
}

fn validate_api_key(k: &ApiKey) -> Result<(), ConfigError> {
    if let Some(s) = k.scopes.iter().find(|s| !API_SCOPES.contains(&s.as_str())) {
        return Err(ConfigError::Invalid {
            key: format!("api_keys.{}.scopes", k.name),
            reason: format!("unknown scope `{s}` (expected publish, notifications or admin)"),
        });
    }
    Ok(())
}

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
    /// Peers whose `Forwarded` / `X-Forwarded-For` headers are believed (CIDRs or
    /// addresses, e.g. `["127.0.0.1", "10.0.0.0/8"]`). Defaults to none: the TCP peer is
    /// the client.
    pub trusted_proxies: Vec<String>,
    /// Deepest JSON nesting accepted in event payloads and API bodies. Defaults to 32.
    pub max_json_depth: usize,
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
            auth: AuthMode::Optional,
            jwt_secret: None,
            api_keys: Vec::new(),
            demo: false,
            cors_origins: Vec::new(),
            transports: vec!["websocket".into(), "polling".into()],
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
            kpi_interval_ms: 5000,
            dashboard_interval_ms: 10_000,
            rate_limit_per_sec: 50,
            rate_limit_burst: 100,
            rate_limit_disconnect_after: 200,
            max_rooms_per_socket: 200,
            max_connections_per_ip: 10_000,
            max_pending_per_ip: 1000,
            header_read_timeout_secs: 10,
            trusted_proxies: Vec::new(),
            max_json_depth: 32,
            api_keys_file: None,
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
            auth,
            jwt_secret,
            api_keys,
            demo,
            cors_origins,
            transports,
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
            kpi_interval_ms,
            dashboard_interval_ms,
            rate_limit_per_sec,
            rate_limit_burst,
            rate_limit_disconnect_after,
            max_rooms_per_socket,
            max_connections_per_ip,
            max_pending_per_ip,
            header_read_timeout_secs,
            trusted_proxies,
            max_json_depth,
            api_keys_file,
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
            .field("auth", auth)
            .field("jwt_secret", jwt_secret)
            .field("api_keys", api_keys)
            .field("demo", demo)
            .field("cors_origins", cors_origins)
            .field("transports", transports)
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
            .field("kpi_interval_ms", kpi_interval_ms)
            .field("dashboard_interval_ms", dashboard_interval_ms)
            .field("rate_limit_per_sec", rate_limit_per_sec)
            .field("rate_limit_burst", rate_limit_burst)
            .field("rate_limit_disconnect_after", rate_limit_disconnect_after)
            .field("max_rooms_per_socket", max_rooms_per_socket)
            .field("max_connections_per_ip", max_connections_per_ip)
            .field("max_pending_per_ip", max_pending_per_ip)
            .field("header_read_timeout_secs", header_read_timeout_secs)
            .field("trusted_proxies", trusted_proxies)
            .field("max_json_depth", max_json_depth)
            .field("api_keys_file", api_keys_file)
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

/// The TOML type of a key settable from the environment.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    Bool,
    /// Comma-separated in the environment.
    List,
}

/// Top-level keys settable from `SWITCHBOARD_<KEY>`.
const ENV_KEYS: &[(&str, Kind)] = &[
    ("listen", Kind::Str),
    ("database_url", Kind::Str),
    ("redis_url", Kind::Str),
    ("auth", Kind::Str),
    ("jwt_secret", Kind::Str),
    ("demo", Kind::Bool),
    ("cors_origins", Kind::List),
    ("transports", Kind::List),
    ("ping_interval_ms", Kind::Int),
    ("ping_timeout_ms", Kind::Int),
    ("max_payload", Kind::Int),
    ("max_buffer", Kind::Int),
    ("max_buffer_bytes", Kind::Int),
    ("recovery_max_bytes", Kind::Int),
    ("recovery_max_sessions", Kind::Int),
    ("recovery_window_secs", Kind::Int),
    ("shutdown_timeout_secs", Kind::Int),
    ("http_body_limit", Kind::Int),
    ("log_format", Kind::Str),
    ("kpi_interval_ms", Kind::Int),
    ("dashboard_interval_ms", Kind::Int),
    ("rate_limit_per_sec", Kind::Int),
    ("rate_limit_burst", Kind::Int),
    ("rate_limit_disconnect_after", Kind::Int),
    ("max_rooms_per_socket", Kind::Int),
    ("max_connections_per_ip", Kind::Int),
    ("max_pending_per_ip", Kind::Int),
    ("header_read_timeout_secs", Kind::Int),
    ("trusted_proxies", Kind::List),
    ("max_json_depth", Kind::Int),
    ("api_keys_file", Kind::Str),
    ("jwt_public_key_file", Kind::Str),
];

/// Top-level keys only the file can set.
const FILE_ONLY_KEYS: &[&str] = &["api_keys", "rules"];

/// Variables with the prefix that are not config keys: read by clap (`--config`,
/// `publish --url`) or handled specially (`--api-key`).
const ENV_SPECIAL: &[&str] = &[
    "SWITCHBOARD_CONFIG",
    "SWITCHBOARD_URL",
    "SWITCHBOARD_API_KEY",
];

const RULES_KEYS: &[&str] = &["presets", "custom"];
const RULE_DEF_KEYS: &[&str] = &[
    "event",
    "action",
    "room",
    "field",
    "permission",
    "ack",
    "on_join",
];
const API_KEY_KEYS: &[&str] = &["name", "key", "scopes"];
const TRANSPORTS: &[&str] = &["websocket", "polling"];

impl Config {
    /// Build the effective config: defaults, then the TOML file (`args.config`, or
    /// `SWITCHBOARD_CONFIG` in `env`), then `SWITCHBOARD_*` variables from `env`, then
    /// the flags in `args`; then [`Config::validate`].
    ///
    /// `env` is the process environment as `main` read it (tests pass their own).
    /// `args` may already hold env twins that clap read; they carry the same values as
    /// `env`, so applying them last keeps flag > env > file > default.
    ///
    /// Returns the config and warnings to log (unknown keys and variables, weak
    /// secrets).
    pub fn load(
        args: &ServeArgs,
        env: &HashMap<String, String>,
    ) -> Result<(Config, Vec<String>), ConfigError> {
        let mut warnings = Vec::new();
        let env_get = |var: &str| env.get(var).filter(|v| !v.is_empty());

        // 1. The file.
        let path = args
            .config
            .clone()
            .or_else(|| env_get("SWITCHBOARD_CONFIG").map(PathBuf::from));
        let mut table = match &path {
            None => toml::Table::new(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
                    path: path.clone(),
                    source,
                })?;
                let toml_err = |source| ConfigError::Toml {
                    path: path.clone(),
                    source,
                };
                // Deserializing the text directly gives errors with line numbers.
                toml::from_str::<Config>(&text).map_err(toml_err)?;
                let table: toml::Table = text.parse().map_err(toml_err)?;
                let origin = format!("config file `{}`", path.display());
                unknown_file_keys(&table, &origin, &mut warnings);
                table
            }
        };

        // 2. The environment, in a stable order so warnings are too.
        let mut vars: Vec<(&String, &String)> = env
            .iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        vars.sort();
        for (var, raw) in vars {
            if ENV_SPECIAL.contains(&var.as_str()) {
                continue;
            }
            let key = var[ENV_PREFIX.len()..].to_ascii_lowercase();
            let Some(&(key, kind)) = ENV_KEYS.iter().find(|(k, _)| *k == key) else {
                let hint = suggest(&key, ENV_KEYS.iter().map(|(k, _)| *k))
                    .map(|k| format!("; did you mean {ENV_PREFIX}{}?", k.to_ascii_uppercase()))
                    .unwrap_or_default();
                warnings.push(format!(
                    "unknown environment variable {var} (ignored{hint})"
                ));
                continue;
            };
            // An empty variable counts as unset (`FOO=` in compose files, shells).
            if raw.is_empty() {
                continue;
            }
            let value = env_value(kind, raw).map_err(|reason| ConfigError::Env {
                var: var.clone(),
                reason,
            })?;
            // Type-check this one value against the struct so the error names the variable.
            let mut probe = toml::Table::new();
            probe.insert(key.to_owned(), value.clone());
            toml::Value::Table(probe)
                .try_into::<Config>()
                .map_err(|e| {
                    let mut reason = e.message().trim().to_owned();
                    if !reason.contains(raw.as_str()) && key != "jwt_secret" {
                        reason.push_str(&format!(", got `{raw}`"));
                    }
                    ConfigError::Env {
                        var: var.clone(),
                        reason,
                    }
                })?;
            table.insert(key.to_owned(), value);
        }

        let mut config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| invalid("config", e.message().trim()))?;

        // 3. The flags. Empty strings count as not given, like empty variables.
        let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        if let Some(listen) = args.listen {
            config.listen = listen;
        }
        if let Some(url) = non_empty(&args.database_url) {
            config.database_url = url;
        }
        if let Some(url) = non_empty(&args.redis_url) {
            config.redis_url = Some(url);
        }
        if let Some(auth) = args.auth {
            config.auth = auth;
        }
        if let Some(secret) = args.jwt_secret.clone().filter(|s| !s.0.is_empty()) {
            config.jwt_secret = Some(secret);
        }
        if let Some(demo) = args.demo {
            config.demo = demo;
        }
        // `--api-key` (or its twin) adds the key named "default", replacing one from
        // the file of that name.
        let api_key = args
            .api_key
            .clone()
            .filter(|k| !k.0.is_empty())
            .or_else(|| env_get("SWITCHBOARD_API_KEY").map(|k| Secret::new(k.as_str())));
        if let Some(key) = api_key {
            config.api_keys.retain(|k| k.name != DEFAULT_API_KEY_NAME);
            config.api_keys.push(ApiKey {
                name: DEFAULT_API_KEY_NAME.into(),
                key,
                scopes: Vec::new(),
            });
        }

        config.validate()?;

        if let Some(secret) = &config.jwt_secret {
            if secret.0.len() < MIN_JWT_SECRET_LEN {
                warnings.push(format!(
                    "jwt_secret is shorter than {MIN_JWT_SECRET_LEN} bytes; use a long random \
                     secret outside development"
                ));
            }
        }
        Ok((config, warnings))
    }

    /// Check ranges and cross-field constraints; the first problem is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for k in &self.api_keys {
            validate_api_key(k)?;
        }
        let db = &self.database_url;
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database_url",
                format!(
                    "expected sqlite://PATH, sqlite::memory: or postgres://…, got `{}`",
                    crate::support::redact::url(db)
                ),
            ));
        }
        if let Some(url) = &self.redis_url {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(invalid(
                    "redis_url",
                    format!(
                        "expected redis://… or rediss://…, got `{}`",
                        crate::support::redact::url(url)
                    ),
                ));
            }
        }

        match &self.jwt_secret {
            Some(s) if s.0.is_empty() => return Err(invalid("jwt_secret", "must not be empty")),
            None if self.auth == AuthMode::Required => return Err(invalid(
                "jwt_secret",
                "auth = \"required\" needs a JWT secret (--jwt-secret or SWITCHBOARD_JWT_SECRET)",
            )),
            _ => {}
        }

        let mut names = BTreeSet::new();
        for (i, k) in self.api_keys.iter().enumerate() {
            if k.name.trim().is_empty() {
                return Err(invalid(format!("api_keys[{i}].name"), "must not be empty"));
            }
            if k.key.0.is_empty() {
                return Err(invalid(
                    format!("api_keys[{i}].key"),
                    format!("key `{}` must not be empty", k.name),
                ));
            }
            if !names.insert(k.name.as_str()) {
                return Err(invalid(
                    format!("api_keys[{i}].name"),
                    format!("two keys are named `{}`", k.name),
                ));
            }
        }

        if self.cors_origins.iter().any(|o| o == "*") {
            if self.cors_origins.len() > 1 {
                return Err(invalid(
                    "cors_origins",
                    "`*` allows any origin and must be the only entry",
                ));
            }
        } else if let Some(bad) = self.cors_origins.iter().find(|o| !is_origin(o)) {
            return Err(invalid(
                "cors_origins",
                format!(
                    "`{bad}` is not an origin; write scheme and host like \
                     https://app.example.com (no path or trailing slash), or `*`"
                ),
            ));
        }

        if self.transports.is_empty() {
            return Err(invalid(
                "transports",
                "must name at least one of websocket, polling",
            ));
        }
        for (i, t) in self.transports.iter().enumerate() {
            if !TRANSPORTS.contains(&t.as_str()) {
                return Err(invalid(
                    "transports",
                    format!("unknown transport `{t}` (expected websocket or polling)"),
                ));
            }
            if self.transports[..i].contains(t) {
                return Err(invalid("transports", format!("`{t}` is listed twice")));
            }
        }

        for (key, value, min) in [
            ("ping_interval_ms", self.ping_interval_ms, 1),
            ("ping_timeout_ms", self.ping_timeout_ms, 1),
            ("kpi_interval_ms", self.kpi_interval_ms, 10),
            ("dashboard_interval_ms", self.dashboard_interval_ms, 10),
            ("max_payload", self.max_payload as u64, 1024),
            ("max_buffer", self.max_buffer as u64, 1),
            ("max_buffer_bytes", self.max_buffer_bytes as u64, 64 << 10),
            (
                "recovery_max_bytes",
                self.recovery_max_bytes as u64,
                64 << 10,
            ),
            (
                "recovery_max_sessions",
                self.recovery_max_sessions as u64,
                1,
            ),
            ("header_read_timeout_secs", self.header_read_timeout_secs, 1),
            ("http_body_limit", self.http_body_limit as u64, 1024),
            ("rate_limit_burst", self.rate_limit_burst, 1),
            (
                "rate_limit_disconnect_after",
                self.rate_limit_disconnect_after,
                1,
            ),
            ("max_rooms_per_socket", self.max_rooms_per_socket as u64, 1),
            ("max_json_depth", self.max_json_depth as u64, 2),
        ] {
            if value < min {
                return Err(invalid(key, format!("must be at least {min}, got {value}")));
            }
        }

        for p in &self.trusted_proxies {
            crate::net::parse_net(p).map_err(|e| invalid("trusted_proxies", e))?;
        }

        Rules::from_config(&self.rules)?;
        Ok(())
    }

    /// The engine settings this config implies. Fields Switchboard does not expose
    /// keep `sio::Config`'s defaults.
    pub fn sio_config(&self) -> sio::Config {
        let cors = match self.cors_origins.as_slice() {
            [] => sio::Cors::Disabled,
            [any] if any == "*" => sio::Cors::Any,
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

/// `TOML value` for one environment variable of the given kind, or why not.
fn env_value(kind: Kind, raw: &str) -> Result<toml::Value, String> {
    Ok(match kind {
        Kind::Str => toml::Value::String(raw.to_owned()),
        Kind::Bool => toml::Value::Boolean(parse_bool(raw).ok_or_else(|| {
            format!("expected a boolean (1/0, true/false, yes/no, on/off), got `{raw}`")
        })?),
        Kind::Int => {
            let n: u64 = raw
                .trim()
                .parse()
                .map_err(|_| format!("expected a non-negative integer, got `{raw}`"))?;
            let n = i64::try_from(n).map_err(|_| format!("`{raw}` is too large"))?;
            toml::Value::Integer(n)
        }
        Kind::List => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        ),
    })
}

fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// `scheme://host[:port]` with nothing after it.
fn is_origin(origin: &str) -> bool {
    let Some((scheme, host)) = origin.split_once("://") else {
        return false;
    };
    !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !host.is_empty()
        && !host.contains(['/', '?', '#', ' '])
}

/// Warn about keys of the file that no field reads.
fn unknown_file_keys(table: &toml::Table, origin: &str, warnings: &mut Vec<String>) {
    let top = ENV_KEYS
        .iter()
        .map(|(k, _)| *k)
        .chain(FILE_ONLY_KEYS.iter().copied());
    check_keys(table, "", top, origin, warnings);
    if let Some(toml::Value::Table(rules)) = table.get("rules") {
        check_keys(
            rules,
            "rules.",
            RULES_KEYS.iter().copied(),
            origin,
            warnings,
        );
        if let Some(toml::Value::Array(custom)) = rules.get("custom") {
            for (i, def) in custom.iter().enumerate() {
                if let toml::Value::Table(def) = def {
                    let prefix = format!("rules.custom[{i}].");
                    check_keys(
                        def,
                        &prefix,
                        RULE_DEF_KEYS.iter().copied(),
                        origin,
                        warnings,
                    );
                }
            }
        }
    }
    if let Some(toml::Value::Array(keys)) = table.get("api_keys") {
        for (i, key) in keys.iter().enumerate() {
            if let toml::Value::Table(key) = key {
                let prefix = format!("api_keys[{i}].");
                check_keys(key, &prefix, API_KEY_KEYS.iter().copied(), origin, warnings);
            }
        }
    }
}

fn check_keys<'k>(
    table: &toml::Table,
    prefix: &str,
    known: impl Iterator<Item = &'k str> + Clone,
    origin: &str,
    warnings: &mut Vec<String>,
) {
    for key in table.keys() {
        if known.clone().any(|k| k == key) {
            continue;
        }
        let hint = suggest(key, known.clone())
            .map(|k| format!("; did you mean `{prefix}{k}`?"))
            .unwrap_or_default();
        warnings.push(format!(
            "{origin}: unknown key `{prefix}{key}` (ignored{hint})"
        ));
    }
}

/// The known key closest to a misspelt one, if any is close.
fn suggest<'k>(key: &str, known: impl Iterator<Item = &'k str>) -> Option<&'k str> {
    known
        .map(|k| {
            let d = if k.starts_with(key) || key.starts_with(k) {
                0
            } else {
                edit_distance(key, k)
            };
            (d, k)
        })
        .filter(|&(d, k)| d <= (k.len() / 4).max(2))
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn args_with(f: &tempfile::NamedTempFile) -> ServeArgs {
        ServeArgs {
            config: Some(f.path().to_owned()),
            ..ServeArgs::default()
        }
    }

    fn load(args: &ServeArgs, env: &HashMap<String, String>) -> (Config, Vec<String>) {
        Config::load(args, env).unwrap_or_else(|e| panic!("load failed: {e}"))
    }

    fn load_err(args: &ServeArgs, env: &HashMap<String, String>) -> String {
        Config::load(args, env).unwrap_err().to_string()
    }

    #[test]
    fn defaults_match_the_spec() {
        let (c, warnings) = load(&ServeArgs::default(), &HashMap::new());
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(c, Config::default());
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(c.database_url, "sqlite://switchboard.db");
        assert_eq!(c.auth, AuthMode::Optional);
        assert_eq!(c.transports, ["websocket", "polling"]);
        assert_eq!((c.ping_interval_ms, c.ping_timeout_ms), (25_000, 20_000));
        assert_eq!(c.max_payload, 1_000_000);
        assert_eq!(c.rules.presets, ["erp", "queue", "booking"]);
        assert!(c.api_keys.is_empty() && c.cors_origins.is_empty() && !c.demo);
        c.validate().unwrap();
    }

    #[test]
    fn precedence_is_file_then_env_then_flag() {
        let f = file(
            r#"
            listen = "127.0.0.1:4001"
            database_url = "sqlite::memory:"
            ping_interval_ms = 1000
            ping_timeout_ms = 1000
            demo = false
            cors_origins = ["https://file.example"]
            "#,
        );
        // File only.
        let (c, _) = load(&args_with(&f), &HashMap::new());
        assert_eq!(c.listen.port(), 4001);
        assert_eq!(c.ping_interval_ms, 1000);
        assert_eq!(c.cors_origins, ["https://file.example"]);
        assert_eq!(c.max_buffer, 4096, "untouched keys keep their defaults");

        // Env beats file.
        let e = env(&[
            ("SWITCHBOARD_LISTEN", "127.0.0.1:4002"),
            ("SWITCHBOARD_PING_INTERVAL_MS", "300"),
            ("SWITCHBOARD_DEMO", "1"),
            (
                "SWITCHBOARD_CORS_ORIGINS",
                "https://a.example, https://b.example",
            ),
            ("SWITCHBOARD_TRANSPORTS", "websocket"),
        ]);
        let (c, warnings) = load(&args_with(&f), &e);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(c.listen.port(), 4002);
        assert_eq!(c.ping_interval_ms, 300);
        assert_eq!(c.ping_timeout_ms, 1000, "file value stays");
        assert!(c.demo);
        assert_eq!(c.cors_origins, ["https://a.example", "https://b.example"]);
        assert_eq!(c.transports, ["websocket"]);

        // Flags beat env.
        let args = ServeArgs {
            listen: Some("127.0.0.1:4003".parse().unwrap()),
            demo: Some(false),
            database_url: Some("postgres://u@db/sb".into()),
            ..args_with(&f)
        };
        let (c, _) = load(&args, &e);
        assert_eq!(c.listen.port(), 4003);
        assert!(!c.demo);
        assert_eq!(c.database_url, "postgres://u@db/sb");
        assert_eq!(c.ping_interval_ms, 300, "env value stays");
    }

    #[test]
    fn config_path_may_come_from_the_env_map() {
        let f = file("ping_timeout_ms = 777");
        let e = env(&[("SWITCHBOARD_CONFIG", f.path().to_str().unwrap())]);
        let (c, warnings) = load(&ServeArgs::default(), &e);
        assert_eq!(c.ping_timeout_ms, 777);
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn env_twins_read_by_clap_are_not_applied_twice() {
        // clap put SWITCHBOARD_API_KEY into args.api_key too: still one key.
        let e = env(&[
            ("SWITCHBOARD_API_KEY", "k1"),
            ("SWITCHBOARD_AUTH", "required"),
        ]);
        let args = ServeArgs {
            api_key: Some("k1".into()),
            auth: Some(AuthMode::Required),
            jwt_secret: Some("0123456789abcdef0123456789abcdef".into()),
            ..ServeArgs::default()
        };
        let (c, warnings) = load(&args, &e);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(c.api_keys.len(), 1);
        assert_eq!(c.api_keys[0].name, "default");
        assert_eq!(c.api_keys[0].key.expose(), "k1");
        assert_eq!(c.auth, AuthMode::Required);
    }

    #[test]
    fn api_key_flag_joins_file_keys_and_replaces_default() {
        let f = file(
            r#"
            [[api_keys]]
            name = "billing"
            key = "b-key"
            [[api_keys]]
            name = "default"
            key = "old"
            "#,
        );
        let (c, _) = load(&args_with(&f), &env(&[("SWITCHBOARD_API_KEY", "env-key")]));
        let keys: Vec<(&str, &str)> = c
            .api_keys
            .iter()
            .map(|k| (k.name.as_str(), k.key.expose()))
            .collect();
        assert_eq!(keys, [("billing", "b-key"), ("default", "env-key")]);
        let args = ServeArgs {
            api_key: Some("flag-key".into()),
            ..args_with(&f)
        };
        let (c, _) = load(&args, &env(&[("SWITCHBOARD_API_KEY", "env-key")]));
        assert_eq!(c.api_keys[1].key.expose(), "flag-key");
    }

    #[test]
    fn empty_env_values_count_as_unset() {
        let e = env(&[("SWITCHBOARD_REDIS_URL", ""), ("SWITCHBOARD_API_KEY", "")]);
        let (c, _) = load(&ServeArgs::default(), &e);
        assert_eq!(c.redis_url, None);
        assert!(c.api_keys.is_empty());
    }

    #[test]
    fn unknown_keys_and_variables_are_warned_about() {
        let f = file(
            r#"
            ping_interval = 5
            [server]
            port = 1
            [rules]
            presets = ["erp"]
            extra = true
            [[rules.custom]]
            event = "join:team"
            action = "join"
            room = "team:{id}"
            permision = "public"
            permission = "public"
            [[api_keys]]
            name = "a"
            key = "k"
            scope = "all"
            "#,
        );
        let e = env(&[
            ("SWITCHBOARD_PING_TIMOUT_MS", "5"),
            ("SWITCHBOARD_WHATEVER", "x"),
            ("SWITCHBOARD_URL", "http://x"),
            ("OTHER_VAR", "x"),
        ]);
        let (c, warnings) = load(&args_with(&f), &e);
        assert_eq!(c.rules.presets, ["erp"]);
        let all = warnings.join("\n");
        assert_eq!(warnings.len(), 7, "{all}");
        assert!(
            all.contains("unknown key `ping_interval` (ignored; did you mean `ping_interval_ms`?)"),
            "{all}"
        );
        assert!(all.contains("unknown key `server` (ignored)"), "{all}");
        assert!(all.contains("unknown key `rules.extra`"), "{all}");
        assert!(
            all.contains(
                "unknown key `rules.custom[0].permision` \
                 (ignored; did you mean `rules.custom[0].permission`?)"
            ),
            "{all}"
        );
        assert!(all.contains("unknown key `api_keys[0].scope`"), "{all}");
        assert!(
            all.contains(
                "unknown environment variable SWITCHBOARD_PING_TIMOUT_MS \
                 (ignored; did you mean SWITCHBOARD_PING_TIMEOUT_MS?)"
            ),
            "{all}"
        );
        assert!(all.contains("SWITCHBOARD_WHATEVER (ignored)"), "{all}");
        assert!(
            !all.contains("SWITCHBOARD_URL") && !all.contains("OTHER_VAR"),
            "{all}"
        );
        assert!(
            all.contains(&format!("config file `{}`", f.path().display())),
            "{all}"
        );
    }

    #[test]
    fn file_errors_name_the_file_and_key() {
        let err = load_err(
            &ServeArgs {
                config: Some("/nonexistent/sb.toml".into()),
                ..ServeArgs::default()
            },
            &HashMap::new(),
        );
        assert!(
            err.starts_with("cannot read config file `/nonexistent/sb.toml`"),
            "{err}"
        );

        let f = file("ping_interval_ms = \"fast\"\n");
        let err = load_err(&args_with(&f), &HashMap::new());
        assert!(err.contains("invalid config file"), "{err}");
        assert!(err.contains("ping_interval_ms"), "{err}");
        assert!(err.contains("line 1"), "{err}");

        let f = file("listen = \"nowhere\"\n");
        let err = load_err(&args_with(&f), &HashMap::new());
        assert!(err.contains("listen"), "{err}");

        let f = file("this is not toml");
        assert!(load_err(&args_with(&f), &HashMap::new()).contains("invalid config file"));
    }

    #[test]
    fn env_errors_name_the_variable() {
        let err = load_err(
            &ServeArgs::default(),
            &env(&[("SWITCHBOARD_PING_INTERVAL_MS", "soon")]),
        );
        assert_eq!(
            err,
            "invalid environment variable SWITCHBOARD_PING_INTERVAL_MS: expected a non-negative \
             integer, got `soon`"
        );
        let err = load_err(
            &ServeArgs::default(),
            &env(&[("SWITCHBOARD_DEMO", "maybe")]),
        );
        assert!(
            err.starts_with("invalid environment variable SWITCHBOARD_DEMO: expected a boolean"),
            "{err}"
        );
        let err = load_err(
            &ServeArgs::default(),
            &env(&[("SWITCHBOARD_AUTH", "sometimes")]),
        );
        assert!(
            err.starts_with("invalid environment variable SWITCHBOARD_AUTH: "),
            "{err}"
        );
        assert!(err.contains("sometimes"), "{err}");
        let err = load_err(
            &ServeArgs::default(),
            &env(&[("SWITCHBOARD_LISTEN", "localhost")]),
        );
        assert!(
            err.starts_with("invalid environment variable SWITCHBOARD_LISTEN: "),
            "{err}"
        );
    }

    #[test]
    fn validation_errors_are_clear() {
        type Case = (fn(&mut Config), &'static str);
        let cases: Vec<Case> = vec![
            (
                |c| c.ping_interval_ms = 0,
                "invalid config `ping_interval_ms`: must be at least 1, got 0",
            ),
            (
                |c| c.ping_timeout_ms = 0,
                "invalid config `ping_timeout_ms`: must be at least 1, got 0",
            ),
            (
                |c| c.max_payload = 10,
                "invalid config `max_payload`: must be at least 1024, got 10",
            ),
            (
                |c| c.max_buffer = 0,
                "invalid config `max_buffer`: must be at least 1, got 0",
            ),
            (
                |c| c.http_body_limit = 1,
                "invalid config `http_body_limit`: must be at least 1024, got 1",
            ),
            (
                |c| c.transports = vec![],
                "invalid config `transports`: must name at least one",
            ),
            (
                |c| c.transports = vec!["carrier-pigeon".into()],
                "unknown transport `carrier-pigeon`",
            ),
            (
                |c| c.transports = vec!["polling".into(), "polling".into()],
                "`polling` is listed twice",
            ),
            (
                |c| c.auth = AuthMode::Required,
                "invalid config `jwt_secret`: auth = \"required\" needs a JWT secret",
            ),
            (
                |c| c.jwt_secret = Some("".into()),
                "invalid config `jwt_secret`: must not be empty",
            ),
            (
                |c| {
                    c.api_keys = vec![ApiKey {
                        name: "ci".into(),
                        key: "".into(),
                        scopes: Vec::new(),
                    }]
                },
                "invalid config `api_keys[0].key`: key `ci` must not be empty",
            ),
            (
                |c| {
                    c.api_keys = vec![
                        ApiKey {
                            name: "a".into(),
                            key: "1".into(),
                            scopes: Vec::new(),
                        },
                        ApiKey {
                            name: "a".into(),
                            key: "2".into(),
                            scopes: Vec::new(),
                        },
                    ]
                },
                "invalid config `api_keys[1].name`: two keys are named `a`",
            ),
            (
                |c| c.cors_origins = vec!["*".into(), "https://a.example".into()],
                "must be the only entry",
            ),
            (
                |c| c.cors_origins = vec!["https://a.example/".into()],
                "`https://a.example/` is not an origin",
            ),
            (
                |c| c.cors_origins = vec!["a.example".into()],
                "`a.example` is not an origin",
            ),
            (
                |c| c.database_url = "mysql://u:pw@h/db".into(),
                "got `mysql://u:[redacted]@h/db`",
            ),
            (
                |c| c.redis_url = Some("http://r".into()),
                "invalid config `redis_url`",
            ),
            (
                |c| c.rules.presets = vec!["crm".into()],
                "invalid config `rules`: unknown rules preset `crm`",
            ),
        ];
        for (change, msg) in cases {
            let mut c = Config::default();
            change(&mut c);
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains(msg), "expected {msg:?} in {err:?}");
        }
        // The same checks run inside load.
        let err = load_err(
            &ServeArgs::default(),
            &env(&[("SWITCHBOARD_MAX_PAYLOAD", "5")]),
        );
        assert!(err.contains("`max_payload`"), "{err}");
    }

    #[test]
    fn valid_edge_values_pass() {
        let mut c = Config {
            cors_origins: vec!["*".into()],
            transports: vec!["polling".into()],
            database_url: "postgresql://u:p@localhost:5432/sb".into(),
            redis_url: Some("rediss://:pw@r:6380/0".into()),
            recovery_window_secs: 0,
            ..Config::default()
        };
        c.validate().unwrap();
        c.cors_origins = vec![
            "http://localhost:5173".into(),
            "https://app.example.com".into(),
        ];
        c.database_url = "sqlite::memory:".into();
        c.validate().unwrap();
    }

    #[test]
    fn custom_rules_load_from_the_file() {
        let f = file(
            r#"
            [rules]
            presets = ["erp", "queue"]
            [[rules.custom]]
            event = "join:team"
            action = "join"
            room = "team:{id}"
            field = "teamId"
            permission = "authenticated"
            "#,
        );
        let (c, warnings) = load(&args_with(&f), &HashMap::new());
        assert!(warnings.is_empty(), "{warnings:?}");
        let rules = Rules::from_config(&c.rules).unwrap();
        assert!(rules.get("join:team").is_some());
        assert!(rules.get("join:user").is_none());

        let f = file(
            r#"
            [[rules.custom]]
            event = "join:member"
            action = "join"
            room = "user:{id}"
            permission = "public"
            "#,
        );
        let err = load_err(&args_with(&f), &HashMap::new());
        assert!(
            err.starts_with("invalid config `rules`: rules `notification:subscribe`"),
            "{err}"
        );
    }

    #[test]
    fn secrets_are_redacted() {
        let c = Config {
            jwt_secret: Some("jwt-very-secret".into()),
            api_keys: vec![ApiKey {
                name: "billing".into(),
                key: "api-very-secret".into(),
                scopes: Vec::new(),
            }],
            database_url: "postgres://sb:db-very-secret@db:5432/sb?sslmode=require".into(),
            redis_url: Some("redis://:redis-very-secret@r:6379/".into()),
            ..Config::default()
        };
        let secret = Secret::new("x-very-secret");
        assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
        assert_eq!(secret.expose(), "x-very-secret");

        for shown in [format!("{c:?}"), c.redacted_toml()] {
            assert!(!shown.contains("very-secret"), "{shown}");
            assert!(shown.contains("[redacted]"), "{shown}");
            assert!(shown.contains("billing"), "{shown}");
            assert!(
                shown.contains("postgres://sb:[redacted]@db:5432/sb?sslmode=require"),
                "{shown}"
            );
            assert!(shown.contains("redis://:[redacted]@r:6379/"), "{shown}");
        }
    }

    #[test]
    fn redacted_toml_round_trips() {
        let mut c = Config {
            api_keys: vec![ApiKey {
                name: "billing".into(),
                key: "k".into(),
                scopes: Vec::new(),
            }],
            cors_origins: vec!["*".into()],
            ..Config::default()
        };
        c.rules.custom.push(crate::rules::RuleDef {
            event: "join:team".into(),
            action: crate::rules::Action::Join,
            room: "team:{id}".into(),
            field: None,
            permission: "authenticated".into(),
            ack: crate::rules::AckShape::None,
            on_join: None,
        });
        let text = c.redacted_toml();
        let f = file(&text);
        let (back, warnings) = load(&args_with(&f), &HashMap::new());
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(back.api_keys[0].key.expose(), "[redacted]");
        c.api_keys[0].key = Secret::new("[redacted]");
        assert_eq!(back, c, "{text}");
    }

    #[test]
    fn every_field_is_a_known_key() {
        let c = Config {
            redis_url: Some("redis://r".into()),
            jwt_secret: Some("s".into()),
            api_keys_file: Some("keys.toml".into()),
            jwt_public_key_file: Some("key.pem".into()),
            ..Config::default()
        };
        let table = toml::Table::try_from(&c).unwrap();
        let fields: BTreeSet<&str> = table.keys().map(String::as_str).collect();
        let known: BTreeSet<&str> = ENV_KEYS
            .iter()
            .map(|(k, _)| *k)
            .chain(FILE_ONLY_KEYS.iter().copied())
            .collect();
        assert_eq!(fields, known);
    }

    #[test]
    fn sio_config_maps_fields() {
        let s = Config::default().sio_config();
        assert_eq!(s.ping_interval, Duration::from_secs(25));
        assert_eq!(s.ping_timeout, Duration::from_secs(20));
        assert_eq!(s.max_payload, 1_000_000);
        assert_eq!(s.max_buffer, 4096);
        assert_eq!(s.cors, sio::Cors::Disabled);
        assert_eq!(s.recovery, Some(Duration::from_secs(120)));
        assert_eq!(
            s.transports,
            sio::Transports {
                polling: true,
                websocket: true
            }
        );
        assert_eq!(s.path, sio::Config::default().path);

        let c = Config {
            ping_interval_ms: 300,
            ping_timeout_ms: 200,
            max_payload: 2048,
            max_buffer: 8,
            cors_origins: vec!["*".into()],
            transports: vec!["websocket".into()],
            recovery_window_secs: 0,
            ..Config::default()
        };
        let s = c.sio_config();
        assert_eq!(s.ping_interval, Duration::from_millis(300));
        assert_eq!(s.ping_timeout, Duration::from_millis(200));
        assert_eq!((s.max_payload, s.max_buffer), (2048, 8));
        assert_eq!(s.cors, sio::Cors::Any);
        assert_eq!(s.recovery, None);
        assert_eq!(
            s.transports,
            sio::Transports {
                polling: false,
                websocket: true
            }
        );

        let c = Config {
            cors_origins: vec!["https://a.example".into()],
            ..Config::default()
        };
        assert_eq!(
            c.sio_config().cors,
            sio::Cors::List(vec!["https://a.example".into()])
        );
    }

    #[test]
    fn weak_jwt_secret_is_warned_about() {
        let args = ServeArgs {
            jwt_secret: Some("short".into()),
            ..ServeArgs::default()
        };
        let (_, warnings) = load(&args, &HashMap::new());
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("jwt_secret is shorter than 32 bytes"));
    }
}
