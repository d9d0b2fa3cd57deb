//! A span per API request (`tracing`, exported when traces are on), joined to the
//! caller's trace when it sent `traceparent`. Run by the API's one middleware (the key
//! check in [`super::auth`]), so a request pays for one layer, not two.

use axum::extract::Request;
use axum::response::Response;
use std::future::Future;

/// Run `handle` on `req` inside the request's span. When nobody wants the span (traces
/// off, logs at info) nothing is named or instrumented.
pub(crate) async fn in_span<F, Fut>(req: Request, handle: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    use tracing::field::Empty;
    use tracing::Instrument as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let span = tracing::debug_span!(
        "http.request",
        otel.name = Empty,
        otel.kind = "server",
        http.request.method = %req.method(),
        http.route = Empty,
        http.response.status_code = Empty,
    );
    if span.is_disabled() {
        return handle(req).await;
    }
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
    span.record("otel.name", format!("{} {route}", req.method()));
    span.record("http.route", route.as_str());
    let _ = span.set_parent(crate::otel::remote_parent(req.headers()));
    let res = handle(req).instrument(span.clone()).await;
    span.record(
        "http.response.status_code",
        i64::from(res.status().as_u16()),
    );
    res
}
