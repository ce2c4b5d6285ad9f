//! The learned rules' logic on a small bag-of-words encoder with hand-set heads: pure math, so
//! the multi-turn bookkeeping (evidence carried over turns, weak answers, rephrasing, vetoes,
//! one reason per kind) is checked exactly. The real model's decisions are checked by
//! `workers/semantic/tests/decisions.rs`.

use super::*;
use crate::semantic::heads::{Head, Heads};
use crate::semantic::{TextEncoder, DIM};
use chrono::{TimeZone, Utc};
use std::sync::Arc;

/// Each word is one direction (a hash of it) plus a faint dense signature; a text is the
/// normalised sum of its words.
#[derive(Debug)]
struct WordsEncoder;

fn slot(word: &str) -> usize {
    (super::id_hash(word) as u64 % DIM as u64) as usize
}

impl TextEncoder for WordsEncoder {
    fn embed(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0f32; DIM];
        for w in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            let w = w.to_lowercase();
            v[slot(&w)] += 1.0;
            // A faint dense signature per word, so the vectors are dense like a real
            // encoder's (the rephrase sketch reads signs of every coordinate).
            let mut h = super::id_hash(&w) as u64;
            for x in v.iter_mut() {
                h = h.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                *x += if h >> 63 == 1 { 0.01 } else { -0.01 };
            }
        }
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if n > 0.0 {
            v.iter_mut().for_each(|x| *x /= n);
        }
        v
    }
    fn id(&self) -> &str {
        "words@test"
    }
}

/// A head whose first label gains `weight` per listed word; the last label ("other") is the
/// default (bias 4, so a turn without the words scores the first label near 0).
fn head(labels: &[&str], words: &[(&str, usize, f32)]) -> Head {
    let mut weights = vec![vec![0f32; DIM]; labels.len()];
    for (w, label, weight) in words {
        weights[*label][slot(w)] += weight;
    }
    let mut bias = vec![0f32; labels.len()];
    *bias.last_mut().unwrap() = 4.0;
    Head {
        labels: labels.iter().map(|l| l.to_string()).collect(),
        weights,
        bias,
        data: Vec::new(),
        validation: Default::default(),
    }
}

fn heads() -> Heads {
    let mut h = Heads::new("words@test", DIM);
    let mut put = |name: &str, head: Head| {
        h.heads.insert(name.into(), head);
    };
    put(
        "explicit_request",
        head(&["request", "other"], &[("somebody", 0, 14.0)]),
    );
    // One takeover word gives p ≈ 0.7 (below the turn threshold), two turns add up.
    put(
        "fraud",
        head(
            &["fraud", "other"],
            &[("changed", 0, 9.0), ("payee", 0, 9.0)],
        ),
    );
    put(
        "compliance",
        head(
            &["opt_out", "deletion", "other"],
            &[("texts", 0, 14.0), ("erase", 1, 14.0)],
        ),
    );
    put(
        "threat",
        head(&["threat", "other"], &[("lawsuit", 0, 14.0)]),
    );
    put(
        "frustration",
        head(
            &["frustrated", "not_answered", "other"],
            &[("asked", 1, 14.0), ("furious", 0, 14.0)],
        ),
    );
    put(
        "agent_transfer_promise",
        head(&["promise", "other"], &[("colleague", 0, 18.0)]),
    );
    put(
        "safety",
        head(&["emergency", "other"], &[("swallowed", 0, 14.0)]),
    );
    put(
        "out_of_domain",
        head(&["out_of_domain", "in_domain"], &[("recipe", 0, 14.0)]),
    );
    put("intent", head(&["billing", "general"], &[]));
    h
}

/// The default policy with every learned rule on and thresholds fixed for these hand-set heads
/// (the shipped thresholds are calibrated for the real model and may move).
fn policy_text() -> String {
    crate::policy::DEFAULT_POLICY_TOML
        .replace("threshold = 0.97", "threshold = 0.7")
        .replace(
            "conversation_threshold = 0.9",
            "conversation_threshold = 0.75",
        )
        .replace("carry = 0.8", "carry = 0.8")
        .replace("enabled = false\n", "")
}

