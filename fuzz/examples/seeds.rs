//! Writes seed inputs into `fuzz/corpus/<target>/` (cargo-fuzz's default corpus directories)
//! from the repository's own data: every line of `infra/samples/*.jsonl` for `replay_line`, the
//! same records Avro-encoded for `avro_decode`, and `infra/policy/default.toml` for
//! `policy_toml`. Idempotent (files are named by content).
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example seeds`

use handoff_core::replay::{read_all, ReplayRecord};
use std::path::{Path, PathBuf};

fn write(dir: &Path, bytes: &[u8]) {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(format!("seed-{:016x}", h.finish())), bytes).unwrap();
}

fn main() {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let repo = fuzz.join("..");
    let corpus = fuzz.join("corpus");
    let (events, commands) = handoff_fuzz::codecs();
    let mut samples: Vec<PathBuf> = std::fs::read_dir(repo.join("infra/samples"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    samples.sort();
    let (mut lines, mut avro) = (0, 0);
    for path in &samples {
        let text = std::fs::read_to_string(path).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            write(&corpus.join("replay_line"), line.as_bytes());
            lines += 1;
        }
        for record in read_all(text.as_bytes(), &path.display().to_string()).unwrap() {
            let datum = match &record {
                ReplayRecord::Event(e) => events.encode(e),
                ReplayRecord::Command(c) => commands.encode(c),
            }
            .expect("a sample record encodes");
            write(&corpus.join("avro_decode"), &datum);
            avro += 1;
        }
    }
    let policy = std::fs::read(repo.join("infra/policy/default.toml")).unwrap();
    write(&corpus.join("policy_toml"), &policy);
    println!(
        "seeded {}: replay_line {lines}, avro_decode {avro}, policy_toml 1",
        corpus.display()
    );
}
