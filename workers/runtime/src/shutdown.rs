//! Stopping cleanly on SIGTERM or Ctrl-C, in every phase of a worker's life.
//!
//! Why eagerly: a signal that arrives before its handler is registered gets the default action,
//! and the process dies by signal 15 instead of exiting 0. A rolling update or a scale-down
//! sends SIGTERM to pods that are still starting (loading the policy, reaching the broker,
//! creating topics, restoring state), so every binary calls [`Shutdown::install`] first thing
//! in `main`, and every start-up step that waits on the network races [`Shutdown::wait`].

use std::future::Future;
use tokio::sync::watch;

/// A request to stop: set once by SIGTERM or SIGINT, seen by every clone.
#[derive(Debug, Clone)]
pub struct Shutdown {
    requested: watch::Receiver<bool>,
}

impl Shutdown {
    /// Registers the SIGTERM and SIGINT handlers now, not when first awaited, and returns the
    /// request every phase waits on. Must run inside a Tokio runtime. Tokio never unregisters
    /// a handler, so a second signal is absorbed too: the drain that follows the first one is
    /// not cut short.
    pub fn install() -> std::io::Result<Shutdown> {
        let (tx, requested) = watch::channel(false);
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut term = signal(SignalKind::terminate())?;
            let mut interrupt = signal(SignalKind::interrupt())?;
            tokio::spawn(async move {
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = interrupt.recv() => "SIGINT",
                };
                tracing::info!(signal = name, "shutdown requested");
                let _ = tx.send(true);
            });
        }
        #[cfg(not(unix))]
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                tracing::info!(signal = "ctrl-c", "shutdown requested");
                let _ = tx.send(true);
            }
        });
        Ok(Shutdown { requested })
    }

    /// Whether a stop was asked for.
    pub fn requested(&self) -> bool {
        *self.requested.borrow()
    }

    /// Resolves once a stop is asked for (at once if it already was).
    pub fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut requested = self.requested.clone();
        async move {
            // An error means the listener is gone without a request: never resolve then,
            // since resolving would stop a healthy worker.
            if requested.wait_for(|r| *r).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_sigterm_before_anyone_waits_is_kept_and_seen_by_every_clone() {
        let shutdown = Shutdown::install().unwrap();
        let late = shutdown.clone();
        assert!(!shutdown.requested());
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        tokio::time::timeout(Duration::from_secs(10), shutdown.wait())
            .await
            .expect("the request is seen");
        assert!(late.requested(), "a clone made before the signal sees it");
        tokio::time::timeout(Duration::from_secs(1), late.wait())
            .await
            .expect("waiting after the fact resolves at once");
    }
}
