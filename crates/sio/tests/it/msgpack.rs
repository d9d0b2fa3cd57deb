//! The `socket.io-msgpack-parser` wire format (`Config::parser = Msgpack`): a raw client
//! speaking msgpack frames over WebSocket and long-polling, against the test app.

use crate::harness::*;
use base64::Engine as _;
use rmpv::Value;
use std::sync::atomic::Ordering;
use tokio_tungstenite::tungstenite::Message;

fn msgpack_config() -> sio::Config {
    sio::Config {
        parser: sio::Parser::Msgpack,
        ..fast_config()
    }
}

fn enc(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, v).unwrap();
    out
}

fn dec(b: &[u8]) -> Value {
    let mut rd = b;
    let v = rmpv::decode::read_value(&mut rd).unwrap();
    assert!(rd.is_empty(), "trailing bytes");
    v
}

fn s(x: &str) -> Value {
    Value::from(x)
}

fn map(pairs: Vec<(&str, Value)>) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (s(k), v)).collect())
}

fn get<'a>(v: &'a Value, k: &str) -> Option<&'a Value> {
    v.as_map()?
        .iter()
        .find(|(key, _)| key.as_str() == Some(k))
        .map(|(_, v)| v)
}

/// A packet as socket.io-client builds it.
fn packet(kind: u64, data: Option<Value>, id: Option<u64>) -> Vec<u8> {
    let mut m = vec![("type", Value::from(kind))];
    if let Some(d) = data {
        m.push(("data", d));
    }
    m.push(("options", map(vec![("compress", Value::from(true))])));
    if let Some(id) = id {
        m.push(("id", Value::from(id)));
    }
    m.push(("nsp", s("/")));
    enc(&map(m))
}

fn event(args: Vec<Value>, id: Option<u64>) -> Vec<u8> {
    packet(2, Some(Value::Array(args)), id)
}

/// The next message, which must be a binary (msgpack) one, decoded.
async fn recv(c: &mut Ws) -> (Vec<u8>, Value) {
    match c.next().await {
        Some(Message::Binary(b)) => {
            let v = dec(&b);
            (b.to_vec(), v)
        }
        other => panic!("expected a binary message, got {other:?}"),
    }
}

/// Open a WebSocket session and CONNECT with `auth`; returns the CONNECT ack's data.
async fn connect(addr: std::net::SocketAddr, auth: Option<Value>) -> (Ws, Value) {
    let mut c = Ws::open(addr).await;
    c.send_bin(&packet(0, auth, None)).await;
    let (_, ack) = recv(&mut c).await;
    assert_eq!(get(&ack, "type").and_then(Value::as_u64), Some(0), "{ack}");
    assert_eq!(get(&ack, "nsp").and_then(Value::as_str), Some("/"));
    (c, get(&ack, "data").cloned().unwrap())
}

fn data(v: &Value) -> &[Value] {
    get(v, "data").and_then(Value::as_array).unwrap()
}

#[tokio::test]
async fn connect_events_acks_and_binary_over_websocket() {
    let srv = TestServer::spawn(app(msgpack_config(), Default::default())).await;
    let (mut c, ack) = connect(srv.addr, Some(map(vec![]))).await;
    assert!(get(&ack, "sid").unwrap().is_str() && get(&ack, "pid").unwrap().is_str());

    // an event with binary data both ways: bin stays bin, no attachments
    let blob = Value::Binary(vec![0, 1, 2, 255]);
    c.send_bin(&event(
        vec![
            s("echo"),
            blob.clone(),
            map(vec![("n", Value::from(-3)), ("f", Value::from(1.5))]),
        ],
        None,
    ))
    .await;
    let (_, v) = recv(&mut c).await;
    assert_eq!(get(&v, "type").and_then(Value::as_u64), Some(2));
    assert_eq!(
        data(&v),
        &[
            s("echo"),
            blob.clone(),
            map(vec![("n", Value::from(-3)), ("f", Value::from(1.5))])
        ]
    );

    // client → server ack request, answered as { id, type: 3, data, nsp }
    c.send_bin(&event(vec![s("ack"), s("x"), blob.clone()], Some(41)))
        .await;
    let (_, v) = recv(&mut c).await;
    assert_eq!(get(&v, "type").and_then(Value::as_u64), Some(3));
    assert_eq!(get(&v, "id").and_then(Value::as_u64), Some(41));
    assert_eq!(data(&v), &[s("x"), blob]);

    // server → client ack request, the client's answer reaches the server
    c.send_bin(&event(vec![s("ask")], None)).await;
    let (_, q) = recv(&mut c).await;
    assert_eq!(data(&q), &[s("question"), Value::from(1)]);
    let id = get(&q, "id").and_then(Value::as_u64).expect("an ack id");
    c.send_bin(&packet(
        3,
        Some(Value::Array(vec![Value::from(42)])),
        Some(id),
    ))
    .await;
    let (_, a) = recv(&mut c).await;
    assert_eq!(data(&a), &[s("answer"), Value::from(42)]);
}

