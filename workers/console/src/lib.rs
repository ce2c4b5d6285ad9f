//! handoff-console: the operator console, an HTTP server over the audit store.
//!
//! It serves one static page (`page.html`, vanilla JS, no build step) and a JSON API under
//! `/api`. Reads come from the auditor's Postgres tables and views (`needs_attention`,
//! `handoffs`, `handoff_events`); actions are published as `OperatorCommand` records to
//! `handoff.commands` (operator replies as `ConversationEvent`s with actor `operator` to
//! `conversation.events`), exactly as any other upstream system would. The console never
//! changes state itself: a row leaves the queue when the detector's lifecycle event has come
//! back through the auditor.
//!
//! Layout: [`config`] (listen address, operators), [`auth`] (bearer tokens, team ownership),
//! [`store`] (the SQL), [`publish`] (Kafka, behind a trait for tests), [`api`] (the handlers
//! and their JSON errors), and [`run`], which wires them together.

pub mod api;
pub mod auth;
pub mod config;
pub mod publish;
pub mod store;

use anyhow::Context;
use handoff_core::Policy;
use handoff_runtime::Settings;
use secrecy::ExposeSecret;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use api::router;
pub use config::ConsoleSettings;

/// What every handler shares.
pub struct AppState {
    pub pool: PgPool,
    pub operators: auth::Operators,
    pub publisher: Box<dyn publish::Publisher>,
    pub policy: Policy,
}

/// A pool that connects on first use, so the console starts (and serves its page) while the
/// database is still coming up; requests answer 503 until it is there.
pub fn lazy_pool(settings: &Settings) -> anyhow::Result<PgPool> {
    let url = settings.database.url.as_ref().context(
        "database.url (HANDOFF_DATABASE__URL) is required: the console reads the audit store",
    )?;
    PgPoolOptions::new()
        .max_connections(settings.database.max_connections.max(1))
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy(url.expose_secret())
        .context("database.url is not a valid Postgres URL")
}

/// Runs the console until `shutdown` resolves.
pub async fn run(
    settings: Settings,
    console: ConsoleSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let operators = auth::Operators::new(&console.operators)?;
    if operators.is_empty() {
        tracing::warn!("no operators configured (console.operators / console.operators_file): every action will be refused");
    }
    let policy = settings.load_policy()?;
    let pool = lazy_pool(&settings)?;
    // Boxed so start-up can race it and the server can still own it afterwards.
    let mut shutdown = Box::pin(shutdown);
    let publisher = tokio::select! {
        p = publish::KafkaPublisher::new(&settings) => p.context("preparing the command and event topics")?,
        _ = &mut shutdown => {
            tracing::info!("shutdown requested during start-up");
            return Ok(());
        }
    };
    let state = Arc::new(AppState {
        pool,
        operators,
        publisher: Box::new(publisher),
        policy,
    });
    let listener = tokio::net::TcpListener::bind(&console.listen)
        .await
        .with_context(|| format!("binding console.listen {}", console.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, operators = state.operators.len(), "console listening");
    println!("console: http://{addr}/");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
