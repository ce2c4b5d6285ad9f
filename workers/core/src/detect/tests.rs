use super::*;
use chrono::{TimeZone, Utc};

fn on_event(s: &mut ConversationState, e: &ConversationEvent, p: &Policy) -> Vec<DetectorOutput> {
    super::on_event(s, e, p, T0)
}

fn on_command(s: &mut ConversationState, c: &OperatorCommand, p: &Policy) -> Vec<DetectorOutput> {
    super::on_command(s, c, p, T0)
}

fn policy() -> Policy {
    Policy::builtin()
}

fn at(min: u32) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, min, 0).unwrap()
}

use crate::time::Timestamp;

/// The wall clock of these tests; rules that do not depend on time ignore it. Tests about time
/// call `super::on_event` / `super::on_command` / `on_tick` with their own.
const T0: Timestamp = Timestamp::from_naive_utc_and_offset(
    match chrono::NaiveDate::from_ymd_opt(2026, 11, 20) {
        Some(d) => match d.and_hms_opt(10, 0, 0) {
            Some(t) => t,
            None => panic!(),
        },
        None => panic!(),
    },
    Utc,
);

fn contact_says(id: &str, min: u32, text: &str) -> ConversationEvent {
    ConversationEvent {
        event_id: id.into(),
        conversation_id: "c1".into(),
        tenant_id: "acme".into(),
        occurred_at: at(min),
        channel: "web".into(),
        actor: Actor::Contact,
        text: text.into(),
        language: None,
        agent: None,
        contact: None,
        entry: None,
        attributes: Default::default(),
    }
}

fn agent_calls(id: &str, min: u32, tool: &str) -> ConversationEvent {
    ConversationEvent {
        actor: Actor::Agent,
        text: "Let me get a colleague.".into(),
        agent: Some(AgentTurn {
            confidence: Some(0.9),
            intent: Some("billing".into()),
            tool_calls: vec![ToolCall {
                name: tool.into(),
                arguments: r#"{"reason":"refund approval"}"#.into(),
            }],
            ..Default::default()
        }),
        ..contact_says(id, min, "")
    }
}

fn command(id: &str, min: u32, action: CommandAction, operator: &str) -> OperatorCommand {
    OperatorCommand {
        command_id: id.into(),
        conversation_id: "c1".into(),
        handoff_id: None,
        operator: Operator {
            id: operator.into(),
            name: operator.to_uppercase(),
            team: "billing".into(),
        },
        issued_at: at(min),
        action,
        note: None,
        send_follow_up_now: false,
        target_team: None,
        outcome: None,
    }
}

fn lifecycles(out: &[DetectorOutput]) -> Vec<&LifecycleEvent> {
    out.iter()
        .filter_map(|o| match o {
            DetectorOutput::Lifecycle(l) => Some(l),
            _ => None,
        })
        .collect()
}

fn signals(out: &[DetectorOutput]) -> Vec<&StopSignal> {
    out.iter()
        .filter_map(|o| match o {
            DetectorOutput::Signal(s) => Some(s),
            _ => None,
        })
        .collect()
}

fn controls(out: &[DetectorOutput]) -> Vec<&AgentControl> {
    out.iter()
        .filter_map(|o| match o {
            DetectorOutput::Control(c) => Some(c),
            _ => None,
        })
        .collect()
}

/// An escalated conversation: state, and the handoff id.
fn escalated() -> (ConversationState, String) {
    let mut s = ConversationState::new("c1");
    let out = on_event(
        &mut s,
        &contact_says("e1", 0, "can I talk to a person?"),
        &policy(),
    );
    let handoff = signals(&out)[0].handoff_id.clone();
    (s, handoff)
}

