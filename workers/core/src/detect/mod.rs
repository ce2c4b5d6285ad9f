//! The detector's judgement: stop conditions over conversation events, and the control state
//! machine driven by them, by operator commands and by the clock.
//!
//! Pure and synchronous: `on_event`, `on_command` and `on_tick` take the conversation's state,
//! the input, the policy and "now", mutate the state and return what must be published. The live
//! detector passes the wall clock; `handoff replay` passes each record's own time, so a replay
//! decides as the live run did and tests drive time by hand.
//!
//! States (DESIGN.md): `agent_active → awaiting_human → claimed → resolved | returned_to_agent →
//! agent_active`. While a human owns the conversation no new escalation fires; after a handback a
//! cool-down keeps the closed topic from re-escalating; an unclaimed handoff past its claim-by
//! deadline breaches its SLA and re-escalates with higher urgency.

mod explicit;
mod fraud;
mod learned;
mod literals;
mod packed_contact;
pub mod ring;
mod rules;
mod sales;
pub mod scope;
pub mod sentiment;
mod step;
mod transcript;

pub use explicit::is_explicit_request;
pub use fraud::is_fraud_signal;
pub use packed_contact::PackedContact;
pub use ring::Ring;
pub use rules::Fired;
pub use step::{check, step, Clock, Input, Stepped};
pub use transcript::{Transcript, TurnRef};

use crate::ids;
use crate::policy::Policy;
use crate::records::*;
use crate::time::Timestamp;
use chrono::Duration;
use serde::{Deserialize, Serialize};

/// How many processed event and command ids a conversation remembers to drop redeliveries.
const SEEN_IDS: usize = 16;
/// Bytes of turn text the state keeps (and so a signal's transcript carries) at most: beyond
/// it the oldest turns go, except the opening contact turn, which states the problem. With
/// ordinary chat turns (60-80 bytes) that is 10-13 turns; the policy's `transcript_window`
/// still caps the count. It bounds the state per open conversation (≤ 2 KB in memory at 20
/// turns, per `cargo bench --bench state_size`; the state is also the changelog record
/// written after every event). 832 is the largest 64-byte step under 1 KB that meets it.
pub const TRANSCRIPT_TEXT_BUDGET: usize = 832;
/// Bytes of one turn's text kept in the state; longer texts are cut at a character boundary
/// and end with "…" (the full text is in the event, on `conversation.events`).
pub const MAX_TURN_TEXT: usize = 320;
/// How many distinct citations travel with a signal.
const MAX_CITATIONS: usize = 10;
/// How many contact-turn sentiment scores are kept (the trajectory window is shorter).
const SENTIMENT_HISTORY: usize = 8;
/// Reasons carried by a re-escalated handoff at most (each SLA breach or reassignment adds one).
const MAX_REASONS: usize = 12;
/// The rule id of a reassignment's reason; its evidence is the target team.
pub const REASSIGN_RULE: &str = "manual.reassign";
/// How many times one handoff may breach its SLA (and re-escalate) before the detector stops
/// re-escalating it; each breach raises urgency, so more would page nobody new.
const MAX_SLA_BREACHES: u32 = 3;

/// After a handback: which reason kinds may not re-escalate, and until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cooldown {
    pub kinds: Vec<ReasonKind>,
    pub turns_left: u32,
    pub until_ms: i64,
}

