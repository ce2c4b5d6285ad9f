//! End-to-end load runs against the running broker (`handoff load`) and the bare passthrough
//! relay that is its baseline (`handoff relay`).
//!
//! `handoff load --mode pipeline` publishes generated conversations to `conversation.events` and
//! waits on the team topics for every handoff the offline pipeline says they must produce; the
//! latency of a handoff is from the moment its triggering event was handed to the producer to
//! the moment its `RoutedHandoff` is read here. One sentinel conversation per events partition,
//! sent last, escalates on its first event: when all sentinels are routed the detector has
//! processed every event of every partition, so the throughput figure (events / elapsed) covers
//! the whole input, not only the handoffs.
//!
//! `handoff load --mode passthrough --hops H` publishes the same Avro bytes to `bench.pt.0` and
//! reads them back from `bench.pt.H`, where `H` relays (`handoff relay`, or the Python baseline)
//! copy each record to the next topic. Every record is timed (header `bench.seq`).
//!
//! Both print a summary and, with `--json FILE`, append it as one JSON object.

use anyhow::{bail, Context};
use handoff_core::pipeline::{Output, Pipeline};
use handoff_core::records::*;
use handoff_core::replay::ReplayRecord;
use handoff_runtime::codec::AvroRecord;
use handoff_runtime::worker::Runtime;
use handoff_runtime::{kafka, OutRecord, Outgoing, Settings};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Through the detector, builder and router (they must be running on the same prefix).
    Pipeline,
    /// Through `--hops` bare relays (`handoff relay`, or the Python baseline).
    Passthrough,
}

pub struct LoadArgs {
    pub mode: Mode,
    pub conversations: usize,
    pub turns: usize,
    pub rate: f64,
    pub hops: usize,
    pub timeout: u64,
    pub label: String,
    pub json: Option<std::path::PathBuf>,
}

const SEQ_HEADER: &str = "bench.seq";

/// The topic hop `i` of a passthrough chain reads (hop `i` writes `i + 1`).
pub fn passthrough_topic(settings: &Settings, i: usize) -> String {
    format!("{}bench.pt.{i}", settings.kafka.topic_prefix)
}

const CONTACT_LINES: &[&str] = &[
    "Hi, my order 55120 has not arrived yet and the tracking page shows nothing",
    "It was supposed to be here on Monday, I paid EUR 640 for it",
    "Can you check again please? I need it for a birthday on Saturday",
    "ok thanks, and when will the refund be processed if it is lost?",
    "I changed my delivery address last week, did that go through?",
    "Great, that helps. What about the second parcel from the same order?",
    "My invoice shows a charge twice for the same subscription",
    "How do I reset the password for the admin account of our team?",
];
const AGENT_LINES: &[&str] = &[
    "I understand. Let me look at your order status for you.",
    "The parcel is with the courier and should arrive within two working days.",
    "I have asked the warehouse; they confirm it left on 18 November.",
    "You can change the address under Settings > Delivery until the parcel ships.",
    "Refunds for lost parcels are issued within 5 working days of the claim.",
];

