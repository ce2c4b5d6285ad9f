//! The builder worker: turns each StopSignal (`handoff.signals`) into the HandoffPayload a human
//! acts on (`handoff.payloads`). Stateless; the composing is `handoff_core::build`.

use handoff_core::records::{HandoffPayload, StopSignal};
use handoff_runtime::codec::AvroRecord;
use handoff_runtime::topics::Topics;
use handoff_runtime::worker::typed;
use handoff_runtime::{Incoming, OutRecord, Outgoing, Rejection, Settings, Stage};
use std::future::Future;

pub struct BuilderStage {
    topics: Topics,
}

impl BuilderStage {
    pub fn new(topics: Topics) -> Self {
        BuilderStage { topics }
    }
}

impl Stage for BuilderStage {
    fn name(&self) -> &'static str {
        "builder"
    }

    fn inputs(&self) -> Vec<String> {
        vec![self.topics.signals()]
    }

    fn outputs(&self) -> Vec<(String, &'static str)> {
        vec![(self.topics.payloads(), HandoffPayload::SCHEMA)]
    }

    fn handle(&mut self, msg: &Incoming<'_>) -> Result<Vec<Outgoing>, Rejection> {
        let signal: StopSignal = typed(msg.value)?;
        if signal.handoff_id.is_empty() || signal.conversation_id.is_empty() {
            return Err(Rejection::new(
                "invalid_record",
                "signal without handoff_id or conversation_id",
            ));
        }
        let payload = handoff_core::build::build(&signal);
        Ok(vec![Outgoing {
            topic: self.topics.payloads(),
            key: payload.conversation_id.clone(),
            record: OutRecord::Payload(payload),
        }])
    }
}

/// Runs the builder until `shutdown` resolves.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let stage = BuilderStage::new(settings.topics());
    handoff_runtime::run_stage(settings, stage, shutdown).await?;
    Ok(())
}
