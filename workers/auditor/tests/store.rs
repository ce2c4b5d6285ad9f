//! The audit store against a real Postgres: one fresh database per test (created from the URL in
//! `HANDOFF_DATABASE__URL`, which `source infra/env.sh` sets; `make infra-up` starts Postgres).
//!
//! Records are built in Rust and written through the same path the Kafka sink uses
//! (`write_records`, or `AuditSink::write` with Avro values), so no broker is needed.

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::Schema;
use chrono::{DateTime, Duration, TimeZone, Utc};
use handoff_auditor::store::WriteOutcome;
use handoff_auditor::{purge, write_records, AuditRecord, AuditSink, WriteOptions};
use handoff_core::records::*;
use handoff_runtime::codec::AvroRecord;
use handoff_runtime::sink::{Sink, SinkRecord};
use handoff_runtime::topics::Topics;
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::PgPool;

// ---- a database per test ------------------------------------------------------------------

fn admin_url() -> String {
    match std::env::var("HANDOFF_DATABASE__URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "HANDOFF_DATABASE__URL is not set: these tests need the local Postgres. \
             Run `make infra-up` (or `infra/postgres.sh start`), then `source infra/env.sh` and re-run."
        ),
    }
}

/// `url` with its database name replaced.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let (server, _) = base
        .rsplit_once('/')
        .expect("a postgres URL with a database path");
    match query {
        Some(q) => format!("{server}/{db}?{q}"),
        None => format!("{server}/{db}"),
    }
}

struct TestDb {
    name: String,
    admin: String,
    pool: PgPool,
}

impl TestDb {
    async fn new() -> TestDb {
        let admin = admin_url();
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin_pool = PgPool::connect(&admin).await.unwrap_or_else(|e| {
            panic!("cannot connect to {admin} ({e}); is Postgres up (`make infra-up`)?")
        });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&admin_pool)
            .await
            .expect("CREATE DATABASE (the role needs CREATEDB)");
        admin_pool.close().await;
        let pool = handoff_auditor::connect_and_migrate(&with_database(&admin, &name))
            .await
            .expect("connect and migrate the test database");
        TestDb { name, admin, pool }
    }
}

impl Drop for TestDb {
    /// Best effort: drop the database from a helper thread (Drop cannot await).
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let pool = PgPool::connect(&admin).await.ok()?;
                let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&pool)
                    .await
                    .ok()?;
                pool.close().await;
                Some(())
            })
        })
        .join();
    }
}

/// Every row of a table as JSON, in key order (`skip` columns removed).
async fn dump(pool: &PgPool, table: &str, key: &str, skip: &[&str]) -> Vec<Value> {
    let sql = format!("SELECT to_jsonb(t) FROM {table} t ORDER BY {key}");
    let rows: Vec<Value> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await
        .unwrap();
    rows.into_iter()
        .map(|mut v| {
            for s in skip {
                v.as_object_mut().unwrap().remove(*s);
            }
            v
        })
        .collect()
}

async fn dumps(pool: &PgPool) -> (Vec<Value>, Vec<Value>) {
    (
        dump(pool, "handoffs", "handoff_id", &[]).await,
        dump(pool, "handoff_events", "event_id", &[]).await,
    )
}

/// The handoffs rows without the bookkeeping timestamps (which say when we wrote, not what).
async fn handoffs_state(pool: &PgPool) -> Vec<Value> {
    dump(
        pool,
        "handoffs",
        "handoff_id",
        &["first_seen_at", "updated_at"],
    )
    .await
}

async fn handoff(pool: &PgPool, id: &str) -> Value {
    sqlx::query_scalar::<_, Value>("SELECT to_jsonb(h) FROM handoffs h WHERE handoff_id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("handoff {id}: {e}"))
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

async fn write(pool: &PgPool, records: &[AuditRecord]) -> WriteOutcome {
    write_records(pool, records, &WriteOptions::default())
        .await
        .expect("write_records")
}

async fn truncate(pool: &PgPool) {
    sqlx::query("TRUNCATE handoffs, handoff_events")
        .execute(pool)
        .await
        .unwrap();
}

// ---- records ------------------------------------------------------------------------------

const HANDOFF: &str = "h-1";
const CONV: &str = "c7";

fn t(min: u32, sec: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, min, sec).unwrap()
}

fn ts(min: u32, sec: u32) -> String {
    t(min, sec).to_rfc3339()
}

fn from_json<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("test record")
}

