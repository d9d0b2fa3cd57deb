//! Presence (README "Presence"): who is in the rooms that presence rules join
//! (`presence = true` in the rules table: `library:*`, `service-*` and `dashboard` in the
//! presets).
//!
//! A user is the verified token's `sub`; one user with three tabs is one user. The room
//! hears `presence:join { room, user, count }` when a user's first socket enters and
//! `presence:leave { room, user, count }` when their last socket leaves (`count`: the
//! distinct users now in the room). Anonymous sockets are counted, never listed, and
//! make no events. Members ask `presence:get { room }`; backends `GET
//! /api/v1/rooms/{room}/presence`.
//!
//! This node counts its own sockets per room and user. What crosses the node's edge is
//! only "a user's first socket on this node entered" / "their last one here left": on a
//! single node that is the event itself; in a cluster it goes to a [`Shared`] store
//! (Redis, `cluster::presence`) that sums the nodes and sends the events when the sum
//! crosses zero.
//!
//! Bounded: a listing names at most `presence_max_users` users (sorted; `truncated`
//! says when more are there) and the join/leave events stop while a room has more users
//! than that, so a crowded room does not cost every member an event per arrival.
//! Memory is one entry per (room, user) with sockets in it on this node.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use serde::Serialize;
use serde_json::{json, Value};

use crate::hub::Hub;
use crate::reply;
use crate::rules::{Identity, Rules};
use crate::telemetry::{inc, Telemetry};

/// Who is in a room: the answer of `presence:get` and the HTTP route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    /// The room.
    pub room: String,
    /// User ids, sorted, at most `presence_max_users`.
    pub users: Vec<String>,
    /// Distinct users in the room (all of them, listed or not).
    pub count: u64,
    /// Sockets in the room without a user id.
    pub anonymous: u64,
    /// True when `users` was cut at `presence_max_users`.
    pub truncated: bool,
}

/// A change at this node's edge: a user's first socket here entered `room` (or their
/// last one here left), or an anonymous socket entered or left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The room.
    pub room: String,
    /// The user; `None` for an anonymous socket.
    pub user: Option<String>,
    /// Entered (true) or left (false).
    pub entered: bool,
}

/// Where a cluster keeps presence across nodes (implemented by `cluster::presence`).
pub trait Shared: Send + Sync {
    /// Apply one change, in the order given; the store tells the room when a user's
    /// count over all nodes goes from 0 to 1 or back.
    fn change(&self, change: Change);
    /// The cluster-wide listing of `room`, naming at most `cap` users.
    fn list(&self, room: &str, cap: usize) -> sio::BoxFuture<Result<Listing, String>>;
    /// This node's counts changed wholesale (Redis forgot this node): rewrite them.
    fn resync(&self, counts: Vec<(String, Option<String>, u32)>);
}

/// This node's sockets in one presence room.
#[derive(Debug, Default)]
struct Room {
    /// Sockets per user.
    users: BTreeMap<String, u32>,
    /// Sockets without a user id.
    anonymous: u32,
}

/// The presence rooms a socket is counted in (kept on the socket).
#[derive(Debug, Clone, Default)]
struct Counted(Vec<String>);

/// The presence feature: this node's counts and, in a cluster, the shared store.
pub struct Presence {
    rules: Rules,
    max_users: usize,
    hub: Hub,
    telemetry: Arc<Telemetry>,
    /// Also orders the changes: they are applied (and handed to the shared store) under
    /// this lock, so the store sees them in the order they happened here.
    rooms: parking_lot::Mutex<HashMap<String, Room>>,
    shared: OnceLock<Arc<dyn Shared>>,
}

impl std::fmt::Debug for Presence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presence")
            .field("max_users", &self.max_users)
            .field("rooms", &self.rooms.lock().len())
            .field("shared", &self.shared.get().is_some())
            .finish()
    }
}