fn policy() -> Policy {
    Policy::from_toml(&policy_text(), "t")
        .unwrap()
        .with_semantic(Arc::new(WordsEncoder), heads(), "test heads")
        .unwrap()
}

fn at(s: u32) -> crate::time::Timestamp {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, s).unwrap()
}

fn turn(n: u32, actor: Actor, text: &str, confidence: Option<f64>) -> ConversationEvent {
    ConversationEvent {
        event_id: format!("e{n}"),
        conversation_id: "c1".into(),
        tenant_id: "acme".into(),
        occurred_at: at(n),
        channel: "web".into(),
        actor,
        text: text.into(),
        language: None,
        agent: (actor == Actor::Agent).then(|| AgentTurn {
            confidence,
            ..Default::default()
        }),
        contact: None,
        entry: None,
        attributes: Default::default(),
    }
}

/// The reasons of the escalation each turn caused (empty when none), in order.
fn run(policy: &Policy, turns: &[(Actor, &str, Option<f64>)]) -> Vec<Vec<Reason>> {
    let mut state = ConversationState::new("c1");
    turns
        .iter()
        .enumerate()
        .map(|(i, (actor, text, c))| {
            let e = turn(i as u32 + 1, *actor, text, *c);
            on_event(&mut state, &e, policy, e.occurred_at)
                .into_iter()
                .find_map(|o| match o {
                    DetectorOutput::Signal(s) => Some(s.reasons),
                    _ => None,
                })
                .unwrap_or_default()
        })
        .collect()
}

use Actor::{Agent, Contact};

#[test]
fn fraud_evidence_adds_up_over_turns_but_one_hint_does_not_fire() {
    let p = policy();
    let alone = run(&p, &[(Contact, "someone changed my email", None)]);
    assert!(alone[0].is_empty(), "{alone:?}");
    let two = run(
        &p,
        &[
            (Contact, "someone changed my email", None),
            (Agent, "I can look into that.", Some(0.9)),
            (Contact, "a new payee appeared", None),
        ],
    );
    let r = &two[2];
    assert_eq!(r.len(), 1, "{two:?}");
    assert_eq!(r[0].kind, ReasonKind::Fraud);
    assert_eq!(r[0].rule_id, "semantic.fraud.v1");
    assert_eq!(r[0].threshold, Some(0.75), "the conversation threshold");
    assert!(
        r[0].score >= 0.75 && r[0].evidence_text.contains("several turns"),
        "{r:?}"
    );
}

#[test]
fn evidence_decays_over_ordinary_turns() {
    let p = policy();
    let mut turns = vec![(Contact, "someone changed my email", None)];
    for line in [
        "ok what about my statement",
        "where do I see the interest rate",
        "can I order a second card",
        "how long does a transfer take",
        "is there a fee abroad",
        "thanks and the app login",
    ] {
        turns.push((Agent, "Here is how that works.", Some(0.9)));
        turns.push((Contact, line, None));
    }
    turns.push((Contact, "a new payee appeared", None));
    let out = run(&p, &turns);
    assert!(out.iter().all(Vec::is_empty), "{out:?}");
}

#[test]
fn two_weak_answers_then_not_answered_fires_low_confidence() {
    let p = policy();
    let out = run(
        &p,
        &[
            (Contact, "why was my fee higher this month", None),
            (Agent, "Fees can vary.", Some(0.5)),
            (Contact, "but which fee exactly", None),
            (Agent, "There are several fees.", Some(0.45)),
            (Contact, "that is not what I asked", None),
        ],
    );
    let r = &out[4];
    assert_eq!(r.len(), 1, "{out:?}");
    assert_eq!(r[0].kind, ReasonKind::LowConfidence);
    assert_eq!(r[0].rule_id, "semantic.frustration.v1");
    // One strong answer breaks the streak: the same words then do not fire.
    let out = run(
        &p,
        &[
            (Agent, "Fees can vary.", Some(0.5)),
            (Agent, "Your fee was the FX fee of 2 EUR.", Some(0.9)),
            (Contact, "that is not what I asked", None),
        ],
    );
    assert!(out[2].is_empty(), "{out:?}");
}

