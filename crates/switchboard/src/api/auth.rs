//! API key check for `/api/*`: `Authorization: Bearer <key>`, compared in constant time.
//! With no key configured the API answers loopback clients only.

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::app::{Counters, Shared};

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

fn check(sh: &Shared, req: &Request) -> Result<(), ApiError> {
    let keys = &sh.config.api_keys;
    if keys.is_empty() {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        return match peer {
            Some(p) if p.ip().is_loopback() => Ok(()),
            _ => Err(ApiError::Forbidden(
                "no API key is configured: the API answers loopback clients only",
            )),
        };
    }
    let presented = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized)?;
    // Compare against every key (no early exit) so timing says nothing about which matched.
    let mut ok = subtle::Choice::from(0u8);
    for k in keys {
        ok |= presented.as_bytes().ct_eq(k.key.expose().as_bytes());
    }
    if bool::from(ok) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}
