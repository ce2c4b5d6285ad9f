//! The records that flow between workers, one Rust type per Avro schema in `schemas/*.avsc`.
//!
//! Field names are the Avro field names (snake_case) and serde maps them 1:1, so the same types
//! serve the Avro wire format and the JSON replay format. Optional Avro fields are unions
//! `["null", T]` with default `null` (`Option<T>` with `#[serde(default)]`); arrays and maps default
//! to empty. Enums carry an `unknown`/fallback symbol as their Avro default so that older readers
//! survive new symbols; in Rust it is the `#[serde(other)]` variant.
//!
//! The schema files are the contract for other teams; `tests/schema_contract.rs` round-trips
//! every type here through its schema so the two cannot drift apart.

use crate::time::{self, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who wrote a conversation turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    Contact,
    Agent,
    Operator,
    #[default]
    #[serde(other)]
    System,
}

/// A tool call the AI agent made on this turn, e.g. `transfer_to_human`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ToolCall {
    pub name: String,
    /// The call's arguments as the agent runtime sent them (usually a JSON string).
    #[serde(default)]
    pub arguments: String,
}

/// A retrieval citation the agent used to answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Citation {
    pub source_id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub snippet: Option<String>,
}

/// What the agent runtime says about its own turn. The policy decides; this only recommends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AgentTurn {
    #[serde(default)]
    pub confidence: Option<f64>,
    #[serde(default)]
    pub intent: Option<String>,
    #[serde(default)]
    pub sub_intent: Option<String>,
    #[serde(default)]
    pub out_of_scope: bool,
    #[serde(default)]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default)]
    pub citations: Vec<Citation>,
}

/// Who the contact is. `name`, `email` and `phone` are PII (marked in the schema docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Contact {
    #[serde(default)]
    pub contact_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub plan: Option<String>,
    /// Account or lead value in the tenant's currency (lifetime value, deal size).
    #[serde(default)]
    pub value: Option<f64>,
    #[serde(default)]
    pub vip: bool,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Where the conversation started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Entry {
    #[serde(default)]
    pub source_url: Option<String>,
    #[serde(default)]
    pub campaign: Option<String>,
    #[serde(default)]
    pub referrer: Option<String>,
    #[serde(default)]
    pub form_fields: BTreeMap<String, String>,
}

/// One turn or system event of a conversation (topic `conversation.events`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationEvent {
    pub event_id: String,
    pub conversation_id: String,
    #[serde(default)]
    pub tenant_id: String,
    #[serde(with = "time")]
    pub occurred_at: Timestamp,
    #[serde(default)]
    pub channel: String,
    pub actor: Actor,
    #[serde(default)]
    pub text: String,
    /// BCP 47 language tag when the platform knows it (e.g. `en`, `es`).
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub agent: Option<AgentTurn>,
    #[serde(default)]
    pub contact: Option<Contact>,
    #[serde(default)]
    pub entry: Option<Entry>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Operator {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub team: String,
}

/// What an operator asks of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandAction {
    TakeOver,
    Claim,
    Resume,
    Resolve,
    Reassign,
    Pause,
    /// A symbol this reader does not know; answered with a rejected lifecycle event.
    #[serde(other)]
    Unknown,
}

/// An operator command (topic `handoff.commands`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperatorCommand {
    pub command_id: String,
    pub conversation_id: String,
    /// The handoff the operator is looking at; absent means "the conversation's current one".
    #[serde(default)]
    pub handoff_id: Option<String>,
    pub operator: Operator,
    #[serde(with = "time")]
    pub issued_at: Timestamp,
    pub action: CommandAction,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub send_follow_up_now: bool,
    #[serde(default)]
    pub target_team: Option<String>,
    /// resolved, qualified, discarded, converted, ...
    #[serde(default)]
    pub outcome: Option<String>,
}

/// Escalate hands the conversation to a human; flag records a decision without pausing the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Escalate,
    #[serde(other)]
    Flag,
}

/// How fast a human is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Immediate,
    Nurture,
    #[serde(other)]
    Normal,
}

