//! Property tests of the rules engine (issue 6, bad-input campaign): for any JSON a
//! client can send and any identity a token can carry, resolving and authorizing never
//! panic, every room handed out fits its rule's template and length bound, payloads never
//! stand in for the token, and [`check`] is exactly the documented permission table.
//!
//! Bounded so the whole module runs in a few seconds in CI (`cases` below).

use super::*;
use proptest::prelude::*;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Names the presets use, so generated payloads and identities often hit them.
const WORDS: &[&str] = &[
    "moduleKey",
    "serviceType",
    "counterId",
    "userId",
    "userRole",
    "room",
    "staff",
    "admin",
    "student",
    "alice",
    "t1",
    "crm",
    "",
];

fn word() -> impl Strategy<Value = String> {
    proptest::sample::select(WORDS).prop_map(str::to_owned)
}

/// Strings of every kind a client may send: familiar ids, arbitrary unicode, control
/// characters, and lengths around [`MAX_ID_LEN`] (in characters, multi-byte too).
fn any_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => word(),
        3 => "\\PC{0,12}",
        1 => "[\\x00-\\x1f\\x7f\\u{85}a]{1,4}",
        1 => (120usize..136, proptest::sample::select(vec!['a', 'é', '€', '😀']))
            .prop_map(|(n, c)| std::iter::repeat_n(c, n).collect()),
        1 => ".{0,300}",
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from), // NaN and infinities become null
        Just(serde_json::json!(1e300)),
        Just(serde_json::json!(-0.0)),
    ]
}

/// Any JSON value, bounded depth and size; objects favour the preset field names.
fn json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        any_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let key = prop_oneof![word(), "\\PC{0,8}"];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key, inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A payload: absent, any JSON, or an object carrying one of the preset fields with any
/// value (the shape that gets furthest into the rules).
fn payload() -> impl Strategy<Value = Option<Value>> {
    let id_like = || {
        prop_oneof![
            3 => any_string().prop_map(Value::String),
            1 => number(),
            1 => json(),
        ]
    };
    prop_oneof![
        1 => Just(None),
        2 => json().prop_map(Some),
        2 => id_like().prop_map(Some),
        4 => (word(), id_like(), proptest::collection::vec((word(), json()), 0..3)).prop_map(
            |(field, value, extra)| {
                let mut o: serde_json::Map<String, Value> = extra.into_iter().collect();
                o.insert(field, value);
                Some(Value::Object(o))
            }
        ),
    ]
}

fn identity() -> impl Strategy<Value = Identity> {
    (
        // Tokens with an empty `sub` are refused before any rule runs (identity.rs).
        proptest::option::of(any_string().prop_filter("non-empty sub", |s| !s.is_empty())),
        proptest::collection::vec(any_string(), 0..4),
        proptest::option::of(any_string()),
    )
        .prop_map(|(sub, roles, tenant)| Identity { sub, roles, tenant })
}

/// The value that filled `rule`'s placeholder for `payload` and `who`, computed here
/// independently of the rules module: `None` when the rule must refuse the payload.
fn expected_id(rule: &Rule, payload: Option<&Value>, who: &Identity) -> Option<String> {
    let raw = match rule.room.placeholder() {
        None => return Some(String::new()),
        Some(Placeholder::Sub) => who.sub.clone()?,
        Some(Placeholder::Id) => {
            let v = match rule.field.as_deref() {
                None => payload?,
                Some(f) => payload?.as_object()?.get(f)?,
            };
            match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            }
        }
    };
    if rule.room.placeholder() == Some(Placeholder::Id) {
        let ok = !raw.is_empty()
            && raw.chars().count() <= MAX_ID_LEN
            && !raw.chars().any(char::is_control);
        if !ok {
            return None;
        }
    }
    Some(raw)
}

