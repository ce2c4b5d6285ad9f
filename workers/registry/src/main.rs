//! `schema-registry`: runs the development schema registry (see the `handoff_registry` crate).

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

/// Development schema registry speaking the Confluent REST API. Not for production.
#[derive(Debug, Parser)]
#[command(name = "schema-registry", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "REGISTRY_LISTEN", default_value = "127.0.0.1:18081")]
    listen: String,

    /// JSON file holding all registry state; created if missing.
    #[arg(long, env = "REGISTRY_DATA", default_value = "./schema-registry.json")]
    data: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    // First, before anything that can take time: a SIGTERM that arrives before its handler is
    // registered kills the process instead of stopping it.
    let stop = match stop_requested() {
        Ok(stop) => stop,
        Err(e) => {
            eprintln!("schema registry: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match run(args, stop).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Through the log (which infra scripts capture) and as one readable line, rather
            // than main's default Debug dump with a backtrace.
            tracing::error!("schema registry failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args, stop: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    handoff_registry::serve(listener, args.data, stop).await
}

/// Registers the ctrl-c and SIGTERM (what `docker stop` and process supervisors send) handlers
/// now, and returns what resolves when either arrives.
fn stop_requested() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = interrupt.recv() => {},
            }
            tracing::info!("shutdown requested");
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested");
    })
}
