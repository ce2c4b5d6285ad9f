//! The batch loop for workers that write outside Kafka (the auditor writes Postgres).
//!
//! Consume up to `batch_size` records or for `batch_linger_ms`, decode them, hand the batch to
//! the sink, which writes it in one transaction; only after that transaction commits (and any
//! dead letters are acknowledged) are the batch's offsets stored. A sink that fails transiently
//! (database down) gets the *same* batch again with capped exponential backoff, and nothing new
//! is consumed meanwhile: an outage delays the audit, it never loses or reorders it.
//!
//! Telemetry: each record gets an `audit` span, a child of the upstream span in its
//! `traceparent` header (so the audit closes the handoff's trace), linked to the `audit_batch`
//! span of the transaction that wrote it, and open until the batch's offsets are stored.

use crate::config::Settings;
use crate::dlq::{self, DeadLetter};
use crate::internal_events::{AuditBatchWritten, DeadLettered, EventReceived, RecordProduced};
use crate::telemetry;
use crate::worker::{
    commit_stored, flagged, retry_transient, supervise, Rejection, Restartable, Runtime,
    WorkerError,
};
use apache_avro::types::Value;
use rdkafka::consumer::Consumer;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tracing::field::Empty;
use tracing::{info, warn};
use tracing::{Instrument, Span};

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

struct SinkRun<S> {
    settings: Settings,
    sink: S,
}

impl<S: Sink> Restartable for SinkRun<S> {
    fn run_once(
        &mut self,
        stop: watch::Receiver<bool>,
        started: &mut bool,
        _attempt: u32,
    ) -> impl Future<Output = Result<(), WorkerError>> + Send {
        run_sink_once(
            self.settings.clone(),
            &mut self.sink,
            flagged(stop),
            started,
        )
    }
}

/// Runs a sink until `shutdown` resolves. A run that fails after it started (a dead letter
/// that cannot be delivered, the broker gone) is restarted in-process from the last committed
/// offsets (see [`crate::worker::supervise`]); a fatal sink error stops the worker.
pub async fn run_sink<S: Sink>(
    settings: Settings,
    sink: S,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), WorkerError> {
    let name = sink.name();
    supervise(name, shutdown, &mut SinkRun { settings, sink }).await
}

/// One run of the batch loop.
async fn run_sink_once<S: Sink>(
    settings: Settings,
    sink: &mut S,
    shutdown: impl Future<Output = ()> + Send,
    started: &mut bool,
) -> Result<(), WorkerError> {
    let name = sink.name();
    let batch_size = settings.database.batch_size.max(1);
    let linger = Duration::from_millis(settings.database.batch_linger_ms);
    tokio::pin!(shutdown);
    let rt = Arc::new(Runtime::new(settings)?);
    let inputs = sink.inputs();
    // As in a stage: a stop asked for while the broker is still answering ends start-up.
    tokio::select! {
        prepared = rt.prepare(&inputs, &[], None) => prepared?,
        _ = &mut shutdown => {
            info!(worker = name, "shutdown requested during start-up");
            return Ok(());
        }
    }
    let consumer = rt.consumer(name)?;
    let subs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    consumer.subscribe(&subs)?;
    *started = true;
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
                    EventReceived {
                        worker: name,
                        topic: m.topic(),
                    }
                    .emit();
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

        // One span per record, parented to its upstream span, linked to the batch's.
        let batch_span =
            tracing::info_span!(parent: None, "audit_batch", worker = name, records = raws.len());
        let spans: Vec<Span> = raws
            .iter()
            .map(|raw| audit_span(name, raw, &batch_span))
            .collect();

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
                    record_handoff_id(&spans[i], &value);
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
        let started = Instant::now();
        let rejected = loop {
            match sink.write(&batch).instrument(batch_span.clone()).await {
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
                    break 'outer Err(WorkerError::Fatal(format!("sink failed: {e}")))
                }
            }
        };
        AuditBatchWritten {
            worker: name,
            records: batch.len(),
            rejected: rejected.len(),
            elapsed: started.elapsed(),
        }
        .emit();
        for (idx, why) in rejected {
            dead.push((origin[idx], DeadLetter::new(why.kind, why.message)));
        }

        // Dead letters must be acknowledged before their offsets are stored.
        let mut deliveries = Vec::new();
        for (i, d) in &dead {
            let raw = &raws[*i];
            DeadLettered {
                worker: name,
                kind: d.kind,
                error: &d.message,
                topic: &raw.topic,
                partition: raw.partition,
                offset: raw.offset,
            }
            .emit();
            let headers = dlq::headers(
                telemetry::headers_for(Some(&raw.headers), &spans[*i]),
                d,
                &raw.topic,
                raw.partition,
                raw.offset,
                name,
            );
            let limit = rt.settings.kafka.max_message_bytes;
            let headers = dlq::mark_truncated(headers, raw.payload.as_deref(), limit);
            let value = dlq::value_within(raw.payload.as_deref(), limit);
            deliveries.push((
                Instant::now(),
                rt.send(&dlq_topic, raw.key.as_deref(), value, headers)
                    .await?,
            ));
        }
        for (sent_at, d) in deliveries {
            match d.await {
                Ok(Ok(_)) => RecordProduced {
                    worker: name,
                    topic: &dlq_topic,
                    latency: sent_at.elapsed(),
                }
                .emit(),
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
        drop(spans);
        if shut {
            break Ok(());
        }
    };

    commit_stored(&consumer, name, "final commit");
    info!(worker = name, ok = result.is_ok(), "sink stopped");
    result
}

