//! The whole pipeline in one process, without Kafka: detector → builder → router over replay
//! records. `handoff replay` and the tests use it; the workers run the same functions one stage
//! each.

use crate::compose::Builder;
use crate::detect::{self, Clock, ConversationState, DetectorOutput, Input};
use crate::policy::Policy;
use crate::records::*;
use crate::replay::ReplayRecord;
use crate::route::route;
use crate::time::Timestamp;
use serde::Serialize;
use std::collections::HashMap;

/// One record the pipeline publishes, tagged as `handoff replay` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Output {
    Signal(StopSignal),
    Payload(HandoffPayload),
    Route(RoutedHandoff),
    Control(AgentControl),
    Lifecycle(LifecycleEvent),
}

/// A record the pipeline refused, as the detector dead-letters it: `kind` and `error` are the
/// dead-letter headers `handoff.dlq.kind` and `handoff.dlq.error`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejected {
    pub conversation_id: String,
    /// The record's `event_id` or `command_id`.
    pub record_id: String,
    pub kind: &'static str,
    pub error: String,
}

/// Offline pipeline state: every conversation's detector state.
///
/// Time is the records' own: each record is decided at its `occurred_at`/`issued_at`, and before
/// it the SLA clock ticks to that time, so a replay shows the breaches a live run would have had.
pub struct Pipeline<'p> {
    policy: &'p Policy,
    builder: Builder,
    states: HashMap<String, ConversationState>,
    sla_clock: bool,
    /// The replay's arrival clock: the latest record time accepted so far.
    received_at: Option<Timestamp>,
}

impl<'p> Pipeline<'p> {
    pub fn new(policy: &'p Policy) -> Self {
        // Example files named by the policy resolve against the working directory here; the
        // builder worker resolves them against the policy file's directory.
        let builder = Builder::new(&policy.builder)
            .unwrap_or_else(|e| panic!("the policy's [builder] section is unusable: {e}"));
        Pipeline {
            policy,
            builder,
            states: HashMap::new(),
            sla_clock: true,
            received_at: None,
        }
    }

    /// Without SLA ticks: what a live run produces when every record arrives within the claim-by
    /// deadlines (the integration tests compare a live run against this).
    pub fn without_sla_clock(mut self) -> Self {
        self.sla_clock = false;
        self
    }

    /// Feeds one record through all stages; returns every output in publish order. An invalid
    /// record produces no output, as in a live run (where it goes to the dead-letter topic):
    /// use [`Pipeline::step`] to see why.
    pub fn feed(&mut self, record: &ReplayRecord) -> Vec<Output> {
        self.step(record).unwrap_or_default()
    }

    /// Feeds one record through all stages: its outputs in publish order, or, for a record the
    /// detector would dead-letter, the reason it would give (and the record changes nothing).
    pub fn step(&mut self, record: &ReplayRecord) -> Result<Vec<Output>, Rejected> {
        let input = match record {
            ReplayRecord::Event(e) => Input::Event(e),
            ReplayRecord::Command(c) => Input::Command(c),
        };
        let now = input.time();
        // Arrival never goes back in time: a record dated far before those already replayed is
        // checked against the latest time seen, as the live detector checks it against its clock.
        let received_at = self.received_at.map_or(now, |r| r.max(now));
        let clock = Clock {
            decide_at: now,
            received_at,
        };
        let conversation_id = record.conversation_id();
        let rejected = |invalid: crate::validate::Invalid| Rejected {
            conversation_id: conversation_id.to_string(),
            record_id: input.id().to_string(),
            kind: crate::validate::DEAD_LETTER_KIND,
            error: invalid.to_string(),
        };
        // Checked before the SLA clock ticks to the record's time: a refused record moves
        // nothing, not even the clock.
        detect::check(input, clock).map_err(rejected)?;
        self.received_at = Some(received_at);
        let mut detected = self.sla_ticks(now);
        let state = self.states.get_mut(conversation_id);
        let stepped = detect::step(state, input, self.policy, clock).map_err(rejected)?;
        if let Some(created) = stepped.created {
            self.states.insert(conversation_id.to_string(), created);
        }
        detected.extend(stepped.outputs);
        Ok(self.publish(detected))
    }

