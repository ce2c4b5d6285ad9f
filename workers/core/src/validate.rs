//! Validation of input records a consumer must not act on even though they decode.
//!
//! A ConversationEvent or OperatorCommand can be well-formed Avro and still be poison: empty
//! ids, a megabyte of text that would bloat the detector's state and every transcript built
//! from it, a timestamp decades away (a seconds-vs-milliseconds mix-up upstream), a thousand
//! tool calls, a NaN confidence. The detector checks each input here *before* it touches any
//! state and dead-letters what fails (`handoff.dlq.kind = invalid_record`, the [`Invalid`]
//! kind and message in `handoff.dlq.error`).
//!
//! What is *not* invalid: a command with an action this reader does not know, or for a
//! conversation without an open handoff. Those are well-formed requests the control state
//! machine answers with a rejected LifecycleEvent, so the operator sees why.
//!
//! Pure: the caller passes `now` (the detector's clock).

use crate::records::{AgentTurn, Contact, ConversationEvent, Entry, OperatorCommand};
use chrono::{DateTime, Utc};
use std::fmt;

/// The dead-letter kind (`handoff.dlq.kind`) of a record refused here; `handoff replay`
/// reports refused records with it too.
pub const DEAD_LETTER_KIND: &str = "invalid_record";

/// Bounds on one input record. [`DEFAULT_LIMITS`] is what the workers use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Ids (`event_id`, `conversation_id`, `tenant_id`, `command_id`, operator id, handoff id).
    pub max_id_bytes: usize,
    /// A turn's `text` and a command's `note`: what ends up in transcripts and payloads.
    pub max_text_bytes: usize,
    /// Any other string (tool-call arguments, citation snippets, contact and entry fields,
    /// attribute values...).
    pub max_field_bytes: usize,
    /// A timestamp more than this many days before `now` is refused.
    pub max_past_days: i64,
    /// A timestamp more than this many minutes after `now` is refused (clock skew allowance).
    pub max_future_minutes: i64,
    pub max_tool_calls: usize,
    pub max_citations: usize,
    /// Entries of each map or list: `attributes`, `form_fields`, contact `tags`.
    pub max_entries: usize,
}

/// The limits the workers apply.
pub const DEFAULT_LIMITS: Limits = Limits {
    max_id_bytes: 256,
    max_text_bytes: 64 * 1024,
    max_field_bytes: 16 * 1024,
    // Ten years: wide enough for replays of old conversations and fixed-date samples, narrow
    // enough to catch seconds-for-milliseconds mistakes (1970) and garbage.
    max_past_days: 3650,
    max_future_minutes: 10,
    max_tool_calls: 32,
    max_citations: 32,
    max_entries: 64,
};

impl Default for Limits {
    fn default() -> Self {
        DEFAULT_LIMITS
    }
}

/// Why a record is refused. `kind` is stable and machine-readable; `message` names the field
/// and the values involved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// One of [`kinds`].
    pub kind: &'static str,
    pub message: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Invalid {}

/// The stable `Invalid::kind` values.
pub mod kinds {
    /// A required id is empty or only whitespace.
    pub const EMPTY_ID: &str = "empty_id";
    /// An id is longer than `max_id_bytes`.
    pub const ID_TOO_LONG: &str = "id_too_long";
    /// `text` or `note` is longer than `max_text_bytes`.
    pub const TEXT_TOO_LARGE: &str = "text_too_large";
    /// Another string is longer than `max_field_bytes`.
    pub const FIELD_TOO_LARGE: &str = "field_too_large";
    /// A list or map has more entries than its limit.
    pub const TOO_MANY: &str = "too_many_entries";
    /// The timestamp is more than `max_past_days` before now.
    pub const TOO_OLD: &str = "timestamp_too_old";
    /// The timestamp is more than `max_future_minutes` after now.
    pub const IN_FUTURE: &str = "timestamp_in_future";
    /// A number that must be finite (and, for confidences, within [0, 1]) is not.
    pub const OUT_OF_RANGE: &str = "out_of_range";
}

