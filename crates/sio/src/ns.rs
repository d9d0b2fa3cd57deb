//! A namespace: its handlers, its sockets, the room -> members index and the recovery
//! buffer. A broadcast is encoded once and the same bytes are queued for every member.

use indexmap::IndexMap;
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use crate::adapter::{Adapter, BroadcastMessage, Offset, RemoteSession, SessionChange};
use crate::common::DisconnectReason;
use crate::common::Shared;
use crate::config::Parser;
use crate::engine::endpoint::Engine;
use crate::engine::session::{Class, Frame, Pushed};
use crate::event::Event;
use crate::msgpack;
use crate::packet::{Encoder, PacketKind};
use crate::recovery::{self, Recovery, Restored};
use crate::state::{
    ConnectError, Handler, Handlers, Namespace, NsState, Observer, Resumed, SioData, SioSession,
    Socket,
};

/// Registers a namespace's handlers before the server is built.
pub struct NamespaceBuilder {
    pub(crate) name: String,
    pub(crate) handlers: Handlers,
}

impl NamespaceBuilder {
    /// Runs for every CONNECT before the client is acknowledged (authentication). The socket
    /// is not in any room yet; data stored on it stays. `Err` is sent as `connect_error`.
    /// On a recovery ([`Socket::recovered`]) the socket already holds the old connection's
    /// data: check it (is this the same user?) and replace what belongs to this connection.
    /// Events the client sends meanwhile wait and are dispatched in order afterwards.
    pub fn on_connect<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Socket, serde_json::Value) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        self.handlers.connect = Some(Arc::new(move |s, a| Box::pin(f(s, a))));
        self
    }

    /// Runs right after the CONNECT ack is queued, before any event of the client.
    pub fn on_connection(mut self, f: impl Fn(&Socket) + Send + Sync + 'static) -> Self {
        self.handlers.connection = Some(Arc::new(f));
        self
    }

    /// A synchronous handler for `event`, run inline in arrival order.
    pub fn on(mut self, event: &str, f: impl Fn(&Socket, Event) + Send + Sync + 'static) -> Self {
        self.handlers
            .events
            .insert(event.to_owned(), Handler::Sync(Arc::new(f)));
        self
    }

    /// An async handler for `event`. The socket's later events wait until it completes.
    pub fn on_async<F, Fut>(mut self, event: &str, f: F) -> Self
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.handlers.events.insert(
            event.to_owned(),
            Handler::Async(Arc::new(move |s, e| Box::pin(f(s, e)))),
        );
        self
    }

    /// Handler for events with no handler of their own (synchronous).
    pub fn on_any(mut self, f: impl Fn(&Socket, Event) + Send + Sync + 'static) -> Self {
        self.handlers.any = Some(Handler::Sync(Arc::new(f)));
        self
    }

    /// Async handler for events with no handler of their own.
    pub fn on_any_async<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.handlers.any = Some(Handler::Async(Arc::new(move |s, e| Box::pin(f(s, e)))));
        self
    }

    /// Runs once when a connected socket leaves (any reason).
    pub fn on_disconnect(
        mut self,
        f: impl Fn(&Socket, DisconnectReason) + Send + Sync + 'static,
    ) -> Self {
        self.handlers.disconnect = Some(Arc::new(f));
        self
    }
}

