//! The builder: turns a StopSignal into the HandoffPayload a human acts on.
//!
//! This is the built-in, deterministic composer: it needs nothing outside the process.

mod settings;

pub use settings::BuilderPolicy;

use crate::records::*;

pub const COMPOSER_NAME: &str = "builtin-extractive";
pub const COMPOSER_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The summary's hard limit.
pub const SUMMARY_MAX_WORDS: usize = 80;

/// Builds the payload for a signal.
pub fn build(signal: &StopSignal) -> HandoffPayload {
    let intent = intent_of(signal);
    let summary = summarize(signal, &intent);
    let priority = priority_of(signal);
    HandoffPayload {
        handoff_id: signal.handoff_id.clone(),
        signal_id: signal.signal_id.clone(),
        conversation_id: signal.conversation_id.clone(),
        tenant_id: signal.tenant_id.clone(),
        trigger_event_id: signal.trigger_event_id.clone(),
        created_at: signal.decided_at,
        policy_version: signal.policy_version.clone(),
        decision: signal.decision,
        urgency: signal.urgency,
        reasons: signal.reasons.clone(),
        summary,
        transcript: signal.transcript.clone(),
        context: CapturedContext {
            contact: signal.contact.clone(),
            entry: signal.entry.clone(),
            channel: signal.channel.clone(),
            language: signal.language.clone(),
            sentiment: signal.sentiment.clone(),
            rule_ids: signal.reasons.iter().map(|r| r.rule_id.clone()).collect(),
        },
        intent,
        facts: Facts::default(),
        citations: signal.citations.clone(),
        draft_reply: draft_reply(signal),
        next_action: NextAction {
            action: "Reply to the contact and take over the conversation".into(),
            reasoning: format!("Escalated because {}.", reasons_phrase(&signal.reasons)),
        },
        priority,
        composer: Composer {
            name: COMPOSER_NAME.into(),
            version: COMPOSER_VERSION.into(),
        },
    }
}

fn intent_of(signal: &StopSignal) -> Intent {
    match &signal.agent_intent {
        Some(name) => Intent {
            name: name.clone(),
            sub_intent: signal.agent_sub_intent.clone(),
            confidence: signal.agent_intent_confidence.unwrap_or(0.5),
            source: "agent".into(),
        },
        None => Intent {
            name: "unknown".into(),
            sub_intent: None,
            confidence: 0.0,
            source: "none".into(),
        },
    }
}

fn priority_of(signal: &StopSignal) -> Priority {
    let base = match signal.urgency {
        Urgency::Immediate => Priority::Urgent,
        Urgency::Normal => Priority::Normal,
        Urgency::Nurture => Priority::Low,
    };
    match &signal.contact {
        Some(c) if c.vip => base.raised(),
        _ => base,
    }
}

/// Human words for the reasons, e.g. "the contact asked for a human".
pub fn reasons_phrase(reasons: &[Reason]) -> String {
    let mut parts: Vec<&str> = reasons
        .iter()
        .map(|r| match r.kind {
            ReasonKind::ExplicitRequest => "the contact asked for a human",
            ReasonKind::ToolCall => "the agent asked for a human",
            ReasonKind::Sentiment => "the contact is frustrated",
            ReasonKind::Threat => "the contact threatened to leave or take action",
            ReasonKind::Keyword => "a compliance keyword matched",
            ReasonKind::LowConfidence => "the agent was not confident",
            ReasonKind::OutOfScope => "the request is out of scope",
            ReasonKind::Sales => "a sales opportunity needs a person",
            ReasonKind::Fraud => "a fraud or security signal",
            ReasonKind::Manual => "an operator took over",
            ReasonKind::HandoffDisabledByPlan => "handoff is disabled for this plan",
            ReasonKind::SlaBreach => "the claim deadline passed",
            ReasonKind::Other => "a policy rule fired",
        })
        .collect();
    parts.dedup();
    if parts.is_empty() {
        "a policy rule fired".into()
    } else {
        parts.join(" and ")
    }
}

fn summarize(signal: &StopSignal, intent: &Intent) -> String {
    let who = signal
        .contact
        .as_ref()
        .and_then(|c| c.name.clone())
        .unwrap_or_else(|| "The contact".to_string());
    let asked: Vec<&str> = signal
        .transcript
        .iter()
        .filter(|t| t.actor == Actor::Contact && !t.text.trim().is_empty())
        .map(|t| t.text.trim())
        .collect();
    let mut summary = format!(
        "{who} ({} via {})",
        intent.name,
        if signal.channel.is_empty() {
            "chat"
        } else {
            &signal.channel
        }
    );
    if let Some(first) = asked.first() {
        summary.push_str(&format!(" wrote: \"{first}\"."));
    } else {
        summary.push('.');
    }
    summary.push_str(&format!(
        " Escalated because {}.",
        reasons_phrase(&signal.reasons)
    ));
    truncate_words(&summary, SUMMARY_MAX_WORDS)
}

/// At most `max` words, ending with an ellipsis when cut.
pub fn truncate_words(text: &str, max: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() <= max {
        return words.join(" ");
    }
    let mut out = words[..max].join(" ");
    out.push('…');
    out
}

fn draft_reply(signal: &StopSignal) -> String {
    let name = signal
        .contact
        .as_ref()
        .and_then(|c| c.name.as_deref())
        .and_then(|n| n.split_whitespace().next())
        .unwrap_or("there");
    format!("Hi {name}, I'm a member of the team and I've read your conversation so far, so you don't need to repeat anything. I'm looking into this now and will get back to you shortly.")
}
