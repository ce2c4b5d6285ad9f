//! SIGTERM at each phase of start-up stops every binary cleanly: exit code 0, never death by
//! the signal. A rolling update or a scale-down signals pods that are still starting; before
//! the fix, a worker that had not yet reached its consume loop died by signal 15.
//!
//! The phases are made observable rather than timed: "handlers installed" is read from the
//! kernel (`SigCgt` in /proc/PID/status: the process catches SIGTERM), and "waiting for the
//! broker / registry / database" is forced by pointing the binary at a port nobody listens on.

use handoff_tests::{spawn, spawn_with, test_settings, Process};
use std::time::{Duration, Instant};

/// How long a binary may take to reach a phase or to exit after the signal. Generous: the
/// suite must pass on a loaded 2-core machine; a binary that never exits fails here, with its
/// log, instead of hanging the suite.
const PHASE_DEADLINE: Duration = Duration::from_secs(90);
/// How long a binary is left blocked on a dependency that never answers before the signal:
/// long enough to be inside that wait, well short of any start-up timeout (30 s and more).
const BLOCKED_FOR: Duration = Duration::from_millis(1500);

/// Whether the kernel says the process catches SIGTERM (bit 15 - 1 of the SigCgt mask).
fn catches_sigterm(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (15 - 1)) != 0)
}

/// A port on loopback with nothing listening on it.
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn log_tail(p: &Process, prefix: &str) -> String {
    let path = handoff_tests::repo_root().join(format!(".run/logs/test-{prefix}{}.log", p.name));
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Waits until `ready` holds for the running process (or fails with its log), then sends
/// SIGTERM and asserts a clean exit.
async fn terminate_when(
    mut p: Process,
    prefix: &str,
    phase: &str,
    ready: impl Fn(&Process) -> bool,
) {
    let began = Instant::now();
    while !ready(&p) {
        if let Some(status) = p.child.try_wait().unwrap() {
            panic!(
                "{} exited ({status}) before reaching '{phase}':\n{}",
                p.name,
                log_tail(&p, prefix)
            );
        }
        assert!(
            began.elapsed() < PHASE_DEADLINE,
            "{} did not reach '{phase}' within {PHASE_DEADLINE:?}:\n{}",
            p.name,
            log_tail(&p, prefix)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let pid = p.child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let signalled = Instant::now();
    let status = loop {
        if let Some(status) = p.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < PHASE_DEADLINE,
            "{} still running {PHASE_DEADLINE:?} after SIGTERM at '{phase}':\n{}",
            p.name,
            log_tail(&p, prefix)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        status.code(),
        Some(0),
        "{} on SIGTERM at '{phase}' ended with {status}:\n{}",
        p.name,
        log_tail(&p, prefix)
    );
}

/// The earliest point any code can act: the handlers are registered and nothing else is done.
#[tokio::test]
async fn sigterm_right_after_the_handlers_are_installed_exits_zero() {
    let mut settings = test_settings("sig_first");
    settings.database.url = Some(format!("postgres://x:y@127.0.0.1:{}/none", dead_port()).into());
    let prefix = settings.kafka.topic_prefix.clone();
    for name in ["detector", "builder", "router", "auditor", "console"] {
        let p = spawn_console_safe(name, &settings);
        terminate_when(p, &prefix, "handlers installed", |p| {
            catches_sigterm(p.child.id())
        })
        .await;
    }
}

/// Start-up blocked on a broker that does not answer (a pod starting while Kafka is away).
#[tokio::test]
async fn sigterm_while_waiting_for_the_broker_exits_zero() {
    let mut settings = test_settings("sig_broker");
    settings.kafka.brokers = format!("127.0.0.1:{}", dead_port());
    let prefix = settings.kafka.topic_prefix.clone();
    for name in ["detector", "builder", "router", "console"] {
        let p = spawn_console_safe(name, &settings);
        let spawned = Instant::now();
        terminate_when(p, &prefix, "waiting for the broker", |p| {
            catches_sigterm(p.child.id()) && spawned.elapsed() >= BLOCKED_FOR
        })
        .await;
    }
}

/// Start-up blocked on a schema registry that does not answer (topics exist, schemas not yet
/// registered).
#[tokio::test]
async fn sigterm_while_waiting_for_the_registry_exits_zero() {
    let mut settings = test_settings("sig_registry");
    settings.registry.url = format!("http://127.0.0.1:{}", dead_port());
    let prefix = settings.kafka.topic_prefix.clone();
    for name in ["detector", "builder", "router"] {
        let p = spawn(name, &settings);
        terminate_when(p, &prefix, "waiting for the registry", |p| {
            log_tail(p, &prefix).contains("schema registry unavailable")
        })
        .await;
    }
}

/// The auditor's own start-up step: a database that does not answer.
#[tokio::test]
async fn sigterm_while_the_auditor_waits_for_postgres_exits_zero() {
    let mut settings = test_settings("sig_database");
    settings.database.url = Some(format!("postgres://x:y@127.0.0.1:{}/none", dead_port()).into());
    let prefix = settings.kafka.topic_prefix.clone();
    let p = spawn("auditor", &settings);
    let spawned = Instant::now();
    terminate_when(p, &prefix, "waiting for the database", |p| {
        catches_sigterm(p.child.id()) && spawned.elapsed() >= BLOCKED_FOR
    })
    .await;
}

/// Started and consuming: the ordinary case, for contrast with the phases above.
#[tokio::test]
async fn sigterm_after_start_exits_zero() {
    let settings = test_settings("sig_started");
    let prefix = settings.kafka.topic_prefix.clone();
    let p = spawn("detector", &settings);
    terminate_when(p, &prefix, "worker started", |p| {
        log_tail(p, &prefix).contains("worker started")
    })
    .await;
}

/// `spawn`, with the console told to listen on a free port (its default may be taken by a
/// running `make run`).
fn spawn_console_safe(name: &'static str, settings: &handoff_runtime::Settings) -> Process {
    let extra: &[(&str, &str)] = if name == "console" {
        &[("HANDOFF_CONSOLE__LISTEN", "127.0.0.1:0")]
    } else {
        &[]
    };
    spawn_with(name, settings, extra)
}
