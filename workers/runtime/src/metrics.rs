//! Metrics: OpenTelemetry instruments, read by the `opentelemetry-prometheus` exporter into a
//! `prometheus` registry and served in the Prometheus text format on `GET /metrics` at
//! `telemetry.metrics_listen`.
//!
//! Instrument names are the exact Prometheus names (the exporter is told not to add `_total`
//! or unit suffixes), so what `curl` shows is what `grep` finds here:
//!
//! | name | type | labels |
//! | --- | --- | --- |
//! | `handoff_events_in_total` | counter | worker, topic |
//! | `handoff_records_out_total` | counter | worker, topic (acknowledged deliveries) |
//! | `handoff_decisions_total` | counter | decision, reason, rule_id (one per reason of a StopSignal) |
//! | `handoff_dlq_total` | counter | worker, kind |
//! | `handoff_consumer_lag` | gauge | worker, topic, partition (librdkafka statistics) |
//! | `handoff_produce_latency_seconds` | histogram | worker (send → delivery acknowledged) |
//! | `handoff_audit_batch_size` | histogram | worker (records per audit transaction) |
//! | `handoff_audit_batch_seconds` | histogram | worker (first write attempt → commit) |
//!
//! The events that update them are in [`crate::internal_events`]. Instruments come from the
//! global meter provider the first time one is used: [`serve`] installs it, so it must run
//! before the worker starts (it does, in `telemetry::init_worker`). Without it they are no-ops.

use crate::telemetry::TelemetryError;
use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter, MeterProvider as _};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::Resource;
use std::net::SocketAddr;
use std::sync::OnceLock;

pub const EVENTS_IN: &str = "handoff_events_in_total";
pub const RECORDS_OUT: &str = "handoff_records_out_total";
pub const DECISIONS: &str = "handoff_decisions_total";
pub const DLQ: &str = "handoff_dlq_total";
pub const CONSUMER_LAG: &str = "handoff_consumer_lag";
pub const PRODUCE_LATENCY: &str = "handoff_produce_latency_seconds";
pub const AUDIT_BATCH_SIZE: &str = "handoff_audit_batch_size";
pub const AUDIT_BATCH_SECONDS: &str = "handoff_audit_batch_seconds";

/// Every instrument the runtime records.
pub struct Instruments {
    pub events_in: Counter<u64>,
    pub records_out: Counter<u64>,
    pub decisions: Counter<u64>,
    pub dlq: Counter<u64>,
    pub consumer_lag: Gauge<i64>,
    pub produce_latency: Histogram<f64>,
    pub audit_batch_size: Histogram<u64>,
    pub audit_batch_seconds: Histogram<f64>,
}

const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0,
];

impl Instruments {
    pub fn new(meter: &Meter) -> Instruments {
        Instruments {
            events_in: meter
                .u64_counter(EVENTS_IN)
                .with_description("Records consumed, per worker and topic")
                .build(),
            records_out: meter
                .u64_counter(RECORDS_OUT)
                .with_description(
                    "Records produced and acknowledged by the broker, per worker and topic",
                )
                .build(),
            decisions: meter
                .u64_counter(DECISIONS)
                .with_description(
                    "Stop decisions, one per reason: decision, reason kind, policy rule id",
                )
                .build(),
            dlq: meter
                .u64_counter(DLQ)
                .with_description("Records sent to the dead-letter topic, per worker and kind")
                .build(),
            consumer_lag: meter
                .i64_gauge(CONSUMER_LAG)
                .with_description(
                    "Messages between the consumer's position and the partition's high watermark",
                )
                .build(),
            produce_latency: meter
                .f64_histogram(PRODUCE_LATENCY)
                .with_description(
                    "Seconds from handing a record to the producer to its acknowledgement",
                )
                .with_boundaries(SECONDS_BUCKETS.to_vec())
                .build(),
            audit_batch_size: meter
                .u64_histogram(AUDIT_BATCH_SIZE)
                .with_description("Records per audit batch")
                .with_boundaries(BATCH_BUCKETS.to_vec())
                .build(),
            audit_batch_seconds: meter
                .f64_histogram(AUDIT_BATCH_SECONDS)
                .with_description("Seconds to write an audit batch, retries included")
                .with_boundaries(SECONDS_BUCKETS.to_vec())
                .build(),
        }
    }
}

/// The process's instruments, bound to the global meter provider on first use.
pub fn instruments() -> &'static Instruments {
    static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| Instruments::new(&opentelemetry::global::meter("handoff")))
}

/// A meter provider that feeds a Prometheus registry.
pub struct PrometheusMetrics {
    pub provider: SdkMeterProvider,
    pub registry: prometheus::Registry,
}

impl PrometheusMetrics {
    pub fn new(resource: Resource) -> Result<PrometheusMetrics, String> {
        let registry = prometheus::Registry::new();
        let exporter = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .without_counter_suffixes()
            .without_units()
            .scope_info_enabled(false)
            .build()
            .map_err(|e| e.to_string())?;
        let provider = SdkMeterProvider::builder()
            .with_reader(exporter)
            .with_resource(resource)
            .build();
        Ok(PrometheusMetrics { provider, registry })
    }

    pub fn meter(&self) -> Meter {
        self.provider.meter("handoff")
    }

    /// The Prometheus text exposition of everything recorded so far.
    pub fn render(&self) -> String {
        render(&self.registry)
    }
}

fn render(registry: &prometheus::Registry) -> String {
    let mut out = String::new();
    if let Err(e) = prometheus::TextEncoder::new().encode_utf8(&registry.gather(), &mut out) {
        tracing::warn!(error = %e, "rendering metrics");
    }
    out
}

/// The running `/metrics` endpoint.
pub struct MetricsEndpoint {
    pub addr: SocketAddr,
    provider: SdkMeterProvider,
    server: tokio::task::JoinHandle<()>,
}

impl MetricsEndpoint {
    pub(crate) fn stop(self) {
        self.server.abort();
        let _ = self.provider.shutdown();
    }
}

/// Installs the Prometheus-backed global meter provider and serves `GET /metrics` on `addr`.
/// Binds before returning, so a taken port is a start-up error. Needs the Tokio runtime.
pub fn serve(addr: &str, resource: Resource) -> Result<MetricsEndpoint, TelemetryError> {
    let err = |message: String| TelemetryError::Metrics {
        addr: addr.to_string(),
        message,
    };
    let metrics = PrometheusMetrics::new(resource).map_err(err)?;
    let listener = std::net::TcpListener::bind(addr).map_err(|e| err(e.to_string()))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| err(e.to_string()))?;
    let local = listener.local_addr().map_err(|e| err(e.to_string()))?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| err(e.to_string()))?;
    opentelemetry::global::set_meter_provider(metrics.provider.clone());
    let registry = metrics.registry.clone();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let body = render(&registry);
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    body,
                )
            }
        }),
    );
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "metrics endpoint stopped");
        }
    });
    Ok(MetricsEndpoint {
        addr: local,
        provider: metrics.provider,
        server,
    })
}
