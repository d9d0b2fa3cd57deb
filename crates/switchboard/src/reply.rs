//! The one way a client event is answered: `{ success: true, … }` /
//! `{ success: false, error }` to the ack callback, or, when the client passed none, an
//! `error` event `{ event, success: false, error }` for failures (never silent) and
//! nothing for successes.

use serde_json::{json, Value};

/// Answer a success with `{ success: true }` plus `fields` (an object), if an ack was
/// asked for.
pub fn ok(socket: &sio::Socket, ev: &mut sio::Event, fields: Value) {
    if !ev.wants_ack() {
        return;
    }
    let mut body = json!({ "success": true });
    if let (Some(b), Value::Object(extra)) = (body.as_object_mut(), fields) {
        b.extend(extra);
    }
    let _ = ev.ack(socket, &body);
}

/// `{ success: true, room }`: a join or leave went through.
pub fn room(socket: &sio::Socket, ev: &mut sio::Event, room: &str) {
    ok(socket, ev, json!({ "room": room }));
}

/// Answer a failure: the ack if one was asked for, else an `error` event.
pub fn error(socket: &sio::Socket, ev: &mut sio::Event, error: &str) {
    if ev.wants_ack() {
        let _ = ev.ack(socket, &json!({ "success": false, "error": error }));
    } else {
        error_event(socket, ev.name(), error);
    }
}

/// The `error` event for a failure of `event` found after its ack was answered (or
/// when there was none): `{ event, success: false, error }`.
pub fn error_event(socket: &sio::Socket, event: &str, error: &str) {
    let _ = socket.emit(
        "error",
        &json!({ "event": event, "success": false, "error": error }),
    );
}
