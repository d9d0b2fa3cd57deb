//! Rooms, except, volatile, the slow-consumer policy, ordering and the first emit.

use crate::harness::*;
use std::sync::atomic::Ordering::Relaxed;

/// Emit an `echo` marker and wait for it: every earlier event of this client was handled.
async fn sync(c: &mut Ws, tag: &str) {
    c.send(&format!("42[\"echo\",\"{tag}\"]")).await;
    assert_eq!(c.recv_text().await, format!("42[\"echo\",\"{tag}\"]"));
}

/// The `data` argument of a `msg` broadcast (offset stripped).
fn msg_data(text: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&text[2..]).unwrap();
    assert_eq!(v[0], "msg", "{text}");
    v[1].clone()
}

#[tokio::test]
async fn rooms_except_and_multi_room_dedupe() {
    let srv = TestServer::spawn(app(fast_config(), Default::default())).await;
    let (mut a, _) = Ws::connect(srv.addr, "").await;
    let (mut b, _) = Ws::connect(srv.addr, "").await;
    let (mut c, _) = Ws::connect(srv.addr, "").await;
    a.send("42[\"join\",\"r\"]").await;
    b.send("42[\"join\",\"r\"]").await;
    b.send("42[\"join\",\"ex\"]").await;
    for (x, t) in [(&mut a, "a"), (&mut b, "b"), (&mut c, "c")] {
        sync(x, t).await;
    }
    a.send("42[\"bcast\",{\"room\":\"r\",\"except\":\"ex\",\"data\":1}]")
        .await;
    assert_eq!(msg_data(&a.recv_text().await), 1);
    // b (excluded) and c (not a member) get the next broadcast first, not the excluded one.
    let all = srv.io.of("/").unwrap();
    all.broadcast().emit("msg", &2).unwrap();
    assert_eq!(msg_data(&b.recv_text().await), 2);
    assert_eq!(msg_data(&c.recv_text().await), 2);
    assert_eq!(msg_data(&a.recv_text().await), 2);
    // A socket in both target rooms gets one copy.
    all.to("r").to("ex").emit("msg", &3).unwrap();
    all.broadcast().emit("msg", &4).unwrap();
    assert_eq!(msg_data(&b.recv_text().await), 3);
    assert_eq!(msg_data(&b.recv_text().await), 4);
    assert_eq!(all.room_size("r"), 2);
    assert_eq!(
        all.rooms(),
        vec![("ex".to_string(), 1), ("r".to_string(), 2)]
    );
}

#[tokio::test]
async fn room_count_agrees_with_the_listing_through_joins_leaves_and_disconnects() {
    let srv = TestServer::spawn(app(fast_config(), Default::default())).await;
    let all = srv.io.of("/").unwrap();
    let (mut a, va) = Ws::connect(srv.addr, "").await;
    let (mut b, _) = Ws::connect(srv.addr, "").await;
    let a_id = va["sid"].as_str().unwrap().to_owned();
    let listed = || all.rooms();
    assert_eq!((all.room_count(), listed()), (0, vec![]), "own rooms only");

    a.send("42[\"join\",\"r\"]").await;
    b.send("42[\"join\",\"r\"]").await;
    // b joins a's own room: still a's own room (a is in it), not listed
    b.send(&format!("42[\"join\",\"{a_id}\"]")).await;
    sync(&mut a, "a").await;
    sync(&mut b, "b").await;
    assert_eq!(listed(), vec![("r".to_string(), 2)]);
    assert_eq!(all.room_count(), 1);

    // a leaves its own room: what is left is a room of b's, listed
    a.send(&format!("42[\"leave\",\"{a_id}\"]")).await;
    sync(&mut a, "a").await;
    assert_eq!(listed(), vec![(a_id.clone(), 1), ("r".to_string(), 2)]);
    assert_eq!(all.room_count(), 2);

    drop(a);
    eventually(|| all.socket_count() == 1).await;
    assert_eq!(listed(), vec![(a_id.clone(), 1), ("r".to_string(), 1)]);
    assert_eq!(all.room_count(), 2);
    drop(b);
    eventually(|| all.socket_count() == 0).await;
    assert_eq!((all.room_count(), listed()), (0, vec![]));
}

