//! A Postgres restart mid-run loses nothing: the auditor stops consuming while the database is
//! down (its committed offsets stand still), retries with backoff, and when Postgres is back
//! writes everything exactly once. "Exactly once" is checked against a second auditor that
//! reads the same topics into a second database without any outage: both stores must hold the
//! same rows.
//!
//! The outage is real (the server process stops and starts again) but private: the test runs
//! its own throwaway Postgres cluster (initdb into a temporary directory, a free loopback
//! port), so the shared local Postgres, which other tests and other checkouts use, is never
//! touched. A guard stops the cluster and deletes it whatever happens.

// Rows read back from SQL are tuples; naming each shape would not make them clearer.
#![allow(clippy::type_complexity)]
use anyhow::Context;
use handoff_core::pipeline::{Output, Pipeline};
use handoff_core::records::ControlState;
use handoff_core::replay::ReplayRecord;
use handoff_runtime::publish::produce_replay;
use handoff_runtime::{kafka, Settings};
use handoff_tests::*;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use secrecy::SecretString;
use serde_json::Value;
use sqlx::PgPool;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// How long Postgres stays down: long enough for the auditor's retry back-off to reach its cap
/// (5 s) several times, with its committed offsets checked to stand still throughout.
const OUTAGE: Duration = Duration::from_secs(30);

/// A Postgres cluster of our own: started by [`Cluster::create`], stopped and deleted on drop.
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// Postgres refuses to run as root: as root, everything runs as the `postgres` OS user.
    as_postgres: bool,
}

