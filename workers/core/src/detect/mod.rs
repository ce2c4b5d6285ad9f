//! The detector's judgement: stop conditions over conversation events, and the control state
//! machine driven by them and by operator commands.
//!
//! Pure and synchronous: `on_event` and `on_command` take the conversation's state, the input and
//! the policy, mutate the state and return what must be published. "Now" is the input's own
//! timestamp, so a replay of recorded conversations decides exactly as the live run did.

mod explicit;

pub use explicit::is_explicit_request;

use crate::ids;
use crate::policy::Policy;
use crate::records::*;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// How many processed event and command ids a conversation remembers to drop redeliveries.
const SEEN_IDS: usize = 32;
/// How many distinct citations travel with a signal.
const MAX_CITATIONS: usize = 20;

/// Everything the detector remembers about one conversation. Serialisable: it is the value of the
/// `handoff.state` changelog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ConversationState {
    pub conversation_id: String,
    pub tenant_id: String,
    pub control: ControlState,
    /// The open (or last) handoff of this conversation.
    pub handoff_id: Option<String>,
    pub claimed_by: Option<String>,
    pub channel: String,
    pub language: Option<String>,
    pub contact: Option<Contact>,
    pub entry: Option<Entry>,
    pub transcript: VecDeque<Turn>,
    pub citations: Vec<Citation>,
    pub sentiment: VecDeque<f64>,
    pub agent_intent: Option<String>,
    pub agent_sub_intent: Option<String>,
    pub agent_intent_confidence: Option<f64>,
    /// Recently processed event and command ids, newest last.
    pub seen: VecDeque<String>,
    pub last_activity: Option<i64>,
}

/// What the detector publishes.
// Outputs are built once and moved straight to the producer; boxing the large signal would add
// an allocation per escalation for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum DetectorOutput {
    Signal(StopSignal),
    Control(AgentControl),
    Lifecycle(LifecycleEvent),
}

impl ConversationState {
    pub fn new(conversation_id: &str) -> Self {
        ConversationState {
            conversation_id: conversation_id.to_string(),
            ..Default::default()
        }
    }

    /// Records an id as processed; false if it was already seen (a redelivery).
    fn first_sight(&mut self, id: &str) -> bool {
        if self.seen.iter().any(|s| s == id) {
            return false;
        }
        if self.seen.len() == SEEN_IDS {
            self.seen.pop_front();
        }
        self.seen.push_back(id.to_string());
        true
    }

    fn absorb(&mut self, event: &ConversationEvent, window: usize) {
        if self.tenant_id.is_empty() {
            self.tenant_id.clone_from(&event.tenant_id);
        }
        if !event.channel.is_empty() {
            self.channel.clone_from(&event.channel);
        }
        if event.language.is_some() {
            self.language.clone_from(&event.language);
        }
        if let Some(c) = &event.contact {
            self.contact = Some(c.clone());
        }
        if let Some(e) = &event.entry {
            self.entry = Some(e.clone());
        }
        if let Some(agent) = &event.agent {
            if agent.intent.is_some() {
                self.agent_intent.clone_from(&agent.intent);
                self.agent_sub_intent.clone_from(&agent.sub_intent);
                self.agent_intent_confidence = agent.confidence;
            }
            for c in &agent.citations {
                if !self.citations.iter().any(|x| x.source_id == c.source_id) {
                    if self.citations.len() == MAX_CITATIONS {
                        self.citations.remove(0);
                    }
                    self.citations.push(c.clone());
                }
            }
        }
        if self.transcript.len() == window {
            self.transcript.pop_front();
        }
        self.transcript.push_back(Turn {
            event_id: event.event_id.clone(),
            actor: event.actor,
            text: event.text.clone(),
            occurred_at: event.occurred_at,
        });
        self.last_activity = Some(event.occurred_at.timestamp_millis());
    }

    /// Whether a human owns the conversation now (no new escalation fires).
    pub fn human_owned(&self) -> bool {
        matches!(
            self.control,
            ControlState::AwaitingHuman | ControlState::Claimed
        )
    }
}