impl Presence {
    /// Presence for the rooms of `rules`' presence rules; listings name at most
    /// `max_users` users.
    pub fn new(rules: Rules, max_users: usize, hub: Hub, telemetry: Arc<Telemetry>) -> Self {
        Self {
            rules,
            max_users: max_users.max(1),
            hub,
            telemetry,
            rooms: parking_lot::Mutex::new(HashMap::new()),
            shared: OnceLock::new(),
        }
    }

    /// Use a cluster-wide store from now on (set once, before clients connect).
    pub fn share(&self, shared: Arc<dyn Shared>) {
        if self.shared.set(shared).is_err() {
            tracing::warn!("presence store set twice; keeping the first");
        }
    }

    /// The most users a listing names.
    pub fn max_users(&self) -> usize {
        self.max_users
    }

    /// Whether `room` has presence.
    pub fn tracks(&self, room: &str) -> bool {
        self.rules.has_presence(room)
    }

    /// `socket` joined `room` (a rule's join that changed something).
    pub fn joined(&self, socket: &sio::Socket, room: &str) {
        if !self.tracks(room) {
            return;
        }
        let mut counted = socket.get::<Counted>().unwrap_or_default();
        if counted.0.iter().any(|r| r == room) {
            return;
        }
        counted.0.push(room.to_owned());
        socket.insert(counted);
        self.enter(room, user_of(socket));
    }

    /// `socket` left `room`.
    pub fn left(&self, socket: &sio::Socket, room: &str) {
        let Some(mut counted) = socket.get::<Counted>() else {
            return;
        };
        let Some(i) = counted.0.iter().position(|r| r == room) else {
            return;
        };
        counted.0.swap_remove(i);
        socket.insert(counted);
        self.exit(room, user_of(socket));
    }

    /// `socket` is gone: it leaves every room it was counted in.
    pub fn disconnected(&self, socket: &sio::Socket) {
        let Some(counted) = socket.get::<Counted>() else {
            return;
        };
        socket.insert(Counted::default());
        let user = user_of(socket);
        for room in &counted.0 {
            self.exit(room, user.clone());
        }
    }

    /// `socket` was recovered with its rooms: it is counted in the presence rooms among
    /// them again (its disconnect took it out of them).
    pub fn restored(&self, socket: &sio::Socket) {
        let rooms: Vec<String> = socket
            .rooms()
            .into_iter()
            .filter(|r| self.tracks(r))
            .collect();
        socket.insert(Counted(rooms.clone()));
        let user = user_of(socket);
        for room in &rooms {
            self.enter(room, user.clone());
        }
    }

    fn enter(&self, room: &str, user: Option<String>) {
        let mut rooms = self.rooms.lock();
        let r = rooms.entry(room.to_owned()).or_default();
        let first = match &user {
            Some(u) => {
                let n = r.users.entry(u.clone()).or_insert(0);
                *n += 1;
                *n == 1
            }
            None => {
                r.anonymous += 1;
                true
            }
        };
        if first {
            let count = r.users.len();
            self.crossed(room, user, true, count);
        }
    }

    fn exit(&self, room: &str, user: Option<String>) {
        let mut rooms = self.rooms.lock();
        let Some(r) = rooms.get_mut(room) else {
            return;
        };
        let last = match &user {
            Some(u) => match r.users.get_mut(u) {
                Some(n) if *n > 1 => {
                    *n -= 1;
                    false
                }
                Some(_) => {
                    r.users.remove(u);
                    true
                }
                None => false,
            },
            None => {
                r.anonymous = r.anonymous.saturating_sub(1);
                true
            }
        };
        let count = r.users.len();
        if r.users.is_empty() && r.anonymous == 0 {
            rooms.remove(room);
        }
        if last {
            self.crossed(room, user, false, count);
        }
    }

    /// A change at this node's edge (called under the rooms lock, so in order): the
    /// shared store's business in a cluster, the room's event on a single node.
    fn crossed(&self, room: &str, user: Option<String>, entered: bool, count: usize) {
        if let Some(shared) = self.shared.get() {
            shared.change(Change {
                room: room.to_owned(),
                user,
                entered,
            });
        } else if let Some(user) = user {
            self.announce(room, &user, entered, count as u64);
        }
    }

