//! The builder's throughput and the intent classifier's accuracy.
//!
//! `make bench` (or `cargo bench -p handoff-core --bench builder`) first prints the classifier's
//! accuracy on the development data in `../shared/data` (or `$HANDOFF_DATA_DIR`) when it is
//! there, then measures payloads per second per core (criterion runs single-threaded) for
//! 10–20-turn conversations with the built-in composer: with the agent's intent, and with the
//! classifier deciding it. `-- --accuracy-only` skips the timing.
//!
//! Splits are deterministic: within each label every fifth example (in file order) is held out,
//! so the figures are reproducible and comparable between runs.

use chrono::{Duration, TimeZone, Utc};
use criterion::{BatchSize, Criterion, Throughput};
use handoff_core::compose::{Builder, BuilderPolicy};
use handoff_core::classify::examples::{default_examples, parse_csv};
use handoff_core::classify::{holdout_split, IntentClassifier, TrainConfig};
use handoff_core::records::*;
use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

const CONTACT_LINES: &[&str] = &[
    "Hi, I sent back the desk lamp from order 55207 and the refund of EUR 89.90 still hasn't arrived.",
    "The return label was scanned on 9 November and tracking says the warehouse got it on 11 November.",
    "That doesn't really answer it. Has the refund actually been issued?",
    "I paid with my Visa card and my bank says nothing came in since Monday.",
    "You keep giving me the general timeline, not the status of my refund.",
    "My account is A-3381 if that helps, and my email is olivia.brennan@example.com.",
    "I need the money back before 30 November, it was a gift.",
    "Can I talk to a person?",
];
const AGENT_LINES: &[&str] = &[
    "Thanks, Olivia. Once a return reaches our warehouse it is inspected within 3 business days.",
    "I understand the wait is frustrating. Card refunds can take up to 10 business days.",
    "Let me check the status of order 55207 for you.",
    "I can see the return was received. The refund is being processed.",
];

/// A `turns`-turn refund conversation, escalated on its last turn.
fn signal(turns: usize, with_agent_intent: bool) -> StopSignal {
    let start = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap();
    let transcript: Vec<Turn> = (0..turns)
        .map(|i| {
            let contact = i % 2 == 0;
            let text = if contact {
                CONTACT_LINES[(i / 2) % CONTACT_LINES.len()]
            } else {
                AGENT_LINES[(i / 2) % AGENT_LINES.len()]
            };
            Turn {
                event_id: format!("c1-{i}"),
                actor: if contact {
                    Actor::Contact
                } else {
                    Actor::Agent
                },
                text: text.to_string(),
                occurred_at: start + Duration::seconds(i as i64 * 20),
            }
        })
        .collect();
    let last = transcript.last().unwrap().event_id.clone();
    StopSignal {
        signal_id: "sig-1".into(),
        handoff_id: "h-1".into(),
        conversation_id: "c1".into(),
        tenant_id: "acme".into(),
        trigger_event_id: last.clone(),
        decided_at: start,
        policy_version: "bench".into(),
        decision: Decision::Escalate,
        reasons: vec![Reason {
            kind: ReasonKind::ExplicitRequest,
            rule_id: "explicit_request.v1".into(),
            score: 1.0,
            threshold: None,
            evidence_event_id: last,
            evidence_text: "Can I talk to a person?".into(),
        }],
        urgency: Urgency::Normal,
        channel: "web".into(),
        language: Some("en".into()),
        transcript,
        contact: Some(Contact {
            contact_id: Some("p-101".into()),
            name: Some("Olivia Brennan".into()),
            email: Some("olivia.brennan@example.com".into()),
            account_id: Some("A-3381".into()),
            plan: Some("growth".into()),
            ..Default::default()
        }),
        entry: Some(Entry {
            source_url: Some("https://shop.example.com/account/orders/55207".into()),
            ..Default::default()
        }),
        citations: vec![Citation {
            source_id: "kb-15".into(),
            title: "Return and refund timelines".into(),
            url: Some("https://help.example.com/returns/timelines".into()),
            snippet: Some("Returned items are inspected within 3 business days.".into()),
        }],
        sentiment: vec![0.1, -0.2, -0.4, -0.5],
        agent_intent: with_agent_intent.then(|| "billing".to_string()),
        agent_sub_intent: with_agent_intent.then(|| "refund".to_string()),
        agent_intent_confidence: with_agent_intent.then_some(0.72),
    }
}

// ---------------------------------------------------------------- accuracy on the dev data

fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("HANDOFF_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    dir.join("bitext/dev.csv").exists().then_some(dir)
}