/// Everything the detector remembers about one conversation. Serialisable: it is the value of
/// the `handoff.state` changelog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ConversationState {
    pub conversation_id: String,
    pub tenant_id: String,
    pub control: ControlState,
    /// The open (or last) handoff of this conversation.
    pub handoff_id: Option<String>,
    /// What triggered it, its reasons and urgency (an SLA re-escalation repeats them).
    pub trigger_id: Option<String>,
    pub open_reasons: Vec<Reason>,
    pub urgency: Option<Urgency>,
    pub claimed_by: Option<String>,
    /// Claim-by deadline of an unclaimed handoff, epoch milliseconds.
    pub claim_by_ms: Option<i64>,
    pub sla_breaches: u32,
    pub cooldown: Option<Cooldown>,
    pub low_confidence_streak: u32,
    pub channel: String,
    pub language: Option<String>,
    // Packed (one exact-size buffer): the state map holds many. Boxed: most conversations
    // have no entry block.
    pub contact: Option<PackedContact>,
    pub entry: Option<Box<Entry>>,
    pub transcript: Transcript,
    pub citations: Vec<Citation>,
    /// The last contact-turn sentiment scores, oldest first (inline; `f32` is ample for a
    /// score in [-1, 1], and they travel as Avro doubles).
    #[serde(with = "ring::f32_as_f64")]
    pub sentiment: Ring<f32, SENTIMENT_HISTORY>,
    pub agent_intent: Option<String>,
    pub agent_sub_intent: Option<String>,
    pub agent_intent_confidence: Option<f64>,
    /// 64-bit hashes (FNV-1a) of recently processed event and command ids, newest last: 8
    /// bytes each instead of the id, and a collision among 16 ids is a 1-in-10^17 event.
    /// Inline: the ring is full after 16 events, and a heap buffer would only add a header.
    #[serde(default)]
    pub seen_hashes: Ring<i64, SEEN_IDS>,
    /// Last activity (wall clock of processing), epoch milliseconds.
    pub last_activity_ms: i64,
    /// The learned detectors' memory across turns (see `learned.rs`); absent in older states.
    /// Fraud evidence carried over the contact turns, decayed each turn.
    #[serde(default)]
    pub fraud_evidence: f64,
    /// Agent answers below the frustration rule's weak confidence, in a row.
    #[serde(default)]
    pub weak_answer_streak: u32,
    /// Contact turns that said the answer missed, or repeated the question.
    #[serde(default)]
    pub unanswered: u32,
    /// Sign sketch of the last contact turn's embedding (48 bytes), to tell a rephrase.
    #[serde(default)]
    pub question_sketch: Vec<i64>,
    /// Whether an agent answered since that contact turn.
    #[serde(default)]
    pub answered_since_question: bool,
}

/// `text` cut to at most `max` bytes at a character boundary, "…" marking the cut.
fn clipped(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut s = String::with_capacity(end + '…'.len_utf8());
    s.push_str(text[..end].trim_end());
    s.push('…');
    s.into()
}

/// FNV-1a, 64 bits: stable across builds and platforms (the hashes live in the changelog).
fn id_hash(id: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as i64
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
        let h = id_hash(id);
        if self.seen_hashes.contains(&h) {
            return false;
        }
        self.seen_hashes.push(h);
        true
    }

    fn push_sentiment(&mut self, score: f64) {
        self.sentiment.push(score as f32);
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
            self.contact = Some(PackedContact::new(c));
        }
        if let Some(e) = &event.entry {
            self.entry = Some(Box::new(e.clone()));
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
        if self.transcript.len() >= window {
            self.transcript.pop_front();
        }
        self.transcript.push_back(
            &event.event_id,
            event.actor,
            &clipped(&event.text, MAX_TURN_TEXT),
            event.occurred_at,
        );
        self.trim_to_budget();
    }

    /// Drops the oldest turns while the text is over [`TRANSCRIPT_TEXT_BUDGET`], keeping the
    /// newest turn and the opening contact turn (the first turn, when the contact wrote it).
    fn trim_to_budget(&mut self) {
        while self.transcript.text_bytes() > TRANSCRIPT_TEXT_BUDGET && self.transcript.len() > 2 {
            let opening_contact = self
                .transcript
                .get(0)
                .is_some_and(|t| t.actor == Actor::Contact);
            self.transcript.remove(usize::from(opening_contact));
        }
    }

    /// Whether a human owns the conversation now (no new escalation fires).
    pub fn human_owned(&self) -> bool {
        matches!(
            self.control,
            ControlState::AwaitingHuman | ControlState::Claimed
        )
    }

    /// Whether the conversation may be forgotten: idle, and nobody waiting or cooling down.
    pub fn evictable(&self, now: Timestamp, policy: &Policy) -> bool {
        let idle = Duration::minutes(i64::from(policy.handoff.idle_eviction_minutes));
        !self.human_owned()
            && self
                .cooldown
                .as_ref()
                .is_none_or(|c| c.until_ms <= now.timestamp_millis())
            && self.last_activity_ms + idle.num_milliseconds() <= now.timestamp_millis()
    }

    /// Drops reasons the cool-down after a handback suppresses, and counts down its turns.
    fn apply_cooldown(
        &mut self,
        event: &ConversationEvent,
        fired: Vec<Fired>,
        now: Timestamp,
    ) -> Vec<Fired> {
        let Some(c) = &mut self.cooldown else {
            return fired;
        };
        let active = c.turns_left > 0 || now.timestamp_millis() < c.until_ms;
        if event.actor == Actor::Contact && c.turns_left > 0 {
            c.turns_left -= 1;
        }
        if !active {
            self.cooldown = None;
            return fired;
        }
        let kinds = c.kinds.clone();
        fired
            .into_iter()
            .filter(|f| !kinds.contains(&f.reason.kind))
            .collect()
    }
}

