//! Generated load and end-to-end verification for the reliability tests (chaos, broker restart,
//! rolling restart, rebalance, soak).
//!
//! [`generate`] makes `conversations` conversations of `turns` turns each, interleaved round by
//! round (turn 0 of every conversation, then turn 1, ...), so every conversation is in flight
//! while workers crash. Four in five conversations escalate at a turn that depends on their
//! number, through different rules (an explicit request, three low-confidence agent turns in a
//! row — which needs the detector's remembered state across records —, a threat, a
//! `transfer_to_human` tool call); the rest never do.
//!
//! [`Expected`] is what the pure [`Pipeline`] says a fault-free run produces over the same
//! records; [`verify`] compares a live run (team topics, signals, the detector's changelog and
//! the audit tables) with it and returns the counts (lost, duplicated) instead of panicking, so
//! a test prints them before it asserts.

use crate::*;
use handoff_core::detect::ConversationState;
use handoff_core::pipeline::{Output, Pipeline};
use handoff_core::records::*;
use handoff_core::replay::{parse_line, ReplayRecord};
use handoff_core::Policy;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// A small deterministic PRNG (xorshift64*), so a failing run can be repeated from its seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

const CONTACT_TURNS: &[&str] = &[
    "Hi, my order {n} has not arrived yet, can you check where it is?",
    "I was charged twice for invoice {n} this month.",
    "How do I change the email address on my account?",
    "The app keeps logging me out after the last update.",
    "Can I add two more seats to our team plan?",
    "Thanks, that makes sense. One more question about order {n}.",
    "Where can I download last month's invoice?",
    "The export to CSV is missing the date column.",
];

const AGENT_TURNS: &[&str] = &[
    "Let me check that for you.",
    "I can see order {n} in our system; it left the warehouse yesterday.",
    "You can change it under Settings, then Account.",
    "Could you tell me which device you are using?",
    "I have updated that for you.",
];

/// One generated event.
fn event(
    conversation: &str,
    turn: usize,
    at: chrono::DateTime<chrono::Utc>,
    actor: &str,
    text: &str,
    agent: Option<serde_json::Value>,
) -> ReplayRecord {
    let mut v = json!({
        "type": "event",
        "event_id": format!("{conversation}-{turn}"),
        "conversation_id": conversation,
        "tenant_id": "acme",
        "occurred_at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "channel": "web",
        "actor": actor,
        "text": text,
    });
    if let Some(a) = agent {
        v["agent"] = a;
    }
    parse_line(&v.to_string())
        .expect("a generated event parses")
        .expect("not blank")
}

/// `conversations` conversations of `turns` turns (at least 8), interleaved by round; ids start
/// with `prefix` so two loads in one test do not collide. Timestamps start two hours ago and
/// advance 1 ms per record (inside the validation window, in order within a conversation).
pub fn generate(prefix: &str, conversations: usize, turns: usize, seed: u64) -> Vec<ReplayRecord> {
    assert!(
        turns >= 8,
        "at least 8 turns: escalations happen from turn 5 on"
    );
    let start = chrono::Utc::now() - chrono::Duration::hours(2);
    let mut rng = Rng::new(seed);
    // Per conversation: the escalation kind (0..=4, 4 = none) and the turn it happens at (the
    // last turn of the trigger, always an odd turn for agent-side triggers).
    let plans: Vec<(usize, usize)> = (0..conversations)
        .map(|i| {
            let at = 5 + (rng.next_u64() as usize) % (turns - 6);
            (i % 5, at)
        })
        .collect();
    let mut out = Vec::with_capacity(conversations * turns);
    let mut clock = 0i64;
    for turn in 0..turns {
        for (i, &(kind, at)) in plans.iter().enumerate() {
            let c = format!("{prefix}{i}");
            let t = start + chrono::Duration::milliseconds(clock);
            clock += 1;
            let n = 10_000 + (i * 7 + turn) % 90_000;
            let contact = turn % 2 == 0;
            // Agent-side triggers land on agent turns: the agent turn at or right after `at`.
            let agent_at = at | 1;
            let rec = if contact {
                let text = if kind == 0 && turn == at & !1 {
                    "This is going nowhere, can I talk to a person please".to_string()
                } else if kind == 2 && turn == at & !1 {
                    "If this is not fixed today I will contact my lawyer and take legal action"
                        .to_string()
                } else {
                    CONTACT_TURNS[(i + turn) % CONTACT_TURNS.len()].replace("{n}", &n.to_string())
                };
                event(&c, turn, t, "contact", &text, None)
            } else {
                let low = kind == 1 && turn <= agent_at && turn + 4 >= agent_at;
                let tool = kind == 3 && turn == agent_at;
                let mut agent =
                    json!({"confidence": if low { 0.2 } else { 0.93 }, "intent": "billing"});
                if tool {
                    agent["tool_calls"] = json!([{"name": "transfer_to_human", "arguments": "{\"reason\":\"needs approval\"}"}]);
                }
                let text =
                    AGENT_TURNS[(i + turn) % AGENT_TURNS.len()].replace("{n}", &n.to_string());
                event(&c, turn, t, "agent", &text, Some(agent))
            };
            out.push(rec);
        }
    }
    out
}

