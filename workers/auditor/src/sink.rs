//! The auditor as a [`Sink`]: decode each record by its topic, write the batch in one
//! transaction, report what does not belong.

use crate::record::AuditRecord;
use crate::store::{self, classify, ErrorClass, WriteOptions};
use handoff_runtime::sink::{Sink, SinkError, SinkRecord};
use handoff_runtime::topics::Topics;
use handoff_runtime::worker::Rejection;
use sqlx::PgPool;
use tracing::debug;

pub struct AuditSink {
    pub pool: PgPool,
    pub topics: Topics,
    pub options: WriteOptions,
}

impl AuditSink {
    pub fn new(pool: PgPool, topics: Topics, options: WriteOptions) -> Self {
        AuditSink {
            pool,
            topics,
            options,
        }
    }
}

/// A database error as the sink loop understands it.
pub fn sink_error(e: sqlx::Error) -> SinkError {
    match classify(&e) {
        ErrorClass::Transient => SinkError::Transient(e.to_string()),
        ErrorClass::Record | ErrorClass::Fatal => SinkError::Fatal(e.to_string()),
    }
}

impl Sink for AuditSink {
    fn name(&self) -> &'static str {
        "auditor"
    }

    fn inputs(&self) -> Vec<String> {
        let t = &self.topics;
        vec![
            t.signals(),
            t.payloads(),
            t.team_pattern(),
            t.lifecycle(),
            t.commands(),
        ]
    }

    async fn write(&mut self, batch: &[SinkRecord]) -> Result<Vec<(usize, Rejection)>, SinkError> {
        let mut rejected = Vec::new();
        let mut records = Vec::with_capacity(batch.len());
        let mut origin = Vec::with_capacity(batch.len());
        for (i, rec) in batch.iter().enumerate() {
            match AuditRecord::decode(&self.topics, rec) {
                Ok(r) => {
                    records.push(r);
                    origin.push(i);
                }
                Err(why) => rejected.push((i, why)),
            }
        }
        let outcome = store::write_records(&self.pool, &records, &self.options)
            .await
            .map_err(sink_error)?;
        debug!(
            records = batch.len(),
            inserted = outcome.inserted,
            duplicates = outcome.duplicates,
            expired = outcome.expired,
            rejected = rejected.len() + outcome.rejected.len(),
            "audit batch written"
        );
        rejected.extend(
            outcome
                .rejected
                .into_iter()
                .map(|(i, why)| (origin[i], why)),
        );
        rejected.sort_by_key(|(i, _)| *i);
        Ok(rejected)
    }
}
