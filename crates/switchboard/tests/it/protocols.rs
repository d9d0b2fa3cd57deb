//! The three client protocols of the README's "The three protocols", driven by a real Socket.IO client.

use crate::harness::*;
use rust_socketio::TransportType;
use serde_json::json;

#[tokio::test]
async fn connect_sends_status_and_connected() {
    let srv = TestServer::spawn().await;
    let mut c = TestClient::connect(&srv).await;
    let status = c.expect("connection:status").await;
    assert_eq!(status["status"], "connected");
    assert!(status["timestamp"].is_string());
    let hello = c.expect("connected").await;
    assert!(hello["clientId"].as_u64().unwrap() >= 1);
    assert!(hello["socketId"].is_string());
    assert_eq!(c.ack("ping", json!(null)).await, "pong");
}

#[tokio::test]
async fn erp_module_rooms_route_only_their_module() {
    let srv = TestServer::spawn().await;
    let mut fin = TestClient::connect(&srv).await;
    let ok = fin
        .ack("module:subscribe", json!({ "moduleKey": "finance" }))
        .await;
    assert_eq!(ok, json!({ "success": true, "room": "module:finance" }));
    assert_eq!(
        fin.expect("kpi:update:finance").await,
        json!([]),
        "the snapshot comes first"
    );
    // hr first, then finance: the first kpi event the finance socket sees must be finance's.
    let (st, _) = srv
        .post(
            "/api/v1/publish",
            &json!({ "event": "kpi:update:hr", "data": [1], "rooms": ["module:hr"] }),
        )
        .await;
    assert_eq!(st, 200);
    srv.post("/api/v1/publish", &json!({ "event": "kpi:update:finance", "data": [{ "id": "rev" }], "rooms": ["module:finance"] })).await;
    let (name, data) = fin.next_where(|n| n.starts_with("kpi:update")).await;
    assert_eq!(name, "kpi:update:finance");
    assert_eq!(data, json!([{ "id": "rev" }]));
    // Unsubscribed: a later finance event is not delivered (a broadcast marker arrives first).
    fin.ack("module:unsubscribe", json!({ "moduleKey": "finance" }))
        .await;
    srv.post(
        "/api/v1/publish",
        &json!({ "event": "kpi:update:finance", "data": 2, "rooms": ["module:finance"] }),
    )
    .await;
    srv.post("/api/v1/publish", &json!({ "event": "marker", "data": 3 }))
        .await;
    let (name, _) = fin
        .next_where(|n| n.starts_with("kpi:update") || n == "marker")
        .await;
    assert_eq!(name, "marker");
}

#[tokio::test]
async fn erp_dashboard_subscribe_joins_kpi_dashboard_not_staff_dashboard() {
    let srv = TestServer::spawn().await;
    let mut c = TestClient::connect(&srv).await;
    let ok = c.ack("dashboard:subscribe", json!({})).await;
    assert_eq!(ok["room"], "kpi-dashboard");
    srv.post(
        "/api/v1/publish",
        &json!({ "event": "staff-only", "rooms": ["dashboard"] }),
    )
    .await;
    srv.post("/api/v1/publish", &json!({ "event": "dashboard:update", "data": { "summaryCards": [] }, "rooms": ["kpi-dashboard"] })).await;
    let (name, _) = c
        .next_where(|n| n == "staff-only" || n == "dashboard:update")
        .await;
    assert_eq!(name, "dashboard:update");
}

