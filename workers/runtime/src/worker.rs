//! The one consume → decode → handle → encode → produce → store-offset loop every
//! transforming worker (detector, builder, router) runs.
//!
//! Ordering and the at-least-once invariant:
//! - messages are handled one at a time in the order the consumer yields them, so a
//!   conversation's records (one key, one partition) are handled in order;
//! - each message's outputs are handed to the producer without waiting (a bounded window of
//!   in-flight deliveries gives back-pressure), and the message is queued, in order, to the
//!   *acker*;
//! - the acker awaits each message's deliveries in that same order and only then stores the
//!   message's offset. Because the queue is FIFO, storing offset `o` means everything before `o`
//!   on that partition was acknowledged too. Auto-commit flushes stored offsets; shutdown commits
//!   them synchronously.
//! - a delivery that fails for good stops the worker *without* storing the offset: it restarts
//!   from the last committed offset and redoes the work (deterministic ids make the redo
//!   harmless).
//!
//! Input that cannot be decoded or is refused by the stage goes to the dead-letter topic with
//! the original bytes and the reason in headers; its offset is stored once the DLQ write is
//! acknowledged, so nothing is skipped silently and the worker never stops for bad input.

use crate::codec::{AvroRecord, Codec, CodecError};
use crate::config::Settings;
use crate::dlq::{self, DeadLetter};
use crate::kafka;
use apache_avro::types::Value;
use handoff_core::records::*;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tracing::{debug, error, info, warn};

/// A record a stage publishes.
#[derive(Debug, Clone)]
pub enum OutRecord {
    Event(ConversationEvent),
    Command(OperatorCommand),
    Signal(StopSignal),
    Payload(HandoffPayload),
    Routed(RoutedHandoff),
    Control(AgentControl),
    Lifecycle(LifecycleEvent),
}

/// One output: where it goes, its key (the conversation id), and the record.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub topic: String,
    pub key: String,
    pub record: OutRecord,
}

/// The consumed message as a stage sees it.
pub struct Incoming<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub value: &'a Value,
}

/// Why a stage refused a well-formed record; it goes to the DLQ with this reason.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Rejection {
    pub kind: &'static str,
    pub message: String,
}

impl Rejection {
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Rejection {
            kind,
            message: message.into(),
        }
    }
}

/// Reads a decoded Avro value as the record `T`, or a rejection naming what is wrong.
pub fn typed<T: AvroRecord>(value: &Value) -> Result<T, Rejection> {
    apache_avro::from_value::<T>(value)
        .map_err(|e| Rejection::new("schema_mismatch", format!("not a {}: {e}", T::NAME)))
}

/// A transforming stage: pure handling of one decoded record.
pub trait Stage: Send + 'static {
    /// The worker's name (consumer group `<group_prefix>.<name>`, log field).
    fn name(&self) -> &'static str;
    /// Topics to subscribe to (a leading `^` makes a pattern).
    fn inputs(&self) -> Vec<String>;
    /// Topics this stage writes, with the schema text to register under `<topic>-value`.
    fn outputs(&self) -> Vec<(String, &'static str)>;
    /// Handles one record. Must be deterministic in its input (and the stage's own state).
    fn handle(&mut self, msg: &Incoming<'_>) -> Result<Vec<Outgoing>, Rejection>;
}

/// What was sent for one consumed message, awaiting acknowledgement.
struct Pending {
    topic: String,
    partition: i32,
    offset: i64,
    deliveries: Vec<DeliveryFuture>,
}

/// Everything a running worker shares.
pub struct Runtime {
    pub settings: Settings,
    pub codec: Arc<Codec>,
    pub producer: FutureProducer,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("start-up failed: {0}")]
    Startup(String),
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("a delivery to {topic} failed for good ({error}); offsets were not stored past it")]
    Delivery { topic: String, error: String },
}

impl Runtime {
    pub fn new(settings: Settings) -> Result<Runtime, WorkerError> {
        let codec =
            Codec::new(&settings.registry).map_err(|e| WorkerError::Startup(e.to_string()))?;
        let producer: FutureProducer = kafka::producer_config(&settings.kafka)
            .create()
            .map_err(|e| WorkerError::Startup(format!("producer: {e}")))?;
        Ok(Runtime {
            settings,
            codec: Arc::new(codec),
            producer,
        })
    }

