//! One struct per observable event; its `emit()` writes the log line (where there is one) and
//! updates the metric together, so names stay stable and greppable (see [`crate::metrics`]).
//! `emit_to` takes the instruments explicitly (tests render a private registry).

use crate::metrics::{instruments, Instruments};
use handoff_core::records::{Decision, StopSignal};
use opentelemetry::KeyValue;
use std::time::Duration;

/// A record was consumed. `handoff_events_in_total{worker,topic}`.
pub struct EventReceived<'a> {
    pub worker: &'static str,
    pub topic: &'a str,
}

impl EventReceived<'_> {
    pub fn emit(&self) {
        self.emit_to(instruments())
    }

    pub fn emit_to(&self, m: &Instruments) {
        m.events_in.add(
            1,
            &[
                KeyValue::new("worker", self.worker),
                KeyValue::new("topic", self.topic.to_string()),
            ],
        );
    }
}

/// A produced record was acknowledged. `handoff_records_out_total{worker,topic}` and
/// `handoff_produce_latency_seconds{worker}`.
pub struct RecordProduced<'a> {
    pub worker: &'static str,
    pub topic: &'a str,
    /// From handing the record to the producer to its acknowledgement being observed.
    pub latency: Duration,
}

impl RecordProduced<'_> {
    pub fn emit(&self) {
        self.emit_to(instruments())
    }

    pub fn emit_to(&self, m: &Instruments) {
        m.records_out.add(
            1,
            &[
                KeyValue::new("worker", self.worker),
                KeyValue::new("topic", self.topic.to_string()),
            ],
        );
        m.produce_latency.record(
            self.latency.as_secs_f64(),
            &[KeyValue::new("worker", self.worker)],
        );
    }
}

pub fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::Escalate => "escalate",
        Decision::Flag => "flag",
    }
}

/// A stop decision was published. `handoff_decisions_total{decision,reason,rule_id}`, one per
/// reason of the signal.
pub struct DecisionMade<'a> {
    pub signal: &'a StopSignal,
}

impl DecisionMade<'_> {
    pub fn emit(&self) {
        self.emit_to(instruments())
    }

    pub fn emit_to(&self, m: &Instruments) {
        let s = self.signal;
        let decision = decision_name(s.decision);
        tracing::debug!(
            conversation_id = %s.conversation_id,
            handoff_id = %s.handoff_id,
            decision,
            rule_ids = %rule_ids(s),
            policy_version = %s.policy_version,
            "stop decision"
        );
        for r in &s.reasons {
            m.decisions.add(
                1,
                &[
                    KeyValue::new("decision", decision),
                    KeyValue::new("reason", r.kind.as_str()),
                    KeyValue::new("rule_id", r.rule_id.clone()),
                ],
            );
        }
    }
}

/// The rule ids of a signal, comma-separated (a span field, a log field).
pub fn rule_ids(s: &StopSignal) -> String {
    let mut ids: Vec<&str> = s.reasons.iter().map(|r| r.rule_id.as_str()).collect();
    ids.dedup();
    ids.join(",")
}

/// A record went to the dead-letter topic. `handoff_dlq_total{worker,kind}` and a warning.
pub struct DeadLettered<'a> {
    pub worker: &'static str,
    pub kind: &'static str,
    pub error: &'a str,
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
}

impl DeadLettered<'_> {
    pub fn emit(&self) {
        self.emit_to(instruments())
    }

    pub fn emit_to(&self, m: &Instruments) {
        tracing::warn!(
            worker = self.worker,
            topic = self.topic,
            partition = self.partition,
            offset = self.offset,
            kind = self.kind,
            error = self.error,
            "dead-lettering input"
        );
        m.dlq.add(
            1,
            &[
                KeyValue::new("worker", self.worker),
                KeyValue::new("kind", self.kind),
            ],
        );
    }
}

/// The consumer's lag on one partition, from librdkafka statistics.
/// `handoff_consumer_lag{worker,topic,partition}`.
pub struct ConsumerLag<'a> {
    pub worker: &'static str,
    pub topic: &'a str,
    pub partition: i32,
    pub lag: i64,
}