fn read_rows(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_csv(&text, &path.display().to_string()).expect("csv")
}

fn read_map(path: &Path) -> HashMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("intent_to_team.json")
}

struct Score {
    label: f64,
    team: f64,
    micros_per_prediction: f64,
    train_ms: f64,
}

fn evaluate(
    train: &[(String, String)],
    test: &[(String, String)],
    team_of: &dyn Fn(&str) -> Option<String>,
    config: &TrainConfig,
) -> Score {
    let t0 = Instant::now();
    let model = IntentClassifier::train_with(train, config);
    let train_ms = t0.elapsed().as_secs_f64() * 1e3;
    let (mut label_ok, mut team_ok, mut team_n) = (0usize, 0usize, 0usize);
    let t1 = Instant::now();
    for (text, gold) in test {
        let p = model.predict(text);
        label_ok += usize::from(p.label == *gold);
        if let (Some(g), Some(t)) = (team_of(gold), team_of(&p.label)) {
            team_n += 1;
            team_ok += usize::from(g == t);
        }
    }
    let micros = t1.elapsed().as_secs_f64() * 1e6 / test.len().max(1) as f64;
    Score {
        label: label_ok as f64 / test.len().max(1) as f64,
        team: team_ok as f64 / team_n.max(1) as f64,
        micros_per_prediction: micros,
        train_ms,
    }
}

/// Which Bitext team each label of the default example set belongs to (labels with no Bitext
/// counterpart map to nothing and are not scored).
fn default_label_to_bitext_team(label: &str) -> Option<&'static str> {
    let intent = label.split('/').next().unwrap_or(label);
    Some(match (intent, label) {
        (_, "technical/login") => "account",
        (_, "general/human_agent" | "general/contact_info") => "human_handoff",
        (_, "general/complaint") => "feedback_complaints",
        (_, "orders/return") => "billing_payments",
        ("billing", _) => "billing_payments",
        ("orders", _) => "orders_shipping",
        ("account", _) => "account",
        _ => return None,
    })
}

fn accuracy_report(dir: &Path) {
    println!(
        "== intent classifier accuracy on {} (development splits)",
        dir.display()
    );
    let config = TrainConfig::default();
    let bitext = read_rows(&dir.join("bitext/dev.csv"));
    let bitext_team = read_map(&dir.join("bitext/intent_to_team.json"));
    let banking = read_rows(&dir.join("banking77/train.csv"));
    let banking_team = read_map(&dir.join("banking77/intent_to_team.json"));

    let (tr, te) = holdout_split(&bitext);
    let s = evaluate(&tr, &te, &|l| bitext_team.get(l).cloned(), &config);
    println!(
        "bitext    80/20  train {:>5} test {:>4}  intent acc {:.3}  team acc {:.3}  ({:.0} ms to train, {:.1} µs/prediction)",
        tr.len(), te.len(), s.label, s.team, s.train_ms, s.micros_per_prediction
    );
    let big = TrainConfig {
        hash_bits: 18,
        ..config.clone()
    };
    let (tr, te) = holdout_split(&banking);
    let s = evaluate(&tr, &te, &|l| banking_team.get(l).cloned(), &big);
    println!(
        "banking77 80/20  train {:>5} test {:>4}  intent acc {:.3}  team acc {:.3}  ({:.0} ms to train, {:.1} µs/prediction)",
        tr.len(), te.len(), s.label, s.team, s.train_ms, s.micros_per_prediction
    );

    // Cross-check: train on one data set's teams, score the other's on the teams they share.
    let teams =
        |rows: &[(String, String)], map: &HashMap<String, String>| -> Vec<(String, String)> {
            rows.iter()
                .filter_map(|(t, l)| map.get(l).map(|team| (t.clone(), team.clone())))
                .collect()
        };
    let bitext_teams = teams(&bitext, &bitext_team);
    let banking_teams = teams(&banking, &banking_team);
    for (name, train, test) in [
        ("bitext -> banking77", &bitext_teams, &banking_teams),
        ("banking77 -> bitext", &banking_teams, &bitext_teams),
    ] {
        let known: std::collections::HashSet<&str> =
            train.iter().map(|(_, l)| l.as_str()).collect();
        let test: Vec<(String, String)> = test
            .iter()
            .filter(|(_, l)| known.contains(l.as_str()))
            .cloned()
            .collect();
        let s = evaluate(train, &test, &|l| Some(l.to_string()), &config);
        println!(
            "cross     {name:<20} team acc {:.3} on the {} examples of shared teams",
            s.team,
            test.len()
        );
    }

    // The shipped default example set, scored on Bitext's teams.
    let defaults = default_examples();
    let scored: Vec<(String, String)> = bitext
        .iter()
        .filter_map(|(t, l)| bitext_team.get(l).map(|team| (t.clone(), team.clone())))
        .collect();
    let model = IntentClassifier::train(&defaults);
    let (mut ok, mut n) = (0, 0);
    let mut confusion: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (text, gold) in &scored {
        let p = model.predict(text);
        let Some(team) = default_label_to_bitext_team(&p.label) else {
            *confusion
                .entry((gold.clone(), p.label.clone()))
                .or_default() += 1;
            n += 1;
            continue;
        };
        n += 1;
        if team == gold {
            ok += 1;
        } else {
            *confusion
                .entry((gold.clone(), p.label.clone()))
                .or_default() += 1;
        }
    }
    println!(
        "default   built-in set ({} examples) -> bitext teams: acc {:.3} on {} examples",
        defaults.len(),
        ok as f64 / n.max(1) as f64,
        n
    );
    let mut worst: Vec<_> = confusion.into_iter().collect();
    worst.sort_by_key(|w| std::cmp::Reverse(w.1));
    for ((gold, got), count) in worst.iter().take(5) {
        println!("          most confused: {gold} predicted as {got} x{count}");
    }
}

