//! Unit and property tests of the builder.

use super::golden::sample_signal;
use super::*;
use proptest::prelude::*;

fn builder() -> &'static Builder {
    default_builder()
}

fn turn(i: usize, actor: Actor, text: String) -> Turn {
    Turn {
        event_id: format!("e{i}"),
        actor,
        text,
        occurred_at: chrono::Utc::now(),
    }
}

fn base_signal() -> StopSignal {
    sample_signal(
        "01-refund-ask-for-person.jsonl",
        "s01-5",
        ReasonKind::ExplicitRequest,
        Urgency::Normal,
    )
}

/// Text pieces that carry facts, mixed with arbitrary text by the property tests.
fn fact_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u32..99_999).prop_map(|n| format!("order {n}")),
        (1u32..9_999, 0u32..100).prop_map(|(a, c)| format!("EUR {a}.{c:02}")),
        (1u32..999_999).prop_map(|n| format!("${n}")),
        (10u32..99_999).prop_map(|n| format!("account A-{n}")),
        (100u32..99_999).prop_map(|n| format!("ticket TK-{n}")),
        (1u32..28).prop_map(|d| format!("{d} November")),
        Just("a.b@example.com".to_string()),
        "[a-zA-Z ]{0,40}",
        any::<String>(),
    ]
}