    /// Creates the topics a stage needs and registers its output schemas. An incompatible schema
    /// is a start-up error that names the subject.
    pub async fn prepare(
        &self,
        inputs: &[String],
        outputs: &[(String, &'static str)],
    ) -> Result<(), WorkerError> {
        let k = &self.settings.kafka;
        let topics = self.settings.topics();
        let mut specs: Vec<kafka::TopicSpec<'_>> = Vec::new();
        for t in inputs
            .iter()
            .filter(|t| !t.starts_with('^'))
            .chain(outputs.iter().map(|(t, _)| t))
        {
            if !specs.iter().any(|(n, _, _)| n == t) {
                let partitions = if topics.team_of(t).is_some() {
                    k.team_partitions
                } else {
                    k.partitions
                };
                specs.push((t.clone(), partitions, vec![]));
            }
        }
        specs.push((topics.dlq(), k.partitions, vec![]));
        kafka::ensure_topics(k, &specs)
            .await
            .map_err(|e| WorkerError::Startup(e.to_string()))?;
        for (topic, schema) in outputs {
            retry_transient(|| self.codec.register_text(topic, schema), None)
                .await
                .map_err(|e| WorkerError::Startup(e.to_string()))?;
        }
        Ok(())
    }

    pub fn consumer(&self, worker: &str) -> Result<StreamConsumer, WorkerError> {
        let group = format!("{}.{worker}", self.settings.kafka.group_prefix);
        kafka::consumer_config(&self.settings.kafka, &group)
            .create()
            .map_err(|e| WorkerError::Startup(format!("consumer: {e}")))
    }

    /// Encodes a record for its topic, waiting out registry outages.
    pub async fn encode(&self, out: &Outgoing) -> Result<Vec<u8>, CodecError> {
        let c = &self.codec;
        let t = out.topic.as_str();
        retry_transient(
            || async move {
                match &out.record {
                    OutRecord::Event(r) => c.encode(t, r).await,
                    OutRecord::Command(r) => c.encode(t, r).await,
                    OutRecord::Signal(r) => c.encode(t, r).await,
                    OutRecord::Payload(r) => c.encode(t, r).await,
                    OutRecord::Routed(r) => c.encode(t, r).await,
                    OutRecord::Control(r) => c.encode(t, r).await,
                    OutRecord::Lifecycle(r) => c.encode(t, r).await,
                }
            },
            None,
        )
        .await
    }

    /// Hands one record to the producer, waiting while its queue is full.
    pub async fn send(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: OwnedHeaders,
    ) -> Result<DeliveryFuture, KafkaError> {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).headers(headers);
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(v) = value {
            record = record.payload(v);
        }
        loop {
            match self.producer.send_result(record) {
                Ok(f) => return Ok(f),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => return Err(e),
            }
        }
    }
}

/// Retries `f` while it fails transiently (registry down), with capped exponential backoff.
/// `shutdown` (when given) ends the wait early with the last error.
pub async fn retry_transient<T, F, Fut>(
    mut f: F,
    shutdown: Option<&watch::Receiver<bool>>,
) -> Result<T, CodecError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CodecError>>,
{
    let mut delay = Duration::from_millis(100);
    loop {
        match f().await {
            Err(e) if e.is_transient() => {
                if shutdown.is_some_and(|s| *s.borrow()) {
                    return Err(e);
                }
                warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "schema registry unavailable; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            other => return other,
        }
    }
}

fn copy_headers(msg: &BorrowedMessage<'_>) -> OwnedHeaders {
    let mut out = OwnedHeaders::new();
    if let Some(h) = msg.headers() {
        for header in h.iter() {
            out = out.insert(Header {
                key: header.key,
                value: header.value,
            });
        }
    }
    out
}

/// Runs a stage until `shutdown` resolves; then drains, commits and returns.
pub async fn run_stage<S: Stage>(
    settings: Settings,
    mut stage: S,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), WorkerError> {
    let name = stage.name();
    let rt = Arc::new(Runtime::new(settings)?);
    let inputs = stage.inputs();
    let outputs = stage.outputs();
    rt.prepare(&inputs, &outputs).await?;
    let consumer = Arc::new(rt.consumer(name)?);
    let subs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    consumer.subscribe(&subs)?;
    info!(worker = name, inputs = ?inputs, "worker started");

    let (ack_tx, ack_rx) = mpsc::channel::<Pending>(rt.settings.kafka.max_in_flight.max(1));
    let (fail_tx, mut fail_rx) = watch::channel::<Option<String>>(None);
    let acker = tokio::spawn(acker(consumer.clone(), ack_rx, fail_tx));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    let dlq_topic = rt.settings.topics().dlq();

    let result: Result<(), WorkerError> = loop {
        let msg = tokio::select! {
            biased;
            _ = &mut shutdown => break Ok(()),
            _ = fail_rx.changed() => {
                let why = fail_rx.borrow().clone().unwrap_or_default();
                break Err(WorkerError::Delivery { topic: String::new(), error: why });
            }
            m = consumer.recv() => m,
        };
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                warn!(worker = name, error = %e, "consumer error");
                continue;
            }
        };
        let pending = match process(&rt, &mut stage, &msg, &dlq_topic, &stop_rx).await {
            Ok(p) => p,
            Err(e) => break Err(e),
        };
        if ack_tx.send(pending).await.is_err() {
            break Err(WorkerError::Delivery {
                topic: String::new(),
                error: "acker stopped".into(),
            });
        }
    };
    let _ = stop_tx.send(true);

