//! The Socket.IO side: connection lifecycle events (SPEC §1) and one handler per rule of
//! the rules table. Handlers are synchronous, so a client's events are applied in the
//! order it sent them (the engine dispatches them inline).

mod limits;
mod replies;
pub use limits::{depth, Bucket, Verdict};
pub use replies::timestamp;

use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use crate::app::{Counters, Shared};
use crate::rules::{AckShape, Action, Identity, JoinError, Rules};

use replies::{reply_error, reply_ok};

/// The room of the queue system's staff dashboard (SPEC §1b).
const STAFF_ROOM: &str = "dashboard";

/// Largest `clientInfo` report kept on a socket (it also lives on in the recovery store
/// for the recovery window after a disconnect).
pub const MAX_CLIENT_INFO_BYTES: usize = 4096;

/// Per-connection record kept on the socket.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Per-node sequence number (`clientId`).
    pub client_id: u64,
    /// The `clientInfo` the browser reported, if any.
    pub client_info: Option<Value>,
    /// The socket joined the staff dashboard.
    pub staff: bool,
    /// The client's address (behind a trusted proxy: the forwarded client).
    pub ip: Option<std::net::IpAddr>,
}

/// Wrap a handler: resolve the shared state, apply the rate limit, then run `f`.
fn guarded(
    shared: &Weak<Shared>,
    f: impl Fn(&Arc<Shared>, &sio::Socket, sio::Event) + Send + Sync + 'static,
) -> impl Fn(&sio::Socket, sio::Event) + Send + Sync + 'static {
    let shared = shared.clone();
    move |socket, ev| {
        let Some(sh) = shared.upgrade() else { return };
        if let Some(ev) = admit(&sh, socket, ev) {
            f(&sh, socket, ev);
        }
    }
}

/// The rate limit: an event over the socket's budget is answered with an error (and
/// counted); a socket that keeps going is disconnected with a logged reason.
fn admit(sh: &Shared, socket: &sio::Socket, ev: sio::Event) -> Option<sio::Event> {
    let Some(bucket) = socket.get::<Bucket>() else {
        return Some(ev);
    };
    let c = &sh.config;
    match bucket.take(
        c.rate_limit_per_sec,
        c.rate_limit_burst,
        c.rate_limit_disconnect_after,
    ) {
        Verdict::Allow => Some(ev),
        Verdict::Limited => {
            Counters::inc(&sh.counters.rate_limited);
            reply_error(socket, ev, "rate limit exceeded, slow down");
            None
        }
        Verdict::Disconnect => {
            Counters::inc(&sh.counters.rate_limited);
            Counters::inc(&sh.counters.rate_limit_disconnects);
            tracing::warn!(
                socket = socket.id(),
                "disconnected: sustained event rate over the limit"
            );
            sh.note("rate_limit_disconnect", json!({ "socket": socket.id(), "user": socket.get::<Identity>().and_then(|w| w.sub) }));
            reply_error(socket, ev, "rate limit exceeded, disconnecting");
            socket.disconnect();
            None
        }
    }
}

/// The connect hook: identity. (The per-IP cap is the engine's, at the handshake, where
/// every session is counted exactly once from open to close.)
async fn on_connect(
    sh: Arc<Shared>,
    socket: sio::Socket,
    auth: Value,
) -> Result<(), sio::ConnectError> {
    let token = crate::identity::presented_token(&auth, socket.handshake());
    let who = sh.verifier.identify(token.as_deref()).map_err(|e| {
        Counters::inc(&sh.counters.auth_failures);
        tracing::debug!(error = %e, "connection refused");
        sh.note("auth_failure", json!({ "reason": e.to_string() }));
        sio::ConnectError::new(e.to_string())
    })?;
    let ip = socket.handshake().remote.map(|a| a.ip());
    // A recovery brings back the old connection's data (and its rooms): only for the same
    // user. Anything else would hand one user's private rooms to another.
    let old = socket
        .recovered()
        .then(|| socket.get::<ConnInfo>())
        .flatten();
    if socket.recovered() && socket.get::<Identity>().map(|i| i.sub) != Some(who.sub.clone()) {
        Counters::inc(&sh.counters.auth_failures);
        sh.note(
            "auth_failure",
            json!({ "reason": "recovery by another identity" }),
        );
        return Err(sio::ConnectError::new(
            "this session belongs to another identity: connect without recovery",
        ));
    }
    socket.insert(who);
    socket.insert(Bucket::new(sh.config.rate_limit_burst));
    // This connection's address wins over the old one's; the rest of the record carries on.
    socket.insert(match old {
        Some(info) => ConnInfo { ip, ..info },
        None => ConnInfo {
            client_id: sh.client_seq.fetch_add(1, Ordering::Relaxed) + 1,
            client_info: None,
            staff: false,
            ip,
        },
    });
    Ok(())
}