/// Operator commands for the handoffs in `expected` (in handoff-id order): every other one is
/// claimed, every fourth then resolved; plus `unknown` commands naming conversations nobody has
/// seen (each rejected). Issued `at`.
pub fn commands(
    routes: &BTreeMap<String, (String, String)>,
    unknown: usize,
    prefix: &str,
) -> Vec<ReplayRecord> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut out = Vec::new();
    let cmd = |id: String, conversation: &str, action: &str| {
        let v = json!({
            "type": "command", "command_id": id, "conversation_id": conversation, "issued_at": now,
            "operator": {"id": "op-7", "name": "Sam", "team": "general"}, "action": action,
        });
        parse_line(&v.to_string()).unwrap().unwrap()
    };
    for (n, (handoff, (conversation, _team))) in routes.iter().enumerate() {
        if n % 2 == 0 {
            out.push(cmd(
                format!("{prefix}claim-{handoff}"),
                conversation,
                "claim",
            ));
        }
        if n % 4 == 0 {
            out.push(cmd(
                format!("{prefix}resolve-{handoff}"),
                conversation,
                "resolve",
            ));
        }
    }
    for i in 0..unknown {
        out.push(cmd(
            format!("{prefix}ghost-cmd-{i}"),
            &format!("{prefix}ghost-{i}"),
            "claim",
        ));
    }
    out
}

/// What the detector's state says about a conversation, without wall-clock fields (a live run
/// decides at the wall clock, the offline pipeline at the records' own times).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StateView {
    pub control: String,
    pub handoff_id: Option<String>,
    pub trigger_id: Option<String>,
    pub claimed_by: Option<String>,
    pub low_confidence_streak: u32,
    pub transcript: Vec<String>,
}

impl StateView {
    pub fn of(s: &ConversationState) -> StateView {
        StateView {
            control: s.control.as_str().to_string(),
            handoff_id: s.handoff_id.clone(),
            trigger_id: s.trigger_id.clone(),
            claimed_by: s.claimed_by.clone(),
            low_confidence_streak: s.low_confidence_streak,
            transcript: s
                .transcript
                .iter()
                .map(|t| t.event_id().to_string())
                .collect(),
        }
    }
}

/// What a fault-free run produces.
#[derive(Debug, Default, Clone)]
pub struct Expected {
    /// handoff id → (conversation, team)
    pub routes: BTreeMap<String, (String, String)>,
    /// handoff id → the state the audit row must end in
    pub states: BTreeMap<String, Option<String>>,
    /// handoff id → its signal ids
    pub signals: BTreeMap<String, BTreeSet<String>>,
    /// every `handoff_events.event_id`
    pub event_ids: BTreeSet<String>,
    /// conversation → detector state
    pub detector: BTreeMap<String, StateView>,
}