fn most_urgent(urgencies: impl Iterator<Item = Urgency>) -> Urgency {
    urgencies
        .min_by_key(|u| u.rank())
        .unwrap_or(Urgency::Normal)
}

/// One step more urgent.
fn raised(u: Urgency) -> Urgency {
    match u {
        Urgency::Nurture => Urgency::Normal,
        Urgency::Normal | Urgency::Immediate => Urgency::Immediate,
    }
}

/// Evaluates the stop conditions on one event.
pub fn on_event(
    state: &mut ConversationState,
    event: &ConversationEvent,
    policy: &Policy,
    now: Timestamp,
) -> Vec<DetectorOutput> {
    if !state.first_sight(&event.event_id) {
        return Vec::new();
    }
    state.last_activity_ms = now.timestamp_millis();
    state.absorb(event, policy.handoff.transcript_window);
    if state.control == ControlState::Resolved && event.actor == Actor::Contact {
        // A contact writing after resolution is back with the agent.
        state.control = ControlState::AgentActive;
    }
    let fired = rules::evaluate(state, event, policy);
    if state.human_owned() {
        return Vec::new();
    }
    let fired = state.apply_cooldown(event, fired, now);
    if fired.is_empty() {
        return Vec::new();
    }
    decide(state, &event.event_id, fired, policy, now)
}

/// Escalates, or flags when only nurture-level reasons fired or the plan has handoff off.
fn decide(
    state: &mut ConversationState,
    trigger_id: &str,
    fired: Vec<Fired>,
    policy: &Policy,
    now: Timestamp,
) -> Vec<DetectorOutput> {
    let flag_only = fired.iter().all(|f| f.flag_only);
    let urgency = most_urgent(fired.iter().map(|f| f.urgency));
    let mut reasons: Vec<Reason> = fired.into_iter().map(|f| f.reason).collect();
    let handoff_id = ids::handoff_id(&state.conversation_id, trigger_id);
    let plan = state.contact.as_ref().and_then(|c| c.plan());

    if flag_only || policy.handoff_disabled_for(plan) {
        if !flag_only {
            reasons.push(Reason {
                kind: ReasonKind::HandoffDisabledByPlan,
                rule_id: "plans.handoff_disabled".into(),
                score: 1.0,
                threshold: None,
                evidence_event_id: trigger_id.to_string(),
                evidence_text: format!("plan {:?} has handoff disabled", plan.unwrap_or_default()),
            });
        }
        let signal = signal_for(
            state,
            SignalSpec {
                handoff_id: &handoff_id,
                trigger_event_id: trigger_id,
                attempt: 0,
                decision: Decision::Flag,
                reasons,
                urgency,
            },
            now,
            policy,
        );
        let lifecycle = lifecycle(
            state,
            Transition::by_detector(&handoff_id, "flagged", state.control, state.control),
            now,
        );
        return vec![
            DetectorOutput::Signal(signal),
            DetectorOutput::Lifecycle(lifecycle),
        ];
    }

    let from = state.control;
    state.control = ControlState::AwaitingHuman;
    state.handoff_id = Some(handoff_id.clone());
    state.trigger_id = Some(trigger_id.to_string());
    state.open_reasons = reasons.clone();
    state.urgency = Some(urgency);
    state.claimed_by = None;
    state.sla_breaches = 0;
    state.claim_by_ms = Some((now + policy.sla.claim_within(urgency)).timestamp_millis());
    state.cooldown = None;

    let signal = signal_for(
        state,
        SignalSpec {
            handoff_id: &handoff_id,
            trigger_event_id: trigger_id,
            attempt: 0,
            decision: Decision::Escalate,
            reasons,
            urgency,
        },
        now,
        policy,
    );
    vec![
        DetectorOutput::Signal(signal),
        DetectorOutput::Control(pause(state, &handoff_id, now, policy)),
        DetectorOutput::Lifecycle(lifecycle(
            state,
            Transition::by_detector(&handoff_id, "escalated", from, ControlState::AwaitingHuman),
            now,
        )),
    ]
}