/// A realistic mixed conversation. Roughly one in four escalates, for different reasons:
/// an explicit request, the agent's `transfer_to_human` tool call, a legal threat; the rest
/// are ordinary order, billing and account questions.
fn conversation(
    run: &str,
    c: usize,
    turns: usize,
    start: chrono::DateTime<chrono::Utc>,
) -> Vec<ConversationEvent> {
    let cid = format!("{run}-c{c}");
    let trigger_turn = turns.saturating_sub(3).max(1);
    (0..turns)
        .map(|i| {
            let contact = i % 2 == 0;
            let line = (c + i / 2) % CONTACT_LINES.len();
            let mut agent = (!contact).then(|| AgentTurn {
                confidence: Some(0.82),
                intent: Some(if line == 6 { "billing" } else { "orders" }.into()),
                sub_intent: Some("status".into()),
                ..Default::default()
            });
            let text = match (c % 12, contact) {
                (0, true) if i == trigger_turn - 1 => {
                    "this is useless, can I talk to a person please".to_string()
                }
                (4, true) if i == trigger_turn - 1 => {
                    "If this is not fixed today I will contact my lawyer".to_string()
                }
                (8, false) if i == trigger_turn => {
                    if let Some(a) = agent.as_mut() {
                        a.tool_calls.push(ToolCall {
                            name: "transfer_to_human".into(),
                            arguments: "{\"reason\":\"refund approval over limit\"}".into(),
                        });
                        a.confidence = Some(0.41);
                    }
                    "Refunds over 500 EUR need a colleague to approve, I am transferring you."
                        .to_string()
                }
                (_, true) => CONTACT_LINES[line].to_string(),
                (_, false) => AGENT_LINES[(c + i) % AGENT_LINES.len()].to_string(),
            };
            ConversationEvent {
                event_id: format!("{cid}-{i}"),
                conversation_id: cid.clone(),
                tenant_id: "acme".into(),
                occurred_at: start + chrono::Duration::seconds(i as i64 * 15),
                channel: if c.is_multiple_of(3) {
                    "whatsapp"
                } else {
                    "web"
                }
                .into(),
                actor: if contact {
                    Actor::Contact
                } else {
                    Actor::Agent
                },
                text,
                language: None,
                agent,
                contact: (i == 0).then(|| Contact {
                    contact_id: Some(format!("p-{c}")),
                    name: Some("Ana Ruiz".into()),
                    email: Some(format!("ana{c}@example.com")),
                    account_id: Some(format!("A-{}", c % 977)),
                    plan: Some(
                        if c.is_multiple_of(5) {
                            "enterprise"
                        } else {
                            "growth"
                        }
                        .into(),
                    ),
                    ..Default::default()
                }),
                entry: None,
                attributes: Default::default(),
            }
        })
        .collect()
}

/// Conversations run concurrently in groups of `group`, turns interleaved within a group, so
/// escalations are spread over the whole run.
fn workload(run: &str, conversations: usize, turns: usize) -> Vec<ConversationEvent> {
    let start = chrono::Utc::now();
    let group = 200;
    let mut out = Vec::with_capacity(conversations * turns);
    for g in (0..conversations).step_by(group) {
        let convs: Vec<Vec<ConversationEvent>> = (g..(g + group).min(conversations))
            .map(|c| conversation(run, c, turns, start))
            .collect();
        for i in 0..turns {
            for conv in &convs {
                out.push(conv[i].clone());
            }
        }
    }
    out
}

fn sentinel(run: &str, name: &str) -> ConversationEvent {
    ConversationEvent {
        event_id: format!("{run}-{name}-0"),
        conversation_id: format!("{run}-{name}"),
        tenant_id: "acme".into(),
        occurred_at: chrono::Utc::now(),
        channel: "web".into(),
        actor: Actor::Contact,
        text: "can I talk to a person please".into(),
        language: None,
        agent: None,
        contact: None,
        entry: None,
        attributes: Default::default(),
    }
}

