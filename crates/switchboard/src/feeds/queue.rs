//! The service-queue system's room events (README "The three protocols"): `staffConnectionUpdate` to the
//! staff room when staff join it and when they disconnect, and `queueUserJoined` to a
//! service room when someone joins it. Which rooms these are is the rules table's say
//! (`on_join = "staff_update" | "queue_user_joined"`).

use serde_json::{json, Value};

use crate::conn::ConnInfo;
use crate::support::clock::timestamp;

/// The queue system's presence events.
#[derive(Debug, Default)]
pub struct Queue;

impl Queue {
    /// A socket joined the staff room `room` (the `staff_update` join hook): remember it
    /// on the socket and tell the room.
    pub fn staff_joined(&self, socket: &sio::Socket, room: &str) {
        if let Some(mut info) = socket.get::<ConnInfo>() {
            info.staff_room = Some(room.to_owned());
            socket.insert(info);
        }
        let _ = socket.ns().to(room).emit(
            "staffConnectionUpdate",
            &staff_update(socket, room, "connected"),
        );
    }

    /// A socket joined the service room `room` of `service` (the `queue_user_joined`
    /// join hook).
    pub fn user_joined(&self, socket: &sio::Socket, room: &str, service: &str) {
        let _ = socket.ns().to(room).emit(
            "queueUserJoined",
            &json!({
                "serviceType": service,
                "clientId": socket.get::<ConnInfo>().map(|i| i.client_id),
                "timestamp": timestamp(),
            }),
        );
    }

    /// A socket left: staff are announced to their room.
    pub fn on_disconnect(&self, socket: &sio::Socket) {
        if let Some(room) = socket.get::<ConnInfo>().and_then(|i| i.staff_room) {
            let _ = socket.ns().to(&room).emit(
                "staffConnectionUpdate",
                &staff_update(socket, &room, "disconnected"),
            );
        }
    }
}

fn staff_update(socket: &sio::Socket, room: &str, action: &str) -> Value {
    json!({
        "action": action,
        "clientId": socket.get::<ConnInfo>().map(|i| i.client_id),
        "timestamp": timestamp(),
        "totalConnected": socket.ns().room_size(room),
    })
}
