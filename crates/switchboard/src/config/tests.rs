use super::load::{ENV_KEYS, FILE_ONLY_KEYS};
use super::*;
use std::collections::HashMap;
use std::io::Write;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn args_with(f: &tempfile::NamedTempFile) -> Flags {
    Flags {
        config: Some(f.path().to_owned()),
        ..Flags::default()
    }
}

fn load(args: &Flags, env: &HashMap<String, String>) -> (Config, Vec<String>) {
    Config::load(args, env).unwrap_or_else(|e| panic!("load failed: {e}"))
}

fn load_err(args: &Flags, env: &HashMap<String, String>) -> String {
    Config::load(args, env).unwrap_err().to_string()
}

#[test]
fn defaults_match_the_spec() {
    let (c, warnings) = load(&Flags::default(), &HashMap::new());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(c, Config::default());
    assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
    assert_eq!(c.database_url, "sqlite://switchboard.db");
    assert_eq!(c.auth, AuthMode::Optional);
    assert_eq!(c.transports, ["websocket", "polling"]);
    assert_eq!((c.ping_interval_ms, c.ping_timeout_ms), (25_000, 20_000));
    assert_eq!(c.max_payload, 1_000_000);
    assert_eq!(c.rules.presets, ["erp", "queue", "booking"]);
    assert!(c.api_keys.is_empty() && c.cors_origins.is_empty() && !c.demo);
    c.validate().unwrap();
}

#[test]
fn precedence_is_file_then_env_then_flag() {
    let f = file(
        r#"
        listen = "127.0.0.1:4001"
        database_url = "sqlite::memory:"
        ping_interval_ms = 1000
        ping_timeout_ms = 1000
        demo = false
        cors_origins = ["https://file.example"]
        "#,
    );
    // File only.
    let (c, _) = load(&args_with(&f), &HashMap::new());
    assert_eq!(c.listen.port(), 4001);
    assert_eq!(c.ping_interval_ms, 1000);
    assert_eq!(c.cors_origins, ["https://file.example"]);
    assert_eq!(c.max_buffer, 4096, "untouched keys keep their defaults");

    // Env beats file.
    let e = env(&[
        ("SWITCHBOARD_LISTEN", "127.0.0.1:4002"),
        ("SWITCHBOARD_PING_INTERVAL_MS", "300"),
        ("SWITCHBOARD_DEMO", "1"),
        (
            "SWITCHBOARD_CORS_ORIGINS",
            "https://a.example, https://b.example",
        ),
        ("SWITCHBOARD_TRANSPORTS", "websocket"),
    ]);
    let (c, warnings) = load(&args_with(&f), &e);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(c.listen.port(), 4002);
    assert_eq!(c.ping_interval_ms, 300);
    assert_eq!(c.ping_timeout_ms, 1000, "file value stays");
    assert!(c.demo);
    assert_eq!(c.cors_origins, ["https://a.example", "https://b.example"]);
    assert_eq!(c.transports, ["websocket"]);

    // Flags beat env.
    let args = Flags {
        listen: Some("127.0.0.1:4003".parse().unwrap()),
        demo: Some(false),
        database_url: Some("postgres://u@db/sb".into()),
        ..args_with(&f)
    };
    let (c, _) = load(&args, &e);
    assert_eq!(c.listen.port(), 4003);
    assert!(!c.demo);
    assert_eq!(c.database_url, "postgres://u@db/sb");
    assert_eq!(c.ping_interval_ms, 300, "env value stays");
}