/// The newest installed server (Debian keeps them out of PATH, per major version).
fn pg_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("postgres").exists())
        .collect();
    found.sort();
    found
        .pop()
        .or_else(|| {
            let out = Command::new("pg_config").arg("--bindir").output().ok()?;
            Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
        .expect("a Postgres server installed (infra/postgres.sh install)")
}

impl Cluster {
    fn create() -> Cluster {
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let dir =
            std::env::temp_dir().join(format!("handoff-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Cluster {
            bin: pg_bin(),
            dir,
            port,
            as_postgres,
        };
        if as_postgres {
            assert!(Command::new("chown")
                .arg("postgres:")
                .arg(&cluster.dir)
                .status()
                .unwrap()
                .success());
        }
        let data = cluster.data();
        let ok = cluster
            .run(
                "initdb",
                &[
                    "-D",
                    &data,
                    "-U",
                    "handoff",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
            )
            .success();
        assert!(ok, "initdb into {} failed", cluster.dir.display());
        cluster.start();
        cluster
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) -> std::process::ExitStatus {
        let bin = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        cmd.args(args)
            .current_dir(&self.dir)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("{}: {e}", bin.display()))
    }

    fn start(&self) {
        let (data, log, dir) = (
            self.data(),
            self.dir.join("log").display().to_string(),
            self.dir.display().to_string(),
        );
        let options = format!(
            "-p {} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50",
            self.port
        );
        let ok = self
            .run(
                "pg_ctl",
                &[
                    "start", "-D", &data, "-l", &log, "-w", "-t", "60", "-o", &options,
                ],
            )
            .success();
        assert!(ok, "pg_ctl start failed; see {log}");
    }

    /// Stops the server (fast: clients are disconnected, as in a real outage).
    fn stop(&self) {
        let ok = self
            .run(
                "pg_ctl",
                &["stop", "-D", &self.data(), "-m", "fast", "-w", "-t", "60"],
            )
            .success();
        assert!(ok, "pg_ctl stop failed");
    }

    fn url(&self) -> String {
        format!("postgres://handoff@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.run(
            "pg_ctl",
            &[
                "stop",
                "-D",
                &self.data(),
                "-m",
                "immediate",
                "-w",
                "-t",
                "60",
            ],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// On the audited topics: the auditor group's committed offsets and the high watermarks
/// (each summed over every partition).
async fn committed(settings: &Settings, teams: &[String]) -> anyhow::Result<(i64, i64)> {
    let settings = settings.clone();
    let teams = teams.to_vec();
    tokio::task::spawn_blocking(move || -> anyhow::Result<(i64, i64)> {
        let group = format!("{}.auditor", settings.kafka.group_prefix);
        let consumer: BaseConsumer = kafka::consumer_config(&settings.kafka, &group).create()?;
        let t = settings.topics();
        let mut topics = vec![t.signals(), t.payloads(), t.lifecycle(), t.commands()];
        topics.extend(teams.iter().map(|team| t.team(team)));
        let timeout = Duration::from_secs(10);
        let mut tpl = TopicPartitionList::new();
        let mut high = 0;
        for topic in &topics {
            let md = consumer.fetch_metadata(Some(topic), timeout)?;
            for p in md.topics().iter().flat_map(|m| m.partitions()) {
                tpl.add_partition(topic, p.id());
                high += consumer.fetch_watermarks(topic, p.id(), timeout)?.1;
            }
        }
        let committed = consumer.committed_offsets(tpl, timeout)?;
        let committed = committed
            .elements()
            .iter()
            .map(|e| match e.offset() {
                Offset::Offset(o) => o,
                _ => 0,
            })
            .sum();
        Ok((committed, high))
    })
    .await?
}

/// Both audit tables, without the columns that say when a row was written.
async fn dump(pool: &PgPool) -> anyhow::Result<(Vec<Value>, Vec<Value>)> {
    let strip = |rows: Vec<Value>, cols: &[&str]| -> Vec<Value> {
        rows.into_iter()
            .map(|mut v| {
                for c in cols {
                    v.as_object_mut().unwrap().remove(*c);
                }
                v
            })
            .collect()
    };
    let handoffs = sqlx::query_scalar("SELECT to_jsonb(h) FROM handoffs h ORDER BY handoff_id")
        .fetch_all(pool)
        .await?;
    let events = sqlx::query_scalar("SELECT to_jsonb(e) FROM handoff_events e ORDER BY event_id")
        .fetch_all(pool)
        .await?;
    Ok((
        strip(handoffs, &["first_seen_at", "updated_at"]),
        // Where a record was read from stays; only the write time differs.
        strip(events, &["recorded_at"]),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_mid_run_loses_nothing() -> anyhow::Result<()> {
    let cluster = Cluster::create();
    let mut settings = test_settings("pgoutage");
    settings.database.url = Some(SecretString::from(cluster.url()));
    let url = with_database(&mut settings).await?;
    let policy = handoff_tests::as_deployed(settings.load_policy()?);
    let teams = policy.routing.teams.clone();

    // First half of the conversations before the outage; the rest, and every operator
    // command, while Postgres is down.
    let records = samples();
    let conversations: BTreeSet<String> = records
        .iter()
        .map(|r| r.conversation_id().to_string())
        .collect();
    let first: BTreeSet<String> = conversations
        .iter()
        .take(conversations.len() / 2)
        .cloned()
        .collect();
    let is_event = |r: &ReplayRecord| matches!(r, ReplayRecord::Event(_));
    let before: Vec<ReplayRecord> = records
        .iter()
        .filter(|r| is_event(r) && first.contains(r.conversation_id()))
        .cloned()
        .collect();
    let during: Vec<ReplayRecord> = records
        .iter()
        .filter(|r| is_event(r) && !first.contains(r.conversation_id()))
        .chain(records.iter().filter(|r| !is_event(r)))
        .cloned()
        .collect();

    // What must land: every handoff in its final state.
    let mut pipeline = Pipeline::new(&policy).without_sla_clock();
    let mut want: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
    let mut event_ids = BTreeSet::new();
    let mut routed_before = 0;
    for (phase, r) in before
        .iter()
        .map(|r| (0, r))
        .chain(during.iter().map(|r| (1, r)))
    {
        if let ReplayRecord::Command(c) = r {
            event_ids.insert(format!("command:{}", c.command_id));
        }
        for o in pipeline.feed(r) {
            match o {
                Output::Signal(s) => {
                    event_ids.insert(format!("signal:{}", s.signal_id));
                }
                Output::Payload(p) => {
                    event_ids.insert(format!("payload:{}", p.signal_id));
                }
                Output::Route(route) => {
                    event_ids.insert(format!("route:{}", route.route_id));
                    want.entry(route.payload.handoff_id.clone()).or_default().0 =
                        route.routing.team.clone();
                    routed_before += usize::from(phase == 0);
                }
                Output::Lifecycle(l) => {
                    event_ids.insert(format!("lifecycle:{}", l.lifecycle_id));
                    if l.accepted {
                        let state: &str = if l.transition == "flagged" {
                            "flagged"
                        } else {
                            l.to_state.as_str()
                        };
                        want.entry(l.handoff_id.clone()).or_default().1 = Some(state.into());
                    }
                }
                Output::Control(_) => {}
            }
        }
    }
    assert!(
        routed_before >= 3 && want.len() > routed_before,
        "handoffs on both sides of the outage"
    );
    assert!(want
        .values()
        .any(|w| w.1.as_deref() == Some(ControlState::Resolved.as_str())));

    let workers = start_all(&settings);
    produce_replay(&settings, &before).await?;
    collect_routed(&settings, routed_before, Duration::from_secs(120)).await?;
    let pool = PgPool::connect(&url).await?;
    eventually(Duration::from_secs(60), || {
        let pool = pool.clone();
        async move {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM handoffs WHERE team IS NOT NULL")
                .fetch_one(&pool)
                .await?;
            Ok((n as usize >= routed_before).then_some(()))
        }
    })
    .await
    .context("the first half in the audit store")?;
    let written_before: i64 = sqlx::query_scalar("SELECT count(*) FROM handoff_events")
        .fetch_one(&pool)
        .await?;
    pool.close().await;

    // The outage: Postgres stops while the pipeline keeps publishing.
    cluster.stop();
    let down_at = Instant::now();
    produce_replay(&settings, &during).await?;
    collect_routed(&settings, want.len(), Duration::from_secs(120)).await?;
    // Auto-commit may still flush offsets of batches written before the stop; after that the
    // group's position must stand still: nothing is consumed past what was written.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (frozen, _) = committed(&settings, &teams).await?;
    let left = OUTAGE.saturating_sub(down_at.elapsed());
    tokio::time::sleep(left.max(Duration::from_secs(5))).await;
    let (still, published) = committed(&settings, &teams).await?;
    assert_eq!(
        still, frozen,
        "the auditor committed offsets while Postgres was down"
    );
    assert!(
        published > frozen,
        "records were waiting for the auditor during the outage ({published} published, {frozen} committed)"
    );
    let down_for = down_at.elapsed();
    assert!(down_for >= OUTAGE, "the outage lasted {down_for:?}");
    cluster.start();
    eprintln!(
        "postgres was down for {down_for:?}; {written_before} events were stored before, {} records waited",
        published - frozen
    );

    // Everything arrives, once.
    let pool = PgPool::connect(&url).await?;
    let want_rows: Vec<(String, Option<String>, Option<String>)> = want
        .iter()
        .map(|(id, (team, state))| (id.clone(), Some(team.clone()), state.clone()))
        .collect();
    let mut rows: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        rows = sqlx::query_as("SELECT handoff_id, team, state FROM handoffs ORDER BY handoff_id")
            .fetch_all(&pool)
            .await?;
        if rows == want_rows {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        rows, want_rows,
        "handoffs (id, team, state) after the outage"
    );
    eventually(Duration::from_secs(60), || {
        let pool = pool.clone();
        let want_ids = event_ids.clone();
        async move {
            let ids: BTreeSet<String> = sqlx::query_scalar("SELECT event_id FROM handoff_events")
                .fetch_all(&pool)
                .await?
                .into_iter()
                .collect();
            Ok(want_ids.is_subset(&ids).then_some(()))
        }
    })
    .await
    .context("every event after the outage")?;
    stop_all(workers).await?;
    let outage_store = dump(&pool).await?;

    // The same topics into a fresh database without an outage: the same rows.
    let mut reference = settings.clone();
    reference.kafka.group_prefix = format!("{}.reference", settings.kafka.group_prefix);
    let reference_url = with_database(&mut reference).await?;
    let auditor = start(Worker::Auditor, &reference);
    let reference_pool = PgPool::connect(&reference_url).await?;
    let expected_events = outage_store.1.len() as i64;
    eventually(Duration::from_secs(120), || {
        let pool = reference_pool.clone();
        async move {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM handoff_events")
                .fetch_one(&pool)
                .await?;
            Ok((n >= expected_events).then_some(()))
        }
    })
    .await
    .context("the reference auditor")?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    auditor.stop().await?;
    let reference_store = dump(&reference_pool).await?;
    assert_eq!(
        outage_store.0, reference_store.0,
        "handoffs differ from a run without the outage"
    );
    assert_eq!(
        outage_store.1, reference_store.1,
        "handoff_events differ from a run without the outage"
    );
    pool.close().await;
    reference_pool.close().await;
    Ok(())
}