impl ConsumerLag<'_> {
    pub fn emit(&self) {
        self.emit_to(instruments())
    }

    pub fn emit_to(&self, m: &Instruments) {
        m.consumer_lag.record(
            self.lag,
            &[
                KeyValue::new("worker", self.worker),
                KeyValue::new("topic", self.topic.to_string()),
                KeyValue::new("partition", i64::from(self.partition)),
            ],
        );
    }
}

/// An audit batch was committed. `handoff_audit_batch_size{worker}`,
/// `handoff_audit_batch_seconds{worker}`.
pub struct AuditBatchWritten {
    pub worker: &'static str,
    pub records: usize,
    pub rejected: usize,
    pub elapsed: Duration,
}

impl AuditBatchWritten {
    pub fn emit(&self) {
        self.emit_to(instruments())
    }

    pub fn emit_to(&self, m: &Instruments) {
        tracing::debug!(
            worker = self.worker,
            records = self.records,
            rejected = self.rejected,
            elapsed_ms = self.elapsed.as_millis() as u64,
            "audit batch written"
        );
        let attrs = [KeyValue::new("worker", self.worker)];
        m.audit_batch_size.record(self.records as u64, &attrs);
        m.audit_batch_seconds
            .record(self.elapsed.as_secs_f64(), &attrs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::*;
    use handoff_core::records::{Reason, ReasonKind};

    fn signal() -> StopSignal {
        let json = serde_json::json!({
            "signal_id": "s", "handoff_id": "h-1", "conversation_id": "c-1", "trigger_event_id": "e",
            "decided_at": "2026-11-20T10:00:00Z", "policy_version": "v1",
            "decision": "escalate", "reasons": [], "urgency": "normal",
        });
        let mut s: StopSignal =
            serde_json::from_value(json).unwrap_or_else(|e| panic!("a minimal StopSignal: {e}"));
        s.reasons = vec![Reason {
            kind: ReasonKind::ExplicitRequest,
            rule_id: "explicit.ask_for_human".into(),
            score: 1.0,
            threshold: None,
            evidence_event_id: "e".into(),
            evidence_text: String::new(),
        }];
        s
    }

    #[test]
    fn the_metrics_text_names_every_instrument() {
        let metrics = PrometheusMetrics::new(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("detector")
                .build(),
        )
        .unwrap();
        let m = Instruments::new(&metrics.meter());
        EventReceived {
            worker: "detector",
            topic: "conversation.events",
        }
        .emit_to(&m);
        EventReceived {
            worker: "detector",
            topic: "conversation.events",
        }
        .emit_to(&m);
        RecordProduced {
            worker: "detector",
            topic: "handoff.signals",
            latency: Duration::from_millis(3),
        }
        .emit_to(&m);
        DecisionMade { signal: &signal() }.emit_to(&m);
        DeadLettered {
            worker: "detector",
            kind: "undecodable",
            error: "bad",
            topic: "t",
            partition: 0,
            offset: 1,
        }
        .emit_to(&m);
        ConsumerLag {
            worker: "detector",
            topic: "conversation.events",
            partition: 2,
            lag: 17,
        }
        .emit_to(&m);
        AuditBatchWritten {
            worker: "auditor",
            records: 40,
            rejected: 0,
            elapsed: Duration::from_millis(12),
        }
        .emit_to(&m);
        let text = metrics.render();
        for line in [
            r#"handoff_events_in_total{topic="conversation.events",worker="detector"} 2"#,
            r#"handoff_records_out_total{topic="handoff.signals",worker="detector"} 1"#,
            r#"handoff_decisions_total{decision="escalate",reason="explicit_request",rule_id="explicit.ask_for_human"} 1"#,
            r#"handoff_dlq_total{kind="undecodable",worker="detector"} 1"#,
            r#"handoff_consumer_lag{partition="2",topic="conversation.events",worker="detector"} 17"#,
            r#"handoff_produce_latency_seconds_count{worker="detector"} 1"#,
            r#"handoff_produce_latency_seconds_bucket{worker="detector",le="0.005"} 1"#,
            r#"handoff_audit_batch_size_sum{worker="auditor"} 40"#,
            r#"handoff_audit_batch_seconds_count{worker="auditor"} 1"#,
            "# TYPE handoff_events_in_total counter",
            "# TYPE handoff_consumer_lag gauge",
            "# TYPE handoff_produce_latency_seconds histogram",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("_total_total"), "{text}");
    }
}
