//! Rebalance: a second detector joins the group mid-stream, then the first leaves. Partitions
//! move both times, and with them the conversations' state (the new owner reads it back from the
//! `handoff.state` changelog before handling their next record). No escalation is lost and none
//! is repeated: each expected handoff has exactly its expected signal id on `handoff.signals`,
//! the low-confidence conversations (which need the turns seen by the previous owner) still
//! escalate, and the run ends equal to the offline pipeline's.

use handoff_core::pipeline::Pipeline;
use handoff_runtime::publish::produce_replay;
use handoff_tests::load::*;
use handoff_tests::*;
use std::time::{Duration, Instant};

/// A log line without its terminal colour codes.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `state restored` log lines of a worker log, with their record counts.
fn restores(log: &std::path::Path) -> Vec<u64> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(strip_ansi)
        .filter(|l| l.contains("state restored"))
        .filter_map(|l| {
            l.split("records=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

/// Waits until `log` holds a `state restored` line with records after its first `before` lines,
/// and returns the lines after `before`. The group's offsets can reach the end before the
/// rebalance that moves the partitions completes (the leaver drains what it owned), so the
/// restore is awaited in the log rather than assumed done when the lag is zero.
async fn restored_after(log: &std::path::Path, before: usize, timeout: Duration) -> Vec<u64> {
    let deadline = Instant::now() + timeout;
    loop {
        let all = restores(log);
        let new = all.get(before..).unwrap_or_default().to_vec();
        if new.iter().any(|&n| n > 0) || Instant::now() > deadline {
            return new;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detectors_joining_and_leaving_move_state_without_losing_or_repeating_escalations(
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut settings = test_settings("rebalance");
    // More partitions than instances, so both own some.
    settings.kafka.partitions = 4;
    let db_url = with_database(&mut settings).await?;
    let dir = std::env::temp_dir().join(format!(
        "handoff-rebalance-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let (policy_path, policy) = long_sla_policy(&dir);
    let env = reliability_env(&settings, &dir, &policy_path);
    let logs = repo_root().join(".run/logs");
    std::fs::create_dir_all(&logs)?;
    let log = |name: &str| logs.join(format!("test-{}{name}.log", settings.kafka.topic_prefix));

    let events = generate("rb-", 240, 18, 7);
    let mut want = Expected::default();
    let mut pipeline = Pipeline::new(&policy).without_sla_clock();
    want.feed(&mut pipeline, &events);
    let third = events.len() / 3;
    let (one, rest) = events.split_at(third);
    let (two, three) = rest.split_at(third);

    let others: Vec<Process> = ["builder", "router", "auditor"]
        .iter()
        .map(|w| spawn_env(w, &env, &log(w)))
        .collect();
    let first = spawn_env("detector", &env, &log("detector-a"));
    produce_replay(&settings, one).await?;
    let t = settings.topics();
    wait_consumed(
        &settings,
        "detector",
        &[t.events()],
        Duration::from_secs(120),
    )
    .await?;

    // A second instance joins while the second third streams in: partitions (and their state)
    // move to it.
    let second = spawn_env("detector", &env, &log("detector-b"));
    produce_replay(&settings, two).await?;
    wait_consumed(
        &settings,
        "detector",
        &[t.events()],
        Duration::from_secs(120),
    )
    .await?;
    let restored_b = restored_after(&log("detector-b"), 0, Duration::from_secs(60)).await;
    eprintln!("[rebalance] detector b restored {restored_b:?} changelog records on joining");
    assert!(
        restored_b.iter().any(|&n| n > 0),
        "the joining detector read its partitions' state back"
    );

    // The first leaves (gracefully) while the last third streams in: all partitions go to the
    // second, which reads the rest of the state back.
    let before = restores(&log("detector-b")).len();
    let producing = {
        let settings = settings.clone();
        let three = three.to_vec();
        tokio::spawn(async move { produce_replay(&settings, &three).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = tokio::task::spawn_blocking(move || first.terminate()).await?;
    assert!(status.success(), "detector a exits cleanly: {status}");
    producing.await??;
    wait_consumed(
        &settings,
        "detector",
        &[t.events()],
        Duration::from_secs(120),
    )
    .await?;
    let after = restored_after(&log("detector-b"), before, Duration::from_secs(60)).await;
    eprintln!("[rebalance] detector b restores after a left: {after:?}");
    assert!(
        after.iter().any(|&n| n > 0),
        "the remaining detector read the leaver's state back"
    );

    let report = verify(&settings, &db_url, &policy, &want, Duration::from_secs(180)).await?;
    report.print("rebalance");
    let distinct: usize = want.signals.values().map(|s| s.len()).sum();
    eprintln!(
        "[rebalance] events={} handoffs={} signal records={} distinct expected={} elapsed={:?}",
        events.len(),
        want.routes.len(),
        report.signal_records,
        distinct,
        started.elapsed()
    );
    assert!(
        want.signals.values().all(|s| s.len() == 1),
        "each handoff is escalated by one signal"
    );
    assert!(
        report.wrong_signals.is_empty(),
        "escalations lost or repeated: {:?}",
        report.wrong_signals
    );
    assert!(report.ok(), "{report:#?}");

    assert!(second.terminate().success());
    for p in others {
        assert!(p.terminate().success());
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
