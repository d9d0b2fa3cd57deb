//! The live-data feeds of the README's "Live data" with real clients, on SQLite and PostgreSQL.

use crate::harness::*;
use serde_json::{json, Value};

fn kpis(v: f64) -> Value {
    json!([
        { "id": "revenue", "label": "Revenue (EUR k)", "value": v, "trend": "up", "status": "success" },
        { "id": "margin", "label": "Operating margin (%)", "value": 21.4, "status": "warning" },
    ])
}

async fn kpi_flow(srv: &TestServer) {
    let mut fin = TestClient::connect(srv).await;
    let mut hr = TestClient::connect(srv).await;
    fin.ack("module:subscribe", json!({ "moduleKey": "finance" }))
        .await;
    assert_eq!(
        fin.expect("kpi:update:finance").await,
        json!([]),
        "snapshot at once, empty module"
    );
    hr.ack("module:subscribe", json!({ "moduleKey": "hr" }))
        .await;
    let (st, r) = srv.put("/api/v1/modules/finance/kpis", &kpis(800.0)).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["data"].as_array().unwrap().len(), 2);
    let got = fin.expect("kpi:update:finance").await;
    assert_eq!(got[0]["id"], "revenue");
    assert_eq!(got[0]["value"], 800.0);
    assert_eq!(got[1]["status"], "warning");
    // Upsert by id keeps the list whole; GET returns it.
    srv.put(
        "/api/v1/modules/finance/kpis",
        &json!([{ "id": "revenue", "label": "Revenue (EUR k)", "value": 900 }]),
    )
    .await;
    let got = fin.expect("kpi:update:finance").await;
    assert_eq!(
        (got[0]["value"].clone(), got.as_array().unwrap().len()),
        (json!(900), 2)
    );
    let (_, r) = srv.get("/api/v1/modules/finance/kpis").await;
    assert_eq!(r["data"][0]["value"], 900);
    // hr never saw finance's KPIs: its first kpi event after a marker publish is the marker.
    srv.post("/api/v1/publish", &json!({ "event": "marker" }))
        .await;
    let (name, _) = hr
        .next_where(|n| n.starts_with("kpi:update:finance") || n == "marker")
        .await;
    assert_eq!(name, "marker");
    // The dashboard is derived from the stored KPIs.
    let mut dash = TestClient::connect(srv).await;
    dash.ack("dashboard:subscribe", json!({})).await;
    let d = dash.expect("dashboard:update").await;
    let card = d["summaryCards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["module"] == "finance")
        .cloned()
        .unwrap();
    assert_eq!(
        (card["status"].clone(), card["kpiCount"].clone()),
        (json!("warning"), json!(2))
    );
    assert!(d["summaryCards"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == "system:connections"));
    assert_eq!(d["topKPIs"][0]["id"], "revenue");
    assert_eq!(d["topKPIs"][0]["previous"], 800.0);
}

