//! `POST /api/v1/publish` (single or batch), `POST /api/v1/publish/stream` (newline-delimited
//! JSON over one request, answered line by line) and the compatibility `POST
//! /api/test/socket-event`.
//!
//! The body goes straight into [`PublishRequest`] with `data` kept as raw JSON text: no
//! `Value` tree is built and nothing is serialised again for the emit (the depth limit is
//! checked on the text, `support::json::text_depth`).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;

use super::error::{parse_json, ApiError, ErrorBody, Shape};
use super::ApiState;
use crate::support::clock::timestamp;
use crate::telemetry::inc;

/// Most events in one batch.
const MAX_BATCH: usize = 1000;
/// Longest event or room name.
const MAX_NAME: usize = 256;

/// One event to publish.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// Event name, e.g. `ticketCreated`.
    pub event: String,
    /// Payload (any JSON); `null` when absent. Kept as the text the publisher sent.
    #[serde(default)]
    #[schema(value_type = Object, nullable)]
    pub data: Option<Box<RawValue>>,
    /// Target rooms; absent or empty: every client.
    #[serde(default)]
    pub rooms: Vec<String>,
    /// Clients in these rooms are skipped.
    #[serde(default)]
    pub except: Vec<String>,
    /// May be dropped for slow clients and is not replayed on recovery.
    #[serde(default)]
    pub volatile: bool,
}

/// A single request or a batch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum PublishBody {
    /// A batch, published in order.
    Many(Vec<PublishRequest>),
    /// One event.
    One(PublishRequest),
}

impl PublishBody {
    /// Parse a body: one object, or an array of objects (a batch), chosen by the first
    /// byte. Broken JSON is 400 `invalid_json`; the wrong shape, a field of the wrong type
    /// or nesting deeper than `max_depth` is 422 (naming the field where serde does).
    /// (`#[serde(untagged)]` tried the batch first on every single publish and answered
    /// "did not match any variant" without naming the field.)
    pub fn parse(body: &[u8], max_depth: usize) -> Result<Self, ApiError> {
        let shape =
            || ApiError::Validation("the body must be a JSON object or an array of objects".into());
        // First, so that nothing walks a body nested deeper than allowed.
        check_depth(body, max_depth)?;
        let parsed = match body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => PublishBody::One(serde_json::from_slice(body).map_err(rejected)?),
            Some(b'[') => {
                let items: Vec<&RawValue> = serde_json::from_slice(body).map_err(rejected)?;
                if !items.iter().all(|i| i.get().starts_with('{')) {
                    return Err(shape());
                }
                let many = items
                    .into_iter()
                    .map(|i| serde_json::from_str(i.get()))
                    .collect::<Result<_, _>>()
                    .map_err(rejected)?;
                PublishBody::Many(many)
            }
            _ => {
                serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(rejected)?;
                return Err(shape());
            }
        };
        Ok(parsed)
    }
}

/// serde's verdict as the API's: syntax → 400, types and fields → 422.
fn rejected(e: serde_json::Error) -> ApiError {
    match e.classify() {
        serde_json::error::Category::Data => ApiError::Validation(e.to_string()),
        _ => ApiError::InvalidJson(e.to_string()),
    }
}

fn check_depth(text: &[u8], max_depth: usize) -> Result<(), ApiError> {
    if crate::support::json::text_depth(text) > max_depth {
        return Err(ApiError::Validation(format!(
            "JSON nested deeper than {max_depth} levels"
        )));
    }
    Ok(())
}

/// What happened to one published event.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    /// The rooms it was sent to (`[]`: every client).
    pub delivered_to_rooms: Vec<String>,
    /// Sockets on this node it was queued for.
    pub recipients: usize,
    /// When it was published (RFC 3339).
    pub timestamp: String,
}

/// Success envelope for a single publish.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishResponse {
    /// Always `true`.
    pub success: bool,
    /// The delivery, or one per batch item (in order).
    #[schema(value_type = Object)]
    pub data: Deliveries,
}

