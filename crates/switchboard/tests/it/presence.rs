//! Presence (README "Presence") with real clients: join/leave per user, not per tab;
//! anonymous sockets counted, not listed; who may ask; the listing cap.

use crate::harness::*;
use serde_json::{json, Value};

fn is_presence(name: &str) -> bool {
    name.starts_with("presence:")
}

/// The next presence event a client hears: (event, payload).
async fn next_presence(c: &mut TestClient) -> (String, Value) {
    c.next_where(is_presence).await
}

#[tokio::test]
async fn join_and_leave_are_per_user_not_per_tab() {
    let srv = TestServer::spawn().await;
    let mut alice1 = TestClient::connect_as(&srv, "alice", &["student"]).await;
    let alice2 = TestClient::connect_as(&srv, "alice", &["student"]).await;
    let mut bob = TestClient::connect_as(&srv, "bob", &["student"]).await;

    let ack = alice1.ack("join:library", json!("main")).await;
    assert_eq!(ack, json!({ "success": true, "room": "library:main" }));
    // The joiner is in the room: it hears its own arrival.
    assert_eq!(
        next_presence(&mut alice1).await,
        (
            "presence:join".into(),
            json!({ "room": "library:main", "user": "alice", "count": 1 })
        )
    );
    // A second tab of the same user is not a new user: no event. The next event
    // alice's first tab hears is bob's arrival.
    assert_eq!(
        alice2.ack("join:library", json!("main")).await["success"],
        true
    );
    assert_eq!(
        bob.ack("join:library", json!("main")).await["success"],
        true
    );
    assert_eq!(
        next_presence(&mut alice1).await,
        (
            "presence:join".into(),
            json!({ "room": "library:main", "user": "bob", "count": 2 })
        )
    );
    assert_eq!(
        next_presence(&mut bob).await,
        (
            "presence:join".into(),
            json!({ "room": "library:main", "user": "bob", "count": 2 })
        )
    );

    let listing = bob
        .ack("presence:get", json!({ "room": "library:main" }))
        .await;
    assert_eq!(
        listing,
        json!({ "success": true, "room": "library:main", "users": ["alice", "bob"],
                "count": 2, "anonymous": 0, "truncated": false })
    );

    // alice closes one tab: she is still there. Then she leaves with the other: now
    // she is gone, once.
    alice1.client.disconnect().await.unwrap();
    let left = alice2
        .ack("leaveRoom", json!({ "room": "library:main" }))
        .await;
    assert_eq!(left["success"], true);
    assert_eq!(
        next_presence(&mut bob).await,
        (
            "presence:leave".into(),
            json!({ "room": "library:main", "user": "alice", "count": 1 })
        )
    );
    let (status, body) = srv.get("/api/v1/rooms/library:main/presence").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({ "room": "library:main", "users": ["bob"], "count": 1, "anonymous": 0, "truncated": false })
    );
    // Another room of the same kind is separate.
    let (_, other) = srv.get("/api/v1/rooms/library:annex/presence").await;
    assert_eq!(other["data"]["count"], 0);
    srv.shutdown().await;
}

