//! Tests of what the composition must do for any tenant: speak for the tenant (never a built-in
//! company), fit its domain, keep what the case is about in the summary, put safety first.

use super::golden::sample_signal;
use super::*;
use crate::policy::DEFAULT_POLICY_TOML;

/// A builder for the built-in policy plus `extra` TOML (tenant profiles).
fn builder_with(extra: &str) -> Builder {
    let policy = Policy::from_toml(&format!("{DEFAULT_POLICY_TOML}\n{extra}"), "t").unwrap();
    Builder::for_policy(&policy, None).unwrap()
}

fn turn(id: &str, actor: Actor, text: &str) -> Turn {
    Turn {
        event_id: id.into(),
        actor,
        text: text.into(),
        occurred_at: chrono::Utc::now(),
    }
}

/// A signal for `tenant` whose transcript is the given contact turns (and one agent answer).
fn signal(tenant: &str, language: &str, kind: ReasonKind, contact: &[&str]) -> StopSignal {
    let mut s = sample_signal(
        "01-refund-ask-for-person.jsonl",
        "s01-5",
        ReasonKind::ExplicitRequest,
        Urgency::Normal,
    );
    s.tenant_id = tenant.into();
    s.language = Some(language.into());
    s.agent_intent = None;
    s.agent_sub_intent = None;
    s.citations.clear();
    s.transcript = contact
        .iter()
        .enumerate()
        .map(|(i, t)| turn(&format!("c{i}"), Actor::Contact, t))
        .collect();
    s.transcript
        .push(turn("a1", Actor::Agent, "Let me look into that for you."));
    let last = format!("c{}", contact.len() - 1);
    s.reasons = vec![Reason {
        kind,
        rule_id: format!("{}.v1", kind.as_str()),
        score: 1.0,
        threshold: None,
        evidence_event_id: last,
        evidence_text: contact[contact.len() - 1].into(),
    }];
    s
}

const NORTHWIND: &str = "[tenants.northwind]\nname = \"Northwind Bank\"\ndomain = \"banking\"\nvoice = \"formal\"\n[tenants.pebble]\nname = \"Pebble Shop\"\ndomain = \"retail\"\n";

#[test]
fn drafts_speak_for_the_tenant_in_every_language() {
    let b = builder_with(NORTHWIND);
    for (lang, text, name_phrase) in [
        (
            "en",
            "My transfer to my landlord has not arrived",
            "the Northwind Bank",
        ),
        (
            "es",
            "Mi transferencia todavía no ha llegado",
            "de Northwind Bank",
        ),
        (
            "de",
            "Meine Überweisung ist noch nicht angekommen",
            "von Northwind Bank",
        ),
    ] {
        let p = b.build(&signal(
            "northwind",
            lang,
            ReasonKind::ExplicitRequest,
            &[text],
        ));
        assert!(
            p.draft_reply.contains(name_phrase),
            "{lang}: {}",
            p.draft_reply
        );
    }
    // Formal voice: the full name, and usted in Spanish.
    let p = b.build(&signal(
        "northwind",
        "es",
        ReasonKind::ExplicitRequest,
        &["Mi transferencia todavía no ha llegado"],
    ));
    assert!(
        p.draft_reply.starts_with("Buenos días Olivia Brennan,"),
        "{}",
        p.draft_reply
    );
    assert!(p.draft_reply.contains("repita"), "{}", p.draft_reply);
}