#[test]
fn config_path_may_come_from_the_env_map() {
    let f = file("ping_timeout_ms = 777");
    let e = env(&[("SWITCHBOARD_CONFIG", f.path().to_str().unwrap())]);
    let (c, warnings) = load(&Flags::default(), &e);
    assert_eq!(c.ping_timeout_ms, 777);
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn env_twins_read_by_clap_are_not_applied_twice() {
    // clap put SWITCHBOARD_API_KEY into args.api_key too: still one key.
    let e = env(&[
        ("SWITCHBOARD_API_KEY", "k1"),
        ("SWITCHBOARD_AUTH", "required"),
    ]);
    let args = Flags {
        api_key: Some("k1".into()),
        auth: Some(AuthMode::Required),
        jwt_secret: Some("0123456789abcdef0123456789abcdef".into()),
        ..Flags::default()
    };
    let (c, warnings) = load(&args, &e);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(c.api_keys.len(), 1);
    assert_eq!(c.api_keys[0].name, "default");
    assert_eq!(c.api_keys[0].key.expose(), "k1");
    assert_eq!(c.auth, AuthMode::Required);
}

#[test]
fn api_key_flag_joins_file_keys_and_replaces_default() {
    let f = file(
        r#"
        [[api_keys]]
        name = "billing"
        key = "b-key"
        [[api_keys]]
        name = "default"
        key = "old"
        "#,
    );
    let (c, _) = load(&args_with(&f), &env(&[("SWITCHBOARD_API_KEY", "env-key")]));
    let keys: Vec<(&str, &str)> = c
        .api_keys
        .iter()
        .map(|k| (k.name.as_str(), k.key.expose()))
        .collect();
    assert_eq!(keys, [("billing", "b-key"), ("default", "env-key")]);
    let args = Flags {
        api_key: Some("flag-key".into()),
        ..args_with(&f)
    };
    let (c, _) = load(&args, &env(&[("SWITCHBOARD_API_KEY", "env-key")]));
    assert_eq!(c.api_keys[1].key.expose(), "flag-key");
}

#[test]
fn empty_env_values_count_as_unset() {
    let e = env(&[("SWITCHBOARD_REDIS_URL", ""), ("SWITCHBOARD_API_KEY", "")]);
    let (c, _) = load(&Flags::default(), &e);
    assert_eq!(c.redis_url, None);
    assert!(c.api_keys.is_empty());
}

#[test]
fn unknown_keys_and_variables_are_warned_about() {
    let f = file(
        r#"
        ping_interval = 5
        [server]
        port = 1
        [rules]
        presets = ["erp"]
        extra = true
        [[rules.custom]]
        event = "join:team"
        action = "join"
        room = "team:{id}"
        permision = "public"
        permission = "public"
        [[api_keys]]
        name = "a"
        key = "k"
        scope = "all"
        "#,
    );
    let e = env(&[
        ("SWITCHBOARD_PING_TIMOUT_MS", "5"),
        ("SWITCHBOARD_WHATEVER", "x"),
        ("SWITCHBOARD_URL", "http://x"),
        ("OTHER_VAR", "x"),
    ]);
    let (c, warnings) = load(&args_with(&f), &e);
    assert_eq!(c.rules.presets, ["erp"]);
    let all = warnings.join("\n");
    assert_eq!(warnings.len(), 7, "{all}");
    assert!(
        all.contains("unknown key `ping_interval` (ignored; did you mean `ping_interval_ms`?)"),
        "{all}"
    );
    assert!(all.contains("unknown key `server` (ignored)"), "{all}");
    assert!(all.contains("unknown key `rules.extra`"), "{all}");
    assert!(
        all.contains(
            "unknown key `rules.custom[0].permision` \
             (ignored; did you mean `rules.custom[0].permission`?)"
        ),
        "{all}"
    );
    assert!(all.contains("unknown key `api_keys[0].scope`"), "{all}");
    assert!(
        all.contains(
            "unknown environment variable SWITCHBOARD_PING_TIMOUT_MS \
             (ignored; did you mean SWITCHBOARD_PING_TIMEOUT_MS?)"
        ),
        "{all}"
    );
    assert!(all.contains("SWITCHBOARD_WHATEVER (ignored)"), "{all}");
    assert!(
        !all.contains("SWITCHBOARD_URL") && !all.contains("OTHER_VAR"),
        "{all}"
    );
    assert!(
        all.contains(&format!("config file `{}`", f.path().display())),
        "{all}"
    );
}

#[test]
fn file_errors_name_the_file_and_key() {
    let err = load_err(
        &Flags {
            config: Some("/nonexistent/sb.toml".into()),
            ..Flags::default()
        },
        &HashMap::new(),
    );
    assert!(
        err.starts_with("cannot read config file `/nonexistent/sb.toml`"),
        "{err}"
    );

    let f = file("ping_interval_ms = \"fast\"\n");
    let err = load_err(&args_with(&f), &HashMap::new());
    assert!(err.contains("invalid config file"), "{err}");
    assert!(err.contains("ping_interval_ms"), "{err}");
    assert!(err.contains("line 1"), "{err}");

    let f = file("listen = \"nowhere\"\n");
    let err = load_err(&args_with(&f), &HashMap::new());
    assert!(err.contains("listen"), "{err}");

    let f = file("this is not toml");
    assert!(load_err(&args_with(&f), &HashMap::new()).contains("invalid config file"));
}

#[test]
fn env_errors_name_the_variable() {
    let err = load_err(
        &Flags::default(),
        &env(&[("SWITCHBOARD_PING_INTERVAL_MS", "soon")]),
    );
    assert_eq!(
        err,
        "invalid environment variable SWITCHBOARD_PING_INTERVAL_MS: expected a non-negative \
         integer, got `soon`"
    );
    let err = load_err(&Flags::default(), &env(&[("SWITCHBOARD_DEMO", "maybe")]));
    assert!(
        err.starts_with("invalid environment variable SWITCHBOARD_DEMO: expected a boolean"),
        "{err}"
    );
    let err = load_err(
        &Flags::default(),
        &env(&[("SWITCHBOARD_AUTH", "sometimes")]),
    );
    assert!(
        err.starts_with("invalid environment variable SWITCHBOARD_AUTH: "),
        "{err}"
    );
    assert!(err.contains("sometimes"), "{err}");
    let err = load_err(
        &Flags::default(),
        &env(&[("SWITCHBOARD_LISTEN", "localhost")]),
    );
    assert!(
        err.starts_with("invalid environment variable SWITCHBOARD_LISTEN: "),
        "{err}"
    );
}

#[test]
fn validation_errors_are_clear() {
    type Case = (fn(&mut Config), &'static str);
    let cases: Vec<Case> = vec![
        (
            |c| c.ping_interval_ms = 0,
            "invalid config `ping_interval_ms`: must be at least 1, got 0",
        ),
        (
            |c| c.ping_timeout_ms = 0,
            "invalid config `ping_timeout_ms`: must be at least 1, got 0",
        ),
        (
            |c| c.max_payload = 10,
            "invalid config `max_payload`: must be at least 1024, got 10",
        ),
        (
            |c| c.max_buffer = 0,
            "invalid config `max_buffer`: must be at least 1, got 0",
        ),
        (
            |c| c.http_body_limit = 1,
            "invalid config `http_body_limit`: must be at least 1024, got 1",
        ),
        (
            |c| c.transports = vec![],
            "invalid config `transports`: must name at least one",
        ),
        (
            |c| c.transports = vec!["carrier-pigeon".into()],
            "unknown transport `carrier-pigeon`",
        ),
        (
            |c| c.transports = vec!["polling".into(), "polling".into()],
            "`polling` is listed twice",
        ),
        (
            |c| c.auth = AuthMode::Required,
            "invalid config `jwt_secret`: auth = \"required\" needs a JWT secret",
        ),
        (
            |c| c.jwt_secret = Some("".into()),
            "invalid config `jwt_secret`: must not be empty",
        ),
        (
            |c| {
                c.api_keys = vec![ApiKey {
                    name: "ci".into(),
                    key: "".into(),
                    scopes: Vec::new(),
                }]
            },
            "invalid config `api_keys[0].key`: key `ci` must not be empty",
        ),
        (
            |c| {
                c.api_keys = vec![
                    ApiKey {
                        name: "a".into(),
                        key: "1".into(),
                        scopes: Vec::new(),
                    },
                    ApiKey {
                        name: "a".into(),
                        key: "2".into(),
                        scopes: Vec::new(),
                    },
                ]
            },
            "invalid config `api_keys[1].name`: two keys are named `a`",
        ),
        (
            |c| c.cors_origins = vec!["*".into(), "https://a.example".into()],
            "must be the only entry",
        ),
        (
            |c| c.cors_origins = vec!["https://a.example/".into()],
            "`https://a.example/` is not an origin",
        ),
        (
            |c| c.cors_origins = vec!["a.example".into()],
            "`a.example` is not an origin",
        ),
        (
            |c| c.database_url = "mysql://u:pw@h/db".into(),
            "got `mysql://u:[redacted]@h/db`",
        ),
        (
            |c| c.redis_url = Some("http://r".into()),
            "invalid config `redis_url`",
        ),
        (
            |c| c.rules.presets = vec!["crm".into()],
            "invalid config `rules`: unknown rules preset `crm`",
        ),
    ];
    for (change, msg) in cases {
        let mut c = Config::default();
        change(&mut c);
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains(msg), "expected {msg:?} in {err:?}");
    }
    // The same checks run inside load.
    let err = load_err(&Flags::default(), &env(&[("SWITCHBOARD_MAX_PAYLOAD", "5")]));
    assert!(err.contains("`max_payload`"), "{err}");
}

#[test]
fn valid_edge_values_pass() {
    let mut c = Config {
        cors_origins: vec!["*".into()],
        transports: vec!["polling".into()],
        database_url: "postgresql://u:p@localhost:5432/sb".into(),
        redis_url: Some("rediss://:pw@r:6380/0".into()),
        recovery_window_secs: 0,
        ..Config::default()
    };
    c.validate().unwrap();
    c.cors_origins = vec![
        "http://localhost:5173".into(),
        "https://app.example.com".into(),
    ];
    c.database_url = "sqlite::memory:".into();
    c.validate().unwrap();
}

#[test]
fn custom_rules_load_from_the_file() {
    let f = file(
        r#"
        [rules]
        presets = ["erp", "queue"]
        [[rules.custom]]
        event = "join:team"
        action = "join"
        room = "team:{id}"
        field = "teamId"
        permission = "authenticated"
        "#,
    );
    let (c, warnings) = load(&args_with(&f), &HashMap::new());
    assert!(warnings.is_empty(), "{warnings:?}");
    let rules = Rules::from_config(&c.rules).unwrap();
    assert!(rules.get("join:team").is_some());
    assert!(rules.get("join:user").is_none());

    let f = file(
        r#"
        [[rules.custom]]
        event = "join:member"
        action = "join"
        room = "user:{id}"
        permission = "public"
        "#,
    );
    let err = load_err(&args_with(&f), &HashMap::new());
    assert!(
        err.starts_with("invalid config `rules`: rules `notification:subscribe`"),
        "{err}"
    );
}

#[test]
fn secrets_are_redacted() {
    let c = Config {
        jwt_secret: Some("jwt-very-secret".into()),
        api_keys: vec![ApiKey {
            name: "billing".into(),
            key: "api-very-secret".into(),
            scopes: Vec::new(),
        }],
        database_url: "postgres://sb:db-very-secret@db:5432/sb?sslmode=require".into(),
        redis_url: Some("redis://:redis-very-secret@r:6379/".into()),
        ..Config::default()
    };
    let secret = Secret::new("x-very-secret");
    assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
    assert_eq!(secret.expose(), "x-very-secret");

    for shown in [format!("{c:?}"), c.redacted_toml()] {
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
        assert!(shown.contains("billing"), "{shown}");
        assert!(
            shown.contains("postgres://sb:[redacted]@db:5432/sb?sslmode=require"),
            "{shown}"
        );
        assert!(shown.contains("redis://:[redacted]@r:6379/"), "{shown}");
    }
}

#[test]
fn redacted_toml_round_trips() {
    let mut c = Config {
        api_keys: vec![ApiKey {
            name: "billing".into(),
            key: "k".into(),
            scopes: Vec::new(),
        }],
        cors_origins: vec!["*".into()],
        ..Config::default()
    };
    c.rules.custom.push(crate::rules::RuleDef {
        event: "join:team".into(),
        action: crate::rules::Action::Join,
        room: "team:{id}".into(),
        field: None,
        permission: "authenticated".into(),
        ack: crate::rules::AckShape::None,
        on_join: None,
        presence: false,
    });
    let text = c.redacted_toml();
    let f = file(&text);
    let (back, warnings) = load(&args_with(&f), &HashMap::new());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(back.api_keys[0].key.expose(), "[redacted]");
    c.api_keys[0].key = Secret::new("[redacted]");
    assert_eq!(back, c, "{text}");
}

#[test]
fn every_field_is_a_known_key() {
    let c = Config {
        redis_url: Some("redis://r".into()),
        node_id: Some("n1".into()),
        jwt_secret: Some("s".into()),
        api_keys_file: Some("keys.toml".into()),
        jwt_public_key_file: Some("key.pem".into()),
        otel_endpoint: Some("http://collector:4318".into()),
        admin_username: Some("ops".into()),
        admin_password_hash: Some("h".into()),
        ..Config::default()
    };
    let table = toml::Table::try_from(&c).unwrap();
    let fields: BTreeSet<&str> = table.keys().map(String::as_str).collect();
    let known: BTreeSet<&str> = ENV_KEYS
        .iter()
        .map(|(k, _)| *k)
        .chain(FILE_ONLY_KEYS.iter().copied())
        .collect();
    assert_eq!(fields, known);
}

#[test]
fn sio_config_maps_fields() {
    let s = Config::default().sio_config();
    assert_eq!(s.ping_interval, Duration::from_secs(25));
    assert_eq!(s.ping_timeout, Duration::from_secs(20));
    assert_eq!(s.max_payload, 1_000_000);
    assert_eq!(s.max_buffer, 4096);
    assert_eq!(s.cors, sio::Cors::Disabled);
    assert_eq!(s.recovery, Some(Duration::from_secs(120)));
    assert_eq!(
        s.transports,
        sio::Transports {
            polling: true,
            websocket: true
        }
    );
    assert_eq!(s.path, sio::Config::default().path);
    assert_eq!(s.parser, sio::Parser::Json);
    let m = Config {
        parser: WireParser::Msgpack,
        ..Config::default()
    };
    assert_eq!(m.sio_config().parser, sio::Parser::Msgpack);
    // Our defaults are the engine's.
    let e = sio::Config::default();
    assert_eq!(
        (
            s.ack_timeout,
            s.connect_timeout,
            s.max_queued_events,
            s.recovery_max_packets
        ),
        (
            e.ack_timeout,
            e.connect_timeout,
            e.max_queued_events,
            e.recovery_max_packets
        )
    );

    let c = Config {
        ping_interval_ms: 300,
        ping_timeout_ms: 200,
        max_payload: 2048,
        max_buffer: 8,
        cors_origins: vec!["*".into()],
        transports: vec!["websocket".into()],
        recovery_window_secs: 0,
        ack_timeout_ms: 1500,
        connect_timeout_ms: 2500,
        max_queued_events: 7,
        recovery_max_packets: 99,
        ..Config::default()
    };
    let s = c.sio_config();
    assert_eq!(
        (
            s.ack_timeout,
            s.connect_timeout,
            s.max_queued_events,
            s.recovery_max_packets
        ),
        (
            Duration::from_millis(1500),
            Duration::from_millis(2500),
            7,
            99
        )
    );
    assert_eq!(s.ping_interval, Duration::from_millis(300));
    assert_eq!(s.ping_timeout, Duration::from_millis(200));
    assert_eq!((s.max_payload, s.max_buffer), (2048, 8));
    assert_eq!(s.cors, sio::Cors::Any);
    assert_eq!(s.recovery, None);
    assert_eq!(
        s.transports,
        sio::Transports {
            polling: false,
            websocket: true
        }
    );

    let c = Config {
        cors_origins: vec!["https://a.example".into()],
        ..Config::default()
    };
    assert_eq!(
        c.sio_config().cors,
        sio::Cors::List(vec!["https://a.example".into()])
    );
}

#[test]
fn weak_jwt_secret_is_warned_about() {
    let args = Flags {
        jwt_secret: Some("short".into()),
        ..Flags::default()
    };
    let (_, warnings) = load(&args, &HashMap::new());
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("jwt_secret is shorter than 32 bytes"));
}