#[tokio::test]
async fn broadcast_is_encoded_once_with_its_offset_and_except() {
    let srv = TestServer::spawn(app(msgpack_config(), Default::default())).await;
    let (mut a, _) = connect(srv.addr, None).await;
    let (mut b, _) = connect(srv.addr, None).await;
    let (mut x, _) = connect(srv.addr, None).await;
    for c in [&mut a, &mut b, &mut x] {
        c.send_bin(&event(vec![s("join"), s("r")], None)).await;
    }
    x.send_bin(&event(vec![s("join"), s("no")], None)).await;
    let size = || srv.io.of("/").unwrap().room_size("r");
    eventually(|| size() == 3).await;
    eventually(|| srv.io.of("/").unwrap().room_size("no") == 1).await;
    a.send_bin(&event(
        vec![
            s("bcast"),
            map(vec![
                ("room", s("r")),
                ("except", s("no")),
                ("data", map(vec![("k", s("v"))])),
            ]),
        ],
        None,
    ))
    .await;
    let (ba, va) = recv(&mut a).await;
    let (bb, _) = recv(&mut b).await;
    // every member gets the same bytes
    assert_eq!(ba, bb);
    let d = data(&va);
    assert_eq!(&d[..2], &[s("msg"), map(vec![("k", s("v"))])]);
    assert!(d[2].is_str(), "recovery offset as the last element: {va}");
    // `x` (in the excepted room) got nothing: the next thing it sees is its own echo
    x.send_bin(&event(vec![s("echo"), s("after")], None)).await;
    let (_, vx) = recv(&mut x).await;
    assert_eq!(data(&vx), &[s("echo"), s("after")]);
}

