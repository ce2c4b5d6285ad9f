//! Reads of the audit store (the auditor's `handoffs`, `handoff_events` and views; the console
//! never writes there: its commands come back through Kafka and the auditor).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value as Json;
use sqlx::PgPool;

/// One row of the needs-attention queue.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct QueueRow {
    pub handoff_id: String,
    pub conversation_id: String,
    pub team: Option<String>,
    pub state: Option<String>,
    pub priority: Option<String>,
    pub urgency: Option<String>,
    pub primary_reason: Option<String>,
    /// `handoff_reason_label(primary_reason)`; the API adds what matched.
    pub reason: Option<String>,
    pub reason_evidence: Option<String>,
    pub summary: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub claim_by: Option<DateTime<Utc>>,
    pub claimed_by: Option<String>,
    pub overdue: Option<bool>,
    pub waiting_seconds: Option<i64>,
    /// Seconds left until `claim_by` (negative: past it).
    pub deadline_seconds: Option<i64>,
}

/// Open handoffs, newest first, of one team or of all.
pub async fn queue(pool: &PgPool, team: Option<&str>) -> Result<Vec<QueueRow>, sqlx::Error> {
    sqlx::query_as::<_, QueueRow>(
        "SELECT handoff_id, conversation_id, team, state, priority, urgency, primary_reason, reason, \
                reason_evidence, summary, created_at, claim_by, claimed_by, overdue, waiting_seconds, \
                floor(extract(epoch FROM claim_by - now()))::bigint AS deadline_seconds \
         FROM needs_attention \
         WHERE ($1::text IS NULL OR team = $1) \
         ORDER BY created_at DESC NULLS LAST, handoff_id \
         LIMIT 500",
    )
    .bind(team)
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, PartialEq, Eq)]
pub struct Counts {
    pub open: i64,
    pub unclaimed: i64,
    pub claimed: i64,
    pub overdue: i64,
}

/// What the badge shows.
pub async fn counts(pool: &PgPool, team: Option<&str>) -> Result<Counts, sqlx::Error> {
    sqlx::query_as::<_, Counts>(
        "SELECT count(*) AS open, \
                count(*) FILTER (WHERE state = 'awaiting_human') AS unclaimed, \
                count(*) FILTER (WHERE state = 'claimed') AS claimed, \
                count(*) FILTER (WHERE overdue) AS overdue \
         FROM needs_attention WHERE ($1::text IS NULL OR team = $1)",
    )
    .bind(team)
    .fetch_one(pool)
    .await
}

/// A handoff's row (the columns the package page shows).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct HandoffRow {
    pub handoff_id: String,
    pub conversation_id: String,
    pub tenant_id: Option<String>,
    pub team: Option<String>,
    pub state: Option<String>,
    pub priority: Option<String>,
    pub urgency: Option<String>,
    pub primary_reason: Option<String>,
    pub reason: Option<String>,
    pub reasons: Option<Json>,
    /// `handoff_reason_label` of every reason, in the order of `reasons`: one wording, in SQL.
    #[serde(skip)]
    pub reason_labels: Option<Json>,
    pub summary: Option<String>,
    pub draft_reply: Option<String>,
    pub next_action: Option<String>,
    pub next_action_reasoning: Option<String>,
    pub intent: Option<String>,
    pub sub_intent: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub claim_by: Option<DateTime<Utc>>,
    pub claimed_by: Option<String>,
    pub contact_name: Option<String>,
    pub account_id: Option<String>,
    pub plan: Option<String>,
    pub vip: Option<bool>,
    pub deadline_seconds: Option<i64>,
}

