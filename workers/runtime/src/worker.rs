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
//!
//! Telemetry: each message is handled in a `handle` span (worker, topic, partition, offset,
//! conversation_id, handoff_id, rule_ids, decision) whose parent is the trace context in the
//! message's `traceparent` header; every record produced for it carries that span's context in
//! its own `traceparent` (see [`crate::telemetry`]). Counters and the produce latency are
//! updated through [`crate::internal_events`].

use crate::codec::{AvroRecord, Codec, CodecError};
use crate::config::Settings;
use crate::dlq::{self, DeadLetter};
use crate::internal_events::{
    decision_name, rule_ids, ConsumerLag, DeadLettered, DecisionMade, EventReceived, RecordProduced,
};
use crate::kafka;
use crate::telemetry;
use apache_avro::types::Value;
use handoff_core::detect::ConversationState;
use handoff_core::records::*;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tracing::field::Empty;
use tracing::{debug, error, info, warn, Instrument, Span};

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
    /// A changelog snapshot of one conversation's detector state.
    State(Box<ConversationState>),
    /// Deletes the key from a compacted topic (no value).
    Tombstone,
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

    /// Records to publish for the message just handled, but only once everything `handle`
    /// returned for it is acknowledged: the state changelog. A restored state then never claims
    /// work whose outputs were lost in a crash (the input is redone instead).
    fn changelog(&mut self) -> Vec<Outgoing> {
        Vec::new()
    }

    /// Called about once a second with the wall clock (deadlines, eviction).
    fn tick(&mut self, _now: chrono::DateTime<chrono::Utc>) -> Vec<Outgoing> {
        Vec::new()
    }

    /// The compacted changelog topic this stage keeps its state in, if any. Its partitions are
    /// read back into the stage (`restore`) whenever the matching input partitions are assigned.
    fn state_topic(&self) -> Option<String> {
        None
    }

    /// One changelog record read back: the latest value per key wins, `None` deletes.
    fn restore(
        &mut self,
        _partition: i32,
        _key: &str,
        _value: Option<&Value>,
    ) -> Result<(), Rejection> {
        Ok(())
    }

    /// These partitions now belong to another instance: forget their state.
    fn revoke(&mut self, _partitions: &[i32]) {}

    /// The worker restarts after a failure: forget every partition's state (the next assignment
    /// restores it from the changelog, which never runs ahead of acknowledged outputs).
    fn forget(&mut self) {}
}

/// A record ready to send, encoded.
struct Encoded {
    topic: String,
    key: String,
    value: Option<Vec<u8>>,
}

/// A record handed to the producer: where it went, when, and its acknowledgement.
pub(crate) struct Sent {
    topic: String,
    at: Instant,
    delivery: DeliveryFuture,
}

impl Sent {
    pub(crate) fn new(topic: &str, delivery: DeliveryFuture) -> Sent {
        Sent {
            topic: topic.to_string(),
            at: Instant::now(),
            delivery,
        }
    }
}

/// What was sent for one consumed message (or a tick), awaiting acknowledgement.
struct Pending {
    /// `(topic, partition, offset)` of the input; `None` for tick outputs.
    source: Option<(String, i32, i64)>,
    deliveries: Vec<Sent>,
    /// Sent once `deliveries` are acknowledged (the changelog).
    after: Vec<Encoded>,
}

/// The changelog sends of a run of messages, awaiting acknowledgement before their offsets are
/// stored.
struct AfterPending {
    sources: Vec<(String, i32, i64)>,
    deliveries: Vec<Sent>,
    /// Set on the run that answers a flush request: told once these offsets are stored.
    flushed: Option<Flush>,
}

/// A request to the acker to send the changelog of everything queued so far now (not after the
/// linger), and to report on the sender once those writes are acknowledged and the offsets behind
/// them stored. See [`Rebalances::pre_rebalance`].
type Flush = std::sync::mpsc::SyncSender<()>;

/// How long a revoke waits for the pending changelog writes before giving the partitions up
/// anyway.
const REVOKE_FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// How the acker gathers messages into one round of changelog sends: for up to `linger` after
/// the first (or only those already queued, when zero), at most `max` messages.
#[derive(Clone, Copy)]
struct Coalesce {
    linger: Duration,
    max: usize,
}