fn pause(
    state: &ConversationState,
    handoff_id: &str,
    now: Timestamp,
    policy: &Policy,
) -> AgentControl {
    AgentControl {
        control_id: ids::derive("control", &[handoff_id, "pause"]),
        conversation_id: state.conversation_id.clone(),
        handoff_id: Some(handoff_id.to_string()),
        issued_at: now,
        action: ControlAction::Pause,
        // The tenant's own notice when its profile has one: the contact hears its company.
        contact_notice: Some(
            policy
                .notice_for_tenant(&state.tenant_id, state.language.as_deref())
                .to_string(),
        ),
        handoff_context: None,
        send_follow_up_now: false,
        follow_up_skipped_reason: None,
    }
}

/// One control-state transition as its LifecycleEvent records it.
struct Transition<'a> {
    handoff_id: &'a str,
    /// `escalated`, `claimed`, `resumed`, ...
    name: &'a str,
    from: ControlState,
    to: ControlState,
    /// `detector` or `operator:<id>`.
    actor: &'a str,
    note: Option<String>,
    /// The command that caused it; also what makes its id unique per command.
    command_id: Option<&'a str>,
    team: Option<String>,
}

impl<'a> Transition<'a> {
    /// A transition the detector makes on its own (no command, note or team).
    fn by_detector(
        handoff_id: &'a str,
        name: &'a str,
        from: ControlState,
        to: ControlState,
    ) -> Self {
        Transition {
            handoff_id,
            name,
            from,
            to,
            actor: "detector",
            note: None,
            command_id: None,
            team: None,
        }
    }
}

fn lifecycle(state: &ConversationState, t: Transition<'_>, now: Timestamp) -> LifecycleEvent {
    let discriminator = t.command_id.unwrap_or("detector");
    LifecycleEvent {
        lifecycle_id: ids::derive("lifecycle", &[t.handoff_id, t.name, discriminator]),
        handoff_id: t.handoff_id.to_string(),
        conversation_id: state.conversation_id.clone(),
        transition: t.name.into(),
        from_state: t.from,
        to_state: t.to,
        actor: t.actor.to_string(),
        note: t.note,
        occurred_at: now,
        accepted: true,
        rejection_reason: None,
        command_id: t.command_id.map(str::to_string),
        team: t.team,
    }
}

/// What a StopSignal decides, beside what the conversation's state contributes.
struct SignalSpec<'a> {
    handoff_id: &'a str,
    trigger_event_id: &'a str,
    /// 0 for the first signal of a handoff; the SLA breach count for its re-escalations.
    attempt: u32,
    decision: Decision,
    reasons: Vec<Reason>,
    urgency: Urgency,
}

