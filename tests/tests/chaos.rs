//! Worker crashes under load: the four worker binaries run as processes while generated
//! conversations stream in, and each is killed with SIGKILL at random moments (no drain, no
//! final commit) and restarted. Afterwards the live run must equal a fault-free one, computed by
//! the offline pipeline over the same records: every expected handoff exactly once in
//! `handoffs` with its team and final state, every expected `handoff_events` row and no other
//! (a decision taken twice differently would add one), every handoff on its team topic, exactly
//! the expected signal ids per handoff, and the detector's final state per conversation (from
//! its changelog) equal to the pipeline's.
//!
//! `worker_crashes_lose_and_duplicate_nothing` (a few thousand events, one kill of each worker)
//! runs in `make test`; `chaos_100k` (100,000 events over 4,000 conversations, several kills of
//! each worker) is ignored there and run by `infra/chaos.sh` (`make chaos`). CHAOS_SEED repeats a
//! run's kill schedule; CHAOS_CONVERSATIONS / CHAOS_TURNS / CHAOS_KILLS resize the long one.

use handoff_core::pipeline::Pipeline;
use handoff_core::replay::ReplayRecord;
use handoff_runtime::publish::produce_replay;
use handoff_runtime::Settings;
use handoff_tests::load::*;
use handoff_tests::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WORKERS: [&str; 4] = ["detector", "builder", "router", "auditor"];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Each worker independently: SIGKILL at random moments, restart after the session back-off.
    Kill,
    /// A rolling restart: SIGTERM one worker after the other (each drains and commits), restart
    /// it at once. Nothing may be redone: no repeats on any topic.
    RollingTerm,
}

