//! The audit store against a real Postgres: one fresh database per test (created from the URL in
//! `HANDOFF_DATABASE__URL`, which `source infra/env.sh` sets; `make infra-up` starts Postgres).
//!
//! Records are built in Rust and written through the same path the Kafka sink uses
//! (`write_records`, or `AuditSink::write` with Avro values), so no broker is needed.

// Rows read back from SQL are tuples; naming each shape would not make them clearer.
#![allow(clippy::type_complexity)]
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
        TestDb::create(true).await
    }

    /// A fresh database, with the whole schema (`migrate`) or none.
    async fn create(migrate: bool) -> TestDb {
        let admin = admin_url();
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // t_<seconds>_<id>: `infra/postgres.sh prune-test-dbs` drops old ones.
        let name = format!(
            "t_{secs}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..16]
        );
        let admin_pool = PgPool::connect(&admin).await.unwrap_or_else(|e| {
            panic!("cannot connect to {admin} ({e}); is Postgres up (`make infra-up`)?")
        });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&admin_pool)
            .await
            .expect("CREATE DATABASE (the role needs CREATEDB)");
        admin_pool.close().await;
        let url = with_database(&admin, &name);
        let pool = if migrate {
            handoff_auditor::connect_and_migrate(&url)
                .await
                .expect("connect and migrate the test database")
        } else {
            PgPool::connect(&url)
                .await
                .expect("connect to the test database")
        };
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
    assert!(
        ids.contains(&format!("payload:sig-{HANDOFF}")),
        "payloads are keyed by their signal"
    );
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

// ---- several signals per handoff (SLA re-escalation), flags, views, migration ---------------

/// The `n`-th SLA re-escalation of `HANDOFF`: a new signal (more urgent, first reason
/// sla_breach), the payload built from it and its route (attempt `n`).
fn re_escalation(n: u32, at: DateTime<Utc>) -> (StopSignal, HandoffPayload, RoutedHandoff) {
    let mut s = signal(HANDOFF, "escalate");
    s.signal_id = format!("sig-{HANDOFF}-sla-{n}");
    s.decided_at = at;
    s.urgency = Urgency::Immediate;
    let breach: Reason = from_json(
        json!({"kind": "sla_breach", "rule_id": "sla.claim_by", "score": 2.0,
        "threshold": 0.0, "evidence_event_id": "c7-4", "evidence_text": format!("breach {n}")}),
    );
    s.reasons.insert(0, breach);
    let mut p = payload(HANDOFF);
    p.signal_id = s.signal_id.clone();
    p.created_at = at;
    p.reasons = s.reasons.clone();
    p.urgency = Urgency::Immediate;
    p.summary = format!("Re-escalated ({n}): Ana still waits for her refund.");
    p.priority = Priority::Urgent;
    let mut r = route(HANDOFF, "billing", n as i32, at + Duration::seconds(1));
    r.payload = p.clone();
    (s, p, r)
}

fn sla_story() -> Vec<AuditRecord> {
    let mut records: Vec<AuditRecord> = story()
        .into_iter()
        .filter(|r| !matches!(r.body, handoff_auditor::AuditBody::Lifecycle(ref l) if l.transition != "escalated"))
        .filter(|r| r.kind() != "command")
        .collect();
    for n in 1..=2u32 {
        let at = t(20 + n, 0);
        let (s, p, r) = re_escalation(n, at);
        records.push(rec(s, "handoff.signals", 10 + i64::from(n)));
        records.push(rec(p, "handoff.payloads", 10 + i64::from(n)));
        records.push(rec(r, "handoff.team.billing", 10 + i64::from(n)));
        let mut breach = lifecycle(
            HANDOFF,
            "sla_breached",
            "awaiting_human",
            "awaiting_human",
            at,
        );
        breach.lifecycle_id = format!("lc-breach-{n}");
        breach.actor = "detector".into();
        records.push(rec(breach, "handoff.lifecycle", 10 + i64::from(n)));
    }
    records
}

