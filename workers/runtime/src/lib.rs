//! handoff-runtime: what every worker shares and no decision logic needs.
//!
//! - [`config`]: typed settings (defaults, file, `HANDOFF_*` environment), secrets wrapped.
//! - [`codec`]: Avro in the Confluent wire format through the schema registry.
//! - [`kafka`]: client configuration and topic creation.
//! - [`worker`]: the single consume → decode → handle → encode → produce → store-offset loop.
//! - [`changelog`]: restoring a stage's state from its compacted changelog topic.
//! - [`sink`]: the batch loop for workers that write elsewhere (the auditor).
//! - [`dlq`]: dead letters with the reason in headers.
//! - [`telemetry`]: logs, spans exported over OTLP, the trace context in Kafka headers;
//!   [`metrics`] and [`internal_events`]: the Prometheus endpoint and what updates it.
//! - [`shutdown`]: SIGTERM and Ctrl-C, registered first thing, honoured in every phase.
//! - [`publish`]: producing replay records to the input topics, as upstream systems do.
//! - [`topics`]: topic names.

pub mod changelog;
pub mod codec;
pub mod config;
pub mod dlq;
pub mod internal_events;
pub mod kafka;
pub mod metrics;
pub mod publish;
pub mod shutdown;
pub mod sink;
pub mod telemetry;
pub mod topics;
pub mod worker;

pub use config::Settings;
pub use shutdown::Shutdown;
pub use worker::{run_stage, Incoming, OutRecord, Outgoing, Rejection, Stage};
