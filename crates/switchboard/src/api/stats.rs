//! `GET /health`, `GET /api/v1/stats` and the compatibility `GET /api/test/socket-stats`.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use utoipa::ToSchema;

use super::ApiState;
use crate::support::clock::timestamp;

/// A room and its member count.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomStat {
    /// Room name.
    pub name: String,
    /// Sockets in it on this node.
    pub members: usize,
}

/// Server statistics of this node.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    /// Connected Socket.IO clients.
    pub connections: u64,
    /// Open Engine.IO sessions by transport.
    pub transports: TransportStats,
    /// Rooms with members (sockets' private id rooms excluded).
    pub rooms: Vec<RoomStat>,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// Events received from clients, deliveries queued, slow consumers disconnected.
    #[schema(value_type = Object)]
    pub counters: Value,
    /// This node's name.
    pub node: String,
    /// Recent denied joins, refused tokens and slow-consumer disconnects, newest first.
    #[schema(value_type = Vec<Object>)]
    pub recent: Vec<Value>,
    /// The 10 client addresses with the most open sessions (for the per-IP caps).
    pub addresses: Vec<AddressStat>,
}

/// Open sessions of one client address.
#[derive(Debug, Serialize, ToSchema)]
pub struct AddressStat {
    /// The client address (behind a trusted proxy: the forwarded client).
    pub ip: String,
    /// Its open Engine.IO sessions.
    pub sessions: usize,
}

/// Sessions per transport.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransportStats {
    /// WebSocket sessions.
    pub websocket: usize,
    /// Long-polling sessions.
    pub polling: usize,
}

/// Statistics envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsResponse {
    /// Always `true`.
    pub success: bool,
    /// The figures.
    pub data: Stats,
}

/// Liveness and identity of the service (no API key needed).
#[utoipa::path(get, path = "/health", responses((status = 200, description = "healthy")))]
pub async fn health() -> Json<Value> {
    Json(json!({
        "success": true,
        "data": { "status": "healthy", "service": "switchboard", "websocket": "enabled", "timestamp": timestamp() }
    }))
}

/// Connections, rooms with member counts, counters.
#[utoipa::path(get, path = "/api/v1/stats", responses((status = 200, body = StatsResponse)), security(("api_key" = [])))]
pub async fn stats(State(sh): State<Arc<ApiState>>) -> Json<StatsResponse> {
    let ns = sh.hub.root();
    let io = sh.hub.io();
    let t = &sh.telemetry;
    let (websocket, polling) = io.sessions_by_transport();
    let e = io.stats();
    let c = &t.counters;
    Json(StatsResponse {
        success: true,
        data: Stats {
            connections: ns.socket_count() as u64,
            transports: TransportStats { websocket, polling },
            rooms: ns
                .rooms()
                .into_iter()
                .map(|(name, members)| RoomStat { name, members })
                .collect(),
            uptime_seconds: t.started.elapsed().as_secs(),
            addresses: io
                .busiest_addresses(10)
                .into_iter()
                .map(|(ip, sessions)| AddressStat {
                    ip: ip.to_string(),
                    sessions,
                })
                .collect(),
            node: t.node_id.clone(),
            recent: t.recent(),
            counters: json!({
                "events_in": e.events_in.load(Relaxed),
                "deliveries": e.deliveries.load(Relaxed),
                "broadcasts": e.broadcasts.load(Relaxed),
                "slow_consumers": e.slow_consumers.load(Relaxed),
                "volatile_dropped": e.volatile_dropped.load(Relaxed),
                "recoveries": e.recoveries.load(Relaxed),
                "malformed": e.malformed.load(Relaxed),
                "rule_errors": c.rule_errors.load(Relaxed),
                "denied_joins": c.denied_joins.load(Relaxed),
                "unknown_events": c.unknown_events.load(Relaxed),
                "client_errors": c.client_errors.load(Relaxed),
                "published": c.published.load(Relaxed),
                "api_errors": c.api_errors.load(Relaxed),
                "auth_failures": c.auth_failures.load(Relaxed),
                "events_out": e.deliveries.load(Relaxed) + e.emits.load(Relaxed),
                "ip_refused": e.ip_refused.load(Relaxed),
                "headers_too_large": e.headers_too_large.load(Relaxed),
                "handler_panics": e.handler_panics.load(Relaxed),
                "recovery_trimmed": e.recovery_trimmed.load(Relaxed),
                "recovery_evicted": e.recovery_evicted.load(Relaxed),
                "attachment_timeouts": e.attachment_timeouts.load(Relaxed),
                "rate_limited": c.rate_limited.load(Relaxed),
                "room_limited": c.room_limited.load(Relaxed),
                "too_deep": c.too_deep.load(Relaxed),
                "client_info_refused": c.client_info_refused.load(Relaxed),
            }),
        },
    })
}

/// `GET /api/test/socket-stats` (the booking tooling's envelope, README "HTTP API").
#[utoipa::path(get, path = "/api/test/socket-stats", responses((status = 200, description = "totals")), security(("api_key" = [])))]
pub async fn socket_stats(State(sh): State<Arc<ApiState>>) -> Json<Value> {
    let ns = sh.hub.root();
    Json(json!({
        "success": true,
        "data": { "totalConnections": ns.socket_count(), "activeRooms": ns.rooms().len(), "timestamp": timestamp() }
    }))
}
