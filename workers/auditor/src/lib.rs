//! The auditor: records every decision and transition of the pipeline in Postgres.
//!
//! It consumes `handoff.signals`, `handoff.payloads`, every `handoff.team.*` topic,
//! `handoff.lifecycle` and `handoff.commands` through the runtime's batch loop
//! ([`handoff_runtime::sink::run_sink`]) and writes each batch in one transaction to two tables
//! (schema in `migrations/`, applied at start-up): `handoff_events`, append-only, one row per
//! logical record keyed by its deterministic id, and `handoffs`, the current state of each
//! handoff folded from those records. Writes are idempotent (replays change nothing) and do not
//! depend on the order the topics are read in; see [`store`] for the merge rules. Records that
//! are not the type their topic carries are refused and go to the DLQ; database outages are
//! retried with the same batch, so the audit is delayed, never lost.
//!
//! Layout: [`record`] decodes records and derives their event rows (with PII redaction),
//! [`store`] holds the SQL (batch writes, error classes, retention), [`sink`] plugs both into
//! the runtime, and [`run`] is the worker: connect (waiting for the database), migrate, run
//! the sink, purge old rows hourly when `database.retention_days` is set.

pub mod record;
pub mod sink;
pub mod store;

pub use record::{AuditBody, AuditRecord, Source};
pub use sink::AuditSink;
pub use store::{purge, write_records, WriteOptions, WriteOutcome};

use anyhow::Context;
use handoff_runtime::Settings;
use secrecy::ExposeSecret;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;
use tracing::{info, warn};

/// The audit schema (`workers/auditor/migrations`), embedded at compile time.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// How often the retention task runs.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(Duration::from_secs(10))
}

/// Connects once and applies the migrations (integration tests: one database per test).
pub async fn connect_and_migrate(url: &str) -> Result<PgPool, sqlx::Error> {
    let pool = pool_options(5).connect(url).await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// Connects, retrying with capped exponential backoff until the database answers (it may
/// start after the worker); every failure is logged. A malformed URL fails at once.
pub async fn connect_with_retry(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let options =
        PgConnectOptions::from_str(url).context("database.url is not a valid Postgres URL")?;
    let mut delay = Duration::from_millis(250);
    let mut attempt = 1u32;
    loop {
        match pool_options(max_connections)
            .connect_with(options.clone())
            .await
        {
            Ok(pool) => {
                info!(attempt, "connected to postgres");
                return Ok(pool);
            }
            Err(e) => {
                warn!(attempt, error = %e, retry_in_ms = delay.as_millis() as u64, "postgres not available; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
                attempt += 1;
            }
        }
    }
}

/// Applies the migrations, waiting out connection failures (another instance migrating
/// concurrently waits on sqlx's advisory lock).
async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    let mut delay = Duration::from_millis(250);
    loop {
        match MIGRATOR.run(pool).await {
            Ok(()) => return Ok(()),
            Err(sqlx::migrate::MigrateError::Execute(e))
                if store::classify(&e) == store::ErrorClass::Transient =>
            {
                warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "migration interrupted; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            Err(e) => return Err(e).context("applying the audit migrations"),
        }
    }
}

/// Deletes rows older than `days` now and then every hour, logging what it did.
async fn retention_loop(pool: PgPool, days: u32) {
    let mut tick = tokio::time::interval(RETENTION_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match purge(&pool, days).await {
            Ok(p) => info!(
                days,
                events = p.events,
                handoffs = p.handoffs,
                "retention purge done"
            ),
            Err(e) => warn!(days, error = %e, "retention purge failed; next try in an hour"),
        }
    }
}

/// Runs the auditor until `shutdown` resolves.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let db = settings.database.clone();
    let url = db.url.as_ref().context(
        "database.url is not set (HANDOFF_DATABASE__URL or [database] url in the config file)",
    )?;
    tokio::pin!(shutdown);

    let pool = tokio::select! {
        pool = connect_with_retry(url.expose_secret(), db.max_connections) => pool?,
        _ = &mut shutdown => {
            info!("shutdown requested before the database answered");
            return Ok(());
        }
    };
    tokio::select! {
        r = migrate(&pool) => r?,
        _ = &mut shutdown => return Ok(()),
    }
    info!(
        migrations = MIGRATOR.iter().count(),
        "audit schema up to date"
    );

    let retention = (db.retention_days > 0)
        .then(|| tokio::spawn(retention_loop(pool.clone(), db.retention_days)));
    let options = WriteOptions {
        redact_pii: db.redact_pii,
        retention_days: db.retention_days,
    };
    let sink = AuditSink::new(pool.clone(), settings.topics(), options);
    let result = handoff_runtime::sink::run_sink(settings, sink, shutdown).await;

    if let Some(task) = retention {
        task.abort();
    }
    pool.close().await;
    result.context("the audit sink stopped")
}
