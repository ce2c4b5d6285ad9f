//! What the fuzz targets check, as plain functions: the libFuzzer targets in `fuzz_targets/`
//! call them, and so do the stable-Rust regression tests below (every seed and every saved
//! crash in `artifacts/` replayed through the same code) and the seed generator
//! (`examples/seeds.rs`).
//!
//! The property is always "no panic, no abort, no unbounded allocation"; where a parser accepts
//! its input, the targets also check that the record survives the round trip the workers put it
//! through (JSON replay: parse → serialise → parse; Avro: decode → `from_value` → `to_value` →
//! encode → decode), and that validation and the pure pipeline stages accept whatever the
//! parsers accept without panicking.

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::schema::ResolvedSchema;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::{from_value, Schema};
use chrono::{DateTime, TimeZone, Utc};
use handoff_core::compose::Builder;
use handoff_core::pipeline::Pipeline;
use handoff_core::records::{ConversationEvent, OperatorCommand};
use handoff_core::replay::{parse_line, read_all, ReplayRecord};
use handoff_core::validate::{self, DEFAULT_LIMITS};
use handoff_core::Policy;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;
use std::sync::OnceLock;

pub const EVENT_SCHEMA: &str = include_str!("../../schemas/ConversationEvent.avsc");
pub const COMMAND_SCHEMA: &str = include_str!("../../schemas/OperatorCommand.avsc");

/// The parsed schemas (parsing once keeps the targets fast).
pub fn schemas() -> &'static (Schema, Schema) {
    static SCHEMAS: OnceLock<(Schema, Schema)> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        (
            Schema::parse_str(EVENT_SCHEMA).expect("ConversationEvent.avsc parses"),
            Schema::parse_str(COMMAND_SCHEMA).expect("OperatorCommand.avsc parses"),
        )
    })
}

/// A fixed clock for validation, so a finding reproduces on any day.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
}

/// Inputs are capped like the workers cap records (1 MB), so the fuzzer spends its time on
/// structure, not on ever-longer strings.
const MAX_INPUT: usize = 1 << 20;

fn validate_record(r: &ReplayRecord) {
    match r {
        ReplayRecord::Event(e) => drop(validate::event(e, now(), &DEFAULT_LIMITS)),
        ReplayRecord::Command(c) => drop(validate::command(c, now(), &DEFAULT_LIMITS)),
    }
}

/// Floats may lose their last bit through a JSON round trip (serde_json's default float parser
/// is not correctly rounded); anything else must come back unchanged.
fn json_close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (a, b) {
        (J::Number(x), J::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) if x.is_finite() && y.is_finite() => {
                x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
            }
            _ => x == y,
        },
        (J::Array(x), J::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_close(x, y))
        }
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_close(v, w)))
        }
        _ => a == b,
    }
}

/// `replay_line`: one line of the JSON Lines replay format (and a whole stream, as raw bytes).
pub fn replay_line(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    // The stream reader over raw bytes: invalid UTF-8 must be an error, never a panic.
    if let Ok(records) = read_all(data, "fuzz") {
        records.iter().for_each(validate_record);
    }
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(Some(record)) = parse_line(line) else {
        return;
    };
    validate_record(&record);
    let json = serde_json::to_string(&record).expect("a parsed replay record serialises to JSON");
    let again = match parse_line(&json) {
        Ok(Some(r)) => r,
        other => panic!("the serialised record does not parse back: {other:?}\n{json}"),
    };
    let (a, b) = (
        serde_json::to_value(&record).unwrap(),
        serde_json::to_value(&again).unwrap(),
    );
    assert!(
        json_close(&a, &b),
        "JSON round trip changed the record:\n{a}\n{b}"
    );
}

/// A schema with its resolved names, cached as the workers' decoder caches them
/// (schema_registry_converter's `resolved_context`).
pub struct AvroCodec {
    schema: &'static Schema,
    resolved: ResolvedSchema<'static>,
}

impl AvroCodec {
    fn new(schema: &'static Schema) -> Self {
        AvroCodec {
            schema,
            resolved: ResolvedSchema::try_from(schema).expect("the schema resolves"),
        }
    }

    /// Decodes an Avro body as the workers do (`decode_bytes`: a `GenericDatumReader` over the
    /// writer schema).
    pub fn decode(&self, data: &[u8]) -> apache_avro::AvroResult<apache_avro::types::Value> {
        GenericDatumReader::builder(self.schema)
            .resolved_writer_schemata(self.resolved.clone())
            .build()?
            .read_value(&mut &data[..])
    }

