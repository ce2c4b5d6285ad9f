//! The builder worker: turns each StopSignal (`handoff.signals`) into the HandoffPayload a human
//! acts on (`handoff.payloads`). Stateless.
//!
//! - the composing is `handoff_core::compose::Builder` (pure, deterministic, built-in composer),
//!   made once at start-up from the policy's `[builder]` section (it trains the intent
//!   classifier from the configured examples, resolved against the policy file's directory);
//! - [`llm`]: the optional OpenAI-compatible LLM composer (`[builder.llm] enabled = true`), which
//!   rewrites the summary and draft and falls back to the built-in ones when its reply is late,
//!   malformed, too long or drops a fact.

pub mod llm;

use handoff_core::compose::Builder;
use handoff_core::records::{HandoffPayload, StopSignal};
use handoff_runtime::codec::AvroRecord;
use handoff_runtime::topics::Topics;
use handoff_runtime::worker::typed;
use handoff_runtime::{Incoming, OutRecord, Outgoing, Rejection, Settings, Stage};
use llm::LlmComposer;
use std::future::Future;
use tracing::{info, warn};

pub struct BuilderStage {
    topics: Topics,
    builder: Builder,
    llm: Option<LlmComposer>,
}

impl BuilderStage {
    pub fn new(topics: Topics, builder: Builder, llm: Option<LlmComposer>) -> Self {
        BuilderStage {
            topics,
            builder,
            llm,
        }
    }

    /// The payload for one signal: the built-in composer's, with the LLM's summary and draft
    /// when one is configured and its reply passes the checks.
    pub fn payload_for(&self, signal: &StopSignal) -> HandoffPayload {
        let builtin = self.builder.build(signal);
        let Some(llm) = &self.llm else {
            return builtin;
        };
        let (payload, fallback) = llm.compose(signal, builtin, &self.builder);
        if let Some(why) = fallback {
            warn!(
                handoff_id = %signal.handoff_id,
                conversation_id = %signal.conversation_id,
                fallback = why.as_str(),
                error = %why,
                "LLM composer fell back to the built-in composer"
            );
        }
        payload
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
        let payload = self.payload_for(&signal);
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
    let policy = settings.load_policy()?;
    let builder = Builder::for_policy(&policy, settings.policy.path.as_deref())?;
    let llm = if policy.builder.llm.enabled {
        let composer = LlmComposer::from_policy(&policy.builder.llm)?;
        info!(
            model = composer.model(),
            timeout_ms = policy.builder.llm.timeout_ms,
            "LLM composer enabled"
        );
        Some(composer)
    } else {
        None
    };
    let stage = BuilderStage::new(settings.topics(), builder, llm);
    handoff_runtime::run_stage(settings, stage, shutdown).await?;
    Ok(())
}
