//! A broker restart mid-run loses nothing: the workers (as processes) ride out a broker that
//! stops and starts again on its durable log storage, reconnect, and carry on; the run ends
//! equal to the offline pipeline's (every handoff once in the audit, on its team topic, every
//! signal id once, the detector's state as a fault-free run's).
//!
//! The broker is private: an Apache Kafka of our own on free loopback ports with its own data
//! directory (infra/kafka.sh with HANDOFF_KAFKA_DIR), so the shared broker other tests use is
//! never touched. The schema registry and Postgres are the shared ones (neither depends on the broker).

use handoff_core::pipeline::Pipeline;
use handoff_runtime::publish::produce_replay;
use handoff_tests::broker::Kafka;
use handoff_tests::load::*;
use handoff_tests::*;
use std::time::{Duration, Instant};

/// How long the broker stays down.
const OUTAGE: Duration = Duration::from_secs(8);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_mid_run_loses_nothing() -> anyhow::Result<()> {
    let started = Instant::now();
    let mut broker = Kafka::create();
    let mut settings = test_settings("brokerrestart");
    settings.kafka.brokers = broker.brokers();
    let db_url = with_database(&mut settings).await?;
    let dir = std::env::temp_dir().join(format!(
        "handoff-brokerrestart-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let (policy_path, policy) = long_sla_policy(&dir);
    let env = reliability_env(&settings, &dir, &policy_path);
    let log = repo_root().join(format!(
        ".run/logs/test-{}workers.log",
        settings.kafka.topic_prefix
    ));
    std::fs::create_dir_all(log.parent().unwrap())?;

    let events = generate("br-", 200, 14, 11);
    let mut want = Expected::default();
    let mut pipeline = Pipeline::new(&policy).without_sla_clock();
    want.feed(&mut pipeline, &events);
    let (first, rest) = events.split_at(events.len() / 3);

    let workers: Vec<Process> = ["detector", "builder", "router", "auditor"]
        .iter()
        .map(|w| spawn_env(w, &env, &log))
        .collect();
    produce_replay(&settings, first).await?;
    let t = settings.topics();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (done, _) = group_position(&settings, "detector", &[t.events()]).await?;
        if done > 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A burst right before the stop, so every worker has records in flight when it goes.
    let (burst, rest) = rest.split_at(rest.len() / 3);
    produce_replay(&settings, burst).await?;
    // Upstream keeps publishing, in small batches, during and after the outage (the producer
    // buffers and retries while the broker is away).
    let producing = {
        let settings = settings.clone();
        let rest = rest.to_vec();
        tokio::spawn(async move {
            for chunk in rest.chunks(100) {
                produce_replay(&settings, chunk).await?;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            anyhow::Ok(())
        })
    };
    let (done, high) = group_position(
        &settings,
        "auditor",
        &[t.signals(), t.payloads(), t.lifecycle()],
    )
    .await?;
    eprintln!(
        "[broker] stopping the broker; the auditor has {} records to go",
        high - done
    );
    broker.stop();
    let down = Instant::now();
    tokio::time::sleep(OUTAGE).await;
    broker.start();
    eprintln!("[broker] broker back after {:?}", down.elapsed());
    producing.await??;

    let report = verify(&settings, &db_url, &policy, &want, Duration::from_secs(240)).await?;
    report.print("broker");
    let restarts = std::fs::read_to_string(&log)?
        .lines()
        .filter(|l| l.contains("worker failed; restarting"))
        .count();
    eprintln!("[broker] in-process worker restarts after failed deliveries: {restarts}");
    eprintln!(
        "[broker] events={} handoffs={} outage={OUTAGE:?} lost={} duplicates={} elapsed={:?}",
        events.len(),
        want.routes.len(),
        report.lost,
        report.duplicates,
        started.elapsed()
    );
    for p in workers {
        let name = p.name;
        let mut p = p;
        assert!(
            p.child.try_wait()?.is_none(),
            "{name} is still running after the broker restart"
        );
        assert!(p.terminate().success(), "{name} exits cleanly");
    }
    assert!(report.ok(), "{report:#?}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