#[test]
fn compression_is_off_by_default_and_set_by_file_or_env() {
    let (c, _) = load(&Flags::default(), &HashMap::new());
    assert!(!c.compression);
    assert_eq!(c.compression_threshold, 1024);
    let s = c.sio_config();
    assert_eq!(
        (s.compression, s.compression_threshold),
        (false, sio::Config::default().compression_threshold)
    );

    let f = file("compression = true\ncompression_threshold = 512\n");
    let args = Flags {
        config: Some(f.path().to_owned()),
        ..Flags::default()
    };
    let (c, warnings) = load(&args, &HashMap::new());
    assert!(warnings.is_empty(), "{warnings:?}");
    let s = c.sio_config();
    assert_eq!((s.compression, s.compression_threshold), (true, 512));

    let (c, _) = load(
        &Flags::default(),
        &env(&[
            ("SWITCHBOARD_COMPRESSION", "1"),
            ("SWITCHBOARD_COMPRESSION_THRESHOLD", "2048"),
        ]),
    );
    assert!(c.compression);
    assert_eq!(c.compression_threshold, 2048);

    let err = load_err(
        &Flags::default(),
        &env(&[
            ("SWITCHBOARD_COMPRESSION", "on"),
            ("SWITCHBOARD_COMPRESSION_THRESHOLD", "2000000"),
        ]),
    );
    assert!(err.contains("`compression_threshold`"), "{err}");
    let err = load_err(
        &Flags::default(),
        &env(&[("SWITCHBOARD_COMPRESSION", "maybe")]),
    );
    assert!(err.contains("SWITCHBOARD_COMPRESSION"), "{err}");
}

