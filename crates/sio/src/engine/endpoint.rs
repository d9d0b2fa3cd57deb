//! The Engine.IO endpoint: the session table, per-address admission, the heartbeat, and
//! the Engine.IO packets (ping/pong, close, upgrade, noop). Messages go up to the layer
//! above through [`Handler`], the one seam between Engine.IO and Socket.IO (modelled on
//! engineioxide's `EngineIoHandler`).

use bytes::Bytes;
use indexmap::IndexMap;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::session::{Budget, Class, Frame, Handshake, Session, Transport};
use crate::common::{new_id, DisconnectReason, Shared};
use crate::config::Config;

/// The layer above Engine.IO. Called on the connection's task; one dynamic call per
/// received message. `D` is the state it keeps on every session ([`Session::data`]).
pub(crate) trait Handler<D>: Send + Sync + 'static {
    /// A session was opened (its OPEN packet is queued).
    fn on_connect(&self, _sess: &Arc<Session<D>>) {}
    /// A polling session finished its upgrade to WebSocket.
    fn on_upgrade(&self, _sess: &Arc<Session<D>>) {}
    /// The session closed (once; its queue is already closed).
    fn on_disconnect(&self, sess: &Arc<Session<D>>, reason: DisconnectReason);
    /// An Engine.IO message (`4`), without its type digit. `Err`: close the connection.
    fn on_message(&self, sess: &Arc<Session<D>>, text: &str) -> Result<(), DisconnectReason>;
    /// A binary Engine.IO message. `Err`: close the connection.
    fn on_binary(&self, sess: &Arc<Session<D>>, data: Bytes) -> Result<(), DisconnectReason>;
    /// A heartbeat pass over one live session: `Some` closes it for that reason.
    fn on_tick(&self, _sess: &Session<D>, _now_ms: u64) -> Option<DisconnectReason> {
        None
    }
    /// Every 64 heartbeat ticks (housekeeping).
    fn on_sweep(&self) {}
}

/// Sessions of one client address.
#[derive(Debug, Default, Clone, Copy)]
struct IpCount {
    total: u32,
    /// Sessions that have not been claimed by the layer above yet (no Socket.IO CONNECT).
    pending: u32,
}

/// Why a handshake was refused before a session existed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    TooManyFromIp,
    TooManyPendingFromIp,
}

impl Refused {
    pub(crate) fn message(self) -> &'static str {
        match self {
            Refused::TooManyFromIp => "too many connections from this address",
            Refused::TooManyPendingFromIp => {
                "too many connections from this address waiting for their CONNECT"
            }
        }
    }
}

/// How long a client-closed polling session answers one late poll (see `closed_by_client`).
const CLOSED_GRACE_MS: u64 = 2_000;
/// At most this many are remembered; past it a late poll gets the plain 400.
const CLOSED_MAX: usize = 10_000;

pub(crate) struct Engine<D> {
    pub(crate) config: Config,
    pub(crate) stats: Arc<Shared>,
    /// An `IndexMap` because it keeps each key's hash: growing moves the entries without
    /// hashing every session id again (a `HashMap` held the runtime for milliseconds at
    /// 10 000 sessions, bench/storm.sh).
    sessions: Mutex<IndexMap<Arc<str>, Arc<Session<D>>>>,
    /// Polling sessions the client closed (`1` in a POST) while no GET was pending, with
    /// when (ms). The client's next poll was often already on the wire, on another
    /// connection, and may land after the close: it gets one `6` instead of a 400 (the
    /// reference answers it `6` when it lands first, as the protocol suite expects; a
    /// browser logs a 400 as an error). Kept [`CLOSED_GRACE_MS`], at most
    /// [`CLOSED_MAX`], swept by the heartbeat.
    closed_by_client: Mutex<HashMap<Arc<str>, u64>>,
    /// Open sessions per client address (only when a per-IP limit is configured).
    per_ip: Mutex<HashMap<IpAddr, IpCount>>,
    /// When a refusal was last logged (ms since the epoch), to log at most one per second.
    refusal_logged: AtomicU64,
    /// Sessions not claimed ([`Engine::note_connected`]) within `connect_timeout` are
    /// closed (off for raw Engine.IO).
    claim_required: bool,
    heartbeat_started: AtomicBool,
    handler: Arc<dyn Handler<D>>,
}

