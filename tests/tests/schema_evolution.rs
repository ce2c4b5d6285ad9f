//! Issue 6, schema evolution, on the real registry and broker.
//!
//! 1. ConversationEvent v2 adds `priority_hint: ["null","string"] = null`. It registers under
//!    `<topic>-value` as a new version (BACKWARD), and then old and new interoperate: a v1
//!    producer (writer schema v1, its own id), a v2 producer (the extra field set) and our
//!    runtime's producer after the upgrade (encodes with the latest schema, v2, from the v1 Rust
//!    type) all reach the running detector, which escalates each; a v2 consumer reads the v1
//!    record with the default; a v1 consumer reads the v2 record without the new field.
//! 2. Incompatible changes are refused by the registry (409 → `CodecError::Refused` naming the
//!    subject), and a worker whose output schema the registry refuses fails at start-up with an
//!    error that names the subject and says why.

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::Schema;
use chrono::{TimeZone, Utc};
use handoff_core::records::*;
use handoff_runtime::codec::{AvroRecord, Codec, CodecError};
use handoff_runtime::worker::Runtime;
use handoff_tests::*;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::collections::BTreeMap;
use std::time::Duration;

/// `schema` with `field` appended to its top-level fields.
fn with_field(schema: &str, field: serde_json::Value) -> String {
    let mut s: serde_json::Value = serde_json::from_str(schema).unwrap();
    s["fields"].as_array_mut().unwrap().push(field);
    s.to_string()
}

/// `schema` with `f` applied to the top-level field called `name`.
fn with_changed_field(schema: &str, name: &str, f: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut s: serde_json::Value = serde_json::from_str(schema).unwrap();
    let field = s["fields"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|x| x["name"] == name)
        .unwrap_or_else(|| panic!("no field {name}"));
    f(field);
    s.to_string()
}

fn v2_text() -> String {
    with_field(
        ConversationEvent::SCHEMA,
        serde_json::json!({
            "name": "priority_hint",
            "type": ["null", "string"],
            "default": null,
            "doc": "v2: how urgent the agent runtime thinks the turn is."
        }),
    )
}

fn event(conversation: &str, event_id: &str) -> ConversationEvent {
    // Millisecond precision, as on the wire, so records compare equal after a round trip.
    let now = Utc
        .timestamp_millis_opt(Utc::now().timestamp_millis())
        .unwrap();
    ConversationEvent {
        event_id: event_id.into(),
        conversation_id: conversation.into(),
        tenant_id: "acme".into(),
        occurred_at: now,
        channel: "web".into(),
        actor: Actor::Contact,
        text: "Can I talk to a person please?".into(),
        language: Some("en".into()),
        agent: None,
        contact: None,
        entry: None,
        attributes: BTreeMap::new(),
    }
}

fn framed(id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8];
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn schema_id(bytes: &[u8]) -> u32 {
    assert_eq!(bytes[0], 0, "Confluent magic byte");
    u32::from_be_bytes(bytes[1..5].try_into().unwrap())
}

/// Reads a framed record with `writer` as the writer schema, resolved to `reader`.
fn read(writer: &Schema, reader: &Schema, bytes: &[u8]) -> Value {
    GenericDatumReader::builder(writer)
        .reader_schema(reader)
        .build()
        .and_then(|r| r.read_value(&mut &bytes[5..]))
        .unwrap_or_else(|e| panic!("resolution failed: {e}"))
}

