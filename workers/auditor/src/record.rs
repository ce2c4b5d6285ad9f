//! The records the auditor stores, decoded and tagged with where they came from, and the
//! `handoff_events` row each one becomes.

use chrono::{DateTime, Utc};
use handoff_core::records::{
    HandoffPayload, LifecycleEvent, OperatorCommand, RoutedHandoff, StopSignal,
};
use handoff_runtime::sink::SinkRecord;
use handoff_runtime::topics::Topics;
use handoff_runtime::worker::{typed, Rejection};
use serde::Serialize;
use serde_json::Value as Json;

/// One decoded record of one of the audited topics.
#[derive(Debug, Clone, PartialEq)]
pub enum AuditBody {
    Signal(StopSignal),
    Payload(HandoffPayload),
    Route(RoutedHandoff),
    Lifecycle(LifecycleEvent),
    Command(OperatorCommand),
}

/// Where a record was read from (stored with its event row).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Source {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// A decoded record and its source: the unit [`crate::store::write_records`] takes.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub body: AuditBody,
    pub source: Source,
}

impl AuditRecord {
    pub fn new(body: impl Into<AuditBody>, topic: &str, partition: i32, offset: i64) -> Self {
        AuditRecord {
            body: body.into(),
            source: Source {
                topic: topic.to_string(),
                partition,
                offset,
            },
        }
    }

    /// Reads a consumed record as the type its topic carries. A record that is not that type
    /// (or comes from a topic the auditor does not read) is refused; it goes to the DLQ.
    pub fn decode(topics: &Topics, rec: &SinkRecord) -> Result<AuditRecord, Rejection> {
        let t = rec.topic.as_str();
        let body = if t == topics.signals() {
            AuditBody::Signal(typed(&rec.value)?)
        } else if t == topics.payloads() {
            AuditBody::Payload(typed(&rec.value)?)
        } else if topics.team_of(t).is_some() {
            AuditBody::Route(typed(&rec.value)?)
        } else if t == topics.lifecycle() {
            AuditBody::Lifecycle(typed(&rec.value)?)
        } else if t == topics.commands() {
            AuditBody::Command(typed(&rec.value)?)
        } else {
            return Err(Rejection::new(
                "unexpected_topic",
                format!("the auditor does not read topic {t:?}"),
            ));
        };
        Ok(AuditRecord::new(body, t, rec.partition, rec.offset))
    }