#[test]
fn explicit_request_escalates_with_pause_notice_and_lifecycle() {
    let p = policy();
    let mut s = ConversationState::new("c1");
    assert!(on_event(
        &mut s,
        &contact_says("e0", 0, "hello, my order is late"),
        &p
    )
    .is_empty());
    let out = on_event(
        &mut s,
        &contact_says("e1", 1, "can I talk to a person?"),
        &p,
    );
    let sig = signals(&out);
    assert_eq!(sig.len(), 1);
    assert_eq!(sig[0].decision, Decision::Escalate);
    assert_eq!(sig[0].reasons[0].kind, ReasonKind::ExplicitRequest);
    assert_eq!(sig[0].reasons[0].rule_id, "explicit_request.v1");
    assert_eq!(sig[0].reasons[0].evidence_event_id, "e1");
    assert_eq!(sig[0].trigger_event_id, "e1");
    assert_eq!(sig[0].policy_version, p.version());
    assert_eq!(
        sig[0].transcript.len(),
        2,
        "the window carries the earlier turn"
    );
    let ctl = controls(&out);
    assert_eq!(ctl[0].action, ControlAction::Pause);
    assert_eq!(
        ctl[0].contact_notice.as_deref(),
        Some(p.handoff.contact_notice.as_str())
    );
    let lc = lifecycles(&out);
    assert_eq!(
        (lc[0].from_state, lc[0].to_state),
        (ControlState::AgentActive, ControlState::AwaitingHuman)
    );
    assert_eq!(s.control, ControlState::AwaitingHuman);
}

#[test]
fn tool_call_escalates_with_its_arguments_as_evidence() {
    let mut s = ConversationState::new("c1");
    let out = on_event(
        &mut s,
        &agent_calls("e1", 0, "transfer_to_human"),
        &policy(),
    );
    let sig = signals(&out);
    assert_eq!(sig[0].reasons[0].kind, ReasonKind::ToolCall);
    assert!(sig[0].reasons[0].evidence_text.contains("refund approval"));
    assert_eq!(sig[0].agent_intent.as_deref(), Some("billing"));
}

#[test]
fn other_tools_and_contact_turns_do_not_fire() {
    let mut s = ConversationState::new("c1");
    assert!(on_event(&mut s, &agent_calls("e1", 0, "lookup_order"), &policy()).is_empty());
    assert!(on_event(&mut s, &contact_says("e2", 1, "are you a bot?"), &policy()).is_empty());
}

#[test]
fn handoff_ids_are_deterministic() {
    let (_, a) = escalated();
    let (_, b) = escalated();
    assert_eq!(a, b);
}

#[test]
fn no_second_escalation_while_a_human_owns_it() {
    let (mut s, _) = escalated();
    assert!(on_event(
        &mut s,
        &contact_says("e2", 1, "hello?? get me a manager"),
        &policy()
    )
    .is_empty());
    on_command(
        &mut s,
        &command("k1", 2, CommandAction::Claim, "u1"),
        &policy(),
    );
    assert!(on_event(&mut s, &contact_says("e3", 3, "I want a human"), &policy()).is_empty());
    assert_eq!(s.transcript.len(), 3, "turns are still recorded");
}

#[test]
fn redelivered_event_is_ignored() {
    let (mut s, _) = escalated();
    on_command(
        &mut s,
        &command("k1", 1, CommandAction::Resume, "u1"),
        &policy(),
    );
    // The same triggering event delivered again after the handback must not escalate again.
    assert!(on_event(
        &mut s,
        &contact_says("e1", 0, "can I talk to a person?"),
        &policy()
    )
    .is_empty());
}

#[test]
fn claim_then_resume_with_note_hands_back_with_context() {
    let p = policy();
    let (mut s, handoff) = escalated();
    let out = on_command(&mut s, &command("k1", 1, CommandAction::Claim, "u1"), &p);
    let lc = lifecycles(&out);
    assert_eq!(lc[0].transition, "claimed");
    assert!(lc[0].accepted);
    assert_eq!(lc[0].handoff_id, handoff);
    assert_eq!(s.claimed_by.as_deref(), Some("u1"));

    let mut resume = command("k2", 2, CommandAction::Resume, "u1");
    resume.note = Some("Refund approved, 7 days to clear.".into());
    resume.send_follow_up_now = true;
    let out = on_command(&mut s, &resume, &p);
    let ctl = controls(&out);
    assert_eq!(ctl[0].action, ControlAction::Resume);
    let context = ctl[0].handoff_context.as_deref().unwrap();
    assert!(
        context.contains("Refund approved, 7 days to clear."),
        "{context}"
    );
    assert!(context.contains("Do not re-open topics"), "{context}");
    assert!(ctl[0].send_follow_up_now);
    let lc = lifecycles(&out);
    assert_eq!(
        (lc[0].from_state, lc[0].to_state),
        (ControlState::Claimed, ControlState::ReturnedToAgent)
    );
    assert_eq!(s.control, ControlState::AgentActive);

    // A genuinely new request after the handback escalates again, as a new handoff.
    let out = on_event(
        &mut s,
        &contact_says("e9", 30, "I need to speak with a manager"),
        &p,
    );
    assert_ne!(signals(&out)[0].handoff_id, handoff);
}

