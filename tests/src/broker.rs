//! A private Apache Kafka for tests that restart the broker or must not load the shared one:
//! `infra/kafka.sh` with `HANDOFF_KAFKA_DIR` set (its data, config, pid file and log in a
//! directory of its own) on free loopback ports; stopped and deleted on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Our own broker: started by [`Kafka::create`], stopped and its data deleted on drop.
pub struct Kafka {
    dir: PathBuf,
    port: u16,
    sasl_port: u16,
    controller_port: u16,
    running: bool,
}

/// Three distinct free loopback ports (plaintext, SASL_SSL, controller), held together while
/// they are chosen so they differ.
fn free_ports() -> (u16, u16, u16) {
    let listeners: Vec<_> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let port = |i: usize| listeners[i].local_addr().unwrap().port();
    (port(0), port(1), port(2))
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/kafka.sh")
}

impl Kafka {
    pub fn create() -> Kafka {
        let dir =
            std::env::temp_dir().join(format!("handoff-kafka-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let (port, sasl_port, controller_port) = free_ports();
        let mut k = Kafka {
            dir,
            port,
            sasl_port,
            controller_port,
            running: false,
        };
        k.start();
        k
    }

    /// `infra/kafka.sh ACTION` for this broker; panics with the script's output if it fails.
    fn run_script(&self, action: &str) {
        let out = Command::new("bash")
            .arg(script())
            .arg(action)
            .env("HANDOFF_KAFKA_DIR", &self.dir)
            .env("HANDOFF_KAFKA_PORT", self.port.to_string())
            .env("HANDOFF_KAFKA_SASL_PORT", self.sasl_port.to_string())
            .env(
                "HANDOFF_KAFKA_CONTROLLER_PORT",
                self.controller_port.to_string(),
            )
            // Tests may run a few of these beside the shared broker on 2 cores / 24 GB.
            .env("HANDOFF_KAFKA_HEAP", "512m")
            .output()
            .expect("running infra/kafka.sh");
        assert!(
            out.status.success(),
            "infra/kafka.sh {action} failed for the private broker in {}:\n{}{}",
            self.dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the broker (formatting its storage the first time) and returns once it serves.
    pub fn start(&mut self) {
        assert!(!self.running);
        self.run_script("start");
        self.running = true;
    }

    /// Stops the broker with SIGTERM (its clients see the connections drop); the data stays.
    pub fn stop(&mut self) {
        assert!(self.running);
        self.run_script("stop");
        self.running = false;
    }

    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Kafka {
    fn drop(&mut self) {
        if self.running {
            let _ = Command::new("bash")
                .arg(script())
                .arg("stop")
                .env("HANDOFF_KAFKA_DIR", &self.dir)
                .env("HANDOFF_KAFKA_PORT", self.port.to_string())
                .env("HANDOFF_KAFKA_SASL_PORT", self.sasl_port.to_string())
                .env(
                    "HANDOFF_KAFKA_CONTROLLER_PORT",
                    self.controller_port.to_string(),
                )
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
