//! Permissions (README "Identity and security") with real clients: every permission of every preset allowed and denied, and
//! bad tokens refused before the CONNECT ack.

use crate::harness::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// `(event, payload)` → must be allowed for `ok` and denied for each of `denied`.
async fn allowed(c: &TestClient, event: &str, payload: Value) -> bool {
    c.ack(event, payload).await["success"] == true
}

#[tokio::test]
async fn every_identity_bound_rule_allows_the_right_caller_and_denies_the_rest() {
    let srv = TestServer::spawn().await;
    let anon = TestClient::connect(&srv).await;
    let student = TestClient::connect_auth(
        &srv,
        json!({ "token": token("stu", &["student"], Some("t1")) }),
    )
    .await;
    let staff = TestClient::connect_auth(
        &srv,
        json!({ "token": token("sta", &["staff"], Some("t1")) }),
    )
    .await;
    let admin = TestClient::connect_as(&srv, "adm", &["admin"]).await;

    // Public rules: everyone, anonymous included.
    for c in [&anon, &student] {
        assert!(allowed(c, "module:subscribe", json!({ "moduleKey": "crm" })).await);
        assert!(allowed(c, "dashboard:subscribe", json!({})).await);
        assert!(allowed(c, "joinServiceQueue", json!({ "serviceType": "loans" })).await);
    }
    // joinDashboard: staff or admin; a client-declared role never counts.
    assert!(
        allowed(
            &staff,
            "joinDashboard",
            json!({ "userRole": "staff", "userId": "sta" })
        )
        .await
    );
    assert!(allowed(&admin, "joinDashboard", json!({ "userRole": "admin" })).await);
    assert!(
        !allowed(
            &student,
            "joinDashboard",
            json!({ "userRole": "admin", "userId": "sta" })
        )
        .await
    );
    assert!(!allowed(&anon, "joinDashboard", json!({ "userRole": "admin" })).await);
    // joinCounter: staff only.
    assert!(allowed(&staff, "joinCounter", json!({ "counterId": 3 })).await);
    assert!(!allowed(&admin, "joinCounter", json!({ "counterId": 3 })).await);
    assert!(!allowed(&anon, "joinCounter", json!({ "counterId": 3 })).await);
    // Own user rooms only.
    assert!(allowed(&student, "joinUserRoom", json!({ "userId": "stu" })).await);
    assert!(!allowed(&student, "joinUserRoom", json!({ "userId": "sta" })).await);
    assert!(allowed(&student, "join:user", json!("stu")).await);
    assert!(!allowed(&student, "join:user", json!("sta")).await);
    assert!(!allowed(&anon, "join:user", json!("stu")).await);
    assert!(allowed(&student, "notification:subscribe", json!({})).await);
    let e = anon.ack("notification:subscribe", json!({})).await;
    assert_eq!(e["success"], false);
    // Own roles, own tenant, authenticated.
    assert!(allowed(&student, "join:role", json!("student")).await);
    assert!(!allowed(&student, "join:role", json!("staff")).await);
    assert!(allowed(&student, "join:tenant", json!("t1")).await);
    assert!(!allowed(&student, "join:tenant", json!("t2")).await);
    assert!(
        !allowed(&admin, "join:tenant", json!("t1")).await,
        "no tenant claim"
    );
    assert!(allowed(&student, "join:library", json!("main")).await);
    assert!(!allowed(&anon, "join:library", json!("main")).await);
    // Nothing denied was joined; denials are counted; everyone is still connected.
    let (_, stats) = srv.get("/api/v1/stats").await;
    let rooms: Vec<String> = stats["data"]["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    for forbidden in [
        "user-sta",
        "user:sta",
        "role:staff",
        "tenant:t2",
        "counter-3",
    ] {
        assert!(
            !rooms.contains(&forbidden.to_string()) || forbidden == "counter-3",
            "{forbidden} in {rooms:?}"
        );
    }
    assert_eq!(
        stats["data"]["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "counter-3")
            .unwrap()["members"],
        1
    );
    assert_eq!(stats["data"]["counters"]["denied_joins"], 12);
    for c in [&anon, &student, &staff, &admin] {
        assert_eq!(c.ack("ping", Value::Null).await, "pong");
    }
}

/// Open a raw WebSocket and send `40{auth}`; returns the server's answer.
async fn raw_connect(srv: &TestServer, auth: &str, query: &str) -> String {
    let url = format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket{query}",
        srv.addr
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let open = tokio::time::timeout(T, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(open.to_text().unwrap().starts_with('0'));
    ws.send(Message::text(format!("40{auth}"))).await.unwrap();
    let m = tokio::time::timeout(T, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    m.to_text().unwrap().to_owned()
}

#[tokio::test]
async fn bad_tokens_are_refused_with_a_clear_connect_error_in_both_modes() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let forged = switchboard::identity::mint(
        "some-other-secret-some-other-secret",
        "eve",
        &[],
        None,
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "sub": "a", "exp": now - 3600 }),
        &jsonwebtoken::EncodingKey::from_secret(TEST_SECRET.as_bytes()),
    )
    .unwrap();
    let wrong_alg = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &json!({ "sub": "a", "exp": now + 3600 }),
        &jsonwebtoken::EncodingKey::from_secret(TEST_SECRET.as_bytes()),
    )
    .unwrap();
    for mode in [
        switchboard::config::AuthMode::Optional,
        switchboard::config::AuthMode::Required,
    ] {
        let mut cfg = test_config();
        cfg.auth = mode;
        let srv = TestServer::with(cfg).await;
        for (tok, why) in [
            (&forged, "bad signature"),
            (&expired, "expired"),
            (&wrong_alg, "wrong algorithm"),
            (&"x.y.z".to_string(), "malformed"),
        ] {
            let reply = raw_connect(&srv, &json!({ "token": tok }).to_string(), "").await;
            assert_eq!(
                reply,
                format!("44{{\"message\":\"invalid token: {why}\"}}"),
                "{mode:?}"
            );
        }
        // Header and query parameter are read too.
        let good = token("u1", &[], None);
        assert!(raw_connect(&srv, "", &format!("&token={good}"))
            .await
            .starts_with("40{\"sid\""));
        assert!(raw_connect(&srv, "", &format!("&token={forged}"))
            .await
            .starts_with("44"));
        let anonymous = raw_connect(&srv, "", "").await;
        match mode {
            switchboard::config::AuthMode::Optional => assert!(anonymous.starts_with("40{\"sid\"")),
            switchboard::config::AuthMode::Required => assert!(
                anonymous.starts_with("44{\"message\":\"authentication required"),
                "{anonymous}"
            ),
        }
    }
}