fn invalid(kind: &'static str, message: String) -> Invalid {
    Invalid { kind, message }
}

fn required_id(field: &str, value: &str, limits: &Limits) -> Result<(), Invalid> {
    if value.trim().is_empty() {
        return Err(invalid(kinds::EMPTY_ID, format!("{field} is empty")));
    }
    optional_id(field, value, limits)
}

fn optional_id(field: &str, value: &str, limits: &Limits) -> Result<(), Invalid> {
    if value.len() > limits.max_id_bytes {
        return Err(invalid(
            kinds::ID_TOO_LONG,
            format!(
                "{field} is {} bytes, over the {}-byte limit",
                value.len(),
                limits.max_id_bytes
            ),
        ));
    }
    Ok(())
}

fn text(field: &str, value: &str, limits: &Limits) -> Result<(), Invalid> {
    if value.len() > limits.max_text_bytes {
        return Err(invalid(
            kinds::TEXT_TOO_LARGE,
            format!(
                "{field} is {} bytes, over the {}-byte limit",
                value.len(),
                limits.max_text_bytes
            ),
        ));
    }
    Ok(())
}

fn field(name: &str, value: &str, limits: &Limits) -> Result<(), Invalid> {
    if value.len() > limits.max_field_bytes {
        return Err(invalid(
            kinds::FIELD_TOO_LARGE,
            format!(
                "{name} is {} bytes, over the {}-byte limit",
                value.len(),
                limits.max_field_bytes
            ),
        ));
    }
    Ok(())
}

fn opt_field(name: &str, value: &Option<String>, limits: &Limits) -> Result<(), Invalid> {
    value.as_deref().map_or(Ok(()), |v| field(name, v, limits))
}

fn count(name: &str, n: usize, max: usize) -> Result<(), Invalid> {
    if n > max {
        return Err(invalid(
            kinds::TOO_MANY,
            format!("{name} has {n} entries, over the limit of {max}"),
        ));
    }
    Ok(())
}

fn map<'a>(
    name: &str,
    entries: impl ExactSizeIterator<Item = (&'a String, &'a String)>,
    limits: &Limits,
) -> Result<(), Invalid> {
    count(name, entries.len(), limits.max_entries)?;
    for (k, v) in entries {
        field(&format!("{name} key"), k, limits)?;
        field(&format!("{name}[{k:?}]"), v, limits)?;
    }
    Ok(())
}

fn finite(name: &str, v: Option<f64>) -> Result<(), Invalid> {
    match v {
        Some(x) if !x.is_finite() => Err(invalid(
            kinds::OUT_OF_RANGE,
            format!("{name} is {x}, not a finite number"),
        )),
        _ => Ok(()),
    }
}

