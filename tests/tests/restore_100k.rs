//! How long a detector takes to restore 100k conversations from its changelog. A measurement,
//! not an assertion: run it with
//! `cargo test -p handoff-tests --release --test restore_100k -- --ignored --nocapture`.

use handoff_core::detect::{on_event, ConversationState};
use handoff_core::replay::{parse_line, ReplayRecord};
use handoff_detector::DetectorStage;
use handoff_runtime::worker::Runtime;
use handoff_runtime::{OutRecord, Outgoing};
use handoff_tests::*;
use rdkafka::message::OwnedHeaders;
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run on demand"]
async fn restore_100k_conversations() -> anyhow::Result<()> {
    let n: usize = std::env::var("RESTORE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let settings = test_settings("restore100k");
    let topics = settings.topics();
    let policy = handoff_core::Policy::builtin();
    let rt = Runtime::new(settings.clone())?;
    rt.prepare(
        &[],
        &[(
            topics.state(),
            <ConversationState as handoff_runtime::codec::AvroRecord>::SCHEMA,
        )],
        Some(&topics.state()),
    )
    .await?;

    // A realistic state: a few turns of a conversation each.
    let started = Instant::now();
    let mut deliveries = Vec::new();
    let mut bytes_total = 0usize;
    for i in 0..n {
        let id = format!("c{i}");
        let mut state = ConversationState::new(&id);
        for (k, text) in [
            "hi, my order 55120 is late",
            "it was due on Monday",
            "ok thanks",
        ]
        .iter()
        .enumerate()
        {
            let ReplayRecord::Event(e) = parse_line(&format!(
                r#"{{"type":"event","event_id":"{id}-{k}","conversation_id":"{id}","tenant_id":"acme","occurred_at":"2026-11-20T10:00:0{k}Z","channel":"web","actor":"contact","text":"{text}"}}"#
            ))
            .map_err(anyhow::Error::msg)?
            .unwrap() else {
                unreachable!()
            };
            on_event(&mut state, &e, &policy, e.occurred_at);
        }
        let out = Outgoing {
            topic: topics.state(),
            key: id.clone(),
            record: OutRecord::State(Box::new(state)),
        };
        let value = rt.encode(&out).await?.unwrap();
        bytes_total += value.len();
        deliveries.push(
            rt.send(
                &out.topic,
                Some(id.as_bytes()),
                Some(&value),
                OwnedHeaders::new(),
            )
            .await?,
        );
        if deliveries.len() >= 20_000 {
            for d in deliveries.drain(..) {
                d.await.expect("delivered").map_err(|(e, _)| e)?;
            }
        }
    }
    for d in deliveries {
        d.await.expect("delivered").map_err(|(e, _)| e)?;
    }
    println!(
        "wrote {n} state records ({} bytes avg) in {:?}",
        bytes_total / n,
        started.elapsed()
    );

    let mut stage = DetectorStage::new(policy, topics.clone());
    let partitions: Vec<i32> = (0..settings.kafka.partitions).collect();
    let started = Instant::now();
    let read =
        handoff_runtime::changelog::restore(&rt, &mut stage, &topics.state(), &partitions).await?;
    let elapsed = started.elapsed();
    println!(
        "restored {} conversations ({read} records) in {:.2}s = {:.0} conversations/s",
        stage.len(),
        elapsed.as_secs_f64(),
        stage.len() as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(stage.len(), n);
    Ok(())
}

/// Does the broker compact `cleanup.policy=compact` topics? Writes five values for each of ten
/// keys, waits 50 s (segments roll after 1 s; infra/kafka.sh has the cleaner look every 1 s),
/// and counts what a reader still gets. Restore is correct either way; compaction only makes it faster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a probe of the broker; run on demand"]
async fn probe_compaction() -> anyhow::Result<()> {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let settings = test_settings("compaction");
    let topic = settings.topics().state();
    handoff_runtime::kafka::ensure_topics(
        &settings.kafka,
        &[(
            topic.clone(),
            1,
            vec![("cleanup.policy", "compact"), ("segment.ms", "1000")],
        )],
    )
    .await?;
    let producer: FutureProducer =
        handoff_runtime::kafka::producer_config(&settings.kafka).create()?;
    for round in 0..5 {
        for k in 0..10 {
            let value = format!("v{round}");
            producer
                .send(
                    FutureRecord::to(&topic)
                        .key(&format!("k{k}"))
                        .payload(&value),
                    std::time::Duration::from_secs(10),
                )
                .await
                .map_err(|(e, _)| e)?;
        }
    }
    tokio::time::sleep(std::time::Duration::from_secs(50)).await;
    let c = reader(&settings, &[topic.as_str()]);
    let got = read_until(&c, std::time::Duration::from_secs(5), |m| m.len() >= 50).await;
    println!(
        "compaction probe: wrote 50 records over 10 keys; a reader from the beginning now gets {}",
        got.len()
    );
    Ok(())
}
