//! The ack shapes clients expect: `{ success: true, room }` / `{ success: false, error }`,
//! or an `error` event when the client asked for no ack.

use serde_json::json;

/// Now, as an RFC 3339 timestamp with milliseconds (what `Date.toISOString()` gives).
pub fn timestamp() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

pub(crate) fn reply_ok(socket: &sio::Socket, mut ev: sio::Event, room: &str) {
    if ev.wants_ack() {
        let _ = ev.ack(socket, &json!({ "success": true, "room": room }));
    }
}

/// Answer an error: the ack if one was asked for, else an `error` event. Never silent.
pub(crate) fn reply_error(socket: &sio::Socket, mut ev: sio::Event, error: &str) {
    if ev.wants_ack() {
        let _ = ev.ack(socket, &json!({ "success": false, "error": error }));
    } else {
        let _ = socket.emit(
            "error",
            &json!({ "event": ev.name(), "success": false, "error": error }),
        );
    }
}