#[test]
fn claim_by_another_operator_is_rejected_and_a_repeat_is_a_no_op() {
    let (mut s, _) = escalated();
    on_command(
        &mut s,
        &command("k1", 1, CommandAction::Claim, "u1"),
        &policy(),
    );
    assert!(
        on_command(
            &mut s,
            &command("k1", 1, CommandAction::Claim, "u1"),
            &policy()
        )
        .is_empty(),
        "same command id"
    );
    assert!(
        on_command(
            &mut s,
            &command("k1b", 1, CommandAction::Claim, "u1"),
            &policy()
        )
        .is_empty(),
        "owner claims again"
    );
    let out = on_command(
        &mut s,
        &command("k2", 2, CommandAction::Claim, "u2"),
        &policy(),
    );
    let lc = lifecycles(&out);
    assert!(!lc[0].accepted);
    assert!(lc[0]
        .rejection_reason
        .as_deref()
        .unwrap()
        .contains("already claimed"));
    assert_eq!(s.claimed_by.as_deref(), Some("u1"));
}

#[test]
fn claim_on_a_resolved_handoff_is_rejected() {
    let (mut s, _) = escalated();
    on_command(
        &mut s,
        &command("k1", 1, CommandAction::Claim, "u1"),
        &policy(),
    );
    let out = on_command(
        &mut s,
        &command("k2", 2, CommandAction::Resolve, "u1"),
        &policy(),
    );
    assert_eq!(lifecycles(&out)[0].to_state, ControlState::Resolved);
    let out = on_command(
        &mut s,
        &command("k3", 3, CommandAction::Claim, "u2"),
        &policy(),
    );
    let lc = lifecycles(&out);
    assert!(!lc[0].accepted);
    assert!(
        lc[0]
            .rejection_reason
            .as_deref()
            .unwrap()
            .contains("no open handoff"),
        "{:?}",
        lc[0].rejection_reason
    );
}

#[test]
fn resume_with_nobody_to_resume_is_rejected() {
    let mut s = ConversationState::new("c1");
    let out = on_command(
        &mut s,
        &command("k1", 1, CommandAction::Resume, "u1"),
        &policy(),
    );
    assert!(!lifecycles(&out)[0].accepted);
}

#[test]
fn take_over_pulls_an_active_conversation() {
    let mut s = ConversationState::new("c1");
    on_event(&mut s, &contact_says("e0", 0, "hi there"), &policy());
    let mut take = command("k1", 1, CommandAction::TakeOver, "u7");
    take.note = Some("VIP, I'll handle it".into());
    let out = on_command(&mut s, &take, &policy());
    let sig = signals(&out);
    assert_eq!(sig[0].reasons[0].kind, ReasonKind::Manual);
    assert_eq!(sig[0].reasons[0].rule_id, "manual.take_over");
    assert_eq!(controls(&out)[0].action, ControlAction::Pause);
    assert_eq!(lifecycles(&out)[0].to_state, ControlState::Claimed);
    assert_eq!(s.claimed_by.as_deref(), Some("u7"));
}

#[test]
fn unknown_action_and_unknown_team_are_rejected() {
    let (mut s, _) = escalated();
    let out = on_command(
        &mut s,
        &command("k1", 1, CommandAction::Unknown, "u1"),
        &policy(),
    );
    assert_eq!(
        lifecycles(&out)[0].rejection_reason.as_deref(),
        Some("unknown action")
    );
    let mut reassign = command("k2", 2, CommandAction::Reassign, "u1");
    reassign.target_team = Some("astronauts".into());
    let out = on_command(&mut s, &reassign, &policy());
    assert!(!lifecycles(&out)[0].accepted);
    reassign.command_id = "k3".into();
    reassign.target_team = Some("technical".into());
    let out = on_command(&mut s, &reassign, &policy());
    let lc = lifecycles(&out);
    assert!(lc[0].accepted);
    assert_eq!(lc[0].team.as_deref(), Some("technical"));
}