fn on_connection(sh: &Shared, socket: &sio::Socket) {
    let info = socket.get::<ConnInfo>();
    let now = timestamp();
    let _ = socket.emit(
        "connection:status",
        &json!({ "status": "connected", "timestamp": now }),
    );
    let _ = socket.emit(
        "connected",
        &json!({ "clientId": info.map(|i| i.client_id), "socketId": socket.id(), "timestamp": now }),
    );
    crate::feeds::alerts::on_connect(sh, socket);
}

fn on_disconnect(sh: &Shared, socket: &sio::Socket, reason: sio::DisconnectReason) {
    tracing::debug!(socket = socket.id(), %reason, "disconnected");
    let info = socket.get::<ConnInfo>();
    if reason == sio::DisconnectReason::SlowConsumer {
        sh.note(
            "slow_consumer",
            json!({ "socket": socket.id(), "user": socket.get::<Identity>().and_then(|w| w.sub) }),
        );
    }
    if info.is_some_and(|i| i.staff) {
        let _ = socket.ns().to(STAFF_ROOM).emit(
            "staffConnectionUpdate",
            &staff_update(socket, "disconnected"),
        );
    }
}

fn on_client_error(sh: &Arc<Shared>, socket: &sio::Socket, ev: sio::Event) {
    Counters::inc(&sh.counters.client_errors);
    let report: Value = ev.arg(0).unwrap_or(Value::Null);
    let message = report.get("message").and_then(Value::as_str).unwrap_or("");
    tracing::warn!(socket = socket.id(), message, "client error reported");
}

fn on_client_info(sh: &Arc<Shared>, socket: &sio::Socket, mut ev: sio::Event) {
    if ev
        .arg_raw(0)
        .is_some_and(|r| r.get().len() > MAX_CLIENT_INFO_BYTES)
    {
        Counters::inc(&sh.counters.client_info_refused);
        let msg = format!("clientInfo too large (at most {MAX_CLIENT_INFO_BYTES} bytes)");
        reply_error(socket, ev, &msg);
        return;
    }
    let report: Value = ev.arg(0).unwrap_or(Value::Null);
    if let Some(mut info) = socket.get::<ConnInfo>() {
        info.client_info = Some(report);
        socket.insert(info);
    }
    let _ = ev.ack(socket, &json!({ "success": true }));
}

fn on_unknown(sh: &Arc<Shared>, socket: &sio::Socket, ev: sio::Event) {
    Counters::inc(&sh.counters.unknown_events);
    sh.metrics
        .events_in
        .get_or_create(&vec![("event".to_owned(), "unknown".to_owned())])
        .inc();
    tracing::debug!(event = ev.name(), "unknown client event");
    let msg = format!("unknown event: {}", ev.name());
    reply_error(socket, ev, &msg);
}

/// Build the engine with the gateway's handlers on `/`.
pub fn build(config: sio::Config, rules: &Rules, shared: Weak<Shared>) -> sio::Server {
    sio::Server::builder(config)
        .namespace("/", |mut ns| {
            let sh = shared.clone();
            ns = ns.on_connect(move |socket, auth| {
                let sh = sh.upgrade();
                async move {
                    match sh {
                        Some(sh) => on_connect(sh, socket, auth).await,
                        None => Err(sio::ConnectError::new("server shutting down")),
                    }
                }
            });
            let sh = shared.clone();
            ns = ns.on_connection(move |socket| {
                if let Some(sh) = sh.upgrade() {
                    on_connection(&sh, socket);
                }
            });
            let sh = shared.clone();
            ns = ns.on_async("notification:mark-read", move |socket, ev| {
                let sh = sh.upgrade();
                async move {
                    let Some(sh) = sh else { return };
                    if let Some(ev) = admit(&sh, &socket, ev) {
                        crate::feeds::notify::mark_read(&sh, &socket, ev).await;
                    }
                }
            });
            for event in rules.events() {
                ns = ns.on(event, guarded(&shared, on_rule));
            }
            let sh = shared.clone();
            ns.on(
                "ping",
                guarded(&shared, |_, socket, mut ev| {
                    let _ = ev.ack(socket, "pong");
                }),
            )
            .on("clientError", guarded(&shared, on_client_error))
            .on("clientInfo", guarded(&shared, on_client_info))
            .on_any(guarded(&shared, on_unknown))
            .on_disconnect(move |socket, reason| {
                if let Some(sh) = sh.upgrade() {
                    on_disconnect(&sh, socket, reason);
                }
            })
        })
        .build()
}

fn staff_update(socket: &sio::Socket, action: &str) -> Value {
    json!({
        "action": action,
        "clientId": socket.get::<ConnInfo>().map(|i| i.client_id),
        "timestamp": timestamp(),
        "totalConnected": socket.ns().room_size(STAFF_ROOM),
    })
}

