//! The router worker: sends each HandoffPayload (`handoff.payloads`) to its team's topic
//! `handoff.team.<team>` by the policy's ordered routing rules. Stateless; the decision is
//! `handoff_core::route`.
//!
//! Every team the policy names gets its topic created (and its schema registered) at start-up,
//! so a rule can never route into a topic that does not exist.

use handoff_core::records::{HandoffPayload, RoutedHandoff};
use handoff_core::Policy;
use handoff_runtime::codec::AvroRecord;
use handoff_runtime::topics::Topics;
use handoff_runtime::worker::typed;
use handoff_runtime::{Incoming, OutRecord, Outgoing, Rejection, Settings, Stage};
use std::future::Future;

pub struct RouterStage {
    policy: Policy,
    topics: Topics,
    /// The clock the claim-by deadline counts from (tests pin it).
    clock: fn() -> chrono::DateTime<chrono::Utc>,
}

impl RouterStage {
    pub fn new(policy: Policy, topics: Topics) -> Self {
        RouterStage {
            policy,
            topics,
            clock: chrono::Utc::now,
        }
    }
}

impl Stage for RouterStage {
    fn name(&self) -> &'static str {
        "router"
    }

    fn inputs(&self) -> Vec<String> {
        vec![self.topics.payloads()]
    }

    fn outputs(&self) -> Vec<(String, &'static str)> {
        self.policy
            .routing
            .teams
            .iter()
            .map(|t| (self.topics.team(t), RoutedHandoff::SCHEMA))
            .collect()
    }

    fn handle(&mut self, msg: &Incoming<'_>) -> Result<Vec<Outgoing>, Rejection> {
        let payload: HandoffPayload = typed(msg.value)?;
        let routed = handoff_core::route::route(&payload, &self.policy, (self.clock)());
        Ok(vec![Outgoing {
            topic: self.topics.team(&routed.routing.team),
            key: payload.conversation_id.clone(),
            record: OutRecord::Routed(routed),
        }])
    }
}

/// Runs the router until `shutdown` resolves.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let policy = settings.load_policy()?;
    let stage = RouterStage::new(policy, settings.topics());
    handoff_runtime::run_stage(settings, stage, shutdown).await?;
    Ok(())
}
