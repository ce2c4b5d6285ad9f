//! Kafka clients configured the same way for every worker, and topic creation.

use crate::config::KafkaSettings;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::RDKafkaErrorCode;
use secrecy::ExposeSecret;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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
    if let Some(ca) = &k.ssl_ca_location {
        c.set("ssl.ca.location", ca);
    }
    c
}

/// Why a worker could not reach the cluster at start.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Waiting cannot cure it: the brokers refused our SASL login, or TLS failed (a broker
    /// certificate our CA does not sign, a CA file that cannot be read).
    #[error("cannot connect to Kafka at {brokers}: {cause} ({detail}); check the kafka.security_protocol, sasl_* and ssl_ca_location settings")]
    Refused {
        brokers: String,
        cause: &'static str,
        detail: String,
    },
    #[error("Kafka at {brokers} did not answer within {waited_ms} ms (last error: {last})")]
    Unreachable {
        brokers: String,
        waited_ms: u64,
        last: String,
    },
    #[error("invalid Kafka client settings: {0}")]
    Config(String),
}

/// Collects the errors librdkafka reports while the start-up check waits for metadata (they
/// arrive through the error callback, served by `poll`, not as the request's result).
#[derive(Default)]
struct StartupContext {
    errors: std::sync::Mutex<Vec<(Option<RDKafkaErrorCode>, String)>>,
}

impl rdkafka::ClientContext for StartupContext {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.errors
            .lock()
            .unwrap()
            .push((error.rdkafka_error_code(), reason.to_string()));
    }
}

impl rdkafka::producer::ProducerContext for StartupContext {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &rdkafka::message::DeliveryResult<'_>, _: ()) {}
}

const AUTH_FAILED: &str = "authentication failed (wrong SASL mechanism, user name or password)";
const TLS_FAILED: &str = "TLS failed (is the broker certificate signed by a trusted CA?)";

/// The errors that no amount of waiting cures, with the cause a person should look at.
/// librdkafka reports a failed handshake as `SSL` or, on some connection attempts, as a plain
/// transport failure whose text names it, so the text is read too.
fn refusal(code: Option<RDKafkaErrorCode>, detail: &str) -> Option<&'static str> {
    match code {
        Some(RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SaslAuthenticationFailed) => {
            Some(AUTH_FAILED)
        }
        Some(RDKafkaErrorCode::SSL) => Some(TLS_FAILED),
        _ if detail.contains("SASL authentication error") => Some(AUTH_FAILED),
        _ if detail.contains("SSL handshake failed")
            || detail.contains("certificate verify failed") =>
        {
            Some(TLS_FAILED)
        }
        _ => None,
    }
}

/// Waits until the cluster answers a metadata request, at most `connect_timeout_ms`, so a worker
/// with wrong credentials or an untrusted certificate stops at start with the cause instead of
/// retrying in the background forever.
pub async fn check_connection(k: &KafkaSettings) -> Result<(), ConnectError> {
    use rdkafka::producer::{BaseProducer, Producer};
    let mut config = base_config(k);
    apply_overrides(&mut config, k, &k.producer_options);
    // A producer only because its `poll` serves the error callback; it never sends.
    let probe: BaseProducer<StartupContext> = config
        .create_with_context(StartupContext::default())
        .map_err(|e| ConnectError::Config(e.to_string()))?;
    let brokers = k.brokers.clone();
    let timeout = Duration::from_millis(k.connect_timeout_ms);
    // The runtime's shutdown waits for its blocking tasks: when a SIGTERM cancels start-up
    // (this future is dropped), the loop must end at its next round, not at the timeout.
    let abandoned = Arc::new(AtomicBool::new(false));
    let _abandon_on_drop = SetOnDrop(abandoned.clone());
    tokio::task::spawn_blocking(move || {
        let began = std::time::Instant::now();
        loop {
            if abandoned.load(Ordering::Relaxed) {
                return Err(ConnectError::Config("start-up cancelled".into()));
            }
            let answer = probe
                .client()
                .fetch_metadata(None, Duration::from_millis(500));
            // `poll` serves one queued event per turn until its time is up; log events queue
            // up beside the errors, so give it long enough to drain them all.
            probe.poll(Duration::from_millis(200));
            let seen = std::mem::take(&mut *probe.context().errors.lock().unwrap());
            for (code, detail) in &seen {
                if let Some(cause) = refusal(*code, detail) {
                    return Err(ConnectError::Refused {
                        brokers,
                        cause,
                        detail: detail.clone(),
                    });
                }
            }
            let last = match (answer, seen.last()) {
                (Ok(_), _) => return Ok(()),
                (Err(_), Some((_, detail))) => detail.clone(),
                (Err(e), None) => e.to_string(),
            };
            if began.elapsed() >= timeout {
                return Err(ConnectError::Unreachable {
                    brokers,
                    waited_ms: timeout.as_millis() as u64,
                    last,
                });
            }
        }
    })
    .await
    .map_err(|e| ConnectError::Config(format!("start-up check panicked: {e}")))?
}

/// Sets its flag when dropped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_told_apart_from_errors_that_waiting_cures() {
        use RDKafkaErrorCode as C;
        assert_eq!(refusal(Some(C::Authentication), ""), Some(AUTH_FAILED));
        assert_eq!(refusal(Some(C::SSL), ""), Some(TLS_FAILED));
        let handshake = "sasl_ssl://127.0.0.1:9093/bootstrap: error:0A000086:SSL routines::certificate verify failed (after 6ms in state SSL_HANDSHAKE)";
        assert_eq!(
            refusal(Some(C::BrokerTransportFailure), handshake),
            Some(TLS_FAILED)
        );
        let refused =
            "127.0.0.1:9092/bootstrap: Connect to ipv4#127.0.0.1:9092 failed: Connection refused";
        assert_eq!(refusal(Some(C::BrokerTransportFailure), refused), None);
        assert_eq!(
            refusal(Some(C::AllBrokersDown), "1/1 brokers are down"),
            None
        );
    }
}