impl Expected {
    /// Feeds `records` (in publish order) through the offline pipeline.
    pub fn feed(&mut self, pipeline: &mut Pipeline<'_>, records: &[ReplayRecord]) {
        for r in records {
            if let ReplayRecord::Command(c) = r {
                self.event_ids.insert(format!("command:{}", c.command_id));
            }
            for o in pipeline.feed(r) {
                match o {
                    Output::Signal(s) => {
                        self.event_ids.insert(format!("signal:{}", s.signal_id));
                        self.signals
                            .entry(s.handoff_id.clone())
                            .or_default()
                            .insert(s.signal_id.clone());
                    }
                    Output::Payload(p) => {
                        self.event_ids.insert(format!("payload:{}", p.signal_id));
                    }
                    Output::Route(route) => {
                        self.event_ids.insert(format!("route:{}", route.route_id));
                        self.routes.insert(
                            route.payload.handoff_id.clone(),
                            (
                                route.payload.conversation_id.clone(),
                                route.routing.team.clone(),
                            ),
                        );
                    }
                    Output::Lifecycle(l) => {
                        self.event_ids
                            .insert(format!("lifecycle:{}", l.lifecycle_id));
                        if l.accepted {
                            let state = if l.transition == "flagged" {
                                "flagged"
                            } else {
                                l.to_state.as_str()
                            };
                            self.states
                                .insert(l.handoff_id.clone(), Some(state.to_string()));
                        }
                    }
                    Output::Control(_) => {}
                }
            }
            let id = r.conversation_id();
            if let Some(s) = pipeline.state(id) {
                self.detector.insert(id.to_string(), StateView::of(s));
            }
        }
    }
}

/// A test policy: the built-in one with claim-by deadlines of a day, so a long run's unclaimed
/// handoffs never breach their SLA on the wall clock (the offline pipeline runs without the
/// SLA clock). Written into `dir`; returns (path, policy).
pub fn long_sla_policy(dir: &std::path::Path) -> (std::path::PathBuf, Policy) {
    let text = std::fs::read_to_string(repo_root().join("infra/policy/default.toml")).unwrap();
    let text = text
        .replace("immediate_minutes = 5", "immediate_minutes = 1440")
        .replace("normal_minutes = 30", "normal_minutes = 1440");
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("policy-long-sla.toml");
    std::fs::write(&path, text).unwrap();
    let policy = crate::as_deployed(Policy::from_file(&path).expect("the test policy loads"));
    (path, policy)
}

/// How a live run compared with [`Expected`].
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub handoffs_expected: usize,
    pub handoffs_in_store: usize,
    /// expected audit events missing from `handoff_events`
    pub lost: usize,
    /// `handoff_events` rows no fault-free run produces (a decision made twice differently)
    pub duplicates: usize,
    /// handoffs whose audit row is missing, has another team or another state
    pub wrong_rows: Vec<String>,
    /// routed records on the team topics, and how many were repeats of a handoff already seen
    pub team_records: usize,
    pub team_repeats: usize,
    /// expected handoffs never seen on their team topic
    pub missing_on_team: Vec<String>,
    /// StopSignal records on handoff.signals, and handoffs whose distinct signal ids differ
    pub signal_records: usize,
    pub wrong_signals: Vec<String>,
    /// conversations whose final detector state (from the changelog) differs
    pub wrong_state: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.lost == 0
            && self.duplicates == 0
            && self.wrong_rows.is_empty()
            && self.missing_on_team.is_empty()
            && self.wrong_signals.is_empty()
            && self.wrong_state.is_empty()
    }

    pub fn print(&self, label: &str) {
        eprintln!(
            "[{label}] handoffs expected={} in_store={} | audit events lost={} duplicates={} wrong_rows={} | team records={} repeats={} missing={} | signals records={} wrong={} | detector state wrong={}",
            self.handoffs_expected,
            self.handoffs_in_store,
            self.lost,
            self.duplicates,
            self.wrong_rows.len(),
            self.team_records,
            self.team_repeats,
            self.missing_on_team.len(),
            self.signal_records,
            self.wrong_signals.len(),
            self.wrong_state.len(),
        );
        let some = |v: &[String]| v.iter().take(5).cloned().collect::<Vec<_>>();
        if !self.ok() {
            eprintln!(
                "[{label}] examples: rows {:?} team {:?} signals {:?} state {:?}",
                some(&self.wrong_rows),
                some(&self.missing_on_team),
                some(&self.wrong_signals),
                some(&self.wrong_state)
            );
        }
    }
}

