//! Every counter of the server in one place: the product's own ([`Counters`]), the
//! engine's (`sio::Stats`, read through the [`Hub`]), the Prometheus families recorded
//! where the work happens, and the recent notable events the monitor page lists.
//!
//! `GET /metrics` renders OpenMetrics text (`prometheus-client`); atomics are read at
//! scrape time by a collector, so there is no second copy of any counter.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::collections::HashSet;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use serde_json::Value;

use crate::hub::Hub;

type Labels = Vec<(String, String)>;

/// Distinct event names tracked per family; later names are counted as `other` so a
/// client or backend cannot grow the label set without bound.
const MAX_EVENT_LABELS: usize = 200;

/// Product-level counters (the engine keeps its own in `sio::Stats`).
#[derive(Debug, Default)]
pub struct Counters {
    /// Rule payloads that did not fit the rule (wrong type, missing field).
    pub rule_errors: AtomicU64,
    /// Joins refused by a permission.
    pub denied_joins: AtomicU64,
    /// Client events no rule or handler knows.
    pub unknown_events: AtomicU64,
    /// `clientError` reports from browsers.
    pub client_errors: AtomicU64,
    /// Events published through the HTTP API.
    pub published: AtomicU64,
    /// HTTP API requests refused (auth, validation).
    pub api_errors: AtomicU64,
    /// Connections refused for a missing or invalid token.
    pub auth_failures: AtomicU64,
    /// Admin namespace sign-ins refused (wrong password, non-admin or invalid token).
    pub admin_sign_in_failures: AtomicU64,
    /// Admin actions carried out (emit, join, leave, disconnect).
    pub admin_actions: AtomicU64,
    /// Admin actions refused (read-only mode, malformed arguments).
    pub admin_refused: AtomicU64,
    /// Client events refused by the per-socket rate limit.
    pub rate_limited: AtomicU64,
    /// Sockets disconnected for a sustained rate over the limit.
    pub rate_limit_disconnects: AtomicU64,
    /// `clientInfo` reports refused for their size.
    pub client_info_refused: AtomicU64,
    /// Joins refused by the rooms-per-socket cap.
    pub room_limited: AtomicU64,
    /// Payloads refused for nesting deeper than `max_json_depth`.
    pub too_deep: AtomicU64,
    /// Database errors seen by the API and the feeds.
    pub db_errors: AtomicU64,
    /// Broadcasts this node appended to the cluster bus.
    pub bus_published: AtomicU64,
    /// Bus entries this node read and delivered (its own included).
    pub bus_received: AtomicU64,
    /// Bus entries skipped: another namespace, a message type other than a broadcast,
    /// or a body that does not decode (binary/msgpack, broadcasts with acks).
    pub bus_skipped: AtomicU64,
    /// Broadcasts delivered on this node only because the bus was unreachable (or the
    /// broadcast carried binary attachments).
    pub bus_local_only: AtomicU64,
    /// Times the bus became unreachable (each outage counts once).
    pub bus_outages: AtomicU64,
    /// Bus entries trimmed from the stream before this node read them.
    pub bus_gaps: AtomicU64,
    /// `presence:join` / `presence:leave` events this node sent to a room.
    pub presence_events: AtomicU64,
    /// `presence:get` requests refused (not a member, not a presence room).
    pub presence_refused: AtomicU64,
    /// Presence changes the cluster store could not apply at once (retried, or resynced).
    pub presence_errors: AtomicU64,
}

/// Cluster mode as `/health` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterState {
    /// No `redis_url`.
    SingleNode,
    /// The bus answers.
    Ok,
    /// Redis is unreachable: local delivery only.
    Degraded,
}

impl ClusterState {
    /// As in `/health`'s `cluster` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SingleNode => "single-node",
            Self::Ok => "ok",
            Self::Degraded => "degraded",
        }
    }
}

/// What the cluster tells the rest of the server: its state and the live nodes' latest
/// heartbeats (each node's figures as `LoadMetrics` measures them).
#[derive(Debug)]
pub struct ClusterView {
    state: Mutex<ClusterState>,
    nodes: Mutex<Vec<Value>>,
}

impl Default for ClusterView {
    fn default() -> Self {
        Self {
            state: Mutex::new(ClusterState::SingleNode),
            nodes: Mutex::new(Vec::new()),
        }
    }
}

