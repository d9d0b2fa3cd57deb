//! Notifications: stored first, then `notification:new` to each recipient user's room
//! `user:{id}` (a broadcast, so it is replayed by connection state recovery), with that
//! user's exact unread count. `notification:subscribe` replays the unread ones;
//! `notification:mark-read` persists and tells the user's other sockets.

use serde_json::{json, Value};
use std::collections::BTreeSet;

use crate::app::Shared;
use crate::rules::Identity;
use crate::store::{NewNotification, Notification, StoreError, Target};

/// Who a notification is for, as the API receives it.
#[derive(Debug, Clone)]
pub enum Recipients {
    /// One user id.
    User(String),
    /// Everyone with a role (also users who connect later).
    Role(String),
    /// The users whose sockets are in a room now.
    Room(String),
}

/// The notification room of a user.
pub fn user_room(user: &str) -> String {
    format!("user:{user}")
}

/// The wire shape of `notification:new`.
fn payload(n: &Notification, unread: i64) -> Value {
    json!({ "id": n.id, "title": n.title, "message": n.message, "severity": n.severity, "time": n.time, "unreadCount": unread })
}

/// Identities of the connected sockets, deduplicated by user.
fn connected_users(sh: &Shared, filter: impl Fn(&Identity) -> bool) -> Vec<Identity> {
    let mut seen = BTreeSet::new();
    sh.root()
        .sockets()
        .into_iter()
        .filter_map(|s| s.get::<Identity>())
        .filter(|who| who.sub.is_some() && filter(who))
        .filter(|who| seen.insert(who.sub.clone()))
        .collect()
}

fn roles_of(sh: &Shared, user: &str) -> Vec<String> {
    connected_users(sh, |w| w.sub.as_deref() == Some(user))
        .into_iter()
        .next()
        .map(|w| w.roles)
        .unwrap_or_default()
}

/// Store a notification and deliver it to every recipient connected now.
pub async fn send(
    sh: &Shared,
    to: &Recipients,
    new: &NewNotification,
) -> Result<Vec<Notification>, StoreError> {
    let target = match to {
        Recipients::User(u) => Target::User(u.clone()),
        Recipients::Role(r) => Target::Role(r.clone()),
        Recipients::Room(room) => {
            let ns = sh.root();
            let mut users: Vec<String> = ns
                .room_members(room)
                .iter()
                .filter_map(|id| ns.socket(id)?.get::<Identity>()?.sub)
                .collect();
            users.sort();
            users.dedup();
            Target::Users(users)
        }
    };
    let created = sh
        .store
        .create_notification(&target, new, super::now_ms())
        .await?;
    let deliveries: Vec<(String, Vec<String>, &Notification)> = match (&target, created.as_slice())
    {
        (Target::User(u), [n]) => vec![(u.clone(), roles_of(sh, u), n)],
        (Target::Role(r), [n]) => connected_users(sh, |w| w.roles.contains(r))
            .into_iter()
            .map(|w| (w.sub.unwrap_or_default(), w.roles, n))
            .collect(),
        (Target::Users(users), list) => users
            .iter()
            .zip(list)
            .map(|(u, n)| (u.clone(), roles_of(sh, u), n))
            .collect(),
        _ => Vec::new(),
    };
    for (user, roles, n) in deliveries {
        let unread = sh.store.unread_count(&user, &roles).await?;
        let _ = sh
            .root()
            .to(user_room(&user))
            .emit("notification:new", &payload(n, unread));
    }
    Ok(created)
}

/// Replay the caller's unread notifications, oldest first.
pub async fn replay(sh: &Shared, socket: &sio::Socket, who: &Identity) -> Result<(), StoreError> {
    let Some(user) = &who.sub else { return Ok(()) };
    let unread = sh.store.unread(user, &who.roles).await?;
    let count = unread.len() as i64;
    for n in &unread {
        let _ = socket.emit("notification:new", &payload(n, count));
    }
    Ok(())
}

/// `notification:mark-read { notificationId }`: persist, ack `{ success, unreadCount }`,
/// tell the user's other sockets `notification:read { id, unreadCount }`.
pub async fn mark_read(sh: &Shared, socket: &sio::Socket, mut ev: sio::Event) {
    let who = socket.get::<Identity>().unwrap_or_default();
    let reply = |ev: &mut sio::Event, v: Value| {
        if ev.wants_ack() {
            let _ = ev.ack(socket, &v);
        } else if v["success"] == false {
            let _ = socket.emit("error", &json!({ "event": "notification:mark-read", "success": false, "error": v["error"] }));
        }
    };
    let Some(user) = who.sub.clone() else {
        return reply(
            &mut ev,
            json!({ "success": false, "error": "authentication required" }),
        );
    };
    let id = ev.arg::<Value>(0).ok().and_then(|v| {
        v.get("notificationId")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let Some(id) = id else {
        return reply(
            &mut ev,
            json!({ "success": false, "error": "notificationId is required (a string)" }),
        );
    };
    let res = sh
        .store
        .mark_read(&id, &user, &who.roles, super::now_ms())
        .await;
    let res = match res {
        Ok(()) => sh.store.unread_count(&user, &who.roles).await,
        Err(e) => Err(e),
    };
    match res {
        Ok(unread) => {
            reply(&mut ev, json!({ "success": true, "unreadCount": unread }));
            let _ = socket.to(user_room(&user)).emit(
                "notification:read",
                &json!({ "id": id, "unreadCount": unread }),
            );
        }
        Err(StoreError::NotFound) => reply(
            &mut ev,
            json!({ "success": false, "error": "notification not found" }),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "mark-read failed");
            reply(
                &mut ev,
                json!({ "success": false, "error": "database unavailable, try again" }),
            );
        }
    }
}
