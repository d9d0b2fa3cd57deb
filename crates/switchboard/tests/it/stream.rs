//! `POST /api/v1/publish/stream` (README "HTTP API"): newline-delimited publishes over one
//! request, each answered by a line as it arrives; bad lines answered and skipped; the
//! room gets every good line, once, in order.

use crate::harness::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A chunked HTTP/1.1 request whose body is written piece by piece.
struct StreamingRequest {
    tcp: TcpStream,
    got: Vec<u8>,
}

impl StreamingRequest {
    async fn open(srv: &TestServer, key: Option<&str>) -> Self {
        let mut tcp = TcpStream::connect(srv.addr).await.unwrap();
        let auth = key
            .map(|k| format!("authorization: Bearer {k}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "POST /api/v1/publish/stream HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-ndjson\r\n{auth}transfer-encoding: chunked\r\n\r\n"
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        Self {
            tcp,
            got: Vec::new(),
        }
    }

    async fn send(&mut self, text: &str) {
        let chunk = format!("{:x}\r\n{text}\r\n", text.len());
        self.tcp.write_all(chunk.as_bytes()).await.unwrap();
    }

    async fn end(&mut self) {
        self.tcp.write_all(b"0\r\n\r\n").await.unwrap();
    }

    /// Read until the response (headers and chunked body, raw) contains `needle`.
    async fn until(&mut self, needle: &str) -> String {
        let mut buf = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&self.got).to_string();
            if text.contains(needle) {
                return text;
            }
            let n = tokio::time::timeout(T, self.tcp.read(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {needle:?}; got {text:?}"))
                .unwrap();
            assert!(n > 0, "connection closed before {needle:?}; got {text:?}");
            self.got.extend_from_slice(&buf[..n]);
        }
    }
}

/// The JSON lines of a raw chunked response body.
fn answer_lines(raw: &str) -> Vec<Value> {
    raw.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn each_line_is_published_and_answered_as_it_arrives() {
    let srv = TestServer::spawn().await;
    let mut member = TestClient::connect(&srv).await;
    assert_eq!(
        member
            .ack("module:subscribe", json!({ "moduleKey": "s1" }))
            .await["success"],
        true
    );
    let mut req = StreamingRequest::open(&srv, None).await;
    // The first line is answered before the second is written: the answer is live.
    req.send("{\"event\":\"row\",\"data\":{\"n\":1},\"rooms\":[\"module:s1\"]}\n")
        .await;
    let raw = req.until("\"line\":1").await;
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    assert!(
        raw.to_ascii_lowercase()
            .contains("content-type: application/x-ndjson"),
        "{raw}"
    );
    assert_eq!(member.expect("row").await, json!({ "n": 1 }));

    // A line split over two writes, a blank line, bad lines, more good lines.
    req.send("{\"event\":\"row\",\"data\":{\"n\":2},").await;
    req.send("\"rooms\":[\"module:s1\"]}\n\n{\"event\":\"connect\"}\nnot json\n[1]\n")
        .await;
    req.send("{\"event\":\"row\",\"data\":{\"n\":3},\"rooms\":[\"module:s1\"],\"extra\":1}\n")
        .await;
    req.send("{\"event\":\"row\",\"data\":{\"n\":4},\"rooms\":[\"module:s1\"]}")
        .await;
    req.end().await;
    let raw = req.until("\"done\"").await;
    let lines = answer_lines(&raw);
    assert_eq!(
        lines,
        vec![
            json!({ "line": 1, "success": true, "recipients": 1 }),
            json!({ "line": 2, "success": true, "recipients": 1 }),
            json!({ "line": 3, "success": false, "error": { "code": "validation_failed", "message": "event `connect` is reserved by Socket.IO" } }),
            json!({ "line": 4, "success": false, "error": { "code": "invalid_json", "message": "request body is not valid JSON: expected ident at line 1 column 2" } }),
            json!({ "line": 5, "success": false, "error": { "code": "validation_failed", "message": "each line must be one JSON object" } }),
            json!({ "line": 6, "success": false, "error": { "code": "validation_failed", "message": "unknown field `extra`, expected one of `event`, `data`, `rooms`, `except`, `volatile` at line 1 column 59" } }),
            json!({ "line": 7, "success": true, "recipients": 1 }),
            json!({ "done": true, "published": 3, "failed": 4 }),
        ]
    );
    // The room got the good lines once each, in order, and nothing else: the next event
    // after them is a marker published afterwards.
    let (_, marker) = srv
        .post(
            "/api/v1/publish",
            &json!({ "event": "row", "data": { "n": "end" }, "rooms": ["module:s1"] }),
        )
        .await;
    assert_eq!(marker["success"], true);
    let mut got = Vec::new();
    loop {
        let v = member.expect("row").await;
        if v["n"] == "end" {
            break;
        }
        got.push(v["n"].clone());
    }
    assert_eq!(got, [json!(2), json!(4)]);
    srv.shutdown().await;
}

#[tokio::test]
async fn an_oversize_line_is_answered_and_skipped_and_keys_apply() {
    let mut config = test_config();
    config.http_body_limit = 2048;
    config.api_keys = toml::from_str::<toml::Table>(
        "k = [{ name = \"pub\", key = \"stream-key\", scopes = [\"publish\"] }, { name = \"n\", key = \"notify-key\", scopes = [\"notifications\"] }]",
    )
    .unwrap()["k"]
        .clone()
        .try_into()
        .unwrap();
    let srv = TestServer::with(config).await;

    for key in [None, Some("notify-key")] {
        let mut req = StreamingRequest::open(&srv, key).await;
        req.end().await;
        let raw = req.until("\r\n\r\n").await;
        let status = if key.is_none() { "401" } else { "403" };
        assert!(
            raw.starts_with(&format!("HTTP/1.1 {status}")),
            "{key:?}: {raw}"
        );
    }

    let mut req = StreamingRequest::open(&srv, Some("stream-key")).await;
    let big = format!("{{\"event\":\"x\",\"data\":\"{}\"}}", "a".repeat(3000));
    // Written in pieces: the server answers once it is over the limit and drops the
    // rest of the line without keeping it.
    req.send(&big[..1500]).await;
    req.send(&big[1500..]).await;
    req.send("\n{\"event\":\"after\"}\n").await;
    req.end().await;
    let raw = req.until("\"done\"").await;
    assert_eq!(
        answer_lines(&raw),
        vec![
            json!({ "line": 1, "success": false, "error": { "code": "payload_too_large", "message": "request body too large" } }),
            json!({ "line": 2, "success": true, "recipients": 0 }),
            json!({ "done": true, "published": 1, "failed": 1 }),
        ]
    );
    srv.shutdown().await;
}
