//! The whole pipeline in one process, without Kafka: detector → builder → router over replay
//! records. `handoff replay` and the tests use it; the workers run the same functions one stage
//! each.

use crate::build::build;
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
pub struct Pipeline<'p> {
    policy: &'p Policy,
    states: HashMap<String, ConversationState>,
}

impl<'p> Pipeline<'p> {
    pub fn new(policy: &'p Policy) -> Self {
        Pipeline {
            policy,
            states: HashMap::new(),
        }
    }

    /// Feeds one record through all stages; returns every output in publish order.
    pub fn feed(&mut self, record: &ReplayRecord) -> Vec<Output> {
        let conversation_id = record.conversation_id();
        let state = self
            .states
            .entry(conversation_id.to_string())
            .or_insert_with(|| ConversationState::new(conversation_id));
        let detected = match record {
            ReplayRecord::Event(e) => detect::on_event(state, e, self.policy),
            ReplayRecord::Command(c) => detect::on_command(state, c, self.policy),
        };
        let mut out = Vec::with_capacity(detected.len() + 2);
        for d in detected {
            match d {
                DetectorOutput::Signal(signal) => {
                    let payload = build(&signal);
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
