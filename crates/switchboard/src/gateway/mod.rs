//! The Socket.IO side: connection lifecycle events (README "The three protocols") and one handler per rule of
//! the rules table. Handlers are synchronous, so a client's events are applied in the
//! order it sent them (the engine dispatches them inline).
//!
//! The gateway decides who may do what (identity, rate limit, rules) and answers; what
//! happens after a join is the rules table's `on_join`, resolved to a feature once when
//! the gateway is built.

mod limits;
pub use limits::{Bucket, Limits, Verdict};

use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::conn::ConnInfo;
use crate::feeds::{Feeds, JoinHook, Joined};
use crate::identity::Verifier;
use crate::reply;
use crate::rules::{AckShape, Action, Identity, JoinError, OnJoin, Rules};
use crate::support::clock::timestamp;
use crate::telemetry::{inc, Telemetry};

/// Everything the handlers need, shared by all of them.
pub struct Gateway {
    rules: Rules,
    /// `on_join` features by client event.
    hooks: HashMap<String, JoinHook>,
    limits: Limits,
    verifier: Arc<Verifier>,
    feeds: Arc<Feeds>,
    telemetry: Arc<Telemetry>,
    /// Per-node connection sequence (the `clientId` of the queue protocol, README "The three protocols").
    client_seq: AtomicU64,
}

impl Gateway {
    /// A gateway over `rules`, with each rule's `on_join` resolved to a feature now.
    pub fn new(
        rules: Rules,
        limits: Limits,
        verifier: Arc<Verifier>,
        feeds: Arc<Feeds>,
        telemetry: Arc<Telemetry>,
    ) -> Self {
        let hooks = rules
            .iter()
            .filter_map(|r| Some((r.event.clone(), feeds.hook(r.on_join?))))
            .collect();
        Self {
            rules,
            hooks,
            limits,
            verifier,
            feeds,
            telemetry,
            client_seq: AtomicU64::new(0),
        }
    }

    /// The engine's builder with the gateway's handlers on `/` (the caller adds what else
    /// it composes, e.g. the admin namespace, and builds).
    pub fn builder(
        self: &Arc<Self>,
        config: sio::Config,
        adapter: Option<Arc<dyn sio::Adapter>>,
    ) -> sio::ServerBuilder {
        let events: Vec<String> = self.rules.events().map(str::to_owned).collect();
        let mut builder = sio::Server::builder(config);
        if let Some(a) = adapter {
            builder = builder.adapter(a);
        }
        builder.namespace("/", |mut ns| {
            let gw = self.clone();
            ns = ns.on_connect(move |socket, auth| {
                let gw = gw.clone();
                async move { gw.on_connect(socket, auth) }
            });
            let gw = self.clone();
            ns = ns.on_connection(move |socket| gw.on_connection(socket));
            let gw = self.clone();
            ns = ns.on_async("notification:mark-read", move |socket, ev| {
                let gw = gw.clone();
                async move {
                    if let Some(ev) = gw.admit(&socket, ev) {
                        gw.feeds.notifications.mark_read(&socket, ev).await;
                    }
                }
            });
            let gw = self.clone();
            ns = ns.on_async("presence:get", move |socket, ev| {
                let gw = gw.clone();
                async move {
                    if let Some(ev) = gw.admit(&socket, ev) {
                        gw.feeds.presence.get(&socket, ev).await;
                    }
                }
            });
            for event in &events {
                ns = ns.on(event, self.guarded(Self::on_rule));
            }
            let gw = self.clone();
            ns.on(
                "ping",
                self.guarded(|_, socket, mut ev| {
                    let _ = ev.ack(socket, "pong");
                }),
            )
            .on("clientError", self.guarded(Self::on_client_error))
            .on("clientInfo", self.guarded(Self::on_client_info))
            .on_any(self.guarded(Self::on_unknown))
            .on_disconnect(move |socket, reason| gw.on_disconnect(socket, reason))
        })
    }

