//! The router: ordered policy rules pick the team for a payload; the first match wins.

use crate::detect::REASSIGN_RULE;
use crate::ids;
use crate::policy::{Policy, RoutingRule};
use crate::records::*;

/// The fallback rule id recorded when no rule matched.
pub const FALLBACK_RULE_ID: &str = "route.fallback";

/// The rule id recorded when an operator reassigned the handoff.
pub const REASSIGN_RULE_ID: &str = "route.reassign";
/// The rule id recorded when an SLA breach sends the handoff to the escalation team.
pub const SLA_ESCALATION_RULE_ID: &str = "route.sla_escalation";

/// How many times the handoff was re-routed: each SLA breach and each reassignment adds a reason.
pub fn attempt(payload: &HandoffPayload) -> i32 {
    payload
        .reasons
        .iter()
        .filter(|r| r.kind == ReasonKind::SlaBreach || r.rule_id == REASSIGN_RULE)
        .count() as i32
}

/// Routes a payload. `now` is when the route is decided (the claim-by deadline counts from it).
///
/// A reassignment (the newest routing reason names a team) wins over the rules; an SLA breach
/// goes to `routing.sla_escalation_team` when the policy names one; otherwise the ordered rules
/// decide, first match wins, and the fallback team takes the rest.
pub fn route(payload: &HandoffPayload, policy: &Policy, now: Timestamp) -> RoutedHandoff {
    let newest = payload.reasons.first();
    let (team, rule_id, matched_on) = match newest {
        Some(r) if r.rule_id == REASSIGN_RULE && policy.has_team(&r.evidence_text) => (
            r.evidence_text.clone(),
            REASSIGN_RULE_ID.to_string(),
            vec![format!("reassign={}", r.evidence_text)],
        ),
        Some(r)
            if r.kind == ReasonKind::SlaBreach && policy.routing.sla_escalation_team.is_some() =>
        {
            let team = policy
                .routing
                .sla_escalation_team
                .clone()
                .unwrap_or_default();
            (
                team,
                SLA_ESCALATION_RULE_ID.to_string(),
                vec!["reason=sla_breach".to_string()],
            )
        }
        _ => policy
            .routing
            .rules
            .iter()
            .find_map(|rule| {
                matches(rule, payload).map(|m| (rule.team.clone(), rule.id.clone(), m))
            })
            .unwrap_or_else(|| {
                (
                    policy.routing.fallback_team.clone(),
                    FALLBACK_RULE_ID.to_string(),
                    vec!["fallback".to_string()],
                )
            }),
    };
    let attempt = attempt(payload);
    RoutedHandoff {
        route_id: ids::derive("route", &[&payload.handoff_id, &team, &attempt.to_string()]),
        payload: payload.clone(),
        routing: Routing {
            queue: format!("{team}.{}", payload.priority.as_str()),
            team,
            rule_id,
            matched_on,
            priority: payload.priority,
            routed_at: now,
            claim_by: now + policy.sla.claim_within(payload.urgency),
            attempt,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{on_event, on_tick, ConversationState, DetectorOutput};
    use crate::pipeline::{Output, Pipeline};
    use crate::replay::parse_line;
    use chrono::TimeZone;

    fn payloads(policy: &Policy, lines: &[&str]) -> Vec<HandoffPayload> {
        let mut p = Pipeline::new(policy).without_sla_clock();
        lines
            .iter()
            .flat_map(|l| p.feed(&parse_line(l).unwrap().unwrap()))
            .filter_map(|o| match o {
                Output::Payload(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    const FRAUD: &str = r#"{"type":"event","event_id":"e1","conversation_id":"c1","occurred_at":"2026-11-20T10:00:00Z","actor":"contact","text":"someone used my stolen card, I don't recognise this charge"}"#;
    const BILLING: &str = r#"{"type":"event","event_id":"e1","conversation_id":"c1","occurred_at":"2026-11-20T10:00:00Z","actor":"agent","text":"Let me get a colleague","agent":{"intent":"billing","tool_calls":[{"name":"transfer_to_human"}]}}"#;

    #[test]
    fn reasons_before_intents_then_fallback() {
        let policy = Policy::builtin();
        let now = chrono::Utc
            .with_ymd_and_hms(2026, 11, 20, 10, 0, 0)
            .unwrap();
        let fraud = &payloads(&policy, &[FRAUD])[0];
        let r = route(fraud, &policy, now);
        assert_eq!(
            (r.routing.team.as_str(), r.routing.rule_id.as_str()),
            ("fraud", "route.fraud.reason")
        );
        assert_eq!(r.routing.matched_on, vec!["reason=fraud".to_string()]);
        assert_eq!(
            r.routing.claim_by,
            now + policy.sla.claim_within(fraud.urgency)
        );
        let billing = &payloads(&policy, &[BILLING])[0];
        assert_eq!(route(billing, &policy, now).routing.team, "billing");
        let mut unknown = billing.clone();
        unknown.intent.name = "astrology".into();
        unknown.reasons.retain(|r| r.kind != ReasonKind::Fraud);
        let r = route(&unknown, &policy, now);
        assert_eq!(
            (r.routing.team.as_str(), r.routing.rule_id.as_str()),
            ("general", FALLBACK_RULE_ID)
        );
    }

    #[test]
    fn a_reassignment_re_routes_the_same_handoff_to_the_named_team() {
        let policy = Policy::builtin();
        let reassign = r#"{"type":"command","command_id":"k1","conversation_id":"c1","issued_at":"2026-11-20T10:01:00Z","operator":{"id":"u1","team":"billing"},"action":"reassign","target_team":"technical"}"#;
        let all = payloads(&policy, &[BILLING, reassign]);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].handoff_id, all[1].handoff_id);
        let now = chrono::Utc::now();
        let (first, second) = (route(&all[0], &policy, now), route(&all[1], &policy, now));
        assert_eq!(
            (first.routing.team.as_str(), first.routing.attempt),
            ("billing", 0)
        );
        assert_eq!(
            (second.routing.team.as_str(), second.routing.attempt),
            ("technical", 1)
        );
        assert_eq!(second.routing.rule_id, REASSIGN_RULE_ID);
        assert_ne!(first.route_id, second.route_id);
    }

    #[test]
    fn an_sla_breach_re_routes_with_raised_priority_to_the_escalation_team() {
        let text = crate::policy::DEFAULT_POLICY_TOML.replace(
            "# sla_escalation_team = \"general\"",
            "sla_escalation_team = \"retention\"",
        );
        let policy = Policy::from_toml(&text, "t").unwrap();
        let t0 = chrono::Utc
            .with_ymd_and_hms(2026, 11, 20, 10, 0, 0)
            .unwrap();
        let ev: crate::records::ConversationEvent = match parse_line(BILLING).unwrap().unwrap() {
            crate::replay::ReplayRecord::Event(e) => e,
            _ => unreachable!(),
        };
        let mut state = ConversationState::new("c1");
        let builder = crate::compose::Builder::for_policy(&policy, None).unwrap();
        let first = match &on_event(&mut state, &ev, &policy, t0)[0] {
            DetectorOutput::Signal(s) => builder.build(s),
            _ => unreachable!(),
        };
        let late = t0 + policy.sla.claim_within(first.urgency);
        let breach = on_tick(&mut state, &policy, late)
            .into_iter()
            .find_map(|o| match o {
                DetectorOutput::Signal(s) => Some(builder.build(&s)),
                _ => None,
            })
            .unwrap();
        let (a, b) = (route(&first, &policy, t0), route(&breach, &policy, late));
        assert_eq!(a.routing.team, "billing");
        assert_eq!(
            (
                b.routing.team.as_str(),
                b.routing.rule_id.as_str(),
                b.routing.attempt
            ),
            ("retention", SLA_ESCALATION_RULE_ID, 1)
        );
        assert!(
            b.routing.priority.rank() < a.routing.priority.rank(),
            "{:?} should outrank {:?}",
            b.routing.priority,
            a.routing.priority
        );
    }
}
