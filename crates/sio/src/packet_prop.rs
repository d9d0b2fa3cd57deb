//! Property tests of the packet codec (issue 6, bad-input campaign): `parse` never
//! panics, whatever a client sends; what `Encoder` writes parses back to the same
//! packet; `parse` only ever hands out slices of its input.
//!
//! Bounded so the whole module runs in a few seconds in CI (`cases` below).

use super::*;
use proptest::prelude::*;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Failures are reported with their seed; no files next to the sources.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Strings shaped like packets: a type digit, digit runs (attachment counts, ack ids of
/// every length around the limits), namespaces, dashes, commas and JSON-ish tails.
fn packet_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[0-9]{1,25}",
        Just("-".to_owned()),
        Just(",".to_owned()),
        "/[a-z0-9,/]{0,6}",
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        "\"[a-z\\\\\"]{0,4}\"",
        Just(":".to_owned()),
        "[ \\t\\n]",
        "\\PC{1,3}",
        Just("{\"_placeholder\":true,\"num\":0}".to_owned()),
    ];
    ("[0-9a/]", proptest::collection::vec(piece, 0..12))
        .prop_map(|(head, parts)| format!("{head}{}", parts.concat()))
}

/// Byte offset of `part` inside `whole`, if `part` borrows from it.
fn offset_in(whole: &str, part: &str) -> Option<usize> {
    let w = whole.as_ptr() as usize;
    let p = part.as_ptr() as usize;
    (p >= w && p + part.len() <= w + whole.len()).then(|| p - w)
}

/// Everything a successful parse promises about its result, for any input.
fn check_parsed(input: &str) -> Result<(), TestCaseError> {
    let Ok(p) = parse(input) else {
        return Ok(());
    };
    prop_assert_ne!(p.kind, PacketKind::ConnectError, "a server-only type");
    let binary = matches!(p.kind, PacketKind::BinaryEvent | PacketKind::BinaryAck);
    prop_assert!(p.attachments <= MAX_ATTACHMENTS);
    prop_assert!(binary || p.attachments == 0);
    if let Some(id) = p.id {
        prop_assert!(id < 10u64.pow(15), "ack ids have at most 15 digits");
    }
    if matches!(p.kind, PacketKind::Ack | PacketKind::BinaryAck) {
        prop_assert!(p.id.is_some());
    }

    // The header before the namespace: the type byte, then `<digits>-` for binary kinds.
    let header = if binary {
        input.find('-').map(|i| i + 1).unwrap_or_default()
    } else {
        1
    };
    prop_assert!(header > 0 && header <= input.len());
    if input[header..].starts_with('/') {
        // An explicit namespace: the slice of the input right after the header, up to
        // (not including) the first comma.
        prop_assert_eq!(offset_in(input, p.ns), Some(header), "ns {:?}", p.ns);
        prop_assert!(!p.ns.contains(','));
        prop_assert!(p.ns.starts_with('/'));
        let rest = &input[header + p.ns.len()..];
        prop_assert!(rest.is_empty() || rest.starts_with(','));
    } else {
        prop_assert_eq!(p.ns, "/", "the default namespace when none is named");
    }
    // The payload is the input's tail.
    prop_assert!(input.ends_with(p.data));
    prop_assert_eq!(offset_in(input, p.data), Some(input.len() - p.data.len()));
    match p.kind {
        PacketKind::Event | PacketKind::BinaryEvent => {
            let args = split_args(p.data).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(args[0].get().starts_with('"'), "event name is a string");
        }
        PacketKind::Ack | PacketKind::BinaryAck => {
            prop_assert!(split_args(p.data).is_ok());
        }
        _ => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(4096))]

    #[test]
    fn parse_never_panics_on_arbitrary_unicode(s in "\\PC{0,64}|.{0,64}") {
        check_parsed(&s)?;
    }

    #[test]
    fn parse_never_panics_on_digit_heavy_strings(s in "[0-9]{0,40}(-|/[0-9a-z,]{0,5}|[0-9]{0,20})[0-9\\[\\]\",{}-]{0,30}") {
        check_parsed(&s)?;
    }


    #[test]
    fn parse_never_panics_on_lossy_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        // What a transport would hand over after a lossy decode.
        check_parsed(&String::from_utf8_lossy(&bytes))?;
    }
}

/// JSON without floats (whose text may not round-trip digit for digit), bounded depth.
fn json_value() -> BoxedStrategy<serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        "\\PC{0,12}|[\\x00-\\x1f\"\\\\/]{0,4}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(("\\PC{0,6}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
    .boxed()
}

/// Namespaces a client can name: `/` or `/` + anything without a comma.
fn namespace() -> impl Strategy<Value = String> {
    prop_oneof![Just("/".to_owned()), "/[a-zA-Z0-9_./-]{1,12}", "/[^,]{1,8}",]
}

#[derive(Debug, Clone)]
enum Body {
    Event {
        name: String,
        args: Vec<serde_json::Value>,
        offset: Option<String>,
    },
    Ack(Vec<serde_json::Value>),
    Raw(String),
}