fn signal_for(
    state: &ConversationState,
    spec: SignalSpec<'_>,
    now: Timestamp,
    policy: &Policy,
) -> StopSignal {
    let handoff_id = spec.handoff_id;
    let signal_id = if spec.attempt == 0 {
        ids::derive("signal", &[handoff_id])
    } else {
        ids::derive("signal", &[handoff_id, "sla", &spec.attempt.to_string()])
    };
    StopSignal {
        signal_id,
        handoff_id: handoff_id.to_string(),
        conversation_id: state.conversation_id.clone(),
        tenant_id: state.tenant_id.clone(),
        trigger_event_id: spec.trigger_event_id.to_string(),
        decided_at: now,
        policy_version: policy.version().to_string(),
        decision: spec.decision,
        reasons: spec.reasons,
        urgency: spec.urgency,
        channel: state.channel.clone(),
        language: state.language.clone(),
        transcript: state.transcript.iter().map(|t| t.to_turn()).collect(),
        contact: state.contact.as_ref().map(PackedContact::to_contact),
        entry: state.entry.as_deref().cloned(),
        citations: state.citations.clone(),
        sentiment: state.sentiment.iter().map(f64::from).collect(),
        agent_intent: state.agent_intent.clone(),
        agent_sub_intent: state.agent_sub_intent.clone(),
        agent_intent_confidence: state.agent_intent_confidence,
    }
}

/// The clock's part: an unclaimed handoff past its claim-by deadline breaches its SLA, which is
/// recorded (`sla_breached`) and re-escalated with higher urgency (and so higher priority).
pub fn on_tick(
    state: &mut ConversationState,
    policy: &Policy,
    now: Timestamp,
) -> Vec<DetectorOutput> {
    let (Some(deadline), Some(handoff_id), Some(trigger)) = (
        state.claim_by_ms,
        state.handoff_id.clone(),
        state.trigger_id.clone(),
    ) else {
        return Vec::new();
    };
    if state.control != ControlState::AwaitingHuman
        || now.timestamp_millis() < deadline
        || state.sla_breaches >= MAX_SLA_BREACHES
    {
        return Vec::new();
    }
    state.sla_breaches += 1;
    let attempt = state.sla_breaches;
    let urgency = raised(state.urgency.unwrap_or(Urgency::Normal));
    state.urgency = Some(urgency);
    state.claim_by_ms = Some((now + policy.sla.claim_within(urgency)).timestamp_millis());
    let overdue_min = (now.timestamp_millis() - deadline) as f64 / 60_000.0;
    let mut reasons = vec![Reason {
        kind: ReasonKind::SlaBreach,
        rule_id: "sla.claim_by".into(),
        score: overdue_min,
        threshold: Some(0.0),
        evidence_event_id: trigger.clone(),
        evidence_text: format!(
            "unclaimed {overdue_min:.0} min past its claim-by deadline (breach {attempt})"
        ),
    }];
    // Earlier re-routing reasons stay: the router counts them as the route's attempt.
    reasons.extend(state.open_reasons.iter().cloned());
    reasons.truncate(MAX_REASONS);
    state.open_reasons.clone_from(&reasons);
    let mut breach = lifecycle(
        state,
        Transition::by_detector(
            &handoff_id,
            "sla_breached",
            ControlState::AwaitingHuman,
            ControlState::AwaitingHuman,
        ),
        now,
    );
    breach.lifecycle_id = ids::derive(
        "lifecycle",
        &[&handoff_id, "sla_breached", &attempt.to_string()],
    );
    vec![
        DetectorOutput::Lifecycle(breach),
        DetectorOutput::Signal(signal_for(
            state,
            SignalSpec {
                handoff_id: &handoff_id,
                trigger_event_id: &trigger,
                attempt,
                decision: Decision::Escalate,
                reasons,
                urgency,
            },
            now,
            policy,
        )),
    ]
}

/// What a command did to the control state.
enum Applied {
    /// Answered without a transition: a rejection, or nothing for a no-op.
    Answered(Vec<DetectorOutput>),
    Moved(Moved),
}

/// A transition a command made: its name, the state it leads to, and the outputs published
/// before its LifecycleEvent.
struct Moved {
    name: &'static str,
    to: ControlState,
    outputs: Vec<DetectorOutput>,
}