/// `at` must lie within `[now - max_past_days, now + max_future_minutes]`.
fn timestamp(
    name: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<(), Invalid> {
    // Milliseconds, saturating: `at` may be anywhere in chrono's range.
    let delta_ms = at.timestamp_millis().saturating_sub(now.timestamp_millis());
    let past_ms = limits.max_past_days.saturating_mul(86_400_000);
    let future_ms = limits.max_future_minutes.saturating_mul(60_000);
    if delta_ms < -past_ms {
        return Err(invalid(
            kinds::TOO_OLD,
            format!(
                "{name} {} is more than {} days before now ({})",
                at.to_rfc3339(),
                limits.max_past_days,
                now.to_rfc3339()
            ),
        ));
    }
    if delta_ms > future_ms {
        return Err(invalid(
            kinds::IN_FUTURE,
            format!(
                "{name} {} is more than {} minutes after now ({})",
                at.to_rfc3339(),
                limits.max_future_minutes,
                now.to_rfc3339()
            ),
        ));
    }
    Ok(())
}

fn agent(a: &AgentTurn, limits: &Limits) -> Result<(), Invalid> {
    finite("agent.confidence", a.confidence)?;
    if let Some(c) = a.confidence {
        if !(0.0..=1.0).contains(&c) {
            return Err(invalid(
                kinds::OUT_OF_RANGE,
                format!("agent.confidence is {c}, outside [0, 1]"),
            ));
        }
    }
    opt_field("agent.intent", &a.intent, limits)?;
    opt_field("agent.sub_intent", &a.sub_intent, limits)?;
    count(
        "agent.tool_calls",
        a.tool_calls.len(),
        limits.max_tool_calls,
    )?;
    for (i, t) in a.tool_calls.iter().enumerate() {
        field(&format!("agent.tool_calls[{i}].name"), &t.name, limits)?;
        field(
            &format!("agent.tool_calls[{i}].arguments"),
            &t.arguments,
            limits,
        )?;
    }
    count("agent.citations", a.citations.len(), limits.max_citations)?;
    for (i, c) in a.citations.iter().enumerate() {
        field(
            &format!("agent.citations[{i}].source_id"),
            &c.source_id,
            limits,
        )?;
        field(&format!("agent.citations[{i}].title"), &c.title, limits)?;
        opt_field(&format!("agent.citations[{i}].url"), &c.url, limits)?;
        opt_field(&format!("agent.citations[{i}].snippet"), &c.snippet, limits)?;
    }
    Ok(())
}

fn contact(c: &Contact, limits: &Limits) -> Result<(), Invalid> {
    for (name, v) in [
        ("contact.contact_id", &c.contact_id),
        ("contact.name", &c.name),
        ("contact.email", &c.email),
        ("contact.phone", &c.phone),
        ("contact.company", &c.company),
        ("contact.role", &c.role),
        ("contact.account_id", &c.account_id),
        ("contact.plan", &c.plan),
    ] {
        opt_field(name, v, limits)?;
    }
    finite("contact.value", c.value)?;
    count("contact.tags", c.tags.len(), limits.max_entries)?;
    for (i, t) in c.tags.iter().enumerate() {
        field(&format!("contact.tags[{i}]"), t, limits)?;
    }
    Ok(())
}

fn entry(e: &Entry, limits: &Limits) -> Result<(), Invalid> {
    opt_field("entry.source_url", &e.source_url, limits)?;
    opt_field("entry.campaign", &e.campaign, limits)?;
    opt_field("entry.referrer", &e.referrer, limits)?;
    map("entry.form_fields", e.form_fields.iter(), limits)
}

/// Checks a conversation event against `limits`, with `now` as the reference clock.
pub fn event(e: &ConversationEvent, now: DateTime<Utc>, limits: &Limits) -> Result<(), Invalid> {
    required_id("event_id", &e.event_id, limits)?;
    required_id("conversation_id", &e.conversation_id, limits)?;
    optional_id("tenant_id", &e.tenant_id, limits)?;
    timestamp("occurred_at", e.occurred_at, now, limits)?;
    field("channel", &e.channel, limits)?;
    text("text", &e.text, limits)?;
    opt_field("language", &e.language, limits)?;
    if let Some(a) = &e.agent {
        agent(a, limits)?;
    }
    if let Some(c) = &e.contact {
        contact(c, limits)?;
    }
    if let Some(en) = &e.entry {
        entry(en, limits)?;
    }
    map("attributes", e.attributes.iter(), limits)
}

/// Checks an operator command against `limits`. An unknown action is *not* invalid (the
/// detector answers it with a rejected LifecycleEvent).
pub fn command(c: &OperatorCommand, now: DateTime<Utc>, limits: &Limits) -> Result<(), Invalid> {
    required_id("command_id", &c.command_id, limits)?;
    required_id("conversation_id", &c.conversation_id, limits)?;
    if let Some(h) = &c.handoff_id {
        required_id("handoff_id", h, limits)?;
    }
    required_id("operator.id", &c.operator.id, limits)?;
    field("operator.name", &c.operator.name, limits)?;
    field("operator.team", &c.operator.team, limits)?;
    timestamp("issued_at", c.issued_at, now, limits)?;
    if let Some(n) = &c.note {
        text("note", n, limits)?;
    }
    opt_field("target_team", &c.target_team, limits)?;
    opt_field("outcome", &c.outcome, limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::*;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
    }

    fn ev() -> ConversationEvent {
        ConversationEvent {
            event_id: "e-1".into(),
            conversation_id: "c-1".into(),
            tenant_id: "acme".into(),
            occurred_at: now() - Duration::seconds(3),
            channel: "web".into(),
            actor: Actor::Contact,
            text: "can I talk to a person".into(),
            language: Some("en".into()),
            agent: Some(AgentTurn {
                confidence: Some(0.4),
                intent: Some("billing".into()),
                sub_intent: None,
                out_of_scope: false,
                tool_calls: vec![ToolCall {
                    name: "transfer_to_human".into(),
                    arguments: "{}".into(),
                }],
                citations: vec![Citation {
                    source_id: "kb-1".into(),
                    title: "Refunds".into(),
                    url: None,
                    snippet: Some("...".into()),
                }],
            }),
            contact: Some(Contact {
                name: Some("Ana".into()),
                value: Some(120.0),
                tags: vec!["vip".into()],
                ..Contact::default()
            }),
            entry: Some(Entry::default()),
            attributes: [("k".to_string(), "v".to_string())].into(),
        }
    }

    fn cmd() -> OperatorCommand {
        OperatorCommand {
            command_id: "op-1".into(),
            conversation_id: "c-1".into(),
            handoff_id: None,
            operator: Operator {
                id: "u-1".into(),
                name: "Sam".into(),
                team: "billing".into(),
            },
            issued_at: now(),
            action: CommandAction::Claim,
            note: Some("on it".into()),
            send_follow_up_now: false,
            target_team: None,
            outcome: None,
        }
    }

    fn kind_of_event(e: &ConversationEvent) -> &'static str {
        event(e, now(), &DEFAULT_LIMITS)
            .expect_err("should be invalid")
            .kind
    }

    fn kind_of_command(c: &OperatorCommand) -> &'static str {
        command(c, now(), &DEFAULT_LIMITS)
            .expect_err("should be invalid")
            .kind
    }

    #[test]
    fn valid_records_pass() {
        assert_eq!(event(&ev(), now(), &DEFAULT_LIMITS), Ok(()));
        assert_eq!(command(&cmd(), now(), &DEFAULT_LIMITS), Ok(()));
        // The boundaries themselves are allowed.
        let mut e = ev();
        e.occurred_at = now() - Duration::days(DEFAULT_LIMITS.max_past_days);
        assert_eq!(event(&e, now(), &DEFAULT_LIMITS), Ok(()));
        e.occurred_at = now() + Duration::minutes(10);
        assert_eq!(event(&e, now(), &DEFAULT_LIMITS), Ok(()));
        e.text = "x".repeat(64 * 1024);
        assert_eq!(event(&e, now(), &DEFAULT_LIMITS), Ok(()));
        // Optional blocks may be absent; tenant may be empty (its Avro default).
        let e = ConversationEvent {
            agent: None,
            contact: None,
            entry: None,
            tenant_id: String::new(),
            ..ev()
        };
        assert_eq!(event(&e, now(), &DEFAULT_LIMITS), Ok(()));
    }

    #[test]
    fn empty_ids_are_refused() {
        let err = event(
            &ConversationEvent {
                event_id: String::new(),
                ..ev()
            },
            now(),
            &DEFAULT_LIMITS,
        )
        .unwrap_err();
        assert_eq!(err.kind, kinds::EMPTY_ID);
        assert_eq!(err.to_string(), "empty_id: event_id is empty");
        assert_eq!(
            kind_of_event(&ConversationEvent {
                conversation_id: "  ".into(),
                ..ev()
            }),
            kinds::EMPTY_ID
        );
        assert_eq!(
            kind_of_command(&OperatorCommand {
                command_id: String::new(),
                ..cmd()
            }),
            kinds::EMPTY_ID
        );
        assert_eq!(
            kind_of_command(&OperatorCommand {
                conversation_id: String::new(),
                ..cmd()
            }),
            kinds::EMPTY_ID
        );
        let mut c = cmd();
        c.operator.id = String::new();
        assert_eq!(kind_of_command(&c), kinds::EMPTY_ID);
        assert_eq!(
            kind_of_command(&OperatorCommand {
                handoff_id: Some(String::new()),
                ..cmd()
            }),
            kinds::EMPTY_ID
        );
    }

    #[test]
    fn long_ids_are_refused() {
        let long = "c".repeat(257);
        assert_eq!(
            kind_of_event(&ConversationEvent {
                conversation_id: long.clone(),
                ..ev()
            }),
            kinds::ID_TOO_LONG
        );
        assert_eq!(
            kind_of_event(&ConversationEvent {
                tenant_id: long.clone(),
                ..ev()
            }),
            kinds::ID_TOO_LONG
        );
        assert_eq!(
            kind_of_command(&OperatorCommand {
                command_id: long,
                ..cmd()
            }),
            kinds::ID_TOO_LONG
        );
    }

    #[test]
    fn a_megabyte_of_text_is_refused() {
        let err = event(
            &ConversationEvent {
                text: "a".repeat(1_000_000),
                ..ev()
            },
            now(),
            &DEFAULT_LIMITS,
        )
        .unwrap_err();
        assert_eq!(err.kind, kinds::TEXT_TOO_LARGE);
        assert!(err.message.contains("1000000 bytes"), "{err}");
        assert!(err.message.contains("65536"), "{err}");
        assert_eq!(
            kind_of_event(&ConversationEvent {
                text: "a".repeat(64 * 1024 + 1),
                ..ev()
            }),
            kinds::TEXT_TOO_LARGE
        );
        assert_eq!(
            kind_of_command(&OperatorCommand {
                note: Some("n".repeat(70_000)),
                ..cmd()
            }),
            kinds::TEXT_TOO_LARGE
        );
    }

    #[test]
    fn other_large_fields_are_refused() {
        let big = "x".repeat(16 * 1024 + 1);
        let mut e = ev();
        e.agent.as_mut().unwrap().tool_calls[0].arguments = big.clone();
        assert_eq!(kind_of_event(&e), kinds::FIELD_TOO_LARGE);
        let mut e = ev();
        e.agent.as_mut().unwrap().citations[0].snippet = Some(big.clone());
        assert_eq!(kind_of_event(&e), kinds::FIELD_TOO_LARGE);
        let mut e = ev();
        e.contact.as_mut().unwrap().email = Some(big.clone());
        assert_eq!(kind_of_event(&e), kinds::FIELD_TOO_LARGE);
        let mut e = ev();
        e.attributes.insert("k".into(), big.clone());
        assert_eq!(kind_of_event(&e), kinds::FIELD_TOO_LARGE);
        let mut e = ev();
        e.entry
            .as_mut()
            .unwrap()
            .form_fields
            .insert(big.clone(), "v".into());
        assert_eq!(kind_of_event(&e), kinds::FIELD_TOO_LARGE);
        assert_eq!(
            kind_of_command(&OperatorCommand {
                target_team: Some(big),
                ..cmd()
            }),
            kinds::FIELD_TOO_LARGE
        );
    }

    #[test]
    fn timestamps_far_away_are_refused() {
        let old = ConversationEvent {
            occurred_at: now()
                - Duration::days(DEFAULT_LIMITS.max_past_days)
                - Duration::seconds(1),
            ..ev()
        };
        let err = event(&old, now(), &DEFAULT_LIMITS).unwrap_err();
        assert_eq!(err.kind, kinds::TOO_OLD);
        assert!(err.message.contains("occurred_at"), "{err}");
        // Seconds sent as milliseconds: 1970.
        let epoch = ConversationEvent {
            occurred_at: Utc.timestamp_millis_opt(1_795_168_931).unwrap(),
            ..ev()
        };
        assert_eq!(kind_of_event(&epoch), kinds::TOO_OLD);
        let future = ConversationEvent {
            occurred_at: now() + Duration::minutes(11),
            ..ev()
        };
        assert_eq!(kind_of_event(&future), kinds::IN_FUTURE);
        // The extremes of chrono's range do not overflow.
        assert_eq!(
            kind_of_event(&ConversationEvent {
                occurred_at: DateTime::<Utc>::MAX_UTC,
                ..ev()
            }),
            kinds::IN_FUTURE
        );
        assert_eq!(
            kind_of_event(&ConversationEvent {
                occurred_at: DateTime::<Utc>::MIN_UTC,
                ..ev()
            }),
            kinds::TOO_OLD
        );
        assert_eq!(
            kind_of_command(&OperatorCommand {
                issued_at: now() + Duration::days(365),
                ..cmd()
            }),
            kinds::IN_FUTURE
        );
        assert_eq!(
            kind_of_command(&OperatorCommand {
                issued_at: now() - Duration::days(DEFAULT_LIMITS.max_past_days + 1),
                ..cmd()
            }),
            kinds::TOO_OLD
        );
    }

    #[test]
    fn too_many_entries_are_refused() {
        let mut e = ev();
        e.agent.as_mut().unwrap().tool_calls = vec![ToolCall::default(); 33];
        let err = event(&e, now(), &DEFAULT_LIMITS).unwrap_err();
        assert_eq!(err.kind, kinds::TOO_MANY);
        assert!(
            err.message.contains("agent.tool_calls has 33 entries"),
            "{err}"
        );
        let mut e = ev();
        e.agent.as_mut().unwrap().citations = vec![Citation::default(); 33];
        assert_eq!(kind_of_event(&e), kinds::TOO_MANY);
        let mut e = ev();
        e.attributes = (0..65).map(|i| (i.to_string(), String::new())).collect();
        assert_eq!(kind_of_event(&e), kinds::TOO_MANY);
        let mut e = ev();
        e.contact.as_mut().unwrap().tags = vec![String::new(); 65];
        assert_eq!(kind_of_event(&e), kinds::TOO_MANY);
    }

    #[test]
    fn numbers_must_be_finite_and_confidence_a_probability() {
        for bad in [f64::NAN, f64::INFINITY, -0.1, 1.5, 87.0] {
            let mut e = ev();
            e.agent.as_mut().unwrap().confidence = Some(bad);
            assert_eq!(kind_of_event(&e), kinds::OUT_OF_RANGE, "{bad}");
        }
        let mut e = ev();
        e.contact.as_mut().unwrap().value = Some(f64::NAN);
        assert_eq!(kind_of_event(&e), kinds::OUT_OF_RANGE);
    }

    #[test]
    fn unknown_actions_and_unknown_conversations_are_not_invalid() {
        // The detector answers these with a rejected LifecycleEvent instead.
        let c = OperatorCommand {
            action: CommandAction::Unknown,
            conversation_id: "never-seen".into(),
            ..cmd()
        };
        assert_eq!(command(&c, now(), &DEFAULT_LIMITS), Ok(()));
    }

    #[test]
    fn limits_are_configurable() {
        let tight = Limits {
            max_text_bytes: 4,
            ..Limits::default()
        };
        assert_eq!(
            event(&ev(), now(), &tight).unwrap_err().kind,
            kinds::TEXT_TOO_LARGE
        );
    }
}
