//! Phrases the summary and the next action's reasoning are written from: what the agent did,
//! why it escalated.

use super::{first_words, squash};
use crate::records::*;

#[inline(never)]
pub fn agent_phrase(agent_turns: &[&Turn], citations: &[Citation]) -> Option<String> {
    if agent_turns.is_empty() {
        return None;
    }
    let mut s = String::with_capacity(96);
    s.push_str("The agent answered ");
    match agent_turns.len() {
        1 => s.push_str("once"),
        2 => s.push_str("twice"),
        n => {
            s.push_str(&n.to_string());
            s.push_str(" times");
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for c in citations {
        if !seen.contains(&c.source_id.as_str()) {
            seen.push(&c.source_id);
        }
    }
    if let Some(first) = citations.first() {
        let title = first_words(&first.title, 6);
        s.push_str(", citing ");
        s.push_str(&first.source_id);
        if !title.is_empty() {
            s.push_str(" \"");
            s.push_str(&title);
            s.push('"');
        }
        if seen.len() > 1 {
            s.push_str(&format!(
                " and {} more source{}",
                seen.len() - 1,
                if seen.len() > 2 { "s" } else { "" }
            ));
        }
    }
    s.push('.');
    Some(s)
}

/// "Escalated because the agent asked for a human (refund approval over limit)."
#[inline(never)]
pub fn escalation_phrase(reasons: &[Reason], sentiment: &[f64]) -> String {
    let mut phrase = reasons_phrase(reasons);
    for r in reasons {
        match r.kind {
            ReasonKind::ToolCall => {
                if let Some(why) = tool_call_reason(&r.evidence_text) {
                    phrase.push_str(&format!(" ({})", first_words(&why, 6)));
                    break;
                }
            }
            ReasonKind::Sentiment => {
                if let (Some(a), Some(b)) = (sentiment.first(), sentiment.last()) {
                    if sentiment.len() >= 2 && a.is_finite() && b.is_finite() {
                        phrase.push_str(&format!(" (sentiment {a:.2} to {b:.2})"));
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    let mut s = String::with_capacity(phrase.len() + 18);
    s.push_str("Escalated because ");
    s.push_str(&phrase);
    s.push('.');
    s
}

/// The `reason` argument of a tool call's evidence `name({...json...})`.
fn tool_call_reason(evidence: &str) -> Option<String> {
    let start = evidence.find('(')?;
    let end = evidence.rfind(')')?;
    if end <= start {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&evidence[start + 1..end]).ok()?;
    v.get("reason")?
        .as_str()
        .map(squash)
        .filter(|s| !s.is_empty())
}

/// Human words for the reasons, e.g. "the contact asked for a human" (at most two, then "and N
/// more").
pub fn reasons_phrase(reasons: &[Reason]) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for r in reasons {
        let p = match r.kind {
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
        };
        if !parts.contains(&p) {
            parts.push(p);
        }
    }
    match parts.len() {
        0 => "a policy rule fired".into(),
        1 | 2 => parts.join(" and "),
        n => format!("{}, {} and {} more", parts[0], parts[1], n - 2),
    }
}