#[test]
fn a_command_for_an_older_handoff_is_rejected() {
    let (mut s, _) = escalated();
    let mut claim = command("k1", 1, CommandAction::Claim, "u1");
    claim.handoff_id = Some("some-old-handoff".into());
    let out = on_command(&mut s, &claim, &policy());
    assert!(!lifecycles(&out)[0].accepted);
    assert_eq!(s.control, ControlState::AwaitingHuman);
}

#[test]
fn state_survives_serialisation() {
    let (s, _) = escalated();
    let json = serde_json::to_string(&s).unwrap();
    let back: ConversationState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
}

// ---- issue 3: every stop condition, plan gating, cool-down, working hours, SLA ----

fn first_signal(out: &[DetectorOutput]) -> &StopSignal {
    signals(out).into_iter().next().expect("a signal")
}

fn run_contact(texts: &[&str]) -> (ConversationState, Vec<DetectorOutput>) {
    let p = policy();
    let mut s = ConversationState::new("c1");
    let mut all = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        all.extend(on_event(
            &mut s,
            &contact_says(&format!("e{i}"), i as u32, t),
            &p,
        ));
    }
    (s, all)
}

#[test]
fn hostile_turn_escalates_and_sarcastic_praise_does_not() {
    let (_, out) =
        run_contact(&["This is absolutely useless, you people are incompetent and I'm furious!!"]);
    let sig = first_signal(&out);
    assert_eq!(sig.reasons[0].kind, ReasonKind::Sentiment);
    assert_eq!(
        sig.reasons[0].threshold,
        Some(policy().rules.sentiment.turn_threshold)
    );
    let (_, out) = run_contact(&[
        "that's the worst thing I've ever heard, I love it",
        "sick feature, honestly",
    ]);
    assert!(signals(&out).is_empty(), "{out:?}");
}

#[test]
fn building_frustration_escalates_on_the_trajectory() {
    let (_, out) = run_contact(&[
        "My invoice is wrong again.",
        "I'm getting really annoyed now.",
        "This is disappointing.",
    ]);
    let sig = first_signal(&out);
    assert_eq!(sig.reasons[0].kind, ReasonKind::Sentiment);
    assert!(
        sig.reasons[0].evidence_text.contains("building"),
        "{}",
        sig.reasons[0].evidence_text
    );
}

#[test]
fn threats_escalate_immediately() {
    for text in [
        "If this isn't fixed today I'll file a chargeback",
        "I'm talking to my lawyer about this",
        "I want to cancel my subscription, I'm switching to a competitor",
    ] {
        let (_, out) = run_contact(&[text]);
        let sig = first_signal(&out);
        assert!(
            sig.reasons.iter().any(|r| r.kind == ReasonKind::Threat),
            "{text}"
        );
        assert_eq!(sig.urgency, Urgency::Immediate, "{text}");
    }
    let (_, out) = run_contact(&["How do I cancel an order I placed by mistake?"]);
    assert!(signals(&out)
        .iter()
        .all(|s| s.reasons.iter().all(|r| r.kind != ReasonKind::Threat)));
}

#[test]
fn compliance_keywords_pause_with_word_boundaries() {
    let (s, out) = run_contact(&["Please unsubscribe me from all emails"]);
    assert_eq!(first_signal(&out).reasons[0].kind, ReasonKind::Keyword);
    assert_eq!(controls(&out)[0].action, ControlAction::Pause);
    assert_eq!(s.control, ControlState::AwaitingHuman);
    let (_, out) = run_contact(&["STOP"]);
    assert_eq!(first_signal(&out).reasons[0].kind, ReasonKind::Keyword);
    let (_, out) = run_contact(&[
        "the courier stopped at the wrong address",
        "please stop the shipment",
    ]);
    assert!(signals(&out)
        .iter()
        .all(|s| s.reasons.iter().all(|r| r.kind != ReasonKind::Keyword)));
}