struct Plan {
    mode: Mode,
    conversations: usize,
    turns: usize,
    /// records per produce call, and the pause between calls (pacing the load over the run)
    chunk: usize,
    pause: Duration,
    /// SIGKILLs per worker
    kills: usize,
    /// how long a worker runs between its restart and its next kill (uniform in this range)
    uptime_ms: (u64, u64),
    seed: u64,
    /// run on a private Kafka: keeps the load off the shared broker the other tests use
    private_broker: bool,
    /// how long the final check waits for the audit to converge
    settle: Duration,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The inputs a worker consumes (its lag at a kill shows the kill hit in-flight work).
fn inputs(settings: &Settings, policy: &handoff_core::Policy, worker: &str) -> Vec<String> {
    let t = settings.topics();
    match worker {
        "detector" => vec![t.events(), t.commands()],
        "builder" => vec![t.signals()],
        "router" => vec![t.payloads()],
        _ => {
            let mut v = vec![t.signals(), t.payloads(), t.lifecycle(), t.commands()];
            v.extend(team_topics(settings, policy));
            v
        }
    }
}

/// How long a worker may take from SIGTERM to exit (drain in-flight deliveries, commit).
const MAX_DRAIN: Duration = Duration::from_secs(15);

/// Waits (up to 20 s) until `worker` has uncommitted input, so the disruption hits work in
/// flight; returns that backlog (0 if none came).
async fn wait_for_backlog(
    settings: &Settings,
    worker: &str,
    topics: &[String],
    stop: &AtomicBool,
) -> i64 {
    let waited = Instant::now();
    let mut backlog = 0;
    while waited.elapsed() < Duration::from_secs(20) && !stop.load(Ordering::Relaxed) {
        let (done, high) = group_position(settings, worker, topics)
            .await
            .unwrap_or((0, 0));
        backlog = high - done;
        if backlog > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    backlog
}

type Fleet = Arc<Vec<Mutex<Option<Process>>>>;

async fn chaos(label: &str, plan: Plan) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut settings = test_settings(label);
    let broker = plan
        .private_broker
        .then(handoff_tests::broker::Kafka::create);
    if let Some(b) = &broker {
        settings.kafka.brokers = b.brokers();
        eprintln!("[{label}] private broker at {}", settings.kafka.brokers);
    }
    let db_url = with_database(&mut settings).await?;
    let dir =
        std::env::temp_dir().join(format!("handoff-{label}-{}", uuid::Uuid::new_v4().simple()));
    let (policy_path, policy) = long_sla_policy(&dir);
    let env = reliability_env(&settings, &dir, &policy_path);
    let log = repo_root().join(format!(
        ".run/logs/test-{}workers.log",
        settings.kafka.topic_prefix
    ));
    std::fs::create_dir_all(log.parent().unwrap())?;

    let events = generate("cc-", plan.conversations, plan.turns, plan.seed);
    let mut want = Expected::default();
    let mut pipeline = Pipeline::new(&policy).without_sla_clock();
    want.feed(&mut pipeline, &events);
    let from_events = want.routes.len();
    assert!(
        from_events * 2 >= plan.conversations,
        "most conversations escalate: {from_events}"
    );
    eprintln!(
        "[{label}] {} events over {} conversations, {from_events} handoffs expected; seed {}; log {}",
        events.len(),
        plan.conversations,
        plan.seed,
        log.display()
    );

    let fleet: Fleet = Arc::new(
        WORKERS
            .iter()
            .map(|w| Mutex::new(Some(spawn_env(w, &env, &log))))
            .collect(),
    );
    let kills = Arc::new(AtomicUsize::new(0));
    let restarts = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    // Every fault task in one set: the first to fail (a worker that did not exit cleanly)
    // fails the test at once, instead of leaving the waits below to time out.
    let mut chaos_tasks = tokio::task::JoinSet::new();
    let exits: Arc<Mutex<Vec<(&'static str, Duration)>>> = Arc::default();
    if plan.mode == Mode::Kill {
        for (i, worker) in WORKERS.iter().enumerate() {
            let (fleet, env, log, kills, restarts, stop) = (
                fleet.clone(),
                env.clone(),
                log.clone(),
                kills.clone(),
                restarts.clone(),
                stop.clone(),
            );
            let (settings, topics) = (settings.clone(), inputs(&settings, &policy, worker));
            let mut rng = Rng::new(plan.seed.wrapping_mul(31).wrapping_add(i as u64 + 1));
            let (n, uptime) = (plan.kills, plan.uptime_ms);
            chaos_tasks.spawn(async move {
                for k in 0..n {
                    tokio::time::sleep(Duration::from_millis(rng.between(uptime.0, uptime.1))).await;
                    let backlog = wait_for_backlog(&settings, worker, &topics, &stop).await;
                    let p = fleet[i].lock().unwrap().take().expect("running");
                    let pid = p.child.id();
                    p.kill9();
                    kills.fetch_add(1, Ordering::Relaxed);
                    eprintln!("[chaos] kill -9 {worker} (pid {pid}, kill {}/{n}) with {backlog} input records not yet committed", k + 1);
                    tokio::time::sleep(RESTART_BACKOFF).await;
                    *fleet[i].lock().unwrap() = Some(spawn_env(worker, &env, &log));
                    restarts.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    } else {
        let (fleet, env, log, kills, restarts, stop, exits) = (
            fleet.clone(),
            env.clone(),
            log.clone(),
            kills.clone(),
            restarts.clone(),
            stop.clone(),
            exits.clone(),
        );
        let settings = settings.clone();
        let all_inputs: Vec<Vec<String>> = WORKERS
            .iter()
            .map(|w| inputs(&settings, &policy, w))
            .collect();
        let mut rng = Rng::new(plan.seed);
        let (n, uptime) = (plan.kills, plan.uptime_ms);
        chaos_tasks.spawn(async move {
            for round in 0..n {
                for (i, worker) in WORKERS.iter().enumerate() {
                    tokio::time::sleep(Duration::from_millis(rng.between(uptime.0, uptime.1))).await;
                    let backlog = wait_for_backlog(&settings, worker, &all_inputs[i], &stop).await;
                    let p = fleet[i].lock().unwrap().take().expect("running");
                    let pid = p.child.id();
                    let t0 = Instant::now();
                    let status = tokio::task::spawn_blocking(move || p.terminate()).await.unwrap();
                    let took = t0.elapsed();
                    kills.fetch_add(1, Ordering::Relaxed);
                    exits.lock().unwrap().push((worker, took));
                    eprintln!("[rolling] SIGTERM {worker} (pid {pid}, round {}/{n}) with {backlog} input records not yet committed: exited {status} after {took:?}", round + 1);
                    assert!(status.success(), "{worker} exits cleanly on SIGTERM: {status}");
                    *fleet[i].lock().unwrap() = Some(spawn_env(worker, &env, &log));
                    restarts.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }

    // The load, paced over the run.
    for chunk in events.chunks(plan.chunk) {
        produce_replay(&settings, chunk).await?;
        tokio::time::sleep(plan.pause).await;
    }
    eprintln!("[{label}] events published after {:?}", started.elapsed());
    // Operators act on handoffs they have seen: once the detector has consumed every event.
    let t = settings.topics();
    let events_topic = [t.events()];
    tokio::select! {
        consumed = wait_consumed(&settings, "detector", &events_topic, Duration::from_secs(1200)) => consumed?,
        failed = first_failure(&mut chaos_tasks) => return Err(failed),
    }
    let cmds: Vec<ReplayRecord> = commands(&want.routes, 20, "cc-");
    want.feed(&mut pipeline, &cmds);
    produce_replay(&settings, &cmds).await?;
    eprintln!(
        "[{label}] {} commands published after {:?}",
        cmds.len(),
        started.elapsed()
    );

    // Every kill happens (and every worker is back) before the final check.
    while let Some(task) = chaos_tasks.join_next().await {
        task?;
    }
    let report = verify(&settings, &db_url, &policy, &want, plan.settle).await?;
    stop.store(true, Ordering::Relaxed);
    report.print(label);
    eprintln!(
        "[{label}] events={} commands={} conversations={} kills={} restarts={} lost={} duplicates={} team repeats (dropped by handoff_id)={} elapsed={:?}",
        events.len(),
        cmds.len(),
        plan.conversations,
        kills.load(Ordering::Relaxed),
        restarts.load(Ordering::Relaxed),
        report.lost,
        report.duplicates,
        report.team_repeats,
        started.elapsed()
    );
    assert_eq!(
        kills.load(Ordering::Relaxed),
        plan.kills * WORKERS.len(),
        "every planned kill happened"
    );
    assert!(
        report.ok(),
        "the run with crashes differs from a fault-free one: {report:#?}"
    );
    if plan.mode == Mode::RollingTerm {
        // A drained worker committed everything it produced: its successor redoes nothing.
        let signals: usize = want.signals.values().map(|s| s.len()).sum();
        assert_eq!(
            report.signal_records, signals,
            "signals written twice after a graceful restart"
        );
        assert_eq!(
            report.team_repeats, 0,
            "routed handoffs written twice after a graceful restart"
        );
        let payloads = read_to_end(&settings, &[t.payloads()]).await?.len();
        assert_eq!(
            payloads, signals,
            "payloads written twice after a graceful restart"
        );
        for (worker, took) in exits.lock().unwrap().iter() {
            assert!(
                *took < MAX_DRAIN,
                "{worker} took {took:?} to drain and exit (bound {MAX_DRAIN:?})"
            );
        }
    }

    // And every worker still stops cleanly.
    for slot in fleet.iter() {
        let p = slot.lock().unwrap().take().expect("running");
        let name = p.name;
        assert!(p.terminate().success(), "{name} exits cleanly on SIGTERM");
    }
    let _ = std::fs::remove_dir_all(&dir);
    drop(broker);
    Ok(())
}

fn seed() -> u64 {
    env_or(
        "CHAOS_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_crashes_lose_and_duplicate_nothing() -> anyhow::Result<()> {
    chaos(
        "chaos-small",
        Plan {
            mode: Mode::Kill,
            conversations: 200,
            turns: 12,
            chunk: 400,
            pause: Duration::from_millis(700),
            kills: 1,
            uptime_ms: (1500, 4000),
            seed: seed(),
            private_broker: true,
            settle: Duration::from_secs(180),
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run by infra/chaos.sh (make chaos)"]
async fn chaos_100k() -> anyhow::Result<()> {
    let conversations = env_or("CHAOS_CONVERSATIONS", 4000);
    let turns = env_or("CHAOS_TURNS", 25);
    chaos(
        "chaos-100k",
        Plan {
            mode: Mode::Kill,
            conversations,
            turns,
            chunk: conversations,
            pause: Duration::from_millis(env_or("CHAOS_PAUSE_MS", 2000)),
            kills: env_or("CHAOS_KILLS", 4),
            uptime_ms: (
                env_or("CHAOS_UPTIME_MIN_MS", 15000),
                env_or("CHAOS_UPTIME_MAX_MS", 60000),
            ),
            seed: seed(),
            private_broker: env_or("CHAOS_PRIVATE_BROKER", 1) == 1,
            settle: Duration::from_secs(900),
        },
    )
    .await
}

/// Graceful shutdown: a rolling restart of all four workers (SIGTERM each in turn, restart at
/// once) under load. Each exits within [`MAX_DRAIN`], and because each drained and committed
/// what it produced, nothing is redone: every signal, payload and routed handoff is written once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_restart_under_load_drains_and_repeats_nothing() -> anyhow::Result<()> {
    chaos(
        "rolling",
        Plan {
            mode: Mode::RollingTerm,
            conversations: 200,
            turns: 16,
            chunk: 200,
            pause: Duration::from_millis(500),
            kills: 1,
            uptime_ms: (500, 2000),
            seed: seed(),
            private_broker: true,
            settle: Duration::from_secs(180),
        },
    )
    .await
}

/// The first fault task that panicked (its assertion says why), or never.
async fn first_failure(tasks: &mut tokio::task::JoinSet<()>) -> anyhow::Error {
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done {
            return anyhow::anyhow!("a fault task failed: {e}");
        }
    }
    std::future::pending().await
}
