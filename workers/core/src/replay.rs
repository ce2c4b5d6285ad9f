//! The JSON Lines replay format (DESIGN.md, "Replay format"): one ConversationEvent or
//! OperatorCommand a line, tagged `"type": "event" | "command"`, in order. `handoff replay`, the
//! sample data `make run` plays and the evaluation harness all read it.

use crate::records::{ConversationEvent, OperatorCommand};
use serde::{Deserialize, Serialize};
use std::io::BufRead;

/// One input line.
#[allow(clippy::large_enum_variant)] // read once and handed on; boxing buys nothing
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReplayRecord {
    Event(ConversationEvent),
    Command(OperatorCommand),
}

impl ReplayRecord {
    pub fn conversation_id(&self) -> &str {
        match self {
            ReplayRecord::Event(e) => &e.conversation_id,
            ReplayRecord::Command(c) => &c.conversation_id,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{origin}:{line}: {message}")]
    Line {
        origin: String,
        line: usize,
        message: String,
    },
    #[error("{origin}: {source}")]
    Io {
        origin: String,
        #[source]
        source: std::io::Error,
    },
}

/// Parses one line; blank lines and `#` comments are `None`.
pub fn parse_line(line: &str) -> Result<Option<ReplayRecord>, String> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    serde_json::from_str(trimmed)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Reads a whole replay stream; the first bad line is an error naming its line number.
pub fn read_all(reader: impl BufRead, origin: &str) -> Result<Vec<ReplayRecord>, ReplayError> {
    let mut out = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|source| ReplayError::Io {
            origin: origin.to_string(),
            source,
        })?;
        match parse_line(&line) {
            Ok(Some(r)) => out.push(r),
            Ok(None) => {}
            Err(message) => {
                return Err(ReplayError::Line {
                    origin: origin.to_string(),
                    line: i + 1,
                    message,
                })
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Actor, CommandAction};

    const DESIGN_EXAMPLE: &str = r#"{"type":"event","event_id":"c7-3","conversation_id":"c7","tenant_id":"acme","occurred_at":"2026-11-20T10:02:11Z","channel":"web","actor":"contact","text":"I want a refund for order 55120, this is the third time I ask","contact":{"contact_id":"p-9","name":"Ana Ruiz","email":"ana@example.com","account_id":"A-77","plan":"growth","vip":false},"entry":{"source_url":"https://shop.example.com/orders","campaign":null,"form_fields":{}}}
{"type":"event","event_id":"c7-4","conversation_id":"c7","tenant_id":"acme","occurred_at":"2026-11-20T10:02:15Z","channel":"web","actor":"agent","text":"Refunds over 500 EUR need a colleague to approve.","agent":{"confidence":0.41,"intent":"billing","sub_intent":"refund","out_of_scope":false,"tool_calls":[{"name":"transfer_to_human","arguments":"{\"reason\":\"refund approval\"}"}],"citations":[{"source_id":"kb-12","title":"Refund policy","url":"https://help.example.com/refunds","snippet":"Refunds above 500 EUR require approval."}]}}

# a comment
{"type":"command","command_id":"op-1","conversation_id":"c7","issued_at":"2026-11-20T10:09:00Z","operator":{"id":"u-3","name":"Sam","team":"billing"},"action":"resume","note":"Refund approved, 7 days to clear. Confirm receipt; do not reopen the complaint.","send_follow_up_now":false}
"#;

    #[test]
    fn reads_the_design_example() {
        let records = read_all(DESIGN_EXAMPLE.as_bytes(), "design").unwrap();
        assert_eq!(records.len(), 3);
        match &records[1] {
            ReplayRecord::Event(e) => {
                assert_eq!(e.actor, Actor::Agent);
                let agent = e.agent.as_ref().unwrap();
                assert_eq!(agent.tool_calls[0].name, "transfer_to_human");
                assert_eq!(agent.citations[0].source_id, "kb-12");
            }
            other => panic!("expected an event, got {other:?}"),
        }
        match &records[2] {
            ReplayRecord::Command(c) => assert_eq!(c.action, CommandAction::Resume),
            other => panic!("expected a command, got {other:?}"),
        }
    }

    #[test]
    fn unknown_action_parses_as_unknown() {
        let line = r#"{"type":"command","command_id":"x","conversation_id":"c","issued_at":"2026-11-20T10:09:00Z","operator":{"id":"u"},"action":"teleport"}"#;
        match parse_line(line).unwrap().unwrap() {
            ReplayRecord::Command(c) => assert_eq!(c.action, CommandAction::Unknown),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_line_names_its_number() {
        let input = "\n{\"type\":\"event\"}\n";
        let err = read_all(input.as_bytes(), "f.jsonl")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("f.jsonl:2: "), "{err}");
        assert!(err.contains("missing field"), "{err}");
    }
}
