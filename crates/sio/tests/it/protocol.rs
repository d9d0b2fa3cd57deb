//! Handshake, transports, upgrade, heartbeat, acks, binary, malformed input.

use crate::harness::*;
use tokio_tungstenite::tungstenite::Message;

async fn http_get(url: &str) -> (u16, String) {
    let r = tokio::time::timeout(T, reqwest::get(url))
        .await
        .expect("GET timeout")
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn http_post(url: &str, body: &str) -> (u16, String) {
    let r = tokio::time::timeout(
        T,
        reqwest::Client::new()
            .post(url)
            .body(body.to_owned())
            .send(),
    )
    .await
    .expect("POST timeout")
    .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A new long-polling session: its sid and the URL its requests go to.
async fn polling_session(srv: &TestServer) -> (String, String) {
    let (_, body) = http_get(&srv.url("transport=polling")).await;
    let sid = serde_json::from_str::<serde_json::Value>(&body[1..]).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = srv.url(&format!("transport=polling&sid={sid}"));
    (sid, url)
}

#[tokio::test]
async fn websocket_handshake_and_connect() {
    let srv = TestServer::spawn(app(fast_config(), Default::default())).await;
    let mut c = Ws::open(srv.addr).await;
    assert!(!c.sid.is_empty());
    c.send("40").await;
    let ack = c.recv_text().await;
    let v: serde_json::Value = serde_json::from_str(&ack[2..]).unwrap();
    assert!(
        v["sid"].is_string() && v["pid"].is_string(),
        "recovery on by default: {ack}"
    );
    c.send("42[\"echo\",1,\"two\",{\"3\":[true]}]").await;
    assert_eq!(c.recv_text().await, "42[\"echo\",1,\"two\",{\"3\":[true]}]");
}

#[tokio::test]
async fn polling_handshake_roundtrip_and_errors() {
    let srv = TestServer::spawn(app(fast_config(), Default::default())).await;
    let (st, body) = http_get(&srv.url("transport=polling")).await;
    assert_eq!(st, 200);
    let open: serde_json::Value = serde_json::from_str(&body[1..]).unwrap();
    assert_eq!(open["upgrades"], serde_json::json!(["websocket"]));
    assert_eq!(open["pingInterval"], 2000);
    assert_eq!(open["maxPayload"], 1_000_000);
    let sid = open["sid"].as_str().unwrap();
    let url = srv.url(&format!("transport=polling&sid={sid}"));
    assert_eq!(http_post(&url, "40").await, (200, "ok".into()));
    let (_, ack) = http_get(&url).await;
    assert!(ack.starts_with("40{\"sid\""), "{ack}");
    assert_eq!(
        http_post(&url, "42[\"echo\",\"a\"]\x1e42[\"echo\",\"b\"]")
            .await
            .0,
        200
    );
    assert_eq!(
        http_get(&url).await.1,
        "42[\"echo\",\"a\"]\x1e42[\"echo\",\"b\"]"
    );
    // Errors: unknown sid, bad version, bad transport.
    assert_eq!(
        http_get(&srv.url("transport=polling&sid=nope")).await,
        (
            400,
            "{\"code\":1,\"message\":\"Session ID unknown\"}".into()
        )
    );
    assert_eq!(
        http_get(&format!(
            "http://{}/socket.io/?EIO=3&transport=polling",
            srv.addr
        ))
        .await
        .0,
        400
    );
    assert_eq!(http_get(&srv.url("transport=carrier-pigeon")).await.0, 400);
    // Malformed packet on polling: 400 and the session is gone.
    assert_eq!(http_post(&url, "42{}").await.0, 400);
    assert_eq!(http_get(&url).await.0, 400);
}

/// A client's close (`1` in a POST) and its next poll cross on the wire: the poll is
/// answered `6` whichever lands first (as the protocol suite's "forcefully closes the
/// session" expects), once; a later poll gets 400.
#[tokio::test]
async fn a_poll_crossing_the_clients_close_gets_a_noop_once() {
    let srv = TestServer::spawn(app(fast_config(), Default::default())).await;
    for poll_first in [true, false] {
        let (_, url) = polling_session(&srv).await;
        if poll_first {
            let poll = tokio::spawn({
                let url = url.clone();
                async move { http_get(&url).await }
            });
            // the GET is pending before the close lands
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            assert_eq!(http_post(&url, "1").await, (200, "ok".into()));
            assert_eq!(poll.await.unwrap(), (200, "6".into()));
        } else {
            assert_eq!(http_post(&url, "1").await, (200, "ok".into()));
            assert_eq!(http_get(&url).await, (200, "6".into()), "the late poll");
        }
        assert_eq!(http_get(&url).await.0, 400, "poll_first={poll_first}");
        assert_eq!(
            http_post(&url, "40").await.0,
            400,
            "poll_first={poll_first}"
        );
    }
    // a session closed for another reason (malformed) still answers 400 at once
    let (_, url) = polling_session(&srv).await;
    assert_eq!(http_post(&url, "42{}").await.0, 400);
    assert_eq!(http_get(&url).await.0, 400);
}

#[tokio::test]
async fn polling_upgrades_to_websocket_and_keeps_queued_packets() {
    let srv = TestServer::spawn(app(fast_config(), Default::default())).await;
    let (sid, url) = polling_session(&srv).await;
    http_post(&url, "40").await;
    http_get(&url).await; // connect ack
    let mut ws = Ws {
        ws: tokio_tungstenite::connect_async(format!(
            "ws://{}/socket.io/?EIO=4&transport=websocket&sid={sid}",
            srv.addr
        ))
        .await
        .unwrap()
        .0,
        sid: sid.clone(),
    };
    ws.send("2probe").await;
    assert_eq!(ws.recv_text().await, "3probe");
    // While probing, a GET is released with a noop; queued packets wait for the WebSocket.
    http_post(&url, "42[\"echo\",\"during\"]").await;
    assert_eq!(http_get(&url).await.1, "6");
    ws.send("5").await;
    assert_eq!(ws.recv_text().await, "42[\"echo\",\"during\"]");
    ws.send("42[\"echo\",\"after\"]").await;
    assert_eq!(ws.recv_text().await, "42[\"echo\",\"after\"]");
    // Polling after the upgrade is refused, the session lives on.
    assert_eq!(http_get(&url).await.0, 400);
    ws.send("42[\"echo\",\"still\"]").await;
    assert_eq!(ws.recv_text().await, "42[\"echo\",\"still\"]");
}

#[tokio::test]
async fn missing_pong_times_out_with_reason() {
    let reasons = Reasons::default();
    let srv = TestServer::spawn(app(tight_heartbeat(), reasons.clone())).await;
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", srv.addr);
    let (mut raw, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    use futures_util::{SinkExt, StreamExt};
    raw.send(Message::text("40")).await.unwrap();
    // Read everything, never answer pings: the server must close us.
    let mut saw_ping = false;
    while let Some(Ok(m)) = tokio::time::timeout(T, raw.next())
        .await
        .expect("server never closed")
    {
        match m {
            Message::Text(t) if t.as_str() == "2" => saw_ping = true,
            Message::Close(_) => break,
            _ => {}
        }
    }
    assert!(saw_ping);
    eventually(|| {
        reasons
            .lock()
            .unwrap()
            .contains(&sio::DisconnectReason::PingTimeout)
    })
    .await;
}

#[tokio::test]
async fn acks_both_ways_and_ack_timeout() {
    let srv = TestServer::spawn(app(fast_config(), Default::default())).await;
    let (mut c, _) = Ws::connect(srv.addr, "").await;
    c.send("4212[\"ack\",{\"a\":1},2]").await;
    assert_eq!(c.recv_text().await, "4312[{\"a\":1},2]");
    // Server -> client ack.
    c.send("42[\"ask\"]").await;
    let q = c.recv_text().await;
    assert!(
        q.starts_with("42") && q.ends_with("[\"question\",1]"),
        "{q}"
    );
    let id: String = q[2..].chars().take_while(|c| c.is_ascii_digit()).collect();
    c.send(&format!("43{id}[\"yes\"]")).await;
    assert_eq!(c.recv_text().await, "42[\"answer\",\"yes\"]");
    // No answer: the ack times out.
    c.send("42[\"ask\"]").await;
    let _ = c.recv_text().await;
    assert_eq!(c.recv_text().await, "42[\"ack-error\",\"ack timeout\"]");
}

#[tokio::test]
async fn binary_attachments_round_trip() {
    let srv = TestServer::spawn(app(fast_config(), Default::default())).await;
    let (mut c, _) = Ws::connect(srv.addr, "").await;
    c.send("452-[\"echo\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]")
        .await;
    c.send_bin(&[1, 2, 3]).await;
    c.send_bin(&[4, 5, 6]).await;
    assert_eq!(
        c.recv_text().await,
        "452-[\"echo\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]"
    );
    assert_eq!(c.next().await, Some(Message::binary(vec![1u8, 2, 3])));
    assert_eq!(c.next().await, Some(Message::binary(vec![4u8, 5, 6])));
    c.send("452-7[\"ack\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]")
        .await;
    c.send_bin(&[9]).await;
    c.send_bin(&[8]).await;
    assert_eq!(
        c.recv_text().await,
        "462-7[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]"
    );
    assert_eq!(c.next().await, Some(Message::binary(vec![9u8])));
}

#[tokio::test]
async fn connect_hook_refusal_is_a_connect_error_and_unknown_namespace_too() {
    let srv = TestServer::spawn(app(fast_config(), Default::default())).await;
    let mut c = Ws::open(srv.addr).await;
    c.send("40{\"deny\":true}").await;
    assert_eq!(c.recv_text().await, "44{\"message\":\"denied\"}");
    c.send("40/nope,").await;
    assert_eq!(
        c.recv_text().await,
        "44/nope,{\"message\":\"Invalid namespace\"}"
    );
    // The session survives and can still connect.
    c.send("40").await;
    assert!(c.recv_text().await.starts_with("40{"));
}

#[tokio::test]
async fn malformed_input_closes_only_that_connection() {
    let reasons = Reasons::default();
    let srv = TestServer::spawn(app(fast_config(), reasons.clone())).await;
    let (mut control, _) = Ws::connect(srv.addr, "").await;
    control.send("42[\"join\",\"r\"]").await;
    for bad in ["42{}", "4abc", "9", "42[1,2", "43[]", "452-[\"x\"]\u{0}"] {
        let (mut c, _) = Ws::connect(srv.addr, "").await;
        c.send(bad).await;
        c.closed().await;
    }
    // Invalid UTF-8 in a text frame and an oversize frame.
    let (mut c, _) = Ws::connect(srv.addr, "").await;
    c.ws.send(Message::Binary(vec![0xff, 0xfe].into()))
        .await
        .unwrap();
    c.closed().await;
    let (mut big, _) = Ws::connect(srv.addr, "").await;
    big.send(&format!("42[\"echo\",\"{}\"]", "x".repeat(1_100_000)))
        .await;
    big.closed().await;
    // The control client is untouched.
    control
        .send("42[\"bcast\",{\"room\":\"r\",\"data\":\"still here\"}]")
        .await;
    assert_eq!(
        control
            .recv_text()
            .await
            .split_once(',')
            .unwrap()
            .1
            .trim_end_matches(']')
            .split(',')
            .next()
            .unwrap(),
        "\"still here\""
    );
    assert!(reasons
        .lock()
        .unwrap()
        .contains(&sio::DisconnectReason::ParseError));
    assert!(
        srv.io
            .stats()
            .malformed
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
}
use futures_util::SinkExt;
