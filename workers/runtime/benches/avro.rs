//! Avro encode and decode per record, for each schema: the codec's per-record work (serde to an
//! Avro value, datum encoding, and back), without the registry round trip, which happens once
//! per schema at start-up and is cached. The records come from the sample conversations played
//! through the offline pipeline, so their sizes are those the workers see. `make bench` runs it.

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::{from_value, to_value, Schema};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use handoff_core::detect::{on_event, ConversationState};
use handoff_core::pipeline::{Output, Pipeline};
use handoff_core::records::*;
use handoff_core::replay::{parse_line, ReplayRecord};
use handoff_core::Policy;
use handoff_runtime::codec::AvroRecord;
use std::hint::black_box;

/// One record of every kind, from the samples in `infra/samples`.
struct Samples {
    event: ConversationEvent,
    command: OperatorCommand,
    signal: StopSignal,
    payload: HandoffPayload,
    routed: RoutedHandoff,
    control: AgentControl,
    lifecycle: LifecycleEvent,
    state: ConversationState,
}

fn samples() -> Samples {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/samples");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let records: Vec<ReplayRecord> = files
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .filter_map(|l| parse_line(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    let policy = Policy::builtin();
    let mut pipeline = Pipeline::new(&policy);
    let outputs: Vec<Output> = records.iter().flat_map(|r| pipeline.feed(r)).collect();
    let pick = |f: &dyn Fn(&Output) -> bool| outputs.iter().find(|o| f(o)).cloned().unwrap();
    let events: Vec<&ConversationEvent> = records
        .iter()
        .filter_map(|r| match r {
            ReplayRecord::Event(e) => Some(e),
            _ => None,
        })
        .collect();
    // The state of the longest sample conversation after all its events.
    let longest = events
        .iter()
        .map(|e| &e.conversation_id)
        .max_by_key(|c| events.iter().filter(|e| &e.conversation_id == *c).count())
        .unwrap()
        .clone();
    let mut state = ConversationState::new(&longest);
    for e in events.iter().filter(|e| e.conversation_id == longest) {
        on_event(&mut state, e, &policy, e.occurred_at);
    }
    Samples {
        event: (*events.iter().max_by_key(|e| e.text.len()).unwrap()).clone(),
        command: records
            .iter()
            .find_map(|r| match r {
                ReplayRecord::Command(c) => Some(c.clone()),
                _ => None,
            })
            .unwrap(),
        signal: match pick(&|o| matches!(o, Output::Signal(_))) {
            Output::Signal(s) => s,
            _ => unreachable!(),
        },
        payload: match pick(&|o| matches!(o, Output::Payload(_))) {
            Output::Payload(p) => p,
            _ => unreachable!(),
        },
        routed: match pick(&|o| matches!(o, Output::Route(_))) {
            Output::Route(r) => r,
            _ => unreachable!(),
        },
        control: match pick(&|o| matches!(o, Output::Control(_))) {
            Output::Control(c) => c,
            _ => unreachable!(),
        },
        lifecycle: match pick(&|o| matches!(o, Output::Lifecycle(_))) {
            Output::Lifecycle(l) => l,
            _ => unreachable!(),
        },
        state,
    }
}

/// As the codec: serde to an Avro value, then the datum (encode); the datum to a value, then
/// serde to the record (decode).
fn bench_one<T: AvroRecord + Clone>(c: &mut Criterion, name: &str, record: &T) {
    let schema = Schema::parse_str(T::SCHEMA).unwrap();
    let writer = GenericDatumWriter::builder(&schema).build().unwrap();
    let reader = GenericDatumReader::builder(&schema).build().unwrap();
    let bytes = writer
        .write_value_to_vec(to_value(record).unwrap())
        .unwrap();
    let mut g = c.benchmark_group(format!("avro/{name}"));
    g.throughput(Throughput::Elements(1));
    g.bench_function(format!("encode_{}B", bytes.len()), |b| {
        b.iter(|| {
            writer
                .write_value_to_vec(to_value(black_box(record)).unwrap())
                .unwrap()
        })
    });
    g.bench_function(format!("decode_{}B", bytes.len()), |b| {
        b.iter(|| {
            let value = reader.read_value(&mut black_box(&bytes[..])).unwrap();
            from_value::<T>(&value).unwrap()
        })
    });
    g.finish();
}

fn avro(c: &mut Criterion) {
    let s = samples();
    bench_one(c, "ConversationEvent", &s.event);
    bench_one(c, "OperatorCommand", &s.command);
    bench_one(c, "StopSignal", &s.signal);
    bench_one(c, "HandoffPayload", &s.payload);
    bench_one(c, "RoutedHandoff", &s.routed);
    bench_one(c, "AgentControl", &s.control);
    bench_one(c, "LifecycleEvent", &s.lifecycle);
    bench_one(c, "ConversationState", &s.state);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(2));
    targets = avro
}
criterion_main!(benches);