fn agent_turn(id: &str, min: u32, confidence: f64) -> ConversationEvent {
    ConversationEvent {
        actor: Actor::Agent,
        text: "I think it might be this.".into(),
        agent: Some(AgentTurn {
            confidence: Some(confidence),
            ..Default::default()
        }),
        ..contact_says(id, min, "")
    }
}

#[test]
fn low_confidence_needs_consecutive_turns() {
    let p = policy();
    let mut s = ConversationState::new("c1");
    // A single dip, then recovery: nothing.
    assert!(on_event(&mut s, &agent_turn("a1", 0, 0.2), &p).is_empty());
    assert!(on_event(&mut s, &agent_turn("a2", 1, 0.9), &p).is_empty());
    assert!(on_event(&mut s, &agent_turn("a3", 2, 0.3), &p).is_empty());
    assert!(on_event(&mut s, &agent_turn("a4", 3, 0.25), &p).is_empty());
    let out = on_event(&mut s, &agent_turn("a5", 4, 0.1), &p);
    let sig = first_signal(&out);
    assert_eq!(sig.reasons[0].kind, ReasonKind::LowConfidence);
    assert_eq!(
        sig.reasons[0].threshold,
        Some(p.rules.low_confidence.threshold)
    );
}

#[test]
fn out_of_scope_from_the_agent_flag_or_the_contact() {
    let p = policy();
    let mut s = ConversationState::new("c1");
    let mut flagged = agent_turn("a1", 0, 0.9);
    flagged.agent.as_mut().unwrap().out_of_scope = true;
    assert_eq!(
        first_signal(&on_event(&mut s, &flagged, &p)).reasons[0].kind,
        ReasonKind::OutOfScope
    );
    let (_, out) = run_contact(&["Should I take ibuprofen for my back pain or see a doctor?"]);
    assert_eq!(first_signal(&out).reasons[0].kind, ReasonKind::OutOfScope);
}

#[test]
fn fraud_escalates_immediately() {
    let (_, out) = run_contact(&["There's a charge of EUR 899 on my card I don't recognise"]);
    let sig = first_signal(&out);
    assert_eq!(sig.reasons[0].kind, ReasonKind::Fraud);
    assert_eq!(sig.urgency, Urgency::Immediate);
}

#[test]
fn high_fit_lead_escalates_and_low_fit_is_nurtured() {
    let (s, out) = run_contact(&[
        "We'd like a quote for 300 seats on the enterprise plan, budget is around USD 90,000.",
    ]);
    let sig = first_signal(&out);
    assert_eq!(
        (sig.decision, sig.urgency),
        (Decision::Escalate, Urgency::Immediate)
    );
    assert_eq!(sig.reasons[0].kind, ReasonKind::Sales);
    assert_eq!(s.control, ControlState::AwaitingHuman);

    let (s, out) = run_contact(&["Do you offer a discount if we buy 3 licences?"]);
    let sig = first_signal(&out);
    assert_eq!(
        (sig.decision, sig.urgency),
        (Decision::Flag, Urgency::Nurture)
    );
    assert!(
        controls(&out).is_empty(),
        "a nurture flag does not pause the agent"
    );
    assert_eq!(s.control, ControlState::AgentActive);
    assert_eq!(lifecycles(&out)[0].transition, "flagged");

    // A negotiation from a lead of unknown size needs sales; a plain price question does not.
    let (_, out) = run_contact(&["Can you do a better price if we sign the contract this month?"]);
    assert_eq!(first_signal(&out).decision, Decision::Escalate);
    let (_, out) = run_contact(&["What is the price of the pro plan?"]);
    assert_eq!(
        (first_signal(&out).decision, first_signal(&out).urgency),
        (Decision::Flag, Urgency::Nurture)
    );
}

