//! Golden tests over the sample conversations (`infra/samples`): every payload field.
//!
//! The signals are made here from the sample events (the transcript up to the turn each sample
//! says fires, the blocks, citations and agent intent as the detector accumulates them), so
//! these tests pin the builder and do not move when the detector's rules change.

use super::*;
use crate::replay::{read_all, ReplayRecord};

const SAMPLES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/samples");

/// The signal the detector would send for `file` when it fires at `fires_at` for `kind`.
pub(crate) fn sample_signal(
    file: &str,
    fires_at: &str,
    kind: ReasonKind,
    urgency: Urgency,
) -> StopSignal {
    let path = format!("{SAMPLES_DIR}/{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let records = read_all(text.as_bytes(), file).expect("sample parses");
    let mut s = StopSignal {
        signal_id: format!("sig-{fires_at}"),
        handoff_id: format!("h-{fires_at}"),
        conversation_id: String::new(),
        tenant_id: String::new(),
        trigger_event_id: fires_at.to_string(),
        decided_at: chrono::Utc::now(),
        policy_version: "test".into(),
        decision: Decision::Escalate,
        reasons: Vec::new(),
        urgency,
        channel: String::new(),
        language: None,
        transcript: Vec::new(),
        contact: None,
        entry: None,
        citations: Vec::new(),
        sentiment: Vec::new(),
        agent_intent: None,
        agent_sub_intent: None,
        agent_intent_confidence: None,
    };
    let mut evidence = String::new();
    for r in records {
        match r {
            ReplayRecord::Event(e) => {
                s.conversation_id.clone_from(&e.conversation_id);
                s.tenant_id.clone_from(&e.tenant_id);
                s.channel.clone_from(&e.channel);
                s.decided_at = e.occurred_at;
                if e.language.is_some() {
                    s.language.clone_from(&e.language);
                }
                if e.contact.is_some() {
                    s.contact.clone_from(&e.contact);
                }
                if e.entry.is_some() {
                    s.entry.clone_from(&e.entry);
                }
                if let Some(a) = &e.agent {
                    if a.intent.is_some() {
                        s.agent_intent.clone_from(&a.intent);
                        s.agent_sub_intent.clone_from(&a.sub_intent);
                        s.agent_intent_confidence = a.confidence;
                    }
                    for c in &a.citations {
                        if !s.citations.iter().any(|x| x.source_id == c.source_id) {
                            s.citations.push(c.clone());
                        }
                    }
                    if let Some(t) = a.tool_calls.first() {
                        evidence = format!("{}({})", t.name, t.arguments);
                    }
                }
                if e.actor == Actor::Contact {
                    evidence.clone_from(&e.text);
                }
                s.transcript.push(Turn {
                    event_id: e.event_id.clone(),
                    actor: e.actor,
                    text: e.text.clone(),
                    occurred_at: e.occurred_at,
                });
                if e.event_id == fires_at {
                    break;
                }
            }
            ReplayRecord::Command(c) => {
                if c.command_id == fires_at {
                    evidence = c.note.clone().unwrap_or_default();
                    s.decided_at = c.issued_at;
                    break;
                }
            }
        }
    }
    s.reasons.push(Reason {
        kind,
        rule_id: format!("{}.v1", kind.as_str()),
        score: 1.0,
        threshold: None,
        evidence_event_id: fires_at.to_string(),
        evidence_text: evidence,
    });
    s
}

/// What one sample's payload must hold.
struct Golden {
    file: &'static str,
    fires_at: &'static str,
    kind: ReasonKind,
    urgency: Urgency,
    /// Fragments the summary must contain.
    summary: &'static [&'static str],
    /// (kind, value, event id) of confirmed facts; `""` event id: from a block.
    confirmed: &'static [(&'static str, &'static str, &'static str)],
    /// (intent, sub-intent, source)
    intent: (&'static str, &'static str, &'static str),
    citations: &'static [&'static str],
    /// The draft's first words and fragments it must contain.
    draft: &'static [&'static str],
    action: &'static [&'static str],
    priority: Priority,
    language: &'static str,
}

