//! The whole pipeline in one process, without Kafka: detector → builder → router over replay
//! records. `handoff replay` and the tests use it; the workers run the same functions one stage
//! each.

use crate::compose::Builder;
use crate::detect::{self, ConversationState, DetectorOutput};
use crate::policy::Policy;
use crate::records::*;
use crate::replay::ReplayRecord;
use crate::route::route;
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

/// Offline pipeline state: every conversation's detector state.
///
/// Time is the records' own: each record is decided at its `occurred_at`/`issued_at`, and before
/// it the SLA clock ticks to that time, so a replay shows the breaches a live run would have had.
pub struct Pipeline<'p> {
    policy: &'p Policy,
    builder: Builder,
    states: HashMap<String, ConversationState>,
    sla_clock: bool,
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
        }
    }

    /// Without SLA ticks: what a live run produces when every record arrives within the claim-by
    /// deadlines (the integration tests compare a live run against this).
    pub fn without_sla_clock(mut self) -> Self {
        self.sla_clock = false;
        self
    }

    /// Feeds one record through all stages; returns every output in publish order.
    pub fn feed(&mut self, record: &ReplayRecord) -> Vec<Output> {
        let now = match record {
            ReplayRecord::Event(e) => e.occurred_at,
            ReplayRecord::Command(c) => c.issued_at,
        };
        let mut detected = Vec::new();
        if self.sla_clock {
            let mut due: Vec<&mut ConversationState> = self
                .states
                .values_mut()
                .filter(|s| s.claim_by_ms.is_some_and(|d| d <= now.timestamp_millis()))
                .collect();
            due.sort_by(|a, b| a.conversation_id.cmp(&b.conversation_id));
            for state in due {
                detected.extend(detect::on_tick(state, self.policy, now));
            }
        }
        let conversation_id = record.conversation_id();
        match record {
            // As the detector worker: a command for a conversation nobody has seen is decided on
            // a scratch state, kept only if it opened a handoff.
            ReplayRecord::Command(c) if !self.states.contains_key(conversation_id) => {
                let mut scratch = ConversationState::new(conversation_id);
                detected.extend(detect::on_command(&mut scratch, c, self.policy, now));
                if scratch.handoff_id.is_some() {
                    self.states.insert(conversation_id.to_string(), scratch);
                }
            }
            _ => {
                let state = self
                    .states
                    .entry(conversation_id.to_string())
                    .or_insert_with(|| ConversationState::new(conversation_id));
                detected.extend(match record {
                    ReplayRecord::Event(e) => detect::on_event(state, e, self.policy, now),
                    ReplayRecord::Command(c) => detect::on_command(state, c, self.policy, now),
                });
            }
        }
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