async fn notification_flow(srv: &TestServer) {
    let mut a = TestClient::connect_as(srv, "u1", &[]).await;
    let mut b = TestClient::connect_as(srv, "u1", &[]).await;
    let other = TestClient::connect_as(srv, "u2", &[]).await;
    for c in [&a, &b, &other] {
        c.ack("notification:subscribe", json!({})).await;
    }
    let (st, n1) = srv.post("/api/v1/notifications", &json!({ "userId": "u1", "title": "Invoice approved", "message": "INV-1", "severity": "success" })).await;
    assert_eq!(st, 200, "{n1}");
    let id = n1["data"]["id"].as_str().unwrap().to_owned();
    let got = a.expect("notification:new").await;
    assert_eq!(
        (
            got["id"].as_str(),
            got["title"].as_str(),
            got["unreadCount"].as_i64()
        ),
        (Some(id.as_str()), Some("Invoice approved"), Some(1))
    );
    assert!(got["time"].is_string());
    assert_eq!(b.expect("notification:new").await["id"], id.as_str());
    // Another user cannot mark it read; unknown ids are refused; nothing changes.
    let e = other
        .ack("notification:mark-read", json!({ "notificationId": id }))
        .await;
    assert_eq!(e["success"], false);
    let e = a
        .ack(
            "notification:mark-read",
            json!({ "notificationId": "nope" }),
        )
        .await;
    assert_eq!(
        e,
        json!({ "success": false, "error": "notification not found" })
    );
    let ok = a
        .ack("notification:mark-read", json!({ "notificationId": id }))
        .await;
    assert_eq!(ok, json!({ "success": true, "unreadCount": 0 }));
    let read = b.expect("notification:read").await;
    assert_eq!(read, json!({ "id": id, "unreadCount": 0 }));
    // Replay on subscribe: only the unread one, oldest first.
    srv.post(
        "/api/v1/notifications",
        &json!({ "userId": "u1", "title": "Second", "message": "m" }),
    )
    .await;
    srv.post(
        "/api/v1/notifications",
        &json!({ "userId": "u1", "title": "Third", "message": "m" }),
    )
    .await;
    let mut c = TestClient::connect_as(srv, "u1", &[]).await;
    c.ack("notification:subscribe", json!({})).await;
    assert_eq!(c.expect("notification:new").await["title"], "Second");
    assert_eq!(c.expect("notification:new").await["title"], "Third");
    let (_, list) = srv.get("/api/v1/notifications?userId=u1").await;
    assert_eq!(list["data"]["unreadCount"], 2);
    assert_eq!(list["data"]["notifications"].as_array().unwrap().len(), 3);
    // Anonymous sockets have no user: denied.
    let anon = TestClient::connect(srv).await;
    assert_eq!(
        anon.ack("notification:mark-read", json!({ "notificationId": id }))
            .await["success"],
        false
    );
    // Bad input.
    let (st, e) = srv
        .post(
            "/api/v1/notifications",
            &json!({ "userId": "u1", "message": "no title" }),
        )
        .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (422, Some("validation_failed"))
    );
    let (st, _) = srv
        .post(
            "/api/v1/notifications",
            &json!({ "userId": "u1", "role": "staff", "title": "t", "message": "m" }),
        )
        .await;
    assert_eq!(st, 422);
}

