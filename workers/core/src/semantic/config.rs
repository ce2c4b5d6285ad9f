//! The learned detectors' part of the policy: `[rules.semantic.<detector>]`, each a rule with an
//! id, a threshold on its head's probability and an urgency. Unknown detectors and unknown keys
//! are refused with their name.

use crate::records::{ReasonKind, Urgency};
use serde::Deserialize;

fn yes() -> bool {
    true
}
fn normal() -> Urgency {
    Urgency::Normal
}
fn immediate() -> Urgency {
    Urgency::Immediate
}

/// Every learned detector the policy may configure; a missing one is off.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SemanticRules {
    /// The contact asks for a person (indirect, misspelt, ES/DE): reason `explicit_request`.
    pub explicit_request: Option<LearnedRule>,
    /// Unrecognised charges, account takeover, impersonation scams: reason `fraud`. Evidence
    /// accumulates over the conversation's contact turns (see [`FraudRule::carry`]).
    pub fraud: Option<FraudRule>,
    /// Opt-out of a channel or deletion of personal data: reason `keyword`.
    pub compliance: Option<LearnedRule>,
    /// Legal action, chargeback, regulator, press, leaving: reason `threat`.
    pub threat: Option<LearnedRule>,
    /// Anger and exasperation (reason `sentiment`), and "that's not what I asked" after weak
    /// answers (reason `low_confidence`).
    pub frustration: Option<FrustrationRule>,
    /// Agent turns promising a transfer to a person without calling the transfer tool.
    pub agent_transfer_promise: Option<ReasonedRule>,
    /// Harm to a person (a swallowed battery, chest pain, self-harm, gas): urgent.
    pub safety: Option<ReasonedRule>,
    /// Requests no support desk handles (the `out_of_domain` head): reason `out_of_scope`.
    pub out_of_scope: Option<LearnedRule>,
    /// The contact asking the same question again after an agent answer: reason
    /// `low_confidence` (the agent's answer did not land).
    pub rephrase: Option<RephraseRule>,
}

/// A learned detector: fires when its head's probability reaches `threshold`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearnedRule {
    pub id: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "normal")]
    pub urgency: Urgency,
    pub threshold: f64,
    /// When set, a lexicon rule of the same reason kind is dropped on a turn whose probability
    /// is below it: the words matched, but the sentence means something else ("my solicitor is
    /// handling the purchase", "this rate is a steal").
    #[serde(default)]
    pub veto_below: Option<f64>,
}

/// A learned detector whose reason kind the policy chooses.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonedRule {
    pub id: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "normal")]
    pub urgency: Urgency,
    pub threshold: f64,
    pub reason: ReasonKind,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FraudRule {
    pub id: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "immediate")]
    pub urgency: Urgency,
    /// One turn (or one sentence of it) at or above this probability fires.
    pub threshold: f64,
    /// Conversation evidence: each contact turn's fraud probability is combined with the
    /// carried evidence, `e = 1 - (1 - carry·e) (1 - p)`, and `e` at or above
    /// `conversation_threshold` fires. Two half-sure turns ("someone changed my email", "and
    /// there is a payee I never added") add up; a long ordinary banking chat (p ≈ 0.05 a turn)
    /// stays far below it because the carry decays.
    pub carry: f64,
    pub conversation_threshold: f64,
    /// As [`LearnedRule::veto_below`], for the fraud lexicon.
    #[serde(default)]
    pub veto_below: Option<f64>,
}

fn lexicon_below_default() -> f64 {
    -0.2
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrustrationRule {
    pub id: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "normal")]
    pub urgency: Urgency,
    /// Probability of `frustrated` that fires reason `sentiment`.
    pub threshold: f64,
    /// The lexicon's sentiment score of the same turn must be below this for the head's
    /// `frustrated` to fire: the head reads tone from wording alone and takes sarcastic praise
    /// for anger; the lexicon, which weighs the words themselves, breaks the tie.
    #[serde(default = "lexicon_below_default")]
    pub lexicon_below: f64,
    /// Probability of `not_answered` that counts as "that's not what I asked".
    pub not_answered_threshold: f64,
    /// An agent answer below this confidence is weak.
    pub weak_confidence: f64,
    /// Weak answers in a row that, followed by a not-answered turn, fire reason
    /// `low_confidence`. (A second not-answered or rephrased turn fires without them.)
    pub weak_answers: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RephraseRule {
    pub id: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "normal")]
    pub urgency: Urgency,
    /// Estimated cosine between two contact turns separated by an agent answer at or above
    /// which the second repeats the first.
    pub threshold: f64,
    /// Contact turns shorter than this many words are never a rephrase ("ok", "thanks").
    pub min_words: usize,
}