fn contact() -> Value {
    json!({"contact_id": "p-9", "name": "Ana Ruiz", "email": "ana@example.com", "phone": "+34 600 000 000",
           "account_id": "A-77", "plan": "growth", "vip": true})
}

fn reasons() -> Value {
    json!([{"kind": "tool_call", "rule_id": "tool_call.v1", "score": 1.0, "evidence_event_id": "c7-4",
            "evidence_text": "transfer_to_human"},
           {"kind": "low_confidence", "rule_id": "confidence.v1", "score": 0.41, "threshold": 0.5,
            "evidence_event_id": "c7-4"}])
}

fn signal(handoff: &str, decision: &str) -> StopSignal {
    from_json(json!({
        "signal_id": format!("sig-{handoff}"), "handoff_id": handoff, "conversation_id": CONV, "tenant_id": "acme",
        "trigger_event_id": "c7-4", "decided_at": ts(2, 15), "policy_version": "policy-7",
        "decision": decision, "reasons": reasons(), "urgency": "immediate", "channel": "web",
        "transcript": [{"event_id": "c7-3", "actor": "contact", "text": "I want a refund", "occurred_at": ts(2, 11)}],
        "contact": contact()
    }))
}

fn payload(handoff: &str) -> HandoffPayload {
    from_json(json!({
        "handoff_id": handoff, "signal_id": format!("sig-{handoff}"), "conversation_id": CONV, "tenant_id": "acme",
        "trigger_event_id": "c7-4", "created_at": ts(2, 15), "policy_version": "policy-7",
        "decision": "escalate", "urgency": "immediate", "reasons": reasons(),
        "summary": "Ana wants a refund over 500 EUR for order 55120.",
        "context": {"contact": contact(), "channel": "web", "rule_ids": ["tool_call.v1", "confidence.v1"]},
        "intent": {"name": "billing", "sub_intent": "refund", "confidence": 0.8, "source": "agent"},
        "facts": {"confirmed": [{"kind": "email", "value": "ana@example.com", "source": "contact_block"},
                                {"kind": "order_id", "value": "55120", "event_id": "c7-3", "source": "contact_turn"}]},
        "draft_reply": "Hi Ana, I'm looking at your refund now.",
        "next_action": {"action": "approve_refund", "reasoning": "Refunds over 500 EUR need approval."},
        "priority": "high", "composer": {"name": "extractive", "version": "1"}
    }))
}

fn route(handoff: &str, team: &str, attempt: i32, routed: DateTime<Utc>) -> RoutedHandoff {
    from_json(json!({
        "route_id": format!("route-{handoff}-{team}-{attempt}"),
        "payload": payload(handoff),
        "routing": {"team": team, "queue": format!("{team}.high"), "rule_id": format!("route.{team}"),
                    "matched_on": ["intent=billing"], "priority": if attempt > 0 { "urgent" } else { "high" },
                    "routed_at": routed.to_rfc3339(), "claim_by": (routed + Duration::minutes(15)).to_rfc3339(),
                    "attempt": attempt}
    }))
}

fn lifecycle(
    handoff: &str,
    transition: &str,
    from: &str,
    to: &str,
    at: DateTime<Utc>,
) -> LifecycleEvent {
    from_json(json!({
        "lifecycle_id": format!("lc-{handoff}-{transition}-{}", at.timestamp()), "handoff_id": handoff,
        "conversation_id": CONV, "transition": transition, "from_state": from, "to_state": to,
        "actor": "operator:u-3", "note": if transition == "resumed" { Some("Refund approved.") } else { None },
        "occurred_at": at.to_rfc3339(), "accepted": true, "command_id": format!("op-{transition}"), "team": "billing"
    }))
}

fn command(id: &str, action: &str, at: DateTime<Utc>) -> OperatorCommand {
    from_json(json!({
        "command_id": id, "conversation_id": CONV, "handoff_id": HANDOFF,
        "operator": {"id": "u-3", "name": "Sam", "team": "billing"}, "issued_at": at.to_rfc3339(),
        "action": action, "note": "Refund approved, 7 days to clear."
    }))
}