/// Keeps the last record per `(topic, key)`, in the order of those last records: on a compacted
/// changelog an earlier record for a key is superseded by the later one anyway.
fn last_per_key(records: Vec<Encoded>) -> Vec<Encoded> {
    if records.len() < 2 {
        return records;
    }
    let mut seen = std::collections::HashSet::with_capacity(records.len());
    let mut out: Vec<Encoded> = records
        .into_iter()
        .rev()
        .filter(|e| seen.insert((e.topic.clone(), e.key.clone())))
        .collect();
    out.reverse();
    out
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
    /// Restarting cannot help (a sink refusing a batch for good).
    #[error("{0}")]
    Fatal(String),
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
        compacted: Option<&str>,
    ) -> Result<(), WorkerError> {
        let k = &self.settings.kafka;
        kafka::check_connection(k)
            .await
            .map_err(|e| WorkerError::Startup(e.to_string()))?;
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
                let config = if Some(t.as_str()) == compacted {
                    vec![("cleanup.policy", "compact")]
                } else {
                    vec![]
                };
                specs.push((t.clone(), partitions, config));
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

    /// The worker's group consumer. Range assignment keeps co-partitioned inputs together: an
    /// instance gets the same partition numbers of every input topic. Its librdkafka statistics
    /// feed the consumer-lag gauge.
    pub fn consumer(
        &self,
        worker: &'static str,
    ) -> Result<StreamConsumer<Rebalances>, WorkerError> {
        let group = format!("{}.{worker}", self.settings.kafka.group_prefix);
        let mut config = kafka::consumer_config(&self.settings.kafka, &group);
        config.set("partition.assignment.strategy", "range");
        let stats_ms = self.settings.telemetry.kafka_stats_interval_ms;
        if stats_ms > 0
            && !self
                .settings
                .kafka
                .options
                .contains_key("statistics.interval.ms")
        {
            config.set("statistics.interval.ms", stats_ms.to_string());
        }
        config
            .create_with_context(Rebalances::new(worker))
            .map_err(|e| WorkerError::Startup(format!("consumer: {e}")))
    }

    /// Encodes a record for its topic, waiting out registry outages. A tombstone has no value.
    pub async fn encode(&self, out: &Outgoing) -> Result<Option<Vec<u8>>, CodecError> {
        let c = &self.codec;
        let t = out.topic.as_str();
        if matches!(out.record, OutRecord::Tombstone) {
            return Ok(None);
        }
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
                    OutRecord::State(r) => c.encode(t, r.as_ref()).await,
                    OutRecord::Tombstone => unreachable!("handled above"),
                }
            },
            None,
        )
        .await
        .map(Some)
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

    /// Encodes outputs, refusing any over the size limit.
    async fn encode_all(&self, outs: Vec<Outgoing>) -> Result<Vec<Encoded>, DeadLetter> {
        let mut encoded = Vec::with_capacity(outs.len());
        for out in outs {
            let value = self
                .encode(&out)
                .await
                .map_err(|e| DeadLetter::new("encode_failed", e.to_string()))?;
            let size = value.as_ref().map_or(0, Vec::len);
            if size > self.settings.kafka.max_message_bytes {
                return Err(DeadLetter::new(
                    "output_too_large",
                    format!(
                        "the {} record for {} would be {size} bytes, over the {}-byte limit",
                        out_name(&out.record),
                        out.topic,
                        self.settings.kafka.max_message_bytes
                    ),
                ));
            }
            encoded.push(Encoded {
                topic: out.topic,
                key: out.key,
                value,
            });
        }
        Ok(encoded)
    }
}

/// Assignment changes seen by the consumer, taken by the processing loop before it handles the
/// next message (librdkafka calls back during `recv`, before any record of a new partition is
/// returned, so a partition's state is always restored before its first record is handled).
/// Also the receiver of the consumer's statistics (the consumer-lag gauge).
pub struct Rebalances {
    worker: &'static str,
    changes: std::sync::Mutex<Vec<Rebalanced>>,
    pending: std::sync::atomic::AtomicBool,
    /// Asks the acker for a flush; set while a stage with a state topic runs.
    flusher: std::sync::Mutex<Option<mpsc::UnboundedSender<Flush>>>,
}

#[derive(Debug, Clone)]
pub enum Rebalanced {
    Assigned(Vec<(String, i32)>),
    Revoked(Vec<(String, i32)>),
}

impl rdkafka::client::ClientContext for Rebalances {
    fn stats(&self, statistics: rdkafka::Statistics) {
        for (topic, t) in &statistics.topics {
            for (&partition, p) in &t.partitions {
                // -1 is librdkafka's internal unassigned partition; a lag of -1 is unknown
                // (not assigned here, or no position yet).
                if partition >= 0 && p.consumer_lag >= 0 {
                    ConsumerLag {
                        worker: self.worker,
                        topic,
                        partition,
                        lag: p.consumer_lag,
                    }
                    .emit();
                }
            }
        }
    }
}

impl rdkafka::consumer::ConsumerContext for Rebalances {
    /// Before partitions are given up (what Kafka Streams does in `onPartitionsRevoked`): the
    /// changelog writes the acker still holds for already handled records (up to
    /// `kafka.state_flush_ms` of them, plus those awaiting acknowledgement) are sent and
    /// acknowledged, the offsets behind them stored, and the stored offsets committed. Otherwise
    /// the old owner's last state for a conversation could land in the changelog after the new
    /// owner's first, and a later restore would read the stale one; and the new owner would
    /// redo records whose offsets were about to be stored.
    ///
    /// It has to happen in this callback and block it: librdkafka calls it from the consumer
    /// poll (inside the processing loop's `recv`, so no record is being handled meanwhile and
    /// every handled one is already queued to the acker), the partitions are still assigned
    /// (offsets can still be stored; after the unassign they cannot), and the group is re-joined
    /// (so the partitions handed to another member) only once it returns. Bounded by
    /// [`REVOKE_FLUSH_TIMEOUT`]; past it the partitions are given up as before.
    fn pre_rebalance(
        &self,
        base: &rdkafka::consumer::BaseConsumer<Self>,
        rebalance: &rdkafka::consumer::Rebalance<'_>,
    ) {
        let rdkafka::consumer::Rebalance::Revoke(tpl) = rebalance else {
            return;
        };
        let Some(flusher) = self.flusher.lock().expect("flusher lock").clone() else {
            return;
        };
        if tpl.count() == 0 {
            return;
        }
        let started = Instant::now();
        let outcome = flush_and_wait(&flusher, REVOKE_FLUSH_TIMEOUT);
        let worker = self.worker;
        match outcome {
            Flushed::Done => {
                // librdkafka also commits the stored offsets of unassigned partitions (with
                // auto-commit); committing here makes it done before the group moves on.
                blocking(|| commit_stored(base, worker, "commit before a revoke"));
                let elapsed_ms = started.elapsed().as_millis() as u64;
                info!(
                    worker,
                    partitions = tpl.count(),
                    elapsed_ms,
                    "state changelog flushed and offsets committed before a revoke"
                );
            }
            Flushed::TimedOut => warn!(
                worker,
                timeout_ms = REVOKE_FLUSH_TIMEOUT.as_millis() as u64,
                "state changelog not flushed in time before a revoke; giving the partitions up"
            ),
            // The run is over (shutting down: its drain flushed everything already), or failed
            // (its offsets stay unstored and the new owner redoes the work).
            Flushed::AckerGone => debug!(worker, "no acker to flush before a revoke"),
            Flushed::CannotWait => warn!(
                worker,
                "on a current-thread runtime a revoke cannot wait for the state changelog"
            ),
        }
    }

