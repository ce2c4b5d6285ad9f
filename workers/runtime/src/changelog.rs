//! Reading a stage's compacted changelog back into it.
//!
//! On assignment of input partitions `ps`, the same partitions of the state topic hold the state
//! of exactly the conversations those inputs carry (co-partitioning: same key, same partitioner,
//! same partition count). Restoring reads them from the beginning to the high watermark taken at
//! the start, keeping the last record per key (a tombstone deletes). It is correct whether or
//! not the broker has compacted the topic yet; compaction only makes it faster. A partition is
//! done at its watermark or at the end of the log (partition EOF: compaction may have removed
//! the record just below the watermark). A restore that stops getting records before that is a
//! failure: the worker restarts and restores again, rather than run on part of the state.

use crate::worker::{Runtime, Stage, WorkerError};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// How long a restore waits for the next record (or end of partition) before it fails.
const IDLE_LIMIT: Duration = Duration::from_secs(10);

/// Restores the stage's state for `partitions` of `topic`; returns how many records were read.
pub async fn restore<S: Stage>(
    rt: &Runtime,
    stage: &mut S,
    topic: &str,
    partitions: &[i32],
) -> Result<usize, WorkerError> {
    if partitions.is_empty() {
        return Ok(0);
    }
    let started = Instant::now();
    let mut config = crate::kafka::consumer_config(
        &rt.settings.kafka,
        &format!("{}.restore", rt.settings.kafka.group_prefix),
    );
    config
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "10");
    let reader: StreamConsumer = config
        .create()
        .map_err(|e| WorkerError::Startup(format!("restore consumer: {e}")))?;

    // The end of each partition now; records written later belong to this instance anyway.
    let mut remaining: HashMap<i32, i64> = HashMap::new();
    let mut tpl = TopicPartitionList::new();
    for &p in partitions {
        let (low, high) = reader
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .map_err(|e| WorkerError::Startup(format!("watermarks of {topic}[{p}]: {e}")))?;
        if high > low {
            remaining.insert(p, high);
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .map_err(|e| WorkerError::Startup(e.to_string()))?;
        }
    }
    if remaining.is_empty() {
        return Ok(0);
    }
    reader.assign(&tpl)?;

    let mut read = 0usize;
    let mut bad = 0usize;
    while !remaining.is_empty() {
        let msg = match tokio::time::timeout(IDLE_LIMIT, reader.recv()).await {
            Err(_) => {
                warn!(topic, ?remaining, "restore stopped short of the watermark");
                return Err(WorkerError::Startup(format!(
                    "restoring {topic}: no records for {IDLE_LIMIT:?} before the watermark \
                     (partition: watermark) {remaining:?}"
                )));
            }
            Ok(Err(KafkaError::PartitionEOF(p))) => {
                remaining.remove(&p);
                continue;
            }
            Ok(m) => m?,
        };
        let (p, offset) = (msg.partition(), msg.offset());
        let key = msg
            .key()
            .map(String::from_utf8_lossy)
            .unwrap_or_default()
            .into_owned();
        let value = match msg.payload() {
            None => None,
            Some(bytes) => match rt.codec.decode_value(Some(bytes)).await {
                Ok(v) => Some(v),
                Err(e) if e.is_transient() => {
                    return Err(WorkerError::Startup(format!("restoring {topic}: {e}")))
                }
                Err(e) => {
                    // A changelog record we cannot read: skip it (the next one for the key, or
                    // the conversation's next event, rebuilds the state).
                    warn!(topic, partition = p, offset, error = %e, "unreadable changelog record skipped");
                    bad += 1;
                    continue;
                }
            },
        };
        if let Err(e) = stage.restore(p, &key, value.as_ref()) {
            warn!(topic, partition = p, offset, error = %e, "changelog record refused");
            bad += 1;
        }
        read += 1;
        if remaining.get(&p).is_some_and(|high| offset + 1 >= *high) {
            remaining.remove(&p);
        }
    }
    info!(
        topic,
        ?partitions,
        records = read,
        skipped = bad,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "state restored"
    );
    Ok(read)
}
