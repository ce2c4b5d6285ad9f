//! Detector throughput with the learned detectors on (the built-in policy, the static encoder
//! and the built-in heads), on the same mixed conversations as `handoff-core`'s `stages` bench:
//! per core, criterion runs single-threaded. Needs the model (`make model`).

use chrono::{Duration, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use handoff_core::detect::{on_event, ConversationState};
use handoff_core::records::*;
use handoff_core::semantic::TextEncoder;
use handoff_core::Policy;
use std::hint::black_box;

const CONTACT_LINES: &[&str] = &[
    "Hi, my order 55120 has not arrived yet",
    "It was supposed to be here on Monday",
    "I paid EUR 640 for it and the tracking page shows nothing",
    "Can you check again please?",
    "This is the third time I write about this",
    "ok, and when will the refund be processed?",
];

fn conversation(c: usize, turns: usize) -> Vec<ConversationEvent> {
    let start = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap();
    (0..turns)
        .map(|i| {
            let contact = i % 2 == 0;
            let text = if contact && c % 10 == 0 && i == turns - 2 {
                "can I talk to a person please".to_string()
            } else if contact {
                CONTACT_LINES[(i / 2) % CONTACT_LINES.len()].to_string()
            } else {
                "I understand. Let me look at your order status for you.".to_string()
            };
            ConversationEvent {
                event_id: format!("c{c}-{i}"),
                conversation_id: format!("c{c}"),
                tenant_id: "acme".into(),
                occurred_at: start + Duration::seconds(i as i64 * 20),
                channel: "web".into(),
                actor: if contact {
                    Actor::Contact
                } else {
                    Actor::Agent
                },
                text,
                language: None,
                agent: (!contact).then(|| AgentTurn {
                    confidence: Some(0.8),
                    intent: Some("orders".into()),
                    ..Default::default()
                }),
                contact: None,
                entry: None,
                attributes: Default::default(),
            }
        })
        .collect()
}

fn detector_learned(c: &mut Criterion) {
    let policy =
        handoff_semantic::with_learned_detectors(Policy::builtin()).expect("model installed");
    let encoder = handoff_semantic::load_encoder().expect("model installed");
    let events: Vec<ConversationEvent> = (0..200).flat_map(|c| conversation(c, 12)).collect();
    let mut g = c.benchmark_group("detector_learned");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("events_mixed_200x12", |b| {
        b.iter_batched(
            std::collections::HashMap::<String, ConversationState>::new,
            |mut states| {
                for e in &events {
                    let s = states
                        .entry(e.conversation_id.clone())
                        .or_insert_with(|| ConversationState::new(&e.conversation_id));
                    black_box(on_event(s, e, &policy, e.occurred_at));
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
    let mut g = c.benchmark_group("static_encoder");
    g.throughput(Throughput::Elements(1));
    g.bench_function("embed_contact_turn", |b| {
        b.iter(|| black_box(encoder.embed(black_box(CONTACT_LINES[2]))))
    });
    g.finish();
}

criterion_group!(benches, detector_learned);
criterion_main!(benches);