fn field<'v>(record: &'v Value, name: &str) -> &'v Value {
    match record {
        Value::Record(fields) => {
            &fields
                .iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("no field {name}"))
                .1
        }
        other => panic!("not a record: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_with_a_default_lets_old_and_new_producers_and_consumers_interoperate(
) -> anyhow::Result<()> {
    let settings = test_settings("evolve");
    let topics = settings.topics();
    let events_topic = topics.events();
    Runtime::new(settings.clone())?
        .prepare(
            &[],
            &[
                (events_topic.clone(), ConversationEvent::SCHEMA),
                (topics.commands(), OperatorCommand::SCHEMA),
            ],
            None,
        )
        .await?;
    let codec = Codec::new(&settings.registry)?;
    let v1_id = codec.register::<ConversationEvent>(&events_topic).await?;
    let detector = start(Worker::Detector, &settings);

    // v2 registers as a new version of the same subject.
    let v2_text = v2_text();
    let v2_id = codec.register_text(&events_topic, &v2_text).await?;
    assert_ne!(v1_id, v2_id, "a new version has its own id");
    let v1 = Schema::parse_str(ConversationEvent::SCHEMA)?;
    let v2 = Schema::parse_str(&v2_text)?;

    // An old producer: writes with v1 and v1's id, as it always did.
    let old_event = event("evo-old", "old-1");
    let old_bytes = framed(
        v1_id,
        &GenericDatumWriter::builder(&v1)
            .build()?
            .write_ser_to_vec(&old_event)?,
    );

    // A new producer: the v1 fields plus priority_hint.
    let new_event = event("evo-new", "new-1");
    let mut value = apache_avro::to_value(&new_event)?;
    if let Value::Record(fields) = &mut value {
        fields.push((
            "priority_hint".into(),
            Value::Union(1, Box::new(Value::String("urgent".into()))),
        ));
    }
    let value = value.resolve(&v2)?;
    let new_bytes = framed(
        v2_id,
        &GenericDatumWriter::builder(&v2)
            .build()?
            .write_value_to_vec(value)?,
    );

    // Our runtime's producer after the upgrade: the v1 Rust type, encoded with the latest schema.
    let runtime_event = event("evo-runtime", "rt-1");
    let runtime_bytes = codec.encode(&events_topic, &runtime_event).await?;
    assert_eq!(
        schema_id(&runtime_bytes),
        v2_id,
        "the runtime encodes with the subject's latest version"
    );

    let producer: FutureProducer =
        handoff_runtime::kafka::producer_config(&settings.kafka).create()?;
    for (key, bytes) in [
        ("evo-old", &old_bytes),
        ("evo-new", &new_bytes),
        ("evo-runtime", &runtime_bytes),
    ] {
        producer
            .send(
                FutureRecord::to(&events_topic)
                    .key(key)
                    .payload(bytes.as_slice()),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| e)?;
    }

    // The detector (a v1 consumer: its Rust type has no priority_hint) handles all three.
    let signals = reader(&settings, &[topics.signals().as_str()]);
    let got = read_until(&signals, Duration::from_secs(90), |m| m.len() >= 3).await;
    let signals: Vec<StopSignal> = decode_all(&settings, &got).await?;
    let mut escalated: Vec<(&str, &str)> = signals
        .iter()
        .filter(|s| s.decision == Decision::Escalate)
        .map(|s| (s.conversation_id.as_str(), s.trigger_event_id.as_str()))
        .collect();
    escalated.sort();
    assert_eq!(
        escalated,
        [
            ("evo-new", "new-1"),
            ("evo-old", "old-1"),
            ("evo-runtime", "rt-1")
        ]
    );
    let dlq = reader(&settings, &[topics.dlq().as_str()]);
    let dead = read_until(&dlq, Duration::from_secs(2), |_| false).await;
    assert!(
        dead.is_empty(),
        "nothing is dead-lettered: {} records",
        dead.len()
    );

    // A v2 consumer reads every record on the topic, v1 ones with the default.
    let events = reader(&settings, &[events_topic.as_str()]);
    let raw = read_until(&events, Duration::from_secs(30), |m| m.len() >= 3).await;
    assert_eq!(raw.len(), 3);
    let writer_of = |id: u32| {
        if id == v1_id {
            &v1
        } else if id == v2_id {
            &v2
        } else {
            panic!("unknown id {id}")
        }
    };
    for m in &raw {
        let bytes = m.payload().unwrap();
        let record = read(writer_of(schema_id(bytes)), &v2, bytes);
        let hint = field(&record, "priority_hint");
        match m.key() {
            Some(b"evo-new") => assert_eq!(
                hint,
                &Value::Union(1, Box::new(Value::String("urgent".into())))
            ),
            // The v1 writer had no such field, and the runtime's v1 type did not set it.
            _ => assert_eq!(
                hint,
                &Value::Union(0, Box::new(Value::Null)),
                "{:?}",
                m.key()
            ),
        }
        assert_eq!(
            field(&record, "text"),
            &Value::String("Can I talk to a person please?".into())
        );
    }

    // A v1 consumer reading v2 data: by resolution to v1 (what a Java consumer with the old
    // schema does), and by our codec (writer schema, then the v1 Rust type).
    let as_v1: ConversationEvent = apache_avro::from_value(&read(&v2, &v1, &new_bytes))?;
    assert_eq!(as_v1, new_event);
    assert_eq!(
        codec.decode::<ConversationEvent>(Some(&new_bytes)).await?,
        new_event
    );
    assert_eq!(
        codec.decode::<ConversationEvent>(Some(&old_bytes)).await?,
        old_event
    );
    assert_eq!(
        codec
            .decode::<ConversationEvent>(Some(&runtime_bytes))
            .await?,
        runtime_event
    );

    detector.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incompatible_changes_are_refused_and_a_worker_says_so_at_start_up() -> anyhow::Result<()> {
    let settings = test_settings("incompat");
    let topics = settings.topics();
    let codec = Codec::new(&settings.registry)?;
    let events_topic = topics.events();
    let subject = format!("{events_topic}-value");
    codec.register::<ConversationEvent>(&events_topic).await?;

    let text_as_int = with_changed_field(ConversationEvent::SCHEMA, "text", |f| {
        f["type"] = "int".into();
        f["default"] = 0.into();
    });
    let required_without_default = with_field(
        ConversationEvent::SCHEMA,
        serde_json::json!({"name": "priority", "type": "string"}),
    );
    for (change, text) in [
        ("text becomes an int", text_as_int),
        (
            "a required field without a default",
            required_without_default,
        ),
    ] {
        match codec.register_text(&events_topic, &text).await {
            Err(CodecError::Refused {
                subject: s,
                message,
            }) => {
                assert_eq!(s, subject, "{change}");
                assert!(
                    message.to_lowercase().contains("incompatible"),
                    "{change}: {message}"
                );
                eprintln!("{change}: refused: {message}");
            }
            other => panic!("{change}: expected the registry to refuse it, got {other:?}"),
        }
    }
    // The subject still has one version, so v1 producers carry on.
    let again = codec.register::<ConversationEvent>(&events_topic).await?;
    let encoded = codec.encode(&events_topic, &event("c", "e")).await?;
    assert_eq!(schema_id(&encoded), again);

    // A worker's output subject already holds a schema ours cannot read (BACKWARD: the new
    // schema must read data written with the old one; the old StopSignal has no handoff_id,
    // ours requires one without a default). The detector must refuse to start, and say why.
    let signals_subject = format!("{}-value", topics.signals());
    let mut old: serde_json::Value = serde_json::from_str(StopSignal::SCHEMA)?;
    old["fields"]
        .as_array_mut()
        .unwrap()
        .retain(|f| f["name"] != "handoff_id");
    codec
        .register_text(&topics.signals(), &old.to_string())
        .await?;
    let run = handoff_detector::run(settings.clone(), std::future::pending());
    let err = match tokio::time::timeout(Duration::from_secs(60), run).await {
        Err(_) => panic!("the detector started (or hung) with an incompatible output schema"),
        Ok(Ok(())) => panic!("the detector ran with an incompatible output schema"),
        Ok(Err(e)) => format!("{e:#}"),
    };
    eprintln!("detector start-up error: {err}");
    assert!(err.contains("start-up failed"), "{err}");
    assert!(err.contains(&signals_subject), "names the subject: {err}");
    assert!(
        err.to_lowercase().contains("incompatible"),
        "says why: {err}"
    );
    assert!(err.contains("handoff_id"), "names the field: {err}");
    Ok(())
}