// ---------------------------------------------------------------- throughput

fn throughput(c: &mut Criterion) {
    let builder = Builder::new(&BuilderPolicy::default()).expect("builder");
    let mut g = c.benchmark_group("builder");
    g.throughput(Throughput::Elements(1));
    for turns in [10usize, 16, 20] {
        let s = signal(turns, true);
        g.bench_function(format!("payload_{turns}_turns_agent_intent"), |b| {
            b.iter(|| black_box(builder.build(black_box(&s))))
        });
    }
    let s = signal(16, false);
    g.bench_function("payload_16_turns_classified", |b| {
        b.iter(|| black_box(builder.build(black_box(&s))))
    });
    g.bench_function("entities_8_contact_4_agent_lines", |b| {
        b.iter(|| {
            for l in CONTACT_LINES.iter().chain(AGENT_LINES) {
                black_box(handoff_core::compose::entities::extract(black_box(l)));
            }
        })
    });
    g.bench_function("explicit_request_12_lines", |b| {
        b.iter(|| {
            for l in CONTACT_LINES.iter().chain(AGENT_LINES) {
                black_box(handoff_core::detect::is_explicit_request(black_box(l)));
            }
        })
    });
    let classifier = builder.classifier().expect("classifier").clone();
    let text: Vec<&str> = CONTACT_LINES.to_vec();
    g.bench_function("classifier_predict_8_contact_turns", |b| {
        b.iter(|| black_box(classifier.predict_parts(black_box(&text))))
    });
    g.bench_function("classifier_train_default_set", |b| {
        let ex = default_examples();
        b.iter_batched(
            || ex.clone(),
            |ex| black_box(IntentClassifier::train(&ex)),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// The `--loop` body, a symbol of its own for `valgrind --tool=callgrind
/// --toggle-collect=builder::profiled_loop`.
#[inline(never)]
fn profiled_loop(builder: &Builder, s: &StopSignal, n: usize) {
    for _ in 0..n {
        black_box(builder.build(black_box(s)));
    }
}

fn main() {
    // `-- --loop N [--classify] [--turns T]`: build N payloads and exit (for a profiler).
    let args: Vec<String> = std::env::args().collect();
    if let Some(n) = args
        .iter()
        .position(|a| a == "--loop")
        .and_then(|i| args.get(i + 1))
    {
        let builder = Builder::new(&BuilderPolicy::default()).expect("builder");
        let turns = args
            .iter()
            .position(|a| a == "--turns")
            .and_then(|i| args.get(i + 1))
            .map_or(16, |t| t.parse().expect("--turns N"));
        let s = signal(turns, !args.iter().any(|a| a == "--classify"));
        // One build first: the lazily compiled patterns are not part of the figure.
        black_box(builder.build(&s));
        let n: usize = n.parse().expect("--loop N");
        let t = Instant::now();
        profiled_loop(&builder, &s, n);
        let per = t.elapsed().as_secs_f64() / n as f64;
        println!("{:.1} µs/payload, {:.0} payloads/s", per * 1e6, 1.0 / per);
        return;
    }
    let accuracy_only = std::env::args().any(|a| a == "--accuracy-only");
    match data_dir() {
        Some(dir) => accuracy_report(&dir),
        None => println!("(no ../shared/data: skipping the classifier accuracy report)"),
    }
    if accuracy_only {
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    throughput(&mut c);
    c.final_summary();
}
