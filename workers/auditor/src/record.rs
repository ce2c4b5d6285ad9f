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
    /// A payload is keyed by the signal it was built from: an SLA re-escalation builds a second
    /// payload for the same handoff, which is a new fact, not a duplicate.
    pub fn event_id(&self) -> String {
        let id = match &self.body {
            AuditBody::Signal(s) => &s.signal_id,
            AuditBody::Payload(p) if !p.signal_id.is_empty() => &p.signal_id,
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
    /// with the PII blanked when `redact`: contact name/email/phone, entry form fields that hold
    /// a name, email or phone, and payload facts of those kinds. Ids (contact_id, account_id,
    /// order ids) stay. Free text (transcript turns, reason evidence, summary, draft reply,
    /// operator notes) is kept as it is: PII written inside text is not detected.
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
                AuditBody::Signal(_) => {
                    redact_contact(v.get_mut("contact"));
                    redact_entry(v.get_mut("entry"));
                }
                AuditBody::Payload(_) => redact_payload(Some(&mut v)),
                AuditBody::Route(_) => redact_payload(v.get_mut("payload")),
                AuditBody::Lifecycle(_) | AuditBody::Command(_) => {}
            }
        }
        v
    }

    /// [`AuditRecord::detail`] as JSON text. Without redaction the record is serialized
    /// straight to text (no intermediate tree), unless it holds a NUL character, which jsonb
    /// cannot store and which the tree path replaces. (Key order may differ between the two;
    /// jsonb does not keep it.)
    pub fn detail_json(&self, redact: bool) -> String {
        if !redact {
            let direct = match &self.body {
                AuditBody::Signal(r) => serde_json::to_string(r),
                AuditBody::Payload(r) => serde_json::to_string(r),
                AuditBody::Route(r) => serde_json::to_string(r),
                AuditBody::Lifecycle(r) => serde_json::to_string(r),
                AuditBody::Command(r) => serde_json::to_string(r),
            };
            if let Ok(text) = direct {
                if !text.contains("\\u0000") {
                    return text;
                }
            }
        }
        self.detail(redact).to_string()
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
            detail: self.detail_json(redact),
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
    /// The record as JSON text (see [`AuditRecord::detail_json`]).
    pub detail: String,
    pub source_topic: String,
    pub source_partition: i32,
    pub source_offset: i64,
}

impl EventRow {
    /// The row as one line of `COPY ... FROM STDIN` text format, in [`EVENT_COLUMNS`] order.
    pub fn write_copy_line(&self, out: &mut Vec<u8>) {
        let occurred = self
            .occurred_at
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        let accepted = self.accepted.map(|a| if a { "t" } else { "f" });
        let (partition, offset) = (
            self.source_partition.to_string(),
            self.source_offset.to_string(),
        );
        let fields: [Option<&str>; 15] = [
            Some(&self.event_id),
            self.handoff_id.as_deref(),
            Some(&self.conversation_id),
            Some(self.kind),
            self.transition.as_deref(),
            self.actor.as_deref(),
            self.note.as_deref(),
            self.team.as_deref(),
            accepted,
            self.rejection_reason.as_deref(),
            Some(&occurred),
            Some(&self.detail),
            Some(&self.source_topic),
            Some(&partition),
            Some(&offset),
        ];
        for (n, field) in fields.into_iter().enumerate() {
            if n > 0 {
                out.push(b'\t');
            }
            copy_field(out, field);
        }
        out.push(b'\n');
    }
}

/// The `handoff_events` columns an [`EventRow`] fills, in its COPY line's order.
pub const EVENT_COLUMNS: &str = "event_id, handoff_id, conversation_id, kind, transition, actor, \
    note, team, accepted, rejection_reason, occurred_at, detail, source_topic, source_partition, \
    source_offset";