    /// Tell `room` that `user` entered or left; `count` is the room's users after it.
    /// Quiet while the room is over the listing cap.
    pub fn announce(&self, room: &str, user: &str, entered: bool, count: u64) {
        let before = if entered { count - 1 } else { count + 1 };
        if count.max(before) > self.max_users as u64 {
            return;
        }
        let event = if entered {
            "presence:join"
        } else {
            "presence:leave"
        };
        inc(&self.telemetry.counters.presence_events);
        let _ = self.hub.root().to(room).emit(
            event,
            &json!({ "room": room, "user": user, "count": count }),
        );
    }

    /// Ask the cluster store to rewrite this node's counts — (room, user or `None` for
    /// the anonymous sockets, sockets) — taken under the lock that orders the changes, so
    /// none is lost or doubled.
    pub fn resync(&self) {
        let Some(shared) = self.shared.get() else {
            return;
        };
        let rooms = self.rooms.lock();
        let mut counts = Vec::new();
        for (name, r) in rooms.iter() {
            for (u, n) in &r.users {
                counts.push((name.clone(), Some(u.clone()), *n));
            }
            if r.anonymous > 0 {
                counts.push((name.clone(), None, r.anonymous));
            }
        }
        shared.resync(counts);
    }

    /// Who is in `room`: this node's counts, or the cluster's.
    pub async fn list(&self, room: &str) -> Result<Listing, String> {
        if let Some(shared) = self.shared.get() {
            return shared.list(room, self.max_users).await;
        }
        Ok(self.local_listing(&self.rooms.lock(), room))
    }

    /// `presence:get { room }`: for members of a presence room, ack `{ success: true,
    /// room, users, count, anonymous, truncated }`.
    pub async fn get(&self, socket: &sio::Socket, mut ev: sio::Event) {
        let room = ev.arg::<Value>(0).ok().and_then(|v| match v {
            Value::String(s) => Some(s),
            v => v.get("room").and_then(Value::as_str).map(str::to_owned),
        });
        let Some(room) = room else {
            inc(&self.telemetry.counters.rule_errors);
            return reply::error(socket, &mut ev, "room is required (a string)");
        };
        if !self.tracks(&room) {
            inc(&self.telemetry.counters.presence_refused);
            return reply::error(socket, &mut ev, "this room has no presence");
        }
        if !socket.rooms().contains(&room) {
            inc(&self.telemetry.counters.presence_refused);
            return reply::error(socket, &mut ev, "not a member of this room");
        }
        if self.shared.get().is_none() {
            // Answered under the lock that orders the join/leave events: a member never
            // gets an event older than the listing after it.
            let rooms = self.rooms.lock();
            let listing = self.local_listing(&rooms, &room);
            return reply::ok(socket, &mut ev, to_json(&listing));
        }
        match self.list(&room).await {
            Ok(listing) => reply::ok(socket, &mut ev, to_json(&listing)),
            Err(e) => {
                tracing::warn!(error = %e, room, "presence listing failed");
                reply::error(socket, &mut ev, "presence unavailable, try again");
            }
        }
    }

    fn local_listing(&self, rooms: &HashMap<String, Room>, room: &str) -> Listing {
        let (users, anonymous) = match rooms.get(room) {
            Some(r) => (&r.users, r.anonymous),
            None => {
                return Listing {
                    room: room.to_owned(),
                    users: Vec::new(),
                    count: 0,
                    anonymous: 0,
                    truncated: false,
                }
            }
        };
        Listing {
            room: room.to_owned(),
            users: users.keys().take(self.max_users).cloned().collect(),
            count: users.len() as u64,
            anonymous: u64::from(anonymous),
            truncated: users.len() > self.max_users,
        }
    }
}

fn to_json(listing: &Listing) -> Value {
    serde_json::to_value(listing).unwrap_or(Value::Null)
}

fn user_of(socket: &sio::Socket) -> Option<String> {
    socket.get::<Identity>().and_then(|w| w.sub)
}