/// Everything `resolve` and `authorize` promise for one rule, payload and caller.
fn check_rule(rule: &Rule, payload: Option<&Value>, who: &Identity) -> Result<(), TestCaseError> {
    let resolved = rule.resolve(payload, who);
    let authorized = rule.authorize(payload, who);
    let expected = expected_id(rule, payload, who);
    let template_chars = rule.room.as_str().chars().count();
    match &resolved {
        Ok(room) => {
            let Some(id) = &expected else {
                return Err(TestCaseError::fail(format!(
                    "{} resolved {room:?} for a payload it must refuse: {payload:?}",
                    rule.event
                )));
            };
            prop_assert_eq!(room, &rule.room.fill(id));
            // The room fits the template: `module:…` for module:subscribe, and so on.
            prop_assert_eq!(
                rule.room.extract(room),
                Some(id.as_str()),
                "{} -> {:?} does not match {}",
                &rule.event,
                room,
                rule.room
            );
            if rule.room.placeholder() == Some(Placeholder::Id) {
                prop_assert!(room.chars().count() <= MAX_ID_LEN + template_chars);
            }
            // Permission: exactly what `check` says for the filled id.
            match check(&rule.permission, who, id) {
                Ok(()) => prop_assert_eq!(&authorized, &Ok(room.clone())),
                Err(e) => prop_assert_eq!(&authorized, &Err(JoinError::Denied(e))),
            }
        }
        Err(RuleError::NoIdentity) => {
            prop_assert_eq!(rule.room.placeholder(), Some(Placeholder::Sub));
            prop_assert!(who.sub.is_none());
            prop_assert!(matches!(authorized, Err(JoinError::Denied(_))));
        }
        Err(e) => {
            prop_assert!(
                expected.is_none(),
                "{} refused {:?}: {}",
                &rule.event,
                payload,
                e
            );
            prop_assert_eq!(&authorized, &Err(JoinError::Invalid(e.clone())));
            // The message is safe to send back: bounded, no echo of the payload.
            prop_assert!(e.to_string().chars().count() < 200);
        }
    }
    if let Ok(room) = &authorized {
        // A granted room never comes from a payload field standing in for the token.
        for p in &rule.permission {
            let id = rule.room.extract(room).unwrap_or_default();
            match p {
                Permission::SelfId => prop_assert_eq!(who.sub.as_deref(), Some(id)),
                Permission::OwnRole => prop_assert!(who.roles.iter().any(|r| r == id)),
                Permission::Tenant => prop_assert_eq!(who.tenant.as_deref(), Some(id)),
                Permission::Authenticated => prop_assert!(who.sub.is_some()),
                Permission::Roles(rs) => prop_assert!(who.roles.iter().any(|r| rs.contains(r))),
                Permission::Public => {}
            }
        }
        if rule.room.placeholder() == Some(Placeholder::Sub) {
            prop_assert_eq!(
                Some(room.clone()),
                who.sub.as_deref().map(|s| rule.room.fill(s))
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(1024))]

    /// Every preset rule against arbitrary payloads and identities.
    #[test]
    fn preset_rules_never_panic_and_fit_their_templates(
        payload in payload(),
        who in identity(),
    ) {
        let rules = Rules::default();
        for rule in rules.iter() {
            check_rule(rule, payload.as_ref(), &who)?;
        }
        // Named checks of the brief, on top of the general ones.
        let module = rules.get("module:subscribe").expect("preset rule");
        if let Ok(room) = module.authorize(payload.as_ref(), &who) {
            prop_assert!(room.starts_with("module:") && room.len() > "module:".len());
            let template = module.room.as_str();
            prop_assert_eq!(template, "module:{id}");
            prop_assert!(room.chars().count() <= MAX_ID_LEN + template.len());
        }
        let dashboard = rules.get("dashboard:subscribe").expect("preset rule");
        prop_assert_eq!(dashboard.authorize(payload.as_ref(), &who), Ok("kpi-dashboard".to_owned()));
    }

    /// Ids taken from the caller's own token values (which identity-bound rules must
    /// allow when valid) and from anywhere else, as plain strings (the booking preset)
    /// and as the rule's field (the ERP and queue presets).
    #[test]
    fn preset_rules_grant_only_the_callers_own_rooms(
        id in any_string(),
        who in identity(),
    ) {
        let rules = Rules::default();
        let own: Vec<&String> = who.sub.iter().chain(&who.roles).chain(&who.tenant).collect();
        for rule in rules.iter() {
            for id in own.iter().copied().chain([&id]) {
                let payload = match &rule.field {
                    None => Value::String(id.clone()),
                    Some(f) => serde_json::json!({ f.as_str(): id }),
                };
                check_rule(rule, Some(&payload), &who)?;
            }
        }
    }
}

/// Custom rules of the config file's shape, from pieces that are often valid.
fn rule_def() -> impl Strategy<Value = RuleDef> {
    let template = (
        "[a-z:_-]{0,6}",
        prop_oneof![
            4 => Just("{id}"),
            2 => Just("{sub}"),
            2 => Just(""),
            1 => proptest::sample::select(vec!["{name}", "{", "}", "{id}{id}"]),
        ],
        "[a-z:_-]{0,4}",
    )
        .prop_map(|(p, ph, s)| format!("{p}{ph}{s}"));
    let single = proptest::sample::select(vec![
        "public",
        "authenticated",
        "self",
        "own-role",
        "tenant",
        "role:staff",
        "role:a,b",
        "role:",
        "bogus",
    ]);
    let perm = prop_oneof![
        3 => single.clone().prop_map(str::to_owned),
        1 => proptest::collection::vec(single, 2..4).prop_map(|ps| ps.join("+")),
    ];
    (
        "[a-z]{1,6}:[a-z]{1,6}|\\PC{0,6}",
        any::<bool>(),
        template,
        proptest::option::of(prop_oneof![4 => word(), 1 => Just(String::new())]),
        perm,
        any::<bool>(),
    )
        .prop_map(|(event, join, room, field, permission, ack)| RuleDef {
            event,
            action: if join { Action::Join } else { Action::Leave },
            room,
            field,
            permission,
            ack: if ack { AckShape::Room } else { AckShape::None },
            on_join: None,
            presence: false,
        })
}

proptest! {
    #![proptest_config(config(512))]

    /// Any custom table either is refused with a message or behaves like the presets.
    #[test]
    fn custom_rules_are_checked_or_behave(
        presets in proptest::sample::subsequence(vec!["erp", "queue", "booking"], 0..=3),
        custom in proptest::collection::vec(rule_def(), 1..4),
        payloads in proptest::collection::vec(payload(), 1..4),
        who in identity(),
    ) {
        let cfg = RulesConfig {
            presets: presets.iter().map(|p| p.to_string()).collect(),
            custom,
            presence: None,
        };
        let Ok(rules) = Rules::from_config(&cfg) else {
            return Ok(());
        };
        for rule in rules.iter() {
            prop_assert!(!rule.permission.is_empty());
            for p in &payloads {
                check_rule(rule, p.as_ref(), &who)?;
            }
        }
    }
}

fn permission() -> impl Strategy<Value = Permission> {
    prop_oneof![
        Just(Permission::Public),
        Just(Permission::Authenticated),
        Just(Permission::SelfId),
        Just(Permission::OwnRole),
        Just(Permission::Tenant),
        proptest::collection::vec(prop_oneof![word(), "[a-z]{1,4}"], 1..3)
            .prop_map(|rs| Permission::Roles(rs.into_iter().filter(|r| !r.is_empty()).collect())),
    ]
}

/// One permission on its own, as the README's table states it.
fn expected_single(p: &Permission, who: &Identity, room_id: &str) -> Result<(), PermissionError> {
    let anonymous = who.sub.is_none() && who.roles.is_empty() && who.tenant.is_none();
    match p {
        Permission::Public => Ok(()),
        Permission::Authenticated if who.sub.is_some() => Ok(()),
        Permission::Authenticated => Err(PermissionError::AuthenticationRequired),
        Permission::SelfId => match &who.sub {
            None => Err(PermissionError::AuthenticationRequired),
            Some(s) if s == room_id => Ok(()),
            Some(_) => Err(PermissionError::NotSelf),
        },
        Permission::Roles(rs) if who.roles.iter().any(|r| rs.contains(r)) => Ok(()),
        Permission::Roles(_) if anonymous => Err(PermissionError::AuthenticationRequired),
        Permission::Roles(rs) => Err(PermissionError::RoleRequired { roles: rs.clone() }),
        Permission::OwnRole if who.roles.iter().any(|r| r == room_id) => Ok(()),
        Permission::OwnRole if anonymous => Err(PermissionError::AuthenticationRequired),
        Permission::OwnRole => Err(PermissionError::NotYourRole {
            role: room_id.to_owned(),
        }),
        Permission::Tenant if who.tenant.as_deref() == Some(room_id) => Ok(()),
        Permission::Tenant if anonymous => Err(PermissionError::AuthenticationRequired),
        Permission::Tenant => Err(PermissionError::NotYourTenant),
    }
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn check_is_the_permission_table(
        perms in proptest::collection::vec(permission(), 0..4),
        who in identity(),
        room_id in prop_oneof![any_string(), Just(String::new())],
        use_own in proptest::option::of(any::<proptest::sample::Index>()),
    ) {
        // Half the time the room id is one of the caller's own values.
        let own: Vec<&String> = who.sub.iter().chain(&who.roles).chain(&who.tenant).collect();
        let room_id = match use_own {
            Some(i) if !own.is_empty() => own[i.index(own.len())].clone(),
            _ => room_id,
        };
        let got = check(&perms, &who, &room_id);
        // All must hold; the first failing one is reported; none = allowed.
        let want = perms.iter().try_for_each(|p| expected_single(p, &who, &room_id));
        prop_assert_eq!(&got, &want);

        prop_assert_eq!(check(&[Permission::Public], &who, &room_id), Ok(()));
        prop_assert_eq!(check(&[], &who, &room_id), Ok(()));
        prop_assert_eq!(
            check(&[Permission::SelfId], &who, &room_id).is_ok(),
            who.sub.as_deref() == Some(room_id.as_str())
        );
        prop_assert_eq!(
            check(&[Permission::Tenant], &who, &room_id).is_ok(),
            who.tenant.as_deref() == Some(room_id.as_str())
        );
        prop_assert_eq!(
            check(&[Permission::OwnRole], &who, &room_id).is_ok(),
            who.roles.contains(&room_id)
        );
        // The anonymous caller gets nothing but `public`, always as "authentication required".
        for p in &perms {
            let r = check(std::slice::from_ref(p), &Identity::anonymous(), &room_id);
            match p {
                Permission::Public => prop_assert_eq!(r, Ok(())),
                Permission::Roles(rs) if rs.is_empty() => {}
                _ => prop_assert_eq!(r, Err(PermissionError::AuthenticationRequired)),
            }
        }
        // The order a rule lists its permissions in does not change the verdict.
        let normalized = permission::normalize(perms.clone());
        prop_assert_eq!(check(&normalized, &who, &room_id).is_ok(), got.is_ok());
    }

    #[test]
    fn permission_strings_round_trip(perms in proptest::collection::vec(permission(), 1..4)) {
        let perms: Vec<Permission> = perms
            .into_iter()
            .filter(|p| !matches!(p, Permission::Roles(rs) if rs.is_empty()))
            .collect();
        // `public` combines with nothing.
        let perms = if perms.len() > 1 {
            perms.into_iter().filter(|p| *p != Permission::Public).collect()
        } else {
            perms
        };
        prop_assume!(!perms.is_empty());
        let text = Permission::format_all(&perms);
        prop_assert_eq!(Permission::parse_all(&text), Ok(permission::normalize(perms)));
    }

    #[test]
    fn permission_parsing_never_panics(s in "[a-z:,+ -]{0,40}|\\PC{0,20}") {
        if let Ok(perms) = Permission::parse_all(&s) {
            prop_assert!(!perms.is_empty());
            prop_assert_eq!(
                Permission::parse_all(&Permission::format_all(&perms)),
                Ok(perms)
            );
        }
    }

    #[test]
    fn room_templates_never_panic(raw in "[a-z:{}_-]{0,12}|\\PC{0,12}", value in any_string()) {
        if let Ok(t) = RoomTemplate::parse(&raw) {
            let room = t.fill(&value);
            if t.is_static() {
                prop_assert_eq!(&room, &raw);
            } else if !value.is_empty() {
                prop_assert_eq!(t.extract(&room), Some(value.as_str()));
            }
            prop_assert!(t.overlaps(&t));
        }
    }
}
