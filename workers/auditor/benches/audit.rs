//! `cargo bench -p handoff-auditor --bench audit [-- N]`: the auditor's write path against a raw
//! `COPY` of the same rows, in the same run, on the local Postgres (`HANDOFF_DATABASE__URL`,
//! which `source infra/env.sh` sets; `make infra-up` starts Postgres).
//!
//! It generates N (default 20,000; `AUDIT_BENCH_RECORDS` or the first argument) realistic audit
//! records — per handoff a signal with its transcript window, the payload, the route, the
//! escalated/claimed/closed lifecycle events and the operator's two commands — writes them
//! through `write_records` in batches of `database.batch_size` into a fresh database, then COPYs
//! the same `handoff_events` rows into a bare scratch table (no keys, no indexes) and into a
//! scratch table with `handoff_events`' indexes, and prints rows/s for each and the ratio.
//! The three are interleaved for `AUDIT_BENCH_ROUNDS` rounds (default 3, tables emptied between
//! rounds) and the best and median of each are printed: a shared machine is noisy.

use chrono::{DateTime, Duration, TimeZone, Utc};
use handoff_auditor::record::EVENT_COLUMNS;
use handoff_auditor::{write_records, AuditRecord, WriteOptions};
use serde_json::{json, Value};
use sqlx::postgres::{PgPoolCopyExt, PgPoolOptions};
use sqlx::PgPool;
use std::time::Instant;

fn records(n: usize) -> Vec<AuditRecord> {
    let base = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap();
    let mut out = Vec::with_capacity(n + 8);
    let mut i = 0usize;
    while out.len() < n {
        out.extend(handoff(i, base + Duration::seconds(i as i64 * 7)));
        i += 1;
    }
    out.truncate(n);
    out
}

fn from_json<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("bench record")
}

const TEAMS: [&str; 6] = [
    "billing",
    "technical",
    "retention",
    "fraud",
    "sales",
    "general",
];
const TEXTS: [&str; 4] = [
    "Hi, I sent back the desk lamp from order 55207 and the refund of EUR 89.90 still hasn't arrived. The return label was scanned on 9 November.",
    "Thanks. Once a return reaches our warehouse it is inspected within 3 business days, and the refund then goes back to your original payment method.",
    "That doesn't really answer it. Tracking shows the warehouse received the lamp on 11 November, so the inspection should have been done by the 16th.",
    "I understand the wait is frustrating. Depending on your bank, a refund can take up to 10 business days to show on your statement.",
];

