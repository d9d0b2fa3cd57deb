//! Limits (README "Limits and defaults"): event rate, rooms per socket, connections per IP, JSON depth,
//! API key scopes and rotation, and secrets kept out of logs.

use crate::harness::*;
use serde_json::{json, Value};

#[tokio::test]
async fn event_rate_limit_answers_then_disconnects() {
    let mut cfg = test_config();
    cfg.rate_limit_per_sec = 1;
    cfg.rate_limit_burst = 3;
    cfg.rate_limit_disconnect_after = 4;
    let srv = TestServer::with(cfg).await;
    let c = TestClient::connect(&srv).await;
    let mut answers = Vec::new();
    for _ in 0..7 {
        answers.push(c.ack("ping", Value::Null).await);
    }
    assert_eq!(
        &answers[..3],
        &[json!("pong"), json!("pong"), json!("pong")]
    );
    assert_eq!(
        answers[3],
        json!({ "success": false, "error": "rate limit exceeded, slow down" })
    );
    // Sustained: the 4th refusal in a row is answered, then the socket is disconnected.
    assert_eq!(
        answers[6],
        json!({ "success": false, "error": "rate limit exceeded, disconnecting" })
    );
    let metrics = reqwest::get(srv.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("switchboard_rate_limit_disconnects_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn rooms_per_socket_are_capped() {
    let mut cfg = test_config();
    cfg.max_rooms_per_socket = 2;
    let srv = TestServer::with(cfg).await;
    let c = TestClient::connect(&srv).await;
    assert_eq!(
        c.ack("module:subscribe", json!({ "moduleKey": "a" })).await["success"],
        true
    );
    assert_eq!(
        c.ack("module:subscribe", json!({ "moduleKey": "b" })).await["success"],
        true
    );
    let e = c.ack("module:subscribe", json!({ "moduleKey": "c" })).await;
    assert_eq!(
        e,
        json!({ "success": false, "error": "room limit reached (2 rooms per connection)" })
    );
    assert_eq!(
        c.ack("module:subscribe", json!({ "moduleKey": "a" })).await["success"],
        true,
        "re-joining is fine"
    );
    c.ack("module:unsubscribe", json!({ "moduleKey": "a" }))
        .await;
    assert_eq!(
        c.ack("module:subscribe", json!({ "moduleKey": "c" })).await["success"],
        true
    );
}

#[tokio::test]
async fn connections_per_ip_are_capped_and_freed() {
    let mut cfg = test_config();
    cfg.max_connections_per_ip = 2;
    let srv = TestServer::with(cfg).await;
    let a = TestClient::connect(&srv).await;
    let _b = TestClient::connect(&srv).await;
    // A third handshake from the same address is refused before a session exists:
    // HTTP 403 with Engine.IO's error body, over polling and over WebSocket.
    let r = reqwest::get(srv.url("/socket.io/?EIO=4&transport=polling"))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({ "code": 4, "message": "too many connections from this address" })
    );
    let err = tokio_tungstenite::connect_async(format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket",
        srv.addr
    ))
    .await
    .expect_err("refused");
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => assert_eq!(resp.status(), 403),
        e => panic!("expected HTTP 403, got {e}"),
    }
    let stats = srv.get("/api/v1/stats").await.1;
    assert_eq!(stats["data"]["counters"]["ip_refused"], 2, "{stats}");
    a.client.disconnect().await.unwrap();
    let deadline = tokio::time::Instant::now() + T;
    loop {
        // The socket goes first, its Engine.IO session (what the per-IP cap counts) just
        // after: wait for both.
        let stats = srv.get("/api/v1/stats").await.1;
        let sessions = stats["data"]["addresses"][0]["sessions"].clone();
        if stats["data"]["connections"] == 1 && sessions == 1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{stats}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let _c = TestClient::connect(&srv).await; // a slot is free again
}

fn nested(levels: usize) -> Value {
    let mut v = json!(1);
    for _ in 0..levels {
        v = json!([v]);
    }
    v
}