/// Evaluates the stop conditions on one event.
pub fn on_event(
    state: &mut ConversationState,
    event: &ConversationEvent,
    policy: &Policy,
) -> Vec<DetectorOutput> {
    if !state.first_sight(&event.event_id) {
        return Vec::new();
    }
    state.absorb(event, policy.handoff.transcript_window);
    if state.control == ControlState::Resolved && event.actor == Actor::Contact {
        // A contact writing after resolution reopens the conversation with the agent.
        state.control = ControlState::AgentActive;
    }
    if state.human_owned() {
        return Vec::new();
    }
    let reasons = evaluate(event, policy);
    if reasons.is_empty() {
        return Vec::new();
    }
    escalate(state, event, reasons, policy)
}

/// Every rule that fires on this event, in policy order.
fn evaluate(event: &ConversationEvent, policy: &Policy) -> Vec<(Reason, Urgency)> {
    let mut fired = Vec::new();
    let rules = &policy.rules;
    if event.actor == Actor::Contact
        && rules.explicit_request.enabled
        && is_explicit_request(&event.text)
    {
        fired.push((
            Reason {
                kind: ReasonKind::ExplicitRequest,
                rule_id: rules.explicit_request.id.clone(),
                score: 1.0,
                threshold: None,
                evidence_event_id: event.event_id.clone(),
                evidence_text: event.text.clone(),
            },
            rules.explicit_request.urgency,
        ));
    }
    if let (Actor::Agent, Some(agent)) = (event.actor, &event.agent) {
        if rules.tool_call.enabled {
            if let Some(call) = agent
                .tool_calls
                .iter()
                .find(|c| rules.tool_call.names.iter().any(|n| n == &c.name))
            {
                fired.push((
                    Reason {
                        kind: ReasonKind::ToolCall,
                        rule_id: rules.tool_call.id.clone(),
                        score: 1.0,
                        threshold: None,
                        evidence_event_id: event.event_id.clone(),
                        evidence_text: format!("{}({})", call.name, call.arguments),
                    },
                    rules.tool_call.urgency,
                ));
            }
        }
    }
    fired
}

fn escalate(
    state: &mut ConversationState,
    event: &ConversationEvent,
    fired: Vec<(Reason, Urgency)>,
    policy: &Policy,
) -> Vec<DetectorOutput> {
    let urgency = fired
        .iter()
        .map(|(_, u)| *u)
        .min_by_key(|u| u.rank())
        .unwrap_or(Urgency::Normal);
    let reasons: Vec<Reason> = fired.into_iter().map(|(r, _)| r).collect();
    let handoff_id = ids::handoff_id(&state.conversation_id, &event.event_id);
    let now = event.occurred_at;
    let from = state.control;
    state.control = ControlState::AwaitingHuman;
    state.handoff_id = Some(handoff_id.clone());
    state.claimed_by = None;

    let signal = signal_for(
        state,
        &handoff_id,
        &event.event_id,
        Decision::Escalate,
        reasons,
        urgency,
        now,
        policy,
    );
    vec![
        DetectorOutput::Signal(signal),
        DetectorOutput::Control(AgentControl {
            control_id: ids::derive("control", &[&handoff_id, "pause"]),
            conversation_id: state.conversation_id.clone(),
            handoff_id: Some(handoff_id.clone()),
            issued_at: now,
            action: ControlAction::Pause,
            contact_notice: Some(policy.handoff.contact_notice.clone()),
            handoff_context: None,
            send_follow_up_now: false,
            follow_up_skipped_reason: None,
        }),
        DetectorOutput::Lifecycle(LifecycleEvent {
            lifecycle_id: ids::derive("lifecycle", &[&handoff_id, "escalated"]),
            handoff_id,
            conversation_id: state.conversation_id.clone(),
            transition: "escalated".into(),
            from_state: from,
            to_state: ControlState::AwaitingHuman,
            actor: "detector".into(),
            note: None,
            occurred_at: now,
            accepted: true,
            rejection_reason: None,
            command_id: None,
            team: None,
        }),
    ]
}

#[allow(clippy::too_many_arguments)]
fn signal_for(
    state: &ConversationState,
    handoff_id: &str,
    trigger_event_id: &str,
    decision: Decision,
    reasons: Vec<Reason>,
    urgency: Urgency,
    now: chrono::DateTime<chrono::Utc>,
    policy: &Policy,
) -> StopSignal {
    StopSignal {
        signal_id: ids::derive("signal", &[handoff_id]),
        handoff_id: handoff_id.to_string(),
        conversation_id: state.conversation_id.clone(),
        tenant_id: state.tenant_id.clone(),
        trigger_event_id: trigger_event_id.to_string(),
        decided_at: now,
        policy_version: policy.version().to_string(),
        decision,
        reasons,
        urgency,
        channel: state.channel.clone(),
        language: state.language.clone(),
        transcript: state.transcript.iter().cloned().collect(),
        contact: state.contact.clone(),
        entry: state.entry.clone(),
        citations: state.citations.clone(),
        sentiment: state.sentiment.iter().copied().collect(),
        agent_intent: state.agent_intent.clone(),
        agent_sub_intent: state.agent_sub_intent.clone(),
        agent_intent_confidence: state.agent_intent_confidence,
    }
}