    fn post_rebalance(
        &self,
        _base: &rdkafka::consumer::BaseConsumer<Self>,
        rebalance: &rdkafka::consumer::Rebalance<'_>,
    ) {
        let list = |tpl: &rdkafka::TopicPartitionList| {
            tpl.elements()
                .iter()
                .map(|e| (e.topic().to_string(), e.partition()))
                .collect::<Vec<_>>()
        };
        let change = match rebalance {
            rdkafka::consumer::Rebalance::Assign(tpl) => Rebalanced::Assigned(list(tpl)),
            rdkafka::consumer::Rebalance::Revoke(tpl) => Rebalanced::Revoked(list(tpl)),
            rdkafka::consumer::Rebalance::Error(e) => {
                warn!(error = %e, "rebalance error");
                return;
            }
        };
        info!(?change, "partitions rebalanced");
        self.changes.lock().expect("rebalance lock").push(change);
        self.pending
            .store(true, std::sync::atomic::Ordering::Release);
    }
}

impl Rebalances {
    pub fn new(worker: &'static str) -> Rebalances {
        Rebalances {
            worker,
            changes: std::sync::Mutex::new(Vec::new()),
            pending: std::sync::atomic::AtomicBool::new(false),
            flusher: std::sync::Mutex::new(None),
        }
    }

    /// Makes a revoke flush the acker through `flusher` first (see `pre_rebalance`).
    fn flush_on_revoke(&self, flusher: mpsc::UnboundedSender<Flush>) {
        *self.flusher.lock().expect("flusher lock") = Some(flusher);
    }

    /// The changes since the last call (cheap when there are none).
    pub fn take(&self) -> Vec<Rebalanced> {
        if !self
            .pending
            .swap(false, std::sync::atomic::Ordering::AcqRel)
        {
            return Vec::new();
        }
        std::mem::take(&mut *self.changes.lock().expect("rebalance lock"))
    }
}

/// Commits the offsets stored so far, synchronously; `what` names the commit in the warning
/// logged when it fails. Nothing stored since the last commit is not a failure.
pub(crate) fn commit_stored<C, K>(consumer: &K, worker: &'static str, what: &str)
where
    C: rdkafka::consumer::ConsumerContext + 'static,
    K: Consumer<C>,
{
    match consumer.commit_consumer_state(CommitMode::Sync) {
        Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
        Err(e) => warn!(worker, error = %e, "{what} failed"),
    }
}

/// What became of a flush asked for before a revoke.
#[derive(Debug, PartialEq, Eq)]
enum Flushed {
    Done,
    TimedOut,
    /// The acker has stopped (the run ended or failed).
    AckerGone,
    /// On a current-thread runtime the acker runs on the very thread that would wait.
    CannotWait,
}

/// Asks the acker to flush and waits up to `timeout` for it, synchronously: the caller is the
/// consumer's rebalance callback. The acker and the storer are tasks on the same runtime, so the
/// wait must not hold up a runtime worker: `block_in_place` hands this worker's other tasks
/// (including one woken by the request itself, which sits in this worker's LIFO slot that no
/// other worker steals from) to another thread while this one blocks.
fn flush_and_wait(flusher: &mpsc::UnboundedSender<Flush>, timeout: Duration) -> Flushed {
    let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
    // Asked even where we cannot wait: the acker then flushes as soon as it runs, not a linger
    // later.
    if flusher.send(done_tx).is_err() {
        return Flushed::AckerGone;
    }
    let wait = move || match done_rx.recv_timeout(timeout) {
        Ok(()) => Flushed::Done,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Flushed::TimedOut,
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Flushed::AckerGone,
    };
    blocking(wait).unwrap_or(Flushed::CannotWait)
}

/// Runs blocking `f` from wherever the consumer is polled: through `block_in_place` on a
/// multi-thread runtime worker (the workers' `#[tokio::main]`), directly outside a runtime, and
/// not at all (`None`) on a current-thread runtime, where blocking would stall every task.
fn blocking<T>(f: impl FnOnce() -> T) -> Option<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            Some(tokio::task::block_in_place(f))
        }
        Ok(_) => None,
        Err(_) => Some(f()),
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

/// The first pause before a failed worker restarts itself, and the longest.
const RESTART_MIN: Duration = Duration::from_secs(1);
const RESTART_MAX: Duration = Duration::from_secs(30);
/// A run this long resets the restart back-off.
const RESTART_RESET_AFTER: Duration = Duration::from_secs(60);