#[test]
fn starter_plan_records_a_flag_instead_of_escalating() {
    let p = policy();
    let mut s = ConversationState::new("c1");
    let mut first = contact_says("e1", 0, "can I talk to a person?");
    first.contact = Some(Contact {
        plan: Some("starter".into()),
        ..Default::default()
    });
    let out = on_event(&mut s, &first, &p);
    let sig = first_signal(&out);
    assert_eq!(sig.decision, Decision::Flag);
    assert!(sig
        .reasons
        .iter()
        .any(|r| r.kind == ReasonKind::HandoffDisabledByPlan
            && r.rule_id == "plans.handoff_disabled"));
    assert!(
        sig.reasons
            .iter()
            .any(|r| r.kind == ReasonKind::ExplicitRequest),
        "the rule that fired is still recorded"
    );
    assert!(controls(&out).is_empty());
    assert_eq!(s.control, ControlState::AgentActive);
}

#[test]
fn contact_notice_in_the_conversation_language() {
    let p = policy();
    let mut s = ConversationState::new("c1");
    let mut e = contact_says("e1", 0, "Quiero hablar con una persona");
    e.language = Some("es".into());
    let out = on_event(&mut s, &e, &p);
    assert!(controls(&out)[0]
        .contact_notice
        .as_deref()
        .unwrap()
        .starts_with("Gracias"));
}

/// A conversation escalated by the agent's tool call, claimed and handed back with a note.
fn handed_back(resume_at: Timestamp, follow_up: bool) -> (ConversationState, Vec<DetectorOutput>) {
    let p = policy();
    let mut s = ConversationState::new("c1");
    super::on_event(&mut s, &agent_calls("e1", 0, "transfer_to_human"), &p, T0);
    super::on_command(
        &mut s,
        &command("k1", 1, CommandAction::Claim, "u1"),
        &p,
        T0,
    );
    let mut resume = command("k2", 2, CommandAction::Resume, "u1");
    resume.issued_at = resume_at;
    resume.note = Some("Refund approved, 7 days to clear.".into());
    resume.send_follow_up_now = follow_up;
    let out = super::on_command(&mut s, &resume, &p, resume_at);
    (s, out)
}

#[test]
fn follow_up_only_inside_working_hours() {
    // Friday 10:00 UTC is 11:00 in Madrid: inside.
    let (_, out) = handed_back(T0, true);
    let c = controls(&out)[0];
    assert!(c.send_follow_up_now);
    assert_eq!(c.follow_up_skipped_reason, None);
    // Saturday: the agent is unpaused, the follow-up skipped with the reason.
    let saturday = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
    let (s, out) = handed_back(saturday, true);
    let c = controls(&out)[0];
    assert_eq!(c.action, ControlAction::Resume);
    assert!(!c.send_follow_up_now);
    assert!(c
        .follow_up_skipped_reason
        .as_deref()
        .unwrap()
        .contains("outside working hours"));
    assert_eq!(s.control, ControlState::AgentActive);
}

#[test]
fn the_closed_topic_does_not_re_escalate_but_a_new_trigger_does() {
    let p = policy();
    let (mut s, _) = handed_back(T0, false);
    let later = T0 + chrono::Duration::minutes(3);
    // The agent asks for a human about the same refund again: suppressed by the cool-down.
    let out = super::on_event(
        &mut s,
        &agent_calls("e5", 4, "transfer_to_human"),
        &p,
        later,
    );
    assert!(signals(&out).is_empty(), "{out:?}");
    // The contact is still a bit cross about the refund: frustration history was reset.
    assert!(super::on_event(
        &mut s,
        &contact_says("e6", 5, "ok but 7 days is still annoying"),
        &p,
        later
    )
    .is_empty());
    // A genuinely new trigger fires.
    let out = super::on_event(
        &mut s,
        &contact_says(
            "e7",
            6,
            "also someone stole my card and used it, I don't recognise a charge",
        ),
        &p,
        later,
    );
    assert_eq!(first_signal(&out).reasons[0].kind, ReasonKind::Fraud);
}

#[test]
fn the_cool_down_ends_after_its_turns_and_minutes() {
    let p = policy();
    let (mut s, _) = handed_back(T0, false);
    let much_later = T0 + chrono::Duration::minutes(i64::from(p.handoff.cooldown_minutes) + 1);
    for i in 0..p.handoff.cooldown_turns {
        super::on_event(
            &mut s,
            &contact_says(&format!("x{i}"), 10, "thanks"),
            &p,
            much_later,
        );
    }
    let out = super::on_event(
        &mut s,
        &agent_calls("e9", 30, "transfer_to_human"),
        &p,
        much_later,
    );
    assert_eq!(first_signal(&out).reasons[0].kind, ReasonKind::ToolCall);
}