/// The eight records one handoff leaves in the audit.
fn handoff(i: usize, at: DateTime<Utc>) -> Vec<AuditRecord> {
    let conv = format!("bench-c{i}");
    let handoff = format!("bench-h{i}");
    let signal_id = format!("bench-s{i}");
    let team = TEAMS[i % TEAMS.len()];
    let ts = |s: i64| (at + Duration::seconds(s)).to_rfc3339();
    let transcript: Vec<Value> = (0..8)
        .map(|t| {
            json!({"event_id": format!("{conv}-{t}"), "actor": if t % 2 == 0 { "contact" } else { "agent" },
                   "text": TEXTS[t % TEXTS.len()], "occurred_at": ts(t as i64 - 60)})
        })
        .collect();
    let contact = json!({"contact_id": format!("p-{i}"), "name": "Olivia Brennan", "email": "olivia.brennan@example.com",
                         "phone": "+44 20 7946 0000", "account_id": format!("A-{i}"), "plan": "growth", "vip": i.is_multiple_of(10)});
    let reasons = json!([{"kind": "explicit_request", "rule_id": "explicit_request.v1", "score": 1.0,
                          "evidence_event_id": format!("{conv}-6"), "evidence_text": "Can I talk to a person?"},
                         {"kind": "low_confidence", "rule_id": "low_confidence.v1", "score": 0.31, "threshold": 0.5,
                          "evidence_event_id": format!("{conv}-5")}]);
    let signal: handoff_core::records::StopSignal = from_json(json!({
        "signal_id": signal_id, "handoff_id": handoff, "conversation_id": conv, "tenant_id": "acme",
        "trigger_event_id": format!("{conv}-6"), "decided_at": ts(0), "policy_version": "default-2026-11-21",
        "decision": "escalate", "reasons": reasons, "urgency": "normal", "channel": "web", "language": "en",
        "transcript": transcript, "contact": contact,
        "entry": {"source_url": "https://shop.example.com/account/orders/55207", "form_fields": {}},
        "sentiment": [0.1, -0.2, -0.4]
    }));
    let payload = json!({
        "handoff_id": handoff, "signal_id": signal_id, "conversation_id": conv, "tenant_id": "acme",
        "trigger_event_id": format!("{conv}-6"), "created_at": ts(0), "policy_version": "default-2026-11-21",
        "decision": "escalate", "urgency": "normal", "reasons": reasons,
        "summary": "Olivia returned the desk lamp from order 55207; the EUR 89.90 refund has not arrived although the warehouse received it on 11 November. She asked for a person after two generic timeline answers.",
        "transcript": transcript,
        "context": {"contact": contact, "channel": "web", "language": "en", "rule_ids": ["explicit_request.v1", "low_confidence.v1"]},
        "intent": {"name": "billing", "sub_intent": "refund", "confidence": 0.81, "source": "agent"},
        "facts": {"confirmed": [
            {"kind": "order_id", "value": "55207", "event_id": format!("{conv}-0"), "source": "contact_turn"},
            {"kind": "money", "value": "EUR 89.90", "event_id": format!("{conv}-0"), "source": "contact_turn"},
            {"kind": "date", "value": "9 November", "event_id": format!("{conv}-0"), "source": "contact_turn"},
            {"kind": "email", "value": "olivia.brennan@example.com", "source": "contact_block"},
            {"kind": "account_id", "value": format!("A-{i}"), "source": "contact_block"}],
            "inferred": [], "open_questions": ["Was the refund issued?"]},
        "draft_reply": "Hi Olivia, I'm checking the status of your refund for order 55207 now.",
        "next_action": {"action": "check_refund_status", "reasoning": "The contact asks for the status, not the timeline."},
        "priority": "normal", "composer": {"name": "extractive", "version": "1"}
    });
    let route = json!({
        "route_id": format!("bench-r{i}"), "payload": payload,
        "routing": {"team": team, "queue": format!("{team}.normal"), "rule_id": format!("route.{team}.intent"),
                    "matched_on": ["intent=billing"], "priority": "normal", "routed_at": ts(1),
                    "claim_by": ts(1801), "attempt": 0}
    });
    let operator = json!({"id": "u-3", "name": "Sam", "team": team});
    let lifecycle = |n: usize,
                     transition: &str,
                     from: &str,
                     to: &str,
                     s: i64,
                     actor: &str,
                     note: Option<&str>| {
        AuditRecord::new(
            from_json::<handoff_core::records::LifecycleEvent>(json!({
                "lifecycle_id": format!("bench-l{i}-{n}"), "handoff_id": handoff, "conversation_id": conv,
                "transition": transition, "from_state": from, "to_state": to, "actor": actor, "note": note,
                "occurred_at": ts(s), "accepted": true, "command_id": format!("bench-op{i}-{n}"), "team": team
            })),
            "handoff.lifecycle",
            (i % 6) as i32,
            (i * 3 + n) as i64,
        )
    };
    let command = |n: usize, action: &str, s: i64, note: Option<&str>| {
        AuditRecord::new(
            from_json::<handoff_core::records::OperatorCommand>(json!({
                "command_id": format!("bench-op{i}-{n}"), "conversation_id": conv, "operator": operator,
                "issued_at": ts(s), "action": action, "note": note
            })),
            "handoff.commands",
            (i % 6) as i32,
            (i * 2 + n) as i64,
        )
    };
    let note = "Refund reissued after a payment-provider error; 3-5 business days.";
    let (close, closed) = if i.is_multiple_of(3) {
        ("resumed", "returned_to_agent")
    } else {
        ("resolved", "resolved")
    };
    vec![
        AuditRecord::new(signal, "handoff.signals", (i % 6) as i32, i as i64),
        AuditRecord::new(
            from_json::<handoff_core::records::HandoffPayload>(payload),
            "handoff.payloads",
            (i % 6) as i32,
            i as i64,
        ),
        AuditRecord::new(
            from_json::<handoff_core::records::RoutedHandoff>(route),
            &format!("handoff.team.{team}"),
            0,
            i as i64,
        ),
        lifecycle(
            0,
            "escalated",
            "agent_active",
            "awaiting_human",
            0,
            "detector",
            None,
        ),
        command(1, "claim", 120, None),
        lifecycle(
            1,
            "claimed",
            "awaiting_human",
            "claimed",
            120,
            "operator:u-3",
            None,
        ),
        command(
            2,
            if close == "resumed" {
                "resume"
            } else {
                "resolve"
            },
            600,
            Some(note),
        ),
        lifecycle(2, close, "claimed", closed, 600, "operator:u-3", Some(note)),
    ]
}

