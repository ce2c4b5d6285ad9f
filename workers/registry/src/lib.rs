//! A small development schema registry for handoff.
//!
//! It serves the part of the Confluent Schema Registry REST API that `schema_registry_converter`
//! and our workers use — registering and looking up Avro schemas by subject, fetching them by
//! global id, compatibility checks and configuration, soft/hard deletes — so local runs and
//! integration tests need no JVM. State lives in one JSON file that is rewritten atomically on
//! every change, so schema ids stay stable across restarts. It is deliberately simple (one
//! mutex, Avro only, no schema references, no auth) and is **not** meant for production, where
//! Confluent SR, Karapace, Apicurio or Redpanda take its place behind the same API.
//!
//! Layout: [`store`] holds and persists the state, [`compat`] implements compatibility levels
//! on top of apache-avro's schema resolution rules, [`api`] maps HTTP onto the store, and
//! [`error`] maps failures onto Confluent's `error_code`s.

pub mod api;
pub mod compat;
pub mod error;
pub mod schema;
pub mod store;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

pub use api::app;
pub use store::Store;

/// Serves the registry on `listener` with state persisted at `store_path` until `shutdown`
/// resolves, then finishes in-flight requests and returns.
///
/// Taking a bound listener (rather than an address) lets tests bind `127.0.0.1:0` and learn the
/// port before the server starts.
pub async fn serve(
    listener: tokio::net::TcpListener,
    store_path: PathBuf,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = tokio::task::spawn_blocking(move || Store::open(store_path))
        .await
        .context("loading the schema registry state panicked")??;
    let address = listener
        .local_addr()
        .context("listener has no local address")?;
    tracing::info!(%address, data = %store.path().display(), "schema registry listening");
    axum::serve(listener, app(Arc::new(store)))
        .with_graceful_shutdown(shutdown)
        .await
        .context("schema registry server failed")?;
    tracing::info!("schema registry stopped");
    Ok(())
}