    /// Encodes a record as the workers do (`encode_struct`: `GenericDatumWriter::write_ser_to_vec`).
    pub fn encode<T: Serialize>(&self, record: &T) -> apache_avro::AvroResult<Vec<u8>> {
        GenericDatumWriter::builder(self.schema)
            .resolved_schemata(self.resolved.clone())
            .build()?
            .write_ser_to_vec(record)
    }
}

/// The ConversationEvent and OperatorCommand codecs.
pub fn codecs() -> &'static (AvroCodec, AvroCodec) {
    static CODECS: OnceLock<(AvroCodec, AvroCodec)> = OnceLock::new();
    CODECS.get_or_init(|| {
        let (e, c) = schemas();
        (AvroCodec::new(e), AvroCodec::new(c))
    })
}

fn avro_round_trip<T>(codec: &AvroCodec, data: &[u8]) -> Option<T>
where
    T: Serialize + DeserializeOwned + Debug,
{
    let value = codec.decode(data).ok()?;
    // What the workers do with a decoded value (`worker::typed`).
    let record: T = from_value(&value).ok()?;
    // What they do when they publish one.
    let encoded = codec
        .encode(&record)
        .unwrap_or_else(|e| panic!("a decoded {record:?} does not encode again: {e}"));
    let again: T = codec
        .decode(&encoded)
        .and_then(|v| from_value(&v))
        .unwrap_or_else(|e| panic!("a re-encoded {record:?} does not decode: {e}"));
    // Debug, not PartialEq: a NaN confidence is the same record on both sides.
    assert_eq!(
        format!("{record:?}"),
        format!("{again:?}"),
        "Avro round trip changed the record"
    );
    Some(record)
}

/// `avro_decode`: Avro binary bodies (the bytes after the Confluent 5-byte header) decoded
/// against the ConversationEvent and OperatorCommand schemas, then read as the Rust records.
pub fn avro_decode(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    let (events, commands) = codecs();
    if let Some(e) = avro_round_trip::<ConversationEvent>(events, data) {
        validate_record(&ReplayRecord::Event(e));
    }
    if let Some(c) = avro_round_trip::<OperatorCommand>(commands, data) {
        validate_record(&ReplayRecord::Command(c));
    }
}

/// A short conversation that fires most rules of the default policy.
pub const CONVERSATION: &str =
    include_str!("../../infra/samples/02-refund-over-limit-tool-call.jsonl");

fn conversation() -> &'static [ReplayRecord] {
    static RECORDS: OnceLock<Vec<ReplayRecord>> = OnceLock::new();
    RECORDS.get_or_init(|| read_all(CONVERSATION.as_bytes(), "sample").expect("the sample parses"))
}

/// `policy_toml`: a policy file. When it is accepted, the whole pure pipeline (detector,
/// builder, router) runs a sample conversation under it: a policy the workers accept at
/// start-up must never make them panic later.
pub fn policy_toml(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(policy) = Policy::from_toml(text, "fuzz") else {
        return;
    };
    // The builder worker refuses a policy whose [builder] section it cannot use, at start-up.
    if Builder::new(&policy.builder).is_err() {
        return;
    }
    let mut pipeline = Pipeline::new(&policy);
    for record in conversation() {
        pipeline.feed(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Every file under `dir` (seeds, crash artifacts) through `f`.
    fn replay_dir(dir: &Path, f: fn(&[u8])) -> usize {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        let mut n = 0;
        for e in entries.flatten() {
            if e.path().is_file() {
                f(&std::fs::read(e.path()).unwrap());
                n += 1;
            }
        }
        n
    }

    fn replay_target(name: &str, f: fn(&[u8])) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for sub in ["corpus", "artifacts", "regressions"] {
            let n = replay_dir(&root.join(sub).join(name), f);
            eprintln!("{name}: {n} inputs from {sub}/");
        }
    }

    #[test]
    fn replay_line_inputs() {
        for line in CONVERSATION.lines() {
            replay_line(line.as_bytes());
        }
        replay_line(b"\xff\xfe{");
        replay_target("replay_line", replay_line);
    }

    #[test]
    fn avro_decode_inputs() {
        avro_decode(&[]);
        avro_decode(&[0xff; 64]);
        replay_target("avro_decode", avro_decode);
    }

    #[test]
    fn policy_toml_inputs() {
        policy_toml(handoff_core::policy::DEFAULT_POLICY_TOML.as_bytes());
        policy_toml(b"not = [toml");
        replay_target("policy_toml", policy_toml);
    }
}