impl ClusterView {
    /// The current state.
    pub fn state(&self) -> ClusterState {
        *self.state.lock()
    }
    /// Set the state; returns the previous one.
    pub fn set_state(&self, s: ClusterState) -> ClusterState {
        std::mem::replace(&mut *self.state.lock(), s)
    }
    /// The live nodes (empty on a single node).
    pub fn nodes(&self) -> Vec<Value> {
        self.nodes.lock().clone()
    }
    /// Replace the live nodes.
    pub fn set_nodes(&self, nodes: Vec<Value>) {
        *self.nodes.lock() = nodes;
    }
}

/// Add one to `c`.
pub fn inc(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

/// The server's counters, metric families and recent notable events.
pub struct Telemetry {
    registry: Registry,
    /// The product's counters.
    pub counters: Arc<Counters>,
    /// This node's name in stats (`host:pid`).
    pub node_id: String,
    /// Process start.
    pub started: Instant,
    /// Cluster state and the live nodes.
    pub cluster: ClusterView,
    /// Recent notable events (denied joins, refused tokens, slow consumers), newest last.
    recent: Mutex<VecDeque<Value>>,
    /// Client events received, by event name.
    pub events_in: Family<Labels, Counter>,
    /// Events published through the HTTP API, by event name.
    pub published: Family<Labels, Counter>,
    /// `POST /api/v1/publish` handling time.
    pub publish_seconds: Histogram,
    /// Duration of one periodic feed tick, by feed.
    pub tick_seconds: Family<Labels, Histogram>,
    /// Cluster bus: time from an entry's append (its stream id) to its delivery here.
    pub bus_lag_seconds: Histogram,
    seen: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Telemetry")
    }
}

impl Telemetry {
    /// Most notable events kept for the monitor page.
    pub const RECENT: usize = 50;

    /// Build the registry; the engine behind `hub` is read at scrape time.
    pub fn new(hub: Hub, node_id: String) -> Self {
        let counters = Arc::new(Counters::default());
        let mut registry = Registry::with_prefix("switchboard");
        let events_in = Family::<Labels, Counter>::default();
        let published = Family::<Labels, Counter>::default();
        let publish_seconds = Histogram::new(exponential_buckets(0.00005, 2.0, 16));
        let tick_seconds = Family::<Labels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.00005, 2.0, 16))
        });
        registry.register(
            "client_events",
            "Client events received, by event name",
            events_in.clone(),
        );
        registry.register(
            "published_events",
            "Events published through the HTTP API, by event name",
            published.clone(),
        );
        registry.register(
            "publish_request_duration_seconds",
            "Handling time of POST /api/v1/publish",
            publish_seconds.clone(),
        );
        registry.register(
            "feed_tick_duration_seconds",
            "Duration of one periodic feed tick",
            tick_seconds.clone(),
        );
        let bus_lag_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        registry.register(
            "cluster_bus_lag_seconds",
            "Cluster bus: from an entry's append to Redis (its stream id) to its delivery on this node",
            bus_lag_seconds.clone(),
        );
        registry.register_collector(Box::new(Live {
            hub,
            counters: counters.clone(),
        }));
        Self {
            registry,
            counters,
            node_id,
            started: Instant::now(),
            cluster: ClusterView::default(),
            recent: Mutex::new(VecDeque::with_capacity(Self::RECENT)),
            events_in,
            published,
            publish_seconds,
            tick_seconds,
            bus_lag_seconds,
            seen: Mutex::new(HashSet::new()),
        }
    }

    /// Remember a notable event (`kind`: `denied_join`, `auth_failure`, `slow_consumer`).
    pub fn note(&self, kind: &str, detail: Value) {
        let mut r = self.recent.lock();
        if r.len() == Self::RECENT {
            r.pop_front();
        }
        r.push_back(serde_json::json!({ "kind": kind, "detail": detail, "time": crate::support::clock::timestamp() }));
    }

    /// The recent notable events, newest first.
    pub fn recent(&self) -> Vec<Value> {
        self.recent.lock().iter().rev().cloned().collect()
    }

    /// Count one client event by name (bounded label set).
    pub fn event_in(&self, event: &str) {
        self.events_in.get_or_create(&self.event_label(event)).inc();
    }

    /// A database error seen by the API or a feed.
    pub fn db_error(&self) {
        inc(&self.counters.db_errors);
    }

    /// The label for `event`, bounded.
    pub fn event_label(&self, event: &str) -> Labels {
        let mut seen = self.seen.lock();
        let name = if seen.contains(event) {
            event.to_owned()
        } else if seen.len() < MAX_EVENT_LABELS {
            seen.insert(event.to_owned());
            event.to_owned()
        } else {
            "other".to_owned()
        };
        vec![("event".to_owned(), name)]
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String");
        out
    }
}

