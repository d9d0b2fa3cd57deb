//! API key check for the backend API: `Authorization: Bearer <key>`, compared in constant
//! time against every configured key; a key with scopes may only use the routes of those
//! scopes. With no key configured the API answers loopback clients only. Keys live in
//! `Shared::api_keys` and are replaced on SIGHUP from `api_keys_file` (rotation without a
//! restart).

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::app::{Counters, Shared};
use crate::net::ClientAddr;

/// Middleware guarding the backend API.
pub(crate) async fn require_api_key(
    State(sh): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    match check(&sh, &req) {
        Ok(()) => next.run(req).await,
        Err(e) => {
            Counters::inc(&sh.counters.api_errors);
            e.into_response()
        }
    }
}

/// The scope a route needs (`None`: any valid key).
fn required_scope(method: &Method, path: &str) -> Option<&'static str> {
    match (method, path) {
        (_, "/api/v1/publish" | "/api/test/socket-event") => Some("publish"),
        (&Method::PUT, p) if p.starts_with("/api/v1/modules/") => Some("publish"),
        (_, "/api/v1/notifications") => Some("notifications"),
        (&Method::POST, "/api/v1/alerts") => Some("notifications"),
        (_, "/api/v1/stats" | "/api/test/socket-stats" | "/metrics") => Some("admin"),
        _ => None,
    }
}

fn check(sh: &Shared, req: &Request) -> Result<(), ApiError> {
    let keys = sh.api_keys.read().expect("api keys lock");
    if keys.is_empty() {
        // A request carrying forwarding headers came through a proxy: never "loopback".
        let client = req.extensions().get::<ClientAddr>();
        return match client {
            Some(c) if !c.forwarded && c.addr.ip().is_loopback() => Ok(()),
            _ => Err(ApiError::Forbidden(
                "no API key is configured: the API answers loopback clients only",
            )),
        };
    }
    let presented = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim())
        .ok_or(ApiError::Unauthorized)?;
    // Compare against every key (no early exit) so timing says nothing about which matched.
    let mut matched = None;
    for (i, k) in keys.iter().enumerate() {
        if bool::from(presented.as_bytes().ct_eq(k.key.expose().as_bytes())) {
            matched = Some(i);
        }
    }
    let key = &keys[matched.ok_or(ApiError::Unauthorized)?];
    match required_scope(req.method(), req.uri().path()) {
        Some(scope) if !key.scopes.is_empty() && !key.scopes.iter().any(|s| s == scope) => {
            tracing::debug!(key = %key.name, scope, "API key lacks the scope");
            Err(ApiError::Forbidden(
                "this API key does not have the scope this route needs",
            ))
        }
        _ => Ok(()),
    }
}
