//! The router: ordered policy rules pick the team for a payload; the first match wins.

use crate::ids;
use crate::policy::{Policy, RoutingRule};
use crate::records::*;

/// The fallback rule id recorded when no rule matched.
pub const FALLBACK_RULE_ID: &str = "route.fallback";

/// Routes a payload. `now` is when the route is decided (the claim-by deadline counts from it).
pub fn route(payload: &HandoffPayload, policy: &Policy, now: Timestamp) -> RoutedHandoff {
    let (team, rule_id, matched_on) = policy
        .routing
        .rules
        .iter()
        .find_map(|rule| matches(rule, payload).map(|m| (rule.team.clone(), rule.id.clone(), m)))
        .unwrap_or_else(|| {
            (
                policy.routing.fallback_team.clone(),
                FALLBACK_RULE_ID.to_string(),
                vec!["fallback".to_string()],
            )
        });
    RoutedHandoff {
        route_id: ids::derive("route", &[&payload.handoff_id, &team, "0"]),
        payload: payload.clone(),
        routing: Routing {
            queue: format!("{team}.{}", payload.priority.as_str()),
            team,
            rule_id,
            matched_on,
            priority: payload.priority,
            routed_at: now,
            claim_by: now + policy.sla.claim_within(payload.urgency),
            attempt: 0,
        },
    }
}

use crate::time::Timestamp;

/// What a rule matched on, or `None` when it does not match.
fn matches(rule: &RoutingRule, payload: &HandoffPayload) -> Option<Vec<String>> {
    let mut matched = Vec::new();
    if !rule.intents.is_empty() {
        let names = [
            Some(payload.intent.name.as_str()),
            payload.intent.sub_intent.as_deref(),
        ];
        let hit = names
            .iter()
            .flatten()
            .find(|n| rule.intents.iter().any(|i| i.eq_ignore_ascii_case(n)))?;
        matched.push(format!("intent={hit}"));
    }
    if !rule.reasons.is_empty() {
        let hit = payload
            .reasons
            .iter()
            .find(|r| rule.reasons.iter().any(|k| k == r.kind.as_str()))?;
        matched.push(format!("reason={}", hit.kind.as_str()));
    }
    Some(matched)
}
