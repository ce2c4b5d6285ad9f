//! Writing audit records to Postgres: `handoff_events` (append-only) and `handoffs` (current
//! state), one transaction per batch.
//!
//! Idempotence: every record's event row is inserted first with `ON CONFLICT DO NOTHING
//! RETURNING event_id`; the `handoffs` row is updated only for records whose event row was new
//! in this transaction. A replayed or redelivered record therefore changes nothing, and counters
//! such as `reassign_count` count each lifecycle event once.
//!
//! Order independence: each `handoffs` column is merged by a rule that does not depend on the
//! order records arrive in —
//! - signal columns: the signal's value wins; the payload and route only fill what is still NULL;
//! - payload columns: the payload's value wins; the route's embedded payload only fills;
//! - route columns: the route with the greatest (attempt, routed_at, route_id) wins;
//! - `state`: the accepted lifecycle event with the greatest (occurred_at, state rank,
//!   lifecycle_id) wins, rank being awaiting_human < claimed < returned_to_agent/resolved, so a
//!   handoff never moves backwards; the signal sets `awaiting_human` (or `flagged`) only while
//!   no state is known, and any lifecycle event overrides a state set by the signal;
//! - first-time facts (`first_claimed_at`, `resolved_at`, `returned_at`) keep the earliest value,
//!   `claimed_at`/`claimed_by` the latest claim, `sla_breached` ORs, `reassign_count` adds.

use crate::record::{enum_str, opt_text, text, to_json, AuditBody, AuditRecord, EventRow};
use chrono::{DateTime, Duration, Utc};
use handoff_core::records::{
    Contact, ControlState, Decision, HandoffPayload, LifecycleEvent, Reason, RoutedHandoff,
    StopSignal,
};
use handoff_runtime::worker::Rejection;
use serde_json::Value as Json;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use std::collections::HashSet;
use tracing::{debug, warn};

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
    for (i, row) in todo {
        if inserted.contains(&row.event_id) {
            apply(&mut tx, &records[*i], opts.redact_pii).await?;
        }
    }
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
                apply(&mut sp, &records[*i], opts.redact_pii).await?;
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

const INSERT_EVENTS: &str = "\
INSERT INTO handoff_events (event_id, handoff_id, conversation_id, kind, transition, actor, note, team, \
    accepted, rejection_reason, occurred_at, detail, source_topic, source_partition, source_offset) \
SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
    $8::text[], $9::bool[], $10::text[], $11::timestamptz[], $12::jsonb[], $13::text[], $14::int4[], $15::int8[]) \
ON CONFLICT (event_id) DO NOTHING \
RETURNING event_id";

/// Inserts event rows in one statement; returns the ids that were new.
async fn insert_events(
    conn: &mut PgConnection,
    rows: &[&EventRow],
) -> Result<Vec<String>, sqlx::Error> {
    fn col<T>(rows: &[&EventRow], f: impl Fn(&EventRow) -> T) -> Vec<T> {
        rows.iter().map(|r| f(r)).collect()
    }
    sqlx::query_scalar::<_, String>(INSERT_EVENTS)
        .bind(col(rows, |r| r.event_id.clone()))
        .bind(col(rows, |r| r.handoff_id.clone()))
        .bind(col(rows, |r| r.conversation_id.clone()))
        .bind(col(rows, |r| r.kind.to_string()))
        .bind(col(rows, |r| r.transition.clone()))
        .bind(col(rows, |r| r.actor.clone()))
        .bind(col(rows, |r| r.note.clone()))
        .bind(col(rows, |r| r.team.clone()))
        .bind(col(rows, |r| r.accepted))
        .bind(col(rows, |r| r.rejection_reason.clone()))
        .bind(col(rows, |r| r.occurred_at))
        .bind(col(rows, |r| r.detail.clone()))
        .bind(col(rows, |r| r.source_topic.clone()))
        .bind(col(rows, |r| r.source_partition))
        .bind(col(rows, |r| r.source_offset))
        .fetch_all(conn)
        .await
}

// ---- the handoffs row ---------------------------------------------------------------------

/// A value to bind.
enum Val {
    Text(Option<String>),
    Texts(Option<Vec<String>>),
    Ts(Option<DateTime<Utc>>),
    Json(Option<Json>),
    Bool(Option<bool>),
    Int(Option<i32>),
    Float(Option<f64>),
}

/// How a column merges into an existing row (the `DO UPDATE SET` expression).
enum Merge {
    /// The record owns the column: its value wins unless NULL.
    Own,
    /// The record only fills the column while it is NULL.
    Fill,
    /// A custom expression over `handoffs.<col>` and `EXCLUDED.<col>`.
    Expr(String),
}