/// Targets of an emit: rooms, exceptions, volatility. Built by [`Namespace::to`] and
/// [`Socket::to`].
#[derive(Clone)]
pub struct BroadcastOperator {
    ns: Arc<Namespace>,
    rooms: Vec<Arc<str>>,
    except: Vec<Arc<str>>,
    volatile: bool,
    local: bool,
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Arc<Namespace>) -> Self {
        Self {
            ns,
            rooms: Vec::new(),
            except: Vec::new(),
            volatile: false,
            local: false,
        }
    }
    /// Also target `room`.
    pub fn to(mut self, room: impl AsRef<str>) -> Self {
        self.rooms.push(Arc::from(room.as_ref()));
        self
    }
    /// Skip sockets in `room`.
    pub fn except(mut self, room: impl AsRef<str>) -> Self {
        self.except.push(Arc::from(room.as_ref()));
        self
    }
    /// May be dropped for a slow socket; not replayed on recovery.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }
    /// Deliver to this node's sockets only, never through a cluster bus (socket.io's
    /// `local`): for work every node does for its own sockets, like periodic snapshots.
    pub fn local(mut self) -> Self {
        self.local = true;
        self
    }
    /// Emit `event` with one argument; returns the number of local sockets reached.
    pub fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<usize, serde_json::Error> {
        let args = serde_json::to_string(data)?;
        Ok(self.emit_raw(event, args, Vec::new()))
    }
    /// A broadcast delivered a page of members at a time ([`Paced::push`]), for large
    /// periodic work: one emit pushes to every member under the namespace lock and wakes
    /// every member's writer at once, so on a busy core the handshakes and events of other
    /// clients wait behind thousands of writes. Paced, the caller yields between pages.
    /// Always volatile and local (a re-sendable snapshot, this node's sockets); encoded
    /// once; the members are those at this call, and a member that left its rooms before
    /// its page is skipped.
    pub fn paced<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<Paced, serde_json::Error> {
        let args = serde_json::to_string(data)?;
        let ns = &self.ns;
        let frames = encode_event(
            ns.shared.config.parser,
            &ns.name,
            event,
            &args,
            &[],
            None,
            ns.shared.deflate_at(),
        );
        let members = {
            let st = ns.lock();
            let except: HashSet<&str> = self
                .except
                .iter()
                .filter_map(|r| st.rooms.get(r))
                .flat_map(|m| m.keys().map(|k| &**k))
                .collect();
            let mut seen = HashSet::new();
            let targets: Vec<&IndexMap<Arc<str>, Socket>> = if self.rooms.is_empty() {
                vec![&st.sockets]
            } else {
                self.rooms.iter().filter_map(|r| st.rooms.get(r)).collect()
            };
            let multi = targets.len() > 1;
            targets
                .into_iter()
                .flat_map(|m| m.values())
                .filter(|s| !except.contains(&*s.0.id) && (!multi || seen.insert(s.0.id.clone())))
                .cloned()
                .collect()
        };
        ns.shared.stats.broadcasts.fetch_add(1, Ordering::Relaxed);
        Ok(Paced {
            shared: ns.shared.clone(),
            frames,
            rooms: self.rooms.clone(),
            members,
            next: 0,
            delivered: 0,
        })
    }
    /// Emit pre-encoded arguments (`args`: JSON values joined by commas).
    pub fn emit_raw(&self, event: &str, args: String, bins: Vec<bytes::Bytes>) -> usize {
        let msg = BroadcastMessage {
            rooms: self.rooms.clone(),
            except: self.except.clone(),
            volatile: self.volatile,
            local: self.local,
            event: event.to_owned(),
            args,
            bins,
        };
        if msg.local {
            return self.ns.deliver(&msg, None);
        }
        self.ns.adapter.broadcast(&self.ns, msg)
    }
}

/// A volatile local broadcast being delivered page by page: [`BroadcastOperator::paced`].
pub struct Paced {
    shared: Arc<Shared>,
    frames: Arc<[Frame]>,
    rooms: Vec<Arc<str>>,
    members: Vec<Socket>,
    next: usize,
    delivered: usize,
}

impl Paced {
    /// Queue the broadcast for the next `page` members; `true` while members remain.
    /// A full queue drops it (counted, as any volatile packet).
    pub fn push(&mut self, page: usize) -> bool {
        let end = self.next.saturating_add(page).min(self.members.len());
        let stats = &self.shared.stats;
        let mut delivered = 0;
        for s in &self.members[self.next..end] {
            let member = s.0.connected.load(Ordering::Acquire)
                && (self.rooms.is_empty()
                    || s.0.rooms.lock().iter().any(|r| self.rooms.contains(r)));
            if !member {
                continue;
            }
            match s.0.session.push(&self.frames, Class::Volatile) {
                Pushed::Queued => delivered += 1,
                Pushed::Dropped | Pushed::Overflow => {
                    stats.volatile_dropped.fetch_add(1, Ordering::Relaxed);
                }
                Pushed::Closed => {}
            }
        }
        stats
            .deliveries
            .fetch_add(delivered as u64, Ordering::Relaxed);
        self.delivered += delivered;
        self.next = end;
        self.next < self.members.len()
    }
    /// Sockets it was queued for so far.
    pub fn delivered(&self) -> usize {
        self.delivered
    }
    /// Members not pushed to yet.
    pub fn remaining(&self) -> usize {
        self.members.len() - self.next
    }
}

