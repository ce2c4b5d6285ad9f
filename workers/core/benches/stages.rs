//! Pure-stage throughput: detector events, builder payloads, router decisions, all without
//! Kafka. `make bench` runs it; figures are per core (criterion runs single-threaded).

use chrono::{Duration, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use handoff_core::compose::Builder;
use handoff_core::detect::{on_event, ConversationState, DetectorOutput};
use handoff_core::records::*;
use handoff_core::route::route;
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

/// A realistic mixed conversation of `turns` turns; every tenth conversation asks for a human.
fn conversation(c: usize, turns: usize) -> Vec<ConversationEvent> {
    let start = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap();
    (0..turns)
        .map(|i| {
            let contact = i % 2 == 0;
            let text = if contact && c.is_multiple_of(10) && i == turns - 2 {
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
                contact: (i == 0).then(|| Contact {
                    name: Some("Ana Ruiz".into()),
                    email: Some("ana@example.com".into()),
                    account_id: Some("A-77".into()),
                    ..Default::default()
                }),
                entry: None,
                attributes: Default::default(),
            }
        })
        .collect()
}

fn signal_for(turns: usize) -> StopSignal {
    let policy = Policy::builtin();
    let mut state = ConversationState::new("c0");
    let mut events = conversation(0, turns);
    events.last_mut().unwrap().text = "get me a manager now".into();
    events.last_mut().unwrap().actor = Actor::Contact;
    events
        .iter()
        .flat_map(|e| on_event(&mut state, e, &policy, e.occurred_at))
        .find_map(|o| match o {
            DetectorOutput::Signal(s) => Some(s),
            _ => None,
        })
        .expect("the conversation escalates")
}

fn detector(c: &mut Criterion) {
    let policy = Policy::builtin();
    let events: Vec<ConversationEvent> = (0..200).flat_map(|c| conversation(c, 12)).collect();
    let mut g = c.benchmark_group("detector");
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
}

fn builder_and_router(c: &mut Criterion) {
    let policy = Policy::builtin();
    let signal = signal_for(16);
    let builder = Builder::new(&policy.builder).expect("builder");
    let payload = builder.build(&signal);
    let now = Utc::now();
    let mut g = c.benchmark_group("stages");
    g.throughput(Throughput::Elements(1));
    g.bench_function("builder_payload_16_turns", |b| {
        b.iter(|| black_box(builder.build(black_box(&signal))))
    });
    g.bench_function("router_decision", |b| {
        b.iter(|| black_box(route(black_box(&payload), &policy, now)))
    });
    g.finish();
}

criterion_group!(benches, detector, builder_and_router);
criterion_main!(benches);
