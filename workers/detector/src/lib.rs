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
use handoff_core::detect::{self, Clock, ConversationState, DetectorOutput, Input};
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

/// A decoded input that must not reach the state (empty ids, oversized text, timestamps far
/// away...): dead-lettered as `invalid_record`, the validation kind leading the error message.
fn invalid(e: validate::Invalid) -> Rejection {
    Rejection::new(validate::DEAD_LETTER_KIND, e.to_string())
}

/// A conversation's state lives with the partition its key hashes to: a record whose Kafka key
/// is not its conversation id (or is missing) sits on a partition that may belong to another
/// instance, so handling it here would split the conversation's state. Dead-lettered as
/// `key_mismatch` instead.
fn check_key(key: Option<&[u8]>, conversation_id: &str) -> Result<(), Rejection> {
    match key {
        Some(k) if k == conversation_id.as_bytes() => Ok(()),
        Some(k) => Err(Rejection::new(
            "key_mismatch",
            format!(
                "the record's key {:?} is not its conversation id {conversation_id:?}; producers must key records by conversation id",
                String::from_utf8_lossy(k)
            ),
        )),
        None => Err(Rejection::new(
            "key_mismatch",
            format!("the record has no key; producers must key records by conversation id {conversation_id:?}"),
        )),
    }
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
        // Decoded first (a record that does not decode is a `decode` rejection); then the one
        // step the offline pipeline runs too: validation, then the decision.
        let command: OperatorCommand;
        let event: ConversationEvent;
        let input = if msg.topic == self.topics.commands() {
            command = typed(msg.value)?;
            check_key(msg.key, &command.conversation_id)?;
            Input::Command(&command)
        } else {
            event = typed(msg.value)?;
            check_key(msg.key, &event.conversation_id)?;
            Input::Event(&event)
        };
        let conversation_id = input.conversation_id().to_string();
        let state = self
            .conversations
            .get_mut(&conversation_id)
            .map(|e| &mut e.state);
        let stepped = detect::step(state, input, &self.policy, Clock::at(now)).map_err(invalid)?;
        match stepped.created {
            Some(created) => {
                self.conversations.insert(
                    conversation_id.clone(),
                    Entry {
                        partition: msg.partition,
                        state: created,
                    },
                );
                self.changed = Some(conversation_id.clone());
            }
            None if self.conversations.contains_key(&conversation_id) => {
                self.changed = Some(conversation_id.clone());
            }
            // A rejected command about a conversation nobody has seen: no state, no snapshot.
            None => {}
        }
        Ok(self.publish(&conversation_id, stepped.outputs))
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

    fn event(id: &str, conversation: &str, at: chrono::DateTime<chrono::Utc>) -> ConversationEvent {
        ConversationEvent {
            event_id: id.into(),
            conversation_id: conversation.into(),
            tenant_id: "acme".into(),
            occurred_at: at,
            channel: "web".into(),
            actor: handoff_core::records::Actor::Contact,
            text: "my card was charged twice".into(),
            language: Some("en".into()),
            agent: None,
            contact: None,
            entry: None,
            attributes: Default::default(),
        }
    }

    fn handle_event(
        stage: &mut DetectorStage,
        e: &ConversationEvent,
    ) -> Result<Vec<Outgoing>, Rejection> {
        let topic = stage.topics.events();
        let value = apache_avro::to_value(e).unwrap();
        stage.handle(&Incoming {
            topic: &topic,
            partition: 0,
            offset: 0,
            key: Some(e.conversation_id.as_bytes()),
            value: &value,
        })
    }

    /// Replay and the live detector run one step: each record the detector dead-letters is
    /// refused by the offline pipeline with the same kind and error, and changes nothing there.
    #[test]
    fn replay_refuses_what_the_detector_dead_letters_with_the_same_reason() {
        use chrono::TimeZone;
        use handoff_core::pipeline::Pipeline;
        use handoff_core::replay::ReplayRecord;
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 11, 20, 10, 0, 0)
            .unwrap();
        let valid = event("c-1", "conv", at);
        let mut no_id = event("", "conv", at);
        no_id.text = "hello".into();
        let mut huge = event("c-2", "conv", at);
        huge.text = "a".repeat(70_000);
        let mut bad_confidence = event("c-3", "conv", at);
        bad_confidence.actor = handoff_core::records::Actor::Agent;
        bad_confidence.agent = Some(handoff_core::records::AgentTurn {
            confidence: Some(87.0),
            ..Default::default()
        });
        // Seconds read as milliseconds upstream: 1970.
        let epoch = event(
            "c-4",
            "conv",
            chrono::Utc.timestamp_millis_opt(1_795_168_931).unwrap(),
        );
        let mut no_operator = command("op-1", "conv", CommandAction::Claim);
        no_operator.operator.id = String::new();
        no_operator.issued_at = at;

        let mut stage = DetectorStage::new(Policy::builtin(), Topics::new("t."));
        stage.clock = || {
            chrono::Utc
                .with_ymd_and_hms(2026, 11, 20, 10, 0, 0)
                .unwrap()
        };
        handle_event(&mut stage, &valid).expect("a valid event is handled");
        let policy = Policy::builtin();
        let mut pipeline = Pipeline::new(&policy);
        pipeline
            .step(&ReplayRecord::Event(valid))
            .expect("and replayed");
        let bad = [
            ReplayRecord::Event(no_id),
            ReplayRecord::Event(huge),
            ReplayRecord::Event(bad_confidence),
            ReplayRecord::Event(epoch),
            ReplayRecord::Command(no_operator.clone()),
        ];
        let mut kinds = Vec::new();
        for record in &bad {
            let dead_letter = match record {
                ReplayRecord::Event(e) => handle_event(&mut stage, e),
                ReplayRecord::Command(c) => {
                    let topic = stage.topics.commands();
                    let value = apache_avro::to_value(c).unwrap();
                    stage.handle(&Incoming {
                        topic: &topic,
                        partition: 0,
                        offset: 0,
                        key: Some(c.conversation_id.as_bytes()),
                        value: &value,
                    })
                }
            }
            .expect_err("the detector dead-letters it");
            let refused = pipeline.step(record).expect_err("replay refuses it");
            assert_eq!(refused.kind, dead_letter.kind, "{record:?}");
            assert_eq!(refused.error, dead_letter.message, "{record:?}");
            assert_eq!(
                refused.record_id,
                match record {
                    ReplayRecord::Event(e) => e.event_id.clone(),
                    ReplayRecord::Command(c) => c.command_id.clone(),
                }
            );
            kinds.push(refused.error.split(':').next().unwrap().to_string());
        }
        assert_eq!(
            kinds,
            [
                "empty_id",
                "text_too_large",
                "out_of_range",
                "timestamp_too_old",
                "empty_id"
            ]
        );
        // Refused records changed nothing: the conversation saw one event only.
        assert_eq!(pipeline.state("conv").unwrap().transcript.len(), 1);
    }

    /// Handles `cmd` as a record with the given Kafka key; the rejection kind if refused.
    fn rejection_with_key(
        stage: &mut DetectorStage,
        cmd: &OperatorCommand,
        key: Option<&[u8]>,
    ) -> Option<&'static str> {
        let topic = stage.topics.commands();
        let value = apache_avro::to_value(cmd).unwrap();
        let msg = Incoming {
            topic: &topic,
            partition: 0,
            offset: 0,
            key,
            value: &value,
        };
        stage.handle(&msg).err().map(|r| r.kind)
    }

    #[test]
    fn records_whose_key_is_not_their_conversation_id_are_refused_as_key_mismatch() {
        let mut stage = DetectorStage::new(Policy::builtin(), Topics::new("t."));
        let take_over = command("c-1", "conv-1", CommandAction::TakeOver);
        assert_eq!(
            rejection_with_key(&mut stage, &take_over, None),
            Some("key_mismatch")
        );
        assert_eq!(
            rejection_with_key(&mut stage, &take_over, Some(b"conv-2")),
            Some("key_mismatch")
        );
        assert!(
            stage.is_empty(),
            "a refused record opens no handoff and keeps no state"
        );
        assert_eq!(
            rejection_with_key(&mut stage, &take_over, Some(b"conv-1")),
            None
        );
        assert!(
            !stage.is_empty(),
            "the same record keyed by its conversation id is handled"
        );
    }

    #[test]
    fn the_key_check_names_the_key_and_the_conversation() {
        let wrong = check_key(Some(b"k-9"), "conv-1").unwrap_err();
        assert_eq!(wrong.kind, "key_mismatch");
        assert!(
            wrong.message.contains("\"k-9\"") && wrong.message.contains("\"conv-1\""),
            "{}",
            wrong.message
        );
        let missing = check_key(None, "conv-1").unwrap_err();
        assert!(missing.message.contains("no key"), "{}", missing.message);
        assert!(check_key(Some(b"conv-1"), "conv-1").is_ok());
    }
}
