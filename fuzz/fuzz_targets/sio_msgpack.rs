//! The `socket.io-msgpack-parser` format as the server reads every binary message of a
//! msgpack client: `msgpack::decode` (streaming msgpack → JSON text + binaries), then
//! `Event::parse` for events; what decodes must re-encode and decode to the same packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sio::fuzzing::{decode_msgpack, encode_msgpack_event, parse_event, split_args};
use sio::PacketKind;

fuzz_target!(|data: &[u8]| {
    let Ok((kind, ns, id, json, bins)) = decode_msgpack(data) else {
        return;
    };
    assert!(bins.len() <= 64);
    if !json.is_empty() {
        serde_json::from_str::<serde_json::Value>(&json).expect("decoded data is JSON");
    }
    match kind {
        PacketKind::Event => {
            let ev = parse_event(&json, id).expect("a decoded event parses");
            let args = split_args(&json).expect("an array");
            assert_eq!(ev.arg_count(), args.len() - 1);
            // the server's encoding of the same event decodes to the same JSON (unless the
            // client wrote placeholder-shaped maps itself, which the JSON parser also reads
            // as references to its binaries, or repeated a map key: the JSON value keeps the
            // last, so a shadowed placeholder's binary is not sent again — counted on the
            // parsed value)
            let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
            if parsed.to_string().matches("_placeholder").count() != bins.len() {
                return;
            }
            let again = encode_msgpack_event(&ns, ev.name(), ev.args_raw(), &bins);
            let (k2, ns2, _, json2, bins2) = decode_msgpack(&again).expect("own output decodes");
            assert_eq!((k2, &ns2, &bins2), (PacketKind::Event, &ns, &bins));
            let a: serde_json::Value = serde_json::from_str(&json).unwrap();
            let b: serde_json::Value = serde_json::from_str(&json2).unwrap();
            assert_eq!(norm(a), norm(b));
        }
        PacketKind::Ack => assert!(id.is_some()),
        PacketKind::Connect => assert!(json.is_empty() || json.starts_with('{')),
        PacketKind::Disconnect => assert!(json.is_empty()),
        _ => panic!("a client cannot send {kind:?}"),
    }
});

/// Numbers compared as JavaScript sees them (2.0 and 2 are one value; the encoder writes
/// integral floats as integers).
fn norm(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 => {
                Value::from(f as i64)
            }
            _ => Value::Number(n),
        },
        Value::Array(a) => Value::Array(a.into_iter().map(norm).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, x)| (k, norm(x))).collect()),
        x => x,
    }
}
