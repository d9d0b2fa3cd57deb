//! Traces over OTLP (README "Operating"): the server binary, started with an OTLP
//! endpoint, exports the spans of a publish — joined to the backend's `traceparent` —
//! and of a client event handled by a rule, to a receiver in the test that decodes the
//! protobuf with `opentelemetry-proto`.

use crate::harness::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An OTLP/HTTP receiver: every span posted to `/v1/traces`.
async fn receiver() -> (std::net::SocketAddr, Arc<Mutex<Vec<Span>>>) {
    let spans: Arc<Mutex<Vec<Span>>> = Arc::default();
    let sink = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                let req = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                for rs in req.resource_spans {
                    for ss in rs.scope_spans {
                        sink.lock().unwrap().extend(ss.spans);
                    }
                }
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, spans)
}

fn attr(span: &Span, key: &str) -> Option<AnyValue> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.clone()?.value)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_publish_exports_its_spans_in_the_backends_trace() {
    let (otlp, spans) = receiver().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let _server = Child(
        std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", "sqlite::memory:"])
            .env_clear()
            .env("SWITCHBOARD_OTEL_ENDPOINT", format!("http://{otlp}"))
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the server binary starts"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if http.get(format!("{base}/health")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the server answers /health");

    let client = TestClient::connect_to(&format!("{base}/")).await;
    assert_eq!(
        client
            .ack("module:subscribe", json!({ "moduleKey": "crm" }))
            .await["success"],
        true
    );
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let parent = "b7ad6b7169203331";
    let r = http
        .post(format!("{base}/api/v1/publish"))
        .header("traceparent", format!("00-{trace}-{parent}-01"))
        .json(&json!({ "event": "kpi:update:crm", "data": [], "rooms": ["module:crm"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The exporter batches (100 ms here): wait, bounded, for the three spans.
    let find = |name: &str| {
        spans
            .lock()
            .unwrap()
            .iter()
            .find(|s| s.name == name)
            .cloned()
    };
    let mut got = (None, None, None);
    for _ in 0..100 {
        got = (
            find("POST /api/v1/publish"),
            find("publish"),
            find("client_event"),
        );
        if got.0.is_some() && got.1.is_some() && got.2.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let names: Vec<String> = spans
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.name.clone())
        .collect();
    let (request, publish, event) = match got {
        (Some(a), Some(b), Some(c)) => (a, b, c),
        _ => panic!("spans received: {names:?}"),
    };
    // The request span continues the backend's trace; the publish span is its child and
    // carries the fan-out.
    assert_eq!(hex(&request.trace_id), trace);
    assert_eq!(hex(&request.parent_span_id), parent);
    assert_eq!(
        attr(&request, "http.response.status_code"),
        Some(AnyValue::IntValue(200))
    );
    assert_eq!(hex(&publish.trace_id), trace);
    assert_eq!(publish.parent_span_id, request.span_id);
    assert_eq!(attr(&publish, "recipients"), Some(AnyValue::IntValue(1)));
    assert_eq!(
        attr(&publish, "event"),
        Some(AnyValue::StringValue("kpi:update:crm".into()))
    );
    // The client's join has its own span, with the room it resolved to.
    assert_eq!(
        attr(&event, "event"),
        Some(AnyValue::StringValue("module:subscribe".into()))
    );
    assert_eq!(
        attr(&event, "room"),
        Some(AnyValue::StringValue("module:crm".into()))
    );
}