impl Urgency {
    /// 0 is the most urgent.
    pub fn rank(self) -> u8 {
        match self {
            Urgency::Immediate => 0,
            Urgency::Normal => 1,
            Urgency::Nurture => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Immediate => "immediate",
            Urgency::Normal => "normal",
            Urgency::Nurture => "nurture",
        }
    }
}

/// The kind of stop condition behind a reason. Rule ids are policy-specific; kinds are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonKind {
    ExplicitRequest,
    Sentiment,
    Threat,
    Keyword,
    ToolCall,
    LowConfidence,
    OutOfScope,
    Sales,
    Fraud,
    Manual,
    HandoffDisabledByPlan,
    SlaBreach,
    #[serde(other)]
    Other,
}

impl ReasonKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonKind::ExplicitRequest => "explicit_request",
            ReasonKind::Sentiment => "sentiment",
            ReasonKind::Threat => "threat",
            ReasonKind::Keyword => "keyword",
            ReasonKind::ToolCall => "tool_call",
            ReasonKind::LowConfidence => "low_confidence",
            ReasonKind::OutOfScope => "out_of_scope",
            ReasonKind::Sales => "sales",
            ReasonKind::Fraud => "fraud",
            ReasonKind::Manual => "manual",
            ReasonKind::HandoffDisabledByPlan => "handoff_disabled_by_plan",
            ReasonKind::SlaBreach => "sla_breach",
            ReasonKind::Other => "other",
        }
    }
}

/// Why a rule fired, with the evidence a support lead needs to check it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub kind: ReasonKind,
    pub rule_id: String,
    pub score: f64,
    #[serde(default)]
    pub threshold: Option<f64>,
    pub evidence_event_id: String,
    #[serde(default)]
    pub evidence_text: String,
}

/// One line of a transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub event_id: String,
    pub actor: Actor,
    #[serde(default)]
    pub text: String,
    #[serde(with = "time")]
    pub occurred_at: Timestamp,
}

/// The detector's decision (topic `handoff.signals`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopSignal {
    pub signal_id: String,
    pub handoff_id: String,
    pub conversation_id: String,
    #[serde(default)]
    pub tenant_id: String,
    pub trigger_event_id: String,
    #[serde(with = "time")]
    pub decided_at: Timestamp,
    pub policy_version: String,
    pub decision: Decision,
    pub reasons: Vec<Reason>,
    pub urgency: Urgency,
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub transcript: Vec<Turn>,
    #[serde(default)]
    pub contact: Option<Contact>,
    #[serde(default)]
    pub entry: Option<Entry>,
    #[serde(default)]
    pub citations: Vec<Citation>,
    /// Per-contact-turn sentiment scores in [-1, 1], oldest first.
    #[serde(default)]
    pub sentiment: Vec<f64>,
    /// The intent the agent last reported, if any.
    #[serde(default)]
    pub agent_intent: Option<String>,
    #[serde(default)]
    pub agent_sub_intent: Option<String>,
    #[serde(default)]
    pub agent_intent_confidence: Option<f64>,
}

/// Handoff priority, highest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Urgent,
    High,
    Low,
    #[serde(other)]
    Normal,
}