    /// Wrap a handler: apply the rate limit, then run `f`.
    fn guarded(
        self: &Arc<Self>,
        f: impl Fn(&Self, &sio::Socket, sio::Event) + Send + Sync + 'static,
    ) -> impl Fn(&sio::Socket, sio::Event) + Send + Sync + 'static {
        let gw = self.clone();
        move |socket, ev| {
            if let Some(ev) = gw.admit(socket, ev) {
                f(&gw, socket, ev);
            }
        }
    }

    /// The rate limit: an event over the socket's budget is answered with an error (and
    /// counted); a socket that keeps going is disconnected with a logged reason.
    fn admit(&self, socket: &sio::Socket, mut ev: sio::Event) -> Option<sio::Event> {
        let Some(bucket) = socket.get::<Bucket>() else {
            return Some(ev);
        };
        let c = &self.telemetry.counters;
        match self.limits.take(&bucket) {
            Verdict::Allow => Some(ev),
            Verdict::Limited => {
                inc(&c.rate_limited);
                reply::error(socket, &mut ev, "rate limit exceeded, slow down");
                None
            }
            Verdict::Disconnect => {
                inc(&c.rate_limited);
                inc(&c.rate_limit_disconnects);
                tracing::warn!(
                    socket = socket.id(),
                    "disconnected: sustained event rate over the limit"
                );
                self.telemetry.note("rate_limit_disconnect", json!({ "socket": socket.id(), "user": socket.get::<Identity>().and_then(|w| w.sub) }));
                reply::error(socket, &mut ev, "rate limit exceeded, disconnecting");
                socket.disconnect();
                None
            }
        }
    }

    /// The connect hook: identity. (The per-IP cap is the engine's, at the handshake,
    /// where every session is counted exactly once from open to close.)
    fn on_connect(&self, socket: sio::Socket, auth: Value) -> Result<(), sio::ConnectError> {
        let token = crate::identity::presented_token(&auth, socket.handshake());
        let who = self.verifier.identify(token.as_deref()).map_err(|e| {
            inc(&self.telemetry.counters.auth_failures);
            tracing::debug!(error = %e, "connection refused");
            self.telemetry
                .note("auth_failure", json!({ "reason": e.to_string() }));
            sio::ConnectError::new(e.to_string())
        })?;
        let ip = socket.handshake().remote.map(|a| a.ip());
        // A recovery brings back the old connection's data (and its rooms): only for the
        // same user. Anything else would hand one user's private rooms to another.
        let old = socket
            .recovered()
            .then(|| socket.get::<ConnInfo>())
            .flatten();
        if socket.recovered() && socket.get::<Identity>().map(|i| i.sub) != Some(who.sub.clone()) {
            inc(&self.telemetry.counters.auth_failures);
            self.telemetry.note(
                "auth_failure",
                json!({ "reason": "recovery by another identity" }),
            );
            return Err(sio::ConnectError::new(
                "this session belongs to another identity: connect without recovery",
            ));
        }
        socket.insert(who);
        socket.insert(self.limits.bucket());
        // This connection's address wins over the old one's; the rest of the record
        // carries on.
        socket.insert(match old {
            Some(info) => ConnInfo { ip, ..info },
            None => ConnInfo {
                client_id: self.client_seq.fetch_add(1, Ordering::Relaxed) + 1,
                client_info: None,
                staff_room: None,
                ip,
            },
        });
        Ok(())
    }

    fn on_connection(&self, socket: &sio::Socket) {
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
        self.feeds.on_connection(socket);
    }

    fn on_disconnect(&self, socket: &sio::Socket, reason: sio::DisconnectReason) {
        tracing::debug!(socket = socket.id(), %reason, "disconnected");
        if reason == sio::DisconnectReason::SlowConsumer {
            self.telemetry.note(
                "slow_consumer",
                json!({ "socket": socket.id(), "user": socket.get::<Identity>().and_then(|w| w.sub) }),
            );
        }
        self.feeds.on_disconnect(socket);
    }

    fn on_client_error(&self, socket: &sio::Socket, ev: sio::Event) {
        inc(&self.telemetry.counters.client_errors);
        let report: Value = ev.arg(0).unwrap_or(Value::Null);
        let message = report.get("message").and_then(Value::as_str).unwrap_or("");
        tracing::warn!(socket = socket.id(), message, "client error reported");
    }

    fn on_client_info(&self, socket: &sio::Socket, mut ev: sio::Event) {
        let max = self.limits.max_client_info_bytes;
        if ev.arg_raw(0).is_some_and(|r| r.get().len() > max) {
            inc(&self.telemetry.counters.client_info_refused);
            let msg = format!("clientInfo too large (at most {max} bytes)");
            reply::error(socket, &mut ev, &msg);
            return;
        }
        let report: Value = ev.arg(0).unwrap_or(Value::Null);
        if let Some(mut info) = socket.get::<ConnInfo>() {
            info.client_info = Some(report);
            socket.insert(info);
        }
        reply::ok(socket, &mut ev, json!({}));
    }

    fn on_unknown(&self, socket: &sio::Socket, mut ev: sio::Event) {
        inc(&self.telemetry.counters.unknown_events);
        self.telemetry
            .events_in
            .get_or_create(&vec![("event".to_owned(), "unknown".to_owned())])
            .inc();
        tracing::debug!(event = ev.name(), "unknown client event");
        let msg = format!("unknown event: {}", ev.name());
        reply::error(socket, &mut ev, &msg);
    }

    /// A client event that matches a rule: resolve the room, check, join or leave,
    /// answer, then the rule's `on_join` feature.
    fn on_rule(&self, socket: &sio::Socket, mut ev: sio::Event) {
        let Some(rule) = self.rules.get(ev.name()) else {
            return;
        };
        let span = tracing::debug_span!(
            "client_event",
            event = ev.name(),
            room = tracing::field::Empty,
        );
        let _entered = span.enter();
        let c = &self.telemetry.counters;
        self.telemetry.event_in(ev.name());
        // The engine only checked that the arguments are JSON; serde_json refuses (and
        // we treat as too deep) nesting past its recursion limit, and we cap it lower
        // still.
        let payload: Option<Value> = match ev
            .arg_raw(0)
            .map(|raw| serde_json::from_str::<Value>(raw.get()))
        {
            None => None,
            Some(Ok(v)) if crate::support::json::depth(&v) <= self.limits.max_json_depth => Some(v),
            Some(_) => {
                inc(&c.too_deep);
                reply::error(socket, &mut ev, "payload nested too deeply");
                return;
            }
        };
        let who = socket.get::<Identity>().unwrap_or_default();
        // One pure check (rules::check via Rule::authorize) decides, as for the HTTP API.
        let (room, id) = match rule.authorize_id(payload.as_ref(), &who) {
            Ok(joined) => joined,
            Err(JoinError::Denied(e)) => {
                inc(&c.denied_joins);
                tracing::debug!(event = ev.name(), user = ?who.sub, error = %e, "join denied");
                self.telemetry.note(
                    "denied_join",
                    json!({ "event": ev.name(), "user": who.sub, "reason": e.to_string() }),
                );
                reply::error(socket, &mut ev, &e.to_string());
                return;
            }
            Err(JoinError::Invalid(e)) => {
                // An anonymous caller of a user-bound rule is a denial, not a bad payload.
                let counter = if matches!(e, crate::rules::RuleError::NoIdentity) {
                    &c.denied_joins
                } else {
                    &c.rule_errors
                };
                inc(counter);
                tracing::debug!(event = ev.name(), error = %e, "rule payload rejected");
                reply::error(socket, &mut ev, &e.to_string());
                return;
            }
        };
        span.record("room", room.as_str());
        match rule.action {
            Action::Join => {
                if let Err(e) = self.limits.check_room_cap(socket, &room) {
                    inc(&c.room_limited);
                    reply::error(socket, &mut ev, &e);
                    return;
                }
                if socket.join(&room) {
                    self.feeds.presence.joined(socket, &room);
                }
            }
            Action::Leave => {
                if socket.leave(&room) {
                    self.feeds.presence.left(socket, &room);
                }
            }
        }
        let event = ev.name().to_owned();
        let hook = match rule.action {
            Action::Join => self.hooks.get(&event),
            Action::Leave => None,
        };
        let joined = Joined {
            event: &event,
            room: &room,
            id: id.as_deref(),
            who: &who,
        };
        // A hook that tells the room runs before the joiner's ack (the queue system's
        // order: the joiner hears of itself first); one that answers the joiner after it.
        let tells_room = rule.on_join.is_some_and(OnJoin::tells_room);
        if let Some(hook) = hook.filter(|_| tells_room) {
            hook(socket, &joined);
        }
        if rule.ack == AckShape::Room {
            reply::room(socket, &mut ev, &room);
        }
        if let Some(hook) = hook.filter(|_| !tells_room) {
            hook(socket, &joined);
        }
    }
}