impl SemanticRules {
    /// The head each enabled rule reads, with the rule's key (for load-time checks).
    pub fn needed_heads(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        let mut need = |on: bool, key: &'static str, head: &'static str| {
            if on {
                out.push((key, head));
            }
        };
        need(
            on(&self.explicit_request, |r| r.enabled),
            "explicit_request",
            "explicit_request",
        );
        need(on(&self.fraud, |r| r.enabled), "fraud", "fraud");
        need(
            on(&self.compliance, |r| r.enabled),
            "compliance",
            "compliance",
        );
        need(on(&self.threat, |r| r.enabled), "threat", "threat");
        need(
            on(&self.frustration, |r| r.enabled),
            "frustration",
            "frustration",
        );
        need(
            on(&self.agent_transfer_promise, |r| r.enabled),
            "agent_transfer_promise",
            "agent_transfer_promise",
        );
        need(on(&self.safety, |r| r.enabled), "safety", "safety");
        need(
            on(&self.out_of_scope, |r| r.enabled),
            "out_of_scope",
            "out_of_domain",
        );
        out
    }

    /// Thresholds are probabilities (or cosines) in [0, 1].
    pub fn validate(&self) -> Result<(), String> {
        let mut checks: Vec<(&str, &str, f64)> = Vec::new();
        if let Some(r) = &self.explicit_request {
            checks.push(("explicit_request", "threshold", r.threshold));
        }
        if let Some(r) = &self.fraud {
            checks.push(("fraud", "threshold", r.threshold));
            checks.push(("fraud", "carry", r.carry));
            checks.push(("fraud", "conversation_threshold", r.conversation_threshold));
        }
        for (key, r) in [("compliance", &self.compliance), ("threat", &self.threat)] {
            if let Some(r) = r {
                checks.push((key, "threshold", r.threshold));
            }
        }
        if let Some(r) = &self.out_of_scope {
            checks.push(("out_of_scope", "threshold", r.threshold));
        }
        if let Some(r) = &self.frustration {
            checks.push(("frustration", "threshold", r.threshold));
            checks.push((
                "frustration",
                "not_answered_threshold",
                r.not_answered_threshold,
            ));
            checks.push(("frustration", "weak_confidence", r.weak_confidence));
        }
        for (key, r) in [
            ("agent_transfer_promise", &self.agent_transfer_promise),
            ("safety", &self.safety),
        ] {
            if let Some(r) = r {
                checks.push((key, "threshold", r.threshold));
            }
        }
        if let Some(r) = &self.rephrase {
            checks.push(("rephrase", "threshold", r.threshold));
        }
        for (key, r) in [
            ("agent_transfer_promise", &self.agent_transfer_promise),
            ("safety", &self.safety),
        ] {
            if r.as_ref().is_some_and(|r| r.reason == ReasonKind::Other) {
                return Err(format!(
                    "rules.semantic.{key}.reason: not a known reason kind"
                ));
            }
        }
        for (rule, key, v) in checks {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("rules.semantic.{rule}.{key}: {v} is not in [0, 1]"));
            }
        }
        Ok(())
    }

    /// The ids of the configured rules (for the policy's duplicate-id check).
    pub fn ids(&self) -> Vec<&String> {
        let mut ids = Vec::new();
        if let Some(r) = &self.explicit_request {
            ids.push(&r.id);
        }
        if let Some(r) = &self.fraud {
            ids.push(&r.id);
        }
        if let Some(r) = &self.compliance {
            ids.push(&r.id);
        }
        if let Some(r) = &self.threat {
            ids.push(&r.id);
        }
        if let Some(r) = &self.frustration {
            ids.push(&r.id);
        }
        if let Some(r) = &self.agent_transfer_promise {
            ids.push(&r.id);
        }
        if let Some(r) = &self.safety {
            ids.push(&r.id);
        }
        if let Some(r) = &self.out_of_scope {
            ids.push(&r.id);
        }
        if let Some(r) = &self.rephrase {
            ids.push(&r.id);
        }
        ids
    }
}

fn on<T>(rule: &Option<T>, enabled: impl Fn(&T) -> bool) -> bool {
    rule.as_ref().is_some_and(enabled)
}
