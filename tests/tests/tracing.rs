//! One handoff is one trace: the W3C trace context rides in Kafka headers from the triggering
//! event through the detector to the builder. The spans are captured in-process by an
//! in-memory exporter behind this test's own OpenTelemetry layer (the workers run as tasks of
//! this process, so their `tracing` spans reach it), then the parent/child chain is checked.

use handoff_core::records::{ConversationEvent, HandoffPayload};
use handoff_core::replay::{parse_line, ReplayRecord};
use handoff_runtime::codec::AvroRecord;
use handoff_runtime::telemetry::otel::opentelemetry::trace::{
    SpanId, TraceContextExt, TraceId, TracerProvider as _,
};
use handoff_runtime::telemetry::otel::opentelemetry_sdk::error::OTelSdkResult;
use handoff_runtime::telemetry::otel::opentelemetry_sdk::trace::{
    SdkTracerProvider, SpanData, SpanExporter,
};
use handoff_runtime::telemetry::otel::tracing_opentelemetry::{self, OpenTelemetrySpanExt};
use handoff_runtime::telemetry::otel::tracing_subscriber::layer::SubscriberExt;
use handoff_runtime::telemetry::otel::tracing_subscriber::util::SubscriberInitExt;
use handoff_runtime::telemetry::otel::{tracing, tracing_subscriber};
use handoff_runtime::telemetry::{self, TRACEPARENT};
use handoff_runtime::worker::Runtime;
use handoff_runtime::{OutRecord, Outgoing};
use handoff_tests::*;
use rdkafka::message::{Headers, Message, OwnedHeaders};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Every finished span, kept in memory.
#[derive(Debug, Clone, Default)]
struct Collected(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Collected {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        self.0.lock().unwrap().extend(batch);
        std::future::ready(Ok(()))
    }
}

impl Collected {
    fn spans(&self) -> Vec<SpanData> {
        self.0.lock().unwrap().clone()
    }
}

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

/// The `handle` span a worker made for a record of `topic`.
fn handle_span<'a>(spans: &'a [SpanData], worker: &str, topic: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| {
            s.name == "handle"
                && attr(s, "worker").as_deref() == Some(worker)
                && attr(s, "topic").as_deref() == Some(topic)
        })
        .unwrap_or_else(|| {
            let seen: Vec<_> = spans
                .iter()
                .map(|s| (s.name.to_string(), attr(s, "worker"), attr(s, "topic")))
                .collect();
            panic!("no {worker} handle span for {topic}; spans: {seen:?}")
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_handoff_is_one_trace_from_the_event_through_detector_and_builder() -> anyhow::Result<()>
{
    // This process's OpenTelemetry pipeline: a synchronous in-memory exporter.
    let collected = Collected::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(collected.clone())
        .build();
    handoff_runtime::telemetry::otel::opentelemetry::global::set_tracer_provider(provider.clone());
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("tracing-test")))
        .try_init()?;

    let settings = test_settings("tracing");
    let topics = settings.topics();
    let detector = start(Worker::Detector, &settings);
    let builder = start(Worker::Builder, &settings);

    // The upstream system's span, and its context in the event's headers.
    let root = tracing::info_span!("agent_turn");
    let root_cx = root.context().span().span_context().clone();
    assert!(
        root_cx.is_valid(),
        "the test's OpenTelemetry layer is installed"
    );
    let headers = telemetry::headers_for::<OwnedHeaders>(None, &root);
    // Dated now, so its claim-by deadline is ahead and no SLA breach adds a second signal.
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let event = match parse_line(&format!(
        r#"{{"type":"event","event_id":"tr-1","conversation_id":"conv-trace","tenant_id":"acme","occurred_at":"{now}","channel":"web","actor":"contact","text":"can I talk to a person please"}}"#
    ))
    .map_err(anyhow::Error::msg)?
    .expect("a record")
    {
        ReplayRecord::Event(e) => e,
        other => panic!("not an event: {other:?}"),
    };
    let rt = Runtime::new(settings.clone())?;
    rt.prepare(&[], &[(topics.events(), ConversationEvent::SCHEMA)], None)
        .await?;
    let out = Outgoing {
        topic: topics.events(),
        key: event.conversation_id.clone(),
        record: OutRecord::Event(event),
    };
    let value = rt.encode(&out).await?;
    let delivery = rt
        .send(
            &out.topic,
            Some(out.key.as_bytes()),
            value.as_deref(),
            headers,
        )
        .await?;
    delivery
        .await?
        .map_err(|(e, _)| anyhow::anyhow!("producing the event: {e}"))?;
    drop(root);

    // The payload arrives with a traceparent in this trace.
    let payloads = reader(&settings, &[topics.payloads().as_str()]);
    let got = read_until(&payloads, Duration::from_secs(90), |m| !m.is_empty()).await;
    let payload_msg = got.first().expect("a handoff payload within 90s");
    let payload: HandoffPayload = decode_all(&settings, std::slice::from_ref(payload_msg))
        .await?
        .remove(0);
    let payload_tp = payload_msg
        .headers()
        .and_then(|h| h.iter().find(|x| x.key == TRACEPARENT))
        .and_then(|x| x.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .expect("the payload carries a traceparent");

    detector.stop().await?;
    builder.stop().await?;
    provider.force_flush()?;
    let spans = collected.spans();

    let trace: TraceId = root_cx.trace_id();
    let detector_span = handle_span(&spans, "detector", &topics.events());
    let builder_span = handle_span(&spans, "builder", &topics.signals());

    // The detector's span is a child of the upstream span, in its trace.
    assert_eq!(
        detector_span.span_context.trace_id(),
        trace,
        "detector in the event's trace"
    );
    assert_eq!(
        detector_span.parent_span_id,
        root_cx.span_id(),
        "detector's parent is the upstream span"
    );
    assert!(
        detector_span.parent_span_is_remote,
        "the parent came over Kafka"
    );
    assert_eq!(
        attr(detector_span, "conversation_id").as_deref(),
        Some("conv-trace")
    );
    assert_eq!(
        attr(detector_span, "handoff_id").as_deref(),
        Some(payload.handoff_id.as_str())
    );
    assert_eq!(attr(detector_span, "decision").as_deref(), Some("escalate"));
    assert!(
        attr(detector_span, "rule_ids").is_some_and(|r| !r.is_empty()),
        "the rule ids that fired are on the detector's span"
    );

    // The builder's span is a child of the detector's, through the signal's headers.
    assert_eq!(
        builder_span.span_context.trace_id(),
        trace,
        "builder in the same trace"
    );
    assert_eq!(
        builder_span.parent_span_id,
        detector_span.span_context.span_id(),
        "builder's parent is the detector's span"
    );
    assert_eq!(
        attr(builder_span, "handoff_id").as_deref(),
        Some(payload.handoff_id.as_str())
    );

    // And what the builder produced points at the builder's span.
    let parts: Vec<&str> = payload_tp.split('-').collect();
    assert_eq!(parts.len(), 4, "a W3C traceparent: {payload_tp}");
    assert_eq!(TraceId::from_hex(parts[1])?, trace);
    assert_eq!(
        SpanId::from_hex(parts[2])?,
        builder_span.span_context.span_id()
    );
    Ok(())
}
