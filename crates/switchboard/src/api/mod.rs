//! The backend HTTP API and the engine endpoint, on one axum router.
//!
//! Handlers reach the features through [`ApiState`]; each route declares the API key
//! scopes it accepts where it is registered (see [`auth`]).

pub mod auth;
pub mod error;
pub mod feeds;
pub mod pages;
pub mod publish;
pub mod stats;
mod trace;

pub use auth::{AdminJwt, ApiKeys, Routes};
pub use error::{ApiError, ErrorBody};
pub use publish::{publish, PublishRequest};

use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use axum::{middleware, Extension, Json, Router};
use std::net::SocketAddr;
use std::sync::Arc;
use utoipa::OpenApi;

use crate::config::Config;
use crate::feeds::Feeds;
use crate::hub::Hub;
use crate::net::ClientAddr;
use crate::telemetry::Telemetry;

/// What the HTTP handlers reach.
pub struct ApiState {
    /// The features (KPIs, notifications, alerts).
    pub feeds: Arc<Feeds>,
    /// Counters and metrics.
    pub telemetry: Arc<Telemetry>,
    /// The engine.
    pub hub: Hub,
    /// Deepest JSON nesting a request body may have.
    pub max_json_depth: usize,
    /// Largest request body (per line for the publish stream).
    pub http_body_limit: usize,
}

/// Scope names (`config::API_SCOPES`) as routes declare them.
const PUBLISH: &[&str] = &["publish"];
const NOTIFICATIONS: &[&str] = &["notifications"];
const ADMIN: &[&str] = &["admin"];
/// Reads of live data: any scope.
const READ: &[&str] = &["publish", "notifications", "admin"];

/// The OpenAPI document, generated from the handlers and their types.
#[derive(OpenApi)]
#[openapi(
    info(title = "Switchboard HTTP API", description = "Publish events to Socket.IO rooms; read server stats."),
    paths(publish::publish_route, publish::publish_stream_route, publish::socket_event_route, stats::health, stats::stats, stats::socket_stats,
        feeds::put_kpis, feeds::get_kpis, feeds::post_notification, feeds::list_notifications, feeds::post_alert, feeds::list_alerts, feeds::get_presence),
    components(schemas(publish::PublishBody, publish::PublishRequest, publish::PublishResponse, publish::Delivery,
        publish::SocketEventRequest, stats::StatsResponse, stats::Stats, stats::RoomStat, stats::AddressStat, stats::TransportStats,
        error::ErrorBody, error::ErrorDetail, feeds::NotificationRequest, feeds::AlertRequest)),
    modifiers(&SecurityAddon)
)]
pub struct ApiDoc;

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let comps = openapi.components.get_or_insert_with(Default::default);
        comps.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The socket.io-client browser bundle, taken from the npm package at build time.
static CLIENT_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/socket.io.min.js"));

/// The backend API routes, each with the scopes it accepts.
fn api_routes() -> Routes<Arc<ApiState>> {
    use Method as M;
    Routes::new()
        .route(
            M::POST,
            "/api/v1/publish",
            post(publish::publish_route),
            PUBLISH,
        )
        .route(
            M::POST,
            "/api/v1/publish/stream",
            post(publish::publish_stream_route),
            PUBLISH,
        )
        .route(
            M::POST,
            "/api/test/socket-event",
            post(publish::socket_event_route),
            PUBLISH,
        )
        .route(
            M::PUT,
            "/api/v1/modules/{module}/kpis",
            put(feeds::put_kpis),
            PUBLISH,
        )
        .route(
            M::GET,
            "/api/v1/modules/{module}/kpis",
            get(feeds::get_kpis),
            READ,
        )
        .route(
            M::GET,
            "/api/v1/notifications",
            get(feeds::list_notifications),
            NOTIFICATIONS,
        )
        .route(
            M::POST,
            "/api/v1/notifications",
            post(feeds::post_notification),
            NOTIFICATIONS,
        )
        .route(
            M::POST,
            "/api/v1/alerts",
            post(feeds::post_alert),
            NOTIFICATIONS,
        )
        .route(M::GET, "/api/v1/alerts", get(feeds::list_alerts), READ)
        .route(
            M::GET,
            "/api/v1/rooms/{room}/presence",
            get(feeds::get_presence),
            READ,
        )
        .route(M::GET, "/api/v1/stats", get(stats::stats), ADMIN)
        .route(
            M::GET,
            "/api/test/socket-stats",
            get(stats::socket_stats),
            ADMIN,
        )
        .route(M::GET, "/metrics", get(metrics), ADMIN)
}

/// Everything served on the listening port.
pub fn router(
    sh: Arc<ApiState>,
    keys: Arc<ApiKeys>,
    admin_jwt: Option<AdminJwt>,
    config: &Config,
) -> Router {
    let api = api_routes()
        .guarded(keys, sh.telemetry.clone(), admin_jwt, Router::new())
        .layer(DefaultBodyLimit::max(config.http_body_limit));
    let cors = cors_layer(&config.cors_origins);
    let proxies = Arc::new(crate::net::TrustedProxies::from_config(
        &config.trusted_proxies,
    ));
    let root = if config.demo {
        Router::new().route("/", get(pages::demo))
    } else {
        Router::new()
    };
    root.merge(api.layer(cors))
        .route("/health", get(stats::health))
        .route(
            "/api/v1/openapi.json",
            get(|| async { Json(ApiDoc::openapi()) }),
        )
        .route("/demo", get(pages::demo))
        .route("/monitor", get(pages::monitor))
        .route("/admin-ui", get(crate::admin::ui::redirect))
        .route("/admin-ui/", get(crate::admin::ui::index))
        .route("/admin-ui/{*file}", get(crate::admin::ui::file))
        .route("/static/{file}", get(pages::asset))
        .route("/socket.io/socket.io.js", get(client_js))
        .route("/socket.io/socket.io.min.js", get(client_js))
        .route("/socket.io/", any(engine))
        .route("/socket.io", any(engine))
        .fallback(not_found)
        .layer(middleware::from_fn(
            move |mut req: Request, next: middleware::Next| {
                let client = req
                    .extensions()
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|c| proxies.client(c.0, req.headers()));
                if let Some(c) = client {
                    req.extensions_mut().insert(c);
                }
                next.run(req)
            },
        ))
        .with_state(sh)
}

/// CORS for the HTTP API from the same `cors_origins` the engine uses (none: no headers).
fn cors_layer(origins: &[String]) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let layer = CorsLayer::new()
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION]);
    if origins.iter().any(|o| o == "*") {
        layer.allow_origin(AllowOrigin::any())
    } else {
        let list: Vec<_> = origins.iter().filter_map(|o| o.parse().ok()).collect();
        layer.allow_origin(AllowOrigin::list(list))
    }
}

/// Hand Engine.IO requests (polling, WebSocket upgrade) to the engine.
async fn engine(
    State(sh): State<Arc<ApiState>>,
    Extension(client): Extension<ClientAddr>,
    mut req: Request,
) -> Response {
    req.extensions_mut().insert(sio::RemoteAddr(client.addr));
    sh.hub.io().handle(req).await.map(axum::body::Body::new)
}

/// Prometheus text exposition (same access rule as the API).
async fn metrics(State(sh): State<Arc<ApiState>>) -> Response {
    let body = sh.telemetry.render();
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn client_js() -> Response {
    if CLIENT_JS.is_empty() {
        return (StatusCode::SERVICE_UNAVAILABLE, "socket.io-client bundle was not available at build time (run `npm ci --prefix e2e` and rebuild)").into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                "application/javascript; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CLIENT_JS,
    )
        .into_response()
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}