/// Applies an operator command to the conversation's control state.
pub fn on_command(
    state: &mut ConversationState,
    cmd: &OperatorCommand,
    policy: &Policy,
    now: Timestamp,
) -> Vec<DetectorOutput> {
    if !state.first_sight(&cmd.command_id) {
        return Vec::new();
    }
    state.last_activity_ms = now.timestamp_millis();
    // Every output is stamped with the detector's `now` (not the operator's `issued_at`): the
    // auditor orders transitions by time, and one clock per decision keeps that order true.
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
                now,
            )];
        }
    }

    let applied = match (cmd.action, open) {
        (CommandAction::Unknown, _) => {
            Applied::Answered(vec![reject(state, cmd, &actor, "unknown action", now)])
        }
        (CommandAction::Claim | CommandAction::TakeOver, Some(_)) => claim(state, cmd, &actor, now),
        (CommandAction::TakeOver | CommandAction::Pause, None) => {
            Applied::Moved(manual_handoff(state, cmd, policy, now))
        }
        (CommandAction::Pause, Some(_)) => Applied::Answered(Vec::new()), // already paused
        (CommandAction::Resume, Some(handoff_id)) => {
            Applied::Moved(resume(state, cmd, handoff_id, policy, now))
        }
        (CommandAction::Resolve, Some(handoff_id)) => {
            Applied::Moved(resolve(state, cmd, handoff_id, policy, now))
        }
        (CommandAction::Reassign, Some(handoff_id)) => {
            reassign(state, cmd, &handoff_id, &actor, policy, now)
        }
        (_, None) => {
            let why = format!(
                "no open handoff (conversation is {})",
                state.control.as_str()
            );
            Applied::Answered(vec![reject(state, cmd, &actor, &why, now)])
        }
    };
    match applied {
        Applied::Answered(outputs) => outputs,
        Applied::Moved(moved) => record_transition(state, cmd, &actor, from, moved, now),
    }
}

/// `claim` or `take_over` of an open handoff. A repeated claim by the owner is a no-op; a claim
/// of a handoff another operator holds is rejected.
fn claim(
    state: &mut ConversationState,
    cmd: &OperatorCommand,
    actor: &str,
    now: Timestamp,
) -> Applied {
    if cmd.action == CommandAction::Claim && state.control == ControlState::Claimed {
        if state.claimed_by.as_deref() == Some(cmd.operator.id.as_str()) {
            return Applied::Answered(Vec::new());
        }
        return Applied::Answered(vec![reject(
            state,
            cmd,
            actor,
            "already claimed by another operator",
            now,
        )]);
    }
    state.claimed_by = Some(cmd.operator.id.clone());
    state.claim_by_ms = None;
    let name = if cmd.action == CommandAction::Claim {
        "claimed"
    } else {
        "taken_over"
    };
    Applied::Moved(Moved {
        name,
        to: ControlState::Claimed,
        outputs: Vec::new(),
    })
}

/// `take_over` or `pause` of an active conversation: a human pulls it without a stop condition.
fn manual_handoff(
    state: &mut ConversationState,
    cmd: &OperatorCommand,
    policy: &Policy,
    now: Timestamp,
) -> Moved {
    let handoff_id = ids::handoff_id(&state.conversation_id, &cmd.command_id);
    let take_over = cmd.action == CommandAction::TakeOver;
    let reason = Reason {
        kind: ReasonKind::Manual,
        rule_id: format!("manual.{}", if take_over { "take_over" } else { "pause" }),
        score: 1.0,
        threshold: None,
        evidence_event_id: cmd.command_id.clone(),
        evidence_text: cmd.note.clone().unwrap_or_default(),
    };
    state.handoff_id = Some(handoff_id.clone());
    state.trigger_id = Some(cmd.command_id.clone());
    state.open_reasons = vec![reason.clone()];
    state.urgency = Some(Urgency::Normal);
    state.sla_breaches = 0;
    state.cooldown = None;
    let signal = signal_for(
        state,
        SignalSpec {
            handoff_id: &handoff_id,
            trigger_event_id: &cmd.command_id,
            attempt: 0,
            decision: Decision::Escalate,
            reasons: vec![reason],
            urgency: Urgency::Normal,
        },
        now,
        policy,
    );
    let outputs = vec![
        DetectorOutput::Signal(signal),
        DetectorOutput::Control(pause(state, &handoff_id, now, policy)),
    ];
    if take_over {
        state.claimed_by = Some(cmd.operator.id.clone());
        state.claim_by_ms = None;
        Moved {
            name: "taken_over",
            to: ControlState::Claimed,
            outputs,
        }
    } else {
        state.claimed_by = None;
        state.claim_by_ms =
            Some((now + policy.sla.claim_within(Urgency::Normal)).timestamp_millis());
        Moved {
            name: "paused",
            to: ControlState::AwaitingHuman,
            outputs,
        }
    }
}

