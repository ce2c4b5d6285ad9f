//! Writing audit records to Postgres: `handoff_events` (append-only) and `handoffs` (current
//! state), one transaction per batch.
//!
//! Idempotence: every record's event row is inserted first with `ON CONFLICT DO NOTHING
//! RETURNING event_id`; the `handoffs` row is updated only for records whose event row was new
//! in this transaction. A replayed or redelivered record therefore changes nothing, and counters
//! such as `reassign_count` count each lifecycle event once.
//!
//! Order independence: each `handoffs` column is merged by a rule that does not depend on the
//! order records arrive in. A handoff can have several signals (an SLA breach re-escalates it
//! with a new signal, so a new payload and a new route); every signal, payload and route carries
//! its signal's key `(sla_breach reasons, decided_at, signal_id)`:
//! - signal columns (reasons, primary reason, rule ids, created_at, contact, ...) describe the
//!   escalation: the smallest key wins, the signal itself before the copies in its payload and
//!   route (which otherwise only fill what is NULL); `urgency` is the most urgent seen;
//! - payload columns (intent, summary, draft reply, next action): the greatest key wins (the
//!   newest payload), the payload itself before the copy inside its route;
//! - route columns: the route with the greatest (attempt, routed_at, route_id) wins; its
//!   priority beats the payload's;
//! - `state`: the accepted lifecycle event with the greatest (occurred_at, state rank,
//!   lifecycle_id) wins, rank being awaiting_human < claimed < returned_to_agent/resolved, so a
//!   handoff never moves backwards; the signal sets `awaiting_human` (or `flagged`) only while
//!   no state is known, and any lifecycle event overrides a state set by the signal; a `flagged`
//!   lifecycle event sets `flagged`;
//! - first-time facts (`first_claimed_at`, `resolved_at`, `returned_at`, `sla_breached_at`) keep
//!   the earliest value, `claimed_at`/`claimed_by` the latest claim, `sla_breached` ORs,
//!   `reassign_count` and `sla_breach_count` add.
//!
//! Batching: the event rows go in one multi-row insert (`UNNEST` of one array per column); the
//! records that were new are folded per handoff in Rust with the same rules (least signal key,
//! greatest payload and route keys, latest state, earliest first times, counts added) and
//! written by one multi-row `INSERT ... ON CONFLICT DO UPDATE`: one row version per handoff per
//! batch. The fold gives the same row as applying the records one by one (the tests write the
//! same records in both ways).

use crate::record::{clean, enum_str, opt_text, text, to_json, AuditBody, AuditRecord, EventRow};
use chrono::{DateTime, Duration, Utc};
use handoff_core::records::{
    Contact, ControlState, Decision, HandoffPayload, LifecycleEvent, Reason, ReasonKind,
    RoutedHandoff, Urgency,
};
use handoff_runtime::worker::Rejection;
use serde_json::Value as Json;
use sqlx::{PgConnection, PgPool};
use std::collections::{HashMap, HashSet};
use tracing::warn;

/// How records are written.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions {
    /// Blank contact name/email/phone (columns NULL, JSON detail blanked).
    pub redact_pii: bool,
    /// When > 0, records whose fact is older than this many days are not written (the retention
    /// task would delete them again; writing them would also re-apply their effects).
    pub retention_days: u32,
}

/// What one call of [`write_records`] did.
#[derive(Debug, Default, Clone)]
pub struct WriteOutcome {
    /// Event rows inserted (records seen for the first time).
    pub inserted: usize,
    /// Records already stored (replays, redeliveries, repeats within the batch).
    pub duplicates: usize,
    /// Records older than the retention period, skipped.
    pub expired: usize,
    /// Records Postgres refused as data (index into the input, why); the rest were written.
    pub rejected: Vec<(usize, Rejection)>,
}

/// How a database error should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The connection, the server or a concurrent transaction: retry the same batch.
    Transient,
    /// Postgres refused a value (data exception, constraint): find and reject the record.
    Record,
    /// Anything else (a bug, a schema mismatch): stop.
    Fatal,
}

pub fn classify(e: &sqlx::Error) -> ErrorClass {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => ErrorClass::Transient,
        sqlx::Error::Encode(_) => ErrorClass::Record,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            let code = code.as_ref();
            if code.starts_with("08")        // connection exception
                || code.starts_with("53")    // insufficient resources
                || matches!(code, "57P01" | "57P02" | "57P03" // admin/crash shutdown, cannot connect now
                    | "57014"                // query canceled (statement timeout, pg_cancel_backend)
                    | "40001" | "40P01"      // serialization failure, deadlock
                    | "55P03")
            // lock not available
            {
                ErrorClass::Transient
            } else if code.starts_with("22") || code.starts_with("23") {
                ErrorClass::Record
            } else {
                ErrorClass::Fatal
            }
        }
        _ => ErrorClass::Fatal,
    }
}