fn rec(body: impl Into<handoff_auditor::AuditBody>, topic: &str, offset: i64) -> AuditRecord {
    AuditRecord::new(body, topic, 0, offset)
}

/// The happy path of one handoff: signal, payload, route, claimed, resumed, and the command.
fn story() -> Vec<AuditRecord> {
    vec![
        rec(signal(HANDOFF, "escalate"), "handoff.signals", 1),
        rec(payload(HANDOFF), "handoff.payloads", 1),
        rec(
            route(HANDOFF, "billing", 0, t(2, 16)),
            "handoff.team.billing",
            1,
        ),
        rec(
            lifecycle(
                HANDOFF,
                "escalated",
                "agent_active",
                "awaiting_human",
                t(2, 15),
            ),
            "handoff.lifecycle",
            1,
        ),
        rec(
            lifecycle(HANDOFF, "claimed", "awaiting_human", "claimed", t(5, 0)),
            "handoff.lifecycle",
            2,
        ),
        rec(
            command("op-resume", "resume", t(9, 0)),
            "handoff.commands",
            1,
        ),
        rec(
            lifecycle(HANDOFF, "resumed", "claimed", "returned_to_agent", t(9, 0)),
            "handoff.lifecycle",
            3,
        ),
    ]
}

// ---- tests --------------------------------------------------------------------------------

#[tokio::test]
async fn a_handoff_story_lands_in_both_tables() {
    let db = TestDb::new().await;
    let out = write(&db.pool, &story()).await;
    assert_eq!(
        (out.inserted, out.duplicates, out.rejected.len()),
        (7, 0, 0)
    );

    let h = handoff(&db.pool, HANDOFF).await;
    assert_eq!(h["conversation_id"], CONV);
    assert_eq!(h["team"], "billing");
    assert_eq!(h["queue"], "billing.high");
    assert_eq!(h["state"], "returned_to_agent");
    assert_eq!(h["decision"], "escalate");
    assert_eq!(h["urgency"], "immediate");
    assert_eq!(h["primary_reason"], "tool_call");
    assert_eq!(h["rule_ids"], json!(["tool_call.v1", "confidence.v1"]));
    assert_eq!(h["intent"], "billing");
    assert_eq!(h["sub_intent"], "refund");
    assert_eq!(h["priority"], "high");
    assert_eq!(h["next_action"], "approve_refund");
    assert_eq!(h["route_attempt"], 0);
    assert_eq!(h["claimed_by"], "u-3");
    assert_eq!(h["contact_email"], "ana@example.com");
    assert_eq!(h["vip"], true);
    assert_eq!(h["reassign_count"], 0);
    assert_eq!(h["sla_breached"], false);
    assert!(h["resolved_at"].is_null());
    let at = |k: &str| -> DateTime<Utc> {
        serde_json::from_value(h[k].clone()).unwrap_or_else(|e| panic!("{k}: {e}"))
    };
    assert_eq!(at("created_at"), t(2, 15));
    assert_eq!(at("routed_at"), t(2, 16));
    assert_eq!(at("claim_by"), t(17, 16));
    assert_eq!(at("claimed_at"), t(5, 0));
    assert_eq!(at("first_claimed_at"), t(5, 0));
    assert_eq!(at("returned_at"), t(9, 0));
    assert_eq!(at("state_at"), t(9, 0));

    let kinds: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT kind, transition, team FROM handoff_events ORDER BY occurred_at, event_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(kinds.len(), 7);
    assert!(kinds.contains(&("command".into(), "resume".into(), Some("billing".into()))));
    assert!(kinds.contains(&("route".into(), "routed".into(), Some("billing".into()))));
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT event_id FROM handoff_events ORDER BY event_id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert!(ids.contains(&format!("signal:sig-{HANDOFF}")));
    assert!(ids.contains(&format!("payload:{HANDOFF}")));
    assert!(ids.contains(&"command:op-resume".to_string()));
    let (topic, offset): (String, i64) =
        sqlx::query_as("SELECT source_topic, source_offset FROM handoff_events WHERE event_id = 'command:op-resume'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((topic.as_str(), offset), ("handoff.commands", 1));
    let detail: Value =
        sqlx::query_scalar("SELECT detail FROM handoff_events WHERE kind = 'signal'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        detail["contact"]["name"], "Ana Ruiz",
        "not redacting: the record as it was"
    );

    // Open handoffs only: this one went back to the agent.
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM needs_attention").await,
        0
    );
}

