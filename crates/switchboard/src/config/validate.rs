//! The checks [`Config::load`] ends with: ranges and cross-field constraints.

use super::*;

impl Config {
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
        for (key, v) in [
            ("redis_prefix", &self.redis_prefix),
            ("redis_stream", &self.redis_stream),
        ] {
            if v.is_empty() || v.len() > 128 {
                return Err(invalid(key, "must be 1 to 128 characters"));
            }
        }
        if self.redis_stream_maxlen < 100 {
            return Err(invalid("redis_stream_maxlen", "must be at least 100"));
        }
        if !(100..=60_000).contains(&self.cluster_heartbeat_ms) {
            return Err(invalid("cluster_heartbeat_ms", "must be 100 to 60000"));
        }
        if self
            .node_id
            .as_ref()
            .is_some_and(|n| n.is_empty() || n.len() > 128)
        {
            return Err(invalid("node_id", "must be 1 to 128 characters"));
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

        match (&self.admin_username, &self.admin_password_hash) {
            (Some(u), Some(h)) => {
                if u.is_empty() {
                    return Err(invalid("admin_username", "must not be empty"));
                }
                match h.expose().parse::<bcrypt::HashParts>() {
                    Err(_) => {
                        return Err(invalid(
                            "admin_password_hash",
                            "not a bcrypt hash ($2b$…); make one with `switchboard hash-password`",
                        ))
                    }
                    // Each sign-in pays the cost: 2^15 rounds take seconds per attempt.
                    Ok(p) if !(4..=14).contains(&p.get_cost()) => {
                        return Err(invalid(
                            "admin_password_hash",
                            format!("bcrypt cost {} is outside 4..=14", p.get_cost()),
                        ))
                    }
                    Ok(_) => {}
                }
            }
            (None, None) => {}
            (Some(_), None) => {
                return Err(invalid(
                    "admin_password_hash",
                    "admin_username is set: set admin_password_hash too (or neither)",
                ))
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "admin_username",
                    "admin_password_hash is set: set admin_username too (or neither)",
                ))
            }
        }
        if self.admin_role.is_empty() {
            return Err(invalid("admin_role", "must not be empty"));
        }
        if let Some(bad) = self.admin_cors_origins.iter().find(|o| !is_origin(o)) {
            return Err(invalid(
                "admin_cors_origins",
                format!("`{bad}` is not an origin (scheme://host[:port]; `*` is not allowed here)"),
            ));
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
            ("ack_timeout_ms", self.ack_timeout_ms, 1),
            ("connect_timeout_ms", self.connect_timeout_ms, 1),
            ("max_queued_events", self.max_queued_events as u64, 1),
            ("recovery_max_packets", self.recovery_max_packets as u64, 1),
            (
                "max_client_info_bytes",
                self.max_client_info_bytes as u64,
                2,
            ),
            ("db_acquire_timeout_ms", self.db_acquire_timeout_ms, 1),
            ("presence_max_users", self.presence_max_users as u64, 1),
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

        if self.compression && self.compression_threshold > self.max_payload {
            return Err(invalid(
                "compression_threshold",
                format!(
                    "is above max_payload ({}): nothing would ever be compressed",
                    self.max_payload
                ),
            ));
        }

        for p in &self.trusted_proxies {
            crate::net::parse_net(p).map_err(|e| invalid("trusted_proxies", e))?;
        }

        Rules::from_config(&self.rules)?;
        Ok(())
    }
}

pub(super) fn validate_api_key(k: &ApiKey) -> Result<(), ConfigError> {
    if let Some(s) = k.scopes.iter().find(|s| !API_SCOPES.contains(&s.as_str())) {
        return Err(ConfigError::Invalid {
            key: format!("api_keys.{}.scopes", k.name),
            reason: format!("unknown scope `{s}` (expected publish, notifications or admin)"),
        });
    }
    Ok(())
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