/// One field of a COPY text line: `\N` for NULL, backslash, tab, newline and carriage return
/// escaped.
fn copy_field(out: &mut Vec<u8>, field: Option<&str>) {
    let Some(s) = field else {
        out.extend_from_slice(b"\\N");
        return;
    };
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
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

/// Whether an entry form field's name says it holds a name, an email or a phone number
/// (`email`, `Work e-mail`, `phone_number`, `mobile`, `full_name`, `firstName`, ...; not
/// `company_name` or `username`).
pub(crate) fn is_pii_field(key: &str) -> bool {
    let k: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    k.contains("email")
        || (k.contains("mail") && !k.contains("mailing"))
        || k.contains("phone")
        || k.contains("mobile")
        || matches!(
            k.as_str(),
            "name"
                | "fullname"
                | "firstname"
                | "lastname"
                | "surname"
                | "givenname"
                | "familyname"
                | "contactname"
                | "yourname"
                | "tel"
                | "telephone"
                | "cell"
                | "whatsapp"
        )
}

/// Blanks entry form fields that hold PII (the key stays, so the form's shape is kept).
fn redact_entry(entry: Option<&mut Json>) {
    if let Some(Json::Object(fields)) = entry.and_then(|e| e.get_mut("form_fields")) {
        for (k, v) in fields.iter_mut() {
            if is_pii_field(k) && !v.is_null() {
                *v = Json::String(String::new());
            }
        }
    }
}

/// Blanks the contact block and PII form fields of a payload's captured context, and facts
/// that repeat PII (facts of kind name/email/phone, and `form_field` facts, "key: value", whose
/// key is a PII field).
fn redact_payload(payload: Option<&mut Json>) {
    let Some(p) = payload else { return };
    if let Some(context) = p.get_mut("context") {
        redact_contact(context.get_mut("contact"));
        redact_entry(context.get_mut("entry"));
    }
    if let Some(facts) = p.get_mut("facts") {
        for list in ["confirmed", "inferred"] {
            if let Some(Json::Array(items)) = facts.get_mut(list) {
                for item in items {
                    let kind = item.get("kind").and_then(Json::as_str).unwrap_or_default();
                    let blanked = if PII_FIELDS.contains(&kind) {
                        Some(String::new())
                    } else if kind == "form_field" {
                        item.get("value")
                            .and_then(Json::as_str)
                            .and_then(|v| v.split_once(':'))
                            .filter(|(k, _)| is_pii_field(k))
                            .map(|(k, _)| format!("{k}:"))
                    } else {
                        None
                    };
                    if let (Some(b), Some(v)) = (blanked, item.get_mut("value")) {
                        *v = Json::String(b);
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
    fn detail_text_is_the_record_and_never_holds_nul() {
        let cmd: OperatorCommand = serde_json::from_value(serde_json::json!({
            "command_id": "op-1", "conversation_id": "c7", "operator": {"id": "u-3", "name": "Sam", "team": "billing"},
            "issued_at": "2026-11-20T10:09:00Z", "action": "resume", "note": "fine"
        }))
        .unwrap();
        let rec = AuditRecord::new(cmd.clone(), "handoff.commands", 0, 1);
        let direct: Json = serde_json::from_str(&rec.detail_json(false)).unwrap();
        assert_eq!(direct, rec.detail(false));
        let mut nul = cmd;
        nul.note = Some("a\0b".into());
        let text = AuditRecord::new(nul, "handoff.commands", 0, 2).detail_json(false);
        assert!(
            !text.contains("\\u0000") && text.contains("a\u{FFFD}b"),
            "{text}"
        );
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

    #[test]
    fn redaction_blanks_pii_form_fields_in_entry_and_facts() {
        let mut v = serde_json::json!({
            "context": {"entry": {"form_fields": {"Work e-mail": "a@x", "phone_number": "+1 555", "full_name": "Ana Ruiz",
                                                  "company": "Northwind", "seats": "250"}}},
            "facts": {"confirmed": [{"kind": "form_field", "value": "email: a@x"},
                                    {"kind": "form_field", "value": "seats: 250"}]}
        });
        redact_payload(Some(&mut v));
        let f = &v["context"]["entry"]["form_fields"];
        assert_eq!(
            (&f["Work e-mail"], &f["phone_number"], &f["full_name"]),
            (&Json::from(""), &Json::from(""), &Json::from(""))
        );
        assert_eq!(f["company"], "Northwind");
        assert_eq!(f["seats"], "250");
        assert_eq!(v["facts"]["confirmed"][0]["value"], "email:");
        assert_eq!(v["facts"]["confirmed"][1]["value"], "seats: 250");
        for (key, pii) in [
            ("email", true),
            ("E-Mail", true),
            ("mobile", true),
            ("firstName", true),
            ("Name", true),
            ("company_name", false),
            ("username", false),
            ("mailing_list", false),
            ("campaign", false),
        ] {
            assert_eq!(is_pii_field(key), pii, "{key}");
        }
    }
}