/// An accepted lifecycle event wins the state when it is later than the one that set it, ties
/// broken by state rank, then by id; a state set by the signal always yields.
const STATE_WINS: &str = "(handoffs.state_lifecycle_id IS NULL OR \
    (EXCLUDED.state_at, handoff_state_rank(EXCLUDED.state), EXCLUDED.state_lifecycle_id) > \
    (handoffs.state_at, handoff_state_rank(handoffs.state), handoffs.state_lifecycle_id))";

/// The route with the highest attempt (then the latest, then the greatest id) wins.
const ROUTE_WINS: &str = "(handoffs.route_attempt IS NULL OR \
    (EXCLUDED.route_attempt, EXCLUDED.routed_at, EXCLUDED.route_id) >= \
    (handoffs.route_attempt, handoffs.routed_at, handoffs.route_id))";

/// The latest claim (then the greatest claimer, so the result is order-free) wins.
const CLAIM_WINS: &str = "(handoffs.claimed_at IS NULL OR \
    (EXCLUDED.claimed_at, EXCLUDED.claimed_by) > (handoffs.claimed_at, handoffs.claimed_by))";

fn when(cond: &str, col: &str) -> Merge {
    Merge::Expr(format!(
        "CASE WHEN {cond} THEN EXCLUDED.{col} ELSE handoffs.{col} END"
    ))
}

struct Upsert {
    handoff_id: String,
    conversation_id: String,
    cols: Vec<(&'static str, Merge, Val)>,
}

impl Upsert {
    fn new(handoff_id: String, conversation_id: String) -> Self {
        Upsert {
            handoff_id,
            conversation_id,
            cols: Vec::new(),
        }
    }

    fn col(&mut self, name: &'static str, merge: Merge, val: Val) -> &mut Self {
        self.cols.push((name, merge, val));
        self
    }