/// Every record of `topics` up to the high watermarks taken now (all partitions).
pub async fn read_to_end(
    settings: &Settings,
    topics: &[String],
) -> anyhow::Result<Vec<rdkafka::message::OwnedMessage>> {
    // Retried: a broker restarting meanwhile (tests/tests/broker_restart.rs) is not a failure.
    let mut attempt = 0;
    loop {
        match read_to_end_once(settings, topics).await {
            Err(e) if attempt < 5 => {
                eprintln!("reading {topics:?} to the end failed ({e}); again");
                attempt += 1;
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            r => return r,
        }
    }
}

async fn read_to_end_once(
    settings: &Settings,
    topics: &[String],
) -> anyhow::Result<Vec<rdkafka::message::OwnedMessage>> {
    let settings = settings.clone();
    let topics = topics.to_vec();
    tokio::task::spawn_blocking(move || {
        let group = format!(
            "{}.dump.{}",
            settings.kafka.group_prefix,
            uuid::Uuid::new_v4().simple()
        );
        let mut config = handoff_runtime::kafka::consumer_config(&settings.kafka, &group);
        config.set("enable.auto.commit", "false");
        let c: BaseConsumer = config.create()?;
        let timeout = Duration::from_secs(20);
        let mut tpl = TopicPartitionList::new();
        let mut remaining = BTreeMap::new();
        for topic in &topics {
            let md = c.fetch_metadata(Some(topic), timeout)?;
            for p in md.topics().iter().flat_map(|t| t.partitions()) {
                let (low, high) = c.fetch_watermarks(topic, p.id(), timeout)?;
                if high > low {
                    tpl.add_partition_offset(topic, p.id(), Offset::Beginning)?;
                    remaining.insert((topic.clone(), p.id()), high);
                }
            }
        }
        let mut out = Vec::new();
        if remaining.is_empty() {
            return Ok(out);
        }
        c.assign(&tpl)?;
        let deadline = Instant::now() + Duration::from_secs(300);
        while !remaining.is_empty() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "reading {topics:?} to the end timed out"
            );
            match c.poll(Duration::from_secs(1)) {
                None => {}
                Some(Err(e)) => eprintln!("dump consumer: {e}"),
                Some(Ok(m)) => {
                    let k = (m.topic().to_string(), m.partition());
                    if remaining.get(&k).is_some_and(|h| m.offset() + 1 >= *h) {
                        remaining.remove(&k);
                    }
                    out.push(m.detach());
                }
            }
        }
        Ok(out)
    })
    .await?
}

/// The team topics of the policy's teams.
pub fn team_topics(settings: &Settings, policy: &Policy) -> Vec<String> {
    let t = settings.topics();
    policy
        .routing
        .teams
        .iter()
        .map(|team| t.team(team))
        .collect()
}

