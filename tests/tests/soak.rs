//! Soak: a steady load through the four worker binaries for SOAK_SECONDS (default 600), sampling
//! each worker's resident set every 10 s. It ends by checking that nothing was lost (the run
//! equals the offline pipeline's) and that no worker's RSS went over SOAK_RSS_LIMIT_MB (default
//! 300 MiB). Run by `infra/soak.sh` (`make soak`); ignored in `make test`.
//!
//! Why 300 MiB: a debug-build worker under this load settles at 30-50 MiB (the detector's
//! conversation state grows about 4.7 KiB per open conversation: 46 -> 92 MiB over 10 minutes here);
//! librdkafka's buffers are bounded by our settings (the producer's in-flight window,
//! `kafka.max_in_flight` = 2000, and the consumer's prefetch); 300 MiB leaves room for both with
//! a margin, and a leak of even a few hundred bytes per record would cross it within the run.
//! The printed series shows the trend as well.

use handoff_core::pipeline::Pipeline;
use handoff_runtime::publish::produce_replay;
use handoff_tests::load::*;
use handoff_tests::*;
use std::time::{Duration, Instant};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const WORKERS: [&str; 4] = ["detector", "builder", "router", "auditor"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run by infra/soak.sh (make soak)"]
async fn soak() -> anyhow::Result<()> {
    let seconds: u64 = env_or("SOAK_SECONDS", 600);
    let rate: usize = env_or("SOAK_RATE", 200); // events per second
    let limit_mib: f64 = env_or("SOAK_RSS_LIMIT_MB", 300.0);
    let turns = 12;
    let batch = Duration::from_secs(5);

    let mut settings = test_settings("soak");
    let broker = (env_or("SOAK_PRIVATE_BROKER", 1) == 1).then(handoff_tests::broker::Kafka::create);
    if let Some(b) = &broker {
        settings.kafka.brokers = b.brokers();
    }
    let db_url = with_database(&mut settings).await?;
    let dir = std::env::temp_dir().join(format!("handoff-soak-{}", uuid::Uuid::new_v4().simple()));
    let (policy_path, policy) = long_sla_policy(&dir);
    let env = reliability_env(&settings, &dir, &policy_path);
    let log = repo_root().join(format!(
        ".run/logs/test-{}workers.log",
        settings.kafka.topic_prefix
    ));
    std::fs::create_dir_all(log.parent().unwrap())?;
    let procs: Vec<Process> = WORKERS.iter().map(|w| spawn_env(w, &env, &log)).collect();
    let pids: Vec<u32> = procs.iter().map(|p| p.child.id()).collect();
    eprintln!("[soak] {seconds} s at {rate} events/s, RSS limit {limit_mib} MiB per worker; broker {}; log {}", settings.kafka.brokers, log.display());
    eprintln!(
        "[soak] {:>6} {:>10} {:>10} {:>10} {:>10} {:>9}",
        "t (s)", "detector", "builder", "router", "auditor", "events"
    );

    let mut want = Expected::default();
    let mut pipeline = Pipeline::new(&policy).without_sla_clock();
    let mut samples: Vec<(u64, Vec<f64>)> = Vec::new();
    let sample = |t: u64, events: usize, samples: &mut Vec<(u64, Vec<f64>)>| {
        let rss: Vec<f64> = pids
            .iter()
            .map(|&p| rss_mib(p).unwrap_or(f64::NAN))
            .collect();
        eprintln!(
            "[soak] {t:>6} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {events:>9}",
            rss[0], rss[1], rss[2], rss[3]
        );
        samples.push((t, rss));
    };
    let started = Instant::now();
    let mut last_sample = Instant::now() - Duration::from_secs(10);
    let mut produced = 0usize;
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        let tick = Instant::now();
        if last_sample.elapsed() >= Duration::from_secs(10) {
            last_sample = Instant::now();
            sample(started.elapsed().as_secs(), produced, &mut samples);
        }
        let conversations = (rate * batch.as_secs() as usize / turns).max(1);
        let records = generate(&format!("s{n}-"), conversations, turns, n + 1);
        want.feed(&mut pipeline, &records);
        produce_replay(&settings, &records).await?;
        produced += records.len();
        n += 1;
        tokio::time::sleep(batch.saturating_sub(tick.elapsed())).await;
    }
    sample(started.elapsed().as_secs(), produced, &mut samples);

    // Everything through, then compare with the offline pipeline.
    let t = settings.topics();
    wait_consumed(
        &settings,
        "detector",
        &[t.events()],
        Duration::from_secs(600),
    )
    .await?;
    let report = verify(&settings, &db_url, &policy, &want, Duration::from_secs(600)).await?;
    sample(started.elapsed().as_secs(), produced, &mut samples);
    report.print("soak");

    let max: Vec<f64> = (0..WORKERS.len())
        .map(|i| samples.iter().map(|(_, r)| r[i]).fold(0.0, f64::max))
        .collect();
    let first = &samples[1.min(samples.len() - 1)].1;
    let last = &samples[samples.len() - 1].1;
    for (i, w) in WORKERS.iter().enumerate() {
        eprintln!(
            "[soak] {w}: first {:.1} MiB, last {:.1} MiB, max {:.1} MiB (limit {limit_mib})",
            first[i], last[i], max[i]
        );
    }
    eprintln!(
        "[soak] events={produced} conversations={} handoffs={} lost={} duplicates={} elapsed={:?}",
        want.detector.len(),
        want.routes.len(),
        report.lost,
        report.duplicates,
        started.elapsed()
    );
    for p in procs {
        let name = p.name;
        assert!(p.terminate().success(), "{name} exits cleanly");
    }
    assert!(report.ok(), "{report:#?}");
    for (i, w) in WORKERS.iter().enumerate() {
        assert!(
            max[i] < limit_mib,
            "{w} reached {:.1} MiB RSS (limit {limit_mib} MiB)",
            max[i]
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    drop(broker);
    Ok(())
}
