//! Where the console's records go: operator commands to `handoff.commands`, operator messages
//! to `conversation.events`, encoded exactly as the workers encode (the runtime's codec and
//! producer: Confluent wire format, keyed by conversation id, murmur2 partitioner).
//!
//! Behind a trait so the HTTP handlers can be tested without a broker.

use futures::future::BoxFuture;
use handoff_core::records::{ConversationEvent, OperatorCommand};
use handoff_runtime::codec::AvroRecord;
use handoff_runtime::topics::Topics;
use handoff_runtime::worker::Runtime;
use handoff_runtime::{OutRecord, Outgoing, Settings};
use rdkafka::message::OwnedHeaders;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("could not publish to {topic}: {message}")]
pub struct PublishError {
    pub topic: String,
    pub message: String,
}

pub trait Publisher: Send + Sync + 'static {
    /// Publishes and waits for the broker's acknowledgement.
    fn command(&self, command: OperatorCommand) -> BoxFuture<'_, Result<(), PublishError>>;
    fn event(&self, event: ConversationEvent) -> BoxFuture<'_, Result<(), PublishError>>;
}

/// How long a request waits for the registry and the broker before answering 503.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(15);

pub struct KafkaPublisher {
    rt: Runtime,
    topics: Topics,
}

impl KafkaPublisher {
    /// Creates the input topics if missing and registers their schemas (as `handoff produce`
    /// does), so the first command does not wait on the registry.
    pub async fn new(settings: &Settings) -> anyhow::Result<KafkaPublisher> {
        let rt = Runtime::new(settings.clone())?;
        let topics = settings.topics();
        rt.prepare(
            &[],
            &[
                (topics.events(), ConversationEvent::SCHEMA),
                (topics.commands(), OperatorCommand::SCHEMA),
            ],
            None,
        )
        .await?;
        Ok(KafkaPublisher { rt, topics })
    }

    async fn publish(&self, out: Outgoing) -> Result<(), PublishError> {
        let topic = out.topic.clone();
        let err = |message: String| PublishError {
            topic: topic.clone(),
            message,
        };
        let send = async {
            let bytes = self.rt.encode(&out).await.map_err(|e| err(e.to_string()))?;
            let delivery = self
                .rt
                .send(
                    &out.topic,
                    Some(out.key.as_bytes()),
                    bytes.as_deref(),
                    OwnedHeaders::new(),
                )
                .await
                .map_err(|e| err(e.to_string()))?;
            match delivery.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((e, _))) => Err(err(e.to_string())),
                Err(_) => Err(err("delivery canceled".into())),
            }
        };
        tokio::time::timeout(PUBLISH_TIMEOUT, send)
            .await
            .map_err(|_| {
                err(format!(
                    "no acknowledgement within {}s",
                    PUBLISH_TIMEOUT.as_secs()
                ))
            })?
    }
}

impl Publisher for KafkaPublisher {
    fn command(&self, command: OperatorCommand) -> BoxFuture<'_, Result<(), PublishError>> {
        Box::pin(self.publish(Outgoing {
            topic: self.topics.commands(),
            key: command.conversation_id.clone(),
            record: OutRecord::Command(command),
        }))
    }

    fn event(&self, event: ConversationEvent) -> BoxFuture<'_, Result<(), PublishError>> {
        Box::pin(self.publish(Outgoing {
            topic: self.topics.events(),
            key: event.conversation_id.clone(),
            record: OutRecord::Event(event),
        }))
    }
}

/// Keeps what it is given (tests).
#[derive(Default)]
pub struct RecordingPublisher {
    pub commands: Mutex<Vec<OperatorCommand>>,
    pub events: Mutex<Vec<ConversationEvent>>,
}

impl Publisher for RecordingPublisher {
    fn command(&self, command: OperatorCommand) -> BoxFuture<'_, Result<(), PublishError>> {
        self.commands.lock().expect("not poisoned").push(command);
        Box::pin(async { Ok(()) })
    }

    fn event(&self, event: ConversationEvent) -> BoxFuture<'_, Result<(), PublishError>> {
        self.events.lock().expect("not poisoned").push(event);
        Box::pin(async { Ok(()) })
    }
}

impl<P: Publisher> Publisher for std::sync::Arc<P> {
    fn command(&self, command: OperatorCommand) -> BoxFuture<'_, Result<(), PublishError>> {
        (**self).command(command)
    }
    fn event(&self, event: ConversationEvent) -> BoxFuture<'_, Result<(), PublishError>> {
        (**self).event(event)
    }
}