/// What `data` holds: serialized as it is, without a detour through a JSON `Value`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Deliveries {
    /// A single event's delivery.
    One(Delivery),
    /// A batch's, one per item in order.
    Many(Vec<Delivery>),
}

fn check_name(what: &str, s: &str) -> Result<(), ApiError> {
    if s.is_empty() || s.len() > MAX_NAME || s.chars().any(char::is_control) {
        return Err(ApiError::Validation(format!(
            "{what} must be 1 to {MAX_NAME} printable characters"
        )));
    }
    Ok(())
}

impl PublishRequest {
    fn validate(&self) -> Result<(), ApiError> {
        check_name("event", &self.event)?;
        if crate::rules::RESERVED_EVENTS.contains(&self.event.as_str()) {
            return Err(ApiError::Validation(format!(
                "event `{}` is reserved by Socket.IO",
                self.event
            )));
        }
        for r in self.rooms.iter().chain(&self.except) {
            check_name("room", r)?;
        }
        Ok(())
    }
}

/// Emit through the engine (the same path for the API and the compatibility route).
pub fn publish(sh: &ApiState, req: &PublishRequest) -> Delivery {
    Delivery {
        delivered_to_rooms: req.rooms.clone(),
        recipients: emit(sh, req),
        timestamp: timestamp(),
    }
}

/// Emit one checked request; the sockets on this node it was queued for.
fn emit(sh: &ApiState, req: &PublishRequest) -> usize {
    let span = tracing::debug_span!(
        "publish",
        event = %req.event,
        rooms = req.rooms.len() as i64,
        recipients = tracing::field::Empty,
    );
    let _entered = span.enter();
    let mut op = sh.hub.root().broadcast();
    for r in &req.rooms {
        op = op.to(r);
    }
    for r in &req.except {
        op = op.except(r);
    }
    if req.volatile {
        op = op.volatile();
    }
    let data = req.data.as_deref().map_or("null", RawValue::get);
    let recipients = op.emit_raw(&req.event, data.to_owned(), Vec::new());
    span.record("recipients", recipients as i64);
    let t = &sh.telemetry;
    inc(&t.counters.published);
    t.published.get_or_create(&t.event_label(&req.event)).inc();
    recipients
}

