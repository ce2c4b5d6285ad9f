//! The detector's one step: validate an input record, then decide on it.
//!
//! The live detector and the offline pipeline (`handoff replay`, `handoff eval`) both call
//! [`step`], so a replay refuses exactly the records the detector dead-letters, with the same
//! reason, and decides the others with the same code, including the rule for commands about a
//! conversation nobody has seen.

use super::{on_command, on_event, ConversationState, DetectorOutput};
use crate::policy::Policy;
use crate::records::{ConversationEvent, OperatorCommand};
use crate::time::Timestamp;
use crate::validate::{self, Invalid};

/// One input record of the detector.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    Event(&'a ConversationEvent),
    Command(&'a OperatorCommand),
}

impl Input<'_> {
    pub fn conversation_id(&self) -> &str {
        match self {
            Input::Event(e) => &e.conversation_id,
            Input::Command(c) => &c.conversation_id,
        }
    }

    /// The record's own time (`occurred_at` / `issued_at`).
    pub fn time(&self) -> Timestamp {
        match self {
            Input::Event(e) => e.occurred_at,
            Input::Command(c) => c.issued_at,
        }
    }

    /// The record's id (`event_id` / `command_id`), for reports about it.
    pub fn id(&self) -> &str {
        match self {
            Input::Event(e) => &e.event_id,
            Input::Command(c) => &c.command_id,
        }
    }
}

/// The two clocks of a step. Live, both are the detector's wall clock. In a replay, decisions are
/// made at each record's own time, while timestamps are checked against the replay's arrival
/// clock (the latest record time seen), so a record dated decades before the rest is refused as
/// the live detector would refuse it.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// When the decision is made (every output is stamped with it).
    pub decide_at: Timestamp,
    /// What the record's timestamp is validated against.
    pub received_at: Timestamp,
}

impl Clock {
    /// One clock for both (the live detector).
    pub fn at(now: Timestamp) -> Clock {
        Clock {
            decide_at: now,
            received_at: now,
        }
    }
}

/// What a valid input did.
#[derive(Debug)]
pub struct Stepped {
    pub outputs: Vec<DetectorOutput>,
    /// The state to keep for a conversation that had none (`state` was `None`): always for an
    /// event; for a command only when it opened a handoff (`take_over`/`pause`), so a rejected
    /// command about a conversation nobody has seen leaves nothing behind.
    pub created: Option<ConversationState>,
}

/// The validation part of [`step`]: what the detector refuses before any state is touched.
pub fn check(input: Input<'_>, clock: Clock) -> Result<(), Invalid> {
    let limits = &validate::DEFAULT_LIMITS;
    match input {
        Input::Event(e) => validate::event(e, clock.received_at, limits),
        Input::Command(c) => validate::command(c, clock.received_at, limits),
    }
}

/// Validates `input` (before it touches any state) and, when valid, decides on it. `state` is
/// the conversation's state, `None` when the conversation has none yet.
///
/// An `Err` is what the detector dead-letters (`handoff.dlq.kind = invalid_record`, the
/// [`Invalid`] in `handoff.dlq.error`); the state is untouched.
pub fn step(
    state: Option<&mut ConversationState>,
    input: Input<'_>,
    policy: &Policy,
    clock: Clock,
) -> Result<Stepped, Invalid> {
    check(input, clock)?;
    let now = clock.decide_at;
    let decide = |state: &mut ConversationState| match input {
        Input::Event(e) => on_event(state, e, policy, now),
        Input::Command(c) => on_command(state, c, policy, now),
    };
    Ok(match state {
        Some(state) => Stepped {
            outputs: decide(state),
            created: None,
        },
        None => {
            let mut fresh = ConversationState::new(input.conversation_id());
            let outputs = decide(&mut fresh);
            let keep = matches!(input, Input::Event(_)) || fresh.handoff_id.is_some();
            Stepped {
                outputs,
                created: keep.then_some(fresh),
            }
        }
    })
}