fn arbitrary_signal(
    name: Option<String>,
    company: Option<String>,
    turns: Vec<(bool, Vec<String>)>,
    agent: bool,
) -> StopSignal {
    let mut s = base_signal();
    s.transcript = turns
        .into_iter()
        .enumerate()
        .map(|(i, (contact, pieces))| {
            turn(
                i,
                if contact {
                    Actor::Contact
                } else {
                    Actor::Agent
                },
                pieces.join(" "),
            )
        })
        .collect();
    if let Some(c) = s.contact.as_mut() {
        c.name = name;
        c.company = company;
    }
    if !agent {
        s.agent_intent = None;
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn summary_is_at_most_80_words_and_keeps_money_and_ids_that_fit(
        name in proptest::option::of(any::<String>()),
        company in proptest::option::of("[A-Za-z ]{0,80}"),
        turns in proptest::collection::vec(
            (any::<bool>(), proptest::collection::vec(fact_piece(), 0..6)), 0..20),
        agent in any::<bool>(),
    ) {
        let s = arbitrary_signal(name, company, turns, agent);
        let p = builder().build(&s);
        let words = p.summary.split_whitespace().count();
        prop_assert!(words <= SUMMARY_MAX_WORDS, "{} words: {}", words, p.summary);
        prop_assert!(!p.summary.contains('\n'));
        // Every money/id fact appears when they fit: the lead and escalation take at most
        // ~30 words, so 40 words of "order 1, EUR 2" always fit.
        let key: Vec<&Fact> = p.facts.confirmed.iter()
            .filter(|f| entities::is_key_kind(&f.kind)).collect();
        let needed: usize = key.iter()
            .map(|f| mention(&f.kind, &f.value).split_whitespace().count()).sum();
        if needed <= 40 {
            for f in key {
                prop_assert!(p.summary.contains(&f.value), "lacks {}: {}", f.value, p.summary);
            }
        }
        prop_assert_eq!(builder().forbidden_phrase(&p.draft_reply), None);
    }

    #[test]
    fn entity_extraction_never_panics(text in any::<String>()) {
        let _ = entities::extract(&text);
    }
}

#[test]
fn drafts_never_promise_what_the_policy_forbids() {
    // A deployment forbids a phrase the built-in refund draft uses ("checking"): that draft is
    // skipped and a compliant one is used instead.
    let policy = BuilderPolicy {
        forbidden_promises: vec!["exact status".into(), "refund approved".into()],
        ..Default::default()
    };
    let b = Builder::new(&policy).unwrap();
    let p = b.build(&base_signal());
    assert!(
        !p.draft_reply.to_lowercase().contains("exact status"),
        "{}",
        p.draft_reply
    );
    assert!(p.draft_reply.starts_with("Hi Olivia,"), "{}", p.draft_reply);
    // A policy's own draft that promises a forbidden outcome is refused at start-up.
    let bad = BuilderPolicy {
        drafts: vec![DraftRule {
            lang: "en".into(),
            when: vec!["refund".into()],
            text: "Hi {first_name}, good news: refund approved!".into(),
            domains: vec![],
            voice: None,
        }],
        ..Default::default()
    };
    let err = Builder::new(&bad).unwrap_err().to_string();
    assert!(err.contains("refund approved"), "{err}");
    // The built-in list covers Spanish and German too.
    let b = default_builder();
    assert!(b
        .forbidden_phrase("Su reembolso aprobado llega mañana")
        .is_some());
    assert!(b
        .forbidden_phrase("Wir garantieren die Lieferung")
        .is_some());
}

#[test]
fn priority_from_urgency_reasons_and_account_value() {
    let b = default_builder();
    let mut s = base_signal();
    assert_eq!(b.build(&s).priority, Priority::Normal);
    s.urgency = Urgency::Nurture;
    assert_eq!(b.build(&s).priority, Priority::Low);
    s.contact.as_mut().unwrap().value = Some(50_000.0);
    assert_eq!(
        b.build(&s).priority,
        Priority::Normal,
        "value raises one step"
    );
    s.urgency = Urgency::Normal;
    s.contact.as_mut().unwrap().plan = Some("Enterprise".into());
    assert_eq!(
        b.build(&s).priority,
        Priority::High,
        "account value raises once"
    );
    s.reasons[0].kind = ReasonKind::Threat;
    assert_eq!(b.build(&s).priority, Priority::Urgent);
    s.urgency = Urgency::Immediate;
    s.reasons[0].kind = ReasonKind::ExplicitRequest;
    assert_eq!(b.build(&s).priority, Priority::Urgent);
}

#[test]
fn policy_section_parses_with_rules_and_is_validated() {
    let text = crate::policy::DEFAULT_POLICY_TOML.to_string()
        + r#"
[[builder.drafts]]
lang = "fr"
when = ["*"]
text = "Bonjour[[ {first_name}]], je m'occupe de votre demande."
"#;
    let policy = Policy::from_toml(&text, "t").unwrap();
    let b = Builder::for_policy(&policy, None).unwrap();
    let mut s = base_signal();
    s.language = Some("fr".into());
    assert_eq!(
        b.build(&s).draft_reply,
        "Bonjour Olivia, je m'occupe de votre demande."
    );
    let bad = crate::policy::DEFAULT_POLICY_TOML
        .replace("summary_max_words = 80", "summary_max_words = 120");
    assert_ne!(bad, crate::policy::DEFAULT_POLICY_TOML);
    let policy = Policy::from_toml(&bad, "t").unwrap();
    let err = Builder::for_policy(&policy, None).unwrap_err().to_string();
    assert!(err.contains("summary_max_words"), "{err}");
    let typo = crate::policy::DEFAULT_POLICY_TOML.replace("min_confidence", "min_confidenc");
    assert!(
        Policy::from_toml(&typo, "t").is_err(),
        "unknown keys are refused"
    );
}

#[test]
fn classifier_examples_load_from_the_policy_directory() {
    let dir = std::env::temp_dir().join(format!("handoff-builder-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut csv = String::from("text,intent\n");
    for i in 0..20 {
        csv.push_str(&format!("my parcel {i} is lost in transit,shipping/lost\n"));
        csv.push_str(&format!("please bill me {i} times less,billing/discount\n"));
    }
    std::fs::write(dir.join("intents-extra.csv"), csv).unwrap();
    let policy = BuilderPolicy {
        classifier: ClassifierPolicy {
            examples: vec!["intents-extra.csv".into()],
            ..Default::default()
        },
        ..Default::default()
    };
    let b = Builder::with_base_dir(&policy, Some(&dir)).unwrap();
    let p = b.classifier().unwrap().predict("the parcel got lost");
    assert_eq!(p.label, "shipping/lost");
    let missing = Builder::with_base_dir(&policy, Some(Path::new("/nonexistent")));
    assert!(missing
        .unwrap_err()
        .to_string()
        .contains("intents-extra.csv"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn mentions_accepts_other_money_notations() {
    let f = Fact {
        kind: "money".into(),
        value: "EUR 640".into(),
        event_id: None,
        source: "contact_turn".into(),
    };
    assert!(mentions("a refund of €640 for order 55120", &f));
    assert!(mentions("640 EUR", &f));
    assert!(!mentions("a refund of EUR 64", &f));
}

#[test]
fn empty_and_odd_signals_still_build() {
    let mut s = base_signal();
    s.transcript.clear();
    s.contact = None;
    s.entry = None;
    s.reasons.clear();
    s.agent_intent = None;
    let p = default_builder().build(&s);
    assert!(p.summary.starts_with("The contact"), "{}", p.summary);
    assert!(p.draft_reply.starts_with("Hi,"), "{}", p.draft_reply);
    assert_eq!(p.intent.name, "unknown");
    assert!(p
        .facts
        .open_questions
        .contains(&"What is the contact's name?".to_string()));
}
