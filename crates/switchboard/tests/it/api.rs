//! The HTTP API: envelopes, errors, API keys, OpenAPI, the client bundle, shutdown.

use crate::harness::*;
use serde_json::json;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

#[tokio::test]
async fn health_and_compat_envelopes() {
    let srv = TestServer::spawn().await;
    let (st, h) = srv.get("/health").await;
    assert_eq!(st, 200);
    assert_eq!(h["success"], true);
    assert_eq!(h["data"]["status"], "healthy");
    assert_eq!(h["data"]["websocket"], "enabled");
    assert!(h["data"]["service"].is_string() && h["data"]["timestamp"].is_string());
    let mut c = TestClient::connect_as(&srv, "u1", &[]).await;
    c.ack("join:library", json!("L")).await;
    let (_, s) = srv.get("/api/test/socket-stats").await;
    assert_eq!(s["success"], true);
    assert_eq!(s["data"]["totalConnections"], 1);
    assert_eq!(s["data"]["activeRooms"], 1);
    let (st, e) = srv
        .post(
            "/api/test/socket-event",
            &json!({ "event": "library:updated", "data": { "id": "L" } }),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(e["data"]["message"], "Event emitted");
    assert_eq!(e["data"]["event"], "library:updated");
    assert_eq!(e["data"]["room"], json!(null));
    assert_eq!(
        c.expect("library:updated").await["id"],
        "L",
        "no room: every client"
    );
}

#[tokio::test]
async fn publish_single_batch_except_and_everyone() {
    let srv = TestServer::spawn().await;
    let t1 = json!({ "token": token("a", &[], Some("t1")) });
    let mut a = TestClient::connect_auth(&srv, t1.clone()).await;
    let mut b =
        TestClient::connect_auth(&srv, json!({ "token": token("b", &[], Some("t1")) })).await;
    a.ack("join:tenant", json!("t1")).await;
    b.ack("join:tenant", json!("t1")).await;
    b.ack("join:library", json!("quiet")).await;
    let (st, r) = srv.post("/api/v1/publish", &json!({ "event": "booking:created", "data": 1, "rooms": ["tenant:t1"], "except": ["library:quiet"] })).await;
    assert_eq!(st, 200);
    assert_eq!(r["success"], true);
    assert_eq!(r["data"]["delivered_to_rooms"], json!(["tenant:t1"]));
    assert_eq!(r["data"]["recipients"], 1);
    let (st, r) = srv.post("/api/v1/publish", &json!([{ "event": "pricing:updated", "data": 2 }, { "event": "booking:cancelled", "data": 3, "rooms": ["tenant:t1"] }])).await;
    assert_eq!(st, 200);
    assert_eq!(r["data"].as_array().unwrap().len(), 2);
    assert_eq!(a.expect("booking:created").await, 1);
    // b was excepted: its first events are the batch's, in order.
    let (name, v) = b
        .next_where(|n| n.starts_with("booking:") || n.starts_with("pricing:"))
        .await;
    assert_eq!(
        (name.as_str(), v),
        ("pricing:updated", json!(2)),
        "no rooms: everyone"
    );
    let (name, _) = b.next_where(|n| n.starts_with("booking:")).await;
    assert_eq!(name, "booking:cancelled");
    let (_, stats) = srv.get("/api/v1/stats").await;
    assert_eq!(stats["data"]["connections"], 2);
    assert_eq!(
        stats["data"]["rooms"],
        json!([{ "name": "library:quiet", "members": 1 }, { "name": "tenant:t1", "members": 2 }])
    );
}

#[tokio::test]
async fn bad_requests_get_json_errors_and_nothing_is_sent() {
    let mut cfg = test_config();
    cfg.http_body_limit = 4096;
    let srv = TestServer::with(cfg).await;
    let (st, e) = srv.post_raw("/api/v1/publish", "{not json").await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (400, Some("invalid_json"))
    );
    assert_eq!(e["success"], false);
    let (st, e) = srv.post("/api/v1/publish", &json!({ "data": 1 })).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (422, Some("validation_failed"))
    );
    let message = e["error"]["message"].as_str().unwrap();
    assert!(message.contains("missing field `event`"), "{message}");
    let (st, e) = srv
        .post("/api/v1/publish", &json!([{ "event": "a" }, { "data": 1 }]))
        .await;
    assert_eq!(st, 422);
    let message = e["error"]["message"].as_str().unwrap();
    assert!(message.contains("missing field `event`"), "{message}");
    let (st, _) = srv
        .post("/api/v1/publish", &json!({ "event": "connect" }))
        .await;
    assert_eq!(st, 422);
    let (st, _) = srv
        .post(
            "/api/v1/publish",
            &json!({ "event": "x", "rooms": "notalist" }),
        )
        .await;
    assert_eq!(st, 422);
    let (st, e) = srv
        .post(
            "/api/v1/publish",
            &json!([{ "event": "ok" }, { "event": "" }]),
        )
        .await;
    assert_eq!(st, 422);
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("item 1"));
    let (st, e) = srv
        .post(
            "/api/v1/publish",
            &json!({ "event": "big", "data": "x".repeat(5000) }),
        )
        .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    // A struct is never read from an array (serde's field-order form).
    let (st, e) = srv
        .post(
            "/api/v1/publish",
            &json!(["AAA", { "x": 1 }, ["module:control"]]),
        )
        .await;
    assert_eq!(
        (st, e["error"]["message"].as_str()),
        (
            422,
            Some("the body must be a JSON object or an array of objects")
        )
    );
    assert_eq!(
        srv.post("/api/test/socket-event", &json!(["ev", 1]))
            .await
            .0,
        422
    );
    let (st, e) = srv.get("/api/v1/notifications?userId=a&limit=abc").await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
    let (st, e) = srv.get("/api/v1/nope").await;
    assert_eq!((st, e["error"]["code"].as_str()), (404, Some("not_found")));
    let (_, stats) = srv.get("/api/v1/stats").await;
    assert_eq!(
        stats["data"]["counters"]["published"], 0,
        "nothing was published"
    );
}

