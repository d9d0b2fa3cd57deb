//! The live notifications of the Admin UI (`socket_connected`, `socket_disconnected`,
//! `room_joined`, `room_left`, `event_received`, `event_sent`), fed by the engine's
//! observer hook, and the socket shape the UI lists.
//!
//! Every hook returns at once while no admin watches (one atomic load). The admin
//! namespace's own events are not reported (the notifications would report themselves).

use parking_lot::Mutex;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use super::relay::{AdminMessage, Peers};
use crate::hub::Hub;
use crate::rules::Identity;
use crate::support::clock::{now_ms, timestamp};
use crate::telemetry::{inc, Telemetry};

/// How long a node keeps sending its notifications to the others after it last heard
/// that an admin watches there: three of the watching node's stats ticks.
const REMOTE_WATCH_MS: i64 = 3 * super::STATS_EVERY.as_millis() as i64;

/// The engine observer, and the one way to reach the admins.
pub(super) struct Live {
    hub: Hub,
    telemetry: Arc<Telemetry>,
    /// The other nodes' admin namespaces (cluster mode).
    pub(super) peers: Peers,
    /// Connected admin sockets of this node.
    watchers: AtomicUsize,
    /// Until when (ms since the epoch) an admin watches on another node.
    remote_until: AtomicI64,
    /// Disconnections by reason since the last stats tick.
    disconnections: Mutex<HashMap<&'static str, u64>>,
}

impl Live {
    pub(super) fn new(hub: Hub, telemetry: Arc<Telemetry>) -> Self {
        Self {
            hub,
            telemetry,
            peers: Peers::default(),
            watchers: AtomicUsize::new(0),
            remote_until: AtomicI64::new(0),
            disconnections: Mutex::new(HashMap::new()),
        }
    }

    /// An admin socket connected / left.
    pub(super) fn watch(&self, on: bool) {
        if on {
            self.watchers.fetch_add(1, Relaxed);
        } else {
            self.watchers.fetch_sub(1, Relaxed);
        }
    }

    /// An admin watches on another node: send the notifications there too for a while.
    pub(super) fn watched_elsewhere(&self) {
        self.remote_until
            .fetch_max(now_ms() + REMOTE_WATCH_MS, Relaxed);
    }

    /// An admin socket is connected here.
    pub(super) fn watched_here(&self) -> bool {
        self.watchers.load(Relaxed) > 0
    }

    /// Read by every hook: while no other node ever said an admin watches (always on a
    /// single node), one atomic load and no clock read.
    fn watched_remotely(&self) -> bool {
        let until = self.remote_until.load(Relaxed);
        until != 0 && until > now_ms()
    }

    /// An admin watches, here or on another node: the hooks do nothing otherwise.
    pub(super) fn watched(&self) -> bool {
        self.watched_here() || self.watched_remotely()
    }

    /// Disconnections by reason since the last call.
    pub(super) fn take_disconnections(&self) -> HashMap<&'static str, u64> {
        std::mem::take(&mut *self.disconnections.lock())
    }

    /// Send to every admin socket of the cluster (volatile: a slow admin misses updates
    /// rather than being disconnected). `args` are the event's arguments.
    pub(super) fn to_admins(&self, event: &str, args: &[Value]) {
        let args: Vec<String> = args.iter().map(Value::to_string).collect();
        self.to_admins_raw(event, args.join(","));
    }

    /// [`Live::to_admins`] with the arguments already JSON, joined by commas.
    fn to_admins_raw(&self, event: &str, args: String) {
        if self.watched_remotely() {
            let msg = AdminMessage::Notify {
                event: event.to_owned(),
                args: args.clone(),
            };
            if !self.peers.tell(msg) {
                inc(&self.telemetry.counters.bus_local_only);
            }
        }
        self.to_admins_here(event, args);
    }

    /// Send to the admin sockets of this node only (a notification from another node).
    pub(super) fn to_admins_here(&self, event: &str, args: String) {
        if !self.watched_here() {
            return;
        }
        if let Some(ns) = self.hub.io().of("/admin") {
            ns.broadcast()
                .local()
                .volatile()
                .emit_raw(event, args, Vec::new());
        }
    }
}

impl sio::Observer for Live {
    fn connected(&self, socket: &sio::Socket) {
        if self.watched() {
            self.to_admins("socket_connected", &[serialize(socket), json!(timestamp())]);
        }
    }

    fn disconnected(&self, socket: &sio::Socket, reason: sio::DisconnectReason) {
        if self.watched() {
            *self
                .disconnections
                .lock()
                .entry(reason.as_str())
                .or_default() += 1;
            self.to_admins(
                "socket_disconnected",
                &[
                    json!(socket.ns_name()),
                    json!(socket.id()),
                    json!(reason.as_str()),
                    json!(timestamp()),
                ],
            );
        }
    }