/// Applies an operator command to the conversation's control state.
pub fn on_command(
    state: &mut ConversationState,
    cmd: &OperatorCommand,
    policy: &Policy,
) -> Vec<DetectorOutput> {
    if !state.first_sight(&cmd.command_id) {
        return Vec::new();
    }
    let now = cmd.issued_at;
    let actor = format!("operator:{}", cmd.operator.id);
    let from = state.control;
    let open = state.handoff_id.clone().filter(|_| state.human_owned());

    // A command that names a handoff other than the open one is about the past: reject it.
    if let (Some(named), Some(current)) = (&cmd.handoff_id, &state.handoff_id) {
        if named != current {
            return vec![reject(
                state,
                cmd,
                &actor,
                "the command names a handoff that is not this conversation's current one",
            )];
        }
    }

    let (transition, to, extra): (&str, ControlState, Vec<DetectorOutput>) =
        match (cmd.action, open) {
            (CommandAction::Unknown, _) => {
                return vec![reject(state, cmd, &actor, "unknown action")];
            }
            (CommandAction::Claim, Some(_)) if state.control == ControlState::Claimed => {
                if state.claimed_by.as_deref() == Some(cmd.operator.id.as_str()) {
                    return Vec::new(); // a repeated claim by the owner is a no-op
                }
                return vec![reject(
                    state,
                    cmd,
                    &actor,
                    "already claimed by another operator",
                )];
            }
            (CommandAction::Claim | CommandAction::TakeOver, Some(_)) => {
                state.claimed_by = Some(cmd.operator.id.clone());
                let t = if cmd.action == CommandAction::Claim {
                    "claimed"
                } else {
                    "taken_over"
                };
                (t, ControlState::Claimed, Vec::new())
            }
            (CommandAction::TakeOver | CommandAction::Pause, None) => {
                // A human pulls an active conversation without a stop condition.
                let handoff_id = ids::handoff_id(&state.conversation_id, &cmd.command_id);
                state.handoff_id = Some(handoff_id.clone());
                let reason = Reason {
                    kind: ReasonKind::Manual,
                    rule_id: format!(
                        "manual.{}",
                        if cmd.action == CommandAction::Pause {
                            "pause"
                        } else {
                            "take_over"
                        }
                    ),
                    score: 1.0,
                    threshold: None,
                    evidence_event_id: cmd.command_id.clone(),
                    evidence_text: cmd.note.clone().unwrap_or_default(),
                };
                let signal = signal_for(
                    state,
                    &handoff_id,
                    &cmd.command_id,
                    Decision::Escalate,
                    vec![reason],
                    Urgency::Normal,
                    now,
                    policy,
                );
                let control = AgentControl {
                    control_id: ids::derive("control", &[&handoff_id, "pause"]),
                    conversation_id: state.conversation_id.clone(),
                    handoff_id: Some(handoff_id.clone()),
                    issued_at: now,
                    action: ControlAction::Pause,
                    contact_notice: Some(policy.handoff.contact_notice.clone()),
                    handoff_context: None,
                    send_follow_up_now: false,
                    follow_up_skipped_reason: None,
                };
                if cmd.action == CommandAction::TakeOver {
                    state.claimed_by = Some(cmd.operator.id.clone());
                    (
                        "taken_over",
                        ControlState::Claimed,
                        vec![
                            DetectorOutput::Signal(signal),
                            DetectorOutput::Control(control),
                        ],
                    )
                } else {
                    state.claimed_by = None;
                    (
                        "paused",
                        ControlState::AwaitingHuman,
                        vec![
                            DetectorOutput::Signal(signal),
                            DetectorOutput::Control(control),
                        ],
                    )
                }
            }
            (CommandAction::Pause, Some(_)) => return Vec::new(), // already paused
            (CommandAction::Resume, Some(handoff_id)) => {
                let context = cmd
                    .note
                    .as_deref()
                    .filter(|n| !n.trim().is_empty())
                    .map(handback_context);
                let control = AgentControl {
                    control_id: ids::derive("control", &[&handoff_id, "resume", &cmd.command_id]),
                    conversation_id: state.conversation_id.clone(),
                    handoff_id: Some(handoff_id),
                    issued_at: now,
                    action: ControlAction::Resume,
                    contact_notice: None,
                    handoff_context: context,
                    send_follow_up_now: cmd.send_follow_up_now,
                    follow_up_skipped_reason: None,
                };
                state.claimed_by = None;
                (
                    "resumed",
                    ControlState::ReturnedToAgent,
                    vec![DetectorOutput::Control(control)],
                )
            }
            (CommandAction::Resolve, Some(handoff_id)) => {
                let control = AgentControl {
                    control_id: ids::derive("control", &[&handoff_id, "resolve", &cmd.command_id]),
                    conversation_id: state.conversation_id.clone(),
                    handoff_id: Some(handoff_id),
                    issued_at: now,
                    action: ControlAction::Resume,
                    contact_notice: None,
                    handoff_context: Some(match cmd.note.as_deref() {
                        Some(n) if !n.trim().is_empty() => {
                            format!("A human resolved this conversation. Their note: {n}")
                        }
                        _ => "A human resolved this conversation.".to_string(),
                    }),
                    send_follow_up_now: false,
                    follow_up_skipped_reason: None,
                };
                (
                    "resolved",
                    ControlState::Resolved,
                    vec![DetectorOutput::Control(control)],
                )
            }
            (CommandAction::Reassign, Some(_)) => match cmd.target_team.as_deref() {
                Some(team) if policy.has_team(team) => {
                    state.claimed_by = None;
                    ("reassigned", ControlState::AwaitingHuman, Vec::new())
                }
                Some(team) => {
                    return vec![reject(
                        state,
                        cmd,
                        &actor,
                        &format!("unknown team {team:?}"),
                    )]
                }
                None => return vec![reject(state, cmd, &actor, "reassign needs a target_team")],
            },
            (_, None) => {
                return vec![reject(
                    state,
                    cmd,
                    &actor,
                    &format!(
                        "no open handoff (conversation is {})",
                        state.control.as_str()
                    ),
                )];
            }
        };

    let handoff_id = state.handoff_id.clone().unwrap_or_default();
    let mut out = extra;
    out.push(DetectorOutput::Lifecycle(LifecycleEvent {
        lifecycle_id: ids::derive("lifecycle", &[&handoff_id, transition, &cmd.command_id]),
        handoff_id,
        conversation_id: state.conversation_id.clone(),
        transition: transition.into(),
        from_state: from,
        to_state: to,
        actor,
        note: cmd.note.clone(),
        occurred_at: now,
        accepted: true,
        rejection_reason: None,
        command_id: Some(cmd.command_id.clone()),
        team: if cmd.action == CommandAction::Reassign {
            cmd.target_team.clone()
        } else {
            Some(cmd.operator.team.clone()).filter(|t| !t.is_empty())
        },
    }));
    // returned_to_agent is a passing state: the agent is active again at once.
    state.control = if to == ControlState::ReturnedToAgent {
        ControlState::AgentActive
    } else {
        to
    };
    out
}

/// The note as the agent must read it on every following turn.
pub fn handback_context(note: &str) -> String {
    format!(
        "A human just handed this conversation back to you. Their note: {} Do not re-open topics the human already addressed.",
        note.trim()
    )
}

fn reject(
    state: &ConversationState,
    cmd: &OperatorCommand,
    actor: &str,
    why: &str,
) -> DetectorOutput {
    let handoff_id = cmd
        .handoff_id
        .clone()
        .or_else(|| state.handoff_id.clone())
        .unwrap_or_default();
    DetectorOutput::Lifecycle(LifecycleEvent {
        lifecycle_id: ids::derive("lifecycle", &[&handoff_id, "rejected", &cmd.command_id]),
        handoff_id,
        conversation_id: state.conversation_id.clone(),
        transition: "rejected".into(),
        from_state: state.control,
        to_state: state.control,
        actor: actor.to_string(),
        note: cmd.note.clone(),
        occurred_at: cmd.issued_at,
        accepted: false,
        rejection_reason: Some(why.to_string()),
        command_id: Some(cmd.command_id.clone()),
        team: cmd.target_team.clone(),
    })
}

#[cfg(test)]
mod tests;
