//! TLS and SASL against the dev Kafka's SASL_SSL listener (SCRAM-SHA-512, a certificate signed
//! by the CA infra/kafka.sh makes):
//! - the four worker binaries, configured by a settings file shaped like the README's production
//!   example (password and database URL from the environment), carry the sample conversations
//!   from the events topic to the team topics and the audit store;
//! - a wrong password, and a broker certificate the configured CA did not sign, each stop a
//!   worker at start with a non-zero exit and a message naming the cause, instead of retrying.

use handoff_core::pipeline::{Output, Pipeline};
use handoff_core::replay::ReplayRecord;
use handoff_runtime::publish::produce_replay;
use handoff_runtime::Settings;
use handoff_tests::*;
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// The development credential infra/kafka.sh adds when it formats the broker's storage.
const SCRAM_USER: &str = "handoff";
const SCRAM_PASSWORD: &str = "handoff-dev-secret";

fn sasl_port() -> String {
    std::env::var("HANDOFF_KAFKA_SASL_PORT").unwrap_or_else(|_| "19093".into())
}

fn run_dir() -> PathBuf {
    std::env::var("HANDOFF_RUN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join(".run"))
}

/// The CA that signed the dev broker's certificate.
fn dev_ca() -> PathBuf {
    let ca = run_dir().join("kafka/tls/ca.crt");
    assert!(
        ca.exists(),
        "{} missing: start the dev Kafka with infra/kafka.sh start (make test does)",
        ca.display()
    );
    ca
}

/// The README's production settings file, pointed at the dev broker's SASL_SSL listener.
fn settings_file(dir: &Path, settings: &Settings, ca: &Path) -> PathBuf {
    let file = dir.join("handoff.toml");
    let k = &settings.kafka;
    std::fs::write(
        &file,
        format!(
            r#"[kafka]
brokers = "127.0.0.1:{port}"
security_protocol = "sasl_ssl"
sasl_mechanism = "SCRAM-SHA-512"
sasl_username = "{SCRAM_USER}"
ssl_ca_location = "{ca}"
replication_factor = 1
partitions = {partitions}
team_partitions = {team_partitions}
topic_prefix = "{topic_prefix}"
group_prefix = "{group_prefix}"
connect_timeout_ms = 60000
[kafka.options]
"socket.keepalive.enable" = "true"

[registry]
url = "{registry}"

[telemetry]
format = "json"
"#,
            port = sasl_port(),
            ca = ca.display(),
            partitions = k.partitions,
            team_partitions = k.team_partitions,
            topic_prefix = k.topic_prefix,
            group_prefix = k.group_prefix,
            registry = settings.registry.url,
        ),
    )
    .unwrap();
    file
}

/// The same settings in this process (to publish the input and read the output over TLS too).
fn sasl_settings(mut s: Settings, ca: &Path, password: &str) -> Settings {
    s.kafka.brokers = format!("127.0.0.1:{}", sasl_port());
    s.kafka.security_protocol = Some("sasl_ssl".into());
    s.kafka.sasl_mechanism = Some("SCRAM-SHA-512".into());
    s.kafka.sasl_username = Some(SCRAM_USER.into());
    s.kafka.sasl_password = Some(SecretString::from(password.to_string()));
    s.kafka.ssl_ca_location = Some(ca.display().to_string());
    s
}

/// A worker binary with `--config FILE`; everything else the file says comes from there, so
/// the plaintext endpoints `make test` exports are removed from its environment.
fn spawn_with_file(name: &str, file: &Path, password: &str, db_url: &str, log: &Path) -> Child {
    let bin = std::env::var("HANDOFF_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("target/debug"))
        .join(name);
    assert!(
        bin.exists(),
        "{} is not built: run `cargo build --workspace --bins` (make test does)",
        bin.display()
    );
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(&bin)
        .arg("--config")
        .arg(file)
        .env_remove("HANDOFF_KAFKA__BROKERS")
        .env_remove("HANDOFF_REGISTRY__URL")
        .env_remove("HANDOFF_CONFIG")
        .env("HANDOFF_KAFKA__SASL_PASSWORD", password)
        .env("HANDOFF_DATABASE__URL", db_url)
        .env("RUST_LOG", "info")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()))
}