/// Waits until the audit store holds every expected handoff in its final state and every
/// expected event (or `timeout`), then compares everything: the audit tables, the team topics,
/// the signals and the detector's changelog.
pub async fn verify(
    settings: &Settings,
    db_url: &str,
    policy: &Policy,
    want: &Expected,
    timeout: Duration,
) -> anyhow::Result<Report> {
    let pool = sqlx::PgPool::connect(db_url).await?;
    let want_rows: BTreeMap<String, (Option<String>, Option<String>)> = want
        .routes
        .iter()
        .map(|(id, (_, team))| {
            (
                id.clone(),
                (Some(team.clone()), want.states.get(id).cloned().flatten()),
            )
        })
        .collect();
    let deadline = Instant::now() + timeout;
    let (rows, events) = loop {
        let rows: Vec<(String, Option<String>, Option<String>)> =
            sqlx::query_as("SELECT handoff_id, team, state FROM handoffs")
                .fetch_all(&pool)
                .await?;
        let rows: BTreeMap<String, (Option<String>, Option<String>)> = rows
            .into_iter()
            .map(|(id, team, state)| (id, (team, state)))
            .collect();
        let events: BTreeSet<String> = sqlx::query_scalar("SELECT event_id FROM handoff_events")
            .fetch_all(&pool)
            .await?
            .into_iter()
            .collect();
        if (rows == want_rows && want.event_ids.is_subset(&events)) || Instant::now() > deadline {
            break (rows, events);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    // Anything late would show up now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let events: BTreeSet<String> = {
        let again: BTreeSet<String> = sqlx::query_scalar("SELECT event_id FROM handoff_events")
            .fetch_all(&pool)
            .await?
            .into_iter()
            .collect();
        again.union(&events).cloned().collect()
    };
    pool.close().await;

    let mut r = Report {
        handoffs_expected: want.routes.len(),
        handoffs_in_store: rows.len(),
        lost: want.event_ids.difference(&events).count(),
        duplicates: events.difference(&want.event_ids).count(),
        ..Report::default()
    };
    for (id, w) in &want_rows {
        if rows.get(id) != Some(w) {
            r.wrong_rows
                .push(format!("{id}: want {w:?} got {:?}", rows.get(id)));
        }
    }
    for id in rows.keys().filter(|id| !want_rows.contains_key(*id)) {
        r.wrong_rows.push(format!("{id}: not expected"));
    }

    let codec = handoff_runtime::codec::Codec::new(&settings.registry)?;
    // Team topics: every handoff at least once, on its team's topic; consumers drop repeats.
    let topics = settings.topics();
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in read_to_end(settings, &team_topics(settings, policy)).await? {
        let routed: RoutedHandoff = codec.decode(m.payload()).await?;
        r.team_records += 1;
        let teams = seen.entry(routed.payload.handoff_id.clone()).or_default();
        if !teams.insert(topics.team_of(m.topic()).unwrap_or_default().to_string()) {
            r.team_repeats += 1;
        }
    }
    for (id, (_, team)) in &want.routes {
        if !seen.get(id).is_some_and(|t| t.contains(team)) {
            r.missing_on_team
                .push(format!("{id} (team {team}, seen on {:?})", seen.get(id)));
        }
    }
    for id in seen.keys().filter(|id| !want.routes.contains_key(*id)) {
        r.missing_on_team
            .push(format!("{id}: routed but not expected"));
    }

    // Signals: each handoff signalled by exactly its expected signal ids (repeats of one id are
    // redeliveries, which consumers and the audit drop by id).
    let mut signals: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in read_to_end(settings, &[topics.signals()]).await? {
        let s: StopSignal = codec.decode(m.payload()).await?;
        r.signal_records += 1;
        signals
            .entry(s.handoff_id.clone())
            .or_default()
            .insert(s.signal_id.clone());
    }
    if signals != want.signals {
        for id in want
            .signals
            .keys()
            .chain(signals.keys())
            .collect::<BTreeSet<_>>()
        {
            if signals.get(id) != want.signals.get(id) {
                r.wrong_signals.push(format!(
                    "{id}: want {:?} got {:?}",
                    want.signals.get(id),
                    signals.get(id)
                ));
            }
        }
    }

    // The detector's final state per conversation, from its changelog (last record per key).
    let mut last: BTreeMap<String, Option<StateView>> = BTreeMap::new();
    for m in read_to_end(settings, &[topics.state()]).await? {
        let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
        let view = match m.payload() {
            None => None,
            Some(_) => Some(StateView::of(
                &codec.decode::<ConversationState>(m.payload()).await?,
            )),
        };
        last.insert(key, view);
    }
    for (id, w) in &want.detector {
        let got = last.get(id).cloned().flatten();
        if got.as_ref() != Some(w) {
            r.wrong_state.push(format!("{id}: want {w:?} got {got:?}"));
        }
    }
    for id in last.keys().filter(|k| !want.detector.contains_key(*k)) {
        r.wrong_state.push(format!(
            "{id}: state for a conversation the pipeline does not keep"
        ));
    }
    Ok(r)
}

/// How long a group may commit nothing while records wait before a wait gives up: a worker
/// that is down or wedged fails the test with that reason in minutes, not at the overall
/// timeout. Generous for a loaded 2-core machine, where a healthy worker still commits
/// every few seconds.
const STALL_LIMIT: Duration = Duration::from_secs(300);

/// Waits until the group `<group_prefix>.<worker>` has committed everything published so far
/// on `topics` (the worker consumed and finished it). Fails at `timeout`, or sooner when the
/// group commits nothing for [`STALL_LIMIT`] with records waiting.
pub async fn wait_consumed(
    settings: &Settings,
    worker: &str,
    topics: &[String],
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut progress = (-1, Instant::now());
    loop {
        // A broker restarting meanwhile (the tests that restart it) is not a failure: ask again.
        let (committed, high) = match group_position(settings, worker, topics).await {
            Ok(p) => p,
            Err(e) => {
                anyhow::ensure!(
                    Instant::now() < deadline,
                    "{worker}'s position on {topics:?}: {e}"
                );
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if committed >= high {
            return Ok(());
        }
        if committed != progress.0 {
            progress = (committed, Instant::now());
        }
        anyhow::ensure!(
            progress.1.elapsed() < STALL_LIMIT,
            "{worker} is stalled: it committed nothing for {STALL_LIMIT:?} ({committed} of {high} records on {topics:?}); is it running? see .run/logs/test-*{worker}.log"
        );
        anyhow::ensure!(
            Instant::now() < deadline,
            "{worker} committed {committed} of {high} records on {topics:?} within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The group's committed offsets and the high watermarks, each summed over `topics`.
pub async fn group_position(
    settings: &Settings,
    worker: &str,
    topics: &[String],
) -> anyhow::Result<(i64, i64)> {
    let settings = settings.clone();
    let topics = topics.to_vec();
    let group = format!("{}.{worker}", settings.kafka.group_prefix);
    tokio::task::spawn_blocking(move || -> anyhow::Result<(i64, i64)> {
        let consumer: BaseConsumer =
            handoff_runtime::kafka::consumer_config(&settings.kafka, &group).create()?;
        let timeout = Duration::from_secs(10);
        let mut tpl = TopicPartitionList::new();
        let mut high = 0;
        for topic in &topics {
            let md = consumer.fetch_metadata(Some(topic), timeout)?;
            for p in md.topics().iter().flat_map(|m| m.partitions()) {
                tpl.add_partition(topic, p.id());
                high += consumer.fetch_watermarks(topic, p.id(), timeout)?.1;
            }
        }
        let committed = consumer
            .committed_offsets(tpl, timeout)?
            .elements()
            .iter()
            .map(|e| match e.offset() {
                Offset::Offset(o) => o,
                _ => 0,
            })
            .sum();
        Ok((committed, high))
    })
    .await?
}

/// Resident set size of a process in MiB (Linux `/proc`).
pub fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// The environment for spawned workers of the reliability tests: the settings, the test policy
/// and a config file with the consumer session pinned (10 s), so a SIGKILLed member leaves its group before
/// its successor joins (see README, "Known broker quirks"). Returns the env pairs.
pub fn reliability_env(
    settings: &Settings,
    dir: &std::path::Path,
    policy: &std::path::Path,
) -> Vec<(String, String)> {
    std::fs::create_dir_all(dir).unwrap();
    let config = dir.join("workers.toml");
    std::fs::write(
        &config,
        format!("[kafka.consumer_options]\n\"session.timeout.ms\" = \"{SESSION_MS}\"\n\"heartbeat.interval.ms\" = \"1000\"\n"),
    )
    .unwrap();
    let mut env = env_for(settings);
    env.push(("HANDOFF_CONFIG".into(), config.display().to_string()));
    env.push(("HANDOFF_POLICY__PATH".into(), policy.display().to_string()));
    env
}

/// The consumer session of reliability-test workers; a SIGKILLed worker is restarted after
/// [`RESTART_BACKOFF`], longer than this.
pub const SESSION_MS: u64 = 10_000;
pub const RESTART_BACKOFF: Duration = Duration::from_millis(SESSION_MS + 1500);

/// Starts a worker binary with an explicit environment, its output appended to `log`.
pub fn spawn_env(name: &'static str, env: &[(String, String)], log: &std::path::Path) -> Process {
    let dir = std::env::var("HANDOFF_BIN_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("target/debug"));
    let bin = dir.join(name);
    assert!(
        bin.exists(),
        "{} is not built: run `cargo build --workspace --bins` (make test does)",
        bin.display()
    );
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = std::process::Command::new(&bin)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
    Process { child, name }
}
