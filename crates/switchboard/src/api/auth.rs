//! API keys for the backend API: `Authorization: Bearer <key>`, compared in constant time
//! against every configured key. With no key configured the API answers loopback clients
//! only.
//!
//! Scopes are declared where routes are registered ([`Routes::route`]): a key with scopes
//! may use a route only when the route names one of them, so a route added without a
//! scope is refused to every scoped key instead of silently accepting it. Keys live in
//! [`ApiKeys`] and are replaced on SIGHUP from `api_keys_file` (rotation without a
//! restart).
//!
//! An admin's JWT ([`AdminJwt`]: the clients' token whose `roles` hold `admin_role`) is
//! accepted like an `admin`-scoped key, so an operator opens the monitor with their own
//! sign-in instead of a shared key.

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::config::ApiKey;
use crate::identity::Verifier;
use crate::net::ClientAddr;
use crate::telemetry::{inc, Telemetry};

/// The configured backend API keys.
#[derive(Debug, Default)]
pub struct ApiKeys(RwLock<Vec<ApiKey>>);

impl ApiKeys {
    /// These keys.
    pub fn new(keys: Vec<ApiKey>) -> Self {
        Self(RwLock::new(keys))
    }
    /// Replace every key (SIGHUP reload).
    pub fn replace(&self, keys: Vec<ApiKey>) {
        *self.0.write() = keys;
    }
    /// No key configured: loopback only.
    pub fn is_empty(&self) -> bool {
        self.0.read().is_empty()
    }
}

/// Admin JWTs: verified with the clients' verifier, admitted with `role`.
pub struct AdminJwt {
    /// The clients' token verifier.
    pub verifier: Arc<Verifier>,
    /// The role that makes a token an admin's.
    pub role: String,
}

/// The scopes each route accepts, by method and route template.
type ScopeTable = HashMap<(Method, &'static str), &'static [&'static str]>;

/// A router whose every route declares the scopes it accepts.
pub struct Routes<S> {
    router: Router<S>,
    scopes: ScopeTable,
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    /// No routes yet.
    pub fn new() -> Self {
        Self {
            router: Router::new(),
            scopes: HashMap::new(),
        }
    }

    /// Add `handler` (a one-method router) for `method` on `path`, open to keys with any
    /// of `scopes` (and to keys without scopes).
    pub fn route(
        mut self,
        method: Method,
        path: &'static str,
        handler: MethodRouter<S>,
        scopes: &'static [&'static str],
    ) -> Self {
        self.scopes.insert((method, path), scopes);
        self.router = self.router.route(path, handler);
        self
    }

    /// The router, guarded by the key check with the declared scopes. Routes merged into
    /// `extra` before this call (declared nowhere) accept only keys without scopes.
    pub fn guarded(
        self,
        keys: Arc<ApiKeys>,
        telemetry: Arc<Telemetry>,
        admin_jwt: Option<AdminJwt>,
        extra: Router<S>,
    ) -> Router<S> {
        let guard = Arc::new(Guard {
            keys,
            telemetry,
            admin_jwt,
            scopes: self.scopes,
        });
        self.router
            .merge(extra)
            .layer(axum::middleware::from_fn_with_state(guard, require_api_key))
    }
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Self::new()
    }
}

struct Guard {
    keys: Arc<ApiKeys>,
    telemetry: Arc<Telemetry>,
    admin_jwt: Option<AdminJwt>,
    scopes: ScopeTable,
}

/// The backend API's one middleware (added with `Router::layer`, so it runs after routing
/// and sees the matched route): the request's span, and in it the key check. One layer
/// rather than a layer each: every layer is a boxed service cloned per request (the
/// publish profile showed ~3% of the core per layer).
async fn require_api_key(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    super::trace::in_span(req, |req| async move {
        match guard.check(&req) {
            Ok(()) => next.run(req).await,
            Err(e) => {
                inc(&guard.telemetry.counters.api_errors);
                e.into_response()
            }
        }
    })
    .await
}

impl Guard {
    /// The scopes declared for this request's route (`HEAD` is answered by `GET`).
    fn declared(&self, req: &Request) -> Option<&'static [&'static str]> {
        let path = req.extensions().get::<MatchedPath>()?.as_str();
        let method = if req.method() == Method::HEAD {
            Method::GET
        } else {
            req.method().clone()
        };
        self.scopes
            .iter()
            .find(|((m, p), _)| *m == method && *p == path)
            .map(|(_, s)| *s)
    }

    /// An API key, or else an admin's JWT on a route that accepts `admin` keys.
    fn check(&self, req: &Request) -> Result<(), ApiError> {
        let refused = match self.check_key(req) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        let (Some(jwt), Some(token)) = (&self.admin_jwt, bearer(req)) else {
            return Err(refused);
        };
        if token.split('.').count() != 3 {
            return Err(refused);
        }
        let who = jwt.verifier.identify(Some(token)).map_err(|e| {
            tracing::debug!(error = %e, "admin token refused");
            ApiError::Unauthorized
        })?;
        // A tenant's admin is not the server's: the monitoring data spans every tenant.
        if !who.roles.contains(&jwt.role) || who.tenant.is_some() {
            return Err(ApiError::Forbidden(
                "this token does not carry the admin role (or names a tenant)",
            ));
        }
        // Only the routes reserved to `admin` keys (monitoring), not those every scope
        // may read.
        if self.declared(req).unwrap_or_default() == ["admin"] {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "an admin token opens the monitoring routes only; use an API key",
            ))
        }
    }

    fn check_key(&self, req: &Request) -> Result<(), ApiError> {
        let keys = self.keys.0.read();
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
        let presented = bearer(req).ok_or(ApiError::Unauthorized)?;
        // Compare against every key (no early exit) so timing says nothing about which
        // matched.
        let mut matched = None;
        for (i, k) in keys.iter().enumerate() {
            if bool::from(presented.as_bytes().ct_eq(k.key.expose().as_bytes())) {
                matched = Some(i);
            }
        }
        let key = &keys[matched.ok_or(ApiError::Unauthorized)?];
        if key.scopes.is_empty() {
            return Ok(());
        }
        let declared = self.declared(req).unwrap_or_default();
        if key.scopes.iter().any(|s| declared.contains(&s.as_str())) {
            Ok(())
        } else {
            tracing::debug!(key = %key.name, ?declared, "API key lacks the scope");
            Err(ApiError::Forbidden(
                "this API key does not have the scope this route needs",
            ))
        }
    }
}