/// `resume`: the handback, with the operator's note as the agent's context from now on.
fn resume(
    state: &mut ConversationState,
    cmd: &OperatorCommand,
    handoff_id: String,
    policy: &Policy,
    now: Timestamp,
) -> Moved {
    let context = cmd
        .note
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .map(handback_context);
    // "Send a follow-up now" only inside working hours; the agent is unpaused either way.
    let in_hours = policy.working_hours.contains(now);
    let skipped = (cmd.send_follow_up_now && !in_hours).then(|| {
        format!(
            "outside working hours ({} {}-{} {})",
            policy.working_hours.days.join(","),
            policy.working_hours.open,
            policy.working_hours.close,
            policy.working_hours.time_zone
        )
    });
    let control = AgentControl {
        control_id: ids::derive("control", &[&handoff_id, "resume", &cmd.command_id]),
        conversation_id: state.conversation_id.clone(),
        handoff_id: Some(handoff_id),
        issued_at: now,
        action: ControlAction::Resume,
        contact_notice: None,
        handoff_context: context,
        send_follow_up_now: cmd.send_follow_up_now && in_hours,
        follow_up_skipped_reason: skipped,
    };
    state.start_cooldown(policy, now);
    Moved {
        name: "resumed",
        to: ControlState::ReturnedToAgent,
        outputs: vec![DetectorOutput::Control(control)],
    }
}

/// `resolve`: the human closed the case; the agent resumes with a closing note.
fn resolve(
    state: &mut ConversationState,
    cmd: &OperatorCommand,
    handoff_id: String,
    policy: &Policy,
    now: Timestamp,
) -> Moved {
    let control = AgentControl {
        control_id: ids::derive("control", &[&handoff_id, "resolve", &cmd.command_id]),
        conversation_id: state.conversation_id.clone(),
        handoff_id: Some(handoff_id),
        issued_at: now,
        action: ControlAction::Resume,
        contact_notice: None,
        handoff_context: Some(match cmd.note.as_deref() {
            Some(n) if !n.trim().is_empty() => format!("A human resolved this conversation. Their note: {} Do not re-open topics the human already addressed.", n.trim()),
            _ => "A human resolved this conversation. Do not re-open topics the human already addressed.".to_string(),
        }),
        send_follow_up_now: false,
        follow_up_skipped_reason: None,
    };
    state.start_cooldown(policy, now);
    Moved {
        name: "resolved",
        to: ControlState::Resolved,
        outputs: vec![DetectorOutput::Control(control)],
    }
}