impl Namespace {
    pub(crate) fn new(
        b: NamespaceBuilder,
        shared: Arc<Shared>,
        engine: Weak<Engine<SioData>>,
        adapter: Arc<dyn Adapter>,
        observer: Option<Arc<dyn Observer>>,
    ) -> Self {
        let c = &shared.config;
        let recovery = c.recovery.map(|window| {
            Recovery::new(recovery::Limits {
                window,
                max_packets: c.recovery_max_packets,
                max_bytes: c.recovery_max_bytes,
                max_sessions: c.recovery_max_sessions,
            })
        });
        Self {
            name: Arc::from(b.name),
            handlers: b.handlers,
            state: Mutex::new(NsState {
                sockets: IndexMap::new(),
                rooms: IndexMap::new(),
                own_rooms: 0,
                recovery,
                seq: 0,
            }),
            shared,
            engine,
            adapter,
            observer,
        }
    }

    /// The namespace's name (e.g. `/`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Start an emit to `room` (chain `.to`, `.except`, `.volatile`).
    pub fn to(self: &Arc<Self>, room: impl AsRef<str>) -> BroadcastOperator {
        BroadcastOperator::new(self.clone()).to(room)
    }

    /// Start an emit to every socket of the namespace.
    pub fn broadcast(self: &Arc<Self>) -> BroadcastOperator {
        BroadcastOperator::new(self.clone())
    }

    /// Connected sockets.
    pub fn socket_count(&self) -> usize {
        self.lock().sockets.len()
    }

    /// Every connected socket (a snapshot).
    pub fn sockets(&self) -> Vec<Socket> {
        self.lock().sockets.values().cloned().collect()
    }

    /// A connected socket by id.
    pub fn socket(&self, id: &str) -> Option<Socket> {
        self.lock().sockets.get(id).cloned()
    }

    /// Members of `room`.
    pub fn room_size(&self, room: &str) -> usize {
        self.lock().rooms.get(room).map_or(0, |m| m.len())
    }

    /// Every room with its member count (sockets' own id rooms excluded), sorted by name.
    pub fn rooms(&self) -> Vec<(String, usize)> {
        let st = self.lock();
        let mut v: Vec<(String, usize)> = st
            .rooms
            .iter()
            .filter(|(r, m)| !m.contains_key(&***r))
            .map(|(r, m)| (r.to_string(), m.len()))
            .collect();
        v.sort();
        v
    }

    /// How many rooms [`Namespace::rooms`] lists, without listing them: for periodic
    /// figures (building the list held the namespace for milliseconds at 10 000 sockets,
    /// once per load-metrics tick, bench/storm.sh).
    pub fn room_count(&self) -> usize {
        let st = self.lock();
        st.rooms.len() - st.own_rooms
    }

    /// Ids of the sockets in `room`.
    pub fn room_members(&self, room: &str) -> Vec<String> {
        self.lock()
            .rooms
            .get(room)
            .map_or_else(Vec::new, |m| m.keys().map(|k| k.to_string()).collect())
    }