#[tokio::test]
async fn recovery_replays_missed_broadcasts_once() {
    let srv = TestServer::spawn(app(msgpack_config(), Default::default())).await;
    let (mut a, ack) = connect(srv.addr, None).await;
    let sid = get(&ack, "sid").unwrap().as_str().unwrap().to_owned();
    let pid = get(&ack, "pid").unwrap().as_str().unwrap().to_owned();
    let (mut sender, _) = connect(srv.addr, None).await;
    a.send_bin(&event(vec![s("join"), s("r")], None)).await;
    eventually(|| srv.io.of("/").unwrap().room_size("r") == 1).await;
    let bcast = |n: i64| {
        event(
            vec![
                s("bcast"),
                map(vec![("room", s("r")), ("data", Value::from(n))]),
            ],
            None,
        )
    };
    sender.send_bin(&bcast(1)).await;
    let (_, v) = recv(&mut a).await;
    let offset = data(&v)[2].as_str().unwrap().to_owned();
    // the connection drops; two broadcasts are missed
    drop(a);
    eventually(|| srv.io.of("/").unwrap().room_size("r") == 0).await;
    sender.send_bin(&bcast(2)).await;
    sender.send_bin(&bcast(3)).await;
    sender
        .send_bin(&event(vec![s("echo"), s("sync")], None))
        .await;
    let (_, v) = recv(&mut sender).await;
    assert_eq!(data(&v), &[s("echo"), s("sync")]);

    let auth = map(vec![("pid", s(&pid)), ("offset", s(&offset))]);
    let (mut b, ack) = connect(srv.addr, Some(auth)).await;
    assert_eq!(get(&ack, "sid").unwrap().as_str(), Some(sid.as_str()));
    let mut got = Vec::new();
    for _ in 0..2 {
        let (_, v) = recv(&mut b).await;
        got.push(data(&v)[1].clone());
    }
    assert_eq!(got, [Value::from(2), Value::from(3)]);
    // nothing else: the next message is the echo of what it sends now
    b.send_bin(&event(vec![s("echo"), s("end")], None)).await;
    let (_, v) = recv(&mut b).await;
    assert_eq!(data(&v), &[s("echo"), s("end")]);
    assert_eq!(srv.io.stats().recoveries.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn connect_error_and_invalid_namespace_are_msgpack() {
    let srv = TestServer::spawn(app(msgpack_config(), Default::default())).await;
    let mut c = Ws::open(srv.addr).await;
    c.send_bin(&packet(
        0,
        Some(map(vec![("deny", Value::from(true))])),
        None,
    ))
    .await;
    let (_, v) = recv(&mut c).await;
    assert_eq!(get(&v, "type").and_then(Value::as_u64), Some(4));
    assert_eq!(
        get(get(&v, "data").unwrap(), "message").and_then(Value::as_str),
        Some("denied")
    );
    let nope = enc(&map(vec![("type", Value::from(0)), ("nsp", s("/nope"))]));
    c.send_bin(&nope).await;
    let (_, v) = recv(&mut c).await;
    assert_eq!(get(&v, "type").and_then(Value::as_u64), Some(4));
    assert_eq!(get(&v, "nsp").and_then(Value::as_str), Some("/nope"));
}

#[tokio::test]
async fn the_other_parser_is_refused_cleanly_and_counted() {
    // a JSON client against a msgpack server: a JSON CONNECT_ERROR it can read
    let srv = TestServer::spawn(app(msgpack_config(), Default::default())).await;
    let mut c = Ws::open(srv.addr).await;
    c.send("40").await;
    let t = c.recv_text().await;
    assert!(t.starts_with("44{") && t.contains("msgpack"), "{t}");
    assert_eq!(srv.io.stats().parser_mismatch.load(Ordering::Relaxed), 1);
    assert_eq!(srv.io.stats().sockets.load(Ordering::Relaxed), 0);
    // any other text packet closes the connection
    c.send("42[\"echo\",1]").await;
    c.closed().await;
    assert_eq!(srv.io.stats().parser_mismatch.load(Ordering::Relaxed), 2);

    // a msgpack client against a JSON server: a msgpack CONNECT_ERROR
    let srv = TestServer::spawn(app(fast_config(), Default::default())).await;
    let mut c = Ws::open(srv.addr).await;
    c.send_bin(&packet(0, None, None)).await;
    let (_, v) = recv(&mut c).await;
    assert_eq!(get(&v, "type").and_then(Value::as_u64), Some(4));
    let msg = get(get(&v, "data").unwrap(), "message").and_then(Value::as_str);
    assert!(msg.unwrap().contains("JSON"), "{v}");
    assert_eq!(srv.io.stats().parser_mismatch.load(Ordering::Relaxed), 1);
    // the JSON client of that server still works
    let (mut j, _) = Ws::connect(srv.addr, "").await;
    j.send("42[\"echo\",1]").await;
    assert_eq!(j.recv_text().await, "42[\"echo\",1]");
}

#[tokio::test]
async fn malformed_msgpack_closes_the_connection() {
    let srv = TestServer::spawn(app(msgpack_config(), Default::default())).await;
    for bad in [
        vec![0xc1],
        vec![0x81, 0xa4, b't', b'y', b'p', b'e'],
        enc(&map(vec![
            ("type", Value::from(2)),
            ("nsp", s("/")),
            ("data", Value::from(1)),
        ])),
        enc(&map(vec![("type", Value::from(9)), ("nsp", s("/"))])),
    ] {
        let (mut c, _) = connect(srv.addr, None).await;
        c.send_bin(&bad).await;
        c.closed().await;
    }
    // the server is fine
    let (mut c, _) = connect(srv.addr, None).await;
    c.send_bin(&event(vec![s("echo"), Value::Nil], None)).await;
    let (_, v) = recv(&mut c).await;
    assert_eq!(data(&v), &[s("echo"), Value::Nil]);
}

#[tokio::test]
async fn msgpack_over_long_polling_is_base64_binary() {
    let srv = TestServer::spawn(app(msgpack_config(), Default::default())).await;
    let url = srv.open_polling().await;
    let b64 = base64::engine::general_purpose::STANDARD;
    let post = |body: String| {
        let url = url.clone();
        async move {
            let r = tokio::time::timeout(T, reqwest::Client::new().post(&url).body(body).send())
                .await
                .expect("POST timeout")
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
        }
    };
    // one payload, two packets separated by the record separator
    let body = format!(
        "b{}\u{1e}b{}",
        b64.encode(packet(0, None, None)),
        b64.encode(event(vec![s("echo"), Value::Binary(vec![9, 8])], None))
    );
    post(body).await;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let r = tokio::time::timeout(T, reqwest::get(&url))
            .await
            .expect("GET timeout")
            .unwrap();
        let text = r.text().await.unwrap();
        for p in text.split('\u{1e}') {
            if let Some(b) = p.strip_prefix('b') {
                seen.push(dec(&b64.decode(b).unwrap()));
            }
        }
    }
    assert_eq!(get(&seen[0], "type").and_then(Value::as_u64), Some(0));
    assert_eq!(data(&seen[1]), &[s("echo"), Value::Binary(vec![9, 8])]);
}