/// The `Authorization: Bearer` value.
fn bearer(req: &Request) -> Option<&str> {
    req.headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    fn key(name: &str, scopes: &[&str]) -> ApiKey {
        ApiKey {
            name: name.into(),
            key: format!("k-{name}").as_str().into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// `/declared` names `publish`; `/later` is merged in without a scope, as a route
    /// added later by someone who forgot to declare one.
    fn app() -> Router {
        let keys = Arc::new(ApiKeys::new(vec![
            key("pub", &["publish"]),
            key("ops", &["admin"]),
            key("all", &[]),
        ]));
        let telemetry = Arc::new(Telemetry::new(crate::hub::Hub::new(), "test".into()));
        Routes::new()
            .route(
                Method::GET,
                "/declared",
                get(|| async { "ok" }),
                &["publish"],
            )
            .guarded(
                keys,
                telemetry,
                None,
                Router::new().route("/later", get(|| async { "ok" })),
            )
    }

    async fn status(path: &str, key: &str) -> u16 {
        let req = axum::http::Request::get(path)
            .header("authorization", format!("Bearer k-{key}"))
            .body(Body::empty())
            .unwrap();
        app().oneshot(req).await.unwrap().status().as_u16()
    }

    #[tokio::test]
    async fn scoped_keys_use_only_routes_that_name_their_scope() {
        assert_eq!(status("/declared", "pub").await, 200);
        assert_eq!(
            status("/declared", "ops").await,
            403,
            "admin is not publish"
        );
        assert_eq!(
            status("/declared", "all").await,
            200,
            "no scopes: everything"
        );
        assert_eq!(status("/declared", "nobody").await, 401);
        // A route with no declared scope refuses every scoped key.
        assert_eq!(status("/later", "pub").await, 403);
        assert_eq!(status("/later", "ops").await, 403);
        assert_eq!(status("/later", "all").await, 200);
    }

    const SECRET: &str = "a-test-secret-long-enough-for-hs256-0123";

    fn admin_app() -> Router {
        let keys = Arc::new(ApiKeys::new(vec![key("all", &[])]));
        let telemetry = Arc::new(Telemetry::new(crate::hub::Hub::new(), "test".into()));
        let verifier = Verifier::new(
            crate::config::AuthMode::Optional,
            Some((
                jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes()),
                jsonwebtoken::Algorithm::HS256,
            )),
        );
        Routes::new()
            .route(Method::GET, "/stats", get(|| async { "ok" }), &["admin"])
            .route(
                Method::GET,
                "/publish",
                get(|| async { "ok" }),
                &["publish"],
            )
            .route(
                Method::GET,
                "/read",
                get(|| async { "ok" }),
                &["publish", "admin"],
            )
            .guarded(
                keys,
                telemetry,
                Some(AdminJwt {
                    verifier: Arc::new(verifier),
                    role: "admin".into(),
                }),
                Router::new(),
            )
    }

    async fn status_with(path: &str, bearer: &str) -> u16 {
        let req = axum::http::Request::get(path)
            .header("authorization", format!("Bearer {bearer}"))
            .body(Body::empty())
            .unwrap();
        admin_app().oneshot(req).await.unwrap().status().as_u16()
    }

    fn token(secret: &str, roles: &[&str], ttl_secs: u64) -> String {
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        crate::identity::mint(
            secret,
            "ops",
            &roles,
            None,
            std::time::Duration::from_secs(ttl_secs),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn an_admin_jwt_opens_the_admin_routes_only() {
        let admin = token(SECRET, &["admin"], 600);
        assert_eq!(status_with("/stats", &admin).await, 200);
        assert_eq!(
            status_with("/publish", &admin).await,
            403,
            "not a publish key"
        );
        assert_eq!(
            status_with("/stats", &token(SECRET, &["staff"], 600)).await,
            403
        );
        assert_eq!(
            status_with("/read", &admin).await,
            403,
            "feeds are for keys"
        );
        let tenant_admin = crate::identity::mint(
            SECRET,
            "ops",
            &["admin".to_string()],
            Some("acme"),
            std::time::Duration::from_secs(600),
        )
        .unwrap();
        assert_eq!(status_with("/stats", &tenant_admin).await, 403);
        let forged = token("another-secret-long-enough-for-hs256-0123", &["admin"], 600);
        assert_eq!(status_with("/stats", &forged).await, 401);
        // Expired long ago.
        let claims = crate::identity::Claims {
            sub: "ops".into(),
            roles: vec!["admin".into()],
            tenant: None,
            exp: 1_000,
            nbf: None,
        };
        let old = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert_eq!(status_with("/stats", &old).await, 401);
        // The API key still works, and garbage is still 401.
        assert_eq!(status_with("/stats", "k-all").await, 200);
        assert_eq!(status_with("/stats", "nope").await, 401);
    }
}
