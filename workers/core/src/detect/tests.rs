use super::*;
use chrono::{TimeZone, Utc};

fn policy() -> Policy {
    Policy::builtin()
}

fn at(min: u32) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, min, 0).unwrap()
}

use crate::time::Timestamp;

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
