//! Notifications: stored first, then `notification:new` with the recipient's exact unread
//! count. Where it goes (the README's "Live data"):
//!
//! - to a **user**: that user's room `user:{id}` (joined with `notification:subscribe`);
//! - to a **role**: the room `user:{id}` and every connected socket of each user with the
//!   role, subscribed or not (one stored row, read marks per user);
//! - to a **room**: every socket in the room, subscribed or not — one stored row per user
//!   in it (plus their `user:{id}` room); sockets without a user id get the notification
//!   live with `unreadCount: null` (they have no inbox: nothing stored, nothing replayed).
//!
//! Each is a broadcast, so it is replayed by connection state recovery.
//! `notification:subscribe` replays the unread ones; `notification:mark-read` persists and
//! tells the user's other sockets.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::hub::Hub;
use crate::rules::Identity;
use crate::store::{NewNotification, Notification, Store, StoreError, Target};
use crate::support::clock::now_ms;
use crate::telemetry::Telemetry;

/// Who a notification is for, as the API receives it.
#[derive(Debug, Clone)]
pub enum Recipients {
    /// One user id.
    User(String),
    /// Everyone with a role (also users who connect later).
    Role(String),
    /// The sockets in a room now.
    Room(String),
}

/// The notification room of a user.
pub fn user_room(user: &str) -> String {
    format!("user:{user}")
}

/// The wire shape of `notification:new`.
fn payload(n: &Notification, unread: Option<i64>) -> Value {
    json!({ "id": n.id, "title": n.title, "message": n.message, "severity": n.severity, "time": n.time, "unreadCount": unread })
}

/// One user's delivery: their roles (for the unread count) and the sockets to reach
/// besides their `user:{id}` room.
#[derive(Default)]
struct Audience {
    roles: Vec<String>,
    sockets: Vec<String>,
}

/// Notifications: the store behind them and the rooms they go to.
pub struct Notifications {
    store: Store,
    hub: Hub,
    telemetry: Arc<Telemetry>,
}

impl Notifications {
    /// Notifications stored in `store`, delivered through `hub`.
    pub fn new(store: Store, hub: Hub, telemetry: Arc<Telemetry>) -> Self {
        Self {
            store,
            hub,
            telemetry,
        }
    }

    fn counted<T>(&self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if matches!(&r, Err(e) if !matches!(e, StoreError::NotFound)) {
            self.telemetry.db_error();
        }
        r
    }

    /// Connected sockets by user id, for the users `pick` selects (from `sockets`).
    fn audiences(
        sockets: impl Iterator<Item = sio::Socket>,
        pick: impl Fn(&Identity) -> bool,
    ) -> BTreeMap<String, Audience> {
        let mut out: BTreeMap<String, Audience> = BTreeMap::new();
        for s in sockets {
            let Some(who) = s.get::<Identity>() else {
                continue;
            };
            let Some(sub) = who.sub.clone() else { continue };
            if !pick(&who) {
                continue;
            }
            let a = out.entry(sub).or_default();
            if a.roles.is_empty() {
                a.roles = who.roles;
            }
            a.sockets.push(s.id().to_owned());
        }
        out
    }