const GOLDEN: &[Golden] = &[
    Golden {
        file: "01-refund-ask-for-person.jsonl",
        fires_at: "s01-5",
        kind: ReasonKind::ExplicitRequest,
        urgency: Urgency::Normal,
        summary: &[
            "Olivia Brennan",
            "about a refund",
            "order 55207",
            "EUR 89.90",
            "account A-3381",
            "9 November",
            "kb-15",
            "asked for a human",
        ],
        confirmed: &[
            ("order_id", "55207", "s01-1"),
            ("money", "EUR 89.90", "s01-1"),
            ("date", "9 November", "s01-1"),
            ("date", "11 November", "s01-3"),
            ("account_id", "A-3381", ""),
        ],
        intent: ("billing", "refund", "agent"),
        citations: &["kb-15"],
        draft: &["Hi Olivia,", "refund of EUR 89.90 for order 55207"],
        action: &["refund", "55207"],
        priority: Priority::Normal,
        language: "en",
    },
    Golden {
        file: "02-refund-over-limit-tool-call.jsonl",
        fires_at: "s02-4",
        kind: ReasonKind::ToolCall,
        urgency: Urgency::Normal,
        summary: &[
            "Jonas Weber",
            "order 55120",
            "EUR 640",
            "Lumen 3",
            "18 November",
            "refund approval over limit",
        ],
        confirmed: &[
            ("order_id", "55120", "s02-1"),
            ("money", "EUR 640", "s02-1"),
            ("product", "Lumen 3", "s02-1"),
            ("date", "18 November", "s02-1"),
            ("account_id", "A-1207", ""),
            ("campaign", "black-friday-early-access", ""),
        ],
        intent: ("billing", "refund", "agent"),
        citations: &["kb-14", "kb-12"],
        draft: &["Hi Jonas,", "EUR 640", "55120"],
        action: &[
            "approve the refund of EUR 640 for order 55120",
            "kb-12",
            "EUR 500",
        ],
        priority: Priority::Normal,
        language: "en",
    },
    Golden {
        file: "03-shipping-delay-es.jsonl",
        fires_at: "s03-5",
        kind: ReasonKind::ExplicitRequest,
        urgency: Urgency::Normal,
        summary: &[
            "Lucía Fernández",
            "in Spanish",
            "late delivery",
            "order 55342",
            "EUR 159",
            "17 November",
            "Trail Runner X2",
        ],
        confirmed: &[
            ("order_id", "55342", "s03-1"),
            ("money", "EUR 159", "s03-1"),
            ("date", "17 November", "s03-1"),
            ("product", "Trail Runner X2", "s03-1"),
            ("phone", "+34 612 000 431", ""),
            ("account_id", "A-5520", ""),
        ],
        intent: ("shipping", "delivery_delay", "agent"),
        citations: &["kb-31", "kb-32"],
        draft: &["Hola Lucía,", "pedido 55342"],
        action: &["order 55342", "carrier"],
        priority: Priority::Normal,
        language: "es",
    },
    Golden {
        file: "04-login-2fa-de.jsonl",
        fires_at: "s04-5",
        kind: ReasonKind::ExplicitRequest,
        urgency: Urgency::Normal,
        summary: &[
            "Stefan Hartmann",
            "Hartmann Feinkost GmbH",
            "enterprise plan",
            "VIP",
            "in German",
            "login",
            "account A-4410",
            "error 401",
            "14:00",
        ],
        confirmed: &[
            ("account_id", "A-4410", "s04-1"),
            ("error_code", "401", "s04-1"),
            ("time", "14:00", "s04-5"),
            ("company", "Hartmann Feinkost GmbH", ""),
            ("vip", "yes", ""),
        ],
        intent: ("technical", "login", "agent"),
        citations: &["kb-40", "kb-41"],
        // No tenant profile: the default voice is friendly ("Hallo"; the texts still say Sie).
        draft: &["Hallo Stefan Hartmann,", "Konto A-4410"],
        action: &["identity", "A-4410"],
        priority: Priority::High,
        language: "de",
    },
    Golden {
        file: "05-outage-frustration.jsonl",
        fires_at: "s05-7",
        kind: ReasonKind::Sentiment,
        urgency: Urgency::Normal,
        summary: &[
            "Marcus Lindqvist",
            "Pine & Pebble",
            "outage",
            "EUR 2,500",
            // The contact's own words carry the account and the error ("Account A-2093, store
            // name ...", "'Error 503'"), so the Facts list does not repeat them.
            "Account A-2093",
            "Error 503",
            "frustrated",
        ],
        confirmed: &[
            ("error_code", "503", "s05-1"),
            ("time", "09:40", "s05-1"),
            ("account_id", "A-2093", "s05-1"),
            ("money", "EUR 2,500", "s05-7"),
        ],
        intent: ("technical", "outage", "agent"),
        citations: &["status-2026-11-20-eu-west", "kb-55"],
        draft: &["Hi Marcus,", "incident"],
        action: &["status update", "EUR 2,500"],
        priority: Priority::Normal,
        language: "en",
    },
    Golden {
        file: "06-renewal-chargeback-threat.jsonl",
        fires_at: "s06-5",
        kind: ReasonKind::Threat,
        urgency: Urgency::Normal,
        summary: &[
            "Priya Nair",
            "VIP",
            "disputed charge",
            "USD 1,188",
            "invoice INV-20931",
            "account A-0615",
            "threatened",
        ],
        confirmed: &[
            ("money", "USD 1,188", "s06-1"),
            ("invoice_id", "INV-20931", "s06-1"),
            ("date", "18 November", "s06-1"),
            ("date", "2 November", "s06-1"),
            ("account_id", "A-0615", ""),
            ("vip", "yes", ""),
        ],
        intent: ("subscription", "renewal_charge", "agent"),
        citations: &["kb-22", "kb-23"],
        draft: &["Hi Priya,", "USD 1,188", "INV-20931"],
        action: &["Priya", "USD 1,188", "chargeback"],
        priority: Priority::Urgent,
        language: "en",
    },
    Golden {
        file: "07-unsubscribe-delete-data.jsonl",
        fires_at: "s07-5",
        kind: ReasonKind::Keyword,
        urgency: Urgency::Normal,
        summary: &[
            "Lena Kraus",
            "email",
            "unsubscribe both addresses",
            "delete my data",
            "order 55018",
            "account A-7734",
        ],
        confirmed: &[
            ("email", "lena.kraus@example.net", "s07-3"),
            ("email", "l.kraus@example.org", "s07-3"),
            ("order_id", "55018", "s07-3"),
            ("account_id", "A-7734", ""),
        ],
        intent: ("account", "email_preferences", "agent"),
        citations: &["kb-2", "kb-9"],
        draft: &["Hi Lena,"],
        action: &["Unsubscribe", "A-7734"],
        priority: Priority::Normal,
        language: "en",
    },
    Golden {
        file: "08-mixer-low-confidence.jsonl",
        fires_at: "s08-6",
        kind: ReasonKind::LowConfidence,
        urgency: Urgency::Normal,
        summary: &[
            "Tomasz Nowak",
            "WhatsApp",
            "Brio 12",
            "Brio 9",
            "order 41877",
            "1,500 W",
            "not confident",
        ],
        confirmed: &[
            ("order_id", "41877", "s08-1"),
            ("product", "Brio 12", "s08-1"),
            ("product", "Brio 9", "s08-1"),
            ("measure", "1,500 W", "s08-5"),
            ("measure", "3,000 W", "s08-5"),
            ("measure", "1,000 W", "s08-5"),
        ],
        intent: ("product_question", "power_requirements", "agent"),
        citations: &["pdp-brio-12"],
        draft: &["Hi Tomasz,", "Brio 12"],
        action: &["product question"],
        priority: Priority::Normal,
        language: "en",
    },
    Golden {
        file: "09-wrist-brace-medical-out-of-scope.jsonl",
        fires_at: "s09-6",
        kind: ReasonKind::OutOfScope,
        urgency: Urgency::Normal,
        summary: &[
            "Aisha Bello",
            "medical advice",
            "order 55398",
            "EUR 49",
            "400 mg",
            "out of scope",
        ],
        confirmed: &[
            ("order_id", "55398", "s09-1"),
            ("money", "EUR 49", "s09-1"),
            ("measure", "16.5 cm", "s09-1"),
            ("date", "2 November", "s09-5"),
            ("measure", "400 mg", "s09-5"),
            ("date", "7 December", "s09-5"),
        ],
        intent: ("product_question", "medical_advice", "agent"),
        citations: &["kb-77", "kb-78", "kb-79"],
        draft: &["Hi Aisha,", "medical"],
        action: &["cannot advise"],
        priority: Priority::Normal,
        language: "en",
    },
    Golden {
        file: "10-enterprise-250-seats-sales.jsonl",
        fires_at: "s10-5",
        kind: ReasonKind::Sales,
        urgency: Urgency::Normal,
        summary: &[
            "Daniel Okafor",
            "Northwind Logistics",
            "Enterprise",
            "USD 120,000",
            "account A-9154",
            "250 seats",
            "15 December",
            "sales",
        ],
        confirmed: &[
            ("quantity", "250 seats", "s10-1"),
            ("quantity", "40 seats", "s10-1"),
            ("money", "USD 120,000", "s10-5"),
            ("date", "15 December", "s10-5"),
            ("contact_value", "120,000", ""),
            ("campaign", "q4-enterprise-webinar", ""),
            ("form_field", "seats: 250", ""),
        ],
        intent: ("sales", "enterprise_plan", "agent"),
        citations: &["kb-60", "kb-61", "kb-63"],
        draft: &["Hi Daniel,", "250 seats"],
        action: &["quote for 250 seats", "USD 120,000"],
        priority: Priority::High,
        language: "en",
    },
    Golden {
        file: "11-stolen-card-order.jsonl",
        fires_at: "s11-5",
        kind: ReasonKind::Fraud,
        urgency: Urgency::Normal,
        summary: &[
            "Sanne de Vries",
            "possible fraud",
            "order 55577",
            "EUR 1,249.00",
            "account A-3046",
        ],
        confirmed: &[
            ("order_id", "55577", "s11-1"),
            ("money", "EUR 1,249.00", "s11-5"),
            ("date", "18 November", "s11-5"),
            ("phone", "+31 6 0000 1842", ""),
        ],
        intent: ("order_status", "payment_method", "agent"),
        citations: &["kb-50"],
        draft: &["Hi Sanne,", "EUR 1,249.00", "order 55577", "bank"],
        action: &["Hold fulfilment of order 55577", "4417"],
        priority: Priority::Urgent,
        language: "en",
    },
    Golden {
        file: "12-tracking-link-take-over.jsonl",
        fires_at: "s12-op-1",
        kind: ReasonKind::Manual,
        urgency: Urgency::Normal,
        summary: &[
            "Ethan Clarke",
            "starter plan",
            "tracking",
            "order 55689",
            "account A-2251",
            "operator took over",
        ],
        confirmed: &[("order_id", "55689", "s12-1"), ("account_id", "A-2251", "")],
        intent: ("shipping", "tracking", "agent"),
        citations: &["kb-33"],
        draft: &["Hi Ethan,", "55689"],
        action: &["55689"],
        priority: Priority::Normal,
        language: "en",
    },
];