#[test]
fn no_built_in_text_names_a_company() {
    assert!(!rules::DEFAULTS_TOML.to_lowercase().contains("acme"));
    // Without a profile the drafts say "our ... team" in every language.
    let b = builder_with("");
    for (lang, kind, text) in [
        (
            "en",
            ReasonKind::Fraud,
            "Someone used my card and I don't recognise this charge",
        ),
        (
            "en",
            ReasonKind::ExplicitRequest,
            "Where is my parcel, order 55120?",
        ),
        (
            "es",
            ReasonKind::ExplicitRequest,
            "¿Dónde está mi pedido 55120?",
        ),
        (
            "de",
            ReasonKind::ExplicitRequest,
            "Wo ist meine Bestellung 55120?",
        ),
    ] {
        let p = b.build(&signal("acme", lang, kind, &[text]));
        let all = format!(
            "{} {} {}",
            p.draft_reply, p.next_action.action, p.next_action.reasoning
        );
        assert!(!all.to_lowercase().contains("acme"), "{all}");
    }
    let p = b.build(&signal(
        "acme",
        "en",
        ReasonKind::ExplicitRequest,
        &["Where is my parcel?"],
    ));
    assert!(
        p.draft_reply.contains("our support team"),
        "{}",
        p.draft_reply
    );
}

#[test]
fn a_bank_is_never_told_to_hold_an_order_a_shop_is() {
    let b = builder_with(NORTHWIND);
    let fraud = |tenant: &str| {
        b.build(&signal(
            tenant,
            "en",
            ReasonKind::Fraud,
            &["There is a charge of EUR 89 at an electronics shop on order 77120 from last night and it wasn't me"],
        ))
    };
    let bank = fraud("northwind");
    let both = format!("{} {}", bank.next_action.action, bank.next_action.reasoning);
    assert!(!both.to_lowercase().contains("order"), "{both}");
    assert!(!both.contains("before it ships"), "{both}");
    assert!(
        bank.next_action.action.starts_with("Block the card"),
        "{both}"
    );
    assert!(
        !bank.draft_reply.contains("contact your bank"),
        "{}",
        bank.draft_reply
    );
    let shop = fraud("pebble");
    assert!(
        shop.next_action
            .action
            .starts_with("Hold fulfilment of order 77120"),
        "{}",
        shop.next_action.action
    );
    assert!(
        shop.draft_reply.contains("the Pebble Shop team"),
        "{}",
        shop.draft_reply
    );
}

#[test]
fn the_summary_keeps_amount_counterparty_date_and_count_of_a_long_turn() {
    let long =
        "Hello, I hope you are well and that you had a nice weekend, I have been a customer \
        for many years and I usually never write to support. I am writing because something odd \
        is going on with my account. Three times this week, most recently on 14 November, a \
        payment of GBP 89.99 went to Brightline Electronics, a merchant I have never used, and \
        I need it stopped before my rent goes out on Friday. I already froze the card in the \
        app and changed my password but the payments keep coming. The weather here has been \
        lovely, by the way, and my dog says hello. Anyway that is why I am writing today.";
    let b = builder_with("");
    let p = b.build(&signal("acme", "en", ReasonKind::Fraud, &[long]));
    let words = p.summary.split_whitespace().count();
    assert!(words <= 80, "{words} words: {}", p.summary);
    for want in [
        "GBP 89.99",
        "Brightline Electronics",
        "14 November",
        "Three times",
    ] {
        assert!(p.summary.contains(want), "lacks {want:?}: {}", p.summary);
    }
    for noise in ["weather", "dog", "nice weekend"] {
        assert!(
            !p.summary.contains(noise),
            "quotes {noise:?}: {}",
            p.summary
        );
    }
}