#[tokio::test]
async fn deeply_nested_json_is_refused_on_both_sides() {
    let srv = TestServer::spawn().await;
    let (st, e) = srv
        .post(
            "/api/v1/publish",
            &json!({ "event": "x", "data": nested(40) }),
        )
        .await;
    assert_eq!(
        (st, e["error"]["message"].as_str()),
        (422, Some("JSON nested deeper than 32 levels"))
    );
    assert_eq!(
        srv.post(
            "/api/v1/publish",
            &json!({ "event": "x", "data": nested(20) })
        )
        .await
        .0,
        200
    );
    let c = TestClient::connect(&srv).await;
    let e = c
        .ack("module:subscribe", json!({ "moduleKey": nested(40) }))
        .await;
    assert_eq!(
        e,
        json!({ "success": false, "error": "payload nested too deeply" })
    );
    // Past serde_json's own recursion limit (128) too: refused as too deep, not "missing".
    let e = c
        .ack("module:subscribe", json!({ "moduleKey": nested(1000) }))
        .await;
    assert_eq!(
        e,
        json!({ "success": false, "error": "payload nested too deeply" })
    );
}

#[tokio::test]
async fn api_key_scopes_and_rotation_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.toml");
    std::fs::write(
        &keys,
        "[[api_keys]]\nname = \"pub\"\nkey = \"k-publish\"\nscopes = [\"publish\"]\n",
    )
    .unwrap();
    let mut cfg = test_config();
    cfg.api_keys_file = Some(keys.clone());
    let srv = TestServer::with(cfg).await;
    let http = reqwest::Client::new();
    let call = |key: &'static str, path: &'static str| {
        let req = if path.contains("publish") {
            http.post(srv.url(path)).json(&json!({ "event": "x" }))
        } else {
            http.get(srv.url(path))
        };
        async move { req.bearer_auth(key).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(call("k-publish", "/api/v1/publish").await, 200);
    assert_eq!(
        call("k-publish", "/api/v1/stats").await,
        403,
        "no admin scope"
    );
    assert_eq!(call("k-admin", "/api/v1/stats").await, 401);
    // Rotate: the file now holds an admin key only; SIGHUP reloads it.
    std::fs::write(
        &keys,
        "[[api_keys]]\nname = \"ops\"\nkey = \"k-admin\"\nscopes = [\"admin\"]\n",
    )
    .unwrap();
    let pid = std::process::id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = tokio::time::Instant::now() + T;
    while call("k-admin", "/api/v1/stats").await != 200 {
        assert!(tokio::time::Instant::now() < deadline, "keys not reloaded");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        call("k-publish", "/api/v1/publish").await,
        401,
        "the old key is gone"
    );
}

#[tokio::test]
async fn secrets_never_reach_the_logs() {
    let secret = "log-test-secret-0123456789abcdef0123";
    let key = "log-test-api-key-987654321";
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "serve",
            "--listen",
            &addr.to_string(),
            "--database-url",
            "sqlite::memory:",
            "--jwt-secret",
            secret,
            "--api-key",
            key,
        ])
        .env("RUST_LOG", "trace,hyper=info,sqlx=info")
        // Far beyond the wait below: exiting within it means the server drained its
        // connections rather than waiting out this deadline.
        .env("SWITCHBOARD_SHUTDOWN_TIMEOUT_SECS", "60")
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Drained all along (trace logs would fill a pipe and stall the server).
    fn drain(mut r: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    }
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + T;
    while http.get(format!("{base}/health")).send().await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "server did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let good = switchboard::identity::mint(
        secret,
        "alice",
        &[],
        None,
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    let forged = switchboard::identity::mint(
        "another-secret-another-secret-123",
        "eve",
        &[],
        None,
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    http.post(format!("{base}/api/v1/publish"))
        .bearer_auth(key)
        .json(&json!({ "event": "x" }))
        .send()
        .await
        .unwrap();
    http.post(format!("{base}/api/v1/publish"))
        .bearer_auth("wrong-key-wrong")
        .json(&json!({ "event": "x" }))
        .send()
        .await
        .unwrap();
    for t in [&good, &forged] {
        let _ = http
            .get(format!(
                "{base}/socket.io/?EIO=4&transport=polling&token={t}"
            ))
            .send()
            .await;
    }
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["check-config", "--jwt-secret", secret, "--api-key", key])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    // SIGTERM is a graceful shutdown: the server exits by itself, soon, with status 0.
    let bound = std::time::Duration::from_secs(10);
    let deadline = std::time::Instant::now() + bound;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
            panic!("the server did not exit within {bound:?} of SIGTERM");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    let logs = [stdout, stderr, check.stdout, check.stderr].concat();
    let logs = String::from_utf8_lossy(&logs);
    assert!(
        status.success(),
        "exit after SIGTERM: {status}; logs: {logs}"
    );
    assert!(logs.contains("listening"), "the server logged: {logs}");
    for s in [
        secret,
        key,
        good.as_str(),
        forged.as_str(),
        "wrong-key-wrong",
    ] {
        assert!(!logs.contains(s), "a secret leaked into the logs: {s}");
    }
}