#[tokio::test]
async fn writing_the_same_records_again_changes_nothing() {
    let db = TestDb::new().await;
    let records = story();
    write(&db.pool, &records).await;
    let before = dumps(&db.pool).await;

    let again = write(&db.pool, &records).await;
    assert_eq!((again.inserted, again.duplicates), (0, records.len()));
    assert_eq!(
        dumps(&db.pool).await,
        before,
        "a replayed batch changed the tables"
    );

    // Redelivered one at a time, and repeated inside one batch: still nothing.
    for r in &records {
        write(&db.pool, std::slice::from_ref(r)).await;
    }
    let doubled: Vec<AuditRecord> = records.iter().chain(records.iter()).cloned().collect();
    let out = write(&db.pool, &doubled).await;
    assert_eq!(out.inserted, 0);
    assert_eq!(dumps(&db.pool).await, before);
}

#[tokio::test]
async fn repeats_inside_a_fresh_batch_are_stored_once() {
    let db = TestDb::new().await;
    let reassigned = lifecycle(HANDOFF, "reassigned", "claimed", "awaiting_human", t(6, 0));
    let batch = vec![
        rec(reassigned.clone(), "handoff.lifecycle", 1),
        rec(reassigned.clone(), "handoff.lifecycle", 1),
        rec(reassigned, "handoff.lifecycle", 2),
    ];
    let out = write(&db.pool, &batch).await;
    assert_eq!((out.inserted, out.duplicates), (1, 2));
    write(&db.pool, &batch).await;
    assert_eq!(handoff(&db.pool, HANDOFF).await["reassign_count"], 1);

    let second = lifecycle(HANDOFF, "reassigned", "claimed", "awaiting_human", t(8, 0));
    write(&db.pool, &[rec(second, "handoff.lifecycle", 3)]).await;
    assert_eq!(handoff(&db.pool, HANDOFF).await["reassign_count"], 2);
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM handoff_events").await,
        2
    );
}

/// A tiny deterministic shuffle (no rand dependency).
fn shuffled<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut v = items.to_vec();
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for i in (1..v.len()).rev() {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        v.swap(i, (x >> 33) as usize % (i + 1));
    }
    v
}

#[tokio::test]
async fn the_result_does_not_depend_on_arrival_order() {
    let db = TestDb::new().await;
    // A longer story: a re-route with a higher attempt and an SLA breach too.
    let mut records = story();
    records.push(rec(
        route(HANDOFF, "retention", 1, t(3, 0)),
        "handoff.team.retention",
        1,
    ));
    records.push(rec(
        lifecycle(
            HANDOFF,
            "sla_breached",
            "awaiting_human",
            "awaiting_human",
            t(4, 0),
        ),
        "handoff.lifecycle",
        4,
    ));
    write(&db.pool, &records).await;
    let expected = handoffs_state(&db.pool).await;
    assert_eq!(expected.len(), 1);
    assert_eq!(
        expected[0]["team"], "retention",
        "the highest attempt's route wins"
    );
    assert_eq!(expected[0]["priority"], "urgent");
    assert_eq!(expected[0]["sla_breached"], true);
    assert_eq!(expected[0]["state"], "returned_to_agent");

    let mut orders = vec![records.iter().rev().cloned().collect::<Vec<_>>()];
    orders.extend((0..24).map(|seed| shuffled(&records, seed)));
    for (n, order) in orders.iter().enumerate() {
        // One record per batch (the most interleaving) and, every other time, all in one batch.
        truncate(&db.pool).await;
        if n % 2 == 0 {
            for r in order {
                write(&db.pool, std::slice::from_ref(r)).await;
            }
        } else {
            write(&db.pool, order).await;
        }
        let got = handoffs_state(&db.pool).await;
        let kinds: Vec<&str> = order.iter().map(AuditRecord::kind).collect();
        assert_eq!(got, expected, "order #{n} {kinds:?} gave a different row");
    }
}