#[test]
fn a_possible_emergency_is_urgent_and_the_draft_leads_with_the_instruction() {
    let b = builder_with("");
    for (lang, text, lead) in [
        (
            "en",
            "My son swallowed one of the button batteries from the remote you sold me, what do I do?",
            "If anyone is hurt or in danger right now, please call your local emergency number",
        ),
        (
            "es",
            "Mi hijo se tragó una pila del mando que compré, ¿qué hago?",
            "Si alguien está herido o en peligro ahora mismo, llama de inmediato",
        ),
        (
            "de",
            "Mein Sohn hat eine Knopfzelle aus der Fernbedienung verschluckt, was soll ich tun?",
            "Wenn gerade jemand verletzt oder in Gefahr ist, rufen Sie bitte sofort den Notruf",
        ),
    ] {
        let p = b.build(&signal("acme", lang, ReasonKind::OutOfScope, &[text]));
        assert_eq!(p.priority, Priority::Urgent, "{lang}");
        assert!(p.draft_reply.starts_with(lead), "{lang}: {}", p.draft_reply);
        assert!(p.summary.starts_with("POSSIBLE EMERGENCY"), "{}", p.summary);
        assert!(
            p.next_action.action.contains("emergency services"),
            "{}",
            p.next_action.action
        );
        assert!(
            p.facts.open_questions[0].contains("emergency services"),
            "{:?}",
            p.facts.open_questions
        );
        assert!(p
            .facts
            .inferred
            .iter()
            .any(|f| f.kind == "safety_risk" && f.event_id.as_deref() == Some("c0")));
    }
    // The same product question without harm stays normal.
    let p = b.build(&signal(
        "acme",
        "en",
        ReasonKind::OutOfScope,
        &["Which button batteries does the remote you sold me take?"],
    ));
    assert_eq!(p.priority, Priority::Normal);
    assert!(!p.draft_reply.contains("emergency"), "{}", p.draft_reply);
}

#[test]
fn inferred_facts_carry_conclusions_not_the_agents_general_answers() {
    let b = builder_with("");
    let mut s = signal(
        "acme",
        "en",
        ReasonKind::ExplicitRequest,
        &["Can I talk to someone about order 55120?"],
    );
    s.transcript.push(turn(
        "a2",
        Actor::Agent,
        "Our support hours are Monday to Friday, 08:00 to 18:00 CET, and refunds take 5 days. Your parcel is tracking PG7781204.",
    ));
    let p = b.build(&s);
    let inferred: Vec<(&str, &str)> = p
        .facts
        .inferred
        .iter()
        .map(|f| (f.kind.as_str(), f.value.as_str()))
        .collect();
    assert!(
        inferred.contains(&("tracking_id", "PG7781204")),
        "{inferred:?}"
    );
    for (kind, value) in &inferred {
        assert!(
            !matches!(*kind, "time" | "date" | "money"),
            "copied from the agent's answer: {kind}={value}"
        );
    }
}

/// An intent source that always says the same thing (a stand-in for a semantic head; the seam
/// is what is under test, not a model).
#[derive(Debug)]
struct Fixed(&'static str, f64);

impl crate::classify::IntentSource for Fixed {
    fn name(&self) -> &str {
        "semantic"
    }

    fn predict_parts(&self, _parts: &[&str]) -> Option<crate::classify::Prediction> {
        let (intent, sub) = self.0.split_once('/').unwrap();
        Some(crate::classify::Prediction {
            intent: intent.into(),
            sub_intent: Some(sub.into()),
            confidence: self.1,
            label_confidence: self.1,
            label: self.0.into(),
        })
    }
}

#[test]
fn a_plugged_intent_source_is_used_instead_or_before_the_classifier() {
    let s = signal(
        "acme",
        "en",
        ReasonKind::ExplicitRequest,
        &["I returned the item two weeks ago and still have not received my refund"],
    );
    let lexical = builder_with("").build(&s).intent;
    assert_eq!(
        (lexical.name.as_str(), lexical.source.as_str()),
        ("billing", "classifier")
    );
    let instead = builder_with("").with_intent_source(
        Arc::new(Fixed("orders/return", 0.9)),
        IntentSourceUse::Instead,
    );
    assert_eq!(instead.intent_sources().len(), 1);
    let p = instead.build(&s);
    assert_eq!(
        (p.intent.name.as_str(), p.intent.source.as_str()),
        ("orders", "semantic")
    );
    assert_eq!(classified_intent(&p), Some(("orders", Some("return"))));
    // Consulted first, but unsure: the lexical classifier still decides.
    let before = builder_with("").with_intent_source(
        Arc::new(Fixed("orders/return", 0.1)),
        IntentSourceUse::Before,
    );
    assert_eq!(before.intent_sources().len(), 2);
    assert_eq!(before.build(&s).intent.name, "billing");
}