    fn joined(&self, socket: &sio::Socket, room: &str) {
        self.room("room_joined", socket, room);
    }

    fn left(&self, socket: &sio::Socket, room: &str) {
        self.room("room_left", socket, room);
    }

    fn upgraded(&self, socket: &sio::Socket) {
        if self.watched() {
            self.to_admins(
                "socket_updated",
                &[json!({ "id": socket.id(), "nsp": socket.ns_name(), "transport": "websocket" })],
            );
        }
    }

    fn received(&self, socket: &sio::Socket, event: &sio::Event) {
        if self.watched() && socket.ns_name() != "/admin" {
            self.event("event_received", socket, event.name(), event.args_raw());
        }
    }

    fn sent(&self, socket: &sio::Socket, event: &str, args: &str) {
        if self.watched() && socket.ns_name() != "/admin" {
            self.event("event_sent", socket, event, args);
        }
    }
}

impl Live {
    /// `room_joined` / `room_left`: `(nsp, room, id, timestamp)`.
    fn room(&self, kind: &str, socket: &sio::Socket, room: &str) {
        if self.watched() {
            self.to_admins(
                kind,
                &[
                    json!(socket.ns_name()),
                    json!(room),
                    json!(socket.id()),
                    json!(timestamp()),
                ],
            );
        }
    }

    /// `(nsp, id, [event, ...args], timestamp)`; `args` are JSON values joined by commas
    /// (as the engine parsed or encoded them), copied as they are.
    fn event(&self, kind: &str, socket: &sio::Socket, event: &str, args: &str) {
        let sep = if args.is_empty() { "" } else { "," };
        let raw = format!(
            "{},{},[{}{sep}{args}],{}",
            json!(socket.ns_name()),
            json!(socket.id()),
            json!(event),
            json!(timestamp()),
        );
        self.to_admins_raw(kind, raw);
    }
}

/// Header names (lower case) whose values might be credentials: shown as `[redacted]`.
fn secret_header(name: &str) -> bool {
    [
        "auth",
        "cookie",
        "token",
        "key",
        "secret",
        "session",
        "sec-websocket-protocol",
    ]
    .iter()
    .any(|w| name.contains(w))
        && name != "sec-websocket-key"
        && name != "sec-websocket-extensions"
}

/// A socket as the UI lists it (socket.io-admin-ui's `SerializedSocket`). `data` shows
/// the identity the token gave; credentials are never shown: headers that may carry one
/// (`Authorization`, `Cookie`, anything named like a token, key, secret or session) and
/// the `token` query parameter read `[redacted]`.
pub(super) fn serialize(s: &sio::Socket) -> Value {
    let hs = s.handshake();
    let mut headers = Map::new();
    for (k, v) in &hs.headers {
        let v = if secret_header(k.as_str()) {
            "[redacted]".to_owned()
        } else {
            String::from_utf8_lossy(v.as_bytes()).into_owned()
        };
        headers.insert(k.as_str().to_owned(), Value::String(v));
    }
    let mut query = Map::new();
    let mut url = String::from("/socket.io/?");
    for kv in hs.query.split('&').filter(|kv| !kv.is_empty()) {
        let k = kv.split_once('=').map_or(kv, |(k, _)| k);
        let v = if k == "token" {
            "[redacted]".to_owned()
        } else {
            hs.query_param(k).unwrap_or_default()
        };
        if !query.is_empty() {
            url.push('&');
        }
        url.push_str(if k == "token" { "token=[redacted]" } else { kv });
        query.insert(k.to_owned(), Value::String(v));
    }
    let address = ["cf-connecting-ip", "x-forwarded-for"]
        .iter()
        .find_map(|h| hs.headers.get(*h).and_then(|v| v.to_str().ok()))
        .map(str::to_owned)
        .or_else(|| hs.remote.map(|a| a.ip().to_string()))
        .unwrap_or_default();
    let data = match s.get::<Identity>() {
        Some(id) if id.sub.is_some() => {
            json!({ "user": id.sub, "roles": id.roles, "tenant": id.tenant })
        }
        _ => json!({}),
    };
    let sid = s.session_id();
    json!({
        "id": s.id(),
        "clientId": &sid[..sid.len().min(12)],
        "transport": s.transport(),
        "nsp": s.ns_name(),
        "data": data,
        "handshake": {
            "address": address,
            "headers": headers,
            "query": query,
            "issued": hs.issued_ms,
            "secure": hs.headers.get("x-forwarded-proto").is_some_and(|p| p == "https"),
            "time": crate::support::clock::rfc3339_millis(hs.issued_ms as i64),
            "url": url,
            "xdomain": hs.headers.contains_key("origin"),
        },
        "rooms": s.rooms(),
    })
}
