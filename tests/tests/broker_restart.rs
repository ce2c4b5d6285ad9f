//! A broker restart mid-run loses nothing: the workers (as processes) ride out a broker that
//! stops and starts again on its durable sqlite storage, reconnect, and carry on; the run ends
//! equal to the offline pipeline's (every handoff once in the audit, on its team topic, every
//! signal id once, the detector's state as a fault-free run's).
//!
//! The broker is private: a tansu of our own on a free loopback port with its own data
//! directory (the command line of infra/tansu.sh), so the shared broker other tests use is never
//! touched. The schema registry and Postgres are the shared ones (neither depends on the broker).

use handoff_core::pipeline::Pipeline;
use handoff_runtime::publish::produce_replay;
use handoff_tests::load::*;
use handoff_tests::*;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Our own tansu: started by [`Tansu::start`], killed and its data deleted on drop.
struct Tansu {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

fn tansu_bin() -> PathBuf {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let candidates = [PathBuf::from(&home).join(".cargo/bin/tansu")];
    candidates
        .into_iter()
        .find(|p| p.exists())
        .or_else(|| {
            let out = Command::new("sh").args(["-c", "command -v tansu"]).output().ok()?;
            let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            p.exists().then_some(p)
        })
        .expect("tansu installed (infra/tansu.sh install)")
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(300)).is_ok()
}

impl Tansu {
    fn create() -> Tansu {
        let dir = std::env::temp_dir().join(format!("handoff-tansu-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut t = Tansu { dir, port, child: None };
        t.start();
        t
    }

    fn start(&mut self) {
        assert!(self.child.is_none());
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("tansu.log")).unwrap();
        let url = format!("tcp://127.0.0.1:{}", self.port);
        // As infra/tansu.sh: run from the data dir (sqlite paths resolve against it), without a
        // developer's SCHEMA_REGISTRY / CLUSTER_ID.
        let child = Command::new(tansu_bin())
            .current_dir(&self.dir)
            .env_remove("SCHEMA_REGISTRY")
            .env_remove("CLUSTER_ID")
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "sqlite://tansu.db?maintenance_interval=20s"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("starting tansu");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !port_open(self.port) {
            assert!(Instant::now() < deadline, "tansu did not listen on {} within 60 s; see {}", self.port, self.dir.display());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the broker with SIGTERM (its clients see the connections drop).
    fn stop(&mut self) {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        while port_open(self.port) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// How long the broker stays down.
const OUTAGE: Duration = Duration::from_secs(8);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_mid_run_loses_nothing() -> anyhow::Result<()> {
    let started = Instant::now();
    let mut broker = Tansu::create();
    let mut settings = test_settings("brokerrestart");
    settings.kafka.brokers = broker.brokers();
    let db_url = with_database(&mut settings).await?;
    let dir = std::env::temp_dir().join(format!("handoff-brokerrestart-{}", uuid::Uuid::new_v4().simple()));
    let (policy_path, policy) = long_sla_policy(&dir);
    let env = reliability_env(&settings, &dir, &policy_path);
    let log = repo_root().join(format!(".run/logs/test-{}workers.log", settings.kafka.topic_prefix));
    std::fs::create_dir_all(log.parent().unwrap())?;

    let events = generate("br-", 200, 14, 11);
    let mut want = Expected::default();
    let mut pipeline = Pipeline::new(&policy).without_sla_clock();
    want.feed(&mut pipeline, &events);
    let (first, second) = events.split_at(events.len() / 2);

    let workers: Vec<Process> = ["detector", "builder", "router", "auditor"].iter().map(|w| spawn_env(w, &env, &log)).collect();
    produce_replay(&settings, first).await?;
    // Some of the first half is done, some in flight: stop the broker.
    let t = settings.topics();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (done, _) = group_position(&settings, "detector", &[t.events()]).await?;
        if done > 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (done, high) = group_position(&settings, "auditor", &[t.signals(), t.payloads(), t.lifecycle()]).await?;
    eprintln!("[broker] stopping the broker; the auditor has {} records to go", high - done);
    broker.stop();
    let down = Instant::now();
    // Upstream keeps publishing while the broker is away (the producer buffers and retries).
    let producing = {
        let settings = settings.clone();
        let second = second.to_vec();
        tokio::spawn(async move { produce_replay(&settings, &second).await })
    };
    tokio::time::sleep(OUTAGE).await;
    broker.start();
    eprintln!("[broker] broker back after {:?}", down.elapsed());
    producing.await??;

    let report = verify(&settings, &db_url, &policy, &want, Duration::from_secs(240)).await?;
    report.print("broker");
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
        assert!(p.child.try_wait()?.is_none(), "{name} is still running after the broker restart");
        assert!(p.terminate().success(), "{name} exits cleanly");
    }
    assert!(report.ok(), "{report:#?}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