#[test]
fn parser_comes_from_the_file_or_the_env() {
    assert_eq!(Config::default().parser, WireParser::Json);
    let f = file("parser = \"msgpack\"\n");
    let (c, warnings) = load(&args_with(&f), &HashMap::new());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(c.parser, WireParser::Msgpack);
    let (c, _) = load(&args_with(&f), &env(&[("SWITCHBOARD_PARSER", "json")]));
    assert_eq!(c.parser, WireParser::Json);
    let (c, _) = load(
        &Flags::default(),
        &env(&[("SWITCHBOARD_PARSER", "msgpack")]),
    );
    assert_eq!(c.parser, WireParser::Msgpack);
    let err = load_err(&Flags::default(), &env(&[("SWITCHBOARD_PARSER", "cbor")]));
    assert!(
        err.starts_with("invalid environment variable SWITCHBOARD_PARSER: ")
            && err.contains("cbor"),
        "{err}"
    );
}

#[test]
fn admin_settings_come_from_env_or_file_and_are_checked() {
    // A real bcrypt hash (cost 4) of "pw".
    let hash = bcrypt::hash("pw", 4).unwrap();
    let (c, _) = load(
        &Flags::default(),
        &env(&[
            ("SWITCHBOARD_ADMIN_USERNAME", "ops"),
            ("SWITCHBOARD_ADMIN_PASSWORD_HASH", &hash),
            ("SWITCHBOARD_ADMIN_READ_ONLY", "1"),
            ("SWITCHBOARD_ADMIN_CORS_ORIGINS", "https://admin.socket.io"),
        ]),
    );
    assert_eq!(c.admin_username.as_deref(), Some("ops"));
    assert_eq!(
        c.admin_password_hash.as_ref().map(|h| h.expose()),
        Some(hash.as_str())
    );
    assert!(c.admin_read_only);
    assert_eq!(c.admin_role, "admin");
    // The hosted UI's origin is allowed on the engine; the hash never prints.
    assert_eq!(
        c.sio_config().cors,
        sio::Cors::List(vec!["https://admin.socket.io".into()])
    );
    assert!(!format!("{c:?}").contains(&hash));
    assert!(!c.redacted_toml().contains(&hash));

    let f = file("admin_username = \"ops\"\nadmin_password_hash = \"not-a-hash\"\n");
    let err = load_err(&args_with(&f), &HashMap::new());
    assert!(
        err.contains("admin_password_hash") && err.contains("bcrypt"),
        "{err}"
    );
    let f = file("admin_username = \"ops\"\n");
    let err = load_err(&args_with(&f), &HashMap::new());
    assert!(err.contains("admin_password_hash"), "{err}");
    let f = file("admin_role = \"\"\n");
    assert!(load_err(&args_with(&f), &HashMap::new()).contains("admin_role"));
    let f = file("admin_cors_origins = [\"admin.socket.io/\"]\n");
    assert!(load_err(&args_with(&f), &HashMap::new()).contains("admin_cors_origins"));
    let f = file("admin_cors_origins = [\"*\"]\n");
    assert!(load_err(&args_with(&f), &HashMap::new()).contains("admin_cors_origins"));
    // The cost is read from the hash: 15 would make every sign-in take seconds.
    let slow = hash.replacen("$04$", "$15$", 1);
    let f = file(&format!(
        "admin_username = \"ops\"\nadmin_password_hash = \"{slow}\"\n"
    ));
    assert!(load_err(&args_with(&f), &HashMap::new()).contains("cost 15"));
}
