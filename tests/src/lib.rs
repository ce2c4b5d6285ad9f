//! Harness for integration tests against the real broker, schema registry and Postgres that
//! `infra/up.sh` starts (`make test` starts them first).
//!
//! Every test gets its own topic prefix, consumer-group prefix and (when it needs one) database,
//! all named by a fresh uuid, so tests run in parallel and leave nothing to each other. Workers
//! run in-process through their library `run` functions with a shutdown future each, so a test
//! stops, restarts or loses them deterministically.

pub mod broker;
pub mod load;

use anyhow::{anyhow, bail, Context};
use handoff_core::records::RoutedHandoff;
use handoff_core::replay::{read_all, ReplayRecord};
use handoff_runtime::codec::{AvroRecord, Codec};
use handoff_runtime::{kafka, Settings};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Message, OwnedMessage};
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// `policy` as the detector worker runs it: with the learned detectors (the installed model and
/// the compiled-in heads). A test's in-process expectation must decide as the worker does.
pub fn as_deployed(policy: handoff_core::Policy) -> handoff_core::Policy {
    handoff_semantic::with_learned_detectors(policy)
        .expect("the learned detectors load (make model installs the model)")
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Settings for one test: the environment's endpoints, unique topic and group prefixes.
pub fn test_settings(test: &str) -> Settings {
    let mut s = Settings::from_env().expect("settings from the environment");
    let id = uuid::Uuid::new_v4().simple().to_string();
    let prefix = format!("t{}.{test}.", &id[..10]);
    s.kafka.topic_prefix = prefix.clone();
    s.kafka.group_prefix = prefix.trim_end_matches('.').to_string();
    // Fewer partitions keep topic creation and group joins quick on a 2-core machine; still
    // more than one, so keying and co-partitioning are exercised.
    s.kafka.partitions = 3;
    s.kafka.team_partitions = 1;
    s.database.batch_linger_ms = 20;
    s.telemetry.filter = std::env::var("TEST_LOG").unwrap_or_else(|_| "warn".into());
    assert_stack_is_up(&s);
    s
}

fn assert_stack_is_up(s: &Settings) {
    let broker = s
        .kafka
        .brokers
        .split(',')
        .next()
        .unwrap_or_default()
        .to_string();
    if std::net::TcpStream::connect_timeout(
        &broker
            .parse()
            .unwrap_or_else(|_| "127.0.0.1:19092".parse().unwrap()),
        Duration::from_secs(2),
    )
    .is_err()
    {
        panic!("no Kafka broker at {broker}: start the local stack with `make infra-up` (make test does it for you)");
    }
}

/// Creates a fresh database for the test, migrates it, and points the settings at it.
pub async fn with_database(settings: &mut Settings) -> anyhow::Result<String> {
    let admin_url = settings
        .database
        .url
        .as_ref()
        .map(|u| u.expose_secret().to_string())
        .ok_or_else(|| {
            anyhow!("HANDOFF_DATABASE__URL is not set: run `source infra/env.sh` or `make test`")
        })?;
    // Timestamped, so `infra/postgres.sh prune-test-dbs` (run by `make test`) can drop old ones.
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let name = format!(
        "t_{secs}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..16]
    );
    let admin = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&admin_url)
        .await
        .with_context(|| "connecting to Postgres: start the local stack with `make infra-up`")?;
    // The name is a uuid we made, not input: safe to splice.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&admin)
        .await?;
    admin.close().await;
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(&admin_url);
    let url = format!("{base}/{name}");
    handoff_auditor::connect_and_migrate(&url)
        .await?
        .close()
        .await;
    settings.database.url = Some(SecretString::from(url.clone()));
    Ok(url)
}

/// The workers a test can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worker {
    Detector,
    Builder,
    Router,
    Auditor,
}

/// A worker running in this process.
pub struct RunningWorker {
    pub kind: Worker,
    stop: Option<oneshot::Sender<()>>,
    join: JoinHandle<anyhow::Result<()>>,
}

fn run_worker(
    kind: Worker,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> JoinHandle<anyhow::Result<()>> {
    match kind {
        Worker::Detector => tokio::spawn(handoff_detector::run(settings, shutdown)),
        Worker::Builder => tokio::spawn(handoff_builder::run(settings, shutdown)),
        Worker::Router => tokio::spawn(handoff_router::run(settings, shutdown)),
        Worker::Auditor => tokio::spawn(handoff_auditor::run(settings, shutdown)),
    }
}

/// Starts a worker; it runs until [`RunningWorker::stop`] (a graceful drain) or `abort`.
pub fn start(kind: Worker, settings: &Settings) -> RunningWorker {
    let (tx, rx) = oneshot::channel::<()>();
    let join = run_worker(kind, settings.clone(), async move {
        let _ = rx.await;
    });
    RunningWorker {
        kind,
        stop: Some(tx),
        join,
    }
}

/// Starts the four workers.
pub fn start_all(settings: &Settings) -> Vec<RunningWorker> {
    [
        Worker::Detector,
        Worker::Builder,
        Worker::Router,
        Worker::Auditor,
    ]
    .into_iter()
    .map(|w| start(w, settings))
    .collect()
}

impl RunningWorker {
    /// Asks the worker to drain and stop, and returns its result.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(60), self.join)
            .await
            .map_err(|_| anyhow!("{:?} did not stop within 60s", self.kind))??
    }
}

/// Stops every worker, failing if any of them failed.
pub async fn stop_all(workers: Vec<RunningWorker>) -> anyhow::Result<()> {
    for w in workers {
        let kind = w.kind;
        w.stop().await.with_context(|| format!("{kind:?} failed"))?;
    }
    Ok(())
}