    // Drain: every queued message's deliveries are awaited and its offset stored, then committed.
    drop(ack_tx);
    let _ = acker.await;
    rt.producer.flush(Duration::from_secs(10)).ok();
    match consumer.commit_consumer_state(CommitMode::Sync) {
        Ok(()) => {}
        Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
        Err(e) => warn!(worker = name, error = %e, "final commit failed"),
    }
    info!(worker = name, ok = result.is_ok(), "worker stopped");
    result
}

/// Decodes, handles and sends one message's outputs (or its dead letter).
async fn process<S: Stage>(
    rt: &Runtime,
    stage: &mut S,
    msg: &BorrowedMessage<'_>,
    dlq_topic: &str,
    stop: &watch::Receiver<bool>,
) -> Result<Pending, WorkerError> {
    let (topic, partition, offset) = (msg.topic(), msg.partition(), msg.offset());
    let outcome: Result<Vec<(Outgoing, Vec<u8>)>, DeadLetter> = async {
        let value = match retry_transient(|| rt.codec.decode_value(msg.payload()), Some(stop)).await
        {
            Ok(v) => v,
            Err(e) if e.is_transient() => return Err(DeadLetter::transient(e.to_string())),
            Err(e) => return Err(DeadLetter::new("undecodable", e.to_string())),
        };
        let incoming = Incoming {
            topic,
            partition,
            offset,
            key: msg.key(),
            value: &value,
        };
        let outs = stage
            .handle(&incoming)
            .map_err(|r| DeadLetter::new(r.kind, r.message))?;
        let mut encoded = Vec::with_capacity(outs.len());
        for out in outs {
            let bytes = rt
                .encode(&out)
                .await
                .map_err(|e| DeadLetter::new("encode_failed", e.to_string()))?;
            if bytes.len() > rt.settings.kafka.max_message_bytes {
                return Err(DeadLetter::new(
                    "output_too_large",
                    format!(
                        "the {} record for {} would be {} bytes, over the {}-byte limit",
                        out_name(&out.record),
                        out.topic,
                        bytes.len(),
                        rt.settings.kafka.max_message_bytes
                    ),
                ));
            }
            encoded.push((out, bytes));
        }
        Ok(encoded)
    }
    .await;

    let mut deliveries = Vec::new();
    match outcome {
        Ok(encoded) => {
            for (out, bytes) in encoded {
                let f = rt
                    .send(
                        &out.topic,
                        Some(out.key.as_bytes()),
                        Some(&bytes),
                        copy_headers(msg),
                    )
                    .await?;
                deliveries.push(f);
            }
        }
        Err(dead) if dead.transient => {
            // Shutting down while the registry is away: leave the offset unstored.
            return Err(WorkerError::Startup(format!(
                "stopping during a registry outage: {}",
                dead.message
            )));
        }
        Err(dead) => {
            warn!(topic, partition, offset, kind = dead.kind, error = %dead.message, "dead-lettering input");
            let headers = dlq::headers(
                copy_headers(msg),
                &dead,
                topic,
                partition,
                offset,
                stage.name(),
            );
            let value = dlq::value_within(msg.payload(), rt.settings.kafka.max_message_bytes);
            deliveries.push(rt.send(dlq_topic, msg.key(), value, headers).await?);
        }
    }
    debug!(
        topic,
        partition,
        offset,
        outputs = deliveries.len(),
        "handled"
    );
    Ok(Pending {
        topic: topic.to_string(),
        partition,
        offset,
        deliveries,
    })
}

fn out_name(r: &OutRecord) -> &'static str {
    match r {
        OutRecord::Event(_) => "ConversationEvent",
        OutRecord::Command(_) => "OperatorCommand",
        OutRecord::Signal(_) => "StopSignal",
        OutRecord::Payload(_) => "HandoffPayload",
        OutRecord::Routed(_) => "RoutedHandoff",
        OutRecord::Control(_) => "AgentControl",
        OutRecord::Lifecycle(_) => "LifecycleEvent",
    }
}

/// Awaits deliveries in consumption order and stores offsets behind them.
async fn acker(
    consumer: Arc<StreamConsumer>,
    mut rx: mpsc::Receiver<Pending>,
    fail: watch::Sender<Option<String>>,
) {
    while let Some(p) = rx.recv().await {
        for d in p.deliveries {
            let failed = match d.await {
                Ok(Ok(_)) => None,
                Ok(Err((e, _))) => Some(e.to_string()),
                Err(_) => Some("delivery canceled (producer dropped)".to_string()),
            };
            if let Some(e) = failed {
                error!(topic = %p.topic, partition = p.partition, offset = p.offset, error = %e, "delivery failed; stopping without storing the offset");
                let _ = fail.send(Some(e));
                return;
            }
        }
        if let Err(e) = consumer.store_offset(&p.topic, p.partition, p.offset) {
            // The partition was revoked meanwhile: its new owner redoes the message.
            debug!(topic = %p.topic, partition = p.partition, offset = p.offset, error = %e, "offset not stored");
        }
    }
}
