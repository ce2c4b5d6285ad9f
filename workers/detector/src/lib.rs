//! The detector worker: evaluates the policy's stop conditions on every conversation event and
//! applies operator commands to the conversation's control state.
//!
//! Consumes `conversation.events` and `handoff.commands` (co-partitioned by conversation id, so
//! one instance sees all of a conversation's records, in order); publishes StopSignal to
//! `handoff.signals`, AgentControl to `agent.control` and LifecycleEvent to `handoff.lifecycle`.
//!
//! State is durable: after each record's outputs are acknowledged, the conversation's state is
//! written to the compacted `handoff.state` topic (keyed, and so partitioned, like the inputs).
//! When partitions are assigned, their state is read back before their first record is handled,
//! so a restarted or rebalanced detector carries on where the last one stopped; claim-by
//! deadlines are part of that state and survive too. A 1-second tick fires SLA breaches and
//! evicts idle conversations (with a tombstone).
//!
//! The decisions themselves are `handoff_core::detect`; this crate only adapts them to Kafka.

use apache_avro::types::Value;
use handoff_core::detect::{self, ConversationState, DetectorOutput};
use handoff_core::records::{
    AgentControl, ConversationEvent, LifecycleEvent, OperatorCommand, StopSignal,
};
use handoff_core::validate;
use handoff_core::Policy;
use handoff_runtime::codec::AvroRecord;
use handoff_runtime::topics::Topics;
use handoff_runtime::worker::typed;
use handoff_runtime::{Incoming, OutRecord, Outgoing, Rejection, Settings, Stage};
use std::collections::HashMap;
use std::future::Future;

/// A conversation's state and the input partition it lives on.
struct Entry {
    partition: i32,
    state: ConversationState,
}

pub struct DetectorStage {
    policy: Policy,
    topics: Topics,
    conversations: HashMap<String, Entry>,
    /// The conversation the last handled record changed (its snapshot goes to the changelog).
    changed: Option<String>,
    /// The wall clock (tests pin it).
    clock: fn() -> chrono::DateTime<chrono::Utc>,
}

impl DetectorStage {
    pub fn new(policy: Policy, topics: Topics) -> Self {
        DetectorStage {
            policy,
            topics,
            conversations: HashMap::new(),
            changed: None,
            clock: chrono::Utc::now,
        }
    }

    /// Open conversations held in memory.
    pub fn len(&self) -> usize {
        self.conversations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conversations.is_empty()
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

    fn snapshot(&self, conversation_id: &str) -> Option<Outgoing> {
        let entry = self.conversations.get(conversation_id)?;
        Some(Outgoing {
            topic: self.topics.state(),
            key: conversation_id.to_string(),
            record: OutRecord::State(Box::new(entry.state.clone())),
        })
    }
}

/// The conversation's state, created on first sight.
fn entry<'c>(
    conversations: &'c mut HashMap<String, Entry>,
    conversation_id: &str,
    partition: i32,
) -> &'c mut ConversationState {
    &mut conversations
        .entry(conversation_id.to_string())
        .or_insert_with(|| Entry {
            partition,
            state: ConversationState::new(conversation_id),
        })
        .state
}