#[tokio::test]
async fn lifecycle_before_signal_keeps_the_lifecycle_state() {
    let db = TestDb::new().await;
    write(
        &db.pool,
        &[rec(
            lifecycle(HANDOFF, "claimed", "awaiting_human", "claimed", t(5, 0)),
            "handoff.lifecycle",
            1,
        )],
    )
    .await;
    let h = handoff(&db.pool, HANDOFF).await;
    assert_eq!(h["state"], "claimed");
    assert!(h["created_at"].is_null(), "nothing known of the signal yet");

    write(
        &db.pool,
        &[rec(signal(HANDOFF, "escalate"), "handoff.signals", 1)],
    )
    .await;
    let h = handoff(&db.pool, HANDOFF).await;
    assert_eq!(
        h["state"], "claimed",
        "the signal must not move a claimed handoff back to awaiting_human"
    );
    assert_eq!(h["decision"], "escalate");
    assert_eq!(h["policy_version"], "policy-7");
    assert_eq!(h["team"], Value::Null);

    // Even a lifecycle stamped before the decision (clock skew) beats the signal's state.
    let other = "h-2";
    write(
        &db.pool,
        &[rec(signal(other, "escalate"), "handoff.signals", 2)],
    )
    .await;
    assert_eq!(handoff(&db.pool, other).await["state"], "awaiting_human");
    write(
        &db.pool,
        &[rec(
            lifecycle(other, "claimed", "awaiting_human", "claimed", t(1, 0)),
            "handoff.lifecycle",
            2,
        )],
    )
    .await;
    assert_eq!(handoff(&db.pool, other).await["state"], "claimed");

    // A flag only records the decision.
    write(
        &db.pool,
        &[rec(signal("h-3", "flag"), "handoff.signals", 3)],
    )
    .await;
    assert_eq!(handoff(&db.pool, "h-3").await["state"], "flagged");
}

#[tokio::test]
async fn an_older_lifecycle_never_moves_the_state_back() {
    let db = TestDb::new().await;
    let resolved = lifecycle(HANDOFF, "resolved", "claimed", "resolved", t(9, 0));
    let claimed = lifecycle(HANDOFF, "claimed", "awaiting_human", "claimed", t(5, 0));
    write(
        &db.pool,
        &[rec(signal(HANDOFF, "escalate"), "handoff.signals", 1)],
    )
    .await;
    write(&db.pool, &[rec(resolved, "handoff.lifecycle", 2)]).await;
    write(&db.pool, &[rec(claimed, "handoff.lifecycle", 1)]).await;
    let h = handoff(&db.pool, HANDOFF).await;
    assert_eq!(h["state"], "resolved");
    assert!(
        !h["claimed_at"].is_null(),
        "the late claim still records who claimed"
    );
    assert!(!h["resolved_at"].is_null());

    // Same instant: the later state in the life cycle wins, whatever the arrival order.
    for (i, order) in [["claimed", "resolved"], ["resolved", "claimed"]]
        .iter()
        .enumerate()
    {
        let id = format!("h-tie-{i}");
        for (n, what) in order.iter().enumerate() {
            let l = if *what == "claimed" {
                lifecycle(&id, "claimed", "awaiting_human", "claimed", t(7, 0))
            } else {
                lifecycle(&id, "resolved", "claimed", "resolved", t(7, 0))
            };
            write(&db.pool, &[rec(l, "handoff.lifecycle", n as i64)]).await;
        }
        assert_eq!(
            handoff(&db.pool, &id).await["state"],
            "resolved",
            "tie order {order:?}"
        );
    }

    // A refused transition is audited but changes nothing.
    let mut refused = lifecycle(HANDOFF, "rejected", "resolved", "claimed", t(10, 0));
    refused.accepted = false;
    refused.rejection_reason = Some("no open handoff".into());
    write(&db.pool, &[rec(refused, "handoff.lifecycle", 9)]).await;
    assert_eq!(handoff(&db.pool, HANDOFF).await["state"], "resolved");
    let why: Option<String> = sqlx::query_scalar(
        "SELECT rejection_reason FROM handoff_events WHERE transition = 'rejected'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(why.as_deref(), Some("no open handoff"));
}

#[tokio::test]
async fn open_handoffs_show_in_needs_attention() {
    let db = TestDb::new().await;
    let records = vec![
        rec(signal(HANDOFF, "escalate"), "handoff.signals", 1),
        rec(
            route(HANDOFF, "billing", 0, t(2, 16)),
            "handoff.team.billing",
            1,
        ),
        rec(signal("h-2", "escalate"), "handoff.signals", 2),
        rec(route("h-2", "fraud", 0, t(2, 16)), "handoff.team.fraud", 1),
        rec(
            lifecycle("h-2", "claimed", "awaiting_human", "claimed", t(5, 0)),
            "handoff.lifecycle",
            1,
        ),
        rec(signal("h-3", "escalate"), "handoff.signals", 3),
        rec(
            lifecycle("h-3", "resolved", "claimed", "resolved", t(5, 0)),
            "handoff.lifecycle",
            2,
        ),
    ];
    write(&db.pool, &records).await;
    let rows: Vec<(Option<String>, String, String, Option<String>)> =
        sqlx::query_as("SELECT team, handoff_id, state, claimed_by FROM needs_attention")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![
            (
                Some("billing".into()),
                HANDOFF.into(),
                "awaiting_human".into(),
                None
            ),
            (
                Some("fraud".into()),
                "h-2".into(),
                "claimed".into(),
                Some("u-3".into())
            ),
        ]
    );
}

