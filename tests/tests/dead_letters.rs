//! Bad input never stops a worker nor loses the records around it: each kind of poison lands in
//! `handoff.dlq` with its original bytes and the reason in headers, and the valid records before
//! and after it are still handled.

use handoff_core::records::*;
use handoff_core::replay::{parse_line, ReplayRecord};
use handoff_runtime::codec::Codec;
use handoff_runtime::dlq;
use handoff_runtime::publish::produce_replay;
use handoff_tests::*;
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::Duration;

fn explicit_request(conversation: &str, event: &str) -> ReplayRecord {
    parse_line(&format!(
        r#"{{"type":"event","event_id":"{event}","conversation_id":"{conversation}","tenant_id":"acme","occurred_at":"2026-11-20T10:00:00Z","channel":"web","actor":"contact","text":"can I talk to a person please"}}"#
    ))
    .unwrap()
    .unwrap()
}

fn header(m: &rdkafka::message::OwnedMessage, key: &str) -> Option<String> {
    m.headers()?
        .iter()
        .find(|h| h.key == key)
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_goes_to_the_dlq_and_the_neighbours_are_still_handled() -> anyhow::Result<()> {
    let settings = test_settings("dlq");
    let topics = settings.topics();
    let detector = start(Worker::Detector, &settings);

    // A valid record first (this also creates the input topics and registers their schemas).
    produce_replay(&settings, &[explicit_request("conv-a", "a-1")]).await?;

    // Poison of every kind the decoder can meet, all on conv-a's partition and conv-b's.
    let codec = Codec::new(&settings.registry)?;
    let valid = match explicit_request("conv-a", "a-2") {
        ReplayRecord::Event(e) => codec.encode(&topics.events(), &e).await?,
        _ => unreachable!(),
    };
    let truncated = valid[..valid.len() / 2].to_vec();
    // A well-formed record of the wrong type (a LifecycleEvent) on the events topic.
    let lifecycle_topic = topics.lifecycle();
    codec.register::<LifecycleEvent>(&lifecycle_topic).await?;
    let wrong_type = codec
        .encode(
            &lifecycle_topic,
            &LifecycleEvent {
                lifecycle_id: "l".into(),
                handoff_id: "h".into(),
                conversation_id: "conv-a".into(),
                transition: "claimed".into(),
                from_state: ControlState::AwaitingHuman,
                to_state: ControlState::Claimed,
                actor: "x".into(),
                note: None,
                occurred_at: chrono::Utc::now(),
                accepted: true,
                rejection_reason: None,
                command_id: None,
                team: None,
            },
        )
        .await?;
    let poison: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "not avro",
            b"this is not avro at all".to_vec(),
            "undecodable",
        ),
        (
            "unknown schema id",
            vec![0, 0x7f, 0xff, 0xff, 0x01, 2, 4, 6],
            "undecodable",
        ),
        ("truncated body", truncated, "undecodable"),
        ("wrong record type", wrong_type, "schema_mismatch"),
    ];
    let producer: FutureProducer =
        handoff_runtime::kafka::producer_config(&settings.kafka).create()?;
    for (_, bytes, _) in &poison {
        producer
            .send(
                FutureRecord::to(&topics.events())
                    .key("conv-a")
                    .payload(bytes),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)?;
    }
    // And valid records after the poison, on the same partition and another conversation.
    produce_replay(
        &settings,
        &[
            explicit_request("conv-a-late", "al-1"),
            explicit_request("conv-b", "b-1"),
        ],
    )
    .await?;

    // Every valid request escalated...
    let signals = reader(&settings, &[topics.signals().as_str()]);
    let got = read_until(&signals, Duration::from_secs(60), |m| m.len() >= 3).await;
    let signals: Vec<StopSignal> = decode_all(&settings, &got).await?;
    let mut conversations: Vec<&str> = signals.iter().map(|s| s.conversation_id.as_str()).collect();
    conversations.sort();
    assert_eq!(conversations, ["conv-a", "conv-a-late", "conv-b"]);

    // ...and every poison record is in the DLQ, byte for byte, with the reason.
    let dlq_reader = reader(&settings, &[topics.dlq().as_str()]);
    let dead = read_until(&dlq_reader, Duration::from_secs(60), |m| {
        m.len() >= poison.len()
    })
    .await;
    assert_eq!(dead.len(), poison.len(), "dead letters: {}", dead.len());
    for (what, bytes, kind) in &poison {
        let m = dead
            .iter()
            .find(|m| m.payload() == Some(bytes.as_slice()))
            .unwrap_or_else(|| panic!("{what}: not in the DLQ"));
        assert_eq!(header(m, dlq::KIND).as_deref(), Some(*kind), "{what}");
        assert_eq!(
            header(m, dlq::SOURCE_TOPIC),
            Some(topics.events()),
            "{what}"
        );
        assert_eq!(
            header(m, dlq::WORKER).as_deref(),
            Some("detector"),
            "{what}"
        );
        assert!(
            header(m, dlq::SOURCE_OFFSET)
                .unwrap()
                .parse::<i64>()
                .is_ok(),
            "{what}"
        );
        assert!(
            !header(m, dlq::ERROR).unwrap_or_default().is_empty(),
            "{what}"
        );
        assert_eq!(m.key(), Some(b"conv-a".as_slice()), "{what}: key kept");
    }

    detector.stop().await?;
    Ok(())
}
