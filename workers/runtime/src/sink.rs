//! The batch loop for workers that write outside Kafka (the auditor writes Postgres).
//!
//! Consume up to `batch_size` records or for `batch_linger_ms`, decode them, hand the batch to
//! the sink, which writes it in one transaction; only after that transaction commits (and any
//! dead letters are acknowledged) are the batch's offsets stored. A sink that fails transiently
//! (database down) gets the *same* batch again with capped exponential backoff, and nothing new
//! is consumed meanwhile: an outage delays the audit, it never loses or reorders it.

use crate::config::Settings;
use crate::dlq::{self, DeadLetter};
use crate::worker::{retry_transient, Rejection, Runtime, WorkerError};
use apache_avro::types::Value;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tracing::{info, warn};

/// One decoded record of a batch, with where it came from.
#[derive(Debug, Clone)]
pub struct SinkRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Worth retrying with the same batch (connection lost, database restarting).
    #[error("transient: {0}")]
    Transient(String),
    /// Retrying cannot help (a bug or a schema the sink does not know); the worker stops.
    #[error("fatal: {0}")]
    Fatal(String),
}

/// A batch writer.
pub trait Sink: Send + 'static {
    fn name(&self) -> &'static str;
    /// Topics to subscribe to (a leading `^` makes a pattern).
    fn inputs(&self) -> Vec<String>;
    /// Writes the batch atomically. Returns the records it refused (index and why) — they go to
    /// the DLQ after the write commits — or an error for the whole batch.
    fn write(
        &mut self,
        batch: &[SinkRecord],
    ) -> impl Future<Output = Result<Vec<(usize, Rejection)>, SinkError>> + Send;
}

struct Raw {
    topic: String,
    partition: i32,
    offset: i64,
    key: Option<Vec<u8>>,
    payload: Option<Vec<u8>>,
    headers: OwnedHeaders,
}

/// Runs a sink until `shutdown` resolves.
pub async fn run_sink<S: Sink>(
    settings: Settings,
    mut sink: S,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), WorkerError> {
    let name = sink.name();
    let batch_size = settings.database.batch_size.max(1);
    let linger = Duration::from_millis(settings.database.batch_linger_ms);
    let rt = Arc::new(Runtime::new(settings)?);
    let inputs = sink.inputs();
    rt.prepare(&inputs, &[], None).await?;
    let consumer = rt.consumer(name)?;
    let subs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    consumer.subscribe(&subs)?;
    let dlq_topic = rt.settings.topics().dlq();
    info!(worker = name, inputs = ?inputs, "sink started");

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut stop_rx_main = stop_rx.clone();
    let shutdown_task = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    tokio::pin!(shutdown_task);
    let mut shut = false;

    let result: Result<(), WorkerError> = 'outer: loop {
        // Collect a batch: wait for the first record, then take more until full or lingered.
        let mut raws: Vec<Raw> = Vec::new();
        let mut deadline: Option<Instant> = None;
        while raws.len() < batch_size {
            let wait = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            let next = tokio::select! {
                biased;
                _ = &mut shutdown_task, if !shut => { shut = true; break; }
                _ = stop_rx_main.changed() => break,
                r = tokio::time::timeout(wait, consumer.recv()) => r,
            };
            match next {
                Err(_) => break, // lingered long enough
                Ok(Err(e)) => warn!(worker = name, error = %e, "consumer error"),
                Ok(Ok(m)) => {
                    let mut headers = OwnedHeaders::new();
                    if let Some(h) = m.headers() {
                        for x in h.iter() {
                            headers = headers.insert(Header {
                                key: x.key,
                                value: x.value,
                            });
                        }
                    }
                    raws.push(Raw {
                        topic: m.topic().to_string(),
                        partition: m.partition(),
                        offset: m.offset(),
                        key: m.key().map(<[u8]>::to_vec),
                        payload: m.payload().map(<[u8]>::to_vec),
                        headers,
                    });
                    deadline.get_or_insert_with(|| Instant::now() + linger);
                }
            }
        }
        if raws.is_empty() {
            if shut || *stop_rx.borrow() {
                break Ok(());
            }
            continue;
        }

        // Decode; what cannot be decoded is dead-lettered.
        let mut batch = Vec::with_capacity(raws.len());
        let mut origin = Vec::with_capacity(raws.len());
        let mut dead: Vec<(usize, DeadLetter)> = Vec::new();
        for (i, raw) in raws.iter().enumerate() {
            match retry_transient(
                || rt.codec.decode_value(raw.payload.as_deref()),
                Some(&stop_rx),
            )
            .await
            {
                Ok(value) => {
                    batch.push(SinkRecord {
                        topic: raw.topic.clone(),
                        partition: raw.partition,
                        offset: raw.offset,
                        key: raw.key.clone(),
                        value,
                    });
                    origin.push(i);
                }
                Err(e) if e.is_transient() => break 'outer Ok(()), // stopping during an outage
                Err(e) => dead.push((i, DeadLetter::new("undecodable", e.to_string()))),
            }
        }

        // Write, retrying the same batch while the failure is transient.
        let mut delay = Duration::from_millis(200);
        let rejected = loop {
            match sink.write(&batch).await {
                Ok(rejected) => break rejected,
                Err(SinkError::Transient(e)) => {
                    if *stop_rx.borrow() {
                        break 'outer Ok(()); // offsets of this batch stay unstored
                    }
                    warn!(worker = name, error = %e, records = batch.len(), retry_in_ms = delay.as_millis() as u64, "sink write failed; retrying the same batch");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = &mut shutdown_task, if !shut => { shut = true; }
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(SinkError::Fatal(e)) => {
                    break 'outer Err(WorkerError::Startup(format!("sink failed: {e}")))
                }
            }
        };
        for (idx, why) in rejected {
            dead.push((origin[idx], DeadLetter::new(why.kind, why.message)));
        }

        // Dead letters must be acknowledged before their offsets are stored.
        let mut deliveries = Vec::new();
        for (i, d) in &dead {
            let raw = &raws[*i];
            warn!(topic = %raw.topic, partition = raw.partition, offset = raw.offset, kind = d.kind, error = %d.message, "dead-lettering input");
            let headers = dlq::headers(
                raw.headers.clone(),
                d,
                &raw.topic,
                raw.partition,
                raw.offset,
                name,
            );
            let value =
                dlq::value_within(raw.payload.as_deref(), rt.settings.kafka.max_message_bytes);
            deliveries.push(
                rt.send(&dlq_topic, raw.key.as_deref(), value, headers)
                    .await?,
            );
        }
        for d in deliveries {
            match d.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => {
                    break 'outer Err(WorkerError::Delivery {
                        topic: dlq_topic.clone(),
                        error: e.to_string(),
                    })
                }
                Err(_) => {
                    break 'outer Err(WorkerError::Delivery {
                        topic: dlq_topic.clone(),
                        error: "canceled".into(),
                    })
                }
            }
        }
        for raw in &raws {
            let _ = consumer.store_offset(&raw.topic, raw.partition, raw.offset);
        }
        if shut {
            break Ok(());
        }
    };

    match consumer.commit_consumer_state(CommitMode::Sync) {
        Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
        Err(e) => warn!(worker = name, error = %e, "final commit failed"),
    }
    info!(worker = name, ok = result.is_ok(), "sink stopped");
    result
}