/// `reassign` to a known team: the same handoff is signalled again with the reassignment as its
/// first reason, so builder and router (stateless) re-route it to the named team.
fn reassign(
    state: &mut ConversationState,
    cmd: &OperatorCommand,
    handoff_id: &str,
    actor: &str,
    policy: &Policy,
    now: Timestamp,
) -> Applied {
    let team = match cmd.target_team.as_deref() {
        Some(team) if policy.has_team(team) => team,
        Some(team) => {
            let why = format!("unknown team {team:?}");
            return Applied::Answered(vec![reject(state, cmd, actor, &why, now)]);
        }
        None => {
            let why = "reassign needs a target_team";
            return Applied::Answered(vec![reject(state, cmd, actor, why, now)]);
        }
    };
    let urgency = state.urgency.unwrap_or(Urgency::Normal);
    state.claimed_by = None;
    state.claim_by_ms = Some((now + policy.sla.claim_within(urgency)).timestamp_millis());
    let mut reasons = vec![Reason {
        kind: ReasonKind::Manual,
        rule_id: REASSIGN_RULE.into(),
        score: 1.0,
        threshold: None,
        evidence_event_id: cmd.command_id.clone(),
        evidence_text: team.to_string(),
    }];
    reasons.extend(state.open_reasons.iter().cloned());
    reasons.truncate(MAX_REASONS);
    state.open_reasons.clone_from(&reasons);
    let trigger = state
        .trigger_id
        .clone()
        .unwrap_or_else(|| cmd.command_id.clone());
    let mut signal = signal_for(
        state,
        SignalSpec {
            handoff_id,
            trigger_event_id: &trigger,
            attempt: 0,
            decision: Decision::Escalate,
            reasons,
            urgency,
        },
        now,
        policy,
    );
    signal.signal_id = ids::derive("signal", &[handoff_id, "reassign", &cmd.command_id]);
    Applied::Moved(Moved {
        name: "reassigned",
        to: ControlState::AwaitingHuman,
        outputs: vec![DetectorOutput::Signal(signal)],
    })
}

/// The LifecycleEvent of a command's transition after its other outputs, and the new state.
fn record_transition(
    state: &mut ConversationState,
    cmd: &OperatorCommand,
    actor: &str,
    from: ControlState,
    moved: Moved,
    now: Timestamp,
) -> Vec<DetectorOutput> {
    let handoff_id = state.handoff_id.clone().unwrap_or_default();
    let team = if cmd.action == CommandAction::Reassign {
        cmd.target_team.clone()
    } else {
        Some(cmd.operator.team.clone()).filter(|t| !t.is_empty())
    };
    let mut out = moved.outputs;
    out.push(DetectorOutput::Lifecycle(lifecycle(
        state,
        Transition {
            handoff_id: &handoff_id,
            name: moved.name,
            from,
            to: moved.to,
            actor,
            note: cmd.note.clone(),
            command_id: Some(&cmd.command_id),
            team,
        },
        now,
    )));
    // returned_to_agent is a passing state: the agent is active again at once.
    state.control = if moved.to == ControlState::ReturnedToAgent {
        ControlState::AgentActive
    } else {
        moved.to
    };
    out
}

impl ConversationState {
    /// After a handback: the closed handoff's reasons may not re-escalate for a while, and the
    /// signals that built up to it start afresh.
    fn start_cooldown(&mut self, policy: &Policy, now: Timestamp) {
        let mut kinds: Vec<ReasonKind> = self
            .open_reasons
            .iter()
            .map(|r| r.kind)
            .filter(|k| {
                !matches!(
                    k,
                    ReasonKind::ExplicitRequest | ReasonKind::Manual | ReasonKind::SlaBreach
                )
            })
            .collect();
        for k in [ReasonKind::Sentiment, ReasonKind::LowConfidence] {
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
        self.cooldown = Some(Cooldown {
            kinds,
            turns_left: policy.handoff.cooldown_turns,
            until_ms: (now + Duration::minutes(i64::from(policy.handoff.cooldown_minutes)))
                .timestamp_millis(),
        });
        self.claimed_by = None;
        self.claim_by_ms = None;
        self.sentiment.clear();
        self.low_confidence_streak = 0;
        self.fraud_evidence = 0.0;
        self.weak_answer_streak = 0;
        self.unanswered = 0;
        self.question_sketch.clear();
        self.answered_since_question = false;
    }
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
    now: Timestamp,
) -> DetectorOutput {
    let handoff_id = cmd
        .handoff_id
        .clone()
        .or_else(|| state.handoff_id.clone())
        .unwrap_or_default();
    let mut event = lifecycle(
        state,
        Transition {
            handoff_id: &handoff_id,
            name: "rejected",
            from: state.control,
            to: state.control,
            actor,
            note: cmd.note.clone(),
            command_id: Some(&cmd.command_id),
            team: cmd.target_team.clone(),
        },
        now,
    );
    event.accepted = false;
    event.rejection_reason = Some(why.to_string());
    DetectorOutput::Lifecycle(event)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod learned_tests;