/// The sample conversations in `infra/samples`, in file order.
pub fn samples() -> Vec<ReplayRecord> {
    let dir = repo_root().join("infra/samples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("infra/samples exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            read_all(
                std::io::BufReader::new(std::fs::File::open(f).unwrap()),
                &f.display().to_string(),
            )
            .unwrap()
        })
        .collect()
}

/// A consumer reading `topics` (or a `^pattern`) from the beginning, in its own group.
pub fn reader(settings: &Settings, topics: &[&str]) -> StreamConsumer {
    let group = format!(
        "{}.reader.{}",
        settings.kafka.group_prefix,
        uuid::Uuid::new_v4().simple()
    );
    let mut config = kafka::consumer_config(&settings.kafka, &group);
    config.set("enable.auto.commit", "false");
    let c: StreamConsumer = config.create().expect("consumer");
    c.subscribe(topics).expect("subscribe");
    c
}

/// Reads messages until `done(&messages)` holds or `timeout` passes.
pub async fn read_until(
    consumer: &StreamConsumer,
    timeout: Duration,
    mut done: impl FnMut(&[OwnedMessage]) -> bool,
) -> Vec<OwnedMessage> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while !done(&out) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, consumer.recv()).await {
            Err(_) => break,
            Ok(Ok(m)) => out.push(m.detach()),
            Ok(Err(e)) => eprintln!("consumer error: {e}"),
        }
    }
    out
}

/// Decodes records of one type.
pub async fn decode_all<T: AvroRecord>(
    settings: &Settings,
    messages: &[OwnedMessage],
) -> anyhow::Result<Vec<T>> {
    let codec = Codec::new(&settings.registry)?;
    let mut out = Vec::with_capacity(messages.len());
    for m in messages {
        out.push(codec.decode::<T>(m.payload()).await?);
    }
    Ok(out)
}

/// Collects routed handoffs from every team topic until `expected` distinct handoff ids arrived.
pub async fn collect_routed(
    settings: &Settings,
    expected: usize,
    timeout: Duration,
) -> anyhow::Result<BTreeMap<String, RoutedHandoff>> {
    let consumer = reader(settings, &[settings.topics().team_pattern().as_str()]);
    let codec = Codec::new(&settings.registry)?;
    let deadline = Instant::now() + timeout;
    let mut seen = BTreeMap::new();
    while seen.len() < expected {
        let left = deadline.saturating_duration_since(Instant::now());
        let m = match tokio::time::timeout(left, consumer.recv()).await {
            Err(_) => bail!(
                "only {} of {expected} routed handoffs within {timeout:?}",
                seen.len()
            ),
            // A team topic the router has just created can be in the metadata before its
            // partition has a leader: Kafka answers that fetch with UnknownTopicOrPartition
            // until it has one. Transient; the deadline above still bounds the wait.
            Ok(Err(e)) => {
                eprintln!("consumer error while collecting routed handoffs: {e}");
                continue;
            }
            Ok(Ok(m)) => m,
        };
        let r: RoutedHandoff = codec.decode(m.payload()).await?;
        seen.insert(r.payload.handoff_id.clone(), r);
    }
    Ok(seen)
}

/// Polls `check` until it returns `Some` or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("condition not met within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A worker binary running as its own process (for crash tests: `kill -9` is real there).
pub struct Process {
    pub child: std::process::Child,
    pub name: &'static str,
}

/// The environment that points a worker binary at the same topics, groups and database.
pub fn env_for(settings: &Settings) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "HANDOFF_KAFKA__BROKERS".into(),
            settings.kafka.brokers.clone(),
        ),
        (
            "HANDOFF_KAFKA__TOPIC_PREFIX".into(),
            settings.kafka.topic_prefix.clone(),
        ),
        (
            "HANDOFF_KAFKA__GROUP_PREFIX".into(),
            settings.kafka.group_prefix.clone(),
        ),
        (
            "HANDOFF_KAFKA__PARTITIONS".into(),
            settings.kafka.partitions.to_string(),
        ),
        (
            "HANDOFF_KAFKA__TEAM_PARTITIONS".into(),
            settings.kafka.team_partitions.to_string(),
        ),
        (
            "HANDOFF_REGISTRY__URL".into(),
            settings.registry.url.clone(),
        ),
        (
            "HANDOFF_DATABASE__BATCH_LINGER_MS".into(),
            settings.database.batch_linger_ms.to_string(),
        ),
        (
            "RUST_LOG".into(),
            std::env::var("TEST_LOG").unwrap_or_else(|_| "info".into()),
        ),
    ];
    if let Some(url) = &settings.database.url {
        env.push((
            "HANDOFF_DATABASE__URL".into(),
            url.expose_secret().to_string(),
        ));
    }
    env
}

/// Starts a worker binary (`make test` builds them first), logging to `.run/logs/test-*.log`.
pub fn spawn(name: &'static str, settings: &Settings) -> Process {
    spawn_with(name, settings, &[])
}

/// [`spawn`] with more environment variables on top of the settings'.
pub fn spawn_with(name: &'static str, settings: &Settings, extra_env: &[(&str, &str)]) -> Process {
    let dir = std::env::var("HANDOFF_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("target/debug"));
    let bin = dir.join(name);
    assert!(
        bin.exists(),
        "{} is not built: run `cargo build --workspace --bins` (make test does)",
        bin.display()
    );
    let logs = repo_root().join(".run/logs");
    std::fs::create_dir_all(&logs).unwrap();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(logs.join(format!("test-{}{name}.log", settings.kafka.topic_prefix)))
        .unwrap();
    let child = std::process::Command::new(&bin)
        .envs(env_for(settings))
        .envs(extra_env.iter().copied())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
    Process { child, name }
}

impl Process {
    /// SIGKILL: no drain, no final commit — a crash.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().expect("wait")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