#[test]
fn the_same_question_after_an_answer_counts_as_missed() {
    let p = policy();
    let q = "how do I export my invoices to csv";
    let out = run(
        &p,
        &[
            (Contact, q, None),
            (Agent, "Invoices are in the portal.", Some(0.55)),
            (Contact, "how do I export my invoices to csv please", None),
        ],
    );
    assert!(
        out[2].is_empty(),
        "one weak answer and one repeat: not yet {out:?}"
    );
    let out = run(
        &p,
        &[
            (Contact, q, None),
            (Agent, "Invoices are in the portal.", Some(0.55)),
            (Contact, "how do I export my invoices to csv please", None),
            (Agent, "The portal has invoices.", Some(0.7)),
            (Contact, "so how do I export my invoices to csv", None),
        ],
    );
    assert_eq!(
        out[4].first().map(|r| r.rule_id.as_str()),
        Some("semantic.rephrase.v1"),
        "{out:?}"
    );
}

#[test]
fn an_agent_promise_without_the_tool_fires_and_with_it_does_not_twice() {
    let p = policy();
    let out = run(
        &p,
        &[(Agent, "I will pass you to a colleague now", Some(0.8))],
    );
    assert_eq!(out[0].len(), 1, "{out:?}");
    assert_eq!(out[0][0].kind, ReasonKind::ToolCall);
    assert_eq!(out[0][0].rule_id, "semantic.agent_transfer_promise.v1");
    let mut state = ConversationState::new("c1");
    let mut e = turn(1, Agent, "I will pass you to a colleague now", Some(0.8));
    e.agent.as_mut().unwrap().tool_calls = vec![ToolCall {
        name: "transfer_to_human".into(),
        arguments: "{}".into(),
    }];
    let reasons: Vec<Reason> = on_event(&mut state, &e, &p, e.occurred_at)
        .into_iter()
        .find_map(|o| match o {
            DetectorOutput::Signal(s) => Some(s.reasons),
            _ => None,
        })
        .unwrap();
    assert_eq!(reasons.len(), 1);
    assert_eq!(reasons[0].rule_id, "tool_call.transfer_to_human.v1");
}

#[test]
fn a_request_in_a_second_sentence_is_not_diluted() {
    let p = policy();
    let text =
        "I have been waiting for my parcel for nine days now and the tracking page is empty. \
                Could somebody look at it";
    let out = run(&p, &[(Contact, text, None)]);
    assert_eq!(
        out[0].first().map(|r| r.kind),
        Some(ReasonKind::ExplicitRequest),
        "{out:?}"
    );
}

#[test]
fn one_reason_per_kind_keeps_the_lexicon_match() {
    let p = policy();
    // The lexicon ("talk to a person") and the head ("somebody") both see a request.
    let out = run(
        &p,
        &[(Contact, "can I talk to a person, somebody please", None)],
    );
    let kinds: Vec<ReasonKind> = out[0].iter().map(|r| r.kind).collect();
    assert_eq!(kinds, vec![ReasonKind::ExplicitRequest], "{out:?}");
    assert_eq!(out[0][0].rule_id, "explicit_request.v1");
}

#[test]
fn a_confident_head_vetoes_a_lexicon_match_out_of_context() {
    let text = policy_text().replacen(
        "id = \"semantic.fraud.v1\"",
        "id = \"semantic.fraud.v1\"\nveto_below = 0.2",
        1,
    );
    let p = Policy::from_toml(&text, "t")
        .unwrap()
        .with_semantic(Arc::new(WordsEncoder), heads(), "h")
        .unwrap();
    // "scam" is in the fraud lexicon; the head sees no fraud here.
    let out = run(
        &p,
        &[(Contact, "honestly this rate is a scam in a good way", None)],
    );
    assert!(out[0].is_empty(), "{out:?}");
    assert!(!run(
        &policy(),
        &[(Contact, "honestly this rate is a scam in a good way", None)]
    )[0]
    .is_empty());
}

