//! The bus's message format: entries of Node's `@socket.io/redis-streams-adapter`
//! (fields `uid`, `nsp`, `type`, `data`; type 3 = a broadcast whose `data` is
//! `{ packet, opts: { rooms, except, flags } }` as JSON, or msgpack in base64 when it
//! carries binary). Pure functions, so they are tested without Redis.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::sync::Arc;

/// `type` of a broadcast entry (socket.io-adapter's `MessageType.BROADCAST`).
pub const BROADCAST: &str = "3";
/// Socket.IO packet type EVENT.
const EVENT: u8 = 2;

/// A decoded bus entry.
#[derive(Debug, PartialEq)]
pub enum Entry {
    /// A broadcast for namespace `nsp`.
    Broadcast(sio::BroadcastMessage),
    /// Not ours to deliver: another message type (heartbeats, fetchSockets, …), a
    /// broadcast with acks, or a body we do not decode (msgpack). Counted, skipped.
    Skip(&'static str),
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow)]
    packet: Packet<'a>,
    #[serde(default)]
    opts: Opts,
    #[serde(default, rename = "requestId")]
    request_id: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Packet<'a> {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(borrow)]
    data: Vec<&'a RawValue>,
    #[serde(default)]
    id: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct Opts {
    #[serde(default)]
    rooms: Vec<String>,
    #[serde(default)]
    except: Vec<String>,
    #[serde(default)]
    flags: Flags,
}

#[derive(Deserialize, Default)]
struct Flags {
    #[serde(default)]
    volatile: Option<bool>,
}

/// Decode the `type` and `data` fields of an entry.
pub fn decode(kind: &str, data: &str) -> Entry {
    if kind != BROADCAST {
        return Entry::Skip("not a broadcast");
    }
    if !data.starts_with('{') {
        return Entry::Skip("binary (msgpack) broadcast");
    }
    let Ok(d) = serde_json::from_str::<Data<'_>>(data) else {
        return Entry::Skip("undecodable broadcast");
    };
    if d.request_id.is_some() || d.packet.id.is_some() {
        return Entry::Skip("broadcast with acks");
    }
    if d.packet.kind != EVENT {
        return Entry::Skip("not an event packet");
    }
    let mut args = d.packet.data.iter();
    let Some(Ok(event)) = args.next().map(|e| serde_json::from_str::<String>(e.get())) else {
        return Entry::Skip("event without a name");
    };
    let args: Vec<&str> = args.map(|a| a.get()).collect();
    let rooms = |v: Vec<String>| v.into_iter().map(Arc::from).collect::<Vec<Arc<str>>>();
    Entry::Broadcast(sio::BroadcastMessage {
        rooms: rooms(d.opts.rooms),
        except: rooms(d.opts.except),
        volatile: d.opts.flags.volatile.unwrap_or(false),
        local: false,
        event,
        args: args.join(","),
        bins: Vec::new(),
    })
}

/// Encode a broadcast's `data` field (JSON; the caller keeps binary broadcasts local).
pub fn encode(nsp: &str, msg: &sio::BroadcastMessage) -> String {
    let mut out = String::with_capacity(96 + msg.event.len() + msg.args.len());
    out.push_str("{\"packet\":{\"type\":2,\"data\":[");
    out.push_str(&serde_json::to_string(&msg.event).unwrap_or_default());
    if !msg.args.is_empty() {
        out.push(',');
        out.push_str(&msg.args);
    }
    out.push_str("],\"nsp\":");
    out.push_str(&serde_json::to_string(nsp).unwrap_or_default());
    out.push_str("},\"opts\":{\"rooms\":");
    out.push_str(&serde_json::to_string(&msg.rooms).unwrap_or_default());
    out.push_str(",\"except\":");
    out.push_str(&serde_json::to_string(&msg.except).unwrap_or_default());
    out.push_str(",\"flags\":");
    out.push_str(if msg.volatile {
        "{\"volatile\":true}"
    } else {
        "{}"
    });
    out.push_str("}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(rooms: &[&str], except: &[&str], volatile: bool, args: &str) -> sio::BroadcastMessage {
        sio::BroadcastMessage {
            rooms: rooms.iter().map(|r| Arc::from(*r)).collect(),
            except: except.iter().map(|r| Arc::from(*r)).collect(),
            volatile,
            local: false,
            event: "kpi:update:finance".into(),
            args: args.into(),
            bins: Vec::new(),
        }
    }

    #[test]
    fn a_broadcast_round_trips() {
        for m in [
            msg(
                &["module:finance"],
                &["user:1"],
                false,
                r#"{"a":[1,2]},"x""#,
            ),
            msg(&[], &[], true, ""),
        ] {
            let data = encode("/", &m);
            let v: serde_json::Value = serde_json::from_str(&data).expect("valid JSON");
            assert_eq!(v["packet"]["type"], 2);
            assert_eq!(v["packet"]["nsp"], "/");
            assert_eq!(decode(BROADCAST, &data), Entry::Broadcast(m));
        }
    }

    #[test]
    fn the_emitter_s_format_decodes() {
        // What @socket.io/redis-streams-emitter writes for
        // emitter.to("room1").except("room2").emit("hello", { n: 1 }, "two").
        let data = r#"{"packet":{"type":2,"data":["hello",{"n":1},"two"],"nsp":"/"},"opts":{"rooms":["room1"],"except":["room2"],"flags":{}}}"#;
        let Entry::Broadcast(m) = decode("3", data) else {
            panic!("not decoded")
        };
        assert_eq!(m.event, "hello");
        assert_eq!(m.args, r#"{"n":1},"two""#);
        assert_eq!(m.rooms, vec![Arc::<str>::from("room1")]);
        assert_eq!(m.except, vec![Arc::<str>::from("room2")]);
        assert!(!m.volatile);
    }

    #[test]
    fn what_is_not_a_plain_broadcast_is_skipped() {
        assert!(matches!(decode("2", "{}"), Entry::Skip(_)), "heartbeat");
        assert!(matches!(decode("3", "gqRkYXRh"), Entry::Skip(_)), "msgpack");
        assert!(matches!(decode("3", "{nope"), Entry::Skip(_)));
        let with_ack = r#"{"packet":{"type":2,"data":["e"],"nsp":"/"},"opts":{},"requestId":"x"}"#;
        assert!(matches!(decode("3", with_ack), Entry::Skip(_)));
        let nameless = r#"{"packet":{"type":2,"data":[1],"nsp":"/"},"opts":{}}"#;
        assert!(matches!(decode("3", nameless), Entry::Skip(_)));
    }
}