/// Publish one event or a batch to rooms.
#[utoipa::path(post, path = "/api/v1/publish", request_body = PublishBody,
    responses((status = 200, body = PublishResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn publish_route(
    State(sh): State<Arc<ApiState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<PublishResponse>, ApiError> {
    // Timed as a whole, parse to answer (the histogram of `/metrics`).
    let started = std::time::Instant::now();
    let res = publish_inner(&sh, body);
    sh.telemetry
        .publish_seconds
        .observe(started.elapsed().as_secs_f64());
    res
}

fn publish_inner(
    sh: &Arc<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<PublishResponse>, ApiError> {
    let data = match PublishBody::parse(&body?, sh.max_json_depth)? {
        PublishBody::One(req) => {
            req.validate()?;
            Deliveries::One(publish(sh, &req))
        }
        PublishBody::Many(reqs) => {
            if reqs.is_empty() || reqs.len() > MAX_BATCH {
                return Err(ApiError::Validation(format!(
                    "a batch holds 1 to {MAX_BATCH} events"
                )));
            }
            // All or nothing: validate every item before publishing any.
            for (i, r) in reqs.iter().enumerate() {
                r.validate()
                    .map_err(|e| ApiError::Validation(format!("item {i}: {e}")))?;
            }
            Deliveries::Many(reqs.iter().map(|r| publish(sh, r)).collect())
        }
    };
    Ok(Json(PublishResponse {
        success: true,
        data,
    }))
}

/// Body of the compatibility route.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SocketEventRequest {
    /// Event name.
    pub event: String,
    /// Payload.
    #[serde(default)]
    pub data: Value,
    /// Target room; absent: every client.
    #[serde(default)]
    pub room: Option<String>,
}

/// `POST /api/test/socket-event` (the booking tooling's route, README "HTTP API"): emit to a room or everyone.
#[utoipa::path(post, path = "/api/test/socket-event", request_body = SocketEventRequest,
    responses((status = 200, body = PublishResponse), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn socket_event_route(
    State(sh): State<Arc<ApiState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body: SocketEventRequest = parse_json(&body?, Shape::Object, sh.max_json_depth)?;
    let req = PublishRequest {
        event: body.event,
        data: Some(RawValue::from_string(body.data.to_string()).map_err(anyhow::Error::from)?),
        rooms: body.room.iter().cloned().collect(),
        except: Vec::new(),
        volatile: false,
    };
    req.validate()?;
    let d = publish(&sh, &req);
    Ok(Json(serde_json::json!({
        "success": true,
        "data": { "message": "Event emitted", "event": req.event, "room": body.room, "timestamp": d.timestamp }
    })))
}

/// Most bytes one line of a publish stream may hold (`http_body_limit` is per line there).
fn line_limit(sh: &ApiState) -> usize {
    sh.http_body_limit
}

/// `POST /api/v1/publish/stream`: newline-delimited JSON, one publish object per line,
/// over one long request — for backends that publish continuously. Each line is
/// published as it arrives and answered by one line of the response, in order:
/// `{"line":N,"success":true,"recipients":K}` or `{"line":N,"success":false,"error":
/// {"code","message"}}` (the same codes as `POST /api/v1/publish`); a bad line does not
/// stop the stream. The last line is `{"done":true,"published":P,"failed":F}`. Blank lines
/// are skipped; a line longer than `http_body_limit` is answered `payload_too_large` and
/// skipped to its end. Read the answer as you write (it is produced as the lines arrive).
#[utoipa::path(post, path = "/api/v1/publish/stream",
    request_body(content = String, content_type = "text/plain", description = "newline-delimited JSON: one publish object (as for POST /api/v1/publish) per line; any content type is read the same (application/x-ndjson is the usual one)"),
    responses((status = 200, content_type = "application/x-ndjson", description = "one result line per input line, then {\"done\":true,\"published\":P,\"failed\":F}"),
        (status = 401, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn publish_stream_route(
    State(sh): State<Arc<ApiState>>,
    body: axum::body::Body,
) -> axum::response::Response {
    use futures_util::StreamExt as _;
    let mut lines = Lines::new(line_limit(&sh));
    let mut input = body.into_data_stream();
    let mut finished = false;
    let out = futures_util::stream::poll_fn(move |cx| {
        if finished {
            return std::task::Poll::Ready(None);
        }
        match input.poll_next_unpin(cx) {
            std::task::Poll::Pending => std::task::Poll::Pending,
            std::task::Poll::Ready(Some(Ok(chunk))) => {
                let answer = lines.feed(&chunk, |line, n| answer_line(&sh, line, n));
                std::task::Poll::Ready(Some(Ok::<_, std::convert::Infallible>(answer)))
            }
            std::task::Poll::Ready(Some(Err(e))) => {
                // The publisher went away mid-line: what arrived whole was published.
                tracing::debug!(error = %e, "publish stream: request body ended with an error");
                finished = true;
                std::task::Poll::Ready(Some(Ok(lines.finish(|line, n| answer_line(&sh, line, n)))))
            }
            std::task::Poll::Ready(None) => {
                finished = true;
                std::task::Poll::Ready(Some(Ok(lines.finish(|line, n| answer_line(&sh, line, n)))))
            }
        }
    });
    axum::response::Response::builder()
        .header(axum::http::header::CONTENT_TYPE, "application/x-ndjson")
        .body(axum::body::Body::from_stream(out))
        .unwrap_or_default()
}

/// Publish one line; its answer line (with the newline), and whether it was published.
fn answer_line(sh: &ApiState, line: Result<&[u8], ApiError>, n: u64) -> (Vec<u8>, bool) {
    let res = line.and_then(|text| {
        let first = text.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            serde_json::from_slice::<serde::de::IgnoredAny>(text).map_err(rejected)?;
            return Err(ApiError::Validation(
                "each line must be one JSON object".into(),
            ));
        }
        let req: PublishRequest = serde_json::from_slice(text).map_err(rejected)?;
        check_depth(text, sh.max_json_depth)?;
        req.validate()?;
        Ok(emit(sh, &req))
    });
    let mut out = Vec::with_capacity(48);
    let ok = match res {
        Ok(recipients) => {
            use std::io::Write as _;
            let _ = writeln!(
                out,
                r#"{{"line":{n},"success":true,"recipients":{recipients}}}"#
            );
            true
        }
        Err(e) => {
            inc(&sh.telemetry.counters.api_errors);
            let (_, code) = e.status_code();
            let body = serde_json::json!({ "line": n, "success": false,
                "error": { "code": code, "message": e.to_string() } });
            out.extend_from_slice(body.to_string().as_bytes());
            out.push(b'\n');
            false
        }
    };
    (out, ok)
}

/// Splits a byte stream into lines of at most `limit` bytes, keeping a partial line
/// between chunks, and counts what it published.
struct Lines {
    limit: usize,
    partial: Vec<u8>,
    /// Skipping the rest of a line that went over `limit`.
    skipping: bool,
    line: u64,
    published: u64,
    failed: u64,
}

type Answer<'a> = dyn FnMut(Result<&[u8], ApiError>, u64) -> (Vec<u8>, bool) + 'a;

impl Lines {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            partial: Vec::new(),
            skipping: false,
            line: 0,
            published: 0,
            failed: 0,
        }
    }

    fn one(&mut self, text: Result<&[u8], ApiError>, answer: &mut Answer<'_>, out: &mut Vec<u8>) {
        if let Ok(t) = text {
            if t.iter().all(u8::is_ascii_whitespace) {
                return;
            }
        }
        self.line += 1;
        let (bytes, ok) = answer(text, self.line);
        if ok {
            self.published += 1;
        } else {
            self.failed += 1;
        }
        out.extend_from_slice(&bytes);
    }

    /// The answer lines for the whole lines completed by `chunk`.
    fn feed(
        &mut self,
        chunk: &[u8],
        mut answer: impl FnMut(Result<&[u8], ApiError>, u64) -> (Vec<u8>, bool),
    ) -> Bytes {
        let mut out = Vec::new();
        let mut rest = chunk;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            let (head, tail) = (&rest[..nl], &rest[nl + 1..]);
            rest = tail;
            if self.skipping {
                self.skipping = false;
                self.partial.clear();
                continue;
            }
            if self.partial.is_empty() {
                if head.len() > self.limit {
                    self.one(Err(ApiError::PayloadTooLarge), &mut answer, &mut out);
                } else {
                    self.one(Ok(head), &mut answer, &mut out);
                }
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(head);
                if line.len() > self.limit {
                    self.one(Err(ApiError::PayloadTooLarge), &mut answer, &mut out);
                } else {
                    self.one(Ok(&line), &mut answer, &mut out);
                }
            }
        }
        if !self.skipping {
            if self.partial.len() + rest.len() > self.limit {
                // Answer now and drop the line's bytes until its newline: bounded memory.
                self.one(Err(ApiError::PayloadTooLarge), &mut answer, &mut out);
                self.partial.clear();
                self.skipping = true;
            } else {
                self.partial.extend_from_slice(rest);
            }
        }
        Bytes::from(out)
    }

    /// The last line (without a newline) and the summary.
    fn finish(
        &mut self,
        mut answer: impl FnMut(Result<&[u8], ApiError>, u64) -> (Vec<u8>, bool),
    ) -> Bytes {
        let mut out = Vec::new();
        if !self.skipping && !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.one(Ok(&line), &mut answer, &mut out);
        }
        let summary =
            serde_json::json!({ "done": true, "published": self.published, "failed": self.failed });
        out.extend_from_slice(summary.to_string().as_bytes());
        out.push(b'\n');
        Bytes::from(out)
    }
}
