//! A private tansu broker for tests that restart the broker or must not load the shared one:
//! the command line of infra/tansu.sh, on a free loopback port, with its own sqlite data
//! directory; stopped and deleted on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Our own tansu: started by [`Tansu::start`], killed and its data deleted on drop.
pub struct Tansu {
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
            let out = Command::new("sh")
                .args(["-c", "command -v tansu"])
                .output()
                .ok()?;
            let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            p.exists().then_some(p)
        })
        .expect("tansu installed (infra/tansu.sh install)")
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(300))
        .is_ok()
}

impl Tansu {
    pub fn create() -> Tansu {
        let dir =
            std::env::temp_dir().join(format!("handoff-tansu-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut t = Tansu {
            dir,
            port,
            child: None,
        };
        t.start();
        t
    }

    pub fn start(&mut self) {
        assert!(self.child.is_none());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("tansu.log"))
            .unwrap();
        let url = format!("tcp://127.0.0.1:{}", self.port);
        // As infra/tansu.sh: run from the data dir (sqlite paths resolve against it), without a
        // developer's SCHEMA_REGISTRY / CLUSTER_ID.
        let child = Command::new(tansu_bin())
            .current_dir(&self.dir)
            .env_remove("SCHEMA_REGISTRY")
            .env_remove("CLUSTER_ID")
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args([
                "--storage-engine",
                "sqlite://tansu.db?maintenance_interval=20s",
            ])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("starting tansu");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !port_open(self.port) {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {} within 60 s; see {}",
                self.port,
                self.dir.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the broker with SIGTERM (its clients see the connections drop).
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
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

    pub fn brokers(&self) -> String {
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
