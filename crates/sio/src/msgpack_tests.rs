//! The msgpack parser against bytes written by the npm `socket.io-msgpack-parser` 3.0.2
//! (`tests/fixtures/msgpack-gen.js`), and round trips.

use super::*;
use crate::event::Event;
use serde_json::Value;

const FIXTURES: &str = include_str!("../tests/fixtures/msgpack-fixtures.json");

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn fixtures() -> Value {
    serde_json::from_str(FIXTURES).unwrap()
}

fn bins_of(v: &Value) -> Vec<Bytes> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|h| Bytes::from(unhex(h.as_str().unwrap())))
                .collect()
        })
        .unwrap_or_default()
}

/// The args field of a fixture: JSON values joined by commas (the generator wrote one array
/// for a single array argument, so take the text as is).
fn args_of(f: &Value) -> String {
    f["args"].as_str().unwrap().to_owned()
}

#[test]
fn server_packets_are_byte_exact_with_the_npm_parser() {
    let fx = fixtures();
    let mut n = 0;
    for f in fx["server"].as_array().unwrap() {
        let name = f["name"].as_str().unwrap();
        let want = unhex(f["hex"].as_str().unwrap());
        let ns = f["ns"].as_str().unwrap();
        let got = if let Some(kind) = f["kind"].as_str() {
            let kind = match kind {
                "connect" => PacketKind::Connect,
                "connect_error" => PacketKind::ConnectError,
                _ => PacketKind::Disconnect,
            };
            raw(kind, ns, f["json"].as_str().unwrap())
        } else if let Some(event) = f["event"].as_str() {
            event_fn(
                ns,
                event,
                &args_of(f),
                &bins_of(&f["bins"]),
                f["offset"].as_str(),
                f["id"].as_u64(),
            )
        } else {
            ack(
                ns,
                f["id"].as_u64().unwrap(),
                &args_of(f),
                &bins_of(&f["bins"]),
            )
        };
        assert_eq!(hexs(&got), hexs(&want), "{name}");
        n += 1;
    }
    assert!(n >= 15, "{n} fixtures");
}

fn event_fn(
    ns: &str,
    name: &str,
    args: &str,
    bins: &[Bytes],
    offset: Option<&str>,
    id: Option<u64>,
) -> Vec<u8> {
    event(ns, name, args, bins, offset, id)
}

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn client_packets_of_the_npm_parser_decode() {
    let fx = fixtures();
    for f in fx["client"].as_array().unwrap() {
        let name = f["name"].as_str().unwrap();
        let d =
            decode(&unhex(f["hex"].as_str().unwrap())).unwrap_or_else(|e| panic!("{name}: {e}"));
        let kind = match f["kind"].as_u64().unwrap() {
            0 => PacketKind::Connect,
            1 => PacketKind::Disconnect,
            2 => PacketKind::Event,
            _ => PacketKind::Ack,
        };
        assert_eq!(d.kind, kind, "{name}");
        assert_eq!(d.ns, f["ns"].as_str().unwrap(), "{name}");
        assert_eq!(d.id, f["id"].as_u64(), "{name}");
        assert_eq!(d.data, f["data"].as_str().unwrap(), "{name}");
        assert_eq!(d.bins, bins_of(&f["bins"]), "{name}");
    }
}

#[test]
fn what_the_npm_decoder_refuses_is_refused() {
    let fx = fixtures();
    for f in fx["bad"].as_array().unwrap() {
        let name = f["name"].as_str().unwrap();
        assert!(
            decode(&unhex(f["hex"].as_str().unwrap())).is_err(),
            "{name}"
        );
    }
}

#[test]
fn hostile_input_is_refused_without_panicking() {
    let cases: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xc1],
        vec![0x80],                         // empty map: no type
        vec![0xdf, 0xff, 0xff, 0xff, 0xff], // map32 with a huge length and no body
        vec![
            0x81, 0xa4, b'd', b'a', b't', b'a', 0xdd, 0xff, 0xff, 0xff, 0xff,
        ],
        vec![
            0x81, 0xa4, b'd', b'a', b't', b'a', 0xc6, 0xff, 0xff, 0xff, 0xff,
        ],
        vec![0x81, 0xa4, b't', b'y', b'p', b'e', 0xa2, 0xff, 0xfe], // invalid UTF-8 key/value
    ];
    for c in cases {
        assert!(decode(&c).is_err(), "{}", hexs(&c));
    }
    // deep nesting
    let mut deep = vec![0x83, 0xa4, b't', b'y', b'p', b'e', 0x02];
    deep.extend([
        0xa3, b'n', b's', b'p', 0xa1, b'/', 0xa4, b'd', b'a', b't', b'a',
    ]);
    deep.extend(std::iter::repeat_n(0x91, 10_000));
    deep.push(0xc0);
    assert!(decode(&deep).is_err());
    // trailing bytes
    let mut ok = event("/", "x", "", &[], None, None);
    assert!(decode(&ok).is_ok());
    ok.push(0);
    assert!(decode(&ok).is_err());
    // more binaries than the JSON parser accepts attachments
    let args = (0..65)
        .map(|i| format!("{{\"_placeholder\":true,\"num\":{i}}}"))
        .collect::<Vec<_>>()
        .join(",");
    let bins: Vec<Bytes> = (0..65).map(|_| Bytes::from_static(b"b")).collect();
    let p = event("/", "x", &args, &bins, None, None);
    // as a client would send it
    assert!(matches!(decode(&p), Err(PacketError::Attachments)));
}