/// Resolves once the flag is set (or its sender is gone).
pub(crate) async fn flagged(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// One run of a worker, restartable: the supervised part of [`run_stage`] and of the sink loop.
pub(crate) trait Restartable {
    /// Runs until `stop` is set or a failure; sets `started` once it consumes. `attempt` counts
    /// the runs before this one.
    fn run_once(
        &mut self,
        stop: watch::Receiver<bool>,
        started: &mut bool,
        attempt: u32,
    ) -> impl Future<Output = Result<(), WorkerError>> + Send;
}

/// Runs `worker` again and again, crash-only, until `shutdown` resolves: what a supervisor would
/// do, inside the process. A run that fails after it started (a delivery failed for good, the
/// broker went away mid-restore...) has stored no offset past its failure, so the next run
/// resumes from the last committed offsets (and a stage drops its in-memory state first, so the
/// next assignment restores it from the changelog). A failure before the first run started
/// (configuration, an incompatible schema), a fatal one, or one during shutdown is returned.
pub(crate) async fn supervise<R: Restartable>(
    name: &'static str,
    shutdown: impl Future<Output = ()> + Send,
    worker: &mut R,
) -> Result<(), WorkerError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    tokio::pin!(shutdown);
    let mut fired = false;
    let mut ever_started = false;
    let mut delay = RESTART_MIN;
    let mut attempt = 0u32;
    loop {
        let mut started = false;
        let began = Instant::now();
        let result = {
            let run = worker.run_once(stop_rx.clone(), &mut started, attempt);
            tokio::pin!(run);
            loop {
                tokio::select! {
                    r = &mut run => break r,
                    _ = &mut shutdown, if !fired => fired = true,
                }
            }
        };
        ever_started |= started;
        attempt += 1;
        let error = match result {
            Ok(()) => return Ok(()),
            Err(e) if fired || !ever_started || matches!(e, WorkerError::Fatal(_)) => {
                return Err(e)
            }
            Err(e) => e,
        };
        if began.elapsed() > RESTART_RESET_AFTER {
            delay = RESTART_MIN;
        }
        error!(worker = name, error = %error, attempt, retry_in_ms = delay.as_millis() as u64, "worker failed; restarting it from the last committed offsets");
        let pause = tokio::time::sleep(delay);
        tokio::pin!(pause);
        loop {
            tokio::select! {
                _ = &mut pause => break,
                _ = &mut shutdown, if !fired => fired = true,
            }
            if fired {
                return Ok(());
            }
        }
        delay = (delay * 2).min(RESTART_MAX);
    }
}

struct StageRun<S> {
    settings: Settings,
    stage: S,
}

impl<S: Stage> Restartable for StageRun<S> {
    async fn run_once(
        &mut self,
        stop: watch::Receiver<bool>,
        started: &mut bool,
        attempt: u32,
    ) -> Result<(), WorkerError> {
        if attempt > 0 {
            self.stage.forget();
        }
        run_stage_once(
            self.settings.clone(),
            &mut self.stage,
            flagged(stop),
            started,
        )
        .await
    }
}

/// Runs a stage until `shutdown` resolves; then drains, commits and returns. A run that fails
/// after it started is restarted in-process (see [`supervise`]).
pub async fn run_stage<S: Stage>(
    settings: Settings,
    stage: S,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), WorkerError> {
    let name = stage.name();
    supervise(name, shutdown, &mut StageRun { settings, stage }).await
}