/// A valid client packet, as `(kind, ns, id, attachments, body)`.
fn valid_packet() -> impl Strategy<Value = (PacketKind, String, Option<u64>, usize, Body)> {
    let id = proptest::option::of(0u64..10u64.pow(15));
    let args = proptest::collection::vec(json_value(), 0..4);
    let event = (
        "\\PC{0,16}",
        args.clone(),
        proptest::option::of("[0-9a-f-]{1,20}"),
    )
        .prop_map(|(name, args, offset)| Body::Event { name, args, offset });
    let connect_json = prop_oneof![
        Just(String::new()),
        proptest::collection::vec(("\\PC{0,6}", json_value()), 0..3)
            .prop_map(|kv| { serde_json::Value::Object(kv.into_iter().collect()).to_string() }),
    ];
    prop_oneof![
        (namespace(), connect_json).prop_map(|(ns, json)| (
            PacketKind::Connect,
            ns,
            None,
            0,
            Body::Raw(json)
        )),
        namespace().prop_map(|ns| (
            PacketKind::Disconnect,
            ns,
            None,
            0,
            Body::Raw(String::new())
        )),
        (namespace(), id.clone(), event.clone()).prop_map(|(ns, id, ev)| (
            PacketKind::Event,
            ns,
            id,
            0,
            ev
        )),
        (namespace(), id.clone(), 1usize..=MAX_ATTACHMENTS, event).prop_map(|(ns, id, n, ev)| (
            PacketKind::BinaryEvent,
            ns,
            id,
            n,
            ev
        )),
        (namespace(), 0u64..10u64.pow(15), args.clone()).prop_map(|(ns, id, a)| (
            PacketKind::Ack,
            ns,
            Some(id),
            0,
            Body::Ack(a)
        )),
        (
            namespace(),
            0u64..10u64.pow(15),
            1usize..=MAX_ATTACHMENTS,
            args
        )
            .prop_map(|(ns, id, n, a)| (
                PacketKind::BinaryAck,
                ns,
                Some(id),
                n,
                Body::Ack(a)
            )),
    ]
}

fn joined(args: &[serde_json::Value]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn encode_then_parse_round_trips((kind, ns, id, attachments, body) in valid_packet()) {
        let enc = Encoder { kind, ns: &ns, id, attachments };
        // The encoder writes the Engine.IO `4` (message) prefix; a client sends the
        // Socket.IO packet after it.
        let (wire, expected_args): (Vec<u8>, Option<Vec<String>>) = match &body {
            Body::Event { name, args, offset } => {
                let mut all = vec![serde_json::to_string(name).unwrap()];
                all.extend(joined(args));
                if let Some(o) = offset {
                    all.push(serde_json::to_string(o).unwrap());
                }
                (enc.event(name, &joined(args).join(","), offset.as_deref()), Some(all))
            }
            Body::Ack(args) => (enc.ack(&joined(args).join(",")), Some(joined(args))),
            Body::Raw(json) => (enc.raw(json), None),
        };
        let wire = String::from_utf8(wire).expect("the encoder writes UTF-8");
        prop_assert!(wire.starts_with('4'));
        let text = &wire[1..];
        let p = parse(text);
        prop_assert!(p.is_ok(), "{:?} does not parse: {:?}", text, p);
        let p = p.unwrap();
        prop_assert_eq!(p.kind, kind);
        prop_assert_eq!(p.ns, ns.as_str());
        prop_assert_eq!(p.id, id);
        prop_assert_eq!(p.attachments, attachments);
        match expected_args {
            Some(expected) => {
                let got: Vec<&str> = split_args(p.data)
                    .expect("arguments split")
                    .iter()
                    .map(|r| r.get())
                    .collect();
                prop_assert_eq!(got, expected);
            }
            None => {
                let Body::Raw(json) = &body else { unreachable!() };
                prop_assert_eq!(p.data, json.as_str());
            }
        }
        check_parsed(text)?;
    }
}

/// A valid packet's text, as the client would send it.
fn encoded(
    (kind, ns, id, attachments, body): (PacketKind, String, Option<u64>, usize, Body),
) -> String {
    let enc = Encoder {
        kind,
        ns: &ns,
        id,
        attachments,
    };
    let wire = match &body {
        Body::Event { name, args, offset } => {
            enc.event(name, &joined(args).join(","), offset.as_deref())
        }
        Body::Ack(args) => enc.ack(&joined(args).join(",")),
        Body::Raw(json) => enc.raw(json),
    };
    String::from_utf8(wire).expect("UTF-8")[1..].to_owned()
}

/// One edit of a packet's text: delete, insert or replace at a relative position.
#[derive(Debug, Clone)]
enum Edit {
    Delete(f64),
    Insert(f64, char),
    Replace(f64, char),
    Truncate(f64),
}

fn edit() -> impl Strategy<Value = Edit> {
    let c = prop_oneof![
        proptest::char::range('0', '9'),
        proptest::sample::select(vec!['-', '/', ',', '[', ']', '{', '}', '"', '\\', ' ', 'é']),
        any::<char>(),
    ];
    prop_oneof![
        (0.0..1.0f64).prop_map(Edit::Delete),
        (0.0..1.0f64, c.clone()).prop_map(|(at, c)| Edit::Insert(at, c)),
        (0.0..1.0f64, c).prop_map(|(at, c)| Edit::Replace(at, c)),
        (0.0..1.0f64).prop_map(Edit::Truncate),
    ]
}

fn apply(s: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    for e in edits {
        let at = |f: f64, n: usize| ((f * n as f64) as usize).min(n);
        match *e {
            Edit::Delete(f) if !chars.is_empty() => {
                let i = at(f, chars.len() - 1);
                chars.remove(i);
            }
            Edit::Insert(f, c) => {
                let i = at(f, chars.len());
                chars.insert(i, c);
            }
            Edit::Replace(f, c) if !chars.is_empty() => {
                let i = at(f, chars.len() - 1);
                chars[i] = c;
            }
            Edit::Truncate(f) => chars.truncate(at(f, chars.len())),
            _ => {}
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn parse_never_panics_on_packet_shaped_strings(s in packet_like()) {
        check_parsed(&s)?;
    }

    #[test]
    fn parse_never_panics_on_mutated_valid_packets(
        text in valid_packet().prop_map(encoded),
        edits in proptest::collection::vec(edit(), 1..4),
    ) {
        check_parsed(&apply(&text, &edits))?;
    }
}
