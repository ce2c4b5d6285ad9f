//! The learned detectors: softmax heads on the sentence embedding of a turn
//! ([`crate::semantic`]), each a policy rule (`[rules.semantic.<detector>]`) that fires when its
//! probability reaches the rule's threshold and records both. They run beside the lexicon rules
//! and catch what no word list does: indirect and misspelt requests for a person, fraud told as
//! a story, opt-outs in other words, a turn far from the tenant's domain. Some of their evidence
//! spans turns and lives in the conversation state: fraud evidence that accumulates with decay,
//! weak agent answers followed by "that's not what I asked", a question asked again.
//!
//! A turn of several sentences is also scored sentence by sentence (the highest probability
//! counts): the static embedding is a mean over tokens, so a request in the second sentence of a
//! long turn would otherwise be diluted by the first.

use super::{ConversationState, Fired};
use crate::policy::Policy;
use crate::records::*;
use crate::semantic::{self, Head, Semantic};

/// Sentences scored on their own, at most (beyond, the whole turn speaks for them).
const MAX_SENTENCES: usize = 4;
/// A sentence shorter than this many words is scored only as part of the turn.
const MIN_SENTENCE_WORDS: usize = 3;

/// A turn's embeddings: the whole turn first, then each sentence when it has several.
struct Views(Vec<Vec<f32>>);

impl Views {
    fn of(semantic: &Semantic, text: &str) -> Views {
        let whole = semantic.encoder.embed(text);
        let mut views = vec![whole];
        let sentences: Vec<&str> = text
            .split(['.', '!', '?', ';', '\n'])
            .map(str::trim)
            .filter(|s| s.split_whitespace().count() >= MIN_SENTENCE_WORDS)
            .collect();
        if sentences.len() > 1 {
            for s in sentences.into_iter().take(MAX_SENTENCES) {
                views.push(semantic.encoder.embed(s));
            }
        }
        Views(views)
    }

    fn whole(&self) -> &[f32] {
        &self.0[0]
    }

    fn is_blank(&self) -> bool {
        self.whole().iter().all(|v| *v == 0.0)
    }

    /// The probability of `label` for the whole turn. (Scoring sentences on their own raised
    /// false fires on long ordinary turns for every head but the requests; see
    /// [`Views::max_probability`].)
    fn probability(&self, head: &Head, label: &str) -> f64 {
        head.probability(self.whole(), label).into()
    }

    /// The highest probability of `label` over the turn and its sentences: for requests, which
    /// a long turn can hide in its second sentence.
    fn max_probability(&self, head: &Head, label: &str) -> f64 {
        self.0
            .iter()
            .map(|v| head.probability(v, label))
            .fold(0.0, f32::max)
            .into()
    }

    /// The highest probability of any of `labels`, and which label reached it.
    fn max_of<'l>(&self, head: &Head, labels: &[&'l str]) -> (f64, &'l str) {
        labels
            .iter()
            .map(|l| (self.max_probability(head, l), *l))
            .fold((0.0, labels[0]), |a, b| if b.0 > a.0 { b } else { a })
    }
}

#[allow(clippy::too_many_arguments)]
fn learned_fire(
    id: &str,
    kind: ReasonKind,
    urgency: Urgency,
    event: &ConversationEvent,
    score: f64,
    threshold: f64,
    evidence: String,
) -> Fired {
    Fired {
        reason: Reason {
            kind,
            rule_id: id.to_string(),
            score,
            threshold: Some(threshold),
            evidence_event_id: event.event_id.clone(),
            evidence_text: evidence,
        },
        urgency,
        flag_only: false,
        learned: true,
    }
}

/// The learned rules on a contact turn. `out` already holds the lexicon rules' fires; a lexicon
/// fire the matching head vetoes (its words, another meaning) is removed from it.
pub(super) fn contact(
    state: &mut ConversationState,
    event: &ConversationEvent,
    policy: &Policy,
    out: &mut Vec<Fired>,
) {
    let Some(sem) = &policy.semantic else {
        return;
    };
    let rules = &policy.rules.semantic;
    let text = event.text.as_str();
    let views = Views::of(sem, text);
    if views.is_blank() {
        return;
    }
    let head = |name: &str| sem.heads.get(name);

    if let (Some(r), Some(h)) = (&rules.explicit_request, head("explicit_request")) {
        let p = views.max_probability(h, "request");
        if r.enabled && p >= r.threshold {
            let kind = ReasonKind::ExplicitRequest;
            out.push(learned_fire(
                &r.id,
                kind,
                r.urgency,
                event,
                p,
                r.threshold,
                text.into(),
            ));
        }
    }
    fraud(state, event, policy, sem, &views, out);
    if let (Some(r), Some(h)) = (&rules.compliance, head("compliance")) {
        let (p, label) = views.max_of(h, &["opt_out", "deletion"]);
        if r.enabled && p >= r.threshold {
            let why = format!("{}: {text}", label.replace('_', "-"));
            out.push(learned_fire(
                &r.id,
                ReasonKind::Keyword,
                r.urgency,
                event,
                p,
                r.threshold,
                why,
            ));
        }
    }
    if let (Some(r), Some(h)) = (&rules.threat, head("threat")) {
        let p = views.probability(h, "threat");
        veto(out, ReasonKind::Threat, p, r.veto_below);
        if r.enabled && p >= r.threshold {
            out.push(learned_fire(
                &r.id,
                ReasonKind::Threat,
                r.urgency,
                event,
                p,
                r.threshold,
                text.into(),
            ));
        }
    }
    frustration(state, event, policy, sem, &views, out);
    if let (Some(r), Some(h)) = (&rules.safety, head("safety")) {
        let p = views.probability(h, "emergency");
        if r.enabled && p >= r.threshold {
            let why = format!("possible harm to a person: {text}");
            out.push(learned_fire(
                &r.id,
                r.reason,
                r.urgency,
                event,
                p,
                r.threshold,
                why,
            ));
        }
    }
    out_of_scope(event, policy, sem, &views, out);
}

