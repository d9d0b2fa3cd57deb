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
            // the server's encoding of the same event decodes to the same value as the
            // JavaScript client reads it, each placeholder resolved to its bytes (unless the
            // client wrote placeholder-shaped maps itself, which the JSON parser also reads
            // as references to its binaries, or repeated a map key holding a binary: the
            // JSON value keeps the last, so a shadowed placeholder's binary is not sent
            // again — counted on the parsed value; a repeated key also keeps the first key's
            // place, so the binaries may come in another order)
            let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
            if parsed.to_string().matches("_placeholder").count() != bins.len() {
                return;
            }
            let again = encode_msgpack_event(&ns, ev.name(), ev.args_raw(), &bins);
            let (k2, ns2, _, json2, bins2) = decode_msgpack(&again).expect("own output decodes");
            assert_eq!(
                (k2, &ns2, bins2.len()),
                (PacketKind::Event, &ns, bins.len())
            );
            let b: serde_json::Value = serde_json::from_str(&json2).unwrap();
            assert_eq!(norm(resolved(parsed, &bins)), norm(resolved(b, &bins2)));
        }
        PacketKind::Ack => assert!(id.is_some()),
        PacketKind::Connect => assert!(json.is_empty() || json.starts_with('{')),
        PacketKind::Disconnect => assert!(json.is_empty()),
        _ => panic!("a client cannot send {kind:?}"),
    }
});

/// `v` with each `{"_placeholder":true,"num":N}` replaced by the bytes of binary N.
fn resolved<B: AsRef<[u8]>>(v: serde_json::Value, bins: &[B]) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) if m.len() == 2 && m.get("_placeholder") == Some(&Value::Bool(true)) => {
            let n = m["num"].as_u64().expect("a placeholder's num") as usize;
            Value::from(bins[n].as_ref().to_vec())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(|x| resolved(x, bins)).collect()),
        Value::Object(m) => {
            Value::Object(m.into_iter().map(|(k, x)| (k, resolved(x, bins))).collect())
        }
        x => x,
    }
}

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