#[test]
fn safety_is_immediate_with_the_policy_reason() {
    let p = policy();
    let mut state = ConversationState::new("c1");
    let e = turn(1, Contact, "my son swallowed a battery", None);
    let signal = on_event(&mut state, &e, &p, e.occurred_at)
        .into_iter()
        .find_map(|o| match o {
            DetectorOutput::Signal(s) => Some(s),
            _ => None,
        })
        .unwrap();
    assert_eq!(signal.urgency, Urgency::Immediate);
    assert_eq!(signal.reasons[0].kind, ReasonKind::OutOfScope);
    assert_eq!(signal.reasons[0].rule_id, "semantic.safety.v1");
}

#[test]
fn a_turn_far_from_the_tenant_domain_is_out_of_scope_with_the_nearest_intents() {
    let dir = std::env::temp_dir().join(format!("learned-domain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("bank.csv"),
        "text,intent\nmy card payment was declined,cards\nI need a new card pin,cards\nwhat is my account balance,accounts\n",
    )
    .unwrap();
    let text = policy_text().replacen(
        "domain_examples = []",
        "domain_examples = [\"bank.csv\"]",
        1,
    );
    let p = Policy::from_toml_in(&text, "t", Some(&dir))
        .unwrap()
        .with_semantic(Arc::new(WordsEncoder), heads(), "h")
        .unwrap();
    let out = run(&p, &[(Contact, "which train goes to Lyon tonight", None)]);
    let r = &out[0][0];
    assert_eq!(
        (r.kind, r.rule_id.as_str()),
        (ReasonKind::OutOfScope, "out_of_scope.v1")
    );
    assert!(r.evidence_text.contains("nearest"), "{r:?}");
    let near = run(&p, &[(Contact, "my card payment was declined again", None)]);
    assert!(near[0].is_empty(), "{near:?}");
    let short = run(&p, &[(Contact, "yes Lyon", None)]);
    assert!(
        short[0].is_empty(),
        "short answers state no request: {short:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn old_state_without_the_learned_fields_still_reads() {
    let mut state = ConversationState::new("c1");
    state.fraud_evidence = 0.4;
    let mut v = serde_json::to_value(&state).unwrap();
    for k in [
        "fraud_evidence",
        "weak_answer_streak",
        "unanswered",
        "question_sketch",
        "answered_since_question",
    ] {
        v.as_object_mut().unwrap().remove(k);
    }
    let old: ConversationState = serde_json::from_value(v).unwrap();
    assert_eq!(old.fraud_evidence, 0.0);
    assert!(old.question_sketch.is_empty());
}

#[test]
fn heads_from_another_encoder_are_refused_naming_the_file() {
    let mut h = heads();
    h.encoder_id = "other@1".into();
    let err = Policy::builtin()
        .with_semantic(Arc::new(WordsEncoder), h, "models/heads.json")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("models/heads.json") && err.contains("other@1"),
        "{err}"
    );
    let mut h = heads();
    h.heads.remove("fraud");
    let err = Policy::builtin()
        .with_semantic(Arc::new(WordsEncoder), h, "models/heads.json")
        .unwrap_err()
        .to_string();
    assert!(err.contains("rules.semantic.fraud"), "{err}");
}

#[test]
fn frustration_needs_the_lexicon_to_lean_negative_too() {
    // The lexicon's own sentiment rule off (its score is still kept), so only the head can fire.
    let p = Policy::from_toml(
        &policy_text().replace("turn_threshold = -0.65", "turn_threshold = -1.0"),
        "t",
    )
    .unwrap()
    .with_semantic(Arc::new(WordsEncoder), heads(), "test heads")
    .unwrap();
    let fired = |text: &str| -> Vec<String> {
        run(&p, &[(Contact, text, None)])[0]
            .iter()
            .filter(|r| r.kind == ReasonKind::Sentiment)
            .map(|r| r.rule_id.clone())
            .collect()
    };
    assert_eq!(
        fired("still waiting and furious about it"),
        ["semantic.frustration.v1"]
    );
    // The same head word in sarcastic praise: the head alone would fire, the lexicon says
    // the turn is positive.
    assert!(fired("furious? no, I love this wonderful, great service").is_empty());
}