pub async fn handoff(pool: &PgPool, handoff_id: &str) -> Result<Option<HandoffRow>, sqlx::Error> {
    sqlx::query_as::<_, HandoffRow>(
        "SELECT handoff_id, conversation_id, tenant_id, team, state, priority, urgency, primary_reason, \
                handoff_reason_label(primary_reason) AS reason, reasons, \
                (SELECT jsonb_agg(handoff_reason_label(r ->> 'kind') ORDER BY i) \
                   FROM jsonb_array_elements(CASE WHEN jsonb_typeof(reasons) = 'array' THEN reasons ELSE '[]'::jsonb END) \
                        WITH ORDINALITY AS x(r, i)) AS reason_labels, \
                summary, draft_reply, next_action, \
                next_action_reasoning, intent, sub_intent, created_at, claim_by, claimed_by, contact_name, \
                account_id, plan, vip, floor(extract(epoch FROM claim_by - now()))::bigint AS deadline_seconds \
         FROM handoffs WHERE handoff_id = $1",
    )
    .bind(handoff_id)
    .fetch_optional(pool)
    .await
}

/// The newest package of a handoff as JSON (the payload record, or the copy inside its newest
/// route when the payload itself has not been audited yet).
pub async fn payload(pool: &PgPool, handoff_id: &str) -> Result<Option<Json>, sqlx::Error> {
    let row: Option<(Json,)> = sqlx::query_as(
        "SELECT CASE kind WHEN 'route' THEN detail -> 'payload' ELSE detail END \
         FROM handoff_events \
         WHERE handoff_id = $1 AND kind IN ('payload', 'route') \
         ORDER BY occurred_at DESC, (kind = 'payload') DESC, event_id \
         LIMIT 1",
    )
    .bind(handoff_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(j,)| j))
}

/// One line of a conversation's audit history.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct HistoryRow {
    pub occurred_at: DateTime<Utc>,
    pub kind: String,
    pub handoff_id: Option<String>,
    pub transition: Option<String>,
    pub actor: Option<String>,
    pub operator_name: Option<String>,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub accepted: Option<bool>,
    pub rejection_reason: Option<String>,
    pub note: Option<String>,
    pub team: Option<String>,
}

/// Who did what to a conversation: decisions, routes and every transition (accepted or
/// refused), oldest first, operators named from their commands.
pub async fn history(pool: &PgPool, conversation_id: &str) -> Result<Vec<HistoryRow>, sqlx::Error> {
    sqlx::query_as::<_, HistoryRow>(
        "SELECT e.occurred_at, e.kind, e.handoff_id, e.transition, e.actor, \
                c.detail -> 'operator' ->> 'name' AS operator_name, \
                e.detail ->> 'from_state' AS from_state, e.detail ->> 'to_state' AS to_state, \
                e.accepted, e.rejection_reason, e.note, e.team \
         FROM handoff_events e \
         LEFT JOIN handoff_events c ON e.kind = 'lifecycle' AND c.event_id = 'command:' || (e.detail ->> 'command_id') \
         WHERE e.conversation_id = $1 AND e.kind IN ('signal', 'route', 'lifecycle') \
         ORDER BY e.occurred_at, e.source_topic, e.source_partition, e.source_offset, e.event_id",
    )
    .bind(conversation_id)
    .fetch_all(pool)
    .await
}

/// What became of a command: its lifecycle event, once the auditor has it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, PartialEq, Eq)]
pub struct CommandOutcome {
    pub transition: Option<String>,
    pub accepted: Option<bool>,
    pub rejection_reason: Option<String>,
}

pub async fn command_outcome(
    pool: &PgPool,
    conversation_id: &str,
    command_id: &str,
) -> Result<Option<CommandOutcome>, sqlx::Error> {
    sqlx::query_as::<_, CommandOutcome>(
        "SELECT transition, accepted, rejection_reason FROM handoff_events \
         WHERE conversation_id = $1 AND kind = 'lifecycle' AND detail ->> 'command_id' = $2 \
         ORDER BY occurred_at, event_id LIMIT 1",
    )
    .bind(conversation_id)
    .bind(command_id)
    .fetch_optional(pool)
    .await
}

/// Whether the auditor has created the schema yet (the console does not migrate).
pub async fn ready(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1 FROM needs_attention LIMIT 0")
        .execute(pool)
        .await
        .map(|_| ())
}