#[test]
fn every_sample_payload_field() {
    let builder = Builder::new(&BuilderPolicy::default()).unwrap();
    for g in GOLDEN {
        let signal = sample_signal(g.file, g.fires_at, g.kind, g.urgency);
        let p = builder.build(&signal);
        let ctx = format!("{}: {p:#?}", g.file);
        // Identity, copied through.
        assert_eq!(p.handoff_id, signal.handoff_id, "{ctx}");
        assert_eq!(p.signal_id, signal.signal_id);
        assert_eq!(p.conversation_id, signal.conversation_id);
        assert_eq!(p.tenant_id, "acme");
        assert_eq!(p.trigger_event_id, g.fires_at);
        assert_eq!(p.created_at, signal.decided_at);
        assert_eq!(p.policy_version, "test");
        assert_eq!(p.decision, Decision::Escalate);
        assert_eq!(p.urgency, g.urgency);
        assert_eq!(p.reasons, signal.reasons);
        assert_eq!(p.transcript, signal.transcript);
        // Summary: one paragraph, ≤ 80 words, the facts.
        let words = p.summary.split_whitespace().count();
        assert!((20..=80).contains(&words), "{} words: {ctx}", words);
        assert!(!p.summary.contains('\n'));
        for want in g.summary {
            assert!(
                p.summary.contains(want),
                "summary lacks {want:?}: {}",
                p.summary
            );
        }
        for f in p
            .facts
            .confirmed
            .iter()
            .filter(|f| entities::is_key_kind(&f.kind))
        {
            assert!(
                p.summary.contains(&f.value),
                "summary lacks {}: {}",
                f.value,
                p.summary
            );
        }
        // Facts, with the events they came from.
        for (kind, value, event) in g.confirmed {
            let f = p
                .facts
                .confirmed
                .iter()
                .find(|f| f.kind == *kind && f.value == *value)
                .unwrap_or_else(|| panic!("no confirmed {kind}={value}: {ctx}"));
            if event.is_empty() {
                assert!(
                    f.source == "contact_block" || f.source == "entry_block",
                    "{f:?}"
                );
                assert_eq!(f.event_id, None);
            } else {
                assert_eq!(f.source, "contact_turn");
                assert_eq!(f.event_id.as_deref(), Some(*event), "{f:?}");
            }
        }
        for f in &p.facts.confirmed {
            if let Some(e) = &f.event_id {
                let turn = signal.transcript.iter().find(|t| &t.event_id == e).unwrap();
                assert_eq!(
                    turn.actor,
                    Actor::Contact,
                    "{f:?} is not from a contact turn"
                );
            }
        }
        for f in &p.facts.inferred {
            assert!(f.source == "agent_turn" || f.source == "builder", "{f:?}");
        }
        assert!(p.facts.open_questions.len() <= MAX_OPEN_QUESTIONS);
        // Intent.
        assert_eq!(p.intent.name, g.intent.0, "{ctx}");
        assert_eq!(p.intent.sub_intent.as_deref(), Some(g.intent.1));
        assert_eq!(p.intent.source, g.intent.2);
        assert!((0.0..=1.0).contains(&p.intent.confidence));
        // Citations: deduplicated, in order of use.
        let ids: Vec<&str> = p.citations.iter().map(|c| c.source_id.as_str()).collect();
        assert_eq!(ids, g.citations, "{}", g.file);
        // Draft reply: addresses the contact, in the conversation's language, promises nothing forbidden.
        assert!(
            p.draft_reply.starts_with(g.draft[0]),
            "{}: {}",
            g.file,
            p.draft_reply
        );
        for want in &g.draft[1..] {
            assert!(
                p.draft_reply.contains(want),
                "draft lacks {want:?}: {}",
                p.draft_reply
            );
        }
        assert_eq!(
            builder.forbidden_phrase(&p.draft_reply),
            None,
            "{}",
            p.draft_reply
        );
        // Next action with reasoning.
        for want in g.action {
            let both = format!("{} {}", p.next_action.action, p.next_action.reasoning);
            assert!(both.contains(want), "next action lacks {want:?}: {both}");
        }
        assert!(!p.next_action.reasoning.is_empty());
        assert_eq!(p.priority, g.priority, "{}", g.file);
        // Context.
        assert_eq!(p.context.contact, signal.contact);
        assert_eq!(p.context.entry, signal.entry);
        assert_eq!(p.context.channel, signal.channel);
        assert_eq!(p.context.language.as_deref(), Some(g.language));
        assert_eq!(p.context.sentiment, signal.sentiment);
        assert_eq!(p.context.rule_ids, vec![format!("{}.v1", g.kind.as_str())]);
        assert_eq!(p.composer.name, COMPOSER_NAME);
    }
}

