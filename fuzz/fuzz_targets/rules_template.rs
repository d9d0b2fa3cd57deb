//! Room templates and the rules that fill them from client payloads.
//!
//! Input: NUL-separated fields `template \0 payload-json \0 other-template \0 field \0
//! permission \0 sub \0 roles \0 tenant` (missing fields: empty / `public`).
//! Checks `RoomTemplate` parse/fill/extract/overlaps against each other and
//! `Rule::from_def` + `resolve`/`authorize` on the payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use switchboard::rules::{AckShape, Action, Identity, Placeholder, RoomTemplate, Rule, RuleDef};

fn check_template(t: &RoomTemplate, raw: &str, value: &str) {
    assert_eq!(t.as_str(), raw);
    assert_eq!(t.to_string(), raw);
    assert_eq!(RoomTemplate::parse(raw).as_ref(), Ok(t));
    let room = t.fill(value);
    match t.placeholder() {
        None => {
            assert_eq!(room, raw);
            assert_eq!(t.extract(raw), Some(""));
        }
        Some(_) if value.is_empty() => assert_eq!(t.extract(&room), None),
        Some(_) => assert_eq!(t.extract(&room), Some(value), "{raw} with {value:?}"),
    }
}

/// A room name both templates produce, when `overlaps` says there is one.
fn witness(a: &RoomTemplate, b: &RoomTemplate) -> Option<String> {
    let p = |t: &RoomTemplate| {
        t.fill("\u{1}")
            .split_once('\u{1}')
            .map(|(p, s)| (p.to_owned(), s.to_owned()))
    };
    match (a.is_static(), b.is_static()) {
        (true, _) => Some(a.as_str().to_owned()),
        (_, true) => Some(b.as_str().to_owned()),
        _ => {
            let (pa, sa) = p(a)?;
            let (pb, sb) = p(b)?;
            let prefix = if pa.len() >= pb.len() { pa } else { pb };
            let suffix = if sa.len() >= sb.len() { sa } else { sb };
            Some(format!("{prefix}x{suffix}"))
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let mut f = s.split('\0');
    let raw = f.next().unwrap_or("");
    let payload = f.next().unwrap_or("");
    let other = f.next().unwrap_or("");
    let field = f.next().filter(|x| !x.is_empty());
    let permission = f.next().filter(|x| !x.is_empty()).unwrap_or("public");
    let sub = f.next().filter(|x| !x.is_empty());
    let roles = f.next().unwrap_or("");
    let tenant = f.next().filter(|x| !x.is_empty());

    let Ok(t) = RoomTemplate::parse(raw) else {
        return;
    };
    check_template(&t, raw, payload);
    if let Ok(o) = RoomTemplate::parse(other) {
        check_template(&o, other, payload);
        let overlap = t.overlaps(&o);
        assert_eq!(overlap, o.overlaps(&t), "symmetric: {raw} / {other}");
        // Sound: a room both produce means an overlap.
        for v in [payload, "x"] {
            if v.is_empty() {
                continue;
            }
            let room = t.fill(v);
            if o.extract(&room).is_some() {
                assert!(overlap, "{raw} and {other} both produce {room:?}");
            }
        }
        // Complete: an overlap has a witness room.
        if overlap {
            let w = witness(&t, &o).expect("a witness");
            assert!(
                t.extract(&w).is_some() && o.extract(&w).is_some(),
                "{raw} / {other}: {w:?}"
            );
        }
    }

    let def = RuleDef {
        event: "fuzz:join".into(),
        action: Action::Join,
        room: raw.to_owned(),
        field: field.map(str::to_owned),
        permission: permission.to_owned(),
        ack: AckShape::Room,
        on_join: None,
        presence: false,
    };
    let Ok(rule) = Rule::from_def(&def, "fuzz") else {
        return;
    };
    let payload: Option<Value> = if payload.is_empty() {
        None
    } else {
        match serde_json::from_str(payload) {
            Ok(v) => Some(v),
            Err(_) => return,
        }
    };
    let who = Identity {
        sub: sub.map(str::to_owned),
        roles: roles
            .split(',')
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect(),
        tenant: tenant.map(str::to_owned),
    };
    let resolved = rule.resolve(payload.as_ref(), &who);
    if let Ok(room) = &resolved {
        let id = rule
            .room
            .extract(room)
            .expect("a resolved room matches its template");
        if rule.room.placeholder() == Some(Placeholder::Id) {
            assert!(!id.is_empty() && id.chars().count() <= 128);
            assert!(!id.chars().any(char::is_control));
        }
    }
    if let Ok(room) = rule.authorize(payload.as_ref(), &who) {
        assert_eq!(
            resolved.as_ref(),
            Ok(&room),
            "authorize agrees with resolve"
        );
    }
});
