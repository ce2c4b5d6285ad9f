//! The detector worker: evaluates the policy's stop conditions on every conversation event and
//! applies operator commands to the conversation's control state.
//!
//! Consumes `conversation.events` and `handoff.commands` (co-partitioned by conversation id, so
//! one instance sees all of a conversation's records, in order); publishes StopSignal to
//! `handoff.signals`, AgentControl to `agent.control` and LifecycleEvent to `handoff.lifecycle`.
//! The decisions themselves are `handoff_core::detect`; this crate only adapts them to Kafka.

use handoff_core::detect::{self, ConversationState, DetectorOutput};
use handoff_core::records::{
    AgentControl, ConversationEvent, LifecycleEvent, OperatorCommand, StopSignal,
};
use handoff_core::Policy;
use handoff_runtime::codec::AvroRecord;
use handoff_runtime::topics::Topics;
use handoff_runtime::worker::typed;
use handoff_runtime::{Incoming, OutRecord, Outgoing, Rejection, Settings, Stage};
use std::collections::HashMap;
use std::future::Future;

pub struct DetectorStage {
    policy: Policy,
    topics: Topics,
    states: HashMap<String, ConversationState>,
    /// The wall clock (tests pin it).
    clock: fn() -> chrono::DateTime<chrono::Utc>,
}

impl DetectorStage {
    pub fn new(policy: Policy, topics: Topics) -> Self {
        DetectorStage {
            policy,
            topics,
            states: HashMap::new(),
            clock: chrono::Utc::now,
        }
    }

    fn publish(&self, conversation_id: &str, outputs: Vec<DetectorOutput>) -> Vec<Outgoing> {
        outputs
            .into_iter()
            .map(|o| {
                let (topic, record) = match o {
                    DetectorOutput::Signal(s) => (self.topics.signals(), OutRecord::Signal(s)),
                    DetectorOutput::Control(c) => (self.topics.control(), OutRecord::Control(c)),
                    DetectorOutput::Lifecycle(l) => {
                        (self.topics.lifecycle(), OutRecord::Lifecycle(l))
                    }
                };
                Outgoing {
                    topic,
                    key: conversation_id.to_string(),
                    record,
                }
            })
            .collect()
    }
}

fn state<'s>(
    states: &'s mut HashMap<String, ConversationState>,
    conversation_id: &str,
) -> &'s mut ConversationState {
    states
        .entry(conversation_id.to_string())
        .or_insert_with(|| ConversationState::new(conversation_id))
}

fn require_conversation(id: &str) -> Result<(), Rejection> {
    if id.trim().is_empty() {
        return Err(Rejection::new("invalid_record", "conversation_id is empty"));
    }
    Ok(())
}

impl Stage for DetectorStage {
    fn name(&self) -> &'static str {
        "detector"
    }

    fn inputs(&self) -> Vec<String> {
        vec![self.topics.events(), self.topics.commands()]
    }

    fn outputs(&self) -> Vec<(String, &'static str)> {
        vec![
            (self.topics.signals(), StopSignal::SCHEMA),
            (self.topics.control(), AgentControl::SCHEMA),
            (self.topics.lifecycle(), LifecycleEvent::SCHEMA),
        ]
    }

    fn handle(&mut self, msg: &Incoming<'_>) -> Result<Vec<Outgoing>, Rejection> {
        if msg.topic == self.topics.commands() {
            let cmd: OperatorCommand = typed(msg.value)?;
            require_conversation(&cmd.conversation_id)?;
            let out = detect::on_command(
                state(&mut self.states, &cmd.conversation_id),
                &cmd,
                &self.policy,
                (self.clock)(),
            );
            Ok(self.publish(&cmd.conversation_id, out))
        } else {
            let event: ConversationEvent = typed(msg.value)?;
            require_conversation(&event.conversation_id)?;
            let out = detect::on_event(
                state(&mut self.states, &event.conversation_id),
                &event,
                &self.policy,
                (self.clock)(),
            );
            Ok(self.publish(&event.conversation_id, out))
        }
    }
}

/// Runs the detector until `shutdown` resolves.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let policy = settings.load_policy()?;
    tracing::info!(policy_version = policy.version(), "policy loaded");
    let stage = DetectorStage::new(policy, settings.topics());
    handoff_runtime::run_stage(settings, stage, shutdown).await?;
    Ok(())
}