/// A decoded input that must not reach the state (empty ids, oversized text, timestamps far
/// away...): dead-lettered as `invalid_record`, the validation kind leading the error message.
fn invalid(e: validate::Invalid) -> Rejection {
    Rejection::new("invalid_record", e.to_string())
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
            (self.topics.state(), ConversationState::SCHEMA),
        ]
    }

    fn handle(&mut self, msg: &Incoming<'_>) -> Result<Vec<Outgoing>, Rejection> {
        let now = (self.clock)();
        let (conversation_id, out) = if msg.topic == self.topics.commands() {
            let cmd: OperatorCommand = typed(msg.value)?;
            validate::command(&cmd, now, &validate::DEFAULT_LIMITS).map_err(invalid)?;
            if !self.conversations.contains_key(&cmd.conversation_id) {
                // A conversation nobody has seen: decide on a scratch state and keep it only if
                // the command opened a handoff (`take_over`/`pause`); a rejected command leaves
                // no state behind (and nothing in the changelog).
                let mut scratch = ConversationState::new(&cmd.conversation_id);
                let out = detect::on_command(&mut scratch, &cmd, &self.policy, now);
                let outgoing = self.publish(&cmd.conversation_id, out);
                if scratch.handoff_id.is_some() {
                    self.conversations.insert(
                        cmd.conversation_id.clone(),
                        Entry {
                            partition: msg.partition,
                            state: scratch,
                        },
                    );
                    self.changed = Some(cmd.conversation_id.clone());
                }
                return Ok(outgoing);
            }
            let state = entry(&mut self.conversations, &cmd.conversation_id, msg.partition);
            (
                cmd.conversation_id.clone(),
                detect::on_command(state, &cmd, &self.policy, now),
            )
        } else {
            let event: ConversationEvent = typed(msg.value)?;
            validate::event(&event, now, &validate::DEFAULT_LIMITS).map_err(invalid)?;
            let state = entry(
                &mut self.conversations,
                &event.conversation_id,
                msg.partition,
            );
            (
                event.conversation_id.clone(),
                detect::on_event(state, &event, &self.policy, now),
            )
        };
        let outgoing = self.publish(&conversation_id, out);
        self.changed = Some(conversation_id);
        Ok(outgoing)
    }

    fn changelog(&mut self) -> Vec<Outgoing> {
        self.changed
            .take()
            .and_then(|id| self.snapshot(&id))
            .into_iter()
            .collect()
    }

    fn tick(&mut self, now: chrono::DateTime<chrono::Utc>) -> Vec<Outgoing> {
        let mut out = Vec::new();
        let mut evicted = Vec::new();
        let mut touched = Vec::new();
        for (id, entry) in &mut self.conversations {
            let fired = detect::on_tick(&mut entry.state, &self.policy, now);
            if !fired.is_empty() {
                touched.push((id.clone(), fired));
            } else if entry.state.evictable(now, &self.policy) {
                evicted.push(id.clone());
            }
        }
        for (id, fired) in touched {
            out.extend(self.publish(&id, fired));
            out.extend(self.snapshot(&id));
        }
        for id in evicted {
            self.conversations.remove(&id);
            out.push(Outgoing {
                topic: self.topics.state(),
                key: id,
                record: OutRecord::Tombstone,
            });
        }
        out
    }

    fn state_topic(&self) -> Option<String> {
        Some(self.topics.state())
    }

    fn restore(
        &mut self,
        partition: i32,
        key: &str,
        value: Option<&Value>,
    ) -> Result<(), Rejection> {
        match value {
            None => {
                self.conversations.remove(key);
            }
            Some(v) => {
                let state: ConversationState = typed(v)?;
                self.conversations
                    .insert(key.to_string(), Entry { partition, state });
            }
        }
        Ok(())
    }

    fn revoke(&mut self, partitions: &[i32]) {
        self.conversations
            .retain(|_, e| !partitions.contains(&e.partition));
    }

    fn forget(&mut self) {
        self.conversations.clear();
        self.changed = None;
    }
}

/// Runs the detector until `shutdown` resolves.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let policy = handoff_semantic::with_learned_detectors(settings.load_policy()?)?;
    tracing::info!(policy_version = policy.version(), "policy loaded");
    handoff_core::detect::sentiment::warm_up();
    let stage = DetectorStage::new(policy, settings.topics());
    handoff_runtime::run_stage(settings, stage, shutdown).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use handoff_core::records::{CommandAction, Operator};

    fn command(id: &str, conversation: &str, action: CommandAction) -> OperatorCommand {
        OperatorCommand {
            command_id: id.into(),
            conversation_id: conversation.into(),
            handoff_id: None,
            operator: Operator {
                id: "u-1".into(),
                name: "Sam".into(),
                team: "general".into(),
            },
            issued_at: chrono::Utc::now(),
            action,
            note: None,
            send_follow_up_now: false,
            target_team: None,
            outcome: None,
        }
    }

    fn handle(stage: &mut DetectorStage, cmd: &OperatorCommand) -> Vec<Outgoing> {
        let topic = stage.topics.commands();
        let value = apache_avro::to_value(cmd).unwrap();
        let msg = Incoming {
            topic: &topic,
            partition: 0,
            offset: 0,
            key: Some(cmd.conversation_id.as_bytes()),
            value: &value,
        };
        stage.handle(&msg).unwrap()
    }

    #[test]
    fn commands_for_unknown_conversations_are_rejected_without_creating_state() {
        let mut stage = DetectorStage::new(Policy::builtin(), Topics::new("t."));
        for (i, action) in [
            CommandAction::Claim,
            CommandAction::Resume,
            CommandAction::Resolve,
        ]
        .into_iter()
        .enumerate()
        {
            let out = handle(
                &mut stage,
                &command(&format!("c-{i}"), &format!("ghost-{i}"), action),
            );
            assert!(
                matches!(&out[..], [Outgoing { record: OutRecord::Lifecycle(l), .. }] if !l.accepted),
                "{out:?}"
            );
            assert!(
                stage.changelog().is_empty(),
                "no snapshot for a rejected command"
            );
        }
        assert!(
            stage.is_empty(),
            "no state kept for conversations nobody has seen"
        );
    }

    #[test]
    fn a_take_over_of_an_unknown_conversation_still_opens_a_handoff() {
        let mut stage = DetectorStage::new(Policy::builtin(), Topics::new("t."));
        let out = handle(
            &mut stage,
            &command("c-1", "fresh", CommandAction::TakeOver),
        );
        assert!(out
            .iter()
            .any(|o| matches!(&o.record, OutRecord::Signal(_))));
        assert_eq!(stage.len(), 1);
        assert_eq!(
            stage.changelog().len(),
            1,
            "its state goes to the changelog"
        );
    }
}