async fn alert_flow(srv: &TestServer) {
    let mut a = TestClient::connect(srv).await;
    let (st, r) = srv
        .post(
            "/api/v1/alerts",
            &json!({ "title": "Disk", "message": "Disk 91% full", "severity": "warning" }),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    let list = a.expect("alert:system").await;
    assert_eq!(list[0]["title"], "Disk");
    srv.post(
        "/api/v1/alerts",
        &json!({ "title": "Backup", "message": "done" }),
    )
    .await;
    let mut late = TestClient::connect(srv).await;
    let list = late.expect("alert:system").await;
    assert_eq!(
        (list[0]["title"].as_str(), list[1]["title"].as_str()),
        (Some("Backup"), Some("Disk")),
        "newest first, on connect"
    );
    let (_, r) = srv.get("/api/v1/alerts").await;
    assert_eq!(r["data"].as_array().unwrap().len(), 2);
    let (st, _) = srv
        .post("/api/v1/alerts", &json!({ "message": "no title" }))
        .await;
    assert_eq!(st, 422);
}

#[tokio::test]
async fn kpis_on_sqlite() {
    kpi_flow(&TestServer::spawn().await).await;
}

#[tokio::test]
async fn notifications_on_sqlite() {
    notification_flow(&TestServer::spawn().await).await;
}

#[tokio::test]
async fn alerts_on_sqlite() {
    alert_flow(&TestServer::spawn().await).await;
}

#[tokio::test]
async fn kpis_notifications_alerts_on_postgres() {
    let db = PgDatabase::create().await;
    let mut cfg = test_config();
    cfg.database_url = db.url.clone();
    let srv = TestServer::with(cfg).await;
    kpi_flow(&srv).await;
    notification_flow(&srv).await;
    alert_flow(&srv).await;
    srv.shutdown().await;
    db.drop().await;
}

#[tokio::test]
async fn malformed_kpis_are_refused_naming_the_field() {
    let srv = TestServer::spawn().await;
    let (st, e) = srv
        .put(
            "/api/v1/modules/finance/kpis",
            &json!([{ "id": "a", "value": 1 }]),
        )
        .await;
    assert_eq!(st, 422);
    assert!(
        e["error"]["message"].as_str().unwrap().contains("label"),
        "{e}"
    );
    let (st, _) = srv
        .put("/api/v1/modules/finance/kpis", &json!({ "id": "a" }))
        .await;
    assert_eq!(st, 422);
    let (st, _) = srv.put("/api/v1/modules/bad%20key/kpis", &json!([])).await;
    assert_eq!(st, 422);
    let (_, r) = srv.get("/api/v1/modules/finance/kpis").await;
    assert_eq!(r["data"], json!([]), "nothing stored");
}

#[tokio::test]
async fn notifications_and_read_state_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config();
    cfg.database_url = format!("sqlite://{}", dir.path().join("sb.db").display());
    let srv = TestServer::with(cfg.clone()).await;
    let (_, n) = srv
        .post(
            "/api/v1/notifications",
            &json!({ "userId": "u1", "title": "Keep", "message": "m" }),
        )
        .await;
    srv.post(
        "/api/v1/notifications",
        &json!({ "userId": "u1", "title": "Read me", "message": "m" }),
    )
    .await;
    let c = TestClient::connect_as(&srv, "u1", &[]).await;
    c.ack("notification:subscribe", json!({})).await;
    let id = n["data"]["id"].as_str().unwrap();
    assert_eq!(
        c.ack("notification:mark-read", json!({ "notificationId": id }))
            .await["unreadCount"],
        1
    );
    srv.put(
        "/api/v1/modules/hr/kpis",
        &json!([{ "id": "hc", "label": "Headcount", "value": 312 }]),
    )
    .await;
    drop(c);
    srv.shutdown().await;
    let srv = TestServer::with(cfg).await;
    let (_, list) = srv.get("/api/v1/notifications?userId=u1").await;
    assert_eq!(list["data"]["unreadCount"], 1);
    let read: Vec<bool> = list["data"]["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["read"].as_bool().unwrap())
        .collect();
    assert_eq!(
        read,
        vec![false, true],
        "newest first; the first one is read"
    );
    let (_, k) = srv.get("/api/v1/modules/hr/kpis").await;
    assert_eq!(k["data"][0]["value"], 312);
}

/// The next `notification:new` or `marker`: what a client got before the marker.
async fn next_notification(c: &mut TestClient) -> (String, Value) {
    c.next_where(|n| n == "notification:new" || n == "marker")
        .await
}

/// Issue 13, fix 1: a room notification reaches every socket in the room, subscribed or
/// not, once; a role notification every connected socket of each user with the role.
async fn notification_reach_flow(srv: &TestServer) {
    // Room: u3 in the room without notification:subscribe; u3 again, subscribed and in the
    // room (one copy, not two); an anonymous socket in the room; u4 outside it.
    let mut in_room = TestClient::connect_as(srv, "u3", &[]).await;
    let mut both = TestClient::connect_as(srv, "u3", &[]).await;
    let mut anon = TestClient::connect(srv).await;
    let mut outside = TestClient::connect_as(srv, "u4", &[]).await;
    for c in [&in_room, &both, &anon] {
        c.ack("module:subscribe", json!({ "moduleKey": "sales" }))
            .await;
    }
    both.ack("notification:subscribe", json!({})).await;
    outside.ack("notification:subscribe", json!({})).await;
    let (st, r) = srv
        .post(
            "/api/v1/notifications",
            &json!({ "room": "module:sales", "title": "Quota", "message": "Sales quota met" }),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["data"]["title"], "Quota", "one stored row: u3's");
    srv.post("/api/v1/publish", &json!({ "event": "marker" }))
        .await;
    for c in [&mut in_room, &mut both] {
        let (name, n) = next_notification(c).await;
        assert_eq!(name, "notification:new");
        assert_eq!(
            (n["title"].as_str(), n["unreadCount"].as_i64()),
            (Some("Quota"), Some(1))
        );
        assert_eq!(next_notification(c).await.0, "marker", "exactly once");
    }
    let (name, n) = next_notification(&mut anon).await;
    assert_eq!(name, "notification:new");
    assert_eq!(n["title"], "Quota");
    assert!(n["id"].is_string());
    assert!(n["unreadCount"].is_null(), "no inbox: {n}");
    assert_eq!(next_notification(&mut anon).await.0, "marker");
    assert_eq!(next_notification(&mut outside).await.0, "marker");

    // Role: both sockets of u5 (one token without the role), not subscribed; u6 is staff.
    let mut mgr = TestClient::connect_as(srv, "u5", &["manager"]).await;
    let mut mgr_other = TestClient::connect_as(srv, "u5", &[]).await;
    let mut staff = TestClient::connect_as(srv, "u6", &["staff"]).await;
    let (st, r) = srv
        .post(
            "/api/v1/notifications",
            &json!({ "role": "manager", "title": "Review", "message": "Budget review at 3" }),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    srv.post("/api/v1/publish", &json!({ "event": "marker" }))
        .await;
    for c in [&mut mgr, &mut mgr_other] {
        let (name, n) = next_notification(c).await;
        assert_eq!(name, "notification:new");
        assert_eq!(
            (n["title"].as_str(), n["id"].as_str()),
            (Some("Review"), r["data"]["id"].as_str())
        );
        assert_eq!(n["unreadCount"], 1);
        assert_eq!(next_notification(c).await.0, "marker");
    }
    assert_eq!(next_notification(&mut staff).await.0, "marker");
}

#[tokio::test]
async fn room_and_role_notifications_reach_every_socket_on_sqlite() {
    notification_reach_flow(&TestServer::spawn().await).await;
}

#[tokio::test]
#[cfg_attr(skip_postgres, ignore = "SKIP_POSTGRES set at build time")]
async fn room_and_role_notifications_reach_every_socket_on_postgres() {
    let db = PgDatabase::create().await;
    let mut cfg = test_config();
    cfg.database_url = db.url.clone();
    let srv = TestServer::with(cfg).await;
    notification_reach_flow(&srv).await;
    srv.shutdown().await;
    db.drop().await;
}

/// Issue 13, fix 2: omitted `trend` and `status` are stored and sent defaulted.
#[tokio::test]
async fn kpis_without_trend_or_status_carry_the_defaults() {
    let srv = TestServer::spawn().await;
    let mut c = TestClient::connect(&srv).await;
    c.ack("module:subscribe", json!({ "moduleKey": "ops" }))
        .await;
    assert_eq!(c.expect("kpi:update:ops").await, json!([]));
    let (st, r) = srv
        .put(
            "/api/v1/modules/ops/kpis",
            &json!([{ "id": "tickets", "label": "Open tickets", "value": 12 }]),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    let got = c.expect("kpi:update:ops").await;
    let k = &got[0];
    assert_eq!(
        (
            &k["id"],
            &k["label"],
            &k["value"],
            &k["trend"],
            &k["status"]
        ),
        (
            &json!("tickets"),
            &json!("Open tickets"),
            &json!(12),
            &json!("flat"),
            &json!("info")
        )
    );
    let (_, r) = srv.get("/api/v1/modules/ops/kpis").await;
    assert_eq!(
        (&r["data"][0]["trend"], &r["data"][0]["status"]),
        (&json!("flat"), &json!("info"))
    );
}
