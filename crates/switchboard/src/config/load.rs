//! The layers: defaults → the TOML file → `SWITCHBOARD_*` environment → flags, merged as
//! TOML tables so a value has the same type whichever layer sets it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::BoolishValueParser;

use super::validate::validate_api_key;
use super::*;

/// The command-line layer of `serve` and `check-config` (clap derive; `cli` flattens it
/// in). Flags override `SWITCHBOARD_*` environment variables, which override the config
/// file, which overrides the defaults.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Flags {
    /// TOML config file.
    #[arg(long, value_name = "PATH", env = "SWITCHBOARD_CONFIG")]
    pub config: Option<PathBuf>,

    /// Bind address [default: 127.0.0.1:3000].
    #[arg(long, value_name = "ADDR", env = "SWITCHBOARD_LISTEN")]
    pub listen: Option<SocketAddr>,

    /// Database: sqlite://path, sqlite::memory: or postgres://… [default: sqlite://switchboard.db].
    #[arg(long, value_name = "URL", env = "SWITCHBOARD_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Redis URL; turns on cluster mode.
    #[arg(long, value_name = "URL", env = "SWITCHBOARD_REDIS_URL")]
    pub redis_url: Option<String>,

    /// This node's name in a cluster [default: hostname:port].
    #[arg(long, value_name = "ID", env = "SWITCHBOARD_NODE_ID")]
    pub node_id: Option<String>,

    /// Socket authentication mode [default: optional].
    #[arg(long, value_name = "MODE", env = "SWITCHBOARD_AUTH")]
    pub auth: Option<AuthMode>,

    /// HS256 secret that verifies client JWTs (claims sub, roles, tenant).
    #[arg(
        long,
        value_name = "S",
        env = "SWITCHBOARD_JWT_SECRET",
        hide_env_values = true
    )]
    pub jwt_secret: Option<Secret>,

    /// API key for the backend HTTP API (none: the API answers loopback clients only).
    #[arg(
        long,
        value_name = "K",
        env = "SWITCHBOARD_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<Secret>,

    /// Seed demo data and run the KPI/notification simulator.
    // `--demo` alone means true; the env twin accepts 1/0, true/false, yes/no, on/off.
    #[arg(
        long,
        env = "SWITCHBOARD_DEMO",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new(),
        hide_possible_values = true
    )]
    pub demo: Option<bool>,
}

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

/// The TOML type of a key settable from the environment.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    Str,
    Int,
    Bool,
    /// Comma-separated in the environment.
    List,
}

/// Top-level keys settable from `SWITCHBOARD_<KEY>`.
pub(super) const ENV_KEYS: &[(&str, Kind)] = &[
    ("listen", Kind::Str),
    ("database_url", Kind::Str),
    ("redis_url", Kind::Str),
    ("node_id", Kind::Str),
    ("redis_prefix", Kind::Str),
    ("redis_stream", Kind::Str),
    ("redis_stream_maxlen", Kind::Int),
    ("cluster_heartbeat_ms", Kind::Int),
    ("auth", Kind::Str),
    ("jwt_secret", Kind::Str),
    ("demo", Kind::Bool),
    ("cors_origins", Kind::List),
    ("transports", Kind::List),
    ("compression", Kind::Bool),
    ("compression_threshold", Kind::Int),
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
    ("parser", Kind::Str),
    ("kpi_interval_ms", Kind::Int),
    ("dashboard_interval_ms", Kind::Int),
    ("rate_limit_per_sec", Kind::Int),
    ("rate_limit_burst", Kind::Int),
    ("rate_limit_disconnect_after", Kind::Int),
    ("max_rooms_per_socket", Kind::Int),
    ("max_connections_per_ip", Kind::Int),
    ("max_pending_per_ip", Kind::Int),
    ("header_read_timeout_secs", Kind::Int),
    ("jwt_leeway_secs", Kind::Int),
    ("ack_timeout_ms", Kind::Int),
    ("connect_timeout_ms", Kind::Int),
    ("max_queued_events", Kind::Int),
    ("recovery_max_packets", Kind::Int),
    ("max_client_info_bytes", Kind::Int),
    ("db_max_connections", Kind::Int),
    ("db_acquire_timeout_ms", Kind::Int),
    ("trusted_proxies", Kind::List),
    ("max_json_depth", Kind::Int),
    ("presence_max_users", Kind::Int),
    ("api_keys_file", Kind::Str),
    ("otel_endpoint", Kind::Str),
    ("jwt_public_key_file", Kind::Str),
    ("admin_username", Kind::Str),
    ("admin_password_hash", Kind::Str),
    ("admin_read_only", Kind::Bool),
    ("admin_role", Kind::Str),
    ("admin_cors_origins", Kind::List),
];

/// Top-level keys only the file can set.
pub(super) const FILE_ONLY_KEYS: &[&str] = &["api_keys", "rules"];

/// Variables with the prefix that are not config keys: read by clap (`--config`,
/// `publish --url`) or handled specially (`--api-key`).
const ENV_SPECIAL: &[&str] = &[
    "SWITCHBOARD_CONFIG",
    "SWITCHBOARD_URL",
    "SWITCHBOARD_API_KEY",
];

const RULES_KEYS: &[&str] = &["presets", "custom", "presence"];
const RULE_DEF_KEYS: &[&str] = &[
    "event",
    "action",
    "room",
    "field",
    "permission",
    "ack",
    "on_join",
    "presence",
];
const API_KEY_KEYS: &[&str] = &["name", "key", "scopes"];

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
        args: &Flags,
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
        if let Some(id) = non_empty(&args.node_id) {
            config.node_id = Some(id);
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
