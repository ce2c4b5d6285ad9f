//! The stop conditions, each a rule with an id from the policy. `evaluate` runs every enabled
//! rule on one event and returns what fired, in a fixed order, with its evidence.

use super::{
    fraud, is_explicit_request, learned, sales, scope, sentiment, ConversationState, PackedContact,
};
use crate::policy::{Policy, RuleBase};
use crate::records::*;

/// One fired rule: the reason, the urgency it implies, and whether it only flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    pub reason: Reason,
    pub urgency: Urgency,
    /// A nurture-level sales moment: recorded as a flag, the agent keeps the conversation.
    pub flag_only: bool,
    /// Fired by a learned detector (a head's probability), not by a lexicon or a measure.
    pub learned: bool,
}

fn fired(
    rule: &RuleBase,
    kind: ReasonKind,
    event: &ConversationEvent,
    score: f64,
    threshold: Option<f64>,
    evidence: String,
) -> Fired {
    Fired {
        reason: Reason {
            kind,
            rule_id: rule.id.clone(),
            score,
            threshold,
            evidence_event_id: event.event_id.clone(),
            evidence_text: evidence,
        },
        urgency: rule.urgency,
        flag_only: false,
        learned: false,
    }
}

/// Runs the rules on an event. Updates the per-conversation signals the rules keep (sentiment
/// trajectory, low-confidence streak) in `state`.
pub fn evaluate(
    state: &mut ConversationState,
    event: &ConversationEvent,
    policy: &Policy,
) -> Vec<Fired> {
    let fired = match event.actor {
        Actor::Contact => {
            let mut out = contact_rules(state, event, policy);
            if !event.text.trim().is_empty() {
                learned::contact(state, event, policy, &mut out);
            }
            out
        }
        Actor::Agent => agent_rules(state, event, policy),
        Actor::Operator | Actor::System => Vec::new(),
    };
    learned::one_per_kind(fired)
}

