//! Traces for APM (README "Operating"): the `tracing` spans of the API requests, the
//! publishes (with their fan-out) and the client events handled by a rule, exported over
//! OTLP (HTTP/protobuf) by the OpenTelemetry SDK through `tracing-opentelemetry`. Off
//! unless `otel_endpoint` (or `OTEL_EXPORTER_OTLP_ENDPOINT`) is set. A backend that sends
//! `traceparent` (W3C trace context) with a request gets its spans joined to its trace.

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;

/// The exporter while it runs; [`Otel::shutdown`] flushes what is batched.
#[derive(Debug)]
pub struct Otel {
    provider: SdkTracerProvider,
}

impl Otel {
    /// A tracer provider exporting to `endpoint` (the OTLP base URL, e.g.
    /// `http://collector:4318`; spans go to `{endpoint}/v1/traces`), batched in the SDK's
    /// own thread (its `OTEL_BSP_*` variables apply).
    pub fn start(endpoint: &str, service: &str) -> anyhow::Result<Self> {
        let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url)
            .build()?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                Resource::builder()
                    .with_service_name(service.to_owned())
                    .build(),
            )
            .build();
        Ok(Self { provider })
    }

    /// The `tracing` layer that turns spans into OpenTelemetry spans.
    pub fn layer<S>(&self) -> impl tracing_subscriber::Layer<S>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        tracing_opentelemetry::layer().with_tracer(self.provider.tracer("switchboard"))
    }

    /// Export what is still batched, then stop.
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "flushing the trace exporter failed");
        }
    }
}

/// The W3C trace context a request carries (`traceparent`, `tracestate`), as the parent
/// for its span; an empty context when there is none or it is malformed.
pub fn remote_parent(headers: &http::HeaderMap) -> opentelemetry::Context {
    struct Headers<'a>(&'a http::HeaderMap);
    impl Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(http::HeaderName::as_str).collect()
        }
    }
    TraceContextPropagator::new().extract(&Headers(headers))
}