#[test]
fn round_trips_through_decode() {
    let bins = vec![
        Bytes::from_static(b"\x00\x01"),
        Bytes::from(vec![7u8; 70_000]),
    ];
    let args = r#"{"a":[1,-2,3.5,"s",null,true],"b":{"_placeholder":true,"num":1}},{"_placeholder":true,"num":0},"é\n\"""#;
    let p = event("/chat", "msg", args, &bins, Some("5"), Some(9));
    let d = decode(&p).unwrap();
    assert_eq!(
        (d.kind, d.ns.as_str(), d.id),
        (PacketKind::Event, "/chat", Some(9))
    );
    // binaries come back in order of appearance, as placeholders
    assert_eq!(d.bins, vec![bins[1].clone(), bins[0].clone()]);
    let v: Value = serde_json::from_str(&d.data).unwrap();
    assert_eq!(
        v,
        serde_json::json!([
            "msg",
            {"a": [1, -2, 3.5, "s", null, true], "b": {"_placeholder": true, "num": 0}},
            {"_placeholder": true, "num": 1},
            "é\n\"",
            "5"
        ])
    );
    // and through rmpv, an independent decoder
    let val = rmpv::decode::read_value(&mut &p[..]).unwrap();
    let m = val.as_map().unwrap();
    let keys: Vec<&str> = m.iter().map(|(k, _)| k.as_str().unwrap()).collect();
    assert_eq!(keys, ["type", "data", "id", "nsp"]);
    let a = ack("/", 1, "1,\"x\"", &[]);
    let d = decode(&a).unwrap();
    assert_eq!(
        (d.kind, d.id, d.data.as_str()),
        (PacketKind::Ack, Some(1), "[1,\"x\"]")
    );
}

#[test]
fn integer_keys_and_undefined() {
    // { type: 2, nsp: "/", data: ["e", { 1: undefined, 2: 3 }] }
    let p = [
        0x83, 0xa4, b't', b'y', b'p', b'e', 0x02, 0xa3, b'n', b's', b'p', 0xa1, b'/', 0xa4, b'd',
        b'a', b't', b'a', 0x92, 0xa1, b'e', 0x82, 0x01, 0xd4, 0x00, 0x00, 0x02, 0x03,
    ];
    let d = decode(&p).unwrap();
    assert_eq!(d.data, r#"["e",{"2":3}]"#);
    // an undefined array element is null, as `JSON.stringify` writes it
    let mut q = p[..18].to_vec();
    q.extend([0x92, 0xa1, b'e', 0xd4, 0x00, 0x00]);
    assert_eq!(decode(&q).unwrap().data, r#"["e",null]"#);
}

/// `v` with every placeholder replaced by the bytes it refers to: the value the JavaScript
/// client holds after decoding.
fn resolved(v: Value, bins: &[Bytes]) -> Value {
    match v {
        Value::Object(m) => match placeholder(&m) {
            Some(n) => Value::from(bins[n].to_vec()),
            None => Value::Object(m.into_iter().map(|(k, x)| (k, resolved(x, bins))).collect()),
        },
        Value::Array(a) => Value::Array(a.into_iter().map(|x| resolved(x, bins)).collect()),
        x => x,
    }
}

#[test]
fn a_repeated_key_holding_binaries_re_encodes_as_javascript_reads_it() {
    // {type: 2, data: ["ev", {a: <01>, b: <02>, a: <03>}], nsp: "/"}: JavaScript keeps the
    // last `a`, at the first `a`'s place. The JSON handlers see keeps all three (placeholders
    // 0, 1, 2); the re-encoding writes the value JavaScript holds, so its binaries come in
    // another order, and each placeholder still resolves to the same bytes.
    let mut b = vec![
        0x83, 0xa4, b't', b'y', b'p', b'e', 0x02, 0xa4, b'd', b'a', b't', b'a',
    ];
    b.extend([0x92, 0xa2, b'e', b'v', 0x83]);
    b.extend([
        0xa1, b'a', 0xc4, 1, 1, 0xa1, b'b', 0xc4, 1, 2, 0xa1, b'a', 0xc4, 1, 3,
    ]);
    b.extend([0xa3, b'n', b's', b'p', 0xa1, b'/']);
    let d = decode(&b).unwrap();
    assert_eq!(d.bins.len(), 3);
    let ev = Event::parse(d.data.clone(), Vec::new(), d.id).unwrap();
    let again = decode(&event("/", ev.name(), ev.args_raw(), &d.bins, None, None)).unwrap();
    assert_eq!(
        again.bins,
        vec![Bytes::from_static(&[3]), Bytes::from_static(&[2])]
    );
    let seen = |d: &Decoded| resolved(serde_json::from_str(&d.data).unwrap(), &d.bins);
    assert_eq!(seen(&again), seen(&d));
    assert_eq!(seen(&d), serde_json::json!(["ev", {"a": [3], "b": [2]}]));
}
