//! Issue 6, "bad input", on the real broker and registry: every kind of bad record the issue
//! lists, each produced *between two valid events on the same key*, lands in `handoff.dlq` with
//! its original bytes, its original headers and headers naming the error and its source (topic,
//! partition, offset); the valid neighbours are still handled (the conversation escalates, and its
//! transcript holds the event before and the event after the bad one, never the bad one); valid
//! but meaningless commands (unknown conversation, unknown action) are answered with rejected
//! LifecycleEvents; and the detector is still running at the end.
//!
//! Avro bodies with foreign writer schemas are encoded by hand (zig-zag varints), so the bytes
//! under test are exactly the ones written here.

use chrono::{Duration as Span, Utc};
use handoff_core::records::*;
use handoff_runtime::codec::{AvroRecord, Codec, CodecError};
use handoff_runtime::dlq;
use handoff_runtime::worker::Runtime;
use handoff_tests::*;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::collections::BTreeMap;
use std::time::Duration;

// ---- Avro binary encoding, by hand ----------------------------------------------------------

fn long(n: i64) -> Vec<u8> {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    let mut out = Vec::new();
    loop {
        let b = (z & 0x7f) as u8;
        z >>= 7;
        if z == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

fn string(s: &[u8]) -> Vec<u8> {
    let mut out = long(s.len() as i64);
    out.extend_from_slice(s);
    out
}

/// The Confluent wire format: magic byte 0, the schema id big-endian, the Avro body.
fn framed(id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8];
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(body);
    out
}

// ---- records ---------------------------------------------------------------------------------

fn event(conversation: &str, event_id: &str, text: &str) -> ConversationEvent {
    ConversationEvent {
        event_id: event_id.into(),
        conversation_id: conversation.into(),
        tenant_id: "acme".into(),
        occurred_at: Utc::now() - Span::seconds(5),
        channel: "web".into(),
        actor: Actor::Contact,
        text: text.into(),
        language: Some("en".into()),
        agent: None,
        contact: None,
        entry: None,
        attributes: BTreeMap::new(),
    }
}

const BEFORE_TEXT: &str = "Hi, I have a question about my order.";
const AFTER_TEXT: &str = "Can I talk to a person please?";

fn command(conversation: &str, command_id: &str, action: CommandAction) -> OperatorCommand {
    OperatorCommand {
        command_id: command_id.into(),
        conversation_id: conversation.into(),
        handoff_id: None,
        operator: Operator {
            id: "u-7".into(),
            name: "Sam".into(),
            team: "billing".into(),
        },
        issued_at: Utc::now(),
        action,
        note: None,
        send_follow_up_now: false,
        target_team: None,
        outcome: None,
    }
}

fn header(m: &OwnedMessage, key: &str) -> Option<String> {
    m.headers()?
        .iter()
        .find(|h| h.key == key)
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// One bad record on the events topic, and what its dead letter must say.
struct Poison {
    case: &'static str,
    /// The Kafka key, and the conversation id inside the record where it has one.
    key: &'static str,
    bytes: Option<Vec<u8>>,
    kind: &'static str,
    /// A fragment the `handoff.dlq.error` header must contain (case-insensitive).
    error: &'static str,
}

/// Where a record was written.
#[derive(Debug, Clone, Copy)]
struct At {
    partition: i32,
    offset: i64,
}

async fn send(
    producer: &FutureProducer,
    topic: &str,
    key: &str,
    value: Option<&[u8]>,
    case: &str,
) -> anyhow::Result<At> {
    let headers = OwnedHeaders::new().insert(Header {
        key: "test.case",
        value: Some(case.as_bytes()),
    });
    let mut record: FutureRecord<'_, str, [u8]> = FutureRecord::to(topic).key(key).headers(headers);
    if let Some(v) = value {
        record = record.payload(v);
    }
    let d = producer
        .send(record, Duration::from_secs(30))
        .await
        .map_err(|(e, _)| anyhow::anyhow!("producing {case}: {e}"))?;
    Ok(At {
        partition: d.partition,
        offset: d.offset,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_bad_input_is_dead_lettered_or_rejected_and_the_neighbours_are_handled(
) -> anyhow::Result<()> {
    let t0 = std::time::Instant::now();
    let step = |what: &str| eprintln!("[{:>6.1}s] {what}", t0.elapsed().as_secs_f64());
    let settings = test_settings("badinput");
    let topics = settings.topics();
    let (events_topic, commands_topic) = (topics.events(), topics.commands());

    // Create the input topics and register their schemas as an upstream producer would.
    Runtime::new(settings.clone())?
        .prepare(
            &[],
            &[
                (events_topic.clone(), ConversationEvent::SCHEMA),
                (commands_topic.clone(), OperatorCommand::SCHEMA),
            ],
            None,
        )
        .await?;
    let codec = Codec::new(&settings.registry)?;
    let events_schema_id = codec.register::<ConversationEvent>(&events_topic).await?;
    let detector = start(Worker::Detector, &settings);

    // ---- the bad records --------------------------------------------------------------------
    // Valid records made bad in their 5-byte header.
    let mut wrong_magic = codec
        .encode(&events_topic, &event("conv-magic", "magic-1", AFTER_TEXT))
        .await?;
    assert_eq!(
        wrong_magic[..5],
        framed(events_schema_id, &[]),
        "encoded with the events schema"
    );
    wrong_magic[0] = 1;
    let mut unknown_id = codec
        .encode(
            &events_topic,
            &event("conv-unknown-id", "unknown-1", AFTER_TEXT),
        )
        .await?;
    unknown_id[1..5].copy_from_slice(&0x7fff_fff0u32.to_be_bytes());

    // A body that starts right (a string length) and then claims more bytes than there are.
    let corrupt = framed(
        events_schema_id,
        &[0x06, b'e', b'-', b'1', 0xfe, 0xff, 0xff, 0xff, 0x0f],
    );

    // Invalid UTF-8 inside an otherwise valid record: the marker's bytes are replaced in place
    // (same length, so every varint stays right).
    let marker = b"QQQQQQQQQQQQ";
    let mut bad_utf8 = codec
        .encode(
            &events_topic,
            &event("conv-utf8", "utf8-1", std::str::from_utf8(marker)?),
        )
        .await?;
    let at = bad_utf8
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("marker in the body");
    bad_utf8[at..at + marker.len()]
        .copy_from_slice(b"\xff\xfe\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c");

    // A writer schema the registry knows (under another subject) that is not readable as a
    // ConversationEvent: `text` is an int. Registering it for the events topic is refused.
    let text_as_int = r#"{"type":"record","name":"ConversationEvent","namespace":"io.handoff","fields":[
        {"name":"event_id","type":"string"},{"name":"conversation_id","type":"string"},
        {"name":"occurred_at","type":{"type":"long","logicalType":"timestamp-millis"}},
        {"name":"actor","type":{"type":"enum","name":"Actor","symbols":["contact","agent","operator","system"]}},
        {"name":"text","type":"int"}]}"#;
    match codec.register_text(&events_topic, text_as_int).await {
        Err(CodecError::Refused { subject, message }) => {
            assert_eq!(subject, format!("{events_topic}-value"));
            assert!(message.to_lowercase().contains("incompatible"), "{message}");
        }
        other => panic!("an incompatible schema for {events_topic} must be refused, got {other:?}"),
    }
    let foreign = format!("{}foreign.events", settings.kafka.topic_prefix);
    let text_as_int_id = codec.register_text(&foreign, text_as_int).await?;
    let now_ms = Utc::now().timestamp_millis();
    let mut body = [
        string(b"t-1"),
        string(b"conv-unreadable"),
        long(now_ms),
        long(0),
    ]
    .concat();
    body.extend(long(42));
    let unreadable = framed(text_as_int_id, &body);

    // A record missing required fields: its writer schema has no conversation_id/occurred_at.
    let missing_fields_schema = r#"{"type":"record","name":"ConversationEvent","namespace":"io.handoff","fields":[
        {"name":"event_id","type":"string"},{"name":"text","type":"string"}]}"#;
    let missing_id = codec
        .register_text(&format!("{foreign}.partial"), missing_fields_schema)
        .await?;
    let missing_fields = framed(missing_id, &[string(b"m-1"), string(b"hello")].concat());

    let empty_id = codec
        .encode(&events_topic, &event("conv-empty-id", "", AFTER_TEXT))
        .await?;
    // 1 MB of text: under the broker and client limits, far over the 64 KiB validation limit.
    let megabyte = codec
        .encode(
            &events_topic,
            &event("conv-1mb", "1mb-1", &"a".repeat(1_000_000)),
        )
        .await?;
    let mut old = event("conv-old", "old-1", AFTER_TEXT);
    old.occurred_at = Utc::now() - Span::days(20 * 365);
    let old = codec.encode(&events_topic, &old).await?;
    let mut future = event("conv-future", "future-1", AFTER_TEXT);
    future.occurred_at = Utc::now() + Span::days(1);
    let future = codec.encode(&events_topic, &future).await?;

    let poison = vec![
        Poison {
            case: "JSON instead of Avro",
            key: "conv-json",
            bytes: Some(br#"{"event_id":"j-1","text":"json, not avro"}"#.to_vec()),
            kind: "undecodable",
            error: "magic byte",
        },
        Poison {
            case: "corrupt body",
            key: "conv-corrupt",
            bytes: Some(corrupt),
            kind: "undecodable",
            error: "could not transform bytes",
        },
        Poison {
            case: "wrong magic byte",
            key: "conv-magic",
            bytes: Some(wrong_magic),
            kind: "undecodable",
            error: "first byte is 0x01",
        },
        Poison {
            case: "unknown schema id",
            key: "conv-unknown-id",
            bytes: Some(unknown_id),
            kind: "undecodable",
            error: "schema 2147483632 not found",
        },
        Poison {
            case: "tombstone",
            key: "conv-tombstone",
            bytes: None,
            kind: "undecodable",
            error: "no value",
        },
        Poison {
            case: "invalid utf-8",
            key: "conv-utf8",
            bytes: Some(bad_utf8),
            kind: "undecodable",
            error: "utf-8",
        },
        Poison {
            case: "unreadable writer schema",
            key: "conv-unreadable",
            bytes: Some(unreadable),
            kind: "schema_mismatch",
            error: "ConversationEvent",
        },
        Poison {
            case: "missing required fields",
            key: "conv-missing",
            bytes: Some(missing_fields),
            kind: "schema_mismatch",
            error: "conversation_id",
        },
        Poison {
            case: "empty event_id",
            key: "conv-empty-id",
            bytes: Some(empty_id),
            kind: "invalid_record",
            error: "empty_id: event_id is empty",
        },
        Poison {
            case: "1 MB text",
            key: "conv-1mb",
            bytes: Some(megabyte),
            kind: "invalid_record",
            error: "text_too_large",
        },
        Poison {
            case: "far in the past",
            key: "conv-old",
            bytes: Some(old),
            kind: "invalid_record",
            error: "timestamp_too_old",
        },
        Poison {
            case: "far in the future",
            key: "conv-future",
            bytes: Some(future),
            kind: "invalid_record",
            error: "timestamp_in_future",
        },
    ];

    // ---- each between two valid events of its own conversation, on that conversation's key --
    let producer: FutureProducer =
        handoff_runtime::kafka::producer_config(&settings.kafka).create()?;
    let mut written: Vec<(String, At)> = Vec::new();
    for p in &poison {
        let key = p.key.to_string();
        let before = codec
            .encode(
                &events_topic,
                &event(&key, &format!("{key}-before"), BEFORE_TEXT),
            )
            .await?;
        let after = codec
            .encode(
                &events_topic,
                &event(&key, &format!("{key}-after"), AFTER_TEXT),
            )
            .await?;
        send(&producer, &events_topic, &key, Some(&before), "valid").await?;
        let at = send(&producer, &events_topic, &key, p.bytes.as_deref(), p.case).await?;
        send(&producer, &events_topic, &key, Some(&after), "valid").await?;
        written.push((key, at));
    }

    step("bad records produced");
    // ---- commands: an escalated conversation first, then the meaningless commands ------------
    let escalated = "conv-cmd";
    let e = codec
        .encode(&events_topic, &event(escalated, "cmd-e1", AFTER_TEXT))
        .await?;
    send(&producer, &events_topic, escalated, Some(&e), "valid").await?;
    // A command is causally after the handoff it names: wait for the escalation.
    let signals_reader = reader(&settings, &[topics.signals().as_str()]);
    let mut signals: Vec<StopSignal> = collect(
        &signals_reader,
        &codec,
        Duration::from_secs(90),
        |s: &[StopSignal]| s.iter().any(|s| s.conversation_id == escalated),
    )
    .await?;
    assert!(
        signals.iter().any(|s| s.conversation_id == escalated),
        "{escalated} did not escalate"
    );

    step("first escalation seen");
    let unknown_action = codec
        .encode(
            &commands_topic,
            &command(escalated, "cmd-unknown", CommandAction::Unknown),
        )
        .await?;
    let ghost = codec
        .encode(
            &commands_topic,
            &command("ghost", "cmd-ghost", CommandAction::Claim),
        )
        .await?;
    let mut late = command(escalated, "cmd-future", CommandAction::Claim);
    late.issued_at = Utc::now() + Span::days(1);
    let late = codec.encode(&commands_topic, &late).await?;
    let claim = codec
        .encode(
            &commands_topic,
            &command(escalated, "cmd-claim", CommandAction::Claim),
        )
        .await?;
    // A newer producer's schema with an action this detector has never heard of. Adding an
    // enum symbol is a BACKWARD-compatible change (the enum has a default), so it registers.
    let mut v2: serde_json::Value = serde_json::from_str(OperatorCommand::SCHEMA)?;
    let action = v2["fields"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f["name"] == "action")
        .unwrap();
    action["type"]["symbols"]
        .as_array_mut()
        .unwrap()
        .push("teleport".into());
    let v2_id = codec
        .register_text(&commands_topic, &v2.to_string())
        .await?;
    let teleport = framed(
        v2_id,
        &[
            string(b"cmd-teleport"),
            string(escalated.as_bytes()),
            long(0), // handoff_id: null
            string(b"u-7"),
            string(b"Sam"),
            string(b"billing"),
            long(Utc::now().timestamp_millis()),
            long(7), // action: "teleport", the 8th symbol
            long(0), // note: null
            vec![0], // send_follow_up_now: false
            long(0), // target_team: null
            long(0), // outcome: null
        ]
        .concat(),
    );
    send(
        &producer,
        &commands_topic,
        escalated,
        Some(&unknown_action),
        "unknown action",
    )
    .await?;
    send(
        &producer,
        &commands_topic,
        escalated,
        Some(&teleport),
        "unknown action (newer schema)",
    )
    .await?;
    send(
        &producer,
        &commands_topic,
        "ghost",
        Some(&ghost),
        "unknown conversation",
    )
    .await?;
    let late_at = send(
        &producer,
        &commands_topic,
        escalated,
        Some(&late),
        "command far in the future",
    )
    .await?;
    send(&producer, &commands_topic, escalated, Some(&claim), "valid").await?;

    step("commands produced");
    // ---- every valid neighbour escalated, with the bad record left out of its transcript ------
    let wanted: Vec<String> = written.iter().map(|(k, _)| k.clone()).collect();
    let seen = signals.len();
    signals = collect_more(
        signals,
        &signals_reader,
        &codec,
        Duration::from_secs(120),
        |s: &[StopSignal]| {
            wanted
                .iter()
                .all(|k| s.iter().any(|x| &x.conversation_id == k))
        },
    )
    .await?;
    assert!(signals.len() >= seen);
    for (key, _) in &written {
        let mine: Vec<&StopSignal> = signals
            .iter()
            .filter(|s| &s.conversation_id == key)
            .collect();
        assert_eq!(mine.len(), 1, "{key}: one escalation, got {}", mine.len());
        assert_eq!(mine[0].trigger_event_id, format!("{key}-after"), "{key}");
        let turns: Vec<&str> = mine[0]
            .transcript
            .iter()
            .map(|t| t.event_id.as_str())
            .collect();
        assert_eq!(
            turns,
            [format!("{key}-before"), format!("{key}-after")],
            "{key}: the bad record is not a turn"
        );
    }

    step("all signals in");
    // ---- the meaningless commands are rejected, visibly; the valid claim after them is applied
    let lifecycle_reader = reader(&settings, &[topics.lifecycle().as_str()]);
    let ids = ["cmd-unknown", "cmd-teleport", "cmd-ghost", "cmd-claim"];
    let lifecycle: Vec<LifecycleEvent> = collect(
        &lifecycle_reader,
        &codec,
        Duration::from_secs(90),
        |l: &[LifecycleEvent]| {
            ids.iter()
                .all(|id| l.iter().any(|x| x.command_id.as_deref() == Some(*id)))
        },
    )
    .await?;
    let by_command = |id: &str| {
        let found: Vec<&LifecycleEvent> = lifecycle
            .iter()
            .filter(|l| l.command_id.as_deref() == Some(id))
            .collect();
        assert_eq!(found.len(), 1, "{id}: one lifecycle event");
        found[0].clone()
    };
    for (id, conversation, reason) in [
        ("cmd-unknown", escalated, "unknown action"),
        ("cmd-teleport", escalated, "unknown action"),
        ("cmd-ghost", "ghost", "no open handoff"),
    ] {
        let l = by_command(id);
        assert!(!l.accepted, "{id} must be rejected: {l:?}");
        assert_eq!(l.transition, "rejected", "{id}");
        assert_eq!(l.conversation_id, conversation, "{id}");
        let why = l.rejection_reason.clone().unwrap_or_default();
        assert!(
            why.contains(reason),
            "{id}: reason {why:?} should mention {reason:?}"
        );
        assert_eq!(
            l.from_state, l.to_state,
            "{id}: a rejection changes nothing"
        );
    }
    let claimed = by_command("cmd-claim");
    assert!(claimed.accepted, "{claimed:?}");
    assert_eq!(claimed.transition, "claimed");
    assert!(
        lifecycle
            .iter()
            .all(|l| l.command_id.as_deref() != Some("cmd-future")),
        "an invalid command is dead-lettered, not answered"
    );

    step("lifecycle in");
    // ---- every bad record is in the DLQ once, with its bytes and the reason -------------------
    let expected = poison.len() + 1;
    let dlq_reader = reader(&settings, &[topics.dlq().as_str()]);
    let mut dead = read_until(&dlq_reader, Duration::from_secs(90), |m| {
        m.len() >= expected
    })
    .await;
    // Nothing else arrives (no valid neighbour was dead-lettered).
    dead.extend(read_until(&dlq_reader, Duration::from_secs(3), |_| false).await);
    let cases: Vec<String> = dead
        .iter()
        .map(|m| header(m, "test.case").unwrap_or_default())
        .collect();
    assert_eq!(dead.len(), expected, "dead letters: {cases:?}");

    step("dead letters in");
    let find = |topic: &str, at: At| -> &OwnedMessage {
        dead.iter()
            .find(|m| {
                header(m, dlq::SOURCE_TOPIC).as_deref() == Some(topic)
                    && header(m, dlq::SOURCE_PARTITION) == Some(at.partition.to_string())
                    && header(m, dlq::SOURCE_OFFSET) == Some(at.offset.to_string())
            })
            .unwrap_or_else(|| panic!("no dead letter for {topic} {at:?}: {cases:?}"))
    };
    let limit = settings.kafka.max_message_bytes;
    for (p, (key, at)) in poison.iter().zip(&written) {
        let m = find(&events_topic, *at);
        let case = p.case;
        assert_eq!(
            header(m, "test.case").as_deref(),
            Some(case),
            "{case}: the original headers are kept"
        );
        assert_eq!(
            header(m, dlq::KIND).as_deref(),
            Some(p.kind),
            "{case}: {:?}",
            header(m, dlq::ERROR)
        );
        assert_eq!(
            header(m, dlq::WORKER).as_deref(),
            Some("detector"),
            "{case}"
        );
        let error = header(m, dlq::ERROR).unwrap_or_default();
        assert!(!error.is_empty(), "{case}: the error is named");
        assert!(
            error.to_lowercase().contains(&p.error.to_lowercase()),
            "{case}: {error:?} should mention {:?}",
            p.error
        );
        assert_eq!(m.key(), Some(key.as_bytes()), "{case}: the key is kept");
        let original = p.bytes.as_deref();
        match original {
            // A record larger than the worker's own output limit is kept as its first half
            // (a dead letter must never be too large to produce), and the headers say so with
            // the original size.
            Some(o) if o.len() > limit => {
                assert_eq!(
                    m.headers()
                        .and_then(|h| h.iter().find(|x| x.key == handoff_runtime::dlq::TRUNCATED))
                        .and_then(|x| x.value)
                        .map(|v| String::from_utf8_lossy(v).into_owned()),
                    Some(o.len().to_string()),
                    "{case}: marked as truncated"
                );
                assert_eq!(
                    m.payload(),
                    Some(&o[..limit / 2]),
                    "{case}: the original's first {} bytes",
                    limit / 2
                );
            }
            _ => assert_eq!(m.payload(), original, "{case}: the original bytes"),
        }
        eprintln!("{case:>26} -> {:<15} {error}", p.kind);
    }
    let m = find(&commands_topic, late_at);
    assert_eq!(header(m, dlq::KIND).as_deref(), Some("invalid_record"));
    assert!(header(m, dlq::ERROR)
        .unwrap_or_default()
        .starts_with("timestamp_in_future: issued_at"));
    assert_eq!(m.payload(), Some(late.as_slice()));

    // The detector never stopped.
    detector.stop().await?;
    Ok(())
}

/// Reads and decodes records of one type until `done` holds or `timeout` passes.
async fn collect<T: AvroRecord>(
    consumer: &rdkafka::consumer::StreamConsumer,
    codec: &Codec,
    timeout: Duration,
    done: impl Fn(&[T]) -> bool,
) -> anyhow::Result<Vec<T>> {
    collect_more(Vec::new(), consumer, codec, timeout, done).await
}

/// [`collect`], appending to the records already read.
async fn collect_more<T: AvroRecord>(
    mut out: Vec<T>,
    consumer: &rdkafka::consumer::StreamConsumer,
    codec: &Codec,
    timeout: Duration,
    done: impl Fn(&[T]) -> bool,
) -> anyhow::Result<Vec<T>> {
    let deadline = std::time::Instant::now() + timeout;
    while !done(&out) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match tokio::time::timeout(left, consumer.recv()).await {
            Err(_) => break,
            // A topic just created can be fetched before its partition has a leader: Kafka
            // answers UnknownTopicOrPartition until then (as in `collect_routed`). Transient;
            // the deadline still bounds the wait and `done` decides the outcome.
            Ok(Err(e)) => eprintln!("consumer error while reading: {e}"),
            Ok(Ok(m)) => out.push(codec.decode::<T>(m.payload()).await?),
        }
    }
    Ok(out)
}