#[tokio::test]
async fn an_sla_re_escalation_keeps_the_escalation_and_takes_the_newest_payload() {
    let db = TestDb::new().await;
    let records = sla_story();
    let out = write(&db.pool, &records).await;
    assert_eq!(
        out.duplicates, 0,
        "every re-escalation's payload is a new event"
    );
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM handoff_events WHERE kind = 'payload'"
        )
        .await,
        3
    );
    let expected = handoffs_state(&db.pool).await;
    assert_eq!(expected.len(), 1);
    let h = &expected[0];
    // The escalation: its reasons, its time, its signal.
    assert_eq!(h["primary_reason"], "tool_call");
    assert_eq!(h["rule_ids"], json!(["tool_call.v1", "confidence.v1"]));
    assert_eq!(h["signal_id"], format!("sig-{HANDOFF}"));
    assert_eq!(h["signal_attempt"], 0);
    let created: DateTime<Utc> = serde_json::from_value(h["created_at"].clone()).unwrap();
    assert_eq!(created, t(2, 15));
    // The current state: raised urgency, the newest payload, the last route.
    assert_eq!(h["urgency"], "immediate");
    assert_eq!(
        h["summary"],
        "Re-escalated (2): Ana still waits for her refund."
    );
    assert_eq!(h["payload_signal_id"], format!("sig-{HANDOFF}-sla-2"));
    // One sla_breach reason per re-escalation (as the detector writes them): the later wins.
    assert_eq!(h["payload_attempt"], 1);
    assert_eq!(h["route_attempt"], 2);
    assert_eq!(h["priority"], "urgent");
    assert_eq!(h["sla_breached"], true);
    assert_eq!(h["sla_breach_count"], 2);
    let breached: DateTime<Utc> = serde_json::from_value(h["sla_breached_at"].clone()).unwrap();
    assert_eq!(breached, t(21, 0));
    assert_eq!(h["state"], "awaiting_human");

    let mut orders = vec![records.iter().rev().cloned().collect::<Vec<_>>()];
    orders.extend((100..116).map(|seed| shuffled(&records, seed)));
    for (n, order) in orders.iter().enumerate() {
        truncate(&db.pool).await;
        if n % 2 == 0 {
            for r in order {
                write(&db.pool, std::slice::from_ref(r)).await;
            }
        } else {
            write(&db.pool, order).await;
        }
        let kinds: Vec<String> = order.iter().map(|r| r.event_id()).collect();
        assert_eq!(
            handoffs_state(&db.pool).await,
            expected,
            "order #{n} {kinds:?} gave a different row"
        );
    }
}

#[tokio::test]
async fn a_flag_is_flagged_whatever_the_order() {
    let db = TestDb::new().await;
    let mut flagged = lifecycle("h-f", "flagged", "agent_active", "agent_active", t(2, 15));
    flagged.actor = "detector".into();
    let records = vec![
        rec(signal("h-f", "flag"), "handoff.signals", 1),
        rec(flagged, "handoff.lifecycle", 1),
    ];
    for order in [records.clone(), records.iter().rev().cloned().collect()] {
        truncate(&db.pool).await;
        for r in &order {
            write(&db.pool, std::slice::from_ref(r)).await;
        }
        let h = handoff(&db.pool, "h-f").await;
        assert_eq!(
            (h["state"].as_str(), h["decision"].as_str()),
            (Some("flagged"), Some("flag"))
        );
    }
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM needs_attention").await,
        0,
        "a flag is not in the queue"
    );
}

/// A handoff of conversation `conv` for `team`: signal at `at`, route, and the given lifecycle
/// transitions `(transition, to_state, seconds after at, operator)`.
fn handoff_story(
    id: &str,
    conv: &str,
    team: &str,
    at: DateTime<Utc>,
    steps: &[(&str, &str, i64, &str)],
) -> Vec<AuditRecord> {
    let mut s = signal(id, "escalate");
    s.conversation_id = conv.into();
    s.decided_at = at;
    let mut r = route(id, team, 0, at + Duration::seconds(1));
    r.payload.conversation_id = conv.into();
    r.payload.created_at = at;
    let mut out = vec![
        rec(s, "handoff.signals", 0),
        rec(r, &format!("handoff.team.{team}"), 0),
    ];
    let mut from = "awaiting_human";
    for (i, (transition, to, after, operator)) in steps.iter().enumerate() {
        let mut l = lifecycle(id, transition, from, to, at + Duration::seconds(*after));
        l.conversation_id = conv.into();
        l.lifecycle_id = format!("lc-{id}-{i}");
        l.actor = if operator.is_empty() {
            "detector".into()
        } else {
            format!("operator:{operator}")
        };
        l.team = Some(team.into());
        l.note = Some(format!("{transition} by {operator}"));
        l.command_id = Some(format!("op-{id}-{i}"));
        out.push(rec(l, "handoff.lifecycle", 0));
        from = to;
    }
    out
}

