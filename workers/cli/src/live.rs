//! The subcommands that talk to the running stack (Kafka, registry, Postgres).

use crate::{read_input, replay};
use anyhow::{bail, Context};
use handoff_core::pipeline::Output;
use handoff_core::records::RoutedHandoff;
use handoff_core::replay::ReplayRecord;
use handoff_runtime::worker::Runtime;
use handoff_runtime::{kafka, Settings};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use secrecy::ExposeSecret;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

fn team_consumer(
    settings: &Settings,
    team: Option<&str>,
    from_beginning: bool,
) -> anyhow::Result<StreamConsumer> {
    let group = format!("handoff-cli-{}", uuid::Uuid::new_v4());
    let mut config = kafka::consumer_config(&settings.kafka, &group);
    config
        .set(
            "auto.offset.reset",
            if from_beginning { "earliest" } else { "latest" },
        )
        .set("enable.auto.commit", "false");
    let consumer: StreamConsumer = config.create()?;
    let topics = settings.topics();
    let subscription = match team {
        Some(t) => topics.team(t),
        None => topics.team_pattern(),
    };
    consumer.subscribe(&[subscription.as_str()])?;
    Ok(consumer)
}

fn reasons(r: &RoutedHandoff) -> String {
    r.payload
        .reasons
        .iter()
        .map(|x| x.kind.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
        .join(",")
}

fn print_routed(r: &RoutedHandoff) {
    println!(
        "  -> team {:<10} priority {:<7} reason {:<26} conversation {}\n     {}",
        r.routing.team,
        r.routing.priority.as_str(),
        reasons(r),
        r.payload.conversation_id,
        r.payload.summary
    );
}

/// Prints routed handoffs as they arrive.
pub async fn tail(
    settings: &Settings,
    team: Option<&str>,
    from_beginning: bool,
    count: Option<usize>,
    json: bool,
) -> anyhow::Result<()> {
    let rt = Runtime::new(settings.clone())?;
    let consumer = team_consumer(settings, team, from_beginning)?;
    let mut seen = 0usize;
    loop {
        let msg = tokio::select! {
            m = consumer.recv() => m?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        match rt.codec.decode::<RoutedHandoff>(msg.payload()).await {
            Ok(r) if json => println!("{}", serde_json::to_string(&r)?),
            Ok(r) => print_routed(&r),
            Err(e) => eprintln!(
                "skipping {}[{}]@{}: {e}",
                msg.topic(),
                msg.partition(),
                msg.offset()
            ),
        }
        seen += 1;
        if count.is_some_and(|c| seen >= c) {
            return Ok(());
        }
    }
}

/// conversation, handoff, team, state, primary reason, priority
type AuditRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Prints expected handoffs as they land until `want` of them have.
async fn await_handoffs(
    rt: &Runtime,
    consumer: &StreamConsumer,
    expected: &BTreeMap<String, (String, String)>,
    want: usize,
    landed: &mut BTreeMap<String, RoutedHandoff>,
    deadline: Instant,
) -> anyhow::Result<()> {
    while landed.len() < want {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = match tokio::time::timeout(left, consumer.recv()).await {
            Err(_) => bail!(
                "only {} of {} expected handoffs arrived in time; see .run/logs/*.log",
                landed.len(),
                expected.len()
            ),
            Ok(m) => m?,
        };
        let Ok(r) = rt.codec.decode::<RoutedHandoff>(msg.payload()).await else {
            continue;
        };
        if expected.contains_key(&r.payload.handoff_id)
            && !landed.contains_key(&r.payload.handoff_id)
        {
            print_routed(&r);
            landed.insert(r.payload.handoff_id.clone(), r);
        }
    }
    Ok(())
}

/// Plays the samples through the running stack and shows what came out.
pub async fn demo(settings: &Settings, input: &Path, timeout_secs: u64) -> anyhow::Result<()> {
    let records = read_input(input)?;
    // As the detector worker loads it (with the learned detectors), so the offline expectation
    // decides as the workers do.
    let policy = handoff_semantic::with_learned_detectors(settings.load_policy()?)?;
    // What the pipeline must produce, computed offline by the same code the workers run.
    // handoff id -> (team, triggering event or command id)
    let expected: BTreeMap<String, (String, String)> = replay(&records, &policy)
        .into_iter()
        .filter_map(|o| match o {
            Output::Route(r) => Some((
                r.payload.handoff_id.clone(),
                (r.routing.team.clone(), r.payload.trigger_event_id.clone()),
            )),
            _ => None,
        })
        .collect();
    let conversations: BTreeSet<&str> = records.iter().map(|r| r.conversation_id()).collect();
    println!(
        "==> playing {} records of {} conversations from {}",
        records.len(),
        conversations.len(),
        input.display()
    );
    println!(
        "    policy {} expects {} handoffs",
        policy.version(),
        expected.len()
    );

    let consumer = team_consumer(settings, None, true)?;
    // Operators act on handoffs they have seen, so the samples' commands go out once the
    // events have escalated: Kafka orders records within a topic, not across two topics.
    let (events, commands): (Vec<ReplayRecord>, Vec<ReplayRecord>) = records
        .iter()
        .cloned()
        .partition(|r| matches!(r, ReplayRecord::Event(_)));
    handoff_runtime::publish::produce_replay(settings, &events).await?;
    println!(
        "==> produced {} events; waiting for handoffs on the team topics",
        events.len()
    );

    let rt = Runtime::new(settings.clone())?;
    let deadline = Instant::now() + Duration::from_secs(timeout_secs);
    let mut landed: BTreeMap<String, RoutedHandoff> = BTreeMap::new();
    // Handoffs an event triggers come first; take-overs are triggered by the commands.
    let event_ids: BTreeSet<&str> = events
        .iter()
        .filter_map(|r| match r {
            ReplayRecord::Event(e) => Some(e.event_id.as_str()),
            _ => None,
        })
        .collect();
    let from_events = expected
        .values()
        .filter(|(_, trigger)| event_ids.contains(trigger.as_str()))
        .count();
    await_handoffs(
        &rt,
        &consumer,
        &expected,
        from_events,
        &mut landed,
        deadline,
    )
    .await?;
    handoff_runtime::publish::produce_replay(settings, &commands).await?;
    println!(
        "==> produced {} operator commands (claim, resume, resolve, take over)",
        commands.len()
    );
    await_handoffs(
        &rt,
        &consumer,
        &expected,
        expected.len(),
        &mut landed,
        deadline,
    )
    .await?;
    println!("==> all {} handoffs routed", landed.len());

    let Some(url) = &settings.database.url else {
        println!("(no database configured: skipping the audit table)");
        return Ok(());
    };
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url.expose_secret())
        .await
        .context("connecting to the audit database")?;
    let ids: Vec<String> = expected.keys().cloned().collect();
    let rows = loop {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT conversation_id, handoff_id, team, state, primary_reason, priority
               FROM handoffs WHERE handoff_id = ANY($1) AND team IS NOT NULL
              ORDER BY conversation_id, handoff_id",
        )
        .bind(&ids)
        .fetch_all(&pool)
        .await?;
        if rows.len() == ids.len() || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    println!("==> audit store (table handoffs):");
    println!(
        "  {:<14} {:<36} {:<10} {:<18} {:<18} {:<8}",
        "conversation", "handoff_id", "team", "state", "primary_reason", "priority"
    );
    for (conversation, handoff, team, state, reason, priority) in &rows {
        println!(
            "  {:<14} {:<36} {:<10} {:<18} {:<18} {:<8}",
            conversation,
            handoff,
            team.as_deref().unwrap_or("-"),
            state.as_deref().unwrap_or("-"),
            reason.as_deref().unwrap_or("-"),
            priority.as_deref().unwrap_or("-")
        );
    }
    if rows.len() < ids.len() {
        bail!(
            "the audit store has {} of {} handoffs",
            rows.len(),
            ids.len()
        );
    }
    Ok(())
}