/// Writes `records` in one transaction: their event rows, then their effect on `handoffs`, in
/// order, for the records not stored before. A record Postgres refuses as data is retried alone
/// and reported in [`WriteOutcome::rejected`] instead of failing the batch.
pub async fn write_records(
    pool: &PgPool,
    records: &[AuditRecord],
    opts: &WriteOptions,
) -> Result<WriteOutcome, sqlx::Error> {
    let cutoff = (opts.retention_days > 0)
        .then(|| Utc::now() - Duration::days(i64::from(opts.retention_days)));
    let mut outcome = WriteOutcome::default();
    // (index, event row) of the records to write, first occurrence of each event id only.
    let mut seen = HashSet::new();
    let mut todo: Vec<(usize, EventRow)> = Vec::with_capacity(records.len());
    for (i, rec) in records.iter().enumerate() {
        if cutoff.is_some_and(|c| rec.occurred_at() < c) {
            outcome.expired += 1;
            continue;
        }
        let row = rec.event_row(opts.redact_pii);
        if seen.insert(row.event_id.clone()) {
            todo.push((i, row));
        } else {
            outcome.duplicates += 1;
        }
    }
    if todo.is_empty() {
        return Ok(outcome);
    }

    match write_all(pool, records, &todo, opts).await {
        Ok(inserted) => {
            outcome.inserted = inserted;
            outcome.duplicates += todo.len() - inserted;
            Ok(outcome)
        }
        Err(e) if classify(&e) == ErrorClass::Record => {
            warn!(error = %e, records = todo.len(), "a record was refused; writing the batch record by record");
            let (inserted, rejected) = write_each(pool, records, &todo, opts).await?;
            outcome.inserted = inserted;
            outcome.duplicates += todo.len() - inserted - rejected.len();
            outcome.rejected = rejected;
            Ok(outcome)
        }
        Err(e) => Err(e),
    }
}

/// The normal path: one multi-row insert of the event rows, then the handoff updates.
async fn write_all(
    pool: &PgPool,
    records: &[AuditRecord],
    todo: &[(usize, EventRow)],
    opts: &WriteOptions,
) -> Result<usize, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let rows: Vec<&EventRow> = todo.iter().map(|(_, r)| r).collect();
    let inserted: HashSet<String> = insert_events(&mut tx, &rows).await?.into_iter().collect();
    let new = todo
        .iter()
        .filter(|(_, row)| inserted.contains(&row.event_id))
        .map(|(i, _)| &records[*i]);
    apply(&mut tx, new, opts.redact_pii).await?;
    tx.commit().await?;
    Ok(inserted.len())
}

/// The fallback: each record in its own savepoint of one transaction; records refused as data
/// are rolled back to their savepoint and reported.
async fn write_each(
    pool: &PgPool,
    records: &[AuditRecord],
    todo: &[(usize, EventRow)],
    opts: &WriteOptions,
) -> Result<(usize, Vec<(usize, Rejection)>), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut inserted = 0;
    let mut rejected = Vec::new();
    for (i, row) in todo {
        let mut sp = sqlx::Connection::begin(&mut *tx).await?;
        let result = async {
            let new = !insert_events(&mut sp, &[row]).await?.is_empty();
            if new {
                apply(&mut sp, std::iter::once(&records[*i]), opts.redact_pii).await?;
            }
            Ok::<bool, sqlx::Error>(new)
        }
        .await;
        match result {
            Ok(new) => {
                sp.commit().await?;
                inserted += usize::from(new);
            }
            Err(e) if classify(&e) == ErrorClass::Record => {
                sp.rollback().await?;
                warn!(event_id = %row.event_id, error = %e, "record refused by the database");
                rejected.push((*i, Rejection::new("unstorable", e.to_string())));
            }
            Err(e) => return Err(e),
        }
    }
    tx.commit().await?;
    Ok((inserted, rejected))
}

/// The details travel as text and become jsonb in the server (the JSON is written once).
const INSERT_EVENTS: &str = "\
INSERT INTO handoff_events (event_id, handoff_id, conversation_id, kind, transition, actor, note, team, \
    accepted, rejection_reason, occurred_at, detail, source_topic, source_partition, source_offset) \
SELECT u.event_id, u.handoff_id, u.conversation_id, u.kind, u.transition, u.actor, u.note, u.team, \
    u.accepted, u.rejection_reason, u.occurred_at, u.detail::jsonb, u.source_topic, u.source_partition, \
    u.source_offset \
FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
    $8::text[], $9::bool[], $10::text[], $11::timestamptz[], $12::text[], $13::text[], $14::int4[], $15::int8[]) \
    AS u(event_id, handoff_id, conversation_id, kind, transition, actor, note, team, accepted, \
         rejection_reason, occurred_at, detail, source_topic, source_partition, source_offset) \
ON CONFLICT (event_id) DO NOTHING \
RETURNING event_id";

/// Inserts event rows in one statement; returns the ids that were new.
async fn insert_events(
    conn: &mut PgConnection,
    rows: &[&EventRow],
) -> Result<Vec<String>, sqlx::Error> {
    let text = |f: fn(&EventRow) -> &str| -> Vec<&str> { rows.iter().map(|r| f(r)).collect() };
    let opt = |f: fn(&EventRow) -> Option<&str>| -> Vec<Option<&str>> {
        rows.iter().map(|r| f(r)).collect()
    };
    sqlx::query_scalar::<_, String>(INSERT_EVENTS)
        .bind(text(|r| &r.event_id))
        .bind(opt(|r| r.handoff_id.as_deref()))
        .bind(text(|r| &r.conversation_id))
        .bind(text(|r| r.kind))
        .bind(opt(|r| r.transition.as_deref()))
        .bind(opt(|r| r.actor.as_deref()))
        .bind(opt(|r| r.note.as_deref()))
        .bind(opt(|r| r.team.as_deref()))
        .bind(rows.iter().map(|r| r.accepted).collect::<Vec<_>>())
        .bind(opt(|r| r.rejection_reason.as_deref()))
        .bind(rows.iter().map(|r| r.occurred_at).collect::<Vec<_>>())
        .bind(text(|r| &r.detail))
        .bind(text(|r| &r.source_topic))
        .bind(rows.iter().map(|r| r.source_partition).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.source_offset).collect::<Vec<_>>())
        .fetch_all(conn)
        .await
}