#[tokio::test]
async fn redaction_blanks_pii_in_columns_and_detail() {
    let db = TestDb::new().await;
    let opts = WriteOptions {
        redact_pii: true,
        ..WriteOptions::default()
    };
    write_records(&db.pool, &story(), &opts).await.unwrap();
    let h = handoff(&db.pool, HANDOFF).await;
    for col in ["contact_name", "contact_email", "contact_phone"] {
        assert!(h[col].is_null(), "{col} = {}", h[col]);
    }
    assert_eq!(h["account_id"], "A-77", "not PII");
    assert_eq!(h["plan"], "growth");

    let details: Vec<Value> = sqlx::query_scalar("SELECT detail FROM handoff_events")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let all = serde_json::to_string(&details).unwrap();
    for pii in ["Ana Ruiz", "ana@example.com", "+34 600"] {
        assert!(
            !all.contains(pii),
            "{pii} leaked into handoff_events.detail"
        );
    }
    assert!(all.contains("A-77"));
    assert!(all.contains("55120"), "non-PII facts stay");
}

/// An Avro value exactly as the runtime's decoder produces it: written with the record's
/// schema and read back generically.
fn avro<T: AvroRecord + Serialize>(record: &T) -> apache_avro::types::Value {
    let schema = Schema::parse_str(T::SCHEMA).unwrap();
    let bytes = GenericDatumWriter::builder(&schema)
        .build()
        .unwrap()
        .write_ser_to_vec(record)
        .unwrap();
    GenericDatumReader::builder(&schema)
        .build()
        .unwrap()
        .read_value(&mut bytes.as_slice())
        .unwrap()
}

fn sink_record(topic: &str, offset: i64, value: apache_avro::types::Value) -> SinkRecord {
    SinkRecord {
        topic: topic.into(),
        partition: 0,
        offset,
        key: Some(CONV.as_bytes().to_vec()),
        value,
    }
}