#[tokio::test]
async fn the_views_answer_for_a_known_story() {
    let db = TestDb::new().await;
    let day = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap();
    let mut records = Vec::new();
    // billing: claimed after 60 s and resolved; claimed after 180 s and handed back, then the
    // same conversation escalates again 10 min later (still open).
    records.extend(handoff_story(
        "b1",
        "cb1",
        "billing",
        day,
        &[
            ("claimed", "claimed", 60, "u-3"),
            ("resolved", "resolved", 600, "u-3"),
        ],
    ));
    records.extend(handoff_story(
        "b2",
        "cb2",
        "billing",
        day,
        &[
            ("claimed", "claimed", 180, "u-3"),
            ("resumed", "returned_to_agent", 300, "u-3"),
        ],
    ));
    records.extend(handoff_story(
        "b3",
        "cb2",
        "billing",
        day + Duration::seconds(900),
        &[],
    ));
    // fraud: reassigned to billing once, then claimed; technical: waiting, past its deadline.
    records.extend(handoff_story(
        "f1",
        "cf1",
        "fraud",
        day,
        &[
            ("reassigned", "awaiting_human", 30, "u-8"),
            ("claimed", "claimed", 90, "u-3"),
        ],
    ));
    records.extend(handoff_story(
        "t1",
        "ct1",
        "technical",
        day,
        &[("sla_breached", "awaiting_human", 900, "")],
    ));
    write(&db.pool, &records).await;

    let counts: Vec<(Option<String>, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT team, open, unclaimed, claimed, overdue FROM needs_attention_counts",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        counts,
        vec![
            (Some("billing".into()), 1, 1, 0, 1), // b3: its route's claim_by is long past
            (Some("fraud".into()), 1, 0, 1, 0),
            (Some("technical".into()), 1, 1, 0, 1),
        ]
    );
    let queue: Vec<(String, String, bool, i64)> = sqlx::query_as(
        "SELECT handoff_id, reason, overdue, waiting_seconds FROM needs_attention WHERE team = 'technical'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(
        (queue[0].0.as_str(), queue[0].1.as_str(), queue[0].2),
        ("t1", "Agent asked for help", true)
    );
    assert!(queue[0].3 > 3600, "waiting since 2026-11-20");

    let claim: Vec<(Option<String>, i64, f64, f64)> =
        sqlx::query_as("SELECT team, n, p50_seconds, p90_seconds FROM time_to_claim")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        claim,
        vec![
            (Some("billing".into()), 2, 120.0, 168.0),
            (Some("fraud".into()), 1, 90.0, 90.0)
        ]
    );
    let resolve: Vec<(Option<String>, i64, i64, i64, f64, f64)> = sqlx::query_as(
        "SELECT team, n, resolved, returned_to_agent, p50_seconds, p50_handle_seconds FROM time_to_resolve",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    // b1 closed after 600 s (540 s after its claim), b2 after 300 s (120 s).
    assert_eq!(
        resolve,
        vec![(Some("billing".into()), 2, 1, 1, 450.0, 330.0)]
    );

    let daily: Vec<(chrono::NaiveDate, String, String, String, bool, i64)> = sqlx::query_as(
        "SELECT day, decision, primary_reason, rule_id, is_primary, count FROM escalations_daily",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let d = day.date_naive();
    assert_eq!(
        daily,
        vec![
            (
                d,
                "escalate".into(),
                "tool_call".into(),
                "tool_call.v1".into(),
                true,
                5
            ),
            (
                d,
                "escalate".into(),
                "tool_call".into(),
                "confidence.v1".into(),
                false,
                5
            ),
        ]
    );

    // numeric columns read as text (sqlx has no numeric type without the bigdecimal feature)
    let mix: Vec<(String, i64, String, i64, String)> = sqlx::query_as(
        "SELECT team, handoffs, share::text, reassigned, reassignment_rate::text FROM routing_mix",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        mix,
        vec![
            ("billing".into(), 3, "0.6000".into(), 0, "0.0000".into()),
            ("fraud".into(), 1, "0.2000".into(), 1, "1.0000".into()),
            ("technical".into(), 1, "0.2000".into(), 0, "0.0000".into()),
        ]
    );

    let handback: Vec<(String, i64, i64, String, i64, Option<String>)> = sqlx::query_as(
        "SELECT team, handoffs, returned_to_agent, handback_rate::text, re_escalated_24h, re_escalation_rate::text \
         FROM handback_stats",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        handback,
        vec![
            (
                "billing".into(),
                3,
                1,
                "0.3333".into(),
                1,
                Some("1.0000".into())
            ),
            ("fraud".into(), 1, 0, "0.0000".into(), 0, None),
            ("technical".into(), 1, 0, "0.0000".into(), 0, None),
            (
                "(all)".into(),
                5,
                1,
                "0.2000".into(),
                1,
                Some("1.0000".into())
            ),
        ]
    );

    let breaches: Vec<(String, Option<String>, i32, Option<DateTime<Utc>>)> =
        sqlx::query_as("SELECT handoff_id, team, breaches, claimed_at FROM sla_breaches")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        breaches,
        vec![("t1".into(), Some("technical".into()), 1, None)]
    );

    let history: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT operator_id, handoff_id, action, note FROM operator_history WHERE operator_id = 'u-3'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let actions: Vec<(&str, &str)> = history
        .iter()
        .map(|(_, h, a, _)| (h.as_str(), a.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("b1", "claimed"),
            ("f1", "claimed"),
            ("b2", "claimed"),
            ("b2", "resumed"),
            ("b1", "resolved")
        ]
    );
    assert_eq!(history[3].3.as_deref(), Some("resumed by u-3"));
}

