//! Connection state recovery: missed broadcasts replayed in order, exactly once.

use crate::harness::*;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// `(data, offset)` of a `msg` broadcast carrying a recovery offset.
fn msg(text: &str) -> (serde_json::Value, String) {
    let v: serde_json::Value = serde_json::from_str(&text[2..]).unwrap();
    assert_eq!(v[0], "msg", "{text}");
    (v[1].clone(), v[2].as_str().expect("offset").to_owned())
}

async fn member_with_offset(srv: &TestServer) -> (Ws, String, String, String) {
    let (mut a, ack) = Ws::connect(srv.addr, "").await;
    a.send("42[\"join\",\"rec\"]").await;
    a.send("42[\"bcast\",{\"room\":\"rec\",\"data\":0}]").await;
    let (d, offset) = msg(&a.recv_text().await);
    assert_eq!(d, 0);
    (
        a,
        ack["sid"].as_str().unwrap().to_owned(),
        ack["pid"].as_str().unwrap().to_owned(),
        offset,
    )
}

#[tokio::test]
async fn reconnect_within_window_replays_missed_packets_exactly_once() {
    let reasons = Reasons::default();
    let srv = TestServer::spawn(app(fast_config(), reasons.clone())).await;
    let (a, sid, pid, offset) = member_with_offset(&srv).await;
    drop(a); // transport closes without a goodbye
    eventually(|| {
        reasons
            .lock()
            .unwrap()
            .contains(&sio::DisconnectReason::TransportClose)
    })
    .await;
    let ns = srv.io.of("/").unwrap();
    for i in 1..=3 {
        ns.to("rec").emit("msg", &i).unwrap();
    }
    ns.to("elsewhere").emit("msg", &"not for a").unwrap();
    ns.to("rec").volatile().emit("msg", &"volatile").unwrap();
    let mut b = Ws::open(srv.addr).await;
    b.send(&format!("40{{\"pid\":\"{pid}\",\"offset\":\"{offset}\"}}"))
        .await;
    let ack: serde_json::Value = serde_json::from_str(&b.recv_text().await[2..]).unwrap();
    assert_eq!(
        (ack["sid"].as_str().unwrap(), ack["pid"].as_str().unwrap()),
        (sid.as_str(), pid.as_str())
    );
    let got: Vec<_> = [
        b.recv_text().await,
        b.recv_text().await,
        b.recv_text().await,
    ]
    .iter()
    .map(|t| msg(t).0)
    .collect();
    assert_eq!(got, vec![1, 2, 3]);
    // Nothing else was replayed: the next message is a fresh echo.
    b.send("42[\"echo\",\"next\"]").await;
    assert_eq!(b.recv_text().await, "42[\"echo\",\"next\"]");
    assert_eq!(ns.room_size("rec"), 1, "rooms restored");
    assert_eq!(srv.io.stats().recoveries.load(Relaxed), 1);
}

#[tokio::test]
async fn after_the_window_a_fresh_session_starts() {
    let reasons = Reasons::default();
    let cfg = sio::Config {
        recovery: Some(Duration::from_millis(200)),
        ..fast_config()
    };
    let srv = TestServer::spawn(app(cfg, reasons.clone())).await;
    let (a, sid, pid, offset) = member_with_offset(&srv).await;
    drop(a);
    eventually(|| !reasons.lock().unwrap().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(400)).await; // let the window pass
    let mut b = Ws::open(srv.addr).await;
    b.send(&format!("40{{\"pid\":\"{pid}\",\"offset\":\"{offset}\"}}"))
        .await;
    let ack: serde_json::Value = serde_json::from_str(&b.recv_text().await[2..]).unwrap();
    assert_ne!(ack["sid"].as_str().unwrap(), sid);
    assert_ne!(ack["pid"].as_str().unwrap(), pid);
    assert_eq!(srv.io.of("/").unwrap().room_size("rec"), 0);
    assert_eq!(srv.io.stats().recovery_failures.load(Relaxed), 1);
}

#[tokio::test]
async fn slow_consumer_recovers_everything_it_was_disconnected_for() {
    let reasons = Reasons::default();
    let cfg = sio::Config {
        max_buffer: 4,
        ..fast_config()
    };
    let srv = TestServer::spawn(app(cfg, reasons.clone())).await;
    // A polling member that reads one broadcast, then stops polling.
    let url = srv.open_polling().await;
    let http = reqwest::Client::new();
    http.post(&url)
        .body("40\x1e42[\"join\",\"rec\"]")
        .send()
        .await
        .unwrap();
    let ack = http.get(&url).send().await.unwrap().text().await.unwrap();
    let ack: serde_json::Value = serde_json::from_str(&ack[2..]).unwrap();
    let ns = srv.io.of("/").unwrap();
    eventually(|| ns.room_size("rec") == 1).await;
    ns.to("rec").emit("msg", &0).unwrap();
    let first = http.get(&url).send().await.unwrap().text().await.unwrap();
    let (_, offset) = msg(&first);
    for i in 1..=10 {
        ns.to("rec").emit("msg", &i).unwrap();
    }
    assert_eq!(srv.io.stats().slow_consumers.load(Relaxed), 1);
    let mut b = Ws::open(srv.addr).await;
    b.send(&format!(
        "40{{\"pid\":\"{}\",\"offset\":\"{offset}\"}}",
        ack["pid"].as_str().unwrap()
    ))
    .await;
    let re: serde_json::Value = serde_json::from_str(&b.recv_text().await[2..]).unwrap();
    assert_eq!(re["sid"], ack["sid"]);
    for i in 1..=10 {
        assert_eq!(msg(&b.recv_text().await).0, i);
    }
}