#[tokio::test]
async fn queue_system_joins_with_acks_and_lifecycle_events() {
    let srv = TestServer::spawn().await;
    let mut staff = TestClient::connect_as(&srv, "s1", &["staff"]).await;
    let ok = staff
        .ack(
            "joinDashboard",
            json!({ "userRole": "staff", "userId": "u1" }),
        )
        .await;
    assert_eq!(ok, json!({ "success": true, "room": "dashboard" }));
    let upd = staff.expect("staffConnectionUpdate").await;
    assert_eq!(upd["action"], "connected");
    assert_eq!(upd["totalConnected"], 1);
    let mut visitor = TestClient::connect_as(&srv, "u9", &[]).await;
    let ok = visitor
        .ack("joinServiceQueue", json!({ "serviceType": "loans" }))
        .await;
    assert_eq!(ok["room"], "service-loans");
    let joined = visitor.expect("queueUserJoined").await;
    assert_eq!(joined["serviceType"], "loans");
    assert_eq!(
        staff.ack("joinCounter", json!({ "counterId": 7 })).await["room"],
        "counter-7"
    );
    assert_eq!(
        visitor.ack("joinUserRoom", json!({ "userId": "u9" })).await["room"],
        "user-u9"
    );
    // Backends publish to several rooms at once; each socket gets one copy.
    srv.post("/api/v1/publish", &json!({ "event": "ticketCreated", "data": { "n": 1 }, "rooms": ["service-loans", "counter-7", "dashboard"] })).await;
    assert_eq!(visitor.expect("ticketCreated").await["n"], 1);
    assert_eq!(staff.expect("ticketCreated").await["n"], 1);
    assert_eq!(
        visitor
            .ack("leaveRoom", json!({ "room": "service-loans" }))
            .await["success"],
        true
    );
    // The staff member leaves: the dashboard hears about it.
    let mut other_staff = TestClient::connect_as(&srv, "a1", &["admin"]).await;
    other_staff
        .ack(
            "joinDashboard",
            json!({ "userRole": "admin", "userId": "u2" }),
        )
        .await;
    staff.client.disconnect().await.unwrap();
    let upd = other_staff
        .next_where(|n| n == "staffConnectionUpdate")
        .await
        .1;
    let upd = if upd["action"] == "connected" {
        other_staff.expect("staffConnectionUpdate").await
    } else {
        upd
    };
    assert_eq!(upd["action"], "disconnected");
}

#[tokio::test]
async fn booking_system_plain_string_ids() {
    let srv = TestServer::spawn().await;
    let mut c = TestClient::connect_auth(
        &srv,
        json!({ "token": token("b1", &["student"], Some("t1")) }),
    )
    .await;
    assert_eq!(
        c.ack("join:library", json!("lib-1")).await,
        json!({ "success": true, "room": "library:lib-1" })
    );
    assert_eq!(c.ack("join:tenant", json!("t1")).await["room"], "tenant:t1");
    srv.post(
        "/api/test/socket-event",
        &json!({ "event": "seat:availability", "data": { "free": 3 }, "room": "library:lib-1" }),
    )
    .await;
    assert_eq!(c.expect("seat:availability").await["free"], 3);
}

#[tokio::test]
async fn bad_payloads_get_error_acks_and_the_socket_stays() {
    let srv = TestServer::spawn().await;
    let mut c = TestClient::connect(&srv).await;
    let e = c.ack("module:subscribe", json!({})).await;
    assert_eq!(e["success"], false);
    assert!(e["error"].as_str().unwrap().contains("moduleKey"), "{e}");
    let e = c
        .ack("module:subscribe", json!({ "moduleKey": ["x"] }))
        .await;
    assert_eq!(e["success"], false);
    let e = c.ack("join:library", json!({ "id": 1 })).await;
    assert_eq!(e["success"], false);
    let e = c.ack("no:such:event", json!(1)).await;
    assert_eq!(
        e,
        json!({ "success": false, "error": "unknown event: no:such:event" })
    );
    // Without an ack the error comes as an `error` event.
    c.emit("joinServiceQueue", json!({ "wrong": 1 })).await;
    let err = c.expect("error").await;
    assert_eq!(err["event"], "joinServiceQueue");
    assert_eq!(err["success"], false);
    // Nothing joined, still connected.
    let (_, stats) = srv.get("/api/v1/stats").await;
    assert_eq!(stats["data"]["rooms"], json!([]));
    assert_eq!(c.ack("ping", json!(null)).await, "pong");
    assert!(stats["data"]["counters"]["rule_errors"].as_u64().unwrap() >= 3);
}

#[tokio::test]
async fn polling_clients_work_the_same() {
    let srv = TestServer::spawn().await;
    let mut c = TestClient::connect_with(&srv, TransportType::Polling).await;
    assert_eq!(
        c.ack("module:subscribe", json!({ "moduleKey": "hr" }))
            .await["success"],
        true
    );
    assert_eq!(c.expect("kpi:update:hr").await, json!([]), "snapshot");
    srv.post(
        "/api/v1/publish",
        &json!({ "event": "kpi:update:hr", "data": [], "rooms": ["module:hr"] }),
    )
    .await;
    assert_eq!(c.expect("kpi:update:hr").await, json!([]));
}