fn test_dir(label: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("handoff-{label}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_runs_over_sasl_ssl_with_the_production_settings_shape() -> anyhow::Result<()>
{
    let mut plain = test_settings("tls");
    let db_url = with_database(&mut plain).await?;
    let ca = dev_ca();
    let dir = test_dir("tls");
    let file = settings_file(&dir, &plain, &ca);
    let settings = sasl_settings(plain, &ca, SCRAM_PASSWORD);

    // What the offline pipeline routes from the sample events alone.
    let events: Vec<ReplayRecord> = samples()
        .into_iter()
        .filter(|r| matches!(r, ReplayRecord::Event(_)))
        .collect();
    let policy = handoff_tests::as_deployed(handoff_core::Policy::builtin());
    let mut pipeline = Pipeline::new(&policy).without_sla_clock();
    let mut want: BTreeMap<String, String> = BTreeMap::new();
    for r in &events {
        for o in pipeline.feed(r) {
            if let Output::Route(r) = o {
                want.insert(r.payload.handoff_id.clone(), r.routing.team.clone());
            }
        }
    }
    assert!(
        want.len() >= 3,
        "the samples must escalate a few conversations"
    );

    let log = dir.join("workers.log");
    let workers: Vec<Child> = ["detector", "builder", "router", "auditor"]
        .into_iter()
        .map(|w| spawn_with_file(w, &file, SCRAM_PASSWORD, &db_url, &log))
        .collect();
    let workers: Vec<Process> = workers
        .into_iter()
        .zip(["detector", "builder", "router", "auditor"])
        .map(|(child, name)| Process { child, name })
        .collect();

    produce_replay(&settings, &events).await?;
    let routed = collect_routed(&settings, want.len(), Duration::from_secs(180))
        .await
        .map_err(|e| {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(30).collect();
            anyhow::anyhow!(
                "{e}; workers' log (last lines, newest first):\n{}",
                tail.join("\n")
            )
        })?;
    let got: BTreeMap<String, String> = routed
        .iter()
        .map(|(id, r)| (id.clone(), r.routing.team.clone()))
        .collect();
    assert_eq!(got, want, "handoff → team over SASL_SSL");

    // The auditor, also over SASL_SSL, stored every routed handoff with its team.
    let pool = sqlx::PgPool::connect(&db_url).await?;
    let rows: Vec<(String, Option<String>)> = eventually(Duration::from_secs(90), || {
        let pool = pool.clone();
        let n = want.len();
        async move {
            let rows: Vec<(String, Option<String>)> =
                sqlx::query_as("SELECT handoff_id, team FROM handoffs ORDER BY handoff_id")
                    .fetch_all(&pool)
                    .await?;
            Ok((rows.len() >= n && rows.iter().all(|(_, t)| t.is_some())).then_some(rows))
        }
    })
    .await?;
    let stored: BTreeMap<String, String> = rows
        .into_iter()
        .map(|(id, team)| (id, team.unwrap_or_default()))
        .collect();
    assert_eq!(stored, want, "handoffs in the audit store");
    pool.close().await;

    for w in workers {
        let name = w.name;
        assert!(w.terminate().success(), "{name} exits cleanly on SIGTERM");
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Runs a worker that must fail at start; returns its exit status and output. Fails the test if
/// it is still running after `limit` (it would be retrying forever).
fn run_expecting_failure(
    file: &Path,
    password: &str,
    db_url: &str,
    dir: &Path,
) -> (ExitStatus, String) {
    let log = dir.join("detector.log");
    let mut child = spawn_with_file("detector", file, password, db_url, &log);
    let limit = Duration::from_secs(90);
    let began = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if began.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the detector still runs after {limit:?} instead of failing at start; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    (status, std::fs::read_to_string(&log).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_stops_a_worker_at_start_naming_the_cause() -> anyhow::Result<()> {
    let mut plain = test_settings("tlsbadpw");
    let db_url = with_database(&mut plain).await?;
    let dir = test_dir("tlsbadpw");
    let file = settings_file(&dir, &plain, &dev_ca());
    let (status, output) = run_expecting_failure(&file, "not-the-password", &db_url, &dir);
    assert!(!status.success(), "non-zero exit; output:\n{output}");
    assert!(
        output.contains("authentication failed"),
        "the message names the cause; output:\n{output}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_broker_certificate_stops_a_worker_at_start_naming_the_cause(
) -> anyhow::Result<()> {
    let mut plain = test_settings("tlsbadca");
    let db_url = with_database(&mut plain).await?;
    let dir = test_dir("tlsbadca");
    // A CA of our own that did not sign the broker's certificate.
    let other_ca = dir.join("other-ca.crt");
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=not the dev CA", "-keyout"])
        .arg(dir.join("other-ca.key"))
        .arg("-out")
        .arg(&other_ca)
        .output()?;
    assert!(made.status.success(), "openssl: {made:?}");
    let file = settings_file(&dir, &plain, &other_ca);
    let (status, output) = run_expecting_failure(&file, SCRAM_PASSWORD, &db_url, &dir);
    assert!(!status.success(), "non-zero exit; output:\n{output}");
    assert!(
        output.contains("TLS failed") && output.contains("certificate verify failed"),
        "the message names the cause; output:\n{output}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