impl Priority {
    /// 0 is the highest.
    pub fn rank(self) -> u8 {
        match self {
            Priority::Urgent => 0,
            Priority::High => 1,
            Priority::Normal => 2,
            Priority::Low => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Urgent => "urgent",
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }

    /// One step more urgent (an SLA breach raises priority).
    pub fn raised(self) -> Priority {
        match self {
            Priority::Low => Priority::Normal,
            Priority::Normal => Priority::High,
            Priority::High | Priority::Urgent => Priority::Urgent,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    pub name: String,
    #[serde(default)]
    pub sub_intent: Option<String>,
    pub confidence: f64,
    /// `agent` when the agent runtime supplied it, `classifier` when the builder inferred it.
    pub source: String,
}

/// A fact about the conversation. Confirmed facts point to the event they came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    /// money, order_id, account_id, email, phone, date, quantity, ...
    pub kind: String,
    pub value: String,
    #[serde(default)]
    pub event_id: Option<String>,
    /// `contact_turn`, `contact_block`, `entry_block`, `agent_turn`, `builder`.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Facts {
    #[serde(default)]
    pub confirmed: Vec<Fact>,
    #[serde(default)]
    pub inferred: Vec<Fact>,
    #[serde(default)]
    pub open_questions: Vec<String>,
}

/// Everything the human should not have to ask again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CapturedContext {
    #[serde(default)]
    pub contact: Option<Contact>,
    #[serde(default)]
    pub entry: Option<Entry>,
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub sentiment: Vec<f64>,
    #[serde(default)]
    pub rule_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextAction {
    pub action: String,
    pub reasoning: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Composer {
    pub name: String,
    pub version: String,
}

/// The package a human acts on (topic `handoff.payloads`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffPayload {
    pub handoff_id: String,
    pub signal_id: String,
    pub conversation_id: String,
    #[serde(default)]
    pub tenant_id: String,
    pub trigger_event_id: String,
    #[serde(with = "time")]
    pub created_at: Timestamp,
    pub policy_version: String,
    pub decision: Decision,
    pub urgency: Urgency,
    pub reasons: Vec<Reason>,
    /// One paragraph for the human, at most 80 words.
    pub summary: String,
    #[serde(default)]
    pub transcript: Vec<Turn>,
    pub context: CapturedContext,
    pub intent: Intent,
    #[serde(default)]
    pub facts: Facts,
    #[serde(default)]
    pub citations: Vec<Citation>,
    pub draft_reply: String,
    pub next_action: NextAction,
    pub priority: Priority,
    pub composer: Composer,
}

/// Where a handoff went and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Routing {
    pub team: String,
    pub queue: String,
    pub rule_id: String,
    #[serde(default)]
    pub matched_on: Vec<String>,
    pub priority: Priority,
    #[serde(with = "time")]
    pub routed_at: Timestamp,
    #[serde(with = "time")]
    pub claim_by: Timestamp,
    /// 0 for the first route; incremented by each reassignment or SLA re-route.
    #[serde(default)]
    pub attempt: i32,
}

/// A payload routed to a team (topics `handoff.team.<team>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutedHandoff {
    pub route_id: String,
    pub payload: HandoffPayload,
    pub routing: Routing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlAction {
    Pause,
    Resume,
    /// Fallback for readers that do not know a newer symbol: do nothing.
    #[serde(other)]
    Noop,
}

/// What the agent runtime must do now (topic `agent.control`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentControl {
    pub control_id: String,
    pub conversation_id: String,
    #[serde(default)]
    pub handoff_id: Option<String>,
    #[serde(with = "time")]
    pub issued_at: Timestamp,
    pub action: ControlAction,
    /// What the contact is told now ("connecting you with a human...").
    #[serde(default)]
    pub contact_notice: Option<String>,
    /// The note the agent must read as context on every following turn.
    #[serde(default)]
    pub handoff_context: Option<String>,
    #[serde(default)]
    pub send_follow_up_now: bool,
    /// Why a requested follow-up was not sent (e.g. outside working hours).
    #[serde(default)]
    pub follow_up_skipped_reason: Option<String>,
}

/// The state of a conversation's control (DESIGN.md, "Conversation control").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ControlState {
    AwaitingHuman,
    Claimed,
    Resolved,
    ReturnedToAgent,
    #[default]
    #[serde(other)]
    AgentActive,
}

impl ControlState {
    pub fn as_str(self) -> &'static str {
        match self {
            ControlState::AgentActive => "agent_active",
            ControlState::AwaitingHuman => "awaiting_human",
            ControlState::Claimed => "claimed",
            ControlState::Resolved => "resolved",
            ControlState::ReturnedToAgent => "returned_to_agent",
        }
    }
}

/// One accepted or rejected transition (topic `handoff.lifecycle`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleEvent {
    pub lifecycle_id: String,
    pub handoff_id: String,
    pub conversation_id: String,
    /// escalated, claimed, taken_over, resumed, resolved, reassigned, paused, sla_breached, ...
    pub transition: String,
    pub from_state: ControlState,
    pub to_state: ControlState,
    /// `detector`, or `operator:<id>`.
    pub actor: String,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(with = "time")]
    pub occurred_at: Timestamp,
    pub accepted: bool,
    #[serde(default)]
    pub rejection_reason: Option<String>,
    #[serde(default)]
    pub command_id: Option<String>,
    #[serde(default)]
    pub team: Option<String>,
}