    pub(crate) fn lock(&self) -> parking_lot::MutexGuard<'_, NsState> {
        self.state.lock()
    }

    /// Deliver a broadcast to this node's members. `offset`: the cluster bus's offset, or
    /// `None` to number it locally. Returns the number of sockets it was queued for.
    ///
    /// The namespace lock is held while pushing to every member: numbering, recording and
    /// queueing are one step, so per-connection order and the recovery log agree, and a
    /// join or leave is ordered before or after a broadcast as a whole. The alternative —
    /// a separate delivery lock, the members copied out under the namespace lock and
    /// pushed outside it, so a join/leave never waits behind a 1000-member push — was
    /// measured (`bench/run.sh` fan-out, 1000 subscribers, server on one core, the two
    /// binaries alternated in one run, `bench/results/issue13-nslock`): both sustain
    /// 6000 msg/s (≈ 6.0 M deliveries/s) and fail at 7000, but at 6000 msg/s p99 was
    /// 30 / 50 ms held vs 79 / 86 ms copied, and at 7000 191–247 ms vs 507–890 ms (the
    /// copy costs an `Arc` clone and drop per delivery). Held stays.
    ///
    /// A broadcast to rooms none of which has a member here is skipped before it is
    /// encoded, unless it must be recorded for recovery.
    pub fn deliver(&self, msg: &BroadcastMessage, offset: Option<Offset>) -> usize {
        self.deliver_as(msg, offset, true)
    }

    /// Deliver a broadcast to this node's members without an offset and without
    /// recording it for recovery: for a cluster node that cannot reach its bus, so that
    /// local numbers never mix with the bus's offsets.
    pub fn deliver_unrecorded(&self, msg: &BroadcastMessage) -> usize {
        self.deliver_as(msg, None, false)
    }

    fn deliver_as(&self, msg: &BroadcastMessage, offset: Option<Offset>, record: bool) -> usize {
        let stats = &self.shared.stats;
        let mut overflowed: Vec<Arc<SioSession>> = Vec::new();
        let mut delivered = 0;
        {
            let mut st = self.lock();
            let st = &mut *st;
            let offset = match (&mut st.recovery, msg.volatile || !record) {
                (Some(r), false) => Some(offset.unwrap_or_else(|| r.next_offset())),
                _ => None,
            };
            if offset.is_none()
                && !msg.rooms.is_empty()
                && !msg.rooms.iter().any(|r| st.rooms.contains_key(r))
            {
                return 0;
            }
            let frames = encode_event(
                self.shared.config.parser,
                &self.name,
                &msg.event,
                &msg.args,
                &msg.bins,
                offset.map(|o| o.to_string()).as_deref(),
                self.shared.deflate_at(),
            );
            if let (Some(r), Some(o)) = (&mut st.recovery, offset) {
                let trimmed = r.record(o, msg.rooms.clone(), msg.except.clone(), frames.clone());
                if trimmed > 0 {
                    stats.recovery_trimmed.fetch_add(trimmed, Ordering::Relaxed);
                }
            }
            st.seq += 1;
            let seq = st.seq;
            let except: HashSet<&str> = msg
                .except
                .iter()
                .filter_map(|r| st.rooms.get(r))
                .flat_map(|m| m.keys().map(|k| &**k))
                .collect();
            let class = if msg.volatile {
                Class::Volatile
            } else {
                Class::Reliable
            };
            let multi = msg.rooms.len() > 1;
            let mut send = |s: &Socket| {
                // Dedupe only matters when several rooms are targeted (one atomic less per
                // delivery otherwise: 85% of the member loop in the fan-out profile).
                if (multi && s.0.last_seq.swap(seq, Ordering::Relaxed) == seq)
                    || (!except.is_empty() && except.contains(&*s.0.id))
                {
                    return;
                }
                match s.0.session.push(&frames, class) {
                    Pushed::Queued => delivered += 1,
                    Pushed::Dropped => {
                        stats.volatile_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    Pushed::Overflow => overflowed.push(s.0.session.clone()),
                    Pushed::Closed => {}
                }
            };
            if msg.rooms.is_empty() {
                for_each_prefetched(&st.sockets, &mut send);
            } else {
                for r in &msg.rooms {
                    if let Some(m) = st.rooms.get(r) {
                        for_each_prefetched(m, &mut send);
                    }
                }
            }
        }
        stats.broadcasts.fetch_add(1, Ordering::Relaxed);
        stats
            .deliveries
            .fetch_add(delivered as u64, Ordering::Relaxed);
        self.close_slow(overflowed);
        delivered
    }

    pub(crate) fn close_slow(&self, sessions: Vec<Arc<SioSession>>) {
        if sessions.is_empty() {
            return;
        }
        if let Some(srv) = self.engine.upgrade() {
            for s in sessions {
                srv.close_session(&s, DisconnectReason::SlowConsumer);
            }
        }
    }

    /// Make a socket a member: joins its rooms, queues the CONNECT ack and missed packets.
    pub(crate) fn add(&self, s: &Socket, resumed: Option<Resumed>) {
        let at;
        {
            let mut st = self.lock();
            at = st.recovery.as_ref().map(|r| r.newest()).unwrap_or_default();
            self.add_locked(&mut st, s, resumed, at);
        }
        *s.0.since.lock() = at;
        if s.0.pid.is_some() {
            self.adapter
                .session_changed(s, SessionChange::Connected { at });
        }
    }

    fn add_locked(&self, st: &mut NsState, s: &Socket, resumed: Option<Resumed>, at: Offset) {
        st.sockets.insert(s.0.id.clone(), s.clone());
        let (rooms, missed) = match resumed {
            // (The restored data went onto the socket before the connect hook ran.)
            Some(Resumed::Local(r)) => (r.rooms, r.missed),
            Some(Resumed::Remote(r)) => self.remote_missed(st, r, at),
            None => (vec![s.0.id.clone()], Vec::new()),
        };
        for r in &rooms {
            st.rooms
                .entry(r.clone())
                .or_default()
                .insert(s.0.id.clone(), s.clone());
            if *r == s.0.id {
                st.own_rooms += 1;
            }
        }
        *s.0.rooms.lock() = rooms;
        s.0.connected.store(true, Ordering::Release);
        let ack = match &s.0.pid {
            Some(pid) => format!("{{\"sid\":\"{}\",\"pid\":\"{}\"}}", s.0.id, pid),
            None => format!("{{\"sid\":\"{}\"}}", s.0.id),
        };
        let frame = encode_control(
            self.shared.config.parser,
            PacketKind::Connect,
            &self.name,
            &ack,
        )
        .alone();
        s.0.session.push(&[frame], Class::Control);
        // The replay is bounded by the recovery buffer, not by `max_buffer`: a client that
        // was disconnected for being slow must get everything it missed in one go. Live
        // packets after it are bounded again (a still-slow client is disconnected again).
        for frames in missed {
            s.0.session.push(&frames, Class::Control);
        }
    }

    /// What a session kept by the adapter missed: its packets up to `at` (this node's
    /// newest delivered offset; later ones reach the socket live, now that it is a member)
    /// and, when this node delivered past what the adapter looked at, the rest from this
    /// namespace's own log.
    fn remote_missed(
        &self,
        st: &NsState,
        r: RemoteSession,
        at: Offset,
    ) -> (Vec<Arc<str>>, Vec<Arc<[Frame]>>) {
        let rooms: Vec<Arc<str>> = r.rooms.iter().map(|r| Arc::from(r.as_str())).collect();
        let mut missed: Vec<Arc<[Frame]>> = r
            .missed
            .iter()
            .filter(|(o, _)| *o <= at)
            .map(|(o, m)| {
                encode_event(
                    self.shared.config.parser,
                    &self.name,
                    &m.event,
                    &m.args,
                    &m.bins,
                    Some(&o.to_string()),
                    self.shared.deflate_at(),
                )
            })
            .collect();
        if r.through < at {
            match st
                .recovery
                .as_ref()
                .and_then(|log| log.missed(&rooms, r.through, at))
            {
                Some(more) => missed.extend(more),
                None => {
                    self.shared
                        .stats
                        .recovery_failures
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        through = %r.through, at = %at,
                        "recovered session: this node's log no longer reaches back to what the \
                         adapter read; packets in between are missing"
                    );
                }
            }
        }
        (rooms, missed)
    }

    /// Remove a socket from the namespace and its rooms; returns the rooms it was in
    /// (`None`: it was not a member).
    pub(crate) fn remove(&self, s: &Socket) -> Option<Vec<Arc<str>>> {
        let mut st = self.lock();
        st.sockets.shift_remove(&s.0.id)?;
        let rooms = std::mem::take(&mut *s.0.rooms.lock());
        for r in &rooms {
            if *r == s.0.id {
                st.own_rooms -= 1;
            }
            if let Some(m) = st.rooms.get_mut(r) {
                m.swap_remove(&s.0.id);
                if m.is_empty() {
                    st.rooms.swap_remove(r);
                }
            }
        }
        Some(rooms)
    }

    /// Keep a removed socket's session (rooms and data) for connection state recovery.
    pub(crate) fn persist(&self, s: &Socket, rooms: Vec<Arc<str>>) {
        let Some(pid) = &s.0.pid else { return };
        if self.adapter.keeps_sessions() {
            return;
        }
        let data = std::mem::take(&mut *s.0.data.lock());
        let since = *s.0.since.lock();
        let evicted = match self.lock().recovery.as_mut() {
            Some(rec) => rec.persist(pid.clone(), s.0.id.clone(), rooms, data, since),
            None => return,
        };
        if evicted > 0 {
            self.shared
                .stats
                .recovery_evicted
                .fetch_add(evicted, Ordering::Relaxed);
        }
    }

    pub(crate) fn join(&self, s: &Socket, room: &str) -> bool {
        let (added, at) = {
            let mut st = self.lock();
            if !st.sockets.contains_key(&s.0.id) {
                return false;
            }
            let key: Arc<str> = st
                .rooms
                .get_key_value(room)
                .map(|(k, _)| k.clone())
                .unwrap_or_else(|| Arc::from(room));
            let at = st.recovery.as_ref().map(|r| r.newest()).unwrap_or_default();
            let m = st.rooms.entry(key.clone()).or_default();
            let added = m.insert(s.0.id.clone(), s.clone()).is_none();
            if added {
                if *key == *s.0.id {
                    st.own_rooms += 1;
                }
                s.0.rooms.lock().push(key);
            }
            (added, at)
        };
        if added && s.0.pid.is_some() {
            self.adapter
                .session_changed(s, SessionChange::Joined { room, at });
        }
        if let (true, Some(o)) = (added, &self.observer) {
            s.guard("observer", || o.joined(s, room));
        }
        true
    }

    pub(crate) fn leave(&self, s: &Socket, room: &str) -> bool {
        let was = {
            let mut st = self.lock();
            let Some(m) = st.rooms.get_mut(room) else {
                return false;
            };
            let was = m.swap_remove(&s.0.id).is_some();
            if m.is_empty() {
                st.rooms.swap_remove(room);
            }
            if was {
                if room == &*s.0.id {
                    st.own_rooms -= 1;
                }
                s.0.rooms.lock().retain(|r| &**r != room);
            }
            was
        };
        if was && s.0.pid.is_some() {
            self.adapter
                .session_changed(s, SessionChange::Left { room });
        }
        if let (true, Some(o)) = (was, &self.observer) {
            s.guard("observer", || o.left(s, room));
        }
        was
    }

    pub(crate) fn restore(&self, pid: &str, offset: Option<&str>) -> Option<Restored> {
        self.lock().recovery.as_mut()?.restore(pid, offset)
    }

    /// The adapter's session store, when it keeps sessions (a cluster).
    pub(crate) fn restore_remote(
        &self,
        pid: &str,
        offset: Option<&str>,
    ) -> Option<crate::adapter::BoxFuture<Option<RemoteSession>>> {
        self.adapter.restore(self, pid, offset)
    }

    pub(crate) fn session_closed(&self, s: &Socket, recoverable: bool) {
        if s.0.pid.is_some() {
            self.adapter
                .session_changed(s, SessionChange::Closed { recoverable });
        }
    }

    pub(crate) fn sweep(&self) {
        if let Some(r) = self.lock().recovery.as_mut() {
            r.sweep();
        }
    }
}

