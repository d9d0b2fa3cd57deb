//! The Socket.IO side: connection lifecycle events (SPEC §1) and one handler per rule of
//! the rules table. Handlers are synchronous, so a client's events are applied in the
//! order it sent them (the engine dispatches them inline).

mod replies;
pub use replies::timestamp;

use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use crate::app::{Counters, Shared};
use crate::rules::{AckShape, Action, Identity, JoinError, Rules};
use replies::{reply_error, reply_ok};

/// The room of the queue system's staff dashboard (SPEC §1b).
const STAFF_ROOM: &str = "dashboard";

/// Per-connection record kept on the socket.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Per-node sequence number (`clientId`).
    pub client_id: u64,
    /// The `clientInfo` the browser reported, if any.
    pub client_info: Option<Value>,
    /// The socket joined the staff dashboard.
    pub staff: bool,
}

/// Build the engine with the gateway's handlers on `/`.
pub fn build(config: sio::Config, rules: &Rules, shared: Weak<Shared>) -> sio::Server {
    sio::Server::builder(config)
        .namespace("/", |mut ns| {
            let sh = shared.clone();
            ns = ns.on_connect(move |socket, auth| {
                let sh = sh.clone();
                async move {
                    let Some(sh) = sh.upgrade() else {
                        return Err(sio::ConnectError::new("server shutting down"));
                    };
                    let token = crate::identity::presented_token(&auth, socket.handshake());
                    let who = sh.verifier.identify(token.as_deref()).map_err(|e| {
                        Counters::inc(&sh.counters.auth_failures);
                        tracing::debug!(error = %e, "connection refused");
                        sh.note("auth_failure", json!({ "reason": e.to_string() }));
                        sio::ConnectError::new(e.to_string())
                    })?;
                    socket.insert(who);
                    let client_id = sh.client_seq.fetch_add(1, Ordering::Relaxed) + 1;
                    socket.insert(ConnInfo {
                        client_id,
                        client_info: None,
                        staff: false,
                    });
                    Ok(())
                }
            });
            let sh = shared.clone();
            ns = ns.on_connection(move |socket| {
                let info = socket.get::<ConnInfo>();
                let now = timestamp();
                let _ = socket.emit(
                    "connection:status",
                    &json!({ "status": "connected", "timestamp": now }),
                );
                let _ = socket.emit(
                    "connected",
                    &json!({
                        "clientId": info.map(|i| i.client_id),
                        "socketId": socket.id(),
                        "timestamp": now,
                    }),
                );
                if let Some(sh) = sh.upgrade() {
                    crate::feeds::alerts::on_connect(&sh, socket);
                }
            });
            let sh = shared.clone();
            ns = ns.on_async("notification:mark-read", move |socket, ev| {
                let sh = sh.clone();
                async move {
                    if let Some(sh) = sh.upgrade() {
                        crate::feeds::notify::mark_read(&sh, &socket, ev).await;
                    }
                }
            });
            for event in rules.events() {
                let sh = shared.clone();
                ns = ns.on(event, move |socket, ev| {
                    if let Some(sh) = sh.upgrade() {
                        on_rule(&sh, socket, ev);
                    }
                });
            }
            let sh = shared.clone();
            let sh_dc = shared.clone();
            ns.on("ping", |socket, mut ev| {
                let _ = ev.ack(socket, "pong");
            })
            .on("clientError", move |socket, ev| {
                if let Some(sh) = sh.upgrade() {
                    Counters::inc(&sh.counters.client_errors);
                }
                let report: Value = ev.arg(0).unwrap_or(Value::Null);
                let message = report.get("message").and_then(Value::as_str).unwrap_or("");
                tracing::warn!(socket = socket.id(), message, "client error reported");
            })
            .on("clientInfo", |socket, mut ev| {
                let report: Value = ev.arg(0).unwrap_or(Value::Null);
                if let Some(mut info) = socket.get::<ConnInfo>() {
                    info.client_info = Some(report);
                    socket.insert(info);
                }
                let _ = ev.ack(socket, &json!({ "success": true }));
            })
            .on_any({
                let sh = shared.clone();
                move |socket, ev| {
                    if let Some(sh) = sh.upgrade() {
                        Counters::inc(&sh.counters.unknown_events);
                        sh.metrics.events_in.get_or_create(&vec![("event".to_owned(), "unknown".to_owned())]).inc();
                    }
                    tracing::debug!(event = ev.name(), "unknown client event");
                    let msg = format!("unknown event: {}", ev.name());
                    reply_error(socket, ev, &msg);
                }
            })
            .on_disconnect(move |socket, reason| {
                tracing::debug!(socket = socket.id(), %reason, "disconnected");
                if reason == sio::DisconnectReason::SlowConsumer {
                    if let Some(sh) = sh_dc.upgrade() {
                        sh.note("slow_consumer", json!({ "socket": socket.id(), "user": socket.get::<Identity>().and_then(|w| w.sub) }));
                    }
                }
                if socket.get::<ConnInfo>().is_some_and(|i| i.staff) {
                    let _ = socket.ns().to(STAFF_ROOM).emit(
                        "staffConnectionUpdate",
                        &staff_update(socket, "disconnected"),
                    );
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
    let payload: Option<Value> = ev
        .arg_raw(0)
        .and_then(|raw| serde_json::from_str(raw.get()).ok());
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