    /// `signal`, `payload`, `route`, `lifecycle` or `command`.
    pub fn kind(&self) -> &'static str {
        match &self.body {
            AuditBody::Signal(_) => "signal",
            AuditBody::Payload(_) => "payload",
            AuditBody::Route(_) => "route",
            AuditBody::Lifecycle(_) => "lifecycle",
            AuditBody::Command(_) => "command",
        }
    }

    /// The record's deterministic id, prefixed by its kind: the `handoff_events` primary key.
    pub fn event_id(&self) -> String {
        let id = match &self.body {
            AuditBody::Signal(s) => &s.signal_id,
            AuditBody::Payload(p) => &p.handoff_id,
            AuditBody::Route(r) => &r.route_id,
            AuditBody::Lifecycle(l) => &l.lifecycle_id,
            AuditBody::Command(c) => &c.command_id,
        };
        clean(&format!("{}:{id}", self.kind()))
    }

    /// When the record's fact happened (the retention clock).
    pub fn occurred_at(&self) -> DateTime<Utc> {
        match &self.body {
            AuditBody::Signal(s) => s.decided_at,
            AuditBody::Payload(p) => p.created_at,
            AuditBody::Route(r) => r.routing.routed_at,
            AuditBody::Lifecycle(l) => l.occurred_at,
            AuditBody::Command(c) => c.issued_at,
        }
    }

    /// The handoff the record is about, if it names one.
    pub fn handoff_id(&self) -> Option<String> {
        match &self.body {
            AuditBody::Signal(s) => text(&s.handoff_id),
            AuditBody::Payload(p) => text(&p.handoff_id),
            AuditBody::Route(r) => text(&r.payload.handoff_id),
            AuditBody::Lifecycle(l) => text(&l.handoff_id),
            AuditBody::Command(c) => c.handoff_id.as_deref().and_then(text),
        }
    }

    pub fn conversation_id(&self) -> String {
        clean(match &self.body {
            AuditBody::Signal(s) => &s.conversation_id,
            AuditBody::Payload(p) => &p.conversation_id,
            AuditBody::Route(r) => &r.payload.conversation_id,
            AuditBody::Lifecycle(l) => &l.conversation_id,
            AuditBody::Command(c) => &c.conversation_id,
        })
    }

    /// The record as JSON for `handoff_events.detail`: the replay-format JSON of the record,
    /// with contact name/email/phone (and facts of those kinds) blanked when `redact`.
    pub fn detail(&self, redact: bool) -> Json {
        let mut v = match &self.body {
            AuditBody::Signal(r) => to_json(r),
            AuditBody::Payload(r) => to_json(r),
            AuditBody::Route(r) => to_json(r),
            AuditBody::Lifecycle(r) => to_json(r),
            AuditBody::Command(r) => to_json(r),
        };
        if redact {
            match &self.body {
                AuditBody::Signal(_) => redact_contact(v.get_mut("contact")),
                AuditBody::Payload(_) => redact_payload(Some(&mut v)),
                AuditBody::Route(_) => redact_payload(v.get_mut("payload")),
                AuditBody::Lifecycle(_) | AuditBody::Command(_) => {}
            }
        }
        v
    }

    /// The `handoff_events` row.
    pub fn event_row(&self, redact: bool) -> EventRow {
        let (transition, actor, note, team, accepted, rejection_reason) = match &self.body {
            AuditBody::Signal(s) => (
                Some(enum_str(&s.decision)),
                Some("detector".to_string()),
                None,
                None,
                Some(true),
                None,
            ),
            AuditBody::Payload(p) => (
                Some("built".to_string()),
                Some(format!("builder:{}", p.composer.name)),
                None,
                None,
                Some(true),
                None,
            ),
            AuditBody::Route(r) => (
                Some("routed".to_string()),
                Some("router".to_string()),
                None,
                Some(r.routing.team.clone()),
                Some(true),
                None,
            ),
            AuditBody::Lifecycle(l) => (
                Some(l.transition.clone()),
                Some(l.actor.clone()),
                l.note.clone(),
                l.team.clone(),
                Some(l.accepted),
                l.rejection_reason.clone(),
            ),
            AuditBody::Command(c) => (
                Some(enum_str(&c.action)),
                Some(format!("operator:{}", c.operator.id)),
                c.note.clone(),
                c.target_team
                    .clone()
                    .filter(|t| !t.is_empty())
                    .or_else(|| Some(c.operator.team.clone())),
                None,
                None,
            ),
        };
        let opt = |s: Option<String>| s.as_deref().and_then(text);
        EventRow {
            event_id: self.event_id(),
            handoff_id: self.handoff_id(),
            conversation_id: self.conversation_id(),
            kind: self.kind(),
            transition: opt(transition),
            actor: opt(actor),
            note: opt(note),
            team: opt(team),
            accepted,
            rejection_reason: opt(rejection_reason),
            occurred_at: self.occurred_at(),
            detail: self.detail(redact),
            source_topic: clean(&self.source.topic),
            source_partition: self.source.partition,
            source_offset: self.source.offset,
        }
    }
}

macro_rules! body_from {
    ($($t:ty => $v:ident),*) => {
        $(impl From<$t> for AuditBody {
            fn from(r: $t) -> Self {
                AuditBody::$v(r)
            }
        })*
    };
}
body_from!(StopSignal => Signal, HandoffPayload => Payload, RoutedHandoff => Route, LifecycleEvent => Lifecycle, OperatorCommand => Command);

/// One `handoff_events` row, ready to bind.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub event_id: String,
    pub handoff_id: Option<String>,
    pub conversation_id: String,
    pub kind: &'static str,
    pub transition: Option<String>,
    pub actor: Option<String>,
    pub note: Option<String>,
    pub team: Option<String>,
    pub accepted: Option<bool>,
    pub rejection_reason: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub detail: Json,
    pub source_topic: String,
    pub source_partition: i32,
    pub source_offset: i64,
}