#[tokio::test]
async fn anonymous_sockets_are_counted_not_listed() {
    let srv = TestServer::spawn().await;
    let mut anon = TestClient::connect(&srv).await;
    let anon2 = TestClient::connect(&srv).await;
    let alice = TestClient::connect_as(&srv, "alice", &[]).await;
    for c in [&anon, &anon2, &alice] {
        let ack = c
            .ack("joinServiceQueue", json!({ "serviceType": "loans" }))
            .await;
        assert_eq!(ack["success"], true, "{ack}");
    }
    // The only presence event is alice's: anonymous sockets make none.
    assert_eq!(
        next_presence(&mut anon).await,
        (
            "presence:join".into(),
            json!({ "room": "service-loans", "user": "alice", "count": 1 })
        )
    );
    let listing = anon
        .ack("presence:get", json!({ "room": "service-loans" }))
        .await;
    assert_eq!(
        listing,
        json!({ "success": true, "room": "service-loans", "users": ["alice"],
                "count": 1, "anonymous": 2, "truncated": false })
    );
    // A disconnect is applied when the server reads it: wait (bounded) for the HTTP
    // view to show one anonymous socket and alice.
    anon2.client.disconnect().await.unwrap();
    let want = json!({ "room": "service-loans", "users": ["alice"], "count": 1, "anonymous": 1, "truncated": false });
    let mut seen = Value::Null;
    for _ in 0..250 {
        seen = srv.get("/api/v1/rooms/service-loans/presence").await.1["data"].clone();
        if seen == want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(seen, want);
    srv.shutdown().await;
}

#[tokio::test]
async fn only_members_of_a_presence_room_may_ask() {
    let srv = TestServer::spawn().await;
    let alice = TestClient::connect_as(&srv, "alice", &["student"]).await;
    let mut bob = TestClient::connect_as(&srv, "bob", &["student"]).await;
    assert_eq!(
        alice.ack("join:library", json!("main")).await["success"],
        true
    );
    assert_eq!(
        bob.ack("module:subscribe", json!({ "moduleKey": "crm" }))
            .await["success"],
        true
    );

    // bob is not in library:main.
    assert_eq!(
        bob.ack("presence:get", json!({ "room": "library:main" }))
            .await,
        json!({ "success": false, "error": "not a member of this room" })
    );
    // A room without presence, even for a member.
    assert_eq!(
        bob.ack("presence:get", json!({ "room": "module:crm" }))
            .await,
        json!({ "success": false, "error": "this room has no presence" })
    );
    // A malformed request.
    assert_eq!(
        bob.ack("presence:get", json!({ "rooms": 1 })).await,
        json!({ "success": false, "error": "room is required (a string)" })
    );
    // Without an ack callback the refusal is an `error` event.
    bob.emit("presence:get", json!({ "room": "library:main" }))
        .await;
    assert_eq!(
        bob.expect("error").await,
        json!({ "event": "presence:get", "success": false, "error": "not a member of this room" })
    );
    let (_, stats) = srv.get("/api/v1/stats").await;
    assert_eq!(stats["data"]["counters"]["presence_refused"], 3);
    assert_eq!(stats["data"]["counters"]["rule_errors"], 1);

    // Over HTTP: 404 for a room no presence rule joins.
    let (status, body) = srv.get("/api/v1/rooms/module:crm/presence").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    srv.shutdown().await;
}

#[tokio::test]
async fn the_http_listing_needs_an_api_key_when_keys_are_configured() {
    let mut config = test_config();
    config.api_keys = toml::from_str::<toml::Table>(
        "k = [{ name = \"ops\", key = \"presence-test-key\", scopes = [\"admin\"] }]",
    )
    .unwrap()["k"]
        .clone()
        .try_into()
        .unwrap();
    let srv = TestServer::with(config).await;
    let (status, _) = srv.get("/api/v1/rooms/library:main/presence").await;
    assert_eq!(status, 401);
    let r = reqwest::Client::new()
        .get(srv.url("/api/v1/rooms/library:main/presence"))
        .bearer_auth("presence-test-key")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    srv.shutdown().await;
}

#[tokio::test]
async fn listings_are_capped_and_a_crowded_room_goes_quiet() {
    let mut config = test_config();
    config.presence_max_users = 2;
    let srv = TestServer::with(config).await;
    let mut a = TestClient::connect_as(&srv, "a", &["student"]).await;
    let b = TestClient::connect_as(&srv, "b", &["student"]).await;
    let c = TestClient::connect_as(&srv, "c", &["student"]).await;
    let d = TestClient::connect_as(&srv, "d", &["student"]).await;
    for cl in [&a, &b, &c] {
        assert_eq!(cl.ack("join:library", json!("main")).await["success"], true);
    }
    let listing = a.ack("presence:get", json!("library:main")).await;
    assert_eq!(
        listing,
        json!({ "success": true, "room": "library:main", "users": ["a", "b"],
                "count": 3, "anonymous": 0, "truncated": true })
    );
    // a heard a (1) and b (2); c's arrival took the room over the cap: no event. d
    // joins and b leaves while it is over: still none. c and d leave: the room is back
    // at one user, and the last leave (2 → 1) is told.
    assert_eq!(next_presence(&mut a).await.1["user"], "a");
    assert_eq!(next_presence(&mut a).await.1["user"], "b");
    assert_eq!(d.ack("join:library", json!("main")).await["success"], true);
    for cl in [&b, &c] {
        assert_eq!(
            cl.ack("leaveRoom", json!({ "room": "library:main" })).await["success"],
            true
        );
    }
    assert_eq!(
        d.ack("leaveRoom", json!({ "room": "library:main" })).await["success"],
        true
    );
    assert_eq!(
        next_presence(&mut a).await,
        (
            "presence:leave".into(),
            json!({ "room": "library:main", "user": "d", "count": 1 })
        )
    );
    srv.shutdown().await;
}