    /// The SLA breaches due by `now` (before the record decided at `now`).
    fn sla_ticks(&mut self, now: Timestamp) -> Vec<DetectorOutput> {
        let mut detected = Vec::new();
        if !self.sla_clock {
            return detected;
        }
        let mut due: Vec<&mut ConversationState> = self
            .states
            .values_mut()
            .filter(|s| s.claim_by_ms.is_some_and(|d| d <= now.timestamp_millis()))
            .collect();
        due.sort_by(|a, b| a.conversation_id.cmp(&b.conversation_id));
        for state in due {
            detected.extend(detect::on_tick(state, self.policy, now));
        }
        detected
    }

    /// The builder and router stages over the detector's outputs.
    fn publish(&self, detected: Vec<DetectorOutput>) -> Vec<Output> {
        let mut out = Vec::with_capacity(detected.len() + 2);
        for d in detected {
            match d {
                DetectorOutput::Signal(signal) => {
                    let payload = self.builder.build(&signal);
                    let routed = route(&payload, self.policy, payload.created_at);
                    out.push(Output::Signal(signal));
                    out.push(Output::Payload(payload));
                    out.push(Output::Route(routed));
                }
                DetectorOutput::Control(c) => out.push(Output::Control(c)),
                DetectorOutput::Lifecycle(l) => out.push(Output::Lifecycle(l)),
            }
        }
        out
    }

    pub fn state(&self, conversation_id: &str) -> Option<&ConversationState> {
        self.states.get(conversation_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::parse_line;

    fn record(line: &str) -> ReplayRecord {
        parse_line(line).unwrap().unwrap()
    }

    const ASK: &str = r#"{"type":"event","event_id":"p-1","conversation_id":"p","tenant_id":"acme","occurred_at":"2026-11-20T10:00:00Z","channel":"web","actor":"contact","text":"can I talk to a person please"}"#;

    /// A refused record is reported with the detector's dead-letter reason and changes nothing:
    /// no state, no outputs, and the SLA clock does not tick to its time.
    #[test]
    fn refused_records_change_nothing() {
        let policy = Policy::builtin();
        let mut pipeline = Pipeline::new(&policy);
        let out = pipeline.step(&record(ASK)).unwrap();
        assert!(
            out.iter().any(|o| matches!(o, Output::Signal(_))),
            "{out:?}"
        );
        let claim_by = pipeline.state("p").unwrap().claim_by_ms.unwrap();

        // A day later (past the claim-by deadline), but with an empty event id.
        let bad = record(
            &ASK.replace("\"p-1\"", "\"\"")
                .replace("2026-11-20", "2026-11-21"),
        );
        let refused = pipeline.step(&bad).unwrap_err();
        assert_eq!(refused.kind, "invalid_record");
        assert_eq!(refused.error, "empty_id: event_id is empty");
        assert_eq!(
            (refused.conversation_id.as_str(), refused.record_id.as_str()),
            ("p", "")
        );
        assert_eq!(pipeline.feed(&bad), Vec::new(), "feed drops it, as live");
        let state = pipeline.state("p").unwrap();
        assert_eq!(
            state.claim_by_ms,
            Some(claim_by),
            "no SLA breach was ticked"
        );
        assert_eq!(state.transcript.len(), 1);

        // An unseen conversation's refused record leaves no state behind.
        let other = record(
            &ASK.replace("\"conversation_id\":\"p\"", "\"conversation_id\":\"q\"")
                .replace("can I", &"x".repeat(70_000)),
        );
        assert!(pipeline
            .step(&other)
            .unwrap_err()
            .error
            .starts_with("text_too_large: "));
        assert!(pipeline.state("q").is_none());
    }
}
