//! Publishing replay records (events and commands) to the input topics, as an upstream system
//! would: the CLI's `produce` and `demo`, the tests and the load generator share it.

use crate::codec::AvroRecord;
use crate::worker::{Runtime, WorkerError};
use crate::{OutRecord, Outgoing, Settings};
use handoff_core::records::{ConversationEvent, OperatorCommand};
use handoff_core::replay::ReplayRecord;
use rdkafka::message::OwnedHeaders;

/// Publishes the records, keyed by conversation id, and waits until every one is acknowledged.
pub async fn produce_replay(
    settings: &Settings,
    records: &[ReplayRecord],
) -> Result<usize, WorkerError> {
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
    let mut deliveries = Vec::with_capacity(records.len());
    for r in records {
        let out = match r {
            ReplayRecord::Event(e) => Outgoing {
                topic: topics.events(),
                key: e.conversation_id.clone(),
                record: OutRecord::Event(e.clone()),
            },
            ReplayRecord::Command(c) => Outgoing {
                topic: topics.commands(),
                key: c.conversation_id.clone(),
                record: OutRecord::Command(c.clone()),
            },
        };
        let bytes = rt
            .encode(&out)
            .await
            .map_err(|e| WorkerError::Startup(e.to_string()))?;
        deliveries.push(
            rt.send(
                &out.topic,
                Some(out.key.as_bytes()),
                bytes.as_deref(),
                OwnedHeaders::new(),
            )
            .await?,
        );
    }
    for d in deliveries {
        match d.await {
            Ok(Ok(_)) => {}
            Ok(Err((e, _))) => {
                return Err(WorkerError::Delivery {
                    topic: String::new(),
                    error: e.to_string(),
                })
            }
            Err(_) => {
                return Err(WorkerError::Delivery {
                    topic: String::new(),
                    error: "canceled".into(),
                })
            }
        }
    }
    Ok(records.len())
}