#[derive(Debug, Serialize)]
pub struct Percentiles {
    pub n: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

fn percentiles(mut v: Vec<f64>) -> Percentiles {
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| {
        if v.is_empty() {
            return f64::NAN;
        }
        let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        (v[i] * 10.0).round() / 10.0
    };
    Percentiles {
        n: v.len(),
        p50_ms: at(0.50),
        p90_ms: at(0.90),
        p99_ms: at(0.99),
        max_ms: at(1.0),
    }
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub label: String,
    pub mode: Mode,
    pub hops: usize,
    pub conversations: usize,
    pub events: usize,
    pub target_rate: f64,
    pub offered_rate: f64,
    pub expected: usize,
    pub arrived: usize,
    pub seconds: f64,
    pub events_per_s: f64,
    pub latency: Percentiles,
}

/// One run; see the module doc.
pub async fn run(settings: &Settings, args: LoadArgs) -> anyhow::Result<()> {
    let rt = Runtime::new(settings.clone())?;
    let topics = settings.topics();
    let run_id = format!("L{}", chrono::Utc::now().format("%H%M%S%3f"));
    let partitions = settings.kafka.partitions.max(1);

    // The records, in send order: the workload, then (pipeline) one sentinel per partition.
    let events = workload(&run_id, args.conversations, args.turns);
    let n = events.len();
    let mut all: Vec<(ConversationEvent, Option<i32>)> =
        events.into_iter().map(|e| (e, None)).collect();
    if args.mode == Mode::Pipeline {
        for p in 0..partitions {
            all.push((sentinel(&run_id, &format!("sentinel{p}")), Some(p)));
        }
    }
    let warmup = sentinel(&run_id, "warmup");

    // What must arrive: seq numbers, and for the pipeline the trigger event -> seq map.
    let seq_of: HashMap<String, usize> = all
        .iter()
        .enumerate()
        .map(|(i, (e, _))| (e.event_id.clone(), i))
        .collect();
    let warm_seq = all.len();
    let expected: Vec<usize> = match args.mode {
        Mode::Passthrough => (0..all.len()).collect(),
        Mode::Pipeline => {
            let policy = handoff_semantic::with_learned_detectors(settings.load_policy()?)?;
            let mut p = Pipeline::new(&policy).without_sla_clock();
            let mut v: Vec<usize> = all
                .iter()
                .flat_map(|(e, _)| p.feed(&ReplayRecord::Event(e.clone())))
                .filter_map(|o| match o {
                    Output::Route(r) => seq_of.get(&r.payload.trigger_event_id).copied(),
                    _ => None,
                })
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        }
    };

    // Topics and encoding, before the clock starts.
    let (in_topic, out_sub) = match args.mode {
        Mode::Pipeline => {
            rt.prepare(&[], &[(topics.events(), ConversationEvent::SCHEMA)], None)
                .await?;
            (topics.events(), topics.team_pattern())
        }
        Mode::Passthrough => {
            let specs: Vec<kafka::TopicSpec<'_>> = (0..=args.hops)
                .map(|i| (passthrough_topic(settings, i), partitions, vec![]))
                .collect();
            kafka::ensure_topics(&settings.kafka, &specs).await?;
            rt.prepare(&[], &[(topics.events(), ConversationEvent::SCHEMA)], None)
                .await?;
            (
                passthrough_topic(settings, 0),
                passthrough_topic(settings, args.hops),
            )
        }
    };
    let encode = |e: &ConversationEvent| {
        let out = Outgoing {
            topic: topics.events(),
            key: e.conversation_id.clone(),
            record: OutRecord::Event(e.clone()),
        };
        let rt = &rt;
        async move { rt.encode(&out).await.map(|b| b.unwrap_or_default()) }
    };
    let mut encoded = Vec::with_capacity(all.len());
    for (e, p) in &all {
        encoded.push((e.conversation_id.clone(), encode(e).await?, *p));
    }
    let warm_bytes = encode(&warmup).await?;
    let bytes_total: usize = encoded.iter().map(|(_, b, _)| b.len()).sum();

    // The reader: every arrival as (seq, instant), on a channel.
    let group = format!("handoff-load-{}", uuid::Uuid::new_v4());
    let mut cc = kafka::consumer_config(&settings.kafka, &group);
    cc.set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "10");
    let consumer: StreamConsumer = cc.create()?;
    consumer.subscribe(&[out_sub.as_str()])?;
    let (arr_tx, mut arr_rx) = mpsc::unbounded_channel::<(usize, Instant)>();
    let mode = args.mode;
    let reader_rt = Runtime::new(settings.clone())?;
    let mut seq_of = seq_of;
    seq_of.insert(warmup.event_id.clone(), warm_seq);
    let reader = tokio::spawn(async move {
        loop {
            let msg = match consumer.recv().await {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("load: consumer error: {e}");
                    continue;
                }
            };
            let at = Instant::now();
            let seq = match mode {
                Mode::Passthrough => msg
                    .headers()
                    .and_then(|h| h.iter().find(|x| x.key == SEQ_HEADER).and_then(|x| x.value))
                    .and_then(|v| std::str::from_utf8(v).ok()?.parse::<usize>().ok()),
                Mode::Pipeline => {
                    match reader_rt.codec.decode::<RoutedHandoff>(msg.payload()).await {
                        Ok(r) => seq_of.get(&r.payload.trigger_event_id).copied(),
                        Err(_) => None,
                    }
                }
            };
            if let Some(s) = seq {
                if arr_tx.send((s, at)).is_err() {
                    return;
                }
            }
        }
    });

    let producer: FutureProducer = kafka::producer_config(&settings.kafka).create()?;
    // Warm-up: one escalating record must come out before the clock starts (every consumer
    // group has joined and every topic is subscribed).
    let warm_deadline = Instant::now() + Duration::from_secs(120);
    send_one(
        &producer,
        &in_topic,
        &warmup.conversation_id,
        &warm_bytes,
        warm_seq,
        None,
    )
    .await?
    .await
    .ok();
    loop {
        let left = warm_deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, arr_rx.recv()).await {
            Ok(Some((s, _))) if s == warm_seq => break,
            Ok(Some(_)) => {}
            _ => bail!("the warm-up record did not come through in 120 s: are the workers/relays running on prefix {:?}?", settings.kafka.topic_prefix),
        }
    }
    eprintln!(
        "load[{}]: warm; sending {} records ({} conversations x {} turns, {:.0} B avg) at {}",
        args.label,
        all.len(),
        args.conversations,
        args.turns,
        bytes_total as f64 / all.len() as f64,
        if args.rate > 0.0 {
            format!("{:.0}/s", args.rate)
        } else {
            "full speed".into()
        }
    );

    // Measured phase: the sender runs as its own task; arrivals are collected here.
    let t0 = Instant::now();
    let sent_at: Arc<Vec<AtomicU64>> =
        Arc::new((0..all.len()).map(|_| AtomicU64::new(u64::MAX)).collect());
    let sent_at_w = sent_at.clone();
    let rate = args.rate;
    let total = all.len();
    let (producer, in_topic) = (&producer, in_topic.as_str());
    // Like an upstream service, the sender keeps a bounded window of unacknowledged records
    // (`kafka.max_in_flight`): "full speed" is as fast as the broker acknowledges, not a burst
    // of everything into the client's queue.
    let window = settings.kafka.max_in_flight.max(1);
    let sender = async move {
        let mut deliveries = std::collections::VecDeque::with_capacity(window + 1);
        let mut failed = 0usize;
        for (i, (key, value, p)) in encoded.iter().enumerate() {
            if deliveries.len() >= window {
                if let Some(d) = deliveries.pop_front() {
                    if !matches!(d.await, Ok(Ok(_))) {
                        failed += 1;
                    }
                }
            }
            if rate > 0.0 {
                let due = t0 + Duration::from_secs_f64(i as f64 / rate);
                let now = Instant::now();
                if due > now + Duration::from_millis(1) {
                    tokio::time::sleep_until(due.into()).await;
                }
            }
            sent_at_w[i].store(t0.elapsed().as_nanos() as u64, Ordering::Release);
            deliveries.push_back(send_one(producer, in_topic, key, value, i, *p).await?);
        }
        let offered = t0.elapsed();
        for d in deliveries {
            if !matches!(d.await, Ok(Ok(_))) {
                failed += 1;
            }
        }
        Ok::<_, KafkaError>((offered, failed))
    };
    let mut want: std::collections::HashSet<usize> = expected.iter().copied().collect();
    let expected_n = want.len();
    let mut latencies = Vec::with_capacity(expected_n);
    let mut last = t0;
    let deadline = t0 + Duration::from_secs(args.timeout);
    let collect = async {
        while !want.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, arr_rx.recv()).await {
                Ok(Some((s, at))) => {
                    if want.remove(&s) {
                        let sent = sent_at[s].load(Ordering::Acquire);
                        if sent != u64::MAX {
                            let lat = at.saturating_duration_since(t0 + Duration::from_nanos(sent));
                            // Sentinels are bookkeeping, not samples.
                            if s < n {
                                latencies.push(lat.as_secs_f64() * 1000.0);
                            }
                        }
                        last = last.max(at);
                    }
                }
                _ => break,
            }
        }
    };
    let (sent, ()) = tokio::join!(sender, collect);
    let (offered, failed) = sent.context("sending")?;
    reader.abort();
    if failed > 0 {
        eprintln!("load[{}]: {failed} sends failed", args.label);
    }
    let arrived = expected_n - want.len();
    let seconds = last.duration_since(t0).as_secs_f64();
    let summary = Summary {
        label: args.label.clone(),
        mode: args.mode,
        hops: if args.mode == Mode::Pipeline {
            3
        } else {
            args.hops
        },
        conversations: args.conversations,
        events: total,
        target_rate: args.rate,
        offered_rate: (total as f64 / offered.as_secs_f64()).round(),
        expected: expected_n,
        arrived,
        seconds: (seconds * 1000.0).round() / 1000.0,
        events_per_s: (total as f64 / seconds).round(),
        latency: percentiles(latencies),
    };
    println!(
        "{:<22} {:>7} events in {:>7.2} s = {:>8.0} ev/s (offered {:>8.0}/s)   latency n={} p50 {:.1} p90 {:.1} p99 {:.1} max {:.1} ms   arrived {}/{}",
        summary.label,
        summary.events,
        summary.seconds,
        summary.events_per_s,
        summary.offered_rate,
        summary.latency.n,
        summary.latency.p50_ms,
        summary.latency.p90_ms,
        summary.latency.p99_ms,
        summary.latency.max_ms,
        arrived,
        expected_n
    );
    if let Some(path) = &args.json {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(f, "{}", serde_json::to_string(&summary)?)?;
    }
    if arrived < expected_n {
        bail!(
            "{} of {} expected records did not arrive within {} s",
            expected_n - arrived,
            expected_n,
            args.timeout
        );
    }
    Ok(())
}