/// Runs a stage once: start, consume until `shutdown` or a failure, drain, commit.
async fn run_stage_once<S: Stage>(
    settings: Settings,
    stage: &mut S,
    shutdown: impl Future<Output = ()> + Send,
    started: &mut bool,
) -> Result<(), WorkerError> {
    let name = stage.name();
    tokio::pin!(shutdown);
    let rt = Arc::new(Runtime::new(settings)?);
    let inputs = stage.inputs();
    let outputs = stage.outputs();
    let state_topic = stage.state_topic();
    // Start-up waits on the broker and the registry, for as long as they take to answer: a
    // stop asked for meanwhile ends it (exit 0), as it would a running worker.
    tokio::select! {
        prepared = rt.prepare(&inputs, &outputs, state_topic.as_deref()) => prepared?,
        _ = &mut shutdown => {
            info!(worker = name, "shutdown requested during start-up");
            return Ok(());
        }
    }
    let consumer = Arc::new(rt.consumer(name)?);
    let subs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    consumer.subscribe(&subs)?;
    *started = true;
    info!(worker = name, inputs = ?inputs, "worker started");

    let window = rt.settings.kafka.max_in_flight.max(1);
    let (ack_tx, ack_rx) = mpsc::channel::<Pending>(window);
    let (after_tx, after_rx) = mpsc::channel::<AfterPending>(window);
    let (fail_tx, mut fail_rx) = watch::channel::<Option<String>>(None);
    let (flush_tx, flush_rx) = mpsc::unbounded_channel::<Flush>();
    // Only a stage with a changelog flushes before a revoke (the others hold no writes back);
    // for them the sender is dropped here and the acker never sees a request.
    if state_topic.is_some() {
        consumer.context().flush_on_revoke(flush_tx);
    }
    // Only a stage with a changelog gains from gathering a run of messages before acknowledging.
    let linger = match state_topic {
        Some(_) => Duration::from_millis(rt.settings.kafka.state_flush_ms),
        None => Duration::ZERO,
    };
    let acker = tokio::spawn(acker(
        rt.clone(),
        name,
        ack_rx,
        flush_rx,
        after_tx,
        fail_tx.clone(),
        Coalesce {
            linger,
            max: window,
        },
    ));
    let storer = tokio::spawn(offset_storer(consumer.clone(), name, after_rx, fail_tx));
    let (stop_tx, stop_rx) = watch::channel(false);
    let dlq_topic = rt.settings.topics().dlq();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    let result: Result<(), WorkerError> = loop {
        let msg = tokio::select! {
            biased;
            _ = &mut shutdown => break Ok(()),
            _ = fail_rx.changed() => {
                let why = fail_rx.borrow().clone().unwrap_or_default();
                break Err(WorkerError::Delivery { topic: String::new(), error: why });
            }
            _ = ticker.tick() => {
                // Partitions assigned while no records arrive get their state back now, not at
                // their next record: the tick's deadlines (SLA breaches) need it.
                if let Some(topic) = &state_topic {
                    let restored = tokio::select! {
                        r = apply_rebalances(&rt, stage, consumer.context(), topic) => r,
                        _ = &mut shutdown => break Ok(()),
                    };
                    if let Err(e) = restored {
                        break Err(e);
                    }
                }
                let outs = stage.tick(chrono::Utc::now());
                if outs.is_empty() {
                    continue;
                }
                // Timed outputs (SLA breaches) start their own trace.
                let span = tracing::info_span!(parent: None, "tick", worker = name, outputs = outs.len(), conversation_id = Empty, handoff_id = Empty, rule_ids = Empty, decision = Empty);
                observe_outputs(&span, &outs, true);
                let headers = telemetry::headers_for::<OwnedHeaders>(None, &span);
                let deliveries = match rt.encode_all(outs).await {
                    Ok(encoded) => match send_all(&rt, encoded, &headers).await {
                        Ok(d) => d,
                        Err(e) => break Err(e.into()),
                    },
                    Err(dead) => {
                        error!(worker = name, error = %dead.message, "a timed output could not be encoded");
                        continue;
                    }
                };
                if ack_tx.send(Pending { source: None, deliveries, after: Vec::new() }).await.is_err() {
                    break Err(WorkerError::Delivery { topic: String::new(), error: "acker stopped".into() });
                }
                continue;
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
        if let Some(topic) = &state_topic {
            // A restore can take seconds (a large changelog): a stop ends it, and the partly
            // restored partitions are simply not handed records before the final commit.
            let restored = tokio::select! {
                r = apply_rebalances(&rt, stage, consumer.context(), topic) => r,
                _ = &mut shutdown => break Ok(()),
            };
            if let Err(e) = restored {
                break Err(e);
            }
        }
        let pending = match process(&rt, stage, &msg, &dlq_topic, &stop_rx).await {
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
    let _ = storer.await;
    rt.producer.flush(Duration::from_secs(10)).ok();
    commit_stored(&*consumer, name, "final commit");
    info!(worker = name, ok = result.is_ok(), "worker stopped");
    result
}

/// Applies assignment changes: revoked partitions' state is dropped, assigned partitions'
/// state is read back from the changelog before their first record is handled.
async fn apply_rebalances<S: Stage>(
    rt: &Runtime,
    stage: &mut S,
    tracker: &Rebalances,
    state_topic: &str,
) -> Result<(), WorkerError> {
    for change in tracker.take() {
        match change {
            Rebalanced::Revoked(parts) => {
                let mut ps: Vec<i32> = parts.iter().map(|(_, p)| *p).collect();
                ps.sort_unstable();
                ps.dedup();
                stage.revoke(&ps);
            }
            Rebalanced::Assigned(parts) => {
                let mut ps: Vec<i32> = parts.iter().map(|(_, p)| *p).collect();
                ps.sort_unstable();
                ps.dedup();
                crate::changelog::restore(rt, stage, state_topic, &ps).await?;
            }
        }
    }
    Ok(())
}

async fn send_all(
    rt: &Runtime,
    encoded: Vec<Encoded>,
    headers: &OwnedHeaders,
) -> Result<Vec<Sent>, KafkaError> {
    let mut deliveries = Vec::with_capacity(encoded.len());
    for e in encoded {
        let d = rt
            .send(
                &e.topic,
                Some(e.key.as_bytes()),
                e.value.as_deref(),
                headers.clone(),
            )
            .await?;
        deliveries.push(Sent::new(&e.topic, d));
    }
    Ok(deliveries)
}

/// Records what a message's (or a tick's) outputs say on the span — the handoff, the decision
/// and the rule ids that fired, and the conversation when `with_conversation` (the `handle`
/// span has it from the key already) — and counts the stop decisions among them.
fn observe_outputs(span: &Span, outs: &[Outgoing], with_conversation: bool) {
    let mut conversation: Option<&str> = None;
    let mut handoff: Option<&str> = None;
    let mut rules: Vec<String> = Vec::new();
    let mut decision: Option<&'static str> = None;
    for out in outs {
        let (c, h) = match &out.record {
            OutRecord::Signal(s) => {
                DecisionMade { signal: s }.emit();
                decision = Some(decision_name(s.decision));
                rules.push(rule_ids(s));
                (
                    Some(s.conversation_id.as_str()),
                    Some(s.handoff_id.as_str()),
                )
            }
            OutRecord::Payload(p) => (
                Some(p.conversation_id.as_str()),
                Some(p.handoff_id.as_str()),
            ),
            OutRecord::Routed(r) => {
                rules.push(r.routing.rule_id.clone());
                (
                    Some(r.payload.conversation_id.as_str()),
                    Some(r.payload.handoff_id.as_str()),
                )
            }
            OutRecord::Control(c) => (Some(c.conversation_id.as_str()), c.handoff_id.as_deref()),
            OutRecord::Lifecycle(l) => (
                Some(l.conversation_id.as_str()),
                Some(l.handoff_id.as_str()),
            ),
            OutRecord::Command(c) => (Some(c.conversation_id.as_str()), c.handoff_id.as_deref()),
            OutRecord::Event(e) => (Some(e.conversation_id.as_str()), None),
            OutRecord::State(_) | OutRecord::Tombstone => (None, None),
        };
        conversation = conversation.or(c);
        handoff = handoff.or(h);
    }
    if span.is_disabled() {
        return;
    }
    if let Some(c) = conversation.filter(|_| with_conversation) {
        span.record("conversation_id", c);
    }
    if let Some(h) = handoff {
        span.record("handoff_id", h);
    }
    rules.retain(|r| !r.is_empty());
    if !rules.is_empty() {
        rules.dedup();
        span.record("rule_ids", rules.join(",").as_str());
    }
    if let Some(d) = decision {
        span.record("decision", d);
    }
}

/// Decodes, handles and sends one message's outputs (or its dead letter).
async fn process<S: Stage>(
    rt: &Runtime,
    stage: &mut S,
    msg: &BorrowedMessage<'_>,
    dlq_topic: &str,
    stop: &watch::Receiver<bool>,
) -> Result<Pending, WorkerError> {
    let name = stage.name();
    let (topic, partition, offset) = (msg.topic(), msg.partition(), msg.offset());
    EventReceived {
        worker: name,
        topic,
    }
    .emit();
    let span = tracing::info_span!(
        parent: None,
        "handle",
        worker = name,
        topic,
        partition,
        offset,
        conversation_id = Empty,
        handoff_id = Empty,
        rule_ids = Empty,
        decision = Empty,
    );
    // Before the span starts: its parent is the upstream span that produced this record.
    telemetry::parent_from(&span, msg.headers());
    // Every record is keyed by its conversation id.
    let key = msg.key().and_then(|k| std::str::from_utf8(k).ok());
    if let Some(key) = key {
        span.record("conversation_id", key);
    }
    let handling = Handling {
        span: span.clone(),
        keyed: key.is_some(),
    };
    process_in_span(rt, stage, msg, dlq_topic, stop, &handling)
        .instrument(span)
        .await
}

/// The `handle` span of the message being processed.
struct Handling {
    span: Span,
    /// The conversation id was recorded from the key.
    keyed: bool,
}

async fn process_in_span<S: Stage>(
    rt: &Runtime,
    stage: &mut S,
    msg: &BorrowedMessage<'_>,
    dlq_topic: &str,
    stop: &watch::Receiver<bool>,
    handling: &Handling,
) -> Result<Pending, WorkerError> {
    let (topic, partition, offset) = (msg.topic(), msg.partition(), msg.offset());
    let outcome: Result<(Vec<Encoded>, Vec<Encoded>), DeadLetter> = async {
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
        observe_outputs(&handling.span, &outs, !handling.keyed);
        let after = stage.changelog();
        Ok((rt.encode_all(outs).await?, rt.encode_all(after).await?))
    }
    .await;

    // The consumed record's headers, its trace context replaced by this span's.
    let headers = telemetry::headers_for(msg.headers(), &handling.span);
    let (deliveries, after) = match outcome {
        Ok((encoded, after)) => (send_all(rt, encoded, &headers).await?, after),
        Err(dead) if dead.transient => {
            // Shutting down while the registry is away: leave the offset unstored.
            return Err(WorkerError::Startup(format!(
                "stopping during a registry outage: {}",
                dead.message
            )));
        }
        Err(dead) => {
            DeadLettered {
                worker: stage.name(),
                kind: dead.kind,
                error: &dead.message,
                topic,
                partition,
                offset,
            }
            .emit();
            let headers = dlq::headers(headers, &dead, topic, partition, offset, stage.name());
            let limit = rt.settings.kafka.max_message_bytes;
            let headers = dlq::mark_truncated(headers, msg.payload(), limit);
            let value = dlq::value_within(msg.payload(), limit);
            let d = rt.send(dlq_topic, msg.key(), value, headers).await?;
            (vec![Sent::new(dlq_topic, d)], Vec::new())
        }
    };
    debug!(
        topic,
        partition,
        offset,
        outputs = deliveries.len(),
        "handled"
    );
    Ok(Pending {
        source: Some((topic.to_string(), partition, offset)),
        deliveries,
        after,
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
        OutRecord::State(_) => "ConversationState",
        OutRecord::Tombstone => "tombstone",
    }
}

/// Awaits acknowledgements in order. The latency recorded is from the send to the moment the
/// acknowledgement is observed here, which for a record acknowledged before an older one is
/// when the older one's is: what the offset commit waits, not the broker's round trip alone.
async fn await_all(worker: &'static str, deliveries: Vec<Sent>) -> Result<(), String> {
    for d in deliveries {
        match d.delivery.await {
            Ok(Ok(_)) => RecordProduced {
                worker,
                topic: &d.topic,
                latency: d.at.elapsed(),
            }
            .emit(),
            Ok(Err((e, _))) => return Err(e.to_string()),
            Err(_) => return Err("delivery canceled (producer dropped)".to_string()),
        }
    }
    Ok(())
}

/// Stage one of acknowledgement: awaits each message's outputs in consumption order, then sends
/// its changelog records (pipelined: the next message's outputs are awaited meanwhile). The
/// messages handled within `coalesce.linger` of each other (and any already queued behind a slow
/// acknowledgement) share one round of changelog sends with only the last state per
/// conversation: N events on a conversation write its state once, not N times, as a Kafka
/// Streams state-store cache does between commits. Outputs are sent when handled, never delayed.
/// The guarantee is unchanged: a changelog record goes out only after every output of the
/// messages it covers is acknowledged, and their offsets are stored only after it is.
///
/// A flush request (a revoke) ends the gathering at once: the run takes every message queued so
/// far, and the request travels with the run to the storer, which answers it once the offsets
/// are stored.
async fn acker(
    rt: Arc<Runtime>,
    worker: &'static str,
    mut rx: mpsc::Receiver<Pending>,
    mut flushes: mpsc::UnboundedReceiver<Flush>,
    next: mpsc::Sender<AfterPending>,
    fail: watch::Sender<Option<String>>,
    coalesce: Coalesce,
) {
    let no_headers = OwnedHeaders::new();
    loop {
        let mut run = Vec::new();
        let mut flush = None;
        // A closed `flushes` (no state topic) disables its branch: `rx` alone is awaited.
        tokio::select! {
            biased;
            Some(f) = flushes.recv() => flush = Some(f),
            first = rx.recv() => match first {
                Some(p) => run.push(p),
                None => return,
            },
        }
        let until = tokio::time::Instant::now() + coalesce.linger;
        while flush.is_none() && run.len() < coalesce.max.max(1) {
            let more = if coalesce.linger.is_zero() {
                rx.try_recv().ok()
            } else {
                tokio::select! {
                    biased;
                    Some(f) = flushes.recv() => {
                        flush = Some(f);
                        None
                    }
                    // `None` once the sender is gone (shutdown): the run so far is finished.
                    more = tokio::time::timeout_at(until, rx.recv()) => more.ok().flatten(),
                }
            };
            match more {
                Some(p) => run.push(p),
                None => break,
            }
        }
        if flush.is_some() {
            // The revoke callback runs inside the processing loop's `recv`, so every message
            // handled before it is queued by now: all of them go in this run.
            while let Ok(p) = rx.try_recv() {
                run.push(p);
            }
        }
        let mut sources = Vec::with_capacity(run.len());
        let mut after = Vec::new();
        for p in run {
            if let Err(e) = await_all(worker, p.deliveries).await {
                error!(source = ?p.source, error = %e, "delivery failed; stopping without storing the offset");
                let _ = fail.send(Some(e));
                return;
            }
            sources.extend(p.source);
            after.extend(p.after);
        }
        let deliveries = match send_all(&rt, last_per_key(after), &no_headers).await {
            Ok(d) => d,
            Err(e) => {
                let _ = fail.send(Some(e.to_string()));
                return;
            }
        };
        if next
            .send(AfterPending {
                sources,
                deliveries,
                flushed: flush,
            })
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Stage two: awaits the changelog sends in order and stores the offset behind them.
async fn offset_storer(
    consumer: Arc<StreamConsumer<Rebalances>>,
    worker: &'static str,
    mut rx: mpsc::Receiver<AfterPending>,
    fail: watch::Sender<Option<String>>,
) {
    while let Some(p) = rx.recv().await {
        if let Err(e) = await_all(worker, p.deliveries).await {
            error!(sources = p.sources.len(), error = %e, "changelog delivery failed; stopping without storing the offsets");
            let _ = fail.send(Some(e));
            return;
        }
        for (topic, partition, offset) in p.sources {
            if let Err(e) = consumer.store_offset(&topic, partition, offset) {
                // The partition was revoked meanwhile: its new owner redoes the message.
                debug!(topic = %topic, partition, offset, error = %e, "offset not stored");
            }
        }
        if let Some(done) = p.flushed {
            // Everything queued before the flush request is stored: runs reach here in order.
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod supervise_tests {
    use super::*;

    /// Fails its first `failures` runs (after or before starting, as told), then runs until stopped.
    struct Flaky {
        failures: u32,
        start_before_failing: bool,
        runs: u32,
    }

    impl Restartable for Flaky {
        async fn run_once(
            &mut self,
            stop: watch::Receiver<bool>,
            started: &mut bool,
            attempt: u32,
        ) -> Result<(), WorkerError> {
            assert_eq!(attempt, self.runs, "attempts are counted");
            self.runs += 1;
            if self.runs <= self.failures {
                *started = self.start_before_failing;
                return Err(WorkerError::Delivery {
                    topic: "t".into(),
                    error: "broker gone".into(),
                });
            }
            *started = true;
            flagged(stop).await;
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_run_that_fails_after_starting_is_restarted_until_shutdown() {
        // Back-off 1 s, then 2 s: the third run starts after 3 s and lasts until shutdown.
        let mut w = Flaky {
            failures: 2,
            start_before_failing: true,
            runs: 0,
        };
        let shutdown = tokio::time::sleep(Duration::from_secs(5));
        assert!(supervise("test", shutdown, &mut w).await.is_ok());
        assert_eq!(w.runs, 3, "two failed runs, then one until shutdown");
    }

    #[tokio::test]
    async fn a_failure_before_the_first_start_is_returned() {
        let mut w = Flaky {
            failures: 1,
            start_before_failing: false,
            runs: 0,
        };
        let shutdown = tokio::time::sleep(Duration::from_secs(60));
        assert!(matches!(
            supervise("test", shutdown, &mut w).await,
            Err(WorkerError::Delivery { .. })
        ));
        assert_eq!(w.runs, 1);
    }

    #[tokio::test]
    async fn fatal_errors_are_not_restarted() {
        struct Fatal;
        impl Restartable for Fatal {
            fn run_once(
                &mut self,
                _stop: watch::Receiver<bool>,
                started: &mut bool,
                _attempt: u32,
            ) -> impl Future<Output = Result<(), WorkerError>> + Send {
                *started = true;
                async { Err(WorkerError::Fatal("bad batch".into())) }
            }
        }
        let shutdown = tokio::time::sleep(Duration::from_secs(60));
        assert!(matches!(
            supervise("test", shutdown, &mut Fatal).await,
            Err(WorkerError::Fatal(_))
        ));
    }
}

#[cfg(test)]
mod coalesce_tests {
    use super::*;

    fn rec(topic: &str, key: &str, value: Option<&str>) -> Encoded {
        Encoded {
            topic: topic.into(),
            key: key.into(),
            value: value.map(|v| v.as_bytes().to_vec()),
        }
    }

    fn view(records: &[Encoded]) -> Vec<(String, String, Option<String>)> {
        records
            .iter()
            .map(|e| {
                (
                    e.topic.clone(),
                    e.key.clone(),
                    e.value.as_ref().map(|v| String::from_utf8_lossy(v).into()),
                )
            })
            .collect()
    }

    #[test]
    fn the_last_record_per_topic_and_key_survives_in_the_order_of_the_last_records() {
        let out = last_per_key(vec![
            rec("state", "a", Some("a1")),
            rec("state", "b", Some("b1")),
            rec("state", "a", Some("a2")),
            rec("other", "a", Some("x1")),
            rec("state", "b", None),
            rec("state", "c", Some("c1")),
        ]);
        let s =
            |t: &str, k: &str, v: Option<&str>| (t.to_string(), k.to_string(), v.map(String::from));
        assert_eq!(
            view(&out),
            vec![
                s("state", "a", Some("a2")),
                s("other", "a", Some("x1")),
                // a tombstone is a last state like any other
                s("state", "b", None),
                s("state", "c", Some("c1")),
            ]
        );
    }

    #[test]
    fn distinct_keys_are_all_kept() {
        let out = last_per_key(vec![
            rec("state", "a", Some("1")),
            rec("state", "b", Some("2")),
        ]);
        assert_eq!(out.len(), 2);
        assert!(last_per_key(Vec::new()).is_empty());
    }
}

#[cfg(test)]
mod revoke_flush_tests {
    use super::*;

    /// Answers flush requests like the acker and storer do: from a task on the runtime, after a
    /// runtime timer.
    fn answering(mut requests: mpsc::UnboundedReceiver<Flush>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            while let Some(done) = requests.recv().await {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = done.send(());
            }
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_revoke_on_the_only_runtime_worker_waits_for_tasks_on_the_same_runtime() {
        // The rebalance callback runs inside the processing task's `recv`, on a runtime worker;
        // with one worker, only `block_in_place` lets the answering task run meanwhile.
        let (tx, rx) = mpsc::unbounded_channel();
        let _acker = answering(rx);
        let callback = tokio::spawn(async move {
            let started = Instant::now();
            (
                flush_and_wait(&tx, Duration::from_secs(5)),
                started.elapsed(),
            )
        });
        let (outcome, took) = callback.await.unwrap();
        assert_eq!(outcome, Flushed::Done);
        assert!(
            took < Duration::from_secs(2),
            "no deadlock until the timeout: {took:?}"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_current_thread_runtime_asks_for_the_flush_but_does_not_wait() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        assert_eq!(
            flush_and_wait(&tx, Duration::from_secs(5)),
            Flushed::CannotWait
        );
        assert!(rx.try_recv().is_ok(), "the acker still flushes early");
    }

    #[test]
    fn outside_a_runtime_the_wait_is_bounded_and_a_gone_acker_does_not_block() {
        // Answered from another thread.
        let (tx, mut rx) = mpsc::unbounded_channel::<Flush>();
        let answer = std::thread::spawn(move || {
            let done = rx.blocking_recv().unwrap();
            done.send(()).unwrap();
            rx
        });
        assert_eq!(flush_and_wait(&tx, Duration::from_secs(5)), Flushed::Done);
        // Never answered: the revoke goes on after the timeout.
        let rx = answer.join().unwrap();
        let started = Instant::now();
        assert_eq!(
            flush_and_wait(&tx, Duration::from_millis(100)),
            Flushed::TimedOut
        );
        assert!(started.elapsed() >= Duration::from_millis(100));
        // The acker has stopped (shutdown drained it, or a delivery failed).
        drop(rx);
        assert_eq!(
            flush_and_wait(&tx, Duration::from_secs(5)),
            Flushed::AckerGone
        );
    }

    fn runtime() -> Arc<Runtime> {
        Arc::new(Runtime::new(Settings::from_env().unwrap()).unwrap())
    }

    fn pending(partition: i32, offset: i64) -> Pending {
        Pending {
            source: Some(("in".into(), partition, offset)),
            deliveries: Vec::new(),
            after: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_flush_request_ends_the_linger_with_everything_queued() {
        let (ack_tx, ack_rx) = mpsc::channel(16);
        let (flush_tx, flush_rx) = mpsc::unbounded_channel();
        let (after_tx, mut after_rx) = mpsc::channel(16);
        let (fail_tx, _fail_rx) = watch::channel(None);
        let coalesce = Coalesce {
            linger: Duration::from_secs(60),
            max: 100,
        };
        let task = tokio::spawn(acker(
            runtime(),
            "test",
            ack_rx,
            flush_rx,
            after_tx,
            fail_tx,
            coalesce,
        ));
        ack_tx.send(pending(0, 1)).await.unwrap();
        tokio::task::yield_now().await;
        ack_tx.send(pending(1, 7)).await.unwrap();
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        flush_tx.send(done_tx).unwrap();
        let run = tokio::time::timeout(Duration::from_secs(5), after_rx.recv())
            .await
            .expect("flushed long before the 60 s linger")
            .unwrap();
        assert_eq!(
            run.sources,
            vec![("in".to_string(), 0, 1), ("in".to_string(), 1, 7)]
        );
        run.flushed
            .expect("the run answers the request")
            .send(())
            .unwrap();
        assert!(done_rx.try_recv().is_ok());

        // With nothing queued, the request is answered by an empty run.
        let (done_tx, _done_rx) = std::sync::mpsc::sync_channel(1);
        flush_tx.send(done_tx).unwrap();
        let run = after_rx.recv().await.unwrap();
        assert!(run.sources.is_empty() && run.flushed.is_some());
        drop(ack_tx);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn without_a_flusher_the_acker_runs_as_before() {
        let (ack_tx, ack_rx) = mpsc::channel(16);
        let (flush_tx, flush_rx) = mpsc::unbounded_channel::<Flush>();
        drop(flush_tx); // a stage without a state topic
        let (after_tx, mut after_rx) = mpsc::channel(16);
        let (fail_tx, _fail_rx) = watch::channel(None);
        let coalesce = Coalesce {
            linger: Duration::ZERO,
            max: 100,
        };
        let task = tokio::spawn(acker(
            runtime(),
            "test",
            ack_rx,
            flush_rx,
            after_tx,
            fail_tx,
            coalesce,
        ));
        ack_tx.send(pending(2, 3)).await.unwrap();
        let run = after_rx.recv().await.unwrap();
        assert_eq!(run.sources, vec![("in".to_string(), 2, 3)]);
        assert!(run.flushed.is_none());
        drop(ack_tx);
        task.await.unwrap();
        assert!(after_rx.recv().await.is_none());
    }
}