/// Reads the engine's and the product's atomics at scrape time.
#[derive(Debug)]
struct Live {
    hub: Hub,
    counters: Arc<Counters>,
}

fn counter(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: u64,
) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(v);
    c.encode(enc.encode_descriptor(name, help, None, c.metric_type())?)
}

fn gauge(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: i64,
) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(v);
    g.encode(enc.encode_descriptor(name, help, None, g.metric_type())?)
}

impl Collector for Live {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let io = self.hub.io();
        let e = io.stats();
        let c = &self.counters;
        let (ws, polling) = io.sessions_by_transport();
        {
            let g = ConstGauge::new(0i64);
            let mut fam = enc.encode_descriptor(
                "connections",
                "Open Engine.IO sessions by transport",
                None,
                g.metric_type(),
            )?;
            for (t, v) in [("websocket", ws), ("polling", polling)] {
                ConstGauge::new(v as i64)
                    .encode(fam.encode_family(&vec![("transport".to_owned(), t.to_owned())])?)?;
            }
        }
        let ns = self.hub.root();
        gauge(
            &mut enc,
            "sockets",
            "Connected Socket.IO clients",
            ns.socket_count() as i64,
        )?;
        gauge(
            &mut enc,
            "rooms",
            "Rooms with members",
            ns.room_count() as i64,
        )?;
        gauge(
            &mut enc,
            "process_resident_memory_bytes",
            "Resident set size",
            crate::support::process::rss_bytes() as i64,
        )?;
        counter(
            &mut enc,
            "connections_opened",
            "Engine.IO sessions opened",
            e.connections_total.load(Relaxed),
        )?;
        counter(
            &mut enc,
            "broadcasts",
            "Broadcasts requested",
            e.broadcasts.load(Relaxed),
        )?;
        counter(
            &mut enc,
            "deliveries",
            "Broadcast deliveries queued (one per member)",
            e.deliveries.load(Relaxed),
        )?;
        counter(
            &mut enc,
            "direct_emits",
            "Packets emitted to single sockets",
            e.emits.load(Relaxed),
        )?;
        counter(
            &mut enc,
            "volatile_dropped",
            "Volatile packets dropped for full queues",
            e.volatile_dropped.load(Relaxed),
        )?;
        counter(
            &mut enc,
            "slow_consumer_disconnects",
            "Connections closed because their queue was full",
            e.slow_consumers.load(Relaxed),
        )?;
        {
            let z = ConstCounter::new(0u64);
            let mut fam = enc.encode_descriptor(
                "recoveries",
                "Connection state recovery attempts by result",
                None,
                z.metric_type(),
            )?;
            for (r, v) in [
                ("success", e.recoveries.load(Relaxed)),
                ("failure", e.recovery_failures.load(Relaxed)),
            ] {
                ConstCounter::new(v)
                    .encode(fam.encode_family(&vec![("result".to_owned(), r.to_owned())])?)?;
            }
        }
        counter(
            &mut enc,
            "malformed_packets",
            "Malformed frames or packets (that connection was closed)",
            e.malformed.load(Relaxed),
        )?;
        counter(
            &mut enc,
            "denied_joins",
            "Joins refused by a permission",
            c.denied_joins.load(Relaxed),
        )?;
        counter(
            &mut enc,
            "rule_errors",
            "Rule payloads that did not fit the rule",
            c.rule_errors.load(Relaxed),
        )?;
        counter(
            &mut enc,
            "unknown_events",
            "Client events no rule or handler knows",
            c.unknown_events.load(Relaxed),
        )?;
        counter(
            &mut enc,
            "client_errors",
            "clientError reports from browsers",
            c.client_errors.load(Relaxed),
        )?;
        counter(
            &mut enc,
            "auth_failures",
            "Connections refused for a missing or invalid token",
            c.auth_failures.load(Relaxed),
        )?;
        counter(
            &mut enc,
            "api_errors",
            "HTTP API requests refused",
            c.api_errors.load(Relaxed),
        )?;
        counter(
            &mut enc,
            "admin_sign_in_failures",
            "Admin namespace sign-ins refused",
            c.admin_sign_in_failures.load(Relaxed),
        )?;
        counter(
            &mut enc,
            "admin_actions",
            "Admin UI actions carried out",
            c.admin_actions.load(Relaxed),
        )?;
        counter(
            &mut enc,
            "admin_refused",
            "Admin UI actions refused",
            c.admin_refused.load(Relaxed),
        )?;
        counter(
            &mut enc,
            "rate_limited_events",
            "Client events refused by the per-socket rate limit",
            c.rate_limited.load(Relaxed),
        )?;
        for (name, help, v) in [
            (
                "cluster_bus_published",
                "Broadcasts appended to the cluster bus",
                &c.bus_published,
            ),
            (
                "cluster_bus_received",
                "Cluster bus entries read and delivered",
                &c.bus_received,
            ),
            (
                "cluster_bus_skipped",
                "Cluster bus entries skipped (other namespace or type, undecodable)",
                &c.bus_skipped,
            ),
            (
                "cluster_local_only",
                "Broadcasts delivered on this node only (bus unreachable, or binary)",
                &c.bus_local_only,
            ),
            (
                "cluster_bus_outages",
                "Times the cluster bus became unreachable",
                &c.bus_outages,
            ),
            (
                "cluster_bus_gaps",
                "Bus entries trimmed before this node read them",
                &c.bus_gaps,
            ),
            (
                "presence_events",
                "presence:join / presence:leave events sent to rooms",
                &c.presence_events,
            ),
            (
                "presence_refused",
                "presence:get requests refused (not a member, not a presence room)",
                &c.presence_refused,
            ),
            (
                "presence_errors",
                "Presence changes the cluster store could not apply at once",
                &c.presence_errors,
            ),
        ] {
            counter(&mut enc, name, help, v.load(Relaxed))?;
        }
        counter(
            &mut enc,
            "rate_limit_disconnects",
            "Sockets disconnected for a sustained rate over the limit",
            c.rate_limit_disconnects.load(Relaxed),
        )?;
        for (name, help, v) in [
            (
                "ip_limited_connections",
                "Handshakes refused by the per-IP caps (max_connections_per_ip, max_pending_per_ip)",
                e.ip_refused.load(Relaxed),
            ),
            (
                "headers_too_large",
                "Handshakes refused for request headers over 16 KiB",
                e.headers_too_large.load(Relaxed),
            ),
            (
                "handler_panics",
                "Handler panics caught (the connection and the server went on)",
                e.handler_panics.load(Relaxed),
            ),
            (
                "recovery_trimmed",
                "Recovery packets trimmed early for the count or byte budget",
                e.recovery_trimmed.load(Relaxed),
            ),
            (
                "recovery_evicted",
                "Disconnected sessions evicted early from the recovery store",
                e.recovery_evicted.load(Relaxed),
            ),
            (
                "attachment_timeouts",
                "Binary packets whose attachments never came (connection closed)",
                e.attachment_timeouts.load(Relaxed),
            ),
            (
                "messages_too_large",
                "WebSocket messages over max_payload (inflated size if compressed), closed with 1009",
                e.messages_too_large.load(Relaxed),
            ),
            (
                "deflated_messages_in",
                "Compressed (permessage-deflate) client messages received",
                e.deflated_in.load(Relaxed),
            ),
            (
                "parser_mismatch",
                "Clients refused for speaking the other Socket.IO parser (json / msgpack)",
                e.parser_mismatch.load(Relaxed),
            ),
            (
                "client_info_refused",
                "clientInfo reports refused for their size",
                c.client_info_refused.load(Relaxed),
            ),
        ] {
            counter(&mut enc, name, help, v)?;
        }
        counter(
            &mut enc,
            "room_limited_joins",
            "Joins refused by the rooms-per-socket cap",
            c.room_limited.load(Relaxed),
        )?;
        counter(
            &mut enc,
            "too_deep_payloads",
            "Payloads refused for nesting too deep",
            c.too_deep.load(Relaxed),
        )?;
        counter(
            &mut enc,
            "database_errors",
            "Database errors seen by the API and feeds",
            c.db_errors.load(Relaxed),
        )?;
        Ok(())
    }
}