fn contact_rules(
    state: &mut ConversationState,
    event: &ConversationEvent,
    policy: &Policy,
) -> Vec<Fired> {
    let r = &policy.rules;
    let text = event.text.as_str();
    let mut out = Vec::new();
    if text.trim().is_empty() {
        return out;
    }

    if r.explicit_request.enabled && is_explicit_request(text) {
        out.push(fired(
            &r.explicit_request,
            ReasonKind::ExplicitRequest,
            event,
            1.0,
            None,
            text.to_string(),
        ));
    }

    // One tokenisation for the threat check and the score (the threat's weak guard reuses the
    // score, which is the same value `threat` would compute on its own).
    let (score, threat) = if r.threat.enabled {
        let a = sentiment::analyze(text);
        (a.score, a.threat)
    } else {
        (sentiment::score(text), None)
    };
    if let Some(t) = threat {
        out.push(fired(
            &r.threat,
            ReasonKind::Threat,
            event,
            1.0,
            None,
            format!("{}: {}", t.kind.as_str(), t.matched),
        ));
    }

    state.push_sentiment(score);
    let s = &r.sentiment;
    if s.base.enabled {
        if score <= s.turn_threshold {
            out.push(fired(
                &s.base,
                ReasonKind::Sentiment,
                event,
                score,
                Some(s.turn_threshold),
                text.to_string(),
            ));
        } else {
            let scores: Vec<f64> = state.sentiment.iter().map(f64::from).collect();
            if sentiment::trajectory_fires(&scores, s.trajectory_window, s.trajectory_threshold) {
                let window = &scores[scores.len().saturating_sub(s.trajectory_window)..];
                let mean = window.iter().sum::<f64>() / window.len() as f64;
                out.push(fired(
                    &s.base,
                    ReasonKind::Sentiment,
                    event,
                    mean,
                    Some(s.trajectory_threshold),
                    format!(
                        "frustration building over {} turns (mean {mean:.2}): {text}",
                        window.len()
                    ),
                ));
            }
        }
    }

    let k = &r.keyword;
    if k.base.enabled {
        if let Some(word) = k.find(&event.tenant_id, text) {
            out.push(fired(
                &k.base,
                ReasonKind::Keyword,
                event,
                1.0,
                None,
                format!("keyword \"{}\": {text}", word.to_lowercase()),
            ));
        }
    }

    if r.fraud.enabled && fraud::is_fraud_signal(text) {
        out.push(fired(
            &r.fraud,
            ReasonKind::Fraud,
            event,
            1.0,
            None,
            text.to_string(),
        ));
    }

    let o = &r.out_of_scope;
    if o.base.enabled {
        if let Some(topic) = scope::out_of_scope_topic(text, o.topics_for(&event.tenant_id)) {
            out.push(fired(
                &o.base,
                ReasonKind::OutOfScope,
                event,
                1.0,
                None,
                format!("{topic}: {text}"),
            ));
        }
    }

    let sr = &r.sales;
    if sr.base.enabled {
        if let Some(sig) = sales::analyze_sale(text) {
            // What the lead is worth, from this turn and the account.
            let value = state.contact.as_ref().and_then(PackedContact::value);
            let mut why = Vec::new();
            if let Some(n) = sig.seats.filter(|n| *n >= sr.min_seats) {
                why.push(format!("{n} seats"));
            }
            if let Some(b) = sig.budget.filter(|b| *b >= sr.min_budget) {
                why.push(format!("budget {b:.0}"));
            }
            if let Some(v) = value.filter(|v| *v >= sr.min_value) {
                why.push(format!("account value {v:.0}"));
            }
            if let Some(s) = &sig.sensitive {
                why.push(format!("sensitive: {s}"));
            }
            if sig.negotiation {
                why.push("negotiation".into());
            }
            if sig.urgent {
                why.push("urgent".into());
            }
            let high_fit = sig.seats.is_some_and(|n| n >= sr.min_seats)
                || sig.budget.is_some_and(|b| b >= sr.min_budget)
                || value.is_some_and(|v| v >= sr.min_value);
            // Known to be small: the lead stated seats or a budget below the thresholds.
            let low_fit = !high_fit
                && (sig.seats.is_some_and(|n| n < sr.min_seats)
                    || sig.budget.is_some_and(|b| b < sr.min_budget));
            // Sensitive paperwork always needs a person; a negotiation (discount, price match,
            // contract or payment terms) too, unless the lead is known to be small.
            let escalate = high_fit || sig.sensitive.is_some() || (sig.negotiation && !low_fit);
            let evidence = format!(
                "{}: {text}",
                if why.is_empty() {
                    "sales interest".to_string()
                } else {
                    why.join(", ")
                }
            );
            let score = if escalate { 1.0 } else { 0.3 };
            let mut f = fired(&sr.base, ReasonKind::Sales, event, score, None, evidence);
            if !escalate {
                // A low-fit lead: recorded for nurture, not escalated.
                f.urgency = Urgency::Nurture;
                f.flag_only = true;
            }
            out.push(f);
        }
    }
    out
}

fn agent_rules(
    state: &mut ConversationState,
    event: &ConversationEvent,
    policy: &Policy,
) -> Vec<Fired> {
    let r = &policy.rules;
    let mut out = Vec::new();
    let Some(agent) = &event.agent else {
        return out;
    };

    let t = &r.tool_call;
    let transfer_call = agent
        .tool_calls
        .iter()
        .find(|c| t.names.iter().any(|n| n == &c.name));
    learned::agent(state, event, policy, transfer_call.is_some(), &mut out);
    if t.base.enabled {
        if let Some(call) = transfer_call {
            out.push(fired(
                &t.base,
                ReasonKind::ToolCall,
                event,
                1.0,
                None,
                format!("{}({})", call.name, call.arguments),
            ));
        }
    }

    let lc = &r.low_confidence;
    if let Some(confidence) = agent.confidence {
        if confidence < lc.threshold {
            state.low_confidence_streak += 1;
        } else {
            state.low_confidence_streak = 0;
        }
        if lc.base.enabled && state.low_confidence_streak >= lc.consecutive {
            out.push(fired(
                &lc.base,
                ReasonKind::LowConfidence,
                event,
                confidence,
                Some(lc.threshold),
                format!(
                    "confidence below {} on {} agent turns in a row",
                    lc.threshold, state.low_confidence_streak
                ),
            ));
            state.low_confidence_streak = 0;
        }
    }

    let o = &r.out_of_scope;
    if o.base.enabled && o.agent_flag && agent.out_of_scope {
        out.push(fired(
            &o.base,
            ReasonKind::OutOfScope,
            event,
            1.0,
            None,
            format!("the agent marked the turn out of scope: {}", event.text),
        ));
    }
    out
}
