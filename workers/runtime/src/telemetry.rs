//! Logs, traces and metrics: one subscriber for every binary.
//!
//! - Logs: text or JSON by configuration (`telemetry.format`); `RUST_LOG` wins over the
//!   configured filter, which filters log lines only.
//! - Traces: every handled message is a `handle` span (see [`crate::worker`]); with
//!   `telemetry.otlp_endpoint` set, spans are exported over OTLP/gRPC with the worker's name as
//!   `service.name`. The W3C trace context travels in Kafka headers (`traceparent`,
//!   `tracestate`): [`parent_from`] reads it from a consumed record, [`headers_for`] writes the
//!   current span's into produced ones, so one handoff is one trace from the triggering event
//!   through detector, builder, router and auditor.
//! - Metrics: with `telemetry.metrics_listen` set, OpenTelemetry metrics served in the
//!   Prometheus text format on `GET /metrics` (see [`crate::metrics`]).
//!
//! The runtime never reaches for its own tracer: spans are `tracing` spans, and whichever
//! OpenTelemetry layer the process installed (the worker's OTLP one from [`init_worker`], or a
//! test's in-memory one) turns them into OpenTelemetry spans.

use crate::config::TelemetrySettings;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use rdkafka::message::{Header, Headers, OwnedHeaders};
use std::net::SocketAddr;
use std::time::Duration;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer, Registry};

/// The crates a test needs to install its own OpenTelemetry pipeline and inspect spans, at the
/// versions the runtime uses (a second copy would not see the runtime's spans).
pub mod otel {
    pub use opentelemetry;
    pub use opentelemetry_sdk;
    pub use tracing;
    pub use tracing_opentelemetry;
    pub use tracing_subscriber;
}

/// The Kafka header names of the W3C trace context.
pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("OTLP exporter for {endpoint}: {message}")]
    Otlp { endpoint: String, message: String },
    #[error("metrics endpoint {addr}: {message}")]
    Metrics { addr: String, message: String },
}

fn fmt_layer(settings: &TelemetrySettings) -> Box<dyn Layer<Registry> + Send + Sync> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.filter));
    let layer = fmt::layer().with_writer(std::io::stderr);
    if settings.format == "json" {
        layer.json().flatten_event(true).with_filter(filter).boxed()
    } else {
        layer.with_filter(filter).boxed()
    }
}

/// Installs the global log subscriber only (the CLI). Safe to call twice (the second call does
/// nothing).
pub fn init(settings: &TelemetrySettings) {
    let _ = tracing_subscriber::registry()
        .with(fmt_layer(settings))
        .try_init();
}

/// What a worker's telemetry holds on to: the span exporter to flush and the metrics endpoint.
/// Dropping it flushes and shuts the exporters down; keep it alive for the life of `main`.
#[must_use = "dropping the guard shuts the exporters down"]
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    metrics: Option<crate::metrics::MetricsEndpoint>,
}

impl Telemetry {
    /// Where `/metrics` is served, if it is (useful with port 0).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|m| m.addr)
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(m) = self.metrics.take() {
            m.stop();
        }
        let Some(provider) = self.tracer.take() else {
            return;
        };
        // The batch exporter's thread sends through tonic, which needs the Tokio runtime to
        // make progress: never block a runtime worker while it flushes.
        let shutdown = move || {
            if let Err(e) = provider.shutdown_with_timeout(Duration::from_secs(5)) {
                eprintln!("flushing spans at shutdown: {e}");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(shutdown)
            }
            _ => shutdown(),
        }
    }
}

/// Installs a worker's telemetry: the log subscriber, the OTLP span exporter when
/// `otlp_endpoint` is set, and the metrics endpoint when `metrics_listen` is set. `service` is
/// the worker's name (`service.name` of its spans and metrics).
///
/// Call it from inside the Tokio runtime (the exporter and the endpoint run on it), before
/// anything records a metric (instruments bind to the meter provider installed here).
pub fn init_worker(
    service: &'static str,
    settings: &TelemetrySettings,
) -> Result<Telemetry, TelemetryError> {
    let resource = Resource::builder().with_service_name(service).build();
    let tracer = match &settings.otlp_endpoint {
        Some(endpoint) => Some(otlp_provider(endpoint, resource.clone())?),
        None => None,
    };
    // Exported spans follow their own level (info and above: `handle`, `audit`, `tick`),
    // not the log filter, so a quiet log still yields complete traces.
    let otel_layer = tracer.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer(service))
            .with_filter(LevelFilter::INFO)
    });
    let _ = tracing_subscriber::registry()
        .with(fmt_layer(settings))
        .with(otel_layer)
        .try_init();
    if let Some(p) = &tracer {
        opentelemetry::global::set_tracer_provider(p.clone());
    }
    let metrics = match &settings.metrics_listen {
        Some(addr) => Some(crate::metrics::serve(addr, resource)?),
        None => None,
    };
    if let Some(m) = &metrics {
        tracing::info!(worker = service, addr = %m.addr, "metrics on http://{}/metrics", m.addr);
    }
    Ok(Telemetry { tracer, metrics })
}