    /// Store a notification and deliver it to every recipient connected now.
    pub async fn send(
        &self,
        to: &Recipients,
        new: &NewNotification,
    ) -> Result<Vec<Notification>, StoreError> {
        let ns = self.hub.root();
        let mut anonymous = Vec::new();
        let (target, audiences) = match to {
            Recipients::User(u) => {
                let mut a =
                    Self::audiences(ns.sockets().into_iter(), |w| w.sub.as_deref() == Some(u));
                // A user's notification goes to their room only (no extra sockets).
                let roles = a.remove(u).map(|a| a.roles).unwrap_or_default();
                let one = BTreeMap::from([(
                    u.clone(),
                    Audience {
                        roles,
                        sockets: Vec::new(),
                    },
                )]);
                (Target::User(u.clone()), one)
            }
            Recipients::Role(r) => {
                let sockets = ns.sockets();
                let holders: Vec<String> =
                    Self::audiences(sockets.iter().cloned(), |w| w.roles.contains(r))
                        .into_keys()
                        .collect();
                // Every socket of each holder, whatever role its own token names.
                let all = Self::audiences(sockets.into_iter(), |w| {
                    w.sub.as_ref().is_some_and(|s| holders.contains(s))
                });
                (Target::Role(r.clone()), all)
            }
            Recipients::Room(room) => {
                let members: Vec<sio::Socket> = ns
                    .room_members(room)
                    .iter()
                    .filter_map(|id| ns.socket(id))
                    .collect();
                anonymous = members
                    .iter()
                    .filter(|s| s.get::<Identity>().and_then(|w| w.sub).is_none())
                    .map(|s| s.id().to_owned())
                    .collect();
                let a = Self::audiences(members.into_iter(), |_| true);
                (Target::Users(a.keys().cloned().collect()), a)
            }
        };
        let now = now_ms();
        let created = self.counted(self.store.create_notification(&target, new, now).await)?;
        let rows: Vec<(&String, &Audience, &Notification)> = match (&target, created.as_slice()) {
            (Target::User(_) | Target::Role(_), [n]) => {
                audiences.iter().map(|(u, a)| (u, a, n)).collect()
            }
            // One row per user, in the order given (the map's order).
            (Target::Users(_), list) => audiences
                .iter()
                .zip(list)
                .map(|((u, a), n)| (u, a, n))
                .collect(),
            _ => Vec::new(),
        };
        for (user, audience, n) in rows {
            let unread = self.counted(self.store.unread_count(user, &audience.roles).await)?;
            let mut op = ns.to(user_room(user));
            for sid in &audience.sockets {
                op = op.to(sid);
            }
            let _ = op.emit("notification:new", &payload(n, Some(unread)));
        }
        if !anonymous.is_empty() {
            let live = Notification {
                id: crate::store::new_id(now),
                title: new.title.clone(),
                message: new.message.clone(),
                severity: new.severity.clone(),
                time: crate::support::clock::rfc3339_millis(now),
                created_at_ms: now,
                target: String::new(),
            };
            let mut op = ns.broadcast();
            for sid in &anonymous {
                op = op.to(sid);
            }
            let _ = op.emit("notification:new", &payload(&live, None));
        }
        Ok(created)
    }

    /// Replay the caller's unread notifications, oldest first.
    pub async fn replay(&self, socket: &sio::Socket, who: &Identity) -> Result<(), StoreError> {
        let Some(user) = &who.sub else { return Ok(()) };
        let unread = self.counted(self.store.unread(user, &who.roles).await)?;
        let count = unread.len() as i64;
        for n in &unread {
            let _ = socket.emit("notification:new", &payload(n, Some(count)));
        }
        Ok(())
    }

    /// [`Notifications::replay`] in the background (the `notification_replay` join hook:
    /// handlers are synchronous); a failure is told to the client as an `error` event.
    pub fn replay_later(self: &Arc<Self>, socket: &sio::Socket, who: &Identity, event: &str) {
        let (me, socket, who, event) =
            (self.clone(), socket.clone(), who.clone(), event.to_owned());
        tokio::spawn(async move {
            if let Err(e) = me.replay(&socket, &who).await {
                tracing::warn!(error = %e, "notification replay failed");
                crate::reply::error_event(&socket, &event, "database unavailable, try again");
            }
        });
    }

    /// A user's notifications, newest first, with read flags, and their unread count.
    pub async fn list(
        &self,
        user: &str,
        roles: &[String],
        limit: i64,
    ) -> Result<(Vec<(Notification, bool)>, i64), StoreError> {
        let list = self.counted(self.store.list(user, roles, limit).await)?;
        let unread = self.counted(self.store.unread_count(user, roles).await)?;
        Ok((list, unread))
    }

    /// `notification:mark-read { notificationId }`: persist, ack `{ success, unreadCount }`,
    /// tell the user's other sockets `notification:read { id, unreadCount }`.
    pub async fn mark_read(&self, socket: &sio::Socket, mut ev: sio::Event) {
        let who = socket.get::<Identity>().unwrap_or_default();
        let Some(user) = who.sub.clone() else {
            return crate::reply::error(socket, &mut ev, "authentication required");
        };
        let id = ev.arg::<Value>(0).ok().and_then(|v| {
            v.get("notificationId")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        let Some(id) = id else {
            return crate::reply::error(socket, &mut ev, "notificationId is required (a string)");
        };
        let res = self.store.mark_read(&id, &user, &who.roles, now_ms()).await;
        let res = match res {
            Ok(()) => self.store.unread_count(&user, &who.roles).await,
            Err(e) => Err(e),
        };
        match self.counted(res) {
            Ok(unread) => {
                crate::reply::ok(socket, &mut ev, json!({ "unreadCount": unread }));
                let _ = socket.to(user_room(&user)).emit(
                    "notification:read",
                    &json!({ "id": id, "unreadCount": unread }),
                );
            }
            Err(StoreError::NotFound) => {
                crate::reply::error(socket, &mut ev, "notification not found")
            }
            Err(e) => {
                tracing::warn!(error = %e, "mark-read failed");
                crate::reply::error(socket, &mut ev, "database unavailable, try again");
            }
        }
    }
}