/// Postgres text cannot hold NUL characters (nor can jsonb strings): replace them rather than
/// fail the whole batch on one odd record.
pub(crate) fn clean(s: &str) -> String {
    if s.contains('\0') {
        s.replace('\0', "\u{FFFD}")
    } else {
        s.to_string()
    }
}

/// Empty strings (Avro defaults) are stored as NULL.
pub(crate) fn text(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| clean(s))
}

pub(crate) fn opt_text(s: &Option<String>) -> Option<String> {
    s.as_deref().and_then(text)
}

/// The snake_case name serde gives an enum symbol.
pub(crate) fn enum_str<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Json::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// JSON for a jsonb column: the replay-format JSON, with NULs replaced. (Non-finite floats
/// become `null`, which is what JSON can say.)
pub(crate) fn to_json<T: Serialize>(v: &T) -> Json {
    let mut j = serde_json::to_value(v).unwrap_or(Json::Null);
    scrub_nul(&mut j);
    j
}

fn scrub_nul(v: &mut Json) {
    match v {
        Json::String(s) if s.contains('\0') => *s = clean(s),
        Json::Array(a) => a.iter_mut().for_each(scrub_nul),
        Json::Object(o) => {
            if o.keys().any(|k| k.contains('\0')) {
                let entries: Vec<(String, Json)> = std::mem::take(o).into_iter().collect();
                for (k, mut x) in entries {
                    scrub_nul(&mut x);
                    o.insert(clean(&k), x);
                }
            } else {
                o.values_mut().for_each(scrub_nul);
            }
        }
        _ => {}
    }
}

/// The PII fields of a contact block (DESIGN.md, "Contracts").
const PII_FIELDS: [&str; 3] = ["name", "email", "phone"];

fn redact_contact(contact: Option<&mut Json>) {
    if let Some(Json::Object(c)) = contact {
        for f in PII_FIELDS {
            if let Some(x) = c.get_mut(f) {
                if !x.is_null() {
                    *x = Json::Null;
                }
            }
        }
    }
}

/// Blanks the contact block of a payload's captured context and facts that repeat PII.
fn redact_payload(payload: Option<&mut Json>) {
    let Some(p) = payload else { return };
    redact_contact(p.get_mut("context").and_then(|c| c.get_mut("contact")));
    if let Some(facts) = p.get_mut("facts") {
        for list in ["confirmed", "inferred"] {
            if let Some(Json::Array(items)) = facts.get_mut(list) {
                for item in items {
                    let pii = item
                        .get("kind")
                        .and_then(Json::as_str)
                        .is_some_and(|k| PII_FIELDS.contains(&k));
                    if pii {
                        if let Some(v) = item.get_mut("value") {
                            *v = Json::String(String::new());
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_characters_are_replaced_everywhere() {
        let mut v = serde_json::json!({"a\u{0}": ["x\u{0}y", {"k": "\u{0}"}]});
        scrub_nul(&mut v);
        assert!(!v.to_string().contains("\\u0000"), "{v}");
        assert_eq!(clean("a\0b"), "a\u{FFFD}b");
        assert_eq!(text(""), None);
    }

    #[test]
    fn redaction_blanks_contact_and_pii_facts() {
        let mut v = serde_json::json!({
            "context": {"contact": {"name": "Ana", "email": "a@x", "phone": "1", "plan": "growth"}},
            "facts": {"confirmed": [{"kind": "email", "value": "a@x"}, {"kind": "order_id", "value": "55"}]}
        });
        redact_payload(Some(&mut v));
        assert_eq!(v["context"]["contact"]["name"], Json::Null);
        assert_eq!(v["context"]["contact"]["plan"], "growth");
        assert_eq!(v["facts"]["confirmed"][0]["value"], "");
        assert_eq!(v["facts"]["confirmed"][1]["value"], "55");
    }
}
