//! Kafka clients configured the same way for every worker, and topic creation.

use crate::config::KafkaSettings;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::RDKafkaErrorCode;
use secrecy::ExposeSecret;
use std::time::Duration;

/// Options every client shares: brokers, security, then the raw pass-through options.
pub fn base_config(k: &KafkaSettings) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &k.brokers);
    if let Some(p) = &k.security_protocol {
        c.set("security.protocol", p);
    }
    if let Some(m) = &k.sasl_mechanism {
        c.set("sasl.mechanism", m);
    }
    if let Some(u) = &k.sasl_username {
        c.set("sasl.username", u);
    }
    if let Some(p) = &k.sasl_password {
        c.set("sasl.password", p.expose_secret());
    }
    c
}

/// The pass-through options: `[kafka.options]` for every client, then the role's own.
fn apply_overrides(
    c: &mut ClientConfig,
    k: &KafkaSettings,
    role: &std::collections::BTreeMap<String, String>,
) {
    for (key, value) in k.options.iter().chain(role) {
        c.set(key, value);
    }
}

/// A producer for at-least-once pipelines.
///
/// - `partitioner=murmur2_random`: the partitioner Java clients use, so records keyed by
///   `conversation_id` land on the same partition whoever produced them (co-partitioning).
/// - idempotence with `acks=all`: a retried send is not written twice.
/// - `linger.ms=5`: a few milliseconds of batching buys most of the throughput for little latency.
pub fn producer_config(k: &KafkaSettings) -> ClientConfig {
    let mut c = base_config(k);
    c.set("partitioner", "murmur2_random")
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "200000")
        .set("message.timeout.ms", "120000")
        .set(
            "message.max.bytes",
            (k.max_message_bytes + 64 * 1024).to_string(),
        );
    apply_overrides(&mut c, k, &k.producer_options);
    c
}

/// A consumer that stores offsets only when told (after the outputs are acknowledged) and lets
/// auto-commit flush the stored ones.
pub fn consumer_config(k: &KafkaSettings, group_id: &str) -> ClientConfig {
    let mut c = base_config(k);
    c.set("group.id", group_id)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000")
        .set("topic.metadata.refresh.interval.ms", "2000")
        .set("fetch.wait.max.ms", "50");
    apply_overrides(&mut c, k, &k.consumer_options);
    c
}

#[derive(Debug, thiserror::Error)]
#[error("cannot create topic {topic}: {message}")]
pub struct TopicError {
    pub topic: String,
    pub message: String,
}

/// A topic to create: name, partitions, `(config key, value)` pairs.
pub type TopicSpec<'a> = (String, i32, Vec<(&'a str, &'a str)>);

/// Creates the topics that do not exist yet; existing ones are left as they are.
pub async fn ensure_topics(k: &KafkaSettings, specs: &[TopicSpec<'_>]) -> Result<(), TopicError> {
    if !k.create_topics || specs.is_empty() {
        return Ok(());
    }
    let admin: AdminClient<DefaultClientContext> =
        base_config(k).create().map_err(|e| TopicError {
            topic: specs[0].0.clone(),
            message: e.to_string(),
        })?;
    let new_topics: Vec<NewTopic> = specs
        .iter()
        .map(|(name, partitions, config)| {
            let mut t = NewTopic::new(
                name,
                *partitions,
                TopicReplication::Fixed(k.replication_factor),
            );
            for (key, value) in config {
                t = t.set(key, value);
            }
            t
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(new_topics.iter(), &opts)
        .await
        .map_err(|e| TopicError {
            topic: specs[0].0.clone(),
            message: e.to_string(),
        })?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(TopicError {
                    topic,
                    message: code.to_string(),
                })
            }
        }
    }
    Ok(())
}
