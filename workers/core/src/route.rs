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
/// goes to `routing.sla_escalation_team` when the policy names one; otherwise the rules decide in
/// stages (see [`decide`]) and the fallback team takes the rest.
pub fn route(payload: &HandoffPayload, policy: &Policy, now: Timestamp) -> RoutedHandoff {
    let newest = payload.reasons.first();
    let (team, rule_id, matched_on) = match newest {
        Some(r) if r.rule_id == REASSIGN_RULE && policy.has_team(&r.evidence_text) => (
            r.evidence_text.clone(),
            REASSIGN_RULE_ID.to_string(),
            vec![format!("reassign:{}", r.evidence_text)],
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
                vec!["reason:sla_breach".to_string()],
            )
        }
        _ => match decide(payload, &policy.routing.rules) {
            Some((rule, matched_on)) => (rule.team.clone(), rule.id.clone(), matched_on),
            None => (
                policy.routing.fallback_team.clone(),
                FALLBACK_RULE_ID.to_string(),
                vec!["fallback".to_string()],
            ),
        },
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

/// Which evidence decided a route, in the order the router consults it. Support desks own
/// some reasons whatever the topic (fraud always goes to fraud); the agent knows the topic of
/// its own conversation better than a classifier reading the contact's words; account context
/// only decides when nothing says what the case is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Reason,
    AgentIntent,
    Classifier,
    Account,
}

/// The rule that decides a payload and what it matched on (`reason:fraud`,
/// `agent_intent:refund`, `classifier:orders`, `account:plan=trial`), or `None` for the fallback.
///
/// Stages, in order: rules naming `reasons`; rules naming `intents`, against the agent's own
/// intent; the same rules against the builder's classified intent (the payload's intent when
/// the agent gave none, else the classifier's reading the builder records as a fact); rules on
/// account context only (`plans`, `tags`). Within a stage the first rule in file order wins.
pub fn decide<'r>(
    payload: &HandoffPayload,
    rules: &'r [RoutingRule],
) -> Option<(&'r RoutingRule, Vec<String>)> {
    let agent = (payload.intent.source == "agent").then(|| {
        (
            payload.intent.name.as_str(),
            payload.intent.sub_intent.as_deref(),
        )
    });
    let classified = if payload.intent.source == "agent" {
        crate::compose::classified_intent(payload)
    } else {
        Some((
            payload.intent.name.as_str(),
            payload.intent.sub_intent.as_deref(),
        ))
    };
    let contact = payload.context.contact.as_ref();
    for stage in [
        Stage::Reason,
        Stage::AgentIntent,
        Stage::Classifier,
        Stage::Account,
    ] {
        let intent = match stage {
            Stage::AgentIntent => agent,
            Stage::Classifier => classified,
            _ => agent.or(classified),
        };
        for rule in rules {
            if let Some(m) = matches(rule, stage, payload, intent, contact) {
                return Some((rule, m));
            }
        }
    }
    None
}

/// The stage a rule belongs to: its strongest kind of condition.
fn stage_of(rule: &RoutingRule) -> Stage {
    if !rule.reasons.is_empty() {
        Stage::Reason
    } else if !rule.intents.is_empty() {
        // Consulted twice: once on the agent's intent, once on the classifier's.
        Stage::AgentIntent
    } else {
        Stage::Account
    }
}

