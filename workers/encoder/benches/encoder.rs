//! Encoder speed on the real model (`make model` installs it; HANDOFF_MODEL_DIR or the repo's
//! .run/models/all-minilm-l6-v2): model load for both encoders, the full transformer per
//! sentence at batch 1 and 32, the static encoder per contact turn.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use handoff_encoder::{StaticEncoder, TextEncoder, TransformerEncoder};

/// Contact turns of the length the detector sees (about 20 tokens).
const TURNS: &[&str] = &[
    "Hi, I was charged twice for my order last week and I still haven't received a refund.",
    "Can I please speak to a real person about this? The chatbot is not helping at all.",
    "Someone changed the email on my account this morning and it wasn't me, please help.",
    "My parcel was supposed to arrive on Monday but the tracking hasn't moved in four days.",
    "Ich möchte mein Abonnement kündigen und alle meine Daten löschen lassen, bitte.",
    "¿Pueden devolverme el dinero? El producto llegó roto y nadie me responde.",
    "The app keeps crashing when I try to upload a file larger than 10 MB on Android.",
    "Thanks, that fixed it! Great service as always, have a nice day.",
];

fn model_dir() -> PathBuf {
    let dir = handoff_encoder::model_dir_from_env().unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.run/models/all-minilm-l6-v2")
    });
    assert!(
        dir.join("model.safetensors").is_file(),
        "no encoder model in {} (run `make model`)",
        dir.display()
    );
    dir
}

fn load(c: &mut Criterion) {
    let dir = model_dir();
    let mut group = c.benchmark_group("encoder/load");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("full", |b| {
        b.iter(|| black_box(TransformerEncoder::load(&dir).unwrap()))
    });
    group.bench_function("static", |b| {
        b.iter(|| black_box(StaticEncoder::load(&dir).unwrap()))
    });
    group.finish();
}

fn full_per_sentence(c: &mut Criterion) {
    let encoder = TransformerEncoder::load(&model_dir()).unwrap();
    let mut group = c.benchmark_group("encoder/full");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    for batch in [1usize, 32] {
        let texts: Vec<&str> = TURNS.iter().cycle().take(batch).copied().collect();
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::new("batch", batch), &texts, |b, texts| {
            b.iter(|| black_box(encoder.embed_batch(texts)))
        });
    }
    group.finish();
}

fn static_per_turn(c: &mut Criterion) {
    let encoder = StaticEncoder::load(&model_dir()).unwrap();
    let mut group = c.benchmark_group("encoder/static");
    group.throughput(Throughput::Elements(TURNS.len() as u64));
    group.bench_function("turn", |b| {
        b.iter(|| {
            for turn in TURNS {
                black_box(encoder.embed(black_box(turn)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, load, full_per_sentence, static_per_turn);
criterion_main!(benches);