#[tokio::test]
async fn full_queue_drops_volatile_and_disconnects_on_reliable() {
    let reasons = Reasons::default();
    let cfg = sio::Config {
        max_buffer: 4,
        ..fast_config()
    };
    let srv = TestServer::spawn(app(cfg, reasons.clone())).await;
    // A polling client that stops polling: its queue fills.
    let url = srv.open_polling().await;
    let http = reqwest::Client::new();
    http.post(&url).body("40").send().await.unwrap();
    http.post(&url)
        .body("42[\"join\",\"r\"]")
        .send()
        .await
        .unwrap();
    let _ = http.get(&url).send().await.unwrap().text().await.unwrap();
    let ns = srv.io.of("/").unwrap();
    eventually(|| ns.room_size("r") == 1).await;
    for i in 0..10 {
        ns.to("r").volatile().emit("msg", &i).unwrap();
    }
    assert!(srv.io.stats().volatile_dropped.load(Relaxed) >= 6);
    assert_eq!(
        srv.io.stats().slow_consumers.load(Relaxed),
        0,
        "volatile never disconnects"
    );
    // Reliable into the full queue: disconnected and counted, never dropped silently.
    ns.to("r").emit("msg", &"reliable").unwrap();
    assert_eq!(srv.io.stats().slow_consumers.load(Relaxed), 1);
    eventually(|| {
        reasons
            .lock()
            .unwrap()
            .contains(&sio::DisconnectReason::SlowConsumer)
    })
    .await;
    assert_eq!(ns.room_size("r"), 0);
}

#[tokio::test]
async fn events_are_handled_in_order_across_sync_and_async_handlers() {
    let srv = TestServer::spawn(app(fast_config(), Default::default())).await;
    let (mut c, ack) = Ws::connect(srv.addr, "").await;
    let sid = ack["sid"].as_str().unwrap().to_owned();
    let mut batch = String::new();
    for i in 0..1000 {
        let ev = if i % 2 == 0 { "join" } else { "leave" };
        c.send(&format!("42[\"{ev}\",\"x\"]")).await;
        if i % 100 == 0 {
            c.send("42[\"slow\",1]").await; // forces the queued (async) path mid-stream
        }
        batch.clear();
    }
    sync(&mut c, "done").await;
    let ns = srv.io.of("/").unwrap();
    assert_eq!(
        ns.room_size("x"),
        0,
        "1000 alternating join/leave ends after a leave"
    );
    c.send("42[\"slow\",5]").await;
    c.send("42[\"join\",\"x\"]").await;
    sync(&mut c, "done2").await;
    assert_eq!(ns.room_members("x"), vec![sid]);
}

#[tokio::test]
async fn first_emit_after_connect_is_never_lost() {
    let srv = TestServer::spawn(app(fast_config(), Default::default())).await;
    let mut clients = Vec::new();
    for _ in 0..200 {
        let mut c = Ws::open(srv.addr).await;
        // CONNECT and the first events in one burst, before the (async) connect hook answers.
        c.send("40").await;
        c.send("42[\"join\",\"first\"]").await;
        c.send("42[\"echo\",\"m\"]").await;
        clients.push(c);
    }
    for c in &mut clients {
        assert!(c.recv_text().await.starts_with("40{"));
        assert_eq!(c.recv_text().await, "42[\"echo\",\"m\"]");
    }
    assert_eq!(srv.io.of("/").unwrap().room_size("first"), 200);
}

#[tokio::test]
async fn paced_broadcast_reaches_the_members_of_its_start_page_by_page() {
    let srv = TestServer::spawn(app(fast_config(), Default::default())).await;
    let mut members = Vec::new();
    for t in ["a", "b", "c", "d"] {
        let (mut c, _) = Ws::connect(srv.addr, "").await;
        c.send("42[\"join\",\"r\"]").await;
        sync(&mut c, t).await;
        members.push(c);
    }
    let (mut outside, _) = Ws::connect(srv.addr, "").await;
    let all = srv.io.of("/").unwrap();
    let stats = srv.io.stats();
    let (deliveries, broadcasts) = (
        stats.deliveries.load(Relaxed),
        stats.broadcasts.load(Relaxed),
    );
    let mut p = all.to("r").paced("msg", &"tick").unwrap();
    assert_eq!(p.remaining(), 4);
    assert!(p.push(1), "members remain after the first page");
    // Between pages: b leaves the room, a latecomer joins it.
    let (mut late, _) = Ws::connect(srv.addr, "").await;
    late.send("42[\"join\",\"r\"]").await;
    sync(&mut late, "late").await;
    members[1].send("42[\"leave\",\"r\"]").await;
    sync(&mut members[1], "b2").await;
    assert!(!p.push(10), "the last page");
    assert_eq!(p.delivered(), 3);
    assert_eq!(stats.deliveries.load(Relaxed) - deliveries, 3);
    assert_eq!(stats.broadcasts.load(Relaxed) - broadcasts, 1);
    // a, c, d get the tick (volatile: no offset appended) before the next broadcast;
    // b (left), the latecomer and the outsider get the next broadcast first.
    all.broadcast().emit("msg", &"after").unwrap();
    for i in [0, 2, 3] {
        assert_eq!(members[i].recv_text().await, "42[\"msg\",\"tick\"]");
        assert_eq!(msg_data(&members[i].recv_text().await), "after");
    }
    for c in [&mut members[1], &mut late, &mut outside] {
        assert_eq!(msg_data(&c.recv_text().await), "after");
    }
}