    async fn execute(self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        let mut qb: QueryBuilder<Postgres> =
            QueryBuilder::new("INSERT INTO handoffs (handoff_id, conversation_id");
        for (name, _, _) in &self.cols {
            qb.push(", ").push(name);
        }
        qb.push(") VALUES (");
        qb.push_bind(self.handoff_id)
            .push(", ")
            .push_bind(self.conversation_id);
        let mut sets = Vec::with_capacity(self.cols.len() + 1);
        for (name, merge, val) in self.cols {
            qb.push(", ");
            match val {
                Val::Text(v) => qb.push_bind(v),
                Val::Texts(v) => qb.push_bind(v),
                Val::Ts(v) => qb.push_bind(v),
                Val::Json(v) => qb.push_bind(v),
                Val::Bool(v) => qb.push_bind(v),
                Val::Int(v) => qb.push_bind(v),
                Val::Float(v) => qb.push_bind(v),
            };
            sets.push(match merge {
                Merge::Own => format!("{name} = COALESCE(EXCLUDED.{name}, handoffs.{name})"),
                Merge::Fill => format!("{name} = COALESCE(handoffs.{name}, EXCLUDED.{name})"),
                Merge::Expr(e) => format!("{name} = {e}"),
            });
        }
        sets.push("updated_at = now()".to_string());
        qb.push(") ON CONFLICT (handoff_id) DO UPDATE SET ")
            .push(sets.join(", "));
        qb.build().execute(conn).await?;
        Ok(())
    }
}

/// Applies one (newly stored) record to its handoff's row.
async fn apply(
    conn: &mut PgConnection,
    rec: &AuditRecord,
    redact: bool,
) -> Result<(), sqlx::Error> {
    let (Some(handoff_id), conversation_id) = (rec.handoff_id(), rec.conversation_id()) else {
        return Ok(());
    };
    let mut up = Upsert::new(handoff_id, conversation_id);
    match &rec.body {
        AuditBody::Signal(s) => signal_cols(&mut up, s, redact),
        AuditBody::Payload(p) => {
            signal_cols_from_payload(&mut up, p, redact);
            payload_cols(&mut up, p, true);
        }
        AuditBody::Route(r) => {
            signal_cols_from_payload(&mut up, &r.payload, redact);
            payload_cols(&mut up, &r.payload, false);
            route_cols(&mut up, r);
        }
        AuditBody::Lifecycle(l) => {
            if !l.accepted {
                return Ok(()); // a refused transition changes nothing
            }
            lifecycle_cols(&mut up, l);
        }
        AuditBody::Command(_) => return Ok(()), // its effect arrives as a lifecycle event
    }
    debug!(event_id = %rec.event_id(), columns = up.cols.len(), "applying to handoffs");
    up.execute(conn).await
}

fn primary_reason(reasons: &[Reason]) -> Option<String> {
    reasons.first().map(|r| r.kind.as_str().to_string())
}

fn contact_cols(up: &mut Upsert, contact: Option<&Contact>, redact: bool, merge: fn() -> Merge) {
    let pii = |f: fn(&Contact) -> &Option<String>| {
        Val::Text(contact.filter(|_| !redact).and_then(|c| opt_text(f(c))))
    };
    up.col("contact_name", merge(), pii(|c| &c.name))
        .col("contact_email", merge(), pii(|c| &c.email))
        .col("contact_phone", merge(), pii(|c| &c.phone))
        .col(
            "account_id",
            merge(),
            Val::Text(contact.and_then(|c| opt_text(&c.account_id))),
        )
        .col(
            "plan",
            merge(),
            Val::Text(contact.and_then(|c| opt_text(&c.plan))),
        )
        .col("vip", merge(), Val::Bool(contact.map(|c| c.vip)));
}

fn signal_cols(up: &mut Upsert, s: &StopSignal, redact: bool) {
    let state = if s.decision == Decision::Escalate {
        "awaiting_human"
    } else {
        "flagged"
    };
    up.col("signal_id", Merge::Own, Val::Text(text(&s.signal_id)))
        .col("tenant_id", Merge::Own, Val::Text(text(&s.tenant_id)))
        .col(
            "decision",
            Merge::Own,
            Val::Text(Some(enum_str(&s.decision))),
        )
        .col(
            "urgency",
            Merge::Own,
            Val::Text(Some(s.urgency.as_str().to_string())),
        )
        .col("reasons", Merge::Own, Val::Json(Some(to_json(&s.reasons))))
        .col(
            "primary_reason",
            Merge::Own,
            Val::Text(primary_reason(&s.reasons)),
        )
        .col(
            "rule_ids",
            Merge::Own,
            Val::Texts(Some(
                s.reasons
                    .iter()
                    .map(|r| crate::record::clean(&r.rule_id))
                    .collect(),
            )),
        )
        .col(
            "policy_version",
            Merge::Own,
            Val::Text(text(&s.policy_version)),
        )
        .col("created_at", Merge::Own, Val::Ts(Some(s.decided_at)))
        .col(
            "trigger_event_id",
            Merge::Own,
            Val::Text(text(&s.trigger_event_id)),
        );
    contact_cols(up, s.contact.as_ref(), redact, || Merge::Own);
    up.col(
        "state",
        Merge::Expr("COALESCE(handoffs.state, EXCLUDED.state)".into()),
        Val::Text(Some(state.into())),
    )
    .col(
        "state_at",
        when("handoffs.state IS NULL", "state_at"),
        Val::Ts(Some(s.decided_at)),
    );
}

/// What a payload knows of the signal: fills the signal's columns while they are NULL.
fn signal_cols_from_payload(up: &mut Upsert, p: &HandoffPayload, redact: bool) {
    let rule_ids: Vec<String> = if p.context.rule_ids.is_empty() {
        p.reasons
            .iter()
            .map(|r| r.rule_id.as_str())
            .map(crate::record::clean)
            .collect()
    } else {
        p.context
            .rule_ids
            .iter()
            .map(|r| crate::record::clean(r))
            .collect()
    };
    up.col("signal_id", Merge::Fill, Val::Text(text(&p.signal_id)))
        .col("tenant_id", Merge::Fill, Val::Text(text(&p.tenant_id)))
        .col(
            "decision",
            Merge::Fill,
            Val::Text(Some(enum_str(&p.decision))),
        )
        .col(
            "urgency",
            Merge::Fill,
            Val::Text(Some(p.urgency.as_str().to_string())),
        )
        .col("reasons", Merge::Fill, Val::Json(Some(to_json(&p.reasons))))
        .col(
            "primary_reason",
            Merge::Fill,
            Val::Text(primary_reason(&p.reasons)),
        )
        .col("rule_ids", Merge::Fill, Val::Texts(Some(rule_ids)))
        .col(
            "policy_version",
            Merge::Fill,
            Val::Text(text(&p.policy_version)),
        )
        .col("created_at", Merge::Fill, Val::Ts(Some(p.created_at)))
        .col(
            "trigger_event_id",
            Merge::Fill,
            Val::Text(text(&p.trigger_event_id)),
        );
    contact_cols(up, p.context.contact.as_ref(), redact, || Merge::Fill);
}

/// The payload's own columns; `owner` when the record is the payload itself (its values win),
/// not when it is the copy inside a route (which only fills).
fn payload_cols(up: &mut Upsert, p: &HandoffPayload, owner: bool) {
    let m = || if owner { Merge::Own } else { Merge::Fill };
    up.col("intent", m(), Val::Text(text(&p.intent.name)))
        .col("sub_intent", m(), Val::Text(opt_text(&p.intent.sub_intent)))
        .col(
            "intent_confidence",
            m(),
            Val::Float(Some(p.intent.confidence)),
        )
        .col("summary", m(), Val::Text(text(&p.summary)))
        .col("draft_reply", m(), Val::Text(text(&p.draft_reply)))
        .col("next_action", m(), Val::Text(text(&p.next_action.action)))
        .col(
            "next_action_reasoning",
            m(),
            Val::Text(text(&p.next_action.reasoning)),
        );
    if owner {
        // A route's priority (possibly raised by an SLA breach) beats the payload's.
        up.col(
            "priority",
            Merge::Fill,
            Val::Text(Some(p.priority.as_str().to_string())),
        );
    }
}

fn route_cols(up: &mut Upsert, r: &RoutedHandoff) {
    let x = &r.routing;
    up.col(
        "route_id",
        when(ROUTE_WINS, "route_id"),
        Val::Text(text(&r.route_id)),
    )
    .col("team", when(ROUTE_WINS, "team"), Val::Text(text(&x.team)))
    .col(
        "queue",
        when(ROUTE_WINS, "queue"),
        Val::Text(text(&x.queue)),
    )
    .col(
        "routing_rule_id",
        when(ROUTE_WINS, "routing_rule_id"),
        Val::Text(text(&x.rule_id)),
    )
    .col(
        "matched_on",
        when(ROUTE_WINS, "matched_on"),
        Val::Texts(Some(
            x.matched_on
                .iter()
                .map(|m| crate::record::clean(m))
                .collect(),
        )),
    )
    .col(
        "priority",
        when(ROUTE_WINS, "priority"),
        Val::Text(Some(x.priority.as_str().to_string())),
    )
    .col(
        "routed_at",
        when(ROUTE_WINS, "routed_at"),
        Val::Ts(Some(x.routed_at)),
    )
    .col(
        "claim_by",
        when(ROUTE_WINS, "claim_by"),
        Val::Ts(Some(x.claim_by)),
    )
    .col(
        "route_attempt",
        when(ROUTE_WINS, "route_attempt"),
        Val::Int(Some(x.attempt)),
    );
}

fn lifecycle_cols(up: &mut Upsert, l: &LifecycleEvent) {
    let at = Some(l.occurred_at);
    up.col(
        "state",
        when(STATE_WINS, "state"),
        Val::Text(Some(l.to_state.as_str().to_string())),
    )
    .col("state_at", when(STATE_WINS, "state_at"), Val::Ts(at))
    .col(
        "state_lifecycle_id",
        when(STATE_WINS, "state_lifecycle_id"),
        Val::Text(Some(crate::record::clean(&l.lifecycle_id))),
    );
    let least = |c: &str| Merge::Expr(format!("LEAST(handoffs.{c}, EXCLUDED.{c})"));
    match l.to_state {
        ControlState::Claimed => {
            let by = l.actor.strip_prefix("operator:").unwrap_or(&l.actor);
            up.col("first_claimed_at", least("first_claimed_at"), Val::Ts(at))
                .col("claimed_at", when(CLAIM_WINS, "claimed_at"), Val::Ts(at))
                .col(
                    "claimed_by",
                    when(CLAIM_WINS, "claimed_by"),
                    Val::Text(Some(crate::record::clean(by))),
                );
        }
        ControlState::Resolved => {
            up.col("resolved_at", least("resolved_at"), Val::Ts(at));
        }
        ControlState::ReturnedToAgent => {
            up.col("returned_at", least("returned_at"), Val::Ts(at));
        }
        ControlState::AwaitingHuman | ControlState::AgentActive => {}
    }
    match l.transition.as_str() {
        "sla_breached" => {
            up.col(
                "sla_breached",
                Merge::Expr("handoffs.sla_breached OR EXCLUDED.sla_breached".into()),
                Val::Bool(Some(true)),
            );
        }
        "reassigned" => {
            up.col(
                "reassign_count",
                Merge::Expr("handoffs.reassign_count + EXCLUDED.reassign_count".into()),
                Val::Int(Some(1)),
            );
        }
        _ => {}
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