#[tokio::test]
async fn the_sink_decodes_by_topic_and_reports_what_does_not_fit() {
    let db = TestDb::new().await;
    let topics = Topics::new("t1.");
    let mut sink = AuditSink::new(db.pool.clone(), topics.clone(), WriteOptions::default());
    assert_eq!(sink.name(), "auditor");
    assert!(sink.inputs().contains(&topics.team_pattern()));
    assert!(sink.inputs().iter().any(|t| t.starts_with('^')));

    let claimed = lifecycle(HANDOFF, "claimed", "awaiting_human", "claimed", t(5, 0));
    let batch = vec![
        sink_record(&topics.signals(), 10, avro(&signal(HANDOFF, "escalate"))),
        sink_record(&topics.signals(), 11, avro(&claimed)), // a lifecycle on the signals topic
        sink_record(&topics.payloads(), 12, avro(&payload(HANDOFF))),
        sink_record(
            &topics.team("billing"),
            13,
            avro(&route(HANDOFF, "billing", 0, t(2, 16))),
        ),
        sink_record(&topics.team("billing"), 14, avro(&payload(HANDOFF))), // not a route
        sink_record(&topics.lifecycle(), 15, avro(&claimed)),
        sink_record(
            &topics.commands(),
            16,
            avro(&command("op-claim", "claim", t(5, 0))),
        ),
        sink_record("t1.somewhere.else", 17, avro(&claimed)),
    ];
    let rejected = sink.write(&batch).await.expect("write");
    let idx: Vec<usize> = rejected.iter().map(|(i, _)| *i).collect();
    assert_eq!(idx, vec![1, 4, 7], "{rejected:?}");
    assert_eq!(rejected[0].1.kind, "schema_mismatch");
    assert_eq!(rejected[2].1.kind, "unexpected_topic");

    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM handoff_events").await,
        5
    );
    let h = handoff(&db.pool, HANDOFF).await;
    assert_eq!(
        (h["state"].as_str(), h["team"].as_str()),
        (Some("claimed"), Some("billing"))
    );
    let source: (String, i32, i64) =
        sqlx::query_as("SELECT source_topic, source_partition, source_offset FROM handoff_events WHERE kind = 'route'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(source, (topics.team("billing"), 0, 13));

    // The same batch redelivered: the same rejections, no new rows.
    let before = dumps(&db.pool).await;
    assert_eq!(sink.write(&batch).await.unwrap().len(), 3);
    assert_eq!(dumps(&db.pool).await, before);
}

#[tokio::test]
async fn a_record_postgres_refuses_is_rejected_alone() {
    let db = TestDb::new().await;
    // chrono goes further back than Postgres (4713 BC): the database refuses this timestamp.
    let mut ancient = command("op-old", "claim", t(0, 0));
    ancient.issued_at = Utc.with_ymd_and_hms(-10000, 1, 1, 0, 0, 0).unwrap();
    // NUL characters cannot be stored in text or jsonb: they are replaced, not refused.
    let mut nul = command("op-nul", "resume", t(9, 0));
    nul.note = Some("a\0b".into());
    let batch = vec![
        rec(signal(HANDOFF, "escalate"), "handoff.signals", 1),
        rec(ancient, "handoff.commands", 1),
        rec(nul, "handoff.commands", 2),
    ];
    let out = write(&db.pool, &batch).await;
    assert_eq!(out.rejected.len(), 1, "{:?}", out.rejected);
    assert_eq!(out.rejected[0].0, 1);
    assert_eq!(out.rejected[0].1.kind, "unstorable");
    assert_eq!(out.inserted, 2);
    let note: String =
        sqlx::query_scalar("SELECT note FROM handoff_events WHERE event_id = 'command:op-nul'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(note, "a\u{FFFD}b");
    assert_eq!(handoff(&db.pool, HANDOFF).await["state"], "awaiting_human");
}

#[tokio::test]
async fn retention_purges_old_rows_and_skips_old_records() {
    let db = TestDb::new().await;
    let now = Utc::now();
    let old = now - Duration::days(10);
    let old_records = vec![
        rec(
            lifecycle("h-old", "resolved", "claimed", "resolved", old),
            "handoff.lifecycle",
            1,
        ),
        rec(
            lifecycle("h-open", "claimed", "awaiting_human", "claimed", old),
            "handoff.lifecycle",
            2,
        ),
        rec(command("op-old", "resolve", old), "handoff.commands", 1),
    ];
    write(&db.pool, &old_records).await;
    write(
        &db.pool,
        &[rec(command("op-new", "claim", now), "handoff.commands", 2)],
    )
    .await;

    let purged = purge(&db.pool, 5).await.unwrap();
    assert_eq!((purged.events, purged.handoffs), (3, 1));
    let left: Vec<String> = sqlx::query_scalar("SELECT handoff_id FROM handoffs")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(left, vec!["h-open".to_string()], "open handoffs are kept");
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM handoff_events").await,
        1
    );

    // Replaying what retention removed does not bring it back.
    let opts = WriteOptions {
        retention_days: 5,
        ..WriteOptions::default()
    };
    let out = write_records(&db.pool, &old_records, &opts).await.unwrap();
    assert_eq!((out.expired, out.inserted), (3, 0));
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM handoff_events").await,
        1
    );
}