/// The `audit` span of one consumed record: a child of the span that produced it.
fn audit_span(worker: &'static str, raw: &Raw, batch: &Span) -> Span {
    let span = tracing::info_span!(
        parent: None,
        "audit",
        worker,
        topic = %raw.topic,
        partition = raw.partition,
        offset = raw.offset,
        conversation_id = Empty,
        handoff_id = Empty,
    );
    if span.is_disabled() {
        return span;
    }
    telemetry::parent_from(&span, Some(&raw.headers));
    span.follows_from(batch);
    // Every record is keyed by its conversation id.
    if let Some(key) = raw.key.as_deref().and_then(|k| std::str::from_utf8(k).ok()) {
        span.record("conversation_id", key);
    }
    span
}

/// Records the handoff id of a decoded record on its span.
fn record_handoff_id(span: &Span, value: &Value) {
    if span.is_disabled() {
        return;
    }
    if let Some(h) = handoff_id_of(value) {
        span.record("handoff_id", h);
    }
}

/// The handoff id of a decoded record: top level, or in a routed handoff's payload.
fn handoff_id_of(value: &Value) -> Option<&str> {
    fn string_field<'a>(fields: &'a [(String, Value)], name: &str) -> Option<&'a str> {
        match fields.iter().find(|(n, _)| n == name).map(|(_, v)| v) {
            Some(Value::String(s)) => Some(s),
            Some(Value::Union(_, inner)) => match inner.as_ref() {
                Value::String(s) => Some(s),
                _ => None,
            },
            _ => None,
        }
    }
    let Value::Record(fields) = value else {
        return None;
    };
    string_field(fields, "handoff_id").or_else(|| {
        match fields.iter().find(|(n, _)| n == "payload").map(|(_, v)| v) {
            Some(Value::Record(p)) => string_field(p, "handoff_id"),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handoff_ids_are_found_at_the_top_or_in_the_payload() {
        let top = Value::Record(vec![("handoff_id".into(), Value::String("h-1".into()))]);
        assert_eq!(handoff_id_of(&top), Some("h-1"));
        let routed = Value::Record(vec![(
            "payload".into(),
            Value::Record(vec![("handoff_id".into(), Value::String("h-2".into()))]),
        )]);
        assert_eq!(handoff_id_of(&routed), Some("h-2"));
        let optional = Value::Record(vec![(
            "handoff_id".into(),
            Value::Union(1, Box::new(Value::String("h-3".into()))),
        )]);
        assert_eq!(handoff_id_of(&optional), Some("h-3"));
        let absent = Value::Record(vec![(
            "handoff_id".into(),
            Value::Union(0, Box::new(Value::Null)),
        )]);
        assert_eq!(handoff_id_of(&absent), None);
        assert_eq!(handoff_id_of(&Value::Null), None);
    }
}
