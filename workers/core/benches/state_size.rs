//! Bytes of detector state per open conversation: the Avro-encoded changelog record and an
//! estimate of the in-memory size, for realistic conversations of 4 to 20 turns.
//! Printed by `make bench`; target ≤ 2 KB per open conversation.

use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::Schema;
use chrono::{Duration, TimeZone, Utc};
use handoff_core::detect::{on_event, ConversationState};
use handoff_core::records::*;
use handoff_core::Policy;

const LINES: &[&str] = &[
    "Hi, my order 55120 has not arrived yet and the tracking page shows nothing",
    "I understand. Let me look at your order status for you.",
    "It was supposed to be here on Monday, I paid EUR 640 for it",
    "The parcel is with the courier and should arrive within two working days.",
    "That is what you said last week. Can you check with the warehouse?",
    "I have asked the warehouse; they confirm it left on 18 November.",
];

/// Heap bytes of the state, by capacity, plus its map entry: every field that can own memory.
fn heap(state: &ConversationState) -> usize {
    let s = |x: &String| x.capacity();
    let o = |x: &Option<String>| x.as_ref().map_or(0, String::capacity);
    // the packed turns: their string and per-turn entries, by capacity
    let turns = state.transcript.heap_bytes();
    // the packed contact: one exact-size buffer
    let contact = state.contact.as_ref().map_or(0, |c| c.heap_bytes());
    let entry = state.entry.as_ref().map_or(0, |e| {
        std::mem::size_of::<Entry>()
            + o(&e.source_url)
            + o(&e.campaign)
            + o(&e.referrer)
            // a BTreeMap node per few entries: count the strings and their headers
            + e.form_fields.iter().map(|(k, v)| 48 + s(k) + s(v)).sum::<usize>()
    });
    let citations = state.citations.capacity() * std::mem::size_of::<Citation>()
        + state
            .citations
            .iter()
            .map(|c| s(&c.source_id) + s(&c.title) + o(&c.url) + o(&c.snippet))
            .sum::<usize>();
    // seen_hashes and sentiment are inline rings: in size_of::<ConversationState>()
    let reasons: usize = state.open_reasons.capacity() * std::mem::size_of::<Reason>()
        + state
            .open_reasons
            .iter()
            .map(|r| s(&r.rule_id) + s(&r.evidence_event_id) + s(&r.evidence_text))
            .sum::<usize>();
    let cooldown = state.cooldown.as_ref().map_or(0, |c| {
        c.kinds.capacity() * std::mem::size_of::<ReasonKind>()
    });
    let names = s(&state.conversation_id)
        + s(&state.tenant_id)
        + s(&state.channel)
        + o(&state.handoff_id)
        + o(&state.trigger_id)
        + o(&state.claimed_by)
        + o(&state.language)
        + o(&state.agent_intent)
        + o(&state.agent_sub_intent);
    std::mem::size_of::<ConversationState>()
        + names
        + turns
        + contact
        + entry
        + citations
        + reasons
        + cooldown
        // the map entry that holds it (key + bucket)
        + std::mem::size_of::<String>() * 2
        + state.conversation_id.len()
}

fn main() {
    let policy = Policy::builtin();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemas/ConversationState.avsc"
    );
    let schema = Schema::parse_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let writer = GenericDatumWriter::builder(&schema).build().unwrap();
    let start = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap();
    println!("== detector state per open conversation (target <= 2 KB)");
    println!(
        "{:>6} {:>14} {:>16}",
        "turns", "avro bytes", "memory (est.)"
    );
    for turns in [4usize, 8, 12, 20, 40] {
        let n = 200;
        let (mut avro, mut mem) = (0usize, 0usize);
        for c in 0..n {
            let mut state = ConversationState::new(&format!("conversation-{c:06}"));
            for i in 0..turns {
                let contact = i % 2 == 0;
                let e = ConversationEvent {
                    event_id: format!("conversation-{c:06}-{i}"),
                    conversation_id: format!("conversation-{c:06}"),
                    tenant_id: "acme".into(),
                    occurred_at: start + Duration::seconds(i as i64 * 20),
                    channel: "web".into(),
                    actor: if contact {
                        Actor::Contact
                    } else {
                        Actor::Agent
                    },
                    text: LINES[i % LINES.len()].into(),
                    language: None,
                    agent: (!contact).then(|| AgentTurn {
                        confidence: Some(0.8),
                        intent: Some("orders".into()),
                        ..Default::default()
                    }),
                    contact: (i == 0).then(|| Contact {
                        name: Some("Ana Ruiz".into()),
                        email: Some("ana@example.com".into()),
                        account_id: Some("A-77".into()),
                        plan: Some("growth".into()),
                        ..Default::default()
                    }),
                    entry: None,
                    attributes: Default::default(),
                };
                on_event(&mut state, &e, &policy, e.occurred_at);
            }
            avro += writer.write_ser_to_vec(&state).unwrap().len();
            mem += heap(&state);
        }
        println!("{turns:>6} {:>14} {:>16}", avro / n, mem / n);
    }
    println!(
        "(the transcript is capped at handoff.transcript_window = {} turns and {} bytes of text, {} per turn; size_of ConversationState = {} B)",
        policy.handoff.transcript_window,
        handoff_core::detect::TRANSCRIPT_TEXT_BUDGET,
        handoff_core::detect::MAX_TURN_TEXT,
        std::mem::size_of::<ConversationState>()
    );
}