#[tokio::test]
async fn api_keys_are_required_when_configured() {
    let mut cfg = test_config();
    cfg.api_keys = toml::from_str::<toml::Table>("k = [{ name = \"backend\", key = \"s3cret\" }]")
        .unwrap()["k"]
        .clone()
        .try_into()
        .unwrap();
    let srv = TestServer::with(cfg).await;
    let http = reqwest::Client::new();
    let body = json!({ "event": "x" });
    let r = http
        .post(srv.url("/api/v1/publish"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(srv.url("/api/v1/publish"))
        .bearer_auth("wrong")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "unauthorized");
    let r = http
        .post(srv.url("/api/v1/publish"))
        .bearer_auth("s3cret")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(srv.get("/health").await.0, 200, "health needs no key");
}

#[tokio::test]
async fn openapi_document_and_client_bundle_are_served() {
    let srv = TestServer::spawn().await;
    let (st, doc) = srv.get("/api/v1/openapi.json").await;
    assert_eq!(st, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/api/v1/publish",
        "/api/v1/stats",
        "/health",
        "/api/test/socket-event",
        "/api/test/socket-stats",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} documented");
    }
    let r = reqwest::get(srv.url("/socket.io/socket.io.js"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.text().await.unwrap().contains("Socket.IO"),
        "the official bundle"
    );
}

#[tokio::test]
async fn cors_origins_apply_to_the_api() {
    let mut cfg = test_config();
    cfg.cors_origins = vec!["https://app.example.com".into()];
    let srv = TestServer::with(cfg).await;
    let r = reqwest::Client::new()
        .get(srv.url("/api/v1/stats"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let r = reqwest::Client::new()
        .get(srv.url("/api/v1/stats"))
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn graceful_shutdown_disconnects_clients() {
    use futures_util::SinkExt;
    let mut cfg = test_config();
    // Far beyond `T`: completing within `TestServer::shutdown`'s bound means the server
    // did not just wait out this deadline.
    cfg.shutdown_timeout_secs = 60;
    // No heartbeat within the test: a ping timeout must not pass for the shutdown's close.
    cfg.ping_interval_ms = 60_000;
    cfg.ping_timeout_ms = 60_000;
    let srv = TestServer::with(cfg).await;
    let addr = srv.addr;
    // A raw Socket.IO client: the open packet, CONNECT to `/`, its ack.
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio::time::timeout(T, tokio_tungstenite::connect_async(url))
        .await
        .expect("timeout opening a WebSocket")
        .expect("WebSocket handshake");
    let open = next_frame(&mut ws)
        .await
        .expect("open packet")
        .expect("open packet");
    assert!(open.to_text().unwrap().starts_with("0{\"sid\""), "{open:?}");
    ws.send(Message::text("40")).await.unwrap();
    let ack = next_frame(&mut ws)
        .await
        .expect("connect ack")
        .expect("connect ack");
    assert!(ack.to_text().unwrap().starts_with("40{\"sid\""), "{ack:?}");

    srv.shutdown().await; // `App::run` returned Ok within `T`

    // What the client sees: events already on their way (the connect handler's welcome
    // events) may come first; then maybe the Engine.IO close packet `1` (queued by
    // `close_all`), then a WebSocket close frame with code 1000, then the end.
    let mut m = next_frame(&mut ws).await;
    while matches!(&m, Some(Ok(Message::Text(t))) if t.starts_with("42")) {
        m = next_frame(&mut ws).await;
    }
    if matches!(&m, Some(Ok(Message::Text(t))) if t.as_str() == "1") {
        m = next_frame(&mut ws).await;
    }
    match m {
        Some(Ok(Message::Close(Some(f)))) => assert_eq!(u16::from(f.code), 1000, "{f:?}"),
        other => panic!("expected a close frame with code 1000 after shutdown, got {other:?}"),
    }
    // Then the stream ends (tungstenite may report the peer's hang-up as an error).
    match next_frame(&mut ws).await {
        None | Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed | WsError::Io(_))) => {}
        other => panic!("expected the end of the stream after the close frame, got {other:?}"),
    }
}

/// The next WebSocket message (`None`: the stream ended), bounded by `T`.
async fn next_frame<S>(ws: &mut S) -> Option<Result<Message, WsError>>
where
    S: futures_util::Stream<Item = Result<Message, WsError>> + Unpin,
{
    use futures_util::StreamExt;
    tokio::time::timeout(T, ws.next())
        .await
        .expect("the server neither sent anything nor closed the connection")
}

/// `name{labels} value` lines of a Prometheus text exposition, every line checked.
fn parse_metrics(text: &str) -> std::collections::HashMap<String, f64> {
    let mut out = std::collections::HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            assert!(
                line.is_empty()
                    || line.starts_with("# HELP ")
                    || line.starts_with("# TYPE ")
                    || line.starts_with("# UNIT ")
                    || line == "# EOF",
                "bad comment line: {line}"
            );
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let name_ok = series
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        assert!(name_ok, "bad series: {line}");
        if let Some(open) = series.find('{') {
            assert!(
                series.ends_with('}') && series[open..].contains('='),
                "bad labels: {line}"
            );
        }
        out.insert(
            series.to_owned(),
            value
                .parse()
                .unwrap_or_else(|_| panic!("bad value: {line}")),
        );
    }
    out
}

#[tokio::test]
async fn metrics_parse_and_move_with_traffic() {
    let srv = TestServer::spawn().await;
    let get = |s: &TestServer| {
        let url = s.url("/metrics");
        async move { reqwest::get(url).await.unwrap().text().await.unwrap() }
    };
    let before = parse_metrics(&get(&srv).await);
    assert_eq!(before["switchboard_sockets"], 0.0);
    let c = TestClient::connect(&srv).await;
    c.ack("module:subscribe", json!({ "moduleKey": "finance" }))
        .await;
    c.ack("joinDashboard", json!({ "userRole": "admin" })).await; // anonymous: denied
    srv.post(
        "/api/v1/publish",
        &json!({ "event": "tick", "rooms": ["module:finance"] }),
    )
    .await;
    let after = parse_metrics(&get(&srv).await);
    assert_eq!(after["switchboard_sockets"], 1.0);
    assert_eq!(
        after["switchboard_connections{transport=\"websocket\"}"],
        1.0
    );
    assert_eq!(after["switchboard_denied_joins_total"], 1.0);
    assert_eq!(
        after["switchboard_client_events_total{event=\"module:subscribe\"}"],
        1.0
    );
    assert_eq!(
        after["switchboard_published_events_total{event=\"tick\"}"],
        1.0
    );
    assert!(after["switchboard_deliveries_total"] >= 1.0);
    assert_eq!(
        after["switchboard_publish_request_duration_seconds_count"],
        1.0
    );
    assert!(after.contains_key("switchboard_recoveries_total{result=\"success\"}"));
}