impl<D: Default + Send + Sync + 'static> Engine<D> {
    /// An engine whose handler is made by `handler`, which gets a weak handle to it.
    pub(crate) fn new(
        shared: Arc<Shared>,
        claim_required: bool,
        handler: impl FnOnce(&Weak<Self>) -> Arc<dyn Handler<D>>,
    ) -> Arc<Self> {
        Arc::new_cyclic(|weak| Engine {
            config: shared.config.clone(),
            stats: shared.clone(),
            sessions: Mutex::new(IndexMap::new()),
            closed_by_client: Mutex::new(HashMap::new()),
            per_ip: Mutex::new(HashMap::new()),
            refusal_logged: AtomicU64::new(0),
            claim_required,
            heartbeat_started: AtomicBool::new(false),
            handler: handler(weak),
        })
    }

    fn limits_ip(&self) -> bool {
        self.config.max_sessions_per_ip != 0 || self.config.max_pending_per_ip != 0
    }

    /// Count a new session of `ip`, unless a per-IP limit refuses it.
    fn admit_ip(&self, ip: Option<IpAddr>) -> Result<(), Refused> {
        let Some(ip) = ip.filter(|_| self.limits_ip()) else {
            return Ok(());
        };
        let (total_max, pending_max) = (
            self.config.max_sessions_per_ip,
            self.config.max_pending_per_ip,
        );
        let refused = {
            let mut m = self.per_ip.lock();
            let c = m.entry(ip).or_default();
            if total_max != 0 && c.total as usize >= total_max {
                Some(Refused::TooManyFromIp)
            } else if pending_max != 0 && c.pending as usize >= pending_max {
                Some(Refused::TooManyPendingFromIp)
            } else {
                c.total += 1;
                c.pending += 1;
                None
            }
        };
        let Some(why) = refused else { return Ok(()) };
        let n = self.stats.ip_refused.fetch_add(1, Ordering::Relaxed) + 1;
        let now = self.now_ms();
        let last = self.refusal_logged.load(Ordering::Relaxed);
        if (last == 0 || now >= last + 1000)
            && self
                .refusal_logged
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(%ip, reason = why.message(), refused_total = n, "handshake refused (logged at most once a second)");
        }
        Err(why)
    }

    /// The layer above claimed the session (a Socket.IO CONNECT): it no longer counts as
    /// pending.
    pub(crate) fn note_connected(&self, sess: &Session<D>) {
        if !sess.connected_once.swap(true, Ordering::AcqRel) {
            self.release_ip(sess, false);
        }
    }

    /// Give back what `sess` counted for its address (`closing`: the session is gone).
    fn release_ip(&self, sess: &Session<D>, closing: bool) {
        let Some(ip) = sess.handshake.remote.map(|a| a.ip()) else {
            return;
        };
        if !self.limits_ip() {
            return;
        }
        let mut m = self.per_ip.lock();
        if let Some(c) = m.get_mut(&ip) {
            if closing {
                c.total = c.total.saturating_sub(1);
            } else {
                c.pending = c.pending.saturating_sub(1);
            }
            if c.total == 0 {
                m.remove(&ip);
            }
        }
    }

    /// Open sessions from `ip` (0 when no per-IP limit is configured).
    pub(crate) fn sessions_from(&self, ip: IpAddr) -> usize {
        self.per_ip.lock().get(&ip).map_or(0, |c| c.total as usize)
    }

    /// The `n` client addresses with the most open sessions, most first.
    pub(crate) fn busiest_addresses(&self, n: usize) -> Vec<(IpAddr, usize)> {
        let mut v: Vec<(IpAddr, usize)> = self
            .per_ip
            .lock()
            .iter()
            .map(|(ip, c)| (*ip, c.total as usize))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }

    /// Open sessions by transport: (websocket, polling).
    pub(crate) fn sessions_by_transport(&self) -> (usize, usize) {
        let s = self.sessions.lock();
        let ws = s
            .values()
            .filter(|s| s.transport() == Transport::Websocket)
            .count();
        (ws, s.len() - ws)
    }

    /// A snapshot of every open session.
    pub(crate) fn all_sessions(&self) -> Vec<Arc<Session<D>>> {
        self.sessions.lock().values().cloned().collect()
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.stats.now_ms()
    }

    /// A live session. One whose pong is overdue is closed here rather than waiting for
    /// the next heartbeat tick.
    pub(crate) fn session(&self, sid: &str) -> Option<Arc<Session<D>>> {
        let s = self.sessions.lock().get(sid).cloned()?;
        let deadline = s.pong_deadline.load(Ordering::Acquire);
        if deadline != 0 && self.now_ms() >= deadline {
            self.close_session(&s, DisconnectReason::PingTimeout);
            return None;
        }
        Some(s)
    }

    /// A poll for a session its client closed a moment ago: `true` once per such session.
    pub(crate) fn late_poll_after_close(&self, sid: &str) -> bool {
        let Some(at) = self.closed_by_client.lock().remove(sid) else {
            return false;
        };
        self.now_ms().saturating_sub(at) < CLOSED_GRACE_MS
    }

    pub(crate) fn open_session(
        self: &Arc<Self>,
        transport: Transport,
        hs: Handshake,
    ) -> Result<Arc<Session<D>>, Refused> {
        self.admit_ip(hs.remote.map(|a| a.ip()))?;
        self.start_heartbeat();
        let sid = new_id();
        let sess = Arc::new(Session::new(
            sid.clone(),
            transport,
            hs,
            self.now_ms(),
            self.config.ping_interval.as_millis() as u64,
            Budget {
                packets: self.config.max_buffer,
                bytes: self.config.max_buffer_bytes,
            },
            D::default(),
        ));
        sess.push(&[self.open_frame(&sid, transport)], Class::Control);
        self.sessions.lock().insert(sid, sess.clone());
        self.stats.connections.fetch_add(1, Ordering::Relaxed);
        self.stats.connections_total.fetch_add(1, Ordering::Relaxed);
        self.handler.on_connect(&sess);
        Ok(sess)
    }

    /// The Engine.IO OPEN packet for a new session.
    fn open_frame(&self, sid: &str, transport: Transport) -> Frame {
        let upgrades = if transport == Transport::Polling && self.config.transports.websocket {
            "[\"websocket\"]"
        } else {
            "[]"
        };
        let open = format!(
            "0{{\"sid\":\"{sid}\",\"upgrades\":{upgrades},\"pingInterval\":{},\"pingTimeout\":{},\"maxPayload\":{}}}",
            self.config.ping_interval.as_millis(),
            self.config.ping_timeout.as_millis(),
            self.config.max_payload
        );
        Frame::text(open.as_bytes())
    }

    /// Close a session and tell the layer above (idempotent).
    pub(crate) fn close_session(&self, sess: &Arc<Session<D>>, reason: DisconnectReason) {
        if !sess.mark_closed() {
            return;
        }
        self.sessions.lock().swap_remove(&sess.sid);
        self.stats.connections.fetch_sub(1, Ordering::Relaxed);
        if !sess.connected_once.swap(true, Ordering::AcqRel) {
            self.release_ip(sess, false);
        }
        self.release_ip(sess, true);
        if reason == DisconnectReason::SlowConsumer {
            self.stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(sid = %sess.sid, "slow consumer disconnected: outbound queue full");
        } else {
            tracing::debug!(sid = %sess.sid, %reason, "session closed");
        }
        self.handler.on_disconnect(sess, reason);
    }

    fn start_heartbeat(self: &Arc<Self>) {
        if self.heartbeat_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = Arc::downgrade(self);
        let min = self.config.ping_interval.min(self.config.ping_timeout);
        let tick = (min / 10).clamp(Duration::from_millis(5), Duration::from_secs(1));
        tokio::spawn(async move {
            let mut iv = tokio::time::interval(tick);
            iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut sweeps = 0u32;
            loop {
                iv.tick().await;
                let Some(srv) = weak.upgrade() else { return };
                srv.heartbeat();
                sweeps += 1;
                if sweeps.is_multiple_of(64) {
                    srv.handler.on_sweep();
                }
            }
        });
    }

    /// One heartbeat pass: ping who is due, close who missed a pong or was never claimed.
    fn heartbeat(&self) {
        let now = self.now_ms();
        {
            let mut closed = self.closed_by_client.lock();
            if !closed.is_empty() {
                closed.retain(|_, at| now.saturating_sub(*at) < CLOSED_GRACE_MS);
            }
        }
        let timeout = self.config.ping_timeout.as_millis() as u64;
        let connect_timeout = self.config.connect_timeout.as_millis() as u64;
        let all = self.all_sessions();
        for s in all {
            let deadline = s.pong_deadline.load(Ordering::Acquire);
            if deadline != 0 && now >= deadline {
                self.close_session(&s, DisconnectReason::PingTimeout);
                continue;
            }
            if self.claim_required
                && now.saturating_sub(s.created_ms) >= connect_timeout
                && !s.connected_once.load(Ordering::Acquire)
            {
                s.push_control(b"1");
                self.close_session(&s, DisconnectReason::ConnectTimeout);
                continue;
            }
            if let Some(reason) = self.handler.on_tick(&s, now) {
                self.close_session(&s, reason);
                continue;
            }
            let due = s.next_ping.load(Ordering::Acquire);
            if deadline == 0 && now >= due {
                // The deadline counts from when the ping was due, not from a late tick
                // (but leaves a late ping at least half the timeout).
                s.pong_deadline
                    .store((due + timeout).max(now + timeout / 2), Ordering::Release);
                s.push_control(b"2");
            }
        }
    }

    /// An Engine.IO text packet. `Err`: malformed, close the connection for that reason.
    /// The session now runs on WebSocket (tell the layer above).
    pub(crate) fn upgraded(&self, sess: &Arc<Session<D>>) {
        self.handler.on_upgrade(sess);
    }

    pub(crate) fn on_text(
        &self,
        sess: &Arc<Session<D>>,
        text: &str,
        transport: Transport,
    ) -> Result<(), DisconnectReason> {
        let b = text.as_bytes();
        match b.first() {
            Some(b'4') => {
                self.stats.packets_in.fetch_add(1, Ordering::Relaxed);
                self.handler.on_message(sess, &text[1..])
            }
            Some(b'3') => {
                // pong: the next ping is due one interval after it (as the reference does).
                sess.pong_deadline.store(0, Ordering::Release);
                sess.next_ping.store(
                    self.now_ms() + self.config.ping_interval.as_millis() as u64,
                    Ordering::Release,
                );
                Ok(())
            }
            Some(b'1') => {
                if transport == Transport::Polling {
                    // A pending GET ends with a noop, as the reference does; one that is
                    // still on its way gets the same (see `closed_by_client`).
                    sess.push_control(b"6");
                    if !sess.get_pending.load(Ordering::Acquire) {
                        let mut closed = self.closed_by_client.lock();
                        if closed.len() < CLOSED_MAX {
                            closed.insert(sess.sid.clone(), self.now_ms());
                        }
                    }
                }
                self.close_session(sess, DisconnectReason::TransportClose);
                Ok(())
            }
            Some(b'6') => Ok(()),
            Some(b'5') if transport == Transport::Websocket => Ok(()),
            // Engine.IO v4 pings go server -> client only.
            _ => Err(DisconnectReason::ParseError),
        }
    }

    /// A binary Engine.IO message. `Err`: close the connection for that reason.
    pub(crate) fn on_binary(
        &self,
        sess: &Arc<Session<D>>,
        data: Bytes,
    ) -> Result<(), DisconnectReason> {
        self.handler.on_binary(sess, data)
    }
}