/// Encode an EVENT (or BINARY_EVENT with its attachments) once.
pub(crate) fn encode_event(
    parser: Parser,
    ns: &str,
    event: &str,
    args: &str,
    bins: &[bytes::Bytes],
    offset: Option<&str>,
    deflate_at: Option<usize>,
) -> Arc<[Frame]> {
    encode_event_id(parser, ns, event, args, bins, offset, None, deflate_at)
}

// The one place outgoing packets are encoded, per the server's parser: with the JSON
// parser a text packet (its binaries as attachments), with msgpack one binary message.

// Every argument is one field of the packet or of how it is framed (parser, compression).
#[allow(clippy::too_many_arguments)]
pub(crate) fn encode_event_id(
    parser: Parser,
    ns: &str,
    event: &str,
    args: &str,
    bins: &[bytes::Bytes],
    offset: Option<&str>,
    id: Option<u64>,
    deflate_at: Option<usize>,
) -> Arc<[Frame]> {
    if parser == Parser::Msgpack {
        let b = msgpack::event(ns, event, args, bins, offset, id);
        return Arc::from(vec![Frame::binary(&b).deflatable(deflate_at)]);
    }
    let kind = if bins.is_empty() {
        PacketKind::Event
    } else {
        PacketKind::BinaryEvent
    };
    let enc = Encoder {
        kind,
        ns,
        id,
        attachments: bins.len(),
    };
    let mut frames = Vec::with_capacity(1 + bins.len());
    frames.push(Frame::text(&enc.event(event, args, offset)).deflatable(deflate_at));
    frames.extend(bins.iter().map(|b| Frame::binary(b).deflatable(deflate_at)));
    frames.into()
}