#[test]
fn an_unclaimed_handoff_breaches_its_sla_once_per_deadline() {
    let p = policy();
    let mut s = ConversationState::new("c1");
    let out = super::on_event(
        &mut s,
        &contact_says("e1", 0, "can I talk to a person?"),
        &p,
        T0,
    );
    let handoff = first_signal(&out).handoff_id.clone();
    let deadline = T0 + p.sla.claim_within(Urgency::Normal);
    assert!(on_tick(&mut s, &p, deadline - chrono::Duration::seconds(1)).is_empty());
    let out = on_tick(&mut s, &p, deadline);
    let lc = lifecycles(&out);
    assert_eq!(lc[0].transition, "sla_breached");
    let sig = first_signal(&out);
    assert_eq!(sig.handoff_id, handoff, "the same handoff, re-escalated");
    assert_eq!(sig.urgency, Urgency::Immediate);
    assert_eq!(sig.reasons[0].kind, ReasonKind::SlaBreach);
    assert!(sig
        .reasons
        .iter()
        .any(|r| r.kind == ReasonKind::ExplicitRequest));
    assert!(
        on_tick(&mut s, &p, deadline + chrono::Duration::seconds(1)).is_empty(),
        "not twice for one deadline"
    );
    // Deadlines are state: they survive a restart (serialisation round trip).
    let restored: ConversationState =
        serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(restored.claim_by_ms, s.claim_by_ms);
}

#[test]
fn a_claimed_handoff_does_not_breach() {
    let p = policy();
    let mut s = ConversationState::new("c1");
    super::on_event(
        &mut s,
        &contact_says("e1", 0, "can I talk to a person?"),
        &p,
        T0,
    );
    super::on_command(
        &mut s,
        &command("k1", 1, CommandAction::Claim, "u1"),
        &p,
        T0,
    );
    assert!(on_tick(&mut s, &p, T0 + chrono::Duration::days(1)).is_empty());
}

#[test]
fn idle_conversations_are_evictable_unless_a_human_owns_them() {
    let p = policy();
    let day = chrono::Duration::minutes(i64::from(p.handoff.idle_eviction_minutes));
    let (s, _) = run_contact(&["hello"]);
    assert!(!s.evictable(T0, &p));
    assert!(s.evictable(T0 + day, &p));
    let (s, _) = run_contact(&["can I talk to a person?"]);
    assert!(!s.evictable(T0 + day + day, &p), "awaiting a human");
}

/// A long conversation keeps at most `TRANSCRIPT_TEXT_BUDGET` bytes of turn text: the oldest
/// turns go first, but the opening contact turn (what the customer came for) and the newest
/// turn always stay, and the ids still point at their events.
#[test]
fn the_transcript_keeps_its_text_budget_the_opening_turn_and_the_newest() {
    let p = policy();
    let mut s = ConversationState::new("c1");
    let line = "I am still waiting on the parcel, the tracking page shows nothing new";
    for i in 0..30u32 {
        on_event(&mut s, &contact_says(&format!("e{i}"), i, line), &p);
    }
    let ids: Vec<String> = s.transcript.iter().map(|t| t.event_id()).collect();
    assert!(
        s.transcript.text_bytes() <= TRANSCRIPT_TEXT_BUDGET,
        "{ids:?}"
    );
    assert_eq!(
        ids.first().map(String::as_str),
        Some("e0"),
        "the opening turn stays"
    );
    assert_eq!(
        ids.last().map(String::as_str),
        Some("e29"),
        "the newest turn stays"
    );
    assert!(
        ids.len() >= TRANSCRIPT_TEXT_BUDGET / (line.len() + 1),
        "as many turns as the budget holds: {ids:?}"
    );
    assert!(
        !ids.contains(&"e1".to_string()),
        "the oldest after the opening go first"
    );
}