/// What a rule matched on in a stage, or `None` when it does not match there.
fn matches(
    rule: &RoutingRule,
    stage: Stage,
    payload: &HandoffPayload,
    intent: Option<(&str, Option<&str>)>,
    contact: Option<&Contact>,
) -> Option<Vec<String>> {
    let in_stage = stage_of(rule) == stage
        || (stage == Stage::Classifier && stage_of(rule) == Stage::AgentIntent);
    if !in_stage {
        return None;
    }
    let mut matched = Vec::new();
    if !rule.reasons.is_empty() {
        let hit = payload
            .reasons
            .iter()
            .find(|r| rule.reasons.iter().any(|k| k == r.kind.as_str()))?;
        matched.push(format!("reason:{}", hit.kind.as_str()));
    }
    if !rule.intents.is_empty() {
        let (name, sub) = intent?;
        let hit = [Some(name), sub].into_iter().flatten().find(|n| {
            rule.intents
                .iter()
                .any(|i| i.eq_ignore_ascii_case(n.trim()))
        })?;
        let source = if stage == Stage::Classifier {
            "classifier"
        } else {
            "agent_intent"
        };
        matched.push(format!("{source}:{}", hit.trim().to_ascii_lowercase()));
    }
    if !rule.plans.is_empty() {
        let plan = contact.and_then(|c| c.plan.as_deref())?;
        rule.plans
            .iter()
            .find(|p| p.eq_ignore_ascii_case(plan.trim()))?;
        matched.push(format!("account:plan={}", plan.trim().to_ascii_lowercase()));
    }
    if !rule.tags.is_empty() {
        let tag = contact?
            .tags
            .iter()
            .find(|t| rule.tags.iter().any(|r| r.eq_ignore_ascii_case(t.trim())))?;
        matched.push(format!("account:tag={}", tag.trim().to_ascii_lowercase()));
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

    fn at() -> Timestamp {
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 20, 10, 0, 0)
            .unwrap()
    }

    fn routed(policy: &Policy, payload: &HandoffPayload) -> (String, String, Vec<String>) {
        let r = route(payload, policy, at()).routing;
        (r.team, r.rule_id, r.matched_on)
    }

    /// One agent turn handing over with `transfer_to_human` and the given agent intent.
    fn handed_over(intent: &str, sub: &str, contact_text: &str) -> String {
        format!(
            r#"{{"type":"event","event_id":"e0","conversation_id":"c1","occurred_at":"2026-11-20T09:59:00Z","actor":"contact","text":"{contact_text}"}}
{{"type":"event","event_id":"e1","conversation_id":"c1","occurred_at":"2026-11-20T10:00:00Z","actor":"agent","text":"Let me get a colleague","agent":{{"intent":"{intent}","sub_intent":"{sub}","tool_calls":[{{"name":"transfer_to_human"}}]}}}}"#
        )
    }

    fn payload_of(policy: &Policy, lines: &str) -> HandoffPayload {
        let lines: Vec<&str> = lines.lines().collect();
        payloads(policy, &lines).remove(0)
    }

    #[test]
    fn reasons_before_intents_then_fallback() {
        let policy = Policy::builtin();
        let fraud = &payloads(&policy, &[FRAUD])[0];
        let r = route(fraud, &policy, at());
        assert_eq!(
            (r.routing.team.as_str(), r.routing.rule_id.as_str()),
            ("fraud", "route.fraud.reason")
        );
        assert_eq!(r.routing.matched_on, vec!["reason:fraud".to_string()]);
        assert_eq!(
            r.routing.claim_by,
            at() + policy.sla.claim_within(fraud.urgency)
        );
        let billing = &payloads(&policy, &[BILLING])[0];
        assert_eq!(route(billing, &policy, at()).routing.team, "billing");
        let mut unknown = billing.clone();
        unknown.intent.name = "astrology".into();
        unknown.facts.inferred.retain(|f| f.kind != "intent");
        let r = route(&unknown, &policy, at());
        assert_eq!(
            (r.routing.team.as_str(), r.routing.rule_id.as_str()),
            ("general", FALLBACK_RULE_ID)
        );
    }

    #[test]
    fn the_default_teams_cover_the_standard_queues() {
        let policy = Policy::builtin();
        for team in [
            "billing",
            "orders",
            "account",
            "technical",
            "fraud",
            "sales",
            "retention",
            "general",
        ] {
            assert!(policy.has_team(team), "{team}");
        }
        for (intent, sub, team) in [
            ("shipping", "delivery_delay", "orders"),
            ("order_status", "tracking", "orders"),
            ("returns", "", "orders"),
            ("login_issue", "", "account"),
            ("account", "close_account", "account"),
            ("payments", "", "billing"),
            ("refund_request", "", "billing"),
            ("bug", "", "technical"),
            ("cancel_subscription", "", "retention"),
            ("product_question", "compatibility", "general"),
        ] {
            let p = payload_of(&policy, &handed_over(intent, sub, "Hello there"));
            let (got, _, matched_on) = routed(&policy, &p);
            assert_eq!(got, team, "{intent}/{sub}: {matched_on:?}");
            assert!(
                matched_on[0].starts_with("agent_intent:"),
                "{intent}: {matched_on:?}"
            );
        }
    }

    #[test]
    fn an_agent_that_says_fraud_hands_over_to_the_fraud_team_at_urgent_priority() {
        let policy = Policy::builtin();
        let p = payload_of(
            &policy,
            &handed_over("fraud", "", "Can you check my last transactions"),
        );
        assert!(
            !p.reasons.iter().any(|r| r.kind == ReasonKind::Fraud),
            "the agent's intent alone decides here: {:?}",
            p.reasons
        );
        let (team, rule, matched_on) = routed(&policy, &p);
        assert_eq!(
            (team.as_str(), rule.as_str()),
            ("fraud", "route.fraud.intent")
        );
        assert_eq!(matched_on, vec!["agent_intent:fraud".to_string()]);
        assert_eq!(p.priority, Priority::Urgent);
    }

    #[test]
    fn the_decision_order_is_reason_agent_intent_classifier_account() {
        let policy = Policy::builtin();
        // A reason beats the agent's intent: a threat to leave goes to retention.
        let threat = handed_over(
            "billing",
            "",
            "Fix this charge or I will cancel my subscription and file a chargeback",
        );
        let (team, _, on) = routed(&policy, &payload_of(&policy, &threat));
        assert_eq!(
            (team.as_str(), on[0].as_str()),
            ("retention", "reason:threat")
        );
        // The agent's own intent beats the classifier's reading of the contact's words.
        let p = payload_of(
            &policy,
            &handed_over(
                "refund",
                "",
                "The parcel with my order has not arrived and the courier has no idea where it is",
            ),
        );
        assert_eq!(
            crate::compose::classified_intent(&p).map(|c| c.0),
            Some("orders")
        );
        let (team, _, on) = routed(&policy, &p);
        assert_eq!(
            (team.as_str(), on[0].as_str()),
            ("billing", "agent_intent:refund")
        );
        // An agent intent no team owns: the classifier decides.
        let p = payload_of(
            &policy,
            &handed_over(
                "misc",
                "",
                "The parcel with my order has not arrived and the courier has no idea where it is",
            ),
        );
        let (team, _, on) = routed(&policy, &p);
        assert_eq!(
            (team.as_str(), on[0].as_str()),
            ("orders", "classifier:orders")
        );
        // Nothing about the topic: account context decides (a prospect goes to sales).
        let mut p = payload_of(&policy, &handed_over("misc", "", "hmm"));
        p.facts.inferred.retain(|f| f.kind != "intent");
        assert_eq!(routed(&policy, &p).0, "general");
        p.context.contact.get_or_insert_with(Default::default).tags = vec!["Prospect".into()];
        let (team, _, on) = routed(&policy, &p);
        assert_eq!(
            (team.as_str(), on[0].as_str()),
            ("sales", "account:tag=prospect")
        );
    }

    #[test]
    fn rules_on_plans_match_the_contact_plan() {
        let text = crate::policy::DEFAULT_POLICY_TOML.replace(
            "tags = [\"prospect\", \"lead\", \"trial\"]",
            "plans = [\"trial\"]",
        );
        let policy = Policy::from_toml(&text, "t").unwrap();
        let mut p = payload_of(&policy, &handed_over("misc", "", "hmm"));
        p.facts.inferred.retain(|f| f.kind != "intent");
        p.context.contact.get_or_insert_with(Default::default).plan = Some("Trial".into());
        let (team, _, on) = routed(&policy, &p);
        assert_eq!(
            (team.as_str(), on[0].as_str()),
            ("sales", "account:plan=trial")
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
