//! The `.avsc` files are the contract other teams code against; the Rust records are what our
//! workers write. This test writes every record with its schema the way the registry client does
//! (serde straight into the schema-aware writer), reads it back and compares, so the two cannot
//! drift apart unnoticed.

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::{from_value, Schema};
use chrono::{TimeZone, Utc};
use handoff_core::records::*;
use serde::{de::DeserializeOwned, Serialize};
use std::collections::BTreeMap;
use std::fmt::Debug;

fn schema(name: &str) -> Schema {
    let path = format!("{}/../../schemas/{name}.avsc", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Schema::parse_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(name: &str, record: &T) {
    let schema = schema(name);
    let bytes = GenericDatumWriter::builder(&schema)
        .build()
        .unwrap()
        .write_ser_to_vec(record)
        .unwrap_or_else(|e| panic!("{name}: write failed: {e}"));
    let value = GenericDatumReader::builder(&schema)
        .build()
        .unwrap()
        .read_value(&mut bytes.as_slice())
        .unwrap_or_else(|e| panic!("{name}: read failed: {e}"));
    let back: T = from_value(&value).unwrap_or_else(|e| panic!("{name}: from_value failed: {e}"));
    assert_eq!(&back, record, "{name} did not survive the round trip");
}

fn at(s: u32) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, s).unwrap()
}

use handoff_core::time::Timestamp;

fn contact() -> Contact {
    Contact {
        contact_id: Some("p-9".into()),
        name: Some("Ana Ruiz".into()),
        email: Some("ana@example.com".into()),
        phone: None,
        company: Some("Acme".into()),
        role: None,
        account_id: Some("A-77".into()),
        plan: Some("growth".into()),
        value: Some(1200.5),
        vip: true,
        tags: vec!["beta".into()],
    }
}

fn entry() -> Entry {
    Entry {
        source_url: Some("https://shop.example.com/orders".into()),
        campaign: None,
        referrer: Some("https://google.com".into()),
        form_fields: BTreeMap::from([("order".into(), "55120".into())]),
    }
}

fn citation() -> Citation {
    Citation {
        source_id: "kb-12".into(),
        title: "Refund policy".into(),
        url: Some("https://help.example.com/refunds".into()),
        snippet: None,
    }
}

fn reason() -> Reason {
    Reason {
        kind: ReasonKind::ToolCall,
        rule_id: "tool_call.v1".into(),
        score: 1.0,
        threshold: Some(0.5),
        evidence_event_id: "c7-4".into(),
        evidence_text: "transfer_to_human({})".into(),
    }
}

fn turn() -> Turn {
    Turn {
        event_id: "c7-3".into(),
        actor: Actor::Contact,
        text: "I want a refund".into(),
        occurred_at: at(1),
    }
}

pub fn event() -> ConversationEvent {
    ConversationEvent {
        event_id: "c7-4".into(),
        conversation_id: "c7".into(),
        tenant_id: "acme".into(),
        occurred_at: at(15),
        channel: "web".into(),
        actor: Actor::Agent,
        text: "Refunds over 500 EUR need a colleague.".into(),
        language: Some("en".into()),
        agent: Some(AgentTurn {
            confidence: Some(0.41),
            intent: Some("billing".into()),
            sub_intent: Some("refund".into()),
            out_of_scope: false,
            tool_calls: vec![ToolCall {
                name: "transfer_to_human".into(),
                arguments: "{\"reason\":\"refund approval\"}".into(),
            }],
            citations: vec![citation()],
        }),
        contact: Some(contact()),
        entry: Some(entry()),
        attributes: BTreeMap::from([("locale".into(), "en-GB".into())]),
    }
}

fn payload() -> HandoffPayload {
    HandoffPayload {
        handoff_id: "h1".into(),
        signal_id: "s1".into(),
        conversation_id: "c7".into(),
        tenant_id: "acme".into(),
        trigger_event_id: "c7-4".into(),
        created_at: at(16),
        policy_version: "v1".into(),
        decision: Decision::Escalate,
        urgency: Urgency::Immediate,
        reasons: vec![reason()],
        summary: "Ana wants a refund.".into(),
        transcript: vec![turn()],
        context: CapturedContext {
            contact: Some(contact()),
            entry: Some(entry()),
            channel: "web".into(),
            language: None,
            sentiment: vec![-0.2, -0.6],
            rule_ids: vec!["tool_call.v1".into()],
        },
        intent: Intent {
            name: "billing".into(),
            sub_intent: Some("refund".into()),
            confidence: 0.9,
            source: "agent".into(),
        },
        facts: Facts {
            confirmed: vec![Fact {
                kind: "order_id".into(),
                value: "55120".into(),
                event_id: Some("c7-3".into()),
                source: "contact_turn".into(),
            }],
            inferred: vec![],
            open_questions: vec!["Which card was charged?".into()],
        },
        citations: vec![citation()],
        draft_reply: "Hi Ana".into(),
        next_action: NextAction {
            action: "approve refund".into(),
            reasoning: "kb-12".into(),
        },
        priority: Priority::High,
        composer: Composer {
            name: "builtin".into(),
            version: "0.1.0".into(),
        },
    }
}

#[test]
fn conversation_event_full_and_minimal() {
    round_trip("ConversationEvent", &event());
    let minimal = ConversationEvent {
        agent: None,
        contact: None,
        entry: None,
        language: None,
        attributes: BTreeMap::new(),
        actor: Actor::Contact,
        ..event()
    };
    round_trip("ConversationEvent", &minimal);
}