// ---- the handoffs row ---------------------------------------------------------------------
//
// A batch's records are folded per handoff in Rust into one `Delta` (each part with the same
// rule the SQL applies: the least signal key, the greatest payload key, the greatest route key,
// the lifecycle fold), and every delta goes through one statement, whatever parts it has: the
// columns a delta says nothing about travel as NULL (or 0 / false) and each merge expression
// leaves the stored value alone for those.

/// The signal columns are set by the escalation: the least `(sla_breach reasons, decided_at,
/// signal_id, signal_from_copy)`. A signal beats the copy of itself in its payload or route
/// (`false < true`); the copies only fill what is NULL until it arrives.
const ORIGIN_WINS: &str = "(EXCLUDED.signal_attempt IS NOT NULL AND (handoffs.signal_attempt IS NULL OR \
    (EXCLUDED.signal_attempt, EXCLUDED.created_at, EXCLUDED.signal_id COLLATE \"C\", EXCLUDED.signal_from_copy) <= \
    (handoffs.signal_attempt, handoffs.created_at, handoffs.signal_id COLLATE \"C\", handoffs.signal_from_copy)))";

/// The payload columns are set by the newest payload: the greatest `(sla_breach reasons of its
/// signal, the signal's decided_at, its signal_id, not from a route)`. A payload beats the copy
/// of itself inside its route.
const PAYLOAD_WINS: &str = "(EXCLUDED.payload_attempt IS NOT NULL AND (handoffs.payload_attempt IS NULL OR \
    (EXCLUDED.payload_attempt, EXCLUDED.payload_signal_at, EXCLUDED.payload_signal_id COLLATE \"C\", NOT EXCLUDED.payload_from_route) >= \
    (handoffs.payload_attempt, handoffs.payload_signal_at, handoffs.payload_signal_id COLLATE \"C\", NOT handoffs.payload_from_route)))";

/// The route with the highest attempt (then the latest, then the greatest id) wins.
const ROUTE_WINS: &str =
    "(EXCLUDED.route_attempt IS NOT NULL AND (handoffs.route_attempt IS NULL OR \
    (EXCLUDED.route_attempt, EXCLUDED.routed_at, EXCLUDED.route_id COLLATE \"C\") >= \
    (handoffs.route_attempt, handoffs.routed_at, handoffs.route_id COLLATE \"C\")))";

/// An accepted lifecycle event wins the state when it is later than the one that set it, ties
/// broken by state rank, then by id; a state set by a signal always yields.
const STATE_WINS: &str = "(EXCLUDED.state_lifecycle_id IS NOT NULL AND (handoffs.state_lifecycle_id IS NULL OR \
    (EXCLUDED.state_at, handoff_state_rank(EXCLUDED.state), EXCLUDED.state_lifecycle_id COLLATE \"C\") > \
    (handoffs.state_at, handoff_state_rank(handoffs.state), handoffs.state_lifecycle_id COLLATE \"C\")))";

/// The latest claim (then the greatest claimer, so the result is order-free) wins.
const CLAIM_WINS: &str = "(EXCLUDED.claimed_at IS NOT NULL AND (handoffs.claimed_at IS NULL OR \
    (EXCLUDED.claimed_at, EXCLUDED.claimed_by COLLATE \"C\") > \
    (handoffs.claimed_at, handoffs.claimed_by COLLATE \"C\")))";

/// Urgency only rises (an SLA breach raises it): the most urgent any record carried.
const URGENCY_MAX: &str = "CASE WHEN handoffs.urgency IS NULL OR \
    handoff_urgency_rank(EXCLUDED.urgency) > handoff_urgency_rank(handoffs.urgency) \
    THEN EXCLUDED.urgency ELSE handoffs.urgency END";

/// The delta's state comes from its lifecycle events (by STATE_WINS) or, without any, from its
/// signal, which sets a state only while none is known (at the earliest signal's time).
const STATE: &str = "CASE WHEN EXCLUDED.state_lifecycle_id IS NOT NULL \
    THEN CASE WHEN {STATE_WINS} THEN EXCLUDED.state ELSE handoffs.state END \
    ELSE COALESCE(handoffs.state, EXCLUDED.state) END";
const STATE_AT: &str = "CASE WHEN EXCLUDED.state_lifecycle_id IS NOT NULL \
    THEN CASE WHEN {STATE_WINS} THEN EXCLUDED.state_at ELSE handoffs.state_at END \
    WHEN handoffs.state_lifecycle_id IS NULL THEN LEAST(handoffs.state_at, EXCLUDED.state_at) \
    ELSE handoffs.state_at END";

/// The delta's priority is its route's (which wins by ROUTE_WINS) or, without a route, its
/// payload's, which only fills (a route's priority, raised by an SLA breach, beats it).
const PRIORITY: &str = "CASE WHEN EXCLUDED.route_attempt IS NOT NULL \
    THEN CASE WHEN {ROUTE_WINS} THEN EXCLUDED.priority ELSE handoffs.priority END \
    ELSE COALESCE(handoffs.priority, EXCLUDED.priority) END";