/// Drops the lexicon fires of `kind` when the head is confident the turn is not one.
fn veto(out: &mut Vec<Fired>, kind: ReasonKind, probability: f64, below: Option<f64>) {
    if let Some(below) = below {
        if probability < below {
            out.retain(|f| f.learned || f.reason.kind != kind);
        }
    }
}

/// Fraud on this turn, or accumulated over the conversation.
fn fraud(
    state: &mut ConversationState,
    event: &ConversationEvent,
    policy: &Policy,
    sem: &Semantic,
    views: &Views,
    out: &mut Vec<Fired>,
) {
    let (Some(r), Some(h)) = (&policy.rules.semantic.fraud, sem.heads.get("fraud")) else {
        return;
    };
    let p = views.probability(h, "fraud");
    let carried = r.carry * state.fraud_evidence;
    let evidence = 1.0 - (1.0 - carried) * (1.0 - p);
    state.fraud_evidence = evidence;
    veto(out, ReasonKind::Fraud, p, r.veto_below);
    if !r.enabled {
        return;
    }
    let text = event.text.as_str();
    if p >= r.threshold {
        out.push(learned_fire(
            &r.id,
            ReasonKind::Fraud,
            r.urgency,
            event,
            p,
            r.threshold,
            text.into(),
        ));
    } else if evidence >= r.conversation_threshold {
        let why = format!("fraud evidence built over several turns ({evidence:.2}): {text}");
        let threshold = r.conversation_threshold;
        out.push(learned_fire(
            &r.id,
            ReasonKind::Fraud,
            r.urgency,
            event,
            evidence,
            threshold,
            why,
        ));
    }
}

/// Frustration (reason sentiment), and answers that missed (reason low_confidence): "that's not
/// what I asked" after weak answers, or the question asked again after an answer.
fn frustration(
    state: &mut ConversationState,
    event: &ConversationEvent,
    policy: &Policy,
    sem: &Semantic,
    views: &Views,
    out: &mut Vec<Fired>,
) {
    let text = event.text.as_str();
    let rules = &policy.rules.semantic;
    let mut missed = false;
    if let (Some(r), Some(h)) = (&rules.frustration, sem.heads.get("frustration")) {
        let p = views.probability(h, "frustrated");
        // The head takes sarcastic praise for anger as often as not (iSarcasmEval); the
        // lexicon's score of the same turn (pushed by the sentiment rule just before) must lean
        // negative too (`lexicon_below`).
        let lexicon_agrees = state
            .sentiment
            .iter()
            .last()
            .is_some_and(|s| f64::from(s) < r.lexicon_below);
        if r.enabled && p >= r.threshold && lexicon_agrees {
            out.push(learned_fire(
                &r.id,
                ReasonKind::Sentiment,
                r.urgency,
                event,
                p,
                r.threshold,
                text.into(),
            ));
        }
        missed = views.probability(h, "not_answered") >= r.not_answered_threshold;
    }
    let mut rephrased = None;
    if let Some(r) = &rules.rephrase {
        let words = text.split_whitespace().count();
        let sketch = semantic::sketch(views.whole());
        if words >= r.min_words {
            if state.answered_since_question && !state.question_sketch.is_empty() {
                let cos = semantic::sketch_cosine(&state.question_sketch, &sketch);
                if r.enabled && cos >= r.threshold {
                    rephrased = Some((cos, r));
                }
            }
            state.question_sketch = sketch;
            state.answered_since_question = false;
        }
    }
    if !missed && rephrased.is_none() {
        return;
    }
    state.unanswered += 1;
    let weak = state.weak_answer_streak;
    if let Some(r) = rules.frustration.as_ref().filter(|r| r.enabled && missed) {
        if weak >= r.weak_answers || state.unanswered >= 2 {
            let why = format!(
                "the answer missed the question after {weak} weak answer(s) in a row: {text}"
            );
            let t = r.not_answered_threshold;
            let p = views.max_probability(
                sem.heads.get("frustration").expect("checked"),
                "not_answered",
            );
            out.push(learned_fire(
                &r.id,
                ReasonKind::LowConfidence,
                r.urgency,
                event,
                p,
                t,
                why,
            ));
            return;
        }
    }
    if let Some((cos, r)) = rephrased {
        let weak_needed = rules.frustration.as_ref().map_or(1, |f| f.weak_answers);
        if state.unanswered >= 2 || weak >= weak_needed {
            let why = format!("the contact asks the same question again (cosine {cos:.2}): {text}");
            out.push(learned_fire(
                &r.id,
                ReasonKind::LowConfidence,
                r.urgency,
                event,
                cos,
                r.threshold,
                why,
            ));
        }
    }
}