#[tokio::test]
async fn migration_0002_derives_its_columns_for_existing_rows() {
    let db = TestDb::create(false).await;
    handoff_auditor::MIGRATOR.run_to(1, &db.pool).await.unwrap();
    // Rows as the 0001 auditor wrote them: a re-escalated handoff with its payload and a breach,
    // and a flag left in agent_active.
    let (s, p, _) = re_escalation(1, t(20, 0));
    sqlx::query(
        "INSERT INTO handoffs (handoff_id, conversation_id, decision, reasons, state) VALUES \
         ($1, 'c7', 'escalate', $2, 'awaiting_human'), ('h-f', 'c8', 'flag', '[]', 'agent_active')",
    )
    .bind(HANDOFF)
    .bind(serde_json::to_value(&s.reasons).unwrap())
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO handoff_events (event_id, handoff_id, conversation_id, kind, transition, accepted, occurred_at, detail, \
         source_topic, source_partition, source_offset) VALUES \
         ('payload:h-1', $1, 'c7', 'payload', 'built', true, $2, $3, 'handoff.payloads', 0, 1), \
         ('lifecycle:b', $1, 'c7', 'lifecycle', 'sla_breached', true, $2, '{}', 'handoff.lifecycle', 0, 1)",
    )
    .bind(HANDOFF)
    .bind(t(20, 0))
    .bind(serde_json::to_value(&p).unwrap())
    .execute(&db.pool)
    .await
    .unwrap();

    handoff_auditor::MIGRATOR.run(&db.pool).await.unwrap();
    let h = handoff(&db.pool, HANDOFF).await;
    assert_eq!(h["signal_attempt"], 1);
    assert_eq!(h["payload_attempt"], 1);
    assert_eq!(h["payload_signal_id"], format!("sig-{HANDOFF}-sla-1"));
    assert_eq!(h["sla_breach_count"], 1);
    assert!(!h["sla_breached_at"].is_null());
    assert!(!h["payload_signal_at"].is_null());
    assert_eq!(handoff(&db.pool, "h-f").await["state"], "flagged");
}

#[tokio::test]
async fn a_record_beats_the_copies_of_it_whatever_the_order() {
    let db = TestDb::new().await;
    // The payload's copy of the signal says another plan; the route's copy of the payload says
    // another summary (a builder and a router may trim what they pass on).
    let mut p = payload(HANDOFF);
    p.context.contact.as_mut().unwrap().plan = Some("copied-plan".into());
    let mut r = route(HANDOFF, "billing", 0, t(2, 16));
    r.payload = p.clone();
    r.payload.summary = "the route's copy".into();
    let records = [
        rec(signal(HANDOFF, "escalate"), "handoff.signals", 1),
        rec(p, "handoff.payloads", 1),
        rec(r, "handoff.team.billing", 1),
    ];
    let orders = [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]];
    for (n, order) in orders.iter().enumerate() {
        for one_by_one in [true, false] {
            truncate(&db.pool).await;
            let batch: Vec<AuditRecord> = order.iter().map(|i| records[*i].clone()).collect();
            if one_by_one {
                for r in &batch {
                    write(&db.pool, std::slice::from_ref(r)).await;
                }
            } else {
                write(&db.pool, &batch).await;
            }
            let h = handoff(&db.pool, HANDOFF).await;
            let what = format!("order #{n}, one by one: {one_by_one}");
            assert_eq!(h["plan"], "growth", "{what}: the signal's own contact");
            assert_eq!(h["signal_from_copy"], false, "{what}");
            assert_eq!(
                h["summary"], "Ana wants a refund over 500 EUR for order 55120.",
                "{what}: the payload's own summary"
            );
            assert_eq!(h["payload_from_route"], false, "{what}");
        }
    }
    // Only copies so far: they fill, and say so.
    truncate(&db.pool).await;
    write(&db.pool, &records[2..]).await;
    let h = handoff(&db.pool, HANDOFF).await;
    assert_eq!(
        (h["plan"].as_str(), h["signal_from_copy"].as_bool()),
        (Some("copied-plan"), Some(true))
    );
    assert_eq!(
        (h["summary"].as_str(), h["payload_from_route"].as_bool()),
        (Some("the route's copy"), Some(true))
    );
}
