//! `handoff controls`: the AgentControl records (pause / resume with the handoff note) as an
//! agent runtime would read them from `agent.control`.

use handoff_core::records::AgentControl;
use handoff_runtime::worker::Runtime;
use handoff_runtime::{kafka, Settings};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use std::time::Duration;

/// Prints AgentControl records as JSON lines, of one conversation or all, until `count` have
/// been printed or `timeout_secs` pass without reaching it (an error then).
pub async fn controls(
    settings: &Settings,
    conversation: Option<&str>,
    from_beginning: bool,
    count: Option<usize>,
    timeout_secs: Option<u64>,
) -> anyhow::Result<()> {
    let rt = Runtime::new(settings.clone())?;
    let group = format!("handoff-cli-{}", uuid::Uuid::new_v4());
    let mut config = kafka::consumer_config(&settings.kafka, &group);
    config
        .set(
            "auto.offset.reset",
            if from_beginning { "earliest" } else { "latest" },
        )
        .set("enable.auto.commit", "false");
    let consumer: StreamConsumer = config.create()?;
    consumer.subscribe(&[settings.topics().control().as_str()])?;
    let deadline = timeout_secs.map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let mut seen = 0usize;
    loop {
        let next = async {
            match deadline {
                Some(d) => tokio::time::timeout_at(d, consumer.recv()).await.ok(),
                None => Some(consumer.recv().await),
            }
        };
        let msg = tokio::select! {
            m = next => match m {
                Some(m) => m?,
                None => anyhow::bail!("{seen} control record(s) within {}s, expected {}", timeout_secs.unwrap_or(0), count.unwrap_or(0)),
            },
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        match rt.codec.decode::<AgentControl>(msg.payload()).await {
            Ok(c) if conversation.is_none_or(|id| id == c.conversation_id) => {
                println!("{}", serde_json::to_string(&c)?);
                seen += 1;
                if count.is_some_and(|n| seen >= n) {
                    return Ok(());
                }
            }
            Ok(_) => {}
            Err(e) => eprintln!(
                "skipping {}[{}]@{}: {e}",
                msg.topic(),
                msg.partition(),
                msg.offset()
            ),
        }
    }
}