fn otlp_provider(endpoint: &str, resource: Resource) -> Result<SdkTracerProvider, TelemetryError> {
    use opentelemetry_otlp::WithExportConfig;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| TelemetryError::Otlp {
            endpoint: endpoint.to_string(),
            message: e.to_string(),
        })?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// Kafka headers read as an OpenTelemetry carrier.
struct HeaderCarrier<'a, H: Headers>(&'a H);

impl<H: Headers> Extractor for HeaderCarrier<'_, H> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|h| h.key.eq_ignore_ascii_case(key))
            .and_then(|h| h.value)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|h| h.key).collect()
    }
}

/// Trace headers being written.
#[derive(Default)]
struct Injected(Vec<(String, String)>);

impl Injector for Injected {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_string(), value));
    }
}

fn is_trace_header(key: &str) -> bool {
    key.eq_ignore_ascii_case(TRACEPARENT) || key.eq_ignore_ascii_case(TRACESTATE)
}

/// Makes `span` a child of the trace context in a consumed record's headers (if any). Call it
/// before the span is entered: a started span keeps the parent it started with.
pub fn parent_from<H: Headers>(span: &tracing::Span, headers: Option<&H>) {
    let Some(h) = headers else {
        return;
    };
    let cx = TraceContextPropagator::new().extract(&HeaderCarrier(h));
    if opentelemetry::trace::TraceContextExt::has_active_span(&cx) {
        // Fails only when no OpenTelemetry layer sees the span (export off): nothing to link.
        let _ = span.set_parent(cx);
    }
}

/// The headers for a record produced while handling a consumed one: the consumed record's
/// headers, with its trace context replaced by `span`'s. When no OpenTelemetry layer is
/// installed (export off) the incoming trace context is kept, so a worker without export does
/// not break the trace of the workers around it.
pub fn headers_for<H: Headers>(incoming: Option<&H>, span: &tracing::Span) -> OwnedHeaders {
    let mut injected = Injected::default();
    TraceContextPropagator::new().inject_context(&span.context(), &mut injected);
    let mut out = OwnedHeaders::new();
    if let Some(h) = incoming {
        for header in h.iter() {
            if injected.0.is_empty() || !is_trace_header(header.key) {
                out = out.insert(Header {
                    key: header.key,
                    value: header.value,
                });
            }
        }
    }
    for (key, value) in &injected.0 {
        out = out.insert(Header {
            key,
            value: Some(value.as_bytes()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TraceContextExt;

    fn get(h: &OwnedHeaders, key: &str) -> Option<String> {
        h.iter()
            .find(|x| x.key == key)
            .and_then(|x| x.value)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn incoming() -> OwnedHeaders {
        OwnedHeaders::new()
            .insert(Header {
                key: TRACEPARENT,
                value: Some(PARENT.as_bytes()),
            })
            .insert(Header {
                key: "x-tenant",
                value: Some(b"acme".as_slice()),
            })
    }

    #[test]
    fn the_produced_traceparent_is_a_child_of_the_consumed_one() {
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("t")));
        tracing::subscriber::with_default(subscriber, || {
            let headers = incoming();
            let span = tracing::info_span!(parent: None, "handle");
            parent_from(&span, Some(&headers));
            let out = headers_for(Some(&headers), &span);
            let tp = get(&out, TRACEPARENT).expect("a traceparent");
            let parts: Vec<&str> = tp.split('-').collect();
            assert_eq!(parts[1], "4bf92f3577b34da6a3ce929d0e0e4736", "same trace");
            assert_ne!(parts[2], "00f067aa0ba902b7", "our own span, not the parent");
            assert_eq!(
                parts[2],
                span.context().span().span_context().span_id().to_string()
            );
            // Replaced, not duplicated; other headers kept.
            assert_eq!(out.iter().filter(|h| h.key == TRACEPARENT).count(), 1);
            assert_eq!(get(&out, "x-tenant").as_deref(), Some("acme"));
        });
    }

    #[test]
    fn without_export_the_incoming_context_passes_through() {
        let subscriber = tracing_subscriber::registry();
        tracing::subscriber::with_default(subscriber, || {
            let headers = incoming();
            let span = tracing::info_span!(parent: None, "handle");
            parent_from(&span, Some(&headers));
            let out = headers_for(Some(&headers), &span);
            assert_eq!(get(&out, TRACEPARENT).as_deref(), Some(PARENT));
            assert_eq!(get(&out, "x-tenant").as_deref(), Some("acme"));
            let none = headers_for::<OwnedHeaders>(None, &span);
            assert_eq!(none.count(), 0);
        });
    }
}
