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
    /// Cluster totals and one entry per live node (each node's latest heartbeat);
    /// on a single node, this node alone.
    #[schema(value_type = Object)]
    pub cluster: Value,
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

/// Liveness and identity of the service (no API key needed). `cluster`: `single-node`
/// (no Redis configured), `ok`, or `degraded` (Redis unreachable: this node serves its
/// own clients only).
#[utoipa::path(get, path = "/health", responses((status = 200, description = "healthy")))]
pub async fn health(State(sh): State<Arc<ApiState>>) -> Json<Value> {
    Json(json!({
        "success": true,
        "data": {
            "status": "healthy", "service": "switchboard", "websocket": "enabled",
            "cluster": sh.telemetry.cluster.state().as_str(),
            "node": sh.telemetry.node_id,
            "timestamp": timestamp()
        }
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
            cluster: cluster_view(&sh),
            recent: t.recent(),
            counters: json!({
                "events_in": e.events_in.load(Relaxed),
                "deliveries": e.deliveries.load(Relaxed),
                "broadcasts": e.broadcasts.load(Relaxed),
                "slow_consumers": e.slow_consumers.load(Relaxed),
                "volatile_dropped": e.volatile_dropped.load(Relaxed),
                "recoveries": e.recoveries.load(Relaxed),
                "recovery_failures": e.recovery_failures.load(Relaxed),
                "malformed": e.malformed.load(Relaxed),
                "rule_errors": c.rule_errors.load(Relaxed),
                "denied_joins": c.denied_joins.load(Relaxed),
                "unknown_events": c.unknown_events.load(Relaxed),
                "client_errors": c.client_errors.load(Relaxed),
                "published": c.published.load(Relaxed),
                "api_errors": c.api_errors.load(Relaxed),
                "auth_failures": c.auth_failures.load(Relaxed),
                "admin_sign_in_failures": c.admin_sign_in_failures.load(Relaxed),
                "admin_actions": c.admin_actions.load(Relaxed),
                "admin_refused": c.admin_refused.load(Relaxed),
                "events_out": e.deliveries.load(Relaxed) + e.emits.load(Relaxed),
                "ip_refused": e.ip_refused.load(Relaxed),
                "headers_too_large": e.headers_too_large.load(Relaxed),
                "handler_panics": e.handler_panics.load(Relaxed),
                "recovery_trimmed": e.recovery_trimmed.load(Relaxed),
                "recovery_evicted": e.recovery_evicted.load(Relaxed),
                "attachment_timeouts": e.attachment_timeouts.load(Relaxed),
                "messages_too_large": e.messages_too_large.load(Relaxed),
                "deflated_messages_in": e.deflated_in.load(Relaxed),
                "parser_mismatch": e.parser_mismatch.load(Relaxed),
                "rate_limited": c.rate_limited.load(Relaxed),
                "room_limited": c.room_limited.load(Relaxed),
                "too_deep": c.too_deep.load(Relaxed),
                "client_info_refused": c.client_info_refused.load(Relaxed),
                "bus_published": c.bus_published.load(Relaxed),
                "bus_received": c.bus_received.load(Relaxed),
                "bus_skipped": c.bus_skipped.load(Relaxed),
                "bus_local_only": c.bus_local_only.load(Relaxed),
                "bus_outages": c.bus_outages.load(Relaxed),
                "bus_gaps": c.bus_gaps.load(Relaxed),
                "presence_events": c.presence_events.load(Relaxed),
                "presence_refused": c.presence_refused.load(Relaxed),
                "presence_errors": c.presence_errors.load(Relaxed),
            }),
        },
    })
}

/// `{ state, nodes: [...], totals: { nodes, connections } }` from the registry.
fn cluster_view(sh: &ApiState) -> Value {
    let m = sh.feeds.load.measure();
    json!({
        "state": sh.telemetry.cluster.state().as_str(),
        "nodes": m["nodes"],
        "totals": m["totals"],
    })
}

/// `GET /api/test/socket-stats` (the booking tooling's envelope, README "HTTP API").
/// In a cluster the totals are the live nodes' (from their heartbeats) and `nodes` lists
/// each; `activeRooms` stays this node's.
#[utoipa::path(get, path = "/api/test/socket-stats", responses((status = 200, description = "totals")), security(("api_key" = [])))]
pub async fn socket_stats(State(sh): State<Arc<ApiState>>) -> Json<Value> {
    let ns = sh.hub.root();
    let nodes = sh.telemetry.cluster.nodes();
    if nodes.is_empty() {
        // A single node: the booking tooling's exact envelope.
        return Json(json!({
            "success": true,
            "data": { "totalConnections": ns.socket_count(), "activeRooms": ns.rooms().len(), "timestamp": timestamp() }
        }));
    }
    let total: u64 = nodes
        .iter()
        .map(|n| n["connections"].as_u64().unwrap_or(0))
        .sum();
    Json(json!({
        "success": true,
        "data": {
            "totalConnections": total, "activeRooms": ns.rooms().len(),
            "nodes": nodes.iter().map(|n| json!({ "node": n["node"], "connections": n["connections"] })).collect::<Vec<_>>(),
            "timestamp": timestamp()
        }
    }))
}