/// A turn far from the tenant's domain, or a request no support desk handles.
fn out_of_scope(
    event: &ConversationEvent,
    policy: &Policy,
    sem: &Semantic,
    views: &Views,
    out: &mut Vec<Fired>,
) {
    let text = event.text.as_str();
    let o = &policy.rules.out_of_scope;
    if o.base.enabled {
        if let Some(domain) = sem.domain(&event.tenant_id) {
            let near = domain.nearest(views.whole());
            // Short turns ("yes", "order 5512") answer the agent; they state no request.
            let words = text.split_whitespace().count();
            if words >= 4 && f64::from(near.similarity) < o.domain_similarity {
                let nearest: Vec<String> = near
                    .intents
                    .iter()
                    .map(|(i, s)| format!("{i} {s:.2}"))
                    .collect();
                let why = format!(
                    "far from the tenant's domain (nearest: {}): {text}",
                    nearest.join(", ")
                );
                let mut f = learned_fire(
                    &o.base.id,
                    ReasonKind::OutOfScope,
                    o.base.urgency,
                    event,
                    f64::from(near.similarity),
                    o.domain_similarity,
                    why,
                );
                // Below the threshold fires: the score is a similarity, lower is stronger.
                f.reason.score = f64::from(near.similarity);
                out.push(f);
            }
        }
    }
    if let (Some(r), Some(h)) = (
        &policy.rules.semantic.out_of_scope,
        sem.heads.get("out_of_domain"),
    ) {
        let p = views.probability(h, "out_of_domain");
        if r.enabled && p >= r.threshold {
            out.push(learned_fire(
                &r.id,
                ReasonKind::OutOfScope,
                r.urgency,
                event,
                p,
                r.threshold,
                text.into(),
            ));
        }
    }
}

/// The learned rules on an agent turn: the weak-answer streak, and a transfer promised without
/// the tool (`tool_called`: a transfer tool was called on this turn).
pub(super) fn agent(
    state: &mut ConversationState,
    event: &ConversationEvent,
    policy: &Policy,
    tool_called: bool,
    out: &mut Vec<Fired>,
) {
    let rules = &policy.rules.semantic;
    state.answered_since_question = true;
    if let (Some(r), Some(c)) = (
        &rules.frustration,
        event.agent.as_ref().and_then(|a| a.confidence),
    ) {
        if c < r.weak_confidence {
            state.weak_answer_streak += 1;
        } else {
            state.weak_answer_streak = 0;
        }
    }
    let Some(sem) = &policy.semantic else {
        return;
    };
    let (Some(r), Some(h)) = (
        &rules.agent_transfer_promise,
        sem.heads.get("agent_transfer_promise"),
    ) else {
        return;
    };
    if !r.enabled || tool_called || event.text.trim().is_empty() {
        return;
    }
    let views = Views::of(sem, &event.text);
    let p = views.probability(h, "promise");
    if p >= r.threshold {
        let why = format!(
            "the agent promised a person without calling the transfer tool: {}",
            event.text
        );
        out.push(learned_fire(
            &r.id,
            r.reason,
            r.urgency,
            event,
            p,
            r.threshold,
            why,
        ));
    }
}

/// One reason per kind: a lexicon or measured rule records the exact evidence, so it is kept
/// over a learned one of the same kind; among learned ones, the widest margin over the
/// threshold.
pub(super) fn one_per_kind(fired: Vec<Fired>) -> Vec<Fired> {
    let margin = |f: &Fired| {
        let t = f.reason.threshold.unwrap_or(0.0);
        if f.reason.kind == ReasonKind::OutOfScope && f.learned && f.reason.score < t {
            t - f.reason.score // a similarity below the domain threshold
        } else {
            f.reason.score - t
        }
    };
    let mut out: Vec<Fired> = Vec::with_capacity(fired.len());
    for f in fired {
        match out.iter_mut().find(|g| g.reason.kind == f.reason.kind) {
            None => out.push(f),
            Some(g) => {
                let better = match (g.learned, f.learned) {
                    (false, _) => false,
                    (true, false) => true,
                    (true, true) => margin(&f) > margin(g),
                };
                if better {
                    *g = f;
                }
            }
        }
    }
    out
}