/// An ACK (or BINARY_ACK with its attachments).
pub(crate) fn encode_ack(
    parser: Parser,
    ns: &str,
    id: u64,
    args: &str,
    bins: &[bytes::Bytes],
    deflate_at: Option<usize>,
) -> Vec<Frame> {
    if parser == Parser::Msgpack {
        return vec![Frame::binary(&msgpack::ack(ns, id, args, bins)).deflatable(deflate_at)];
    }
    let kind = if bins.is_empty() {
        PacketKind::Ack
    } else {
        PacketKind::BinaryAck
    };
    let enc = Encoder {
        kind,
        ns,
        id: Some(id),
        attachments: bins.len(),
    };
    let mut frames = vec![Frame::text(&enc.ack(args)).deflatable(deflate_at)];
    frames.extend(bins.iter().map(|b| Frame::binary(b).deflatable(deflate_at)));
    frames
}

/// CONNECT, CONNECT_ERROR or DISCONNECT with a JSON payload (`""`: none).
pub(crate) fn encode_control(parser: Parser, kind: PacketKind, ns: &str, json: &str) -> Frame {
    if parser == Parser::Msgpack {
        return Frame::binary(&msgpack::raw(kind, ns, json));
    }
    let enc = Encoder {
        kind,
        ns,
        id: None,
        attachments: 0,
    };
    Frame::text(&enc.raw(json))
}

/// Members visited ahead of the one being sent to: its socket, then its session's outbox,
/// are loaded while earlier members are served.
const PREFETCH_AHEAD: usize = 16;

/// Call `send` on each member in order, asking the CPU to load each member's socket
/// [`PREFETCH_AHEAD`] members early and its session's outbox half as early. Why: in a
/// fan-out each member's state is cold, and the fan-out profile (1 000 members, 3 M
/// deliveries/s) had half of `Session::push` waiting for the outbox's first cache line
/// (the lock's `cmpxchg`); the loads now overlap instead of following each other.
fn for_each_prefetched(members: &IndexMap<Arc<str>, Socket>, mut send: impl FnMut(&Socket)) {
    use crate::engine::session::prefetch;
    let n = members.len();
    for i in 0..n {
        if let Some((_, s)) = members.get_index(i + PREFETCH_AHEAD) {
            prefetch(std::ptr::from_ref(&s.0.session));
        }
        if let Some((_, s)) = members.get_index(i + PREFETCH_AHEAD / 2) {
            s.0.session.prefetch_outbox();
        }
        if let Some((_, s)) = members.get_index(i) {
            send(s);
        }
    }
}