/// A client event that matches a rule: resolve the room, check, join or leave, answer.
fn on_rule(sh: &Arc<Shared>, socket: &sio::Socket, ev: sio::Event) {
    let Some(rule) = sh.rules.get(ev.name()) else {
        return;
    };
    sh.metrics
        .events_in
        .get_or_create(&sh.metrics.event_label(ev.name()))
        .inc();
    // The engine only checked that the arguments are JSON; serde_json refuses (and we
    // treat as too deep) nesting past its recursion limit, and we cap it lower still.
    let payload: Option<Value> = match ev
        .arg_raw(0)
        .map(|raw| serde_json::from_str::<Value>(raw.get()))
    {
        None => None,
        Some(Ok(v)) if depth(&v) <= sh.config.max_json_depth => Some(v),
        Some(_) => {
            Counters::inc(&sh.counters.too_deep);
            reply_error(socket, ev, "payload nested too deeply");
            return;
        }
    };
    let who = socket.get::<Identity>().unwrap_or_default();
    // One pure check (rules::check via Rule::authorize) decides, as for the HTTP API.
    let room = match rule.authorize(payload.as_ref(), &who) {
        Ok(room) => room,
        Err(JoinError::Denied(e)) => {
            Counters::inc(&sh.counters.denied_joins);
            tracing::debug!(event = ev.name(), user = ?who.sub, error = %e, "join denied");
            sh.note(
                "denied_join",
                json!({ "event": ev.name(), "user": who.sub, "reason": e.to_string() }),
            );
            reply_error(socket, ev, &e.to_string());
            return;
        }
        Err(JoinError::Invalid(e)) => {
            // An anonymous caller of a user-bound rule is a denial, not a bad payload.
            let counter = if matches!(e, crate::rules::RuleError::NoIdentity) {
                &sh.counters.denied_joins
            } else {
                &sh.counters.rule_errors
            };
            Counters::inc(counter);
            tracing::debug!(event = ev.name(), error = %e, "rule payload rejected");
            reply_error(socket, ev, &e.to_string());
            return;
        }
    };
    match rule.action {
        Action::Join => {
            // The socket's own id room does not count towards the cap.
            let rooms = socket.rooms();
            if !rooms.contains(&room) && rooms.len() > sh.config.max_rooms_per_socket {
                Counters::inc(&sh.counters.room_limited);
                let msg = format!(
                    "room limit reached ({} rooms per connection)",
                    sh.config.max_rooms_per_socket
                );
                reply_error(socket, ev, &msg);
                return;
            }
            socket.join(&room);
        }
        Action::Leave => {
            socket.leave(&room);
        }
    }
    let event = ev.name().to_owned();
    after_join(socket, rule.action, &room);
    match rule.ack {
        AckShape::Room => reply_ok(socket, ev, &room),
        AckShape::None => {}
    }
    if matches!(rule.action, Action::Join) {
        feed_snapshot(sh, socket, &event, &room, &who);
    }
}

/// The ERP feeds answer a subscription at once, to the subscriber alone (SPEC §1a).
fn feed_snapshot(sh: &Arc<Shared>, socket: &sio::Socket, event: &str, room: &str, who: &Identity) {
    if let Some(module) = room.strip_prefix("module:") {
        crate::feeds::kpi::snapshot(sh, socket, module);
    } else if room == crate::feeds::dashboard::ROOM {
        let _ = socket.emit("dashboard:update", &crate::feeds::dashboard::summary(sh));
    } else if event == "notification:subscribe" {
        let (sh, socket, who) = (sh.clone(), socket.clone(), who.clone());
        tokio::spawn(async move {
            if let Err(e) = crate::feeds::notify::replay(&sh, &socket, &who).await {
                tracing::warn!(error = %e, "notification replay failed");
                let _ = socket.emit("error", &json!({ "event": "notification:subscribe", "success": false, "error": "database unavailable, try again" }));
            }
        });
    }
}

/// Lifecycle events of the queue system (SPEC §1b) tied to its rooms.
fn after_join(socket: &sio::Socket, action: Action, room: &str) {
    if !matches!(action, Action::Join) {
        return;
    }
    if room == STAFF_ROOM {
        if let Some(mut info) = socket.get::<ConnInfo>() {
            info.staff = true;
            socket.insert(info);
        }
        let _ = socket
            .ns()
            .to(STAFF_ROOM)
            .emit("staffConnectionUpdate", &staff_update(socket, "connected"));
    } else if let Some(service) = room.strip_prefix("service-") {
        let _ = socket.ns().to(room).emit(
            "queueUserJoined",
            &json!({
                "serviceType": service,
                "clientId": socket.get::<ConnInfo>().map(|i| i.client_id),
                "timestamp": timestamp(),
            }),
        );
    }
}