/// COPYs the event rows of `records` into `table`; returns the seconds it took (rows built,
/// encoded and sent, as the auditor's path does).
async fn copy_into(
    pool: &PgPool,
    table: &str,
    records: &[AuditRecord],
) -> anyhow::Result<(u64, f64)> {
    let started = Instant::now();
    let mut copy = pool
        .copy_in_raw(&format!("COPY {table} ({EVENT_COLUMNS}) FROM STDIN"))
        .await?;
    let mut buf = Vec::with_capacity(1 << 20);
    for r in records {
        r.event_row(false).write_copy_line(&mut buf);
        if buf.len() >= 1 << 20 {
            copy.send(std::mem::take(&mut buf)).await?;
            buf.reserve(1 << 20);
        }
    }
    if !buf.is_empty() {
        copy.send(buf).await?;
    }
    let rows = copy.finish().await?;
    Ok((rows, started.elapsed().as_secs_f64()))
}

fn database_url(admin: &str, db: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin, None),
    };
    let server = base.rsplit_once('/').map_or(base, |(s, _)| s);
    match query {
        Some(q) => format!("{server}/{db}?{q}"),
        None => format!("{server}/{db}"),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .or_else(|| std::env::var("AUDIT_BENCH_RECORDS").ok())
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(20_000);
    let Some(admin) = std::env::var("HANDOFF_DATABASE__URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        println!("auditor bench skipped: HANDOFF_DATABASE__URL is not set (source infra/env.sh; make infra-up)");
        return Ok(());
    };
    let settings = handoff_runtime::Settings::from_env()?;
    let batch = settings.database.batch_size.max(1);

    let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let admin_pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&admin)
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&admin_pool)
        .await?;
    let rounds: usize = std::env::var("AUDIT_BENCH_ROUNDS")
        .ok()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(3)
        .max(1);
    let result = run(&database_url(&admin, &name), n, batch, rounds).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&admin_pool)
    .await?;
    admin_pool.close().await;
    result
}

async fn run(url: &str, n: usize, batch: usize, rounds: usize) -> anyhow::Result<()> {
    let pool = handoff_auditor::connect_and_migrate(url).await?;
    let records = records(n);
    let handoffs = records.iter().filter(|r| r.kind() == "signal").count();
    println!(
        "auditor bench: {n} records ({handoffs} handoffs), batches of {batch}, {rounds} interleaved rounds, fresh database"
    );
    sqlx::query("CREATE TABLE copy_bare (LIKE handoff_events INCLUDING DEFAULTS)")
        .execute(&pool)
        .await?;
    sqlx::query("CREATE TABLE copy_indexed (LIKE handoff_events INCLUDING ALL)")
        .execute(&pool)
        .await?;

    let (mut auditor, mut bare, mut indexed) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        sqlx::query("TRUNCATE handoffs, handoff_events, copy_bare, copy_indexed")
            .execute(&pool)
            .await?;
        // The auditor's path: one transaction per batch, event rows plus the handoffs upserts.
        let started = Instant::now();
        let mut inserted = 0;
        for chunk in records.chunks(batch) {
            inserted += write_records(&pool, chunk, &WriteOptions::default())
                .await?
                .inserted;
        }
        auditor.push(started.elapsed().as_secs_f64());
        anyhow::ensure!(
            inserted == n,
            "the auditor stored {inserted} of {n} records"
        );

        let (rows, s) = copy_into(&pool, "copy_bare", &records).await?;
        anyhow::ensure!(rows as usize == n, "COPY wrote {rows} rows");
        bare.push(s);
        let (rows, s) = copy_into(&pool, "copy_indexed", &records).await?;
        anyhow::ensure!(rows as usize == n, "COPY wrote {rows} rows");
        indexed.push(s);
    }

    let line = |what: &str, times: &mut Vec<f64>| -> f64 {
        times.sort_by(f64::total_cmp);
        let (best, median) = (times[0], times[times.len() / 2]);
        println!(
            "  {what:<38} best {best:6.2} s = {:>7.0} rows/s   median {median:6.2} s = {:>7.0} rows/s",
            n as f64 / best,
            n as f64 / median
        );
        n as f64 / best
    };
    let a = line(
        &format!("auditor write_records (+{handoffs} handoffs)"),
        &mut auditor,
    );
    let b = line("raw COPY, bare table", &mut bare);
    let i = line("COPY, handoff_events' key + indexes", &mut indexed);
    println!(
        "  auditor / raw COPY = {:.2}x (target >= 0.50x); auditor / indexed COPY = {:.2}x  (best of each)",
        a / b,
        a / i
    );
    pool.close().await;
    Ok(())
}