#[test]
fn samples_without_an_agent_intent_are_classified() {
    let builder = Builder::new(&BuilderPolicy::default()).unwrap();
    for (file, at, kind, intent) in [
        (
            "01-refund-ask-for-person.jsonl",
            "s01-5",
            ReasonKind::ExplicitRequest,
            "billing",
        ),
        (
            "02-refund-over-limit-tool-call.jsonl",
            "s02-4",
            ReasonKind::ToolCall,
            "billing",
        ),
        (
            "04-login-2fa-de.jsonl",
            "s04-5",
            ReasonKind::ExplicitRequest,
            // Sign-in problems belong to the account team's labels (account/login).
            "account",
        ),
        (
            "05-outage-frustration.jsonl",
            "s05-7",
            ReasonKind::Sentiment,
            "technical",
        ),
        (
            "06-renewal-chargeback-threat.jsonl",
            "s06-5",
            ReasonKind::Threat,
            "billing",
        ),
        (
            "10-enterprise-250-seats-sales.jsonl",
            "s10-5",
            ReasonKind::Sales,
            "sales",
        ),
        (
            "11-stolen-card-order.jsonl",
            "s11-5",
            ReasonKind::Fraud,
            "fraud",
        ),
        (
            "12-tracking-link-take-over.jsonl",
            "s12-op-1",
            ReasonKind::Manual,
            "orders",
        ),
    ] {
        let mut s = sample_signal(file, at, kind, Urgency::Normal);
        s.agent_intent = None;
        s.agent_sub_intent = None;
        let p = builder.build(&s);
        assert_eq!(p.intent.source, "classifier");
        assert_eq!(p.intent.name, intent, "{file}: {:?}", p.intent);
        assert!(p.facts.inferred.iter().any(|f| f.kind == "intent"));
    }
}
