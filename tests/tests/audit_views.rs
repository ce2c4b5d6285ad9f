//! The audit store's analyst views on the real stack: the sample conversations (plus two made
//! up here: a handback followed by a re-escalation, with a reassignment on the way, and a flag)
//! run through all four workers into a fresh database, and every view documented in the README
//! must answer what the offline pipeline (the same pure code) says it must.
//!
//! The policy is the default one with a zero claim-by deadline for `immediate` handoffs, so
//! those breach their SLA at once and are re-escalated (new signal, payload and route for the
//! same handoff): `sla_breaches` has rows, and the auditor must keep every re-escalation.
//!
//! The second test replays the same topics through a second auditor (another consumer group)
//! into the same database: the tables must not change at all.

// Rows read back from SQL are tuples; naming each shape would not make them clearer.
#![allow(clippy::type_complexity)]
use anyhow::Context;
use handoff_core::pipeline::{Output, Pipeline};
use handoff_core::records::*;
use handoff_core::replay::{parse_line, ReplayRecord};
use handoff_core::Policy;
use handoff_runtime::publish::produce_replay;
use handoff_runtime::{kafka, Settings};
use handoff_tests::*;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use sqlx::PgPool;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

// ---- the run ------------------------------------------------------------------------------

/// The default policy with `immediate` handoffs due at once (written to a temporary file the
/// workers load, and parsed for the offline expectation).
fn policy() -> (PathBuf, Policy) {
    let text = std::fs::read_to_string(repo_root().join("infra/policy/default.toml"))
        .expect("infra/policy/default.toml");
    let mut done = false;
    let text: String = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("immediate_minutes") {
                done = true;
                "immediate_minutes = 0".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(done, "the default policy has no [sla] immediate_minutes");
    let path = std::env::temp_dir().join(format!(
        "handoff-views-{}.toml",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&path, &text).unwrap();
    let policy = handoff_tests::as_deployed(
        Policy::from_toml(&text, &path.display().to_string()).expect("the test policy"),
    );
    (path, policy)
}

fn line(json: &str) -> ReplayRecord {
    parse_line(json).unwrap().unwrap()
}

/// Two conversations made up for the views the samples do not exercise. `x01` asks for a
/// person, is claimed by Lee (general), reassigned to billing, claimed by Sam, handed back,
/// and asks for a person again (a re-escalation after a handback). `x02` is on the starter
/// plan, where handoff is off: a flag.
fn extra_events() -> Vec<ReplayRecord> {
    vec![
        line(
            r#"{"type":"event","event_id":"x01-1","conversation_id":"x01","tenant_id":"acme","occurred_at":"2026-11-20T15:00:00Z","channel":"web","actor":"contact","text":"Hi, the blender from order 61001 arrived with a cracked jug.","language":"en","contact":{"contact_id":"p-901","name":"Noor Haddad","email":"noor.haddad@example.com","phone":"+44 20 7946 0101","account_id":"A-9001","plan":"growth","vip":false}}"#,
        ),
        line(
            r#"{"type":"event","event_id":"x01-2","conversation_id":"x01","tenant_id":"acme","occurred_at":"2026-11-20T15:00:10Z","channel":"web","actor":"agent","text":"I'm sorry to hear that. Could you send a photo of the damage?","language":"en","agent":{"confidence":0.86,"intent":"order_issue","sub_intent":"damaged_item","out_of_scope":false,"tool_calls":[],"citations":[]}}"#,
        ),
        line(
            r#"{"type":"event","event_id":"x01-3","conversation_id":"x01","tenant_id":"acme","occurred_at":"2026-11-20T15:01:00Z","channel":"web","actor":"contact","text":"I already sent one yesterday. Can I talk to a person?","language":"en"}"#,
        ),
        line(
            r#"{"type":"event","event_id":"x02-1","conversation_id":"x02","tenant_id":"acme","occurred_at":"2026-11-20T15:02:00Z","channel":"web","actor":"contact","text":"Can I talk to a person?","language":"en","contact":{"contact_id":"p-902","name":"Jonas Berg","email":"jonas.berg@example.com","account_id":"A-9002","plan":"starter","vip":false}}"#,
        ),
    ]
}

fn extra_commands() -> Vec<ReplayRecord> {
    vec![
        line(
            r#"{"type":"command","command_id":"x01-op-1","conversation_id":"x01","issued_at":"2026-11-20T15:03:00Z","operator":{"id":"u-9","name":"Lee","team":"general"},"action":"claim"}"#,
        ),
        line(
            r#"{"type":"command","command_id":"x01-op-2","conversation_id":"x01","issued_at":"2026-11-20T15:04:00Z","operator":{"id":"u-9","name":"Lee","team":"general"},"action":"reassign","target_team":"billing","note":"Damaged item with a refund: billing owns it."}"#,
        ),
        line(
            r#"{"type":"command","command_id":"x01-op-3","conversation_id":"x01","issued_at":"2026-11-20T15:05:00Z","operator":{"id":"u-3","name":"Sam","team":"billing"},"action":"claim"}"#,
        ),
        line(
            r#"{"type":"command","command_id":"x01-op-4","conversation_id":"x01","issued_at":"2026-11-20T15:08:00Z","operator":{"id":"u-3","name":"Sam","team":"billing"},"action":"resume","note":"Replacement jug shipped today. Do not reopen the damage question.","send_follow_up_now":false}"#,
        ),
    ]
}

/// After the handback: `x01` asks for a person again.
fn extra_after_handback() -> Vec<ReplayRecord> {
    vec![line(
        r#"{"type":"event","event_id":"x01-4","conversation_id":"x01","tenant_id":"acme","occurred_at":"2026-11-20T15:20:00Z","channel":"web","actor":"contact","text":"The replacement has not shipped at all. Can I talk to a person?","language":"en"}"#,
    )]
}

/// What the offline pipeline says about one handoff.
#[derive(Debug, Clone, Default)]
struct H {
    conversation: String,
    decision: String,
    primary_reason: String,
    rule_ids: Vec<String>,
    immediate: bool,
    /// (attempt, team) of the first and the winning route
    first_team: String,
    team: String,
    attempt: i32,
    state: String,
    /// claimed (or taken over while waiting) at some point; created by a take-over
    claimed: bool,
    taken_over_at_creation: bool,
    resolved: bool,
    returned: bool,
    reassigned: i64,
    /// the order of creation and of the handback among all outputs
    created_seq: usize,
    returned_seq: Option<usize>,
}

impl H {
    fn open(&self) -> bool {
        matches!(self.state.as_str(), "awaiting_human" | "claimed")
    }

    /// With immediate handoffs due at once, the live detector breaches every one left waiting.
    fn breached(&self) -> bool {
        self.decision == "escalate" && self.immediate && self.state == "awaiting_human"
    }
}

#[derive(Debug, Default)]
struct Want {
    handoffs: BTreeMap<String, H>,
    event_ids: BTreeSet<String>,
    /// (operator id, handoff id, action, note, accepted)
    operator_actions: BTreeSet<(String, String, String, Option<String>, bool)>,
    operator_names: BTreeMap<String, String>,
    /// handoffs routed after each phase (events, commands, the event after the handback)
    routed_after: [usize; 3],
}

fn expected(policy: &Policy, phases: &[Vec<ReplayRecord>; 3]) -> Want {
    // The live run decides against the wall clock (the deadlines of the normal handoffs are in
    // the future); the zero-minute breaches are added by H::breached, not by the replay.
    let mut pipeline = Pipeline::new(policy).without_sla_clock();
    let mut w = Want::default();
    let mut seq = 0usize;
    for (phase, records) in phases.iter().enumerate() {
        for r in records {
            if let ReplayRecord::Command(c) = r {
                w.event_ids.insert(format!("command:{}", c.command_id));
                w.operator_names
                    .insert(c.operator.id.clone(), c.operator.name.clone());
            }
            for o in pipeline.feed(r) {
                seq += 1;
                match o {
                    Output::Signal(s) => {
                        w.event_ids.insert(format!("signal:{}", s.signal_id));
                        let h = w.handoffs.entry(s.handoff_id.clone()).or_default();
                        if h.decision.is_empty() {
                            h.conversation = s.conversation_id.clone();
                            h.decision = serde_json::to_value(s.decision)
                                .unwrap()
                                .as_str()
                                .unwrap()
                                .to_string();
                            h.primary_reason = s.reasons[0].kind.as_str().to_string();
                            h.rule_ids = s.reasons.iter().map(|r| r.rule_id.clone()).collect();
                            h.created_seq = seq;
                            h.taken_over_at_creation =
                                h.rule_ids.iter().any(|r| r == "manual.take_over");
                        }
                        h.immediate |= s.urgency == Urgency::Immediate;
                    }
                    Output::Payload(p) => {
                        w.event_ids.insert(format!("payload:{}", p.signal_id));
                    }
                    Output::Route(r) => {
                        w.event_ids.insert(format!("route:{}", r.route_id));
                        let h = w.handoffs.entry(r.payload.handoff_id.clone()).or_default();
                        if h.first_team.is_empty() {
                            h.first_team = r.routing.team.clone();
                            h.attempt = r.routing.attempt;
                            h.team = r.routing.team.clone();
                        } else if r.routing.attempt >= h.attempt {
                            h.attempt = r.routing.attempt;
                            h.team = r.routing.team.clone();
                        }
                    }
                    Output::Lifecycle(l) => {
                        w.event_ids.insert(format!("lifecycle:{}", l.lifecycle_id));
                        if let Some(op) = l.actor.strip_prefix("operator:") {
                            w.operator_actions.insert((
                                op.to_string(),
                                l.handoff_id.clone(),
                                l.transition.clone(),
                                l.note.clone(),
                                l.accepted,
                            ));
                        }
                        if !l.accepted {
                            continue;
                        }
                        let h = w.handoffs.entry(l.handoff_id.clone()).or_default();
                        h.state = if l.transition == "flagged" {
                            "flagged".into()
                        } else {
                            l.to_state.as_str().into()
                        };
                        match l.to_state {
                            ControlState::Claimed => h.claimed = true,
                            ControlState::Resolved => h.resolved = true,
                            ControlState::ReturnedToAgent => {
                                h.returned = true;
                                h.returned_seq = Some(seq);
                            }
                            _ => {}
                        }
                        h.reassigned += i64::from(l.transition == "reassigned");
                    }
                    Output::Control(_) => {}
                }
            }
        }
        w.routed_after[phase] = w.handoffs.values().filter(|h| !h.team.is_empty()).count();
    }
    w
}

/// The stack ran the samples and the extra conversations; everything has reached the audit.
struct Run {
    settings: Settings,
    pool: PgPool,
    want: Want,
    workers: Vec<RunningWorker>,
    policy_file: PathBuf,
    /// every team topic the policy names
    teams: Vec<String>,
}

async fn run_all(name: &str) -> anyhow::Result<Run> {
    let mut settings = test_settings(name);
    with_database(&mut settings).await?;
    let (policy_file, policy) = policy();
    settings.policy.path = Some(policy_file.clone());

    let (mut events, mut commands): (Vec<ReplayRecord>, Vec<ReplayRecord>) = samples()
        .into_iter()
        .partition(|r| matches!(r, ReplayRecord::Event(_)));
    events.extend(extra_events());
    commands.extend(extra_commands());
    let phases = [events, commands, extra_after_handback()];
    let want = expected(&policy, &phases);
    assert!(want.handoffs.len() >= 14, "{:?}", want.handoffs.keys());

    let workers = start_all(&settings);
    // Operators act on handoffs they have seen: the commands follow the escalations.
    produce_replay(&settings, &phases[0]).await?;
    collect_routed(&settings, want.routed_after[0], Duration::from_secs(120)).await?;
    produce_replay(&settings, &phases[1]).await?;
    collect_routed(&settings, want.routed_after[1], Duration::from_secs(120)).await?;

    let url =
        secrecy::ExposeSecret::expose_secret(settings.database.url.as_ref().unwrap()).to_string();
    let pool = PgPool::connect(&url).await?;
    // The re-escalation must follow the handback: wait until the detector has applied it.
    let x01 = want
        .handoffs
        .iter()
        .find(|(_, h)| h.conversation == "x01" && h.returned)
        .map(|(id, _)| id.clone())
        .expect("x01 is handed back");
    eventually(Duration::from_secs(90), || {
        let (pool, id) = (pool.clone(), x01.clone());
        async move {
            let state: Option<String> =
                sqlx::query_scalar("SELECT state FROM handoffs WHERE handoff_id = $1")
                    .bind(&id)
                    .fetch_optional(&pool)
                    .await?
                    .flatten();
            Ok((state.as_deref() == Some("returned_to_agent")).then_some(()))
        }
    })
    .await
    .context("x01's handback in the audit store")?;
    produce_replay(&settings, &phases[2]).await?;
    collect_routed(&settings, want.routed_after[2], Duration::from_secs(120)).await?;

    // Every handoff in its final state, every breach recorded, every expected event stored.
    let want_rows: Vec<(String, Option<String>, Option<String>, bool)> = want
        .handoffs
        .iter()
        .map(|(id, h)| {
            (
                id.clone(),
                Some(h.team.clone()),
                Some(h.state.clone()),
                h.breached(),
            )
        })
        .collect();
    let mut rows: Vec<(String, Option<String>, Option<String>, bool)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        rows = sqlx::query_as(
            "SELECT handoff_id, team, state, sla_breached FROM handoffs ORDER BY handoff_id",
        )
        .fetch_all(&pool)
        .await?;
        if rows == want_rows {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(rows, want_rows, "handoffs (id, team, state, sla_breached)");
    eventually(Duration::from_secs(60), || {
        let pool = pool.clone();
        let want_ids = want.event_ids.clone();
        async move {
            let ids: BTreeSet<String> = sqlx::query_scalar("SELECT event_id FROM handoff_events")
                .fetch_all(&pool)
                .await?
                .into_iter()
                .collect();
            Ok(want_ids.is_subset(&ids).then_some(()))
        }
    })
    .await
    .context("every expected event in handoff_events")?;
    Ok(Run {
        settings,
        pool,
        want,
        workers,
        policy_file,
        teams: policy.routing.teams.clone(),
    })
}

// ---- helpers ------------------------------------------------------------------------------

/// How far the auditor group `group_prefix`.auditor is behind the audited topics (records
/// not yet committed), or `None` before it has committed anything.
async fn audit_lag(
    settings: &Settings,
    group_prefix: &str,
    teams: &[String],
) -> anyhow::Result<Option<i64>> {
    let settings = settings.clone();
    let group = format!("{group_prefix}.auditor");
    let teams = teams.to_vec();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Option<i64>> {
        let consumer: BaseConsumer = kafka::consumer_config(&settings.kafka, &group).create()?;
        let t = settings.topics();
        let mut topics = vec![t.signals(), t.payloads(), t.lifecycle(), t.commands()];
        topics.extend(teams.iter().map(|team| t.team(team)));
        let timeout = Duration::from_secs(10);
        let mut tpl = TopicPartitionList::new();
        let mut high = BTreeMap::new();
        for topic in &topics {
            let md = consumer.fetch_metadata(Some(topic), timeout)?;
            for p in md.topics().iter().flat_map(|m| m.partitions()) {
                let (_, h) = consumer.fetch_watermarks(topic, p.id(), timeout)?;
                high.insert((topic.clone(), p.id()), h);
                tpl.add_partition(topic, p.id());
            }
        }
        let committed = consumer.committed_offsets(tpl, timeout)?;
        let mut lag = 0;
        let mut any = false;
        for e in committed.elements() {
            let h = high[&(e.topic().to_string(), e.partition())];
            let c = match e.offset() {
                Offset::Offset(o) => {
                    any = true;
                    o
                }
                _ => 0,
            };
            lag += (h - c).max(0);
        }
        Ok(any.then_some(lag))
    })
    .await?
}

/// Waits until the auditor group has committed everything on the audited topics.
async fn caught_up(
    settings: &Settings,
    group_prefix: &str,
    teams: &[String],
) -> anyhow::Result<()> {
    eventually(Duration::from_secs(120), || async {
        Ok((audit_lag(settings, group_prefix, teams).await? == Some(0)).then_some(()))
    })
    .await
    .with_context(|| format!("{group_prefix}.auditor catching up"))
}

/// Every row of both audit tables, as JSON, in key order.
async fn dump(pool: &PgPool) -> anyhow::Result<(Vec<Value>, Vec<Value>)> {
    let handoffs = sqlx::query_scalar("SELECT to_jsonb(h) FROM handoffs h ORDER BY handoff_id")
        .fetch_all(pool)
        .await?;
    let events = sqlx::query_scalar("SELECT to_jsonb(e) FROM handoff_events e ORDER BY event_id")
        .fetch_all(pool)
        .await?;
    Ok((handoffs, events))
}

fn count_by<K: Ord + Clone>(items: impl Iterator<Item = K>) -> BTreeMap<K, i64> {
    let mut m = BTreeMap::new();
    for k in items {
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

// ---- the tests ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_view_answers_for_the_samples() -> anyhow::Result<()> {
    let run = run_all("views").await?;
    let (pool, want) = (&run.pool, &run.want);
    let hs = &want.handoffs;

    // Every SLA re-escalation is its own signal, payload and route of the same handoff.
    for (id, h) in hs.iter().filter(|(_, h)| h.breached()) {
        let n = eventually(Duration::from_secs(60), || async {
            let (signals, payloads, breaches): (i64, i64, i32) = sqlx::query_as(
                "SELECT (SELECT count(*) FROM handoff_events WHERE handoff_id = $1 AND kind = 'signal'), \
                        (SELECT count(*) FROM handoff_events WHERE handoff_id = $1 AND kind = 'payload'), \
                        (SELECT sla_breach_count FROM handoffs WHERE handoff_id = $1)",
            )
            .bind(id)
            .fetch_one(pool)
            .await?;
            Ok((breaches >= 1 && signals == 1 + i64::from(breaches) && payloads == signals).then_some(signals))
        })
        .await
        .with_context(|| format!("{} ({}): a payload per signal", h.conversation, id))?;
        assert!(n >= 2);
        let (primary, urgency): (String, String) =
            sqlx::query_as("SELECT primary_reason, urgency FROM handoffs WHERE handoff_id = $1")
                .bind(id)
                .fetch_one(pool)
                .await?;
        assert_eq!(
            primary, h.primary_reason,
            "the escalation's reason, not sla_breach"
        );
        assert_eq!(urgency, "immediate");
    }

    // needs_attention: one row per open handoff, in its team.
    let rows: Vec<(Option<String>, String, String, bool, Option<String>, i64, Option<String>)> = sqlx::query_as(
        "SELECT team, handoff_id, state, overdue, reason, waiting_seconds, summary FROM needs_attention",
    )
    .fetch_all(pool)
    .await?;
    let got: BTreeSet<(String, String, String, bool)> = rows
        .iter()
        .map(|(t, id, s, o, ..)| (t.clone().unwrap_or_default(), id.clone(), s.clone(), *o))
        .collect();
    let open: BTreeSet<(String, String, String, bool)> = hs
        .iter()
        .filter(|(_, h)| h.open())
        .map(|(id, h)| (h.team.clone(), id.clone(), h.state.clone(), h.breached()))
        .collect();
    assert_eq!(got, open, "needs_attention (team, handoff, state, overdue)");
    assert_eq!(rows.len(), open.len(), "one row per open handoff");
    for (_, id, _, _, reason, waiting, summary) in &rows {
        assert!(
            reason.as_deref().is_some_and(|r| !r.is_empty()),
            "{id}: a reason in words"
        );
        assert!(*waiting >= 0);
        assert!(
            summary.as_deref().is_some_and(|s| !s.is_empty()),
            "{id}: a summary"
        );
    }

    // needs_attention_counts: the badge.
    let counts: Vec<(Option<String>, i64, i64)> =
        sqlx::query_as("SELECT team, open, overdue FROM needs_attention_counts")
            .fetch_all(pool)
            .await?;
    let mut want_counts: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for h in hs.values().filter(|h| h.open()) {
        let c = want_counts.entry(h.team.clone()).or_default();
        c.0 += 1;
        c.1 += i64::from(h.breached());
    }
    let counts: BTreeMap<String, (i64, i64)> = counts
        .into_iter()
        .map(|(t, o, d)| (t.unwrap_or_default(), (o, d)))
        .collect();
    assert_eq!(
        counts, want_counts,
        "needs_attention_counts (open, overdue) per team"
    );
    assert!(
        counts.values().any(|c| c.1 > 0),
        "immediate handoffs are overdue"
    );

    // escalations_daily: handoffs per (decision, primary reason), and rule firings per rule.
    let daily: Vec<(chrono::NaiveDate, String, String, Option<String>, bool, i64)> = sqlx::query_as(
        "SELECT day, decision, primary_reason, rule_id, is_primary, count FROM escalations_daily",
    )
    .fetch_all(pool)
    .await?;
    let today = chrono::Utc::now().date_naive();
    assert!(
        daily
            .iter()
            .all(|d| d.0 == today || d.0 == today.pred_opt().unwrap()),
        "decided today (UTC)"
    );
    let mut by_primary: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut by_rule: BTreeMap<String, i64> = BTreeMap::new();
    for (_, decision, primary, rule, is_primary, n) in &daily {
        if *is_primary {
            *by_primary
                .entry((decision.clone(), primary.clone()))
                .or_default() += n;
        }
        *by_rule.entry(rule.clone().unwrap_or_default()).or_default() += n;
    }
    let want_primary = count_by(
        hs.values()
            .map(|h| (h.decision.clone(), h.primary_reason.clone())),
    );
    let want_rule = count_by(hs.values().flat_map(|h| h.rule_ids.clone()));
    assert_eq!(
        by_primary, want_primary,
        "escalations_daily per (decision, primary reason)"
    );
    assert_eq!(by_rule, want_rule, "escalations_daily per rule");
    assert!(
        by_primary.contains_key(&("flag".into(), "explicit_request".into())),
        "x02 is a flag"
    );
    assert!(
        !by_rule.contains_key("sla.claim_by"),
        "a re-escalation is not a new escalation"
    );

    // time_to_claim: claimed escalations per team (take-overs of active conversations never waited).
    let claim: Vec<(Option<String>, i64, f64, f64)> =
        sqlx::query_as("SELECT team, n, p50_seconds, p90_seconds FROM time_to_claim")
            .fetch_all(pool)
            .await?;
    let want_claim = count_by(
        hs.values()
            .filter(|h| h.decision == "escalate" && h.claimed && !h.taken_over_at_creation)
            .map(|h| h.team.clone()),
    );
    let got_claim: BTreeMap<String, i64> = claim
        .iter()
        .map(|(t, n, ..)| (t.clone().unwrap_or_default(), *n))
        .collect();
    assert_eq!(got_claim, want_claim, "time_to_claim n per team");
    assert!(
        got_claim.get("billing").is_some_and(|n| *n >= 2),
        "s01 and s02 were claimed by billing"
    );
    for (team, _, p50, p90) in &claim {
        assert!(*p50 >= 0.0 && p90 >= p50, "{team:?}: p50 {p50} p90 {p90}");
    }

    // time_to_resolve: closed by a human (resolved, or handed back) per team.
    let resolve: Vec<(Option<String>, i64, i64, i64, f64, f64)> = sqlx::query_as(
        "SELECT team, n, resolved, returned_to_agent, p50_seconds, p90_seconds FROM time_to_resolve",
    )
    .fetch_all(pool)
    .await?;
    let mut want_resolve: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
    for h in hs
        .values()
        .filter(|h| h.state == "resolved" || h.state == "returned_to_agent")
    {
        let e = want_resolve.entry(h.team.clone()).or_default();
        e.0 += 1;
        e.1 += i64::from(h.state == "resolved");
        e.2 += i64::from(h.state == "returned_to_agent");
    }
    let got_resolve: BTreeMap<String, (i64, i64, i64)> = resolve
        .iter()
        .map(|(t, n, r, b, ..)| (t.clone().unwrap_or_default(), (*n, *r, *b)))
        .collect();
    assert_eq!(
        got_resolve, want_resolve,
        "time_to_resolve (n, resolved, returned) per team"
    );
    assert!(
        got_resolve.get("billing").is_some_and(|c| c.1 >= 1),
        "s01 was resolved by billing"
    );
    for (team, _, _, _, p50, p90) in &resolve {
        assert!(*p50 >= 0.0 && p90 >= p50, "{team:?}: p50 {p50} p90 {p90}");
    }

    // routing_mix: per first team, with the reassignment rate.
    let mix: Vec<(String, i64, f64, i64, f64)> = sqlx::query_as(
        "SELECT team, handoffs, share::float8, reassigned, reassignment_rate::float8 FROM routing_mix",
    )
    .fetch_all(pool)
    .await?;
    let total = hs.len() as f64;
    let mut want_mix: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for h in hs.values() {
        let e = want_mix.entry(h.first_team.clone()).or_default();
        e.0 += 1;
        e.1 += i64::from(h.reassigned > 0);
    }
    let got_mix: BTreeMap<String, (i64, i64)> = mix
        .iter()
        .map(|(t, n, _, r, _)| (t.clone(), (*n, *r)))
        .collect();
    assert_eq!(
        got_mix, want_mix,
        "routing_mix (handoffs, reassigned) per first team"
    );
    for (team, n, share, r, rate) in &mix {
        assert!(
            (share - *n as f64 / total).abs() < 1e-3,
            "{team}: share {share}"
        );
        assert!(
            (rate - *r as f64 / *n as f64).abs() < 1e-3,
            "{team}: rate {rate}"
        );
    }
    assert_eq!(
        mix.iter().map(|m| m.3).sum::<i64>(),
        1,
        "x01 was reassigned once"
    );

    // handback_stats: handed back, and re-escalated within 24 h.
    let handback: Vec<(String, i64, i64, i64, Option<f64>)> = sqlx::query_as(
        "SELECT team, handoffs, returned_to_agent, re_escalated_24h, re_escalation_rate::float8 FROM handback_stats",
    )
    .fetch_all(pool)
    .await?;
    let re_escalated = |id: &String, h: &H| {
        h.returned_seq.is_some_and(|at| {
            hs.iter().any(|(other, o)| {
                other != id
                    && o.conversation == h.conversation
                    && o.decision == "escalate"
                    && o.created_seq > at
            })
        })
    };
    let mut want_hb: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
    for (id, h) in hs.iter().filter(|(_, h)| h.decision == "escalate") {
        for key in [h.team.clone(), "(all)".to_string()] {
            let e = want_hb.entry(key).or_default();
            e.0 += 1;
            e.1 += i64::from(h.returned);
            e.2 += i64::from(re_escalated(id, h));
        }
    }
    let got_hb: BTreeMap<String, (i64, i64, i64)> = handback
        .iter()
        .map(|(t, n, r, e, _)| (t.clone(), (*n, *r, *e)))
        .collect();
    assert_eq!(
        got_hb, want_hb,
        "handback_stats (handoffs, returned, re-escalated) per team"
    );
    let all = &got_hb["(all)"];
    assert!(all.1 >= 3, "s02, s12 and x01 were handed back");
    assert_eq!(all.2, 1, "x01 asked for a person again after the handback");

    // sla_breaches: the immediate handoffs nobody claimed.
    let breaches: Vec<(
        String,
        Option<String>,
        i32,
        Option<chrono::DateTime<chrono::Utc>>,
        Option<String>,
    )> =
        sqlx::query_as("SELECT handoff_id, team, breaches, claimed_at, priority FROM sla_breaches")
            .fetch_all(pool)
            .await?;
    let got: BTreeMap<String, String> = breaches
        .iter()
        .map(|(id, t, ..)| (id.clone(), t.clone().unwrap_or_default()))
        .collect();
    let want_b: BTreeMap<String, String> = hs
        .iter()
        .filter(|(_, h)| h.breached())
        .map(|(id, h)| (id.clone(), h.team.clone()))
        .collect();
    assert!(!want_b.is_empty(), "the samples have immediate handoffs");
    assert_eq!(got, want_b, "sla_breaches (handoff, team)");
    for (id, _, n, claimed, priority) in &breaches {
        assert!(*n >= 1 && claimed.is_none() && priority.is_some(), "{id}");
    }

    // operator_history: every operator transition with its note and the operator's name.
    let history: Vec<(String, Option<String>, String, String, Option<String>, bool)> = sqlx::query_as(
        "SELECT operator_id, operator_name, handoff_id, action, note, accepted FROM operator_history",
    )
    .fetch_all(pool)
    .await?;
    let got: BTreeSet<(String, String, String, Option<String>, bool)> = history
        .iter()
        .map(|(op, _, h, a, n, ok)| (op.clone(), h.clone(), a.clone(), n.clone(), *ok))
        .collect();
    assert_eq!(got, want.operator_actions, "operator_history");
    assert_eq!(history.len(), want.operator_actions.len());
    for (op, name, ..) in &history {
        assert_eq!(name.as_ref(), want.operator_names.get(op), "{op}'s name");
    }
    let notes = |op: &str, action: &str| -> Vec<String> {
        history
            .iter()
            .filter(|h| h.0 == op && h.3 == action)
            .filter_map(|h| h.4.clone())
            .collect()
    };
    assert!(
        notes("u-3", "resolved")
            .iter()
            .any(|n| n.contains("EUR 89.90")),
        "Sam resolved s01"
    );
    assert!(
        notes("u-3", "resumed")
            .iter()
            .any(|n| n.contains("Refund approved, 7 days")),
        "Sam handed s02 back"
    );
    assert!(
        notes("u-7", "taken_over")
            .iter()
            .any(|n| n.contains("ParcelGo")),
        "Mia took s12 over"
    );
    assert!(
        history.iter().any(|h| h.0 == "u-3" && h.3 == "claimed"),
        "Sam's claims"
    );

    stop_all(run.workers).await?;
    run.pool.close().await;
    let _ = std::fs::remove_file(&run.policy_file);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_the_same_topics_twice_leaves_the_tables_unchanged() -> anyhow::Result<()> {
    let run = run_all("replay").await?;
    let teams = run.teams.clone();

    // Stop the pipeline, let the auditor take everything that was published, then stop it.
    let mut workers = run.workers;
    let auditor = workers.pop().expect("the auditor is started last");
    assert_eq!(auditor.kind, Worker::Auditor);
    stop_all(workers).await?;
    caught_up(&run.settings, &run.settings.kafka.group_prefix, &teams).await?;
    auditor.stop().await?;
    let before = dump(&run.pool).await?;
    assert_eq!(before.0.len(), run.want.handoffs.len());

    // A second auditor, in its own consumer group, reads every audited topic from the start
    // into the same database. Nothing may change, not even updated_at or recorded_at: every
    // record is already there, so nothing is written.
    let mut again = run.settings.clone();
    again.kafka.group_prefix = format!("{}.again", run.settings.kafka.group_prefix);
    let second = start(Worker::Auditor, &again);
    caught_up(&again, &again.kafka.group_prefix, &teams).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    second.stop().await?;
    let after = dump(&run.pool).await?;
    assert_eq!(after.0, before.0, "handoffs changed on replay");
    assert_eq!(
        after.1.len(),
        before.1.len(),
        "handoff_events rows added on replay"
    );
    assert_eq!(after.1, before.1, "handoff_events changed on replay");

    run.pool.close().await;
    let _ = std::fs::remove_file(&run.policy_file);
    Ok(())
}

/// Every documented view answers on an empty store (a fresh deployment, or a quiet day after
/// retention): no errors such as a division by zero in a grand-total row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_view_answers_on_an_empty_store() -> anyhow::Result<()> {
    let mut settings = test_settings("views_empty");
    let url = with_database(&mut settings).await?;
    let pool = PgPool::connect(&url).await?;
    let views: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.views \
         WHERE table_schema = 'public' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await?;
    let views: Vec<String> = views.into_iter().map(|(v,)| v).collect();
    for v in [
        "needs_attention",
        "needs_attention_counts",
        "escalations_daily",
        "time_to_claim",
        "time_to_resolve",
        "routing_mix",
        "handback_stats",
        "sla_breaches",
        "operator_history",
    ] {
        assert!(
            views.contains(&v.to_string()),
            "view {v} missing: {views:?}"
        );
    }
    for v in &views {
        // Names come from the catalogue, not input.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {v}")))
            .fetch_all(&pool)
            .await
            .with_context(|| format!("SELECT * FROM {v} on an empty store"))?;
        // Only the grand-total row of handback_stats exists without data.
        let want = usize::from(v == "handback_stats");
        assert_eq!(rows.len(), want, "{v} on an empty store");
    }
    pool.close().await;
    Ok(())
}