#[test]
fn operator_command() {
    for action in [
        CommandAction::TakeOver,
        CommandAction::Claim,
        CommandAction::Resume,
        CommandAction::Resolve,
        CommandAction::Reassign,
        CommandAction::Pause,
        CommandAction::Unknown,
    ] {
        round_trip(
            "OperatorCommand",
            &OperatorCommand {
                command_id: "op-1".into(),
                conversation_id: "c7".into(),
                handoff_id: Some("h1".into()),
                operator: Operator {
                    id: "u-3".into(),
                    name: "Sam".into(),
                    team: "billing".into(),
                },
                issued_at: at(30),
                action,
                note: Some("approved".into()),
                send_follow_up_now: true,
                target_team: None,
                outcome: Some("resolved".into()),
            },
        );
    }
}

#[test]
fn stop_signal() {
    round_trip(
        "StopSignal",
        &StopSignal {
            signal_id: "s1".into(),
            handoff_id: "h1".into(),
            conversation_id: "c7".into(),
            tenant_id: "acme".into(),
            trigger_event_id: "c7-4".into(),
            decided_at: at(16),
            policy_version: "v1".into(),
            decision: Decision::Flag,
            reasons: vec![reason()],
            urgency: Urgency::Nurture,
            channel: "web".into(),
            language: Some("es".into()),
            transcript: vec![turn()],
            contact: Some(contact()),
            entry: None,
            citations: vec![citation()],
            sentiment: vec![0.1],
            agent_intent: Some("billing".into()),
            agent_sub_intent: None,
            agent_intent_confidence: Some(0.4),
        },
    );
}

#[test]
fn payload_and_routed_handoff() {
    round_trip("HandoffPayload", &payload());
    round_trip(
        "RoutedHandoff",
        &RoutedHandoff {
            route_id: "r1".into(),
            payload: payload(),
            routing: Routing {
                team: "billing".into(),
                queue: "billing.high".into(),
                rule_id: "route.billing".into(),
                matched_on: vec!["intent=billing".into()],
                priority: Priority::Urgent,
                routed_at: at(17),
                claim_by: at(47),
                attempt: 2,
            },
        },
    );
}

#[test]
fn agent_control_and_lifecycle() {
    round_trip(
        "AgentControl",
        &AgentControl {
            control_id: "k1".into(),
            conversation_id: "c7".into(),
            handoff_id: Some("h1".into()),
            issued_at: at(20),
            action: ControlAction::Resume,
            contact_notice: None,
            handoff_context: Some("A human just handed this back".into()),
            send_follow_up_now: true,
            follow_up_skipped_reason: Some("outside working hours".into()),
        },
    );
    round_trip(
        "LifecycleEvent",
        &LifecycleEvent {
            lifecycle_id: "l1".into(),
            handoff_id: "h1".into(),
            conversation_id: "c7".into(),
            transition: "claimed".into(),
            from_state: ControlState::AwaitingHuman,
            to_state: ControlState::Claimed,
            actor: "operator:u-3".into(),
            note: None,
            occurred_at: at(25),
            accepted: false,
            rejection_reason: Some("already claimed".into()),
            command_id: Some("op-1".into()),
            team: Some("billing".into()),
        },
    );
}

#[test]
fn conversation_state() {
    use handoff_core::detect::{on_event, ConversationState};
    let policy = handoff_core::Policy::builtin();
    let mut state = ConversationState::new("c7");
    let mut e = event();
    e.actor = Actor::Contact;
    e.text = "can I talk to a person?".into();
    on_event(&mut state, &e, &policy, at(20));
    assert!(state.claim_by_ms.is_some() && !state.open_reasons.is_empty());
    round_trip("ConversationState", &state);
    round_trip("ConversationState", &ConversationState::new("empty"));
}

/// Named types that appear in several files must be the same type everywhere.
#[test]
fn shared_named_types_agree_across_files() {
    let files = [
        "ConversationEvent",
        "OperatorCommand",
        "StopSignal",
        "HandoffPayload",
        "RoutedHandoff",
        "AgentControl",
        "LifecycleEvent",
        "ConversationState",
    ];
    let mut seen: BTreeMap<String, (String, serde_json::Value)> = BTreeMap::new();
    fn walk(v: &serde_json::Value, out: &mut Vec<(String, serde_json::Value)>) {
        match v {
            serde_json::Value::Object(m) => {
                if let (Some(t), Some(n)) = (
                    m.get("type").and_then(|t| t.as_str()),
                    m.get("name").and_then(|n| n.as_str()),
                ) {
                    if t == "record" || t == "enum" {
                        out.push((n.to_string(), v.clone()));
                    }
                }
                m.values().for_each(|x| walk(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    for f in files {
        let path = format!("{}/../../schemas/{f}.avsc", env!("CARGO_MANIFEST_DIR"));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut named = Vec::new();
        walk(&json, &mut named);
        for (name, def) in named {
            // Compare the definition without nested named types' bodies: Avro allows a later
            // reference by name, so normalise by serialising as-is and comparing only when both
            // are full definitions.
            if let Some((other_file, other)) = seen.get(&name) {
                assert_eq!(
                    &def, other,
                    "{name} differs between {f}.avsc and {other_file}.avsc"
                );
            } else {
                seen.insert(name, (f.to_string(), def));
            }
        }
    }
}
