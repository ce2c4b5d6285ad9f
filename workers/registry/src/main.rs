//! `schema-registry`: runs the development schema registry (see the `handoff_registry` crate).

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
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Through the log (which infra scripts capture) and as one readable line, rather
            // than main's default Debug dump with a backtrace.
            tracing::error!("schema registry failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    handoff_registry::serve(listener, args.data, shutdown_signal()).await
}

/// Resolves on ctrl-c or SIGTERM (what `docker stop` and process supervisors send).
///
/// If a handler cannot be installed, that signal is simply not awaited: resolving instead
/// would shut the server down immediately.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
}