/// Hands one record to the producer (with its `bench.seq` header), waiting while the queue is full.
async fn send_one(
    producer: &FutureProducer,
    topic: &str,
    key: &str,
    value: &[u8],
    seq: usize,
    partition: Option<i32>,
) -> Result<rdkafka::producer::DeliveryFuture, KafkaError> {
    let seq_s = seq.to_string();
    let headers = OwnedHeaders::new().insert(Header {
        key: SEQ_HEADER,
        value: Some(seq_s.as_bytes()),
    });
    let mut record: FutureRecord<'_, str, [u8]> = FutureRecord::to(topic)
        .key(key)
        .payload(value)
        .headers(headers);
    if let Some(p) = partition {
        record = record.partition(p);
    }
    loop {
        match producer.send_result(record) {
            Ok(f) => return Ok(f),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// A bare relay: consume → produce the same key, value and headers to the next topic, with the
/// workers' delivery discipline (bounded in-flight window, offset stored after the ack, in
/// order; auto-commit flushes). No decoding.
pub async fn relay(settings: &Settings, from: &str, to: &str, group: &str) -> anyhow::Result<()> {
    let partitions = settings.kafka.partitions.max(1);
    kafka::ensure_topics(
        &settings.kafka,
        &[
            (from.to_string(), partitions, vec![]),
            (to.to_string(), partitions, vec![]),
        ],
    )
    .await?;
    let consumer: Arc<StreamConsumer> =
        Arc::new(kafka::consumer_config(&settings.kafka, group).create()?);
    consumer.subscribe(&[from])?;
    let producer: FutureProducer = kafka::producer_config(&settings.kafka).create()?;
    let window = settings.kafka.max_in_flight.max(1);
    let (tx, mut rx) = mpsc::channel::<(i32, i64, rdkafka::producer::DeliveryFuture)>(window);
    let storer_consumer = consumer.clone();
    let from_s = from.to_string();
    let storer = tokio::spawn(async move {
        while let Some((p, o, d)) = rx.recv().await {
            match d.await {
                Ok(Ok(_)) => {
                    let _ = storer_consumer.store_offset(&from_s, p, o);
                }
                _ => return Err(anyhow::anyhow!("delivery failed at {from_s}[{p}]@{o}")),
            }
        }
        Ok(())
    });
    eprintln!("relay {from} -> {to} ({group}) started");
    loop {
        let msg = tokio::select! {
            m = consumer.recv() => m?,
            _ = tokio::signal::ctrl_c() => break,
        };
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(to);
        if let Some(k) = msg.key() {
            record = record.key(k);
        }
        if let Some(v) = msg.payload() {
            record = record.payload(v);
        }
        if let Some(h) = msg.headers() {
            record = record.headers(h.detach());
        }
        let fut = loop {
            match producer.send_result(record) {
                Ok(f) => break f,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err((e, _)) => return Err(e.into()),
            }
        };
        if tx.send((msg.partition(), msg.offset(), fut)).await.is_err() {
            break;
        }
    }
    drop(tx);
    storer.await??;
    Ok(())
}