/// How each column merges, in the statement's column order (after handoff_id, conversation_id).
#[derive(Clone, Copy)]
enum Rule {
    /// `CASE WHEN cond THEN EXCLUDED ELSE current END`
    When(&'static str),
    /// The winner's value, or the current one where it has none; a loser only fills NULLs.
    Ranked(&'static str),
    Least,
    Add,
    Or,
    Expr(&'static str),
}

const COLUMNS: [(&str, &str, Rule); 50] = [
    // from signals (and the copies in payloads and routes)
    ("signal_attempt", "int4", Rule::When(ORIGIN_WINS)),
    ("signal_from_copy", "bool", Rule::When(ORIGIN_WINS)),
    ("signal_id", "text", Rule::Ranked(ORIGIN_WINS)),
    ("tenant_id", "text", Rule::Ranked(ORIGIN_WINS)),
    ("decision", "text", Rule::Ranked(ORIGIN_WINS)),
    ("reasons", "jsonb", Rule::Ranked(ORIGIN_WINS)),
    ("primary_reason", "text", Rule::Ranked(ORIGIN_WINS)),
    ("rule_ids", "text[]", Rule::Ranked(ORIGIN_WINS)),
    ("policy_version", "text", Rule::Ranked(ORIGIN_WINS)),
    ("created_at", "timestamptz", Rule::Ranked(ORIGIN_WINS)),
    ("trigger_event_id", "text", Rule::Ranked(ORIGIN_WINS)),
    ("contact_name", "text", Rule::Ranked(ORIGIN_WINS)),
    ("contact_email", "text", Rule::Ranked(ORIGIN_WINS)),
    ("contact_phone", "text", Rule::Ranked(ORIGIN_WINS)),
    ("account_id", "text", Rule::Ranked(ORIGIN_WINS)),
    ("plan", "text", Rule::Ranked(ORIGIN_WINS)),
    ("vip", "bool", Rule::Ranked(ORIGIN_WINS)),
    ("urgency", "text", Rule::Expr(URGENCY_MAX)),
    // from payloads (and the copies in routes)
    ("payload_attempt", "int4", Rule::When(PAYLOAD_WINS)),
    ("payload_signal_at", "timestamptz", Rule::When(PAYLOAD_WINS)),
    ("payload_signal_id", "text", Rule::When(PAYLOAD_WINS)),
    ("payload_from_route", "bool", Rule::When(PAYLOAD_WINS)),
    ("intent", "text", Rule::Ranked(PAYLOAD_WINS)),
    ("sub_intent", "text", Rule::Ranked(PAYLOAD_WINS)),
    ("intent_confidence", "float8", Rule::Ranked(PAYLOAD_WINS)),
    ("summary", "text", Rule::Ranked(PAYLOAD_WINS)),
    ("draft_reply", "text", Rule::Ranked(PAYLOAD_WINS)),
    ("next_action", "text", Rule::Ranked(PAYLOAD_WINS)),
    ("next_action_reasoning", "text", Rule::Ranked(PAYLOAD_WINS)),
    ("priority", "text", Rule::Expr(PRIORITY)),
    // from routes
    ("route_id", "text", Rule::When(ROUTE_WINS)),
    ("team", "text", Rule::When(ROUTE_WINS)),
    ("queue", "text", Rule::When(ROUTE_WINS)),
    ("routing_rule_id", "text", Rule::When(ROUTE_WINS)),
    ("matched_on", "text[]", Rule::When(ROUTE_WINS)),
    ("routed_at", "timestamptz", Rule::When(ROUTE_WINS)),
    ("claim_by", "timestamptz", Rule::When(ROUTE_WINS)),
    ("route_attempt", "int4", Rule::When(ROUTE_WINS)),
    // from lifecycle events (and, for the state, signals)
    ("state", "text", Rule::Expr(STATE)),
    ("state_at", "timestamptz", Rule::Expr(STATE_AT)),
    ("state_lifecycle_id", "text", Rule::When(STATE_WINS)),
    ("first_claimed_at", "timestamptz", Rule::Least),
    ("claimed_at", "timestamptz", Rule::When(CLAIM_WINS)),
    ("claimed_by", "text", Rule::When(CLAIM_WINS)),
    ("resolved_at", "timestamptz", Rule::Least),
    ("returned_at", "timestamptz", Rule::Least),
    ("sla_breached", "bool", Rule::Or),
    ("sla_breach_count", "int4", Rule::Add),
    ("sla_breached_at", "timestamptz", Rule::Least),
    ("reassign_count", "int4", Rule::Add),
];

/// The upsert: one row per delta, every column as an array through `UNNEST` (the text is the
/// same for every batch, so Postgres prepares it once per connection).
fn upsert_statement() -> &'static str {
    static STATEMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    STATEMENT.get_or_init(|| {
        let mut names = String::from("handoff_id, conversation_id");
        let mut exprs = String::from("u.handoff_id, u.conversation_id");
        let mut arrays = String::from("$1::text[], $2::text[]");
        let mut sets = Vec::with_capacity(COLUMNS.len() + 1);
        for (n, (name, ty, rule)) in COLUMNS.iter().enumerate() {
            names.push_str(&format!(", {name}"));
            if *ty == "text[]" {
                // A text[] value travels as a JSON array (UNNEST would flatten arrays of arrays).
                exprs.push_str(&format!(
                    ", CASE WHEN u.{name} IS NULL THEN NULL \
                     ELSE ARRAY(SELECT jsonb_array_elements_text(u.{name})) END"
                ));
                arrays.push_str(&format!(", ${}::jsonb[]", n + 3));
            } else {
                exprs.push_str(&format!(", u.{name}"));
                arrays.push_str(&format!(", ${}::{ty}[]", n + 3));
            }
            let (x, h) = (format!("EXCLUDED.{name}"), format!("handoffs.{name}"));
            sets.push(match rule {
                Rule::When(c) => format!("{name} = CASE WHEN {c} THEN {x} ELSE {h} END"),
                Rule::Ranked(c) => format!(
                    "{name} = CASE WHEN {c} THEN COALESCE({x}, {h}) ELSE COALESCE({h}, {x}) END"
                ),
                Rule::Least => format!("{name} = LEAST({h}, {x})"),
                Rule::Add => format!("{name} = {h} + {x}"),
                Rule::Or => format!("{name} = {h} OR {x}"),
                Rule::Expr(e) => format!(
                    "{name} = {}",
                    e.replace("{STATE_WINS}", STATE_WINS)
                        .replace("{ROUTE_WINS}", ROUTE_WINS)
                ),
            });
        }
        sets.push("updated_at = now()".into());
        format!(
            "INSERT INTO handoffs ({names}) SELECT {exprs} FROM UNNEST({arrays}) AS u({names}) \
             ON CONFLICT (handoff_id) DO UPDATE SET {}",
            sets.join(", ")
        )
    })
}

/// sla_breach reasons: 0 for an escalation, n for its n-th SLA re-escalation.
fn sla_attempt(reasons: &[Reason]) -> i32 {
    let n = reasons
        .iter()
        .filter(|r| r.kind == ReasonKind::SlaBreach)
        .count();
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// `Option::or` for every field: the winner's values, the loser's where the winner has none.
macro_rules! fill {
    ($win:ident, $lose:ident; $($f:ident),*) => {
        $( if $win.$f.is_none() { $win.$f = $lose.$f.take(); } )*
    };
}

/// ORIGIN_WINS' key: (sla_breach reasons, decided_at, signal_id, from a copy).
type OriginKey = (i32, DateTime<Utc>, Option<String>, bool);

/// PAYLOAD_WINS' key: (sla_breach reasons, the signal's decided_at, signal_id, not from a route).
type PayloadKey = (i32, DateTime<Utc>, String, bool);

/// The signal columns as one signal (or a payload's or route's copy of it) gives them.
#[derive(Debug)]
struct Origin {
    key: OriginKey,
    tenant_id: Option<String>,
    decision: Option<String>,
    reasons: Option<Json>,
    primary_reason: Option<String>,
    rule_ids: Option<Vec<String>>,
    policy_version: Option<String>,
    trigger_event_id: Option<String>,
    contact_name: Option<String>,
    contact_email: Option<String>,
    contact_phone: Option<String>,
    account_id: Option<String>,
    plan: Option<String>,
    vip: Option<bool>,
}

impl Origin {
    #[allow(clippy::too_many_arguments)]
    fn new(
        copy: bool,
        signal_id: &str,
        tenant_id: &str,
        decision: &Decision,
        reasons: &[Reason],
        rule_ids: Vec<String>,
        policy_version: &str,
        decided_at: DateTime<Utc>,
        trigger_event_id: &str,
        contact: Option<&Contact>,
        redact: bool,
    ) -> Origin {
        let pii = |f: fn(&Contact) -> &Option<String>| {
            contact.filter(|_| !redact).and_then(|c| opt_text(f(c)))
        };
        Origin {
            key: (sla_attempt(reasons), decided_at, text(signal_id), copy),
            tenant_id: text(tenant_id),
            decision: Some(enum_str(decision)),
            reasons: Some(to_json(&reasons)),
            primary_reason: reasons.first().map(|r| r.kind.as_str().to_string()),
            rule_ids: Some(rule_ids),
            policy_version: text(policy_version),
            trigger_event_id: text(trigger_event_id),
            contact_name: pii(|c| &c.name),
            contact_email: pii(|c| &c.email),
            contact_phone: pii(|c| &c.phone),
            account_id: contact.and_then(|c| opt_text(&c.account_id)),
            plan: contact.and_then(|c| opt_text(&c.plan)),
            vip: contact.map(|c| c.vip),
        }
    }

    fn from_payload(p: &HandoffPayload, redact: bool) -> Origin {
        let rule_ids = if p.context.rule_ids.is_empty() {
            p.reasons.iter().map(|r| clean(&r.rule_id)).collect()
        } else {
            p.context.rule_ids.iter().map(|r| clean(r)).collect()
        };
        Origin::new(
            true,
            &p.signal_id,
            &p.tenant_id,
            &p.decision,
            &p.reasons,
            rule_ids,
            &p.policy_version,
            p.created_at,
            &p.trigger_event_id,
            p.context.contact.as_ref(),
            redact,
        )
    }

    /// ORIGIN_WINS: the least key wins (the later of equals), the other fills.
    fn merge(self, other: Origin) -> Origin {
        let (mut win, mut lose) = if other.key <= self.key {
            (other, self)
        } else {
            (self, other)
        };
        fill!(win, lose; tenant_id, decision, reasons, primary_reason, rule_ids, policy_version,
              trigger_event_id, contact_name, contact_email, contact_phone, account_id, plan, vip);
        win
    }
}

/// The payload columns as one payload (or the copy inside a route) gives them.
#[derive(Debug)]
struct PayloadPart {
    key: PayloadKey,
    intent: Option<String>,
    sub_intent: Option<String>,
    intent_confidence: Option<f64>,
    summary: Option<String>,
    draft_reply: Option<String>,
    next_action: Option<String>,
    next_action_reasoning: Option<String>,
}

impl PayloadPart {
    fn new(p: &HandoffPayload, from_route: bool) -> PayloadPart {
        PayloadPart {
            key: (
                sla_attempt(&p.reasons),
                p.created_at,
                clean(&p.signal_id),
                !from_route,
            ),
            intent: text(&p.intent.name),
            sub_intent: opt_text(&p.intent.sub_intent),
            intent_confidence: Some(p.intent.confidence).filter(|c| c.is_finite()),
            summary: text(&p.summary),
            draft_reply: text(&p.draft_reply),
            next_action: text(&p.next_action.action),
            next_action_reasoning: text(&p.next_action.reasoning),
        }
    }

    /// PAYLOAD_WINS: the greatest key wins (the later of equals), the other fills.
    fn merge(self, other: PayloadPart) -> PayloadPart {
        let (mut win, mut lose) = if other.key >= self.key {
            (other, self)
        } else {
            (self, other)
        };
        fill!(win, lose; intent, sub_intent, intent_confidence, summary, draft_reply, next_action,
              next_action_reasoning);
        win
    }
}

/// Everything one batch says about one handoff, folded with the rules the statement applies.
#[derive(Debug)]
struct Delta {
    handoff_id: String,
    conversation_id: String,
    origin: Option<Origin>,
    urgency: Option<Urgency>,
    /// from signals: the state they set while none is known, and the earliest decision
    signal_state: Option<(&'static str, DateTime<Utc>)>,
    payload: Option<PayloadPart>,
    /// (the payload's key, its priority) of the newest payload itself (not a route's copy)
    payload_priority: Option<(PayloadKey, String)>,
    route: Option<(i32, DateTime<Utc>, String, RoutedHandoff)>,
    lifecycle: LifecycleFold,
}

fn merge_opt<T>(a: Option<T>, b: T, f: impl FnOnce(T, T) -> T) -> Option<T> {
    Some(match a {
        Some(a) => f(a, b),
        None => b,
    })
}

impl Delta {
    fn new(handoff_id: String, conversation_id: String) -> Delta {
        Delta {
            handoff_id,
            conversation_id,
            origin: None,
            urgency: None,
            signal_state: None,
            payload: None,
            payload_priority: None,
            route: None,
            lifecycle: LifecycleFold::default(),
        }
    }

    fn urgency(&mut self, u: Urgency) {
        let rank = |u: Urgency| match u {
            Urgency::Nurture => 0,
            Urgency::Normal => 1,
            Urgency::Immediate => 2,
        };
        if self.urgency.is_none_or(|cur| rank(u) > rank(cur)) {
            self.urgency = Some(u);
        }
    }

    fn add_origin(&mut self, o: Origin) {
        self.origin = merge_opt(self.origin.take(), o, Origin::merge);
    }

    fn add_payload_part(&mut self, p: PayloadPart) {
        self.payload = merge_opt(self.payload.take(), p, PayloadPart::merge);
    }

    fn add(&mut self, rec: &AuditRecord, redact: bool) {
        match &rec.body {
            AuditBody::Signal(s) => {
                let rule_ids = s.reasons.iter().map(|r| clean(&r.rule_id)).collect();
                self.add_origin(Origin::new(
                    false,
                    &s.signal_id,
                    &s.tenant_id,
                    &s.decision,
                    &s.reasons,
                    rule_ids,
                    &s.policy_version,
                    s.decided_at,
                    &s.trigger_event_id,
                    s.contact.as_ref(),
                    redact,
                ));
                self.urgency(s.urgency);
                let state = if s.decision == Decision::Escalate {
                    "awaiting_human"
                } else {
                    "flagged"
                };
                let at = self
                    .signal_state
                    .map_or(s.decided_at, |(_, at)| at.min(s.decided_at));
                self.signal_state = Some((state, at));
            }
            AuditBody::Payload(p) => {
                self.add_origin(Origin::from_payload(p, redact));
                self.urgency(p.urgency);
                let part = PayloadPart::new(p, false);
                if self
                    .payload_priority
                    .as_ref()
                    .is_none_or(|(key, _)| part.key >= *key)
                {
                    self.payload_priority = Some((part.key.clone(), p.priority.as_str().into()));
                }
                self.add_payload_part(part);
            }
            AuditBody::Route(r) => {
                self.add_origin(Origin::from_payload(&r.payload, redact));
                self.urgency(r.payload.urgency);
                self.add_payload_part(PayloadPart::new(&r.payload, true));
                let x = &r.routing;
                let key = (x.attempt, x.routed_at, clean(&r.route_id));
                if self
                    .route
                    .as_ref()
                    .is_none_or(|(a, at, id, _)| key >= (*a, *at, id.clone()))
                {
                    self.route = Some((key.0, key.1, key.2, r.clone()));
                }
            }
            AuditBody::Lifecycle(l) => self.lifecycle.add(l),
            AuditBody::Command(_) => {}
        }
    }
}

/// The deltas of newly stored records, one per handoff, in order of first appearance. Records
/// that change no handoff (commands, refused transitions, records without a handoff) are left
/// out.
fn deltas<'r>(records: impl Iterator<Item = &'r AuditRecord>, redact: bool) -> Vec<Delta> {
    let mut out: Vec<Delta> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for rec in records {
        match &rec.body {
            AuditBody::Command(_) => continue, // its effect arrives as a lifecycle event
            AuditBody::Lifecycle(l) if !l.accepted => continue, // a refused transition
            _ => {}
        }
        let Some(handoff_id) = rec.handoff_id() else {
            continue;
        };
        let n = *index.entry(handoff_id.clone()).or_insert_with(|| {
            out.push(Delta::new(handoff_id, rec.conversation_id()));
            out.len() - 1
        });
        out[n].add(rec, redact);
    }
    out
}

/// One column's values for the statement's rows.
enum Column {
    Text(Vec<Option<String>>),
    Json(Vec<Option<Json>>),
    Ts(Vec<Option<DateTime<Utc>>>),
    Bool(Vec<Option<bool>>),
    Int(Vec<Option<i32>>),
    Float(Vec<Option<f64>>),
}

/// Applies the deltas in one statement (each handoff once, in id order: one lock order for
/// every writer, so concurrent auditors deadlock less).
async fn apply(
    conn: &mut PgConnection,
    records: impl Iterator<Item = &AuditRecord>,
    redact: bool,
) -> Result<(), sqlx::Error> {
    let mut deltas = deltas(records, redact);
    if deltas.is_empty() {
        return Ok(());
    }
    deltas.sort_by(|a, b| a.handoff_id.cmp(&b.handoff_id));
    let n = deltas.len();
    let texts = || Column::Text(Vec::with_capacity(n));
    let times = || Column::Ts(Vec::with_capacity(n));
    let ints = || Column::Int(Vec::with_capacity(n));
    let bools = || Column::Bool(Vec::with_capacity(n));
    let jsons = || Column::Json(Vec::with_capacity(n));
    let mut ids = Vec::with_capacity(n);
    let mut conversations = Vec::with_capacity(n);
    let mut cols: Vec<Column> = COLUMNS
        .iter()
        .map(|(_, ty, _)| match *ty {
            "text" => texts(),
            "timestamptz" => times(),
            "int4" => ints(),
            "bool" => bools(),
            "float8" => Column::Float(Vec::with_capacity(n)),
            _ => jsons(), // jsonb, and text[] as a JSON array
        })
        .collect();
    for d in deltas {
        ids.push(d.handoff_id);
        conversations.push(d.conversation_id);
        let o = d.origin;
        let p = d.payload;
        let (o_key, p_key) = (
            o.as_ref().map(|o| o.key.clone()),
            p.as_ref().map(|p| p.key.clone()),
        );
        let route = d.route.map(|(_, _, _, r)| r);
        let r = route.as_ref().map(|r| &r.routing);
        let l = d.lifecycle;
        let (state_at, state_id, state) = match (l.state, d.signal_state) {
            (Some((at, _, id, state)), _) => (Some(at), Some(id), Some(state.to_string())),
            (None, Some((state, at))) => (Some(at), None, Some(state.to_string())),
            (None, None) => (None, None, None),
        };
        let (claimed_at, claimed_by) = l
            .claim
            .map_or((None, None), |(at, by)| (Some(at), Some(by)));
        let priority = match (r, d.payload_priority) {
            (Some(r), _) => Some(r.priority.as_str().to_string()),
            (None, Some((_, p))) => Some(p),
            (None, None) => None,
        };
        macro_rules! of {
            ($part:expr, $f:ident) => {
                $part.as_ref().and_then(|x| x.$f.clone())
            };
        }
        let values: [Value; 50] = [
            Value::Int(o_key.as_ref().map(|k| k.0)),
            Value::Bool(o_key.as_ref().map(|k| k.3)),
            Value::Text(o_key.as_ref().and_then(|k| k.2.clone())),
            Value::Text(of!(o, tenant_id)),
            Value::Text(of!(o, decision)),
            Value::Json(of!(o, reasons)),
            Value::Text(of!(o, primary_reason)),
            Value::Json(of!(o, rule_ids).map(Json::from)),
            Value::Text(of!(o, policy_version)),
            Value::Ts(o_key.as_ref().map(|k| k.1)),
            Value::Text(of!(o, trigger_event_id)),
            Value::Text(of!(o, contact_name)),
            Value::Text(of!(o, contact_email)),
            Value::Text(of!(o, contact_phone)),
            Value::Text(of!(o, account_id)),
            Value::Text(of!(o, plan)),
            Value::Bool(of!(o, vip)),
            Value::Text(d.urgency.map(|u| u.as_str().to_string())),
            Value::Int(p_key.as_ref().map(|k| k.0)),
            Value::Ts(p_key.as_ref().map(|k| k.1)),
            Value::Text(p_key.as_ref().map(|k| k.2.clone())),
            Value::Bool(p_key.as_ref().map(|k| !k.3)),
            Value::Text(of!(p, intent)),
            Value::Text(of!(p, sub_intent)),
            Value::Float(of!(p, intent_confidence)),
            Value::Text(of!(p, summary)),
            Value::Text(of!(p, draft_reply)),
            Value::Text(of!(p, next_action)),
            Value::Text(of!(p, next_action_reasoning)),
            Value::Text(priority),
            Value::Text(route.as_ref().and_then(|r| text(&r.route_id))),
            Value::Text(r.and_then(|r| text(&r.team))),
            Value::Text(r.and_then(|r| text(&r.queue))),
            Value::Text(r.and_then(|r| text(&r.rule_id))),
            Value::Json(
                r.map(|r| Json::from(r.matched_on.iter().map(|m| clean(m)).collect::<Vec<_>>())),
            ),
            Value::Ts(r.map(|r| r.routed_at)),
            Value::Ts(r.map(|r| r.claim_by)),
            Value::Int(r.map(|r| r.attempt)),
            Value::Text(state),
            Value::Ts(state_at),
            Value::Text(state_id),
            Value::Ts(l.first_claimed_at),
            Value::Ts(claimed_at),
            Value::Text(claimed_by),
            Value::Ts(l.resolved_at),
            Value::Ts(l.returned_at),
            Value::Bool(Some(l.sla_breach_count > 0)),
            Value::Int(Some(l.sla_breach_count)),
            Value::Ts(l.sla_breached_at),
            Value::Int(Some(l.reassign_count)),
        ];
        for (col, v) in cols.iter_mut().zip(values) {
            match (col, v) {
                (Column::Text(c), Value::Text(v)) => c.push(v),
                (Column::Json(c), Value::Json(v)) => c.push(v),
                (Column::Ts(c), Value::Ts(v)) => c.push(v),
                (Column::Bool(c), Value::Bool(v)) => c.push(v),
                (Column::Int(c), Value::Int(v)) => c.push(v),
                (Column::Float(c), Value::Float(v)) => c.push(v),
                _ => unreachable!("COLUMNS and the values agree on types"),
            }
        }
    }
    let mut q = sqlx::query(sqlx::AssertSqlSafe(upsert_statement()))
        .bind(ids)
        .bind(conversations);
    for col in cols {
        q = match col {
            Column::Text(v) => q.bind(v),
            Column::Json(v) => q.bind(v),
            Column::Ts(v) => q.bind(v),
            Column::Bool(v) => q.bind(v),
            Column::Int(v) => q.bind(v),
            Column::Float(v) => q.bind(v),
        };
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

/// One value of a delta's row.
enum Value {
    Text(Option<String>),
    Json(Option<Json>),
    Ts(Option<DateTime<Utc>>),
    Bool(Option<bool>),
    Int(Option<i32>),
    Float(Option<f64>),
}

/// `handoff_state_rank` (migrations/0001): a handoff never moves backwards on a tie.
fn state_rank(state: &str) -> i32 {
    match state {
        "awaiting_human" => 1,
        "claimed" => 2,
        "returned_to_agent" | "resolved" => 3,
        _ => 0,
    }
}

/// What a handoff's accepted lifecycle events say, folded with the same rules the SQL applies
/// (greatest state key, latest claim, earliest first times, counts added).
#[derive(Debug, Default)]
struct LifecycleFold {
    /// (occurred_at, state rank, lifecycle_id, state) of the winning event
    state: Option<(DateTime<Utc>, i32, String, &'static str)>,
    first_claimed_at: Option<DateTime<Utc>>,
    /// (claimed_at, claimed_by) of the latest claim
    claim: Option<(DateTime<Utc>, String)>,
    resolved_at: Option<DateTime<Utc>>,
    returned_at: Option<DateTime<Utc>>,
    sla_breach_count: i32,
    sla_breached_at: Option<DateTime<Utc>>,
    reassign_count: i32,
}

fn earliest(a: Option<DateTime<Utc>>, b: DateTime<Utc>) -> Option<DateTime<Utc>> {
    Some(a.map_or(b, |a| a.min(b)))
}

impl LifecycleFold {
    fn add(&mut self, l: &LifecycleEvent) {
        let at = l.occurred_at;
        // A flag leaves the conversation's control state as it was (from = to); the handoff is
        // `flagged`.
        let state = if l.transition == "flagged" {
            "flagged"
        } else {
            l.to_state.as_str()
        };
        let key = (at, state_rank(state), clean(&l.lifecycle_id), state);
        if self
            .state
            .as_ref()
            .is_none_or(|s| (&key.0, key.1, &key.2) > (&s.0, s.1, &s.2))
        {
            self.state = Some(key);
        }
        match l.to_state {
            ControlState::Claimed => {
                self.first_claimed_at = earliest(self.first_claimed_at, at);
                let by = clean(l.actor.strip_prefix("operator:").unwrap_or(&l.actor));
                if self.claim.as_ref().is_none_or(|c| (at, &by) > (c.0, &c.1)) {
                    self.claim = Some((at, by));
                }
            }
            ControlState::Resolved => self.resolved_at = earliest(self.resolved_at, at),
            ControlState::ReturnedToAgent => self.returned_at = earliest(self.returned_at, at),
            ControlState::AwaitingHuman | ControlState::AgentActive => {}
        }
        match l.transition.as_str() {
            "sla_breached" => {
                self.sla_breach_count += 1;
                self.sla_breached_at = earliest(self.sla_breached_at, at);
            }
            "reassigned" => self.reassign_count += 1,
            _ => {}
        }
    }
}

// ---- retention ----------------------------------------------------------------------------

/// Rows deleted by one [`purge`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub events: u64,
    pub handoffs: u64,
}

/// Deletes events older than `days` and closed handoffs (resolved, returned to the agent, or
/// only flagged) whose last state change is older than that.
pub async fn purge(pool: &PgPool, days: u32) -> Result<Purged, sqlx::Error> {
    let days = i32::try_from(days).unwrap_or(i32::MAX);
    let mut tx = pool.begin().await?;
    let events = sqlx::query(
        "DELETE FROM handoff_events WHERE occurred_at < now() - make_interval(days => $1)",
    )
    .bind(days)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let handoffs = sqlx::query(
        "DELETE FROM handoffs WHERE state IN ('resolved', 'returned_to_agent', 'flagged') \
         AND state_at < now() - make_interval(days => $1)",
    )
    .bind(days)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(Purged { events, handoffs })
}
