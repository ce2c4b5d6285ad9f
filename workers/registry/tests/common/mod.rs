//! Runs the registry in-process on an ephemeral port for tests.

use std::path::Path;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A registry served on `127.0.0.1:<ephemeral>` until [`TestServer::stop`].
pub struct TestServer {
    /// e.g. `http://127.0.0.1:40123`, no trailing slash.
    pub base: String,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl TestServer {
    pub async fn start(data: &Path) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind ephemeral port");
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(handoff_registry::serve(
            listener,
            data.to_owned(),
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            base,
            shutdown,
            task,
        }
    }

    /// Shuts down gracefully and surfaces any server error.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        self.task
            .await
            .expect("server task panicked")
            .expect("server failed");
    }

    #[allow(dead_code)] // each test binary compiles this module; not all use every helper
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}
