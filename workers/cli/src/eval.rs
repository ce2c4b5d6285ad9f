//! `handoff eval`: replays labelled public data through the same detector code as the workers
//! (`handoff_core::detect::on_event` with the loaded policy) and reports, per stop reason and
//! dataset, precision, recall and a confusion table.
//!
//! The report is a list of [`Section`]s, one per thing evaluated; each holds aligned text
//! [`Table`]s for people and flat [`Metric`]s for machines (`--json`). A section is a function
//! from the data directory and the policy to a `Section`: add one to [`sections`].
//!
//! Sections so far:
//! - `explicit_request`: every utterance becomes one contact turn of a fresh conversation; a
//!   prediction is positive when the detector escalates with a reason of kind
//!   `ExplicitRequest`. Bitext (`handoff_label = explicit_human_request` positive, everything else
//!   negative, `contact_channel_request` reported apart), CLINC150 (all negative; false positives
//!   on `are_you_a_bot` and `make_call` reported apart) and Banking77 (all negative).

use anyhow::{bail, Context};
use handoff_core::detect::{on_event, ConversationState, DetectorOutput};
use handoff_core::records::{ConversationEvent, Decision, ReasonKind};
use handoff_core::Policy;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The whole evaluation.
#[derive(Debug, Serialize)]
pub struct Report {
    pub data_dir: String,
    pub policy_version: String,
    pub sections: Vec<Section>,
}

/// One thing evaluated (a stop reason, routing, ...).
#[derive(Debug, Serialize)]
pub struct Section {
    /// Short machine name, e.g. `explicit_request`.
    pub name: String,
    /// One line saying what is measured and how.
    pub title: String,
    pub tables: Vec<Table>,
    /// Free lines printed after the tables.
    pub notes: Vec<String>,
    pub metrics: Vec<Metric>,
    /// Misclassified examples, when asked for with `--errors N`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorExample>,
}

/// One figure, flat, for `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Metric {
    pub dataset: String,
    pub name: String,
    /// `None` when undefined (precision with no positive prediction).
    pub value: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorExample {
    pub dataset: String,
    /// `FP` or `FN` (or a section's own kind).
    pub kind: String,
    /// The source label (intent, category) of the example.
    pub label: String,
    pub text: String,
}

/// A text table: a title, column names and rows, printed with aligned columns.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(title: impl Into<String>, columns: &[&str]) -> Table {
        Table {
            title: title.into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as aligned text: the first column left-aligned, the others right-aligned.
    pub fn render(&self) -> String {
        let ncols = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.columns.len()])
            .max()
            .unwrap_or(0);
        let mut widths = vec![0; ncols];
        for row in std::iter::once(&self.columns).chain(&self.rows) {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = cells.get(i).map(String::as_str).unwrap_or("");
                if i == 0 {
                    let _ = write!(s, "{cell:<width$}");
                } else {
                    let _ = write!(s, "  {cell:>width$}");
                }
            }
            s.trim_end().to_string()
        };
        let mut out = String::new();
        if !self.title.is_empty() {
            out.push_str(&self.title);
            out.push('\n');
        }
        out.push_str(&line(&self.columns));
        out.push('\n');
        let total: usize = widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
        out.push_str(&"-".repeat(total));
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row));
            out.push('\n');
        }
        out
    }
}

/// Counts of a binary decision against gold labels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Confusion {
    pub tp: usize,
    pub fp: usize,
    #[serde(rename = "fn")]
    pub fn_: usize,
    pub tn: usize,
}

impl Confusion {
    pub fn add(&mut self, gold: bool, predicted: bool) {
        match (gold, predicted) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (true, false) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }

    pub fn n(&self) -> usize {
        self.tp + self.fp + self.fn_ + self.tn
    }

    fn ratio(num: usize, den: usize) -> Option<f64> {
        (den > 0).then(|| num as f64 / den as f64)
    }

    pub fn precision(&self) -> Option<f64> {
        Self::ratio(self.tp, self.tp + self.fp)
    }

    pub fn recall(&self) -> Option<f64> {
        Self::ratio(self.tp, self.tp + self.fn_)
    }

    pub fn f1(&self) -> Option<f64> {
        match (self.precision(), self.recall()) {
            (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
            (Some(_), Some(_)) => Some(0.0),
            _ => None,
        }
    }

    /// False positives among the gold negatives.
    pub fn fp_rate(&self) -> Option<f64> {
        Self::ratio(self.fp, self.fp + self.tn)
    }

    /// The 2×2 table: rows gold, columns predicted.
    pub fn table(&self, title: impl Into<String>, what: &str) -> Table {
        let mut t = Table::new(title, &["gold \\ predicted", what, &format!("not {what}")]);
        t.row(vec![
            what.to_string(),
            self.tp.to_string(),
            self.fn_.to_string(),
        ]);
        t.row(vec![
            format!("not {what}"),
            self.fp.to_string(),
            self.tn.to_string(),
        ]);
        t
    }

    /// Metrics named `n`, `tp`, `fp`, `fn`, `tn`, `precision`, `recall`, `f1`, `fp_rate`.
    pub fn metrics(&self, dataset: &str) -> Vec<Metric> {
        let m = |name: &str, value: Option<f64>| Metric {
            dataset: dataset.to_string(),
            name: name.to_string(),
            value,
        };
        vec![
            m("n", Some(self.n() as f64)),
            m("tp", Some(self.tp as f64)),
            m("fp", Some(self.fp as f64)),
            m("fn", Some(self.fn_ as f64)),
            m("tn", Some(self.tn as f64)),
            m("precision", self.precision()),
            m("recall", self.recall()),
            m("f1", self.f1()),
            m("fp_rate", self.fp_rate()),
        ]
    }
}

/// A ratio for a table cell: three decimals, or `n/a` when undefined.
pub fn fmt_ratio(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_string(), |v| format!("{v:.3}"))
}

/// A small rate for a table cell, as a percentage with three decimals, or `n/a`.
pub fn fmt_percent(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_string(), |v| format!("{:.3}%", v * 100.0))
}

// ---------------------------------------------------------------------------------------------
// Data sets
// ---------------------------------------------------------------------------------------------

/// The path of a data file, or an error naming it.
pub fn data_file(data: &Path, relative: &str) -> anyhow::Result<PathBuf> {
    let path = data.join(relative);
    if !path.is_file() {
        bail!(
            "evaluation data file {} not found (expected under the data directory {})",
            path.display(),
            data.display()
        );
    }
    Ok(path)
}

/// One row of Bitext `bitext/dev.csv`. `category`, `team` and `tags` serve sections to come
/// (routing).
#[derive(Debug, Clone, Deserialize)]
#[allow(dead_code)]
pub struct BitextRow {
    pub instruction: String,
    pub intent: String,
    pub category: String,
    pub team: String,
    pub handoff_label: String,
    #[serde(default)]
    pub tags: String,
}

pub fn read_bitext<R: std::io::Read>(reader: R, origin: &str) -> anyhow::Result<Vec<BitextRow>> {
    csv::Reader::from_reader(reader)
        .deserialize()
        .enumerate()
        .map(|(i, r)| r.with_context(|| format!("{origin}: record {}", i + 1)))
        .collect()
}

pub fn load_bitext(data: &Path) -> anyhow::Result<Vec<BitextRow>> {
    let path = data_file(data, "bitext/dev.csv")?;
    let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    read_bitext(file, &path.display().to_string())
}

/// A text with its source label (intent or category).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledText {
    pub text: String,
    pub label: String,
}

/// Banking77 `banking77/train.csv` (`text,category`).
pub fn read_banking77<R: std::io::Read>(
    reader: R,
    origin: &str,
) -> anyhow::Result<Vec<LabelledText>> {
    #[derive(Deserialize)]
    struct Row {
        text: String,
        category: String,
    }
    csv::Reader::from_reader(reader)
        .deserialize::<Row>()
        .enumerate()
        .map(|(i, r)| {
            let r = r.with_context(|| format!("{origin}: record {}", i + 1))?;
            Ok(LabelledText {
                text: r.text,
                label: r.category,
            })
        })
        .collect()
}

pub fn load_banking77(data: &Path) -> anyhow::Result<Vec<LabelledText>> {
    let path = data_file(data, "banking77/train.csv")?;
    let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    read_banking77(file, &path.display().to_string())
}

/// CLINC150 `clinc150/data_full_train_val.json`: splits of `[text, intent]` pairs, all splits
/// together.
pub fn read_clinc<R: std::io::Read>(reader: R, origin: &str) -> anyhow::Result<Vec<LabelledText>> {
    let splits: BTreeMap<String, Vec<(String, String)>> =
        serde_json::from_reader(reader).with_context(|| format!("parsing {origin}"))?;
    Ok(splits
        .into_values()
        .flatten()
        .map(|(text, label)| LabelledText { text, label })
        .collect())
}

pub fn load_clinc(data: &Path) -> anyhow::Result<Vec<LabelledText>> {
    let path = data_file(data, "clinc150/data_full_train_val.json")?;
    let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    read_clinc(std::io::BufReader::new(file), &path.display().to_string())
}

// ---------------------------------------------------------------------------------------------
// Running the detector
// ---------------------------------------------------------------------------------------------

/// Runs single contact turns through the detector, each in a fresh conversation.
pub struct TurnRunner<'a> {
    policy: &'a Policy,
    template: ConversationEvent,
    next: usize,
}

impl<'a> TurnRunner<'a> {
    pub fn new(policy: &'a Policy) -> TurnRunner<'a> {
        // Built from the replay JSON form, so fields added to the record later take their
        // defaults here too. A weekday morning, in case a rule looks at working hours.
        let template: ConversationEvent = serde_json::from_value(serde_json::json!({
            "event_id": "eval-0-1",
            "conversation_id": "eval-0",
            "tenant_id": "eval",
            "occurred_at": "2026-11-23T10:00:00Z",
            "channel": "web",
            "actor": "contact",
            "text": "",
        }))
        .expect("the evaluation event template is a valid ConversationEvent");
        TurnRunner {
            policy,
            template,
            next: 0,
        }
    }

    /// The reasons of the escalation the turn causes, empty when it causes none.
    pub fn escalation_reasons(&mut self, text: &str) -> Vec<ReasonKind> {
        self.next += 1;
        let conversation_id = format!("eval-{}", self.next);
        let mut event = self.template.clone();
        event.event_id = format!("{conversation_id}-1");
        event.conversation_id.clone_from(&conversation_id);
        event.text = text.to_string();
        let mut state = ConversationState::new(&conversation_id);
        on_event(&mut state, &event, self.policy, event.occurred_at)
            .into_iter()
            .filter_map(|o| match o {
                DetectorOutput::Signal(s) if s.decision == Decision::Escalate => Some(s.reasons),
                _ => None,
            })
            .flatten()
            .map(|r| r.kind)
            .collect()
    }

    /// Whether the turn escalates with an explicit-request reason.
    pub fn escalates_for(&mut self, text: &str, kind: ReasonKind) -> bool {
        self.escalation_reasons(text).contains(&kind)
    }
}

/// A labelled sample of a binary evaluation.
#[derive(Debug, Clone)]
pub struct Sample {
    pub text: String,
    pub gold: bool,
    /// The source label, used to break results down (intent, category).
    pub label: String,
}

/// The outcome of a binary evaluation over one data set.
#[derive(Debug, Clone, Default)]
pub struct BinaryOutcome {
    pub confusion: Confusion,
    /// Positive predictions per source label.
    pub predicted_by_label: BTreeMap<String, usize>,
    /// Samples per source label.
    pub total_by_label: BTreeMap<String, usize>,
    /// False positives, then false negatives, as (label, text), at most `keep_errors` of each.
    pub false_positives: Vec<(String, String)>,
    pub false_negatives: Vec<(String, String)>,
}

/// Runs every sample through `predict` and counts.
pub fn evaluate_binary(
    samples: &[Sample],
    keep_errors: usize,
    mut predict: impl FnMut(&str) -> bool,
) -> BinaryOutcome {
    let mut out = BinaryOutcome::default();
    for s in samples {
        let predicted = predict(&s.text);
        out.confusion.add(s.gold, predicted);
        *out.total_by_label.entry(s.label.clone()).or_default() += 1;
        if predicted {
            *out.predicted_by_label.entry(s.label.clone()).or_default() += 1;
        }
        let errors = match (s.gold, predicted) {
            (false, true) => &mut out.false_positives,
            (true, false) => &mut out.false_negatives,
            _ => continue,
        };
        if errors.len() < keep_errors {
            errors.push((s.label.clone(), s.text.clone()));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------------------------

/// What the report is built from.
pub struct EvalInput<'a> {
    pub data: &'a Path,
    pub policy: &'a Policy,
    /// How many misclassified examples to keep per data set and kind.
    pub errors: usize,
}

/// Every section, in report order. Add new sections here.
pub fn sections(input: &EvalInput) -> anyhow::Result<Vec<Section>> {
    Ok(vec![
        explicit_request_section(input)?,
        sentiment_section(input)?,
        out_of_scope_section(input)?,
        routing_section(input)?,
    ])
}

/// Out of scope (contact side): how often a single turn escalates as out of scope, on support
/// text (Bitext, Banking77: every fire is a false one) and on CLINC150 per domain. CLINC's
/// domains are a personal assistant's: weather, recipes, jokes and trivia are unrelated to a
/// support desk, while its banking and credit-card intents are a bank's support requests, so
/// its rates are shown per domain rather than scored.
pub fn out_of_scope_section(input: &EvalInput) -> anyhow::Result<Section> {
    let bitext: Vec<Sample> = load_bitext(input.data)?
        .into_iter()
        .map(|r| Sample {
            text: r.instruction,
            gold: false,
            label: r.intent,
        })
        .collect();
    let banking = negatives(load_banking77(input.data)?);
    let domains_path = data_file(input.data, "clinc150/domains.json")?;
    let domains: BTreeMap<String, Vec<String>> = serde_json::from_str(
        &std::fs::read_to_string(&domains_path)
            .with_context(|| format!("reading {}", domains_path.display()))?,
    )
    .with_context(|| format!("parsing {}", domains_path.display()))?;
    let domain_of: BTreeMap<&str, &str> = domains
        .iter()
        .flat_map(|(d, intents)| intents.iter().map(move |i| (i.as_str(), d.as_str())))
        .collect();
    let mut clinc: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    for row in load_clinc(input.data)? {
        let domain = domain_of
            .get(row.label.as_str())
            .copied()
            .unwrap_or(row.label.as_str());
        clinc
            .entry(format!("clinc150 {domain}"))
            .or_default()
            .push(Sample {
                text: row.text,
                gold: false,
                label: row.label,
            });
    }
    let mut section = Section {
        name: "out_of_scope".into(),
        title: format!(
            "Out of scope, contact side (rule {}, topics {}): share of single turns that escalate as out of scope",
            input.policy.rules.out_of_scope.base.id,
            input.policy.rules.out_of_scope.topics.join(", ")
        ),
        tables: Vec::new(),
        notes: vec![
            "bitext and banking77 are support requests: every fire there is a false one".into(),
            "clinc150 is a personal assistant's data: its rows show what fires per domain".into(),
        ],
        metrics: Vec::new(),
        errors: Vec::new(),
    };
    let datasets = [
        ("bitext".to_string(), bitext),
        ("banking77".into(), banking),
    ]
    .into_iter()
    .chain(clinc);
    let table = fire_rates(
        input,
        &mut section,
        ReasonKind::OutOfScope,
        datasets,
        FireRateLabels {
            table: "fires",
            rate_column: "rate",
            metric: "fire_rate",
            error_kind: "fired",
        },
    );
    section.tables.push(table);
    Ok(section)
}

/// How [`fire_rates`] names its table, rate column, metric and error examples.
struct FireRateLabels {
    table: &'static str,
    rate_column: &'static str,
    metric: &'static str,
    error_kind: &'static str,
}

/// Single turns of negative-only data sets through the detector: one row per data set of how
/// many escalate with `kind`, a metric per data set, and the firing texts as error examples.
fn fire_rates(
    input: &EvalInput,
    section: &mut Section,
    kind: ReasonKind,
    datasets: impl IntoIterator<Item = (String, Vec<Sample>)>,
    labels: FireRateLabels,
) -> Table {
    let mut table = Table::new(labels.table, &["dataset", "n", "fired", labels.rate_column]);
    let mut runner = TurnRunner::new(input.policy);
    for (name, samples) in datasets {
        let outcome = evaluate_binary(&samples, input.errors, |t| runner.escalates_for(t, kind));
        let c = &outcome.confusion;
        table.row(vec![
            name.clone(),
            c.n().to_string(),
            c.fp.to_string(),
            fmt_percent(c.fp_rate()),
        ]);
        section.metrics.push(Metric {
            dataset: name.clone(),
            name: labels.metric.into(),
            value: c.fp_rate(),
        });
        for (label, text) in outcome.false_positives {
            section.errors.push(ErrorExample {
                dataset: name.clone(),
                kind: labels.error_kind.into(),
                label,
                text,
            });
        }
    }
    table
}

fn read_team_map(data: &Path, relative: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let path = data_file(data, relative)?;
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Routing accuracy: the builder's intent classifier, trained only on the training part of each
/// data set (every fifth example per intent held out), predicts the held-out intents; the data
/// set's intent-to-team map gives the team. Team accuracy is what the router's intent rules get.
pub fn routing_section(input: &EvalInput) -> anyhow::Result<Section> {
    use handoff_core::classify::{IntentClassifier, TrainConfig};
    let bitext: Vec<(String, String)> = load_bitext(input.data)?
        .into_iter()
        .map(|r| (r.instruction, r.intent))
        .collect();
    let banking: Vec<(String, String)> = load_banking77(input.data)?
        .into_iter()
        .map(|r| (r.text, r.label))
        .collect();
    let mut section = Section {
        name: "routing".into(),
        title: "Team accuracy on held-out text: classifier trained on the training part only, intent mapped to team".into(),
        tables: Vec::new(),
        notes: vec!["targets on unseen data: >= 0.97 on Bitext-like text, >= 0.92 on Banking77-like text".into()],
        metrics: Vec::new(),
        errors: Vec::new(),
    };
    let mut summary = Table::new(
        "routing accuracy",
        &["dataset", "train", "test", "intent acc", "team acc"],
    );
    for (name, rows, map_file, bits) in [
        (
            "bitext",
            &bitext,
            "bitext/intent_to_team.json",
            TrainConfig::default().hash_bits,
        ),
        ("banking77", &banking, "banking77/intent_to_team.json", 18),
    ] {
        let team_of = read_team_map(input.data, map_file)?;
        let (train, test) = handoff_core::classify::holdout_split(rows);
        let model = IntentClassifier::train_with(
            &train,
            &TrainConfig {
                hash_bits: bits,
                ..TrainConfig::default()
            },
        );
        let (mut intent_ok, mut team_ok, mut team_n) = (0usize, 0usize, 0usize);
        let mut per_team: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for (text, gold) in &test {
            let p = model.predict(text);
            intent_ok += usize::from(p.label == *gold);
            if let (Some(g), Some(t)) = (team_of.get(gold), team_of.get(&p.label)) {
                team_n += 1;
                let ok = g == t;
                team_ok += usize::from(ok);
                let e = per_team.entry(g.clone()).or_default();
                e.0 += usize::from(ok);
                e.1 += 1;
                if !ok && section.errors.len() < input.errors {
                    section.errors.push(ErrorExample {
                        dataset: name.into(),
                        kind: format!("routed to {t}"),
                        label: g.clone(),
                        text: text.clone(),
                    });
                }
            }
        }
        let intent_acc = intent_ok as f64 / test.len().max(1) as f64;
        let team_acc = team_ok as f64 / team_n.max(1) as f64;
        summary.row(vec![
            name.into(),
            train.len().to_string(),
            test.len().to_string(),
            format!("{intent_acc:.3}"),
            format!("{team_acc:.3}"),
        ]);
        section.metrics.push(Metric {
            dataset: name.into(),
            name: "team_accuracy".into(),
            value: Some(team_acc),
        });
        section.metrics.push(Metric {
            dataset: name.into(),
            name: "intent_accuracy".into(),
            value: Some(intent_acc),
        });
        let mut teams = Table::new(
            format!("{name}: team recall"),
            &["team", "correct", "n", "recall"],
        );
        for (team, (ok, n)) in per_team {
            teams.row(vec![
                team,
                ok.to_string(),
                n.to_string(),
                format!("{:.3}", ok as f64 / n.max(1) as f64),
            ]);
        }
        section.tables.push(teams);
    }
    section.tables.insert(0, summary);
    Ok(section)
}

/// iSarcasmEval: sarcastic tweets, their authors' plain rephrases, and non-sarcastic tweets.
pub fn load_isarcasmeval(data: &Path) -> anyhow::Result<Vec<(String, bool, String)>> {
    #[derive(serde::Deserialize)]
    struct Row {
        tweet: String,
        sarcastic: u8,
        #[serde(default)]
        rephrase: String,
    }
    let path = data_file(data, "isarcasmeval/train.En.csv")?;
    let mut reader =
        csv::Reader::from_path(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for row in reader.deserialize::<Row>() {
        let row = row.with_context(|| format!("parsing {}", path.display()))?;
        out.push((row.tweet, row.sarcastic == 1, row.rephrase));
    }
    Ok(out)
}

/// Sentiment false fires: text that is not hostile must not escalate as hostile. Sarcastic
/// tweets are the trap (negative words, non-hostile meaning); routine support requests are the
/// everyday case. Every text is one contact turn of a fresh conversation through the detector.
pub fn sentiment_section(input: &EvalInput) -> anyhow::Result<Section> {
    let rows = load_isarcasmeval(input.data)?;
    let sarcastic: Vec<Sample> = rows
        .iter()
        .filter(|(_, s, _)| *s)
        .map(|(t, _, _)| Sample {
            text: t.clone(),
            gold: false,
            label: "sarcastic".into(),
        })
        .collect();
    let rephrase: Vec<Sample> = rows
        .iter()
        .filter(|(_, s, r)| *s && !r.trim().is_empty())
        .map(|(_, _, r)| Sample {
            text: r.clone(),
            gold: false,
            label: "rephrase".into(),
        })
        .collect();
    let plain: Vec<Sample> = rows
        .iter()
        .filter(|(_, s, _)| !*s)
        .map(|(t, _, _)| Sample {
            text: t.clone(),
            gold: false,
            label: "non_sarcastic".into(),
        })
        .collect();
    let banking = negatives(load_banking77(input.data)?);
    let mut section = Section {
        name: "sentiment".into(),
        title: format!(
            "Hostile-sentiment false fires (rule {}, one turn at or below {}): non-hostile text escalated as hostile",
            input.policy.rules.sentiment.base.id, input.policy.rules.sentiment.turn_threshold
        ),
        tables: Vec::new(),
        notes: vec![
            "target on unseen data: at most 5% false fires on sarcastic non-hostile text".into(),
            "a sarcastic tweet and its plain rephrase should score alike (both rows are shown)".into(),
        ],
        metrics: Vec::new(),
        errors: Vec::new(),
    };
    let datasets = [
        ("isarcasmeval sarcastic", sarcastic),
        ("isarcasmeval rephrases", rephrase),
        ("isarcasmeval non-sarcastic", plain),
        ("banking77 (routine requests)", banking),
    ]
    .map(|(name, samples)| (name.to_string(), samples));
    let table = fire_rates(
        input,
        &mut section,
        ReasonKind::Sentiment,
        datasets,
        FireRateLabels {
            table: "false fires",
            rate_column: "false-fire rate",
            metric: "false_fire_rate",
            error_kind: "FP",
        },
    );
    section.tables.push(table);
    Ok(section)
}

/// Explicit request for a human: Bitext, CLINC150, Banking77.
pub fn explicit_request_section(input: &EvalInput) -> anyhow::Result<Section> {
    let rule = &input.policy.rules.explicit_request;
    let bitext = load_bitext(input.data)?;
    let clinc = load_clinc(input.data)?;
    let banking = load_banking77(input.data)?;

    let datasets: Vec<(&str, Vec<Sample>)> = vec![
        (
            "bitext",
            bitext
                .into_iter()
                .map(|r| Sample {
                    gold: r.handoff_label == "explicit_human_request",
                    label: if r.handoff_label == "none" {
                        r.intent
                    } else {
                        r.handoff_label
                    },
                    text: r.instruction,
                })
                .collect(),
        ),
        ("clinc150", negatives(clinc)),
        ("banking77", negatives(banking)),
    ];

    let mut runner = TurnRunner::new(input.policy);
    let mut summary = Table::new(
        "",
        &[
            "dataset",
            "n",
            "TP",
            "FP",
            "FN",
            "TN",
            "precision",
            "recall",
            "F1",
            "FP rate",
        ],
    );
    let mut section = Section {
        name: "explicit_request".into(),
        title: format!(
            "explicit request for a human: rule {} ({}); a prediction is an escalation with reason explicit_request",
            rule.id,
            if rule.enabled { "enabled" } else { "disabled" }
        ),
        tables: Vec::new(),
        notes: Vec::new(),
        metrics: Vec::new(),
        errors: Vec::new(),
    };
    let mut confusions = Vec::new();
    for (name, samples) in &datasets {
        let outcome = evaluate_binary(samples, input.errors, |text| {
            runner.escalates_for(text, ReasonKind::ExplicitRequest)
        });
        let c = outcome.confusion;
        summary.row(vec![
            name.to_string(),
            c.n().to_string(),
            c.tp.to_string(),
            c.fp.to_string(),
            c.fn_.to_string(),
            c.tn.to_string(),
            fmt_ratio(c.precision()),
            fmt_ratio(c.recall()),
            fmt_ratio(c.f1()),
            fmt_percent(c.fp_rate()),
        ]);
        section.metrics.extend(c.metrics(name));
        confusions.push(c.table(format!("{name}: rows gold, columns predicted"), "explicit"));

        // Break-downs that matter for this reason.
        let by_label = |label: &str| {
            (
                outcome.predicted_by_label.get(label).copied().unwrap_or(0),
                outcome.total_by_label.get(label).copied().unwrap_or(0),
            )
        };
        let mut breakdown = |label: &str, metric: &str, why: &str| {
            let (fired, total) = by_label(label);
            section.notes.push(format!(
                "{name}: {label}: {fired} of {total} predicted explicit ({why})"
            ));
            section.metrics.push(Metric {
                dataset: name.to_string(),
                name: metric.to_string(),
                value: Some(fired as f64),
            });
            section.metrics.push(Metric {
                dataset: name.to_string(),
                name: format!("{metric}_n"),
                value: Some(total as f64),
            });
        };
        match *name {
            "bitext" => breakdown(
                "contact_channel_request",
                "fp_contact_channel_request",
                "asks for contact hours or channels; by design does not escalate",
            ),
            "clinc150" => {
                breakdown("are_you_a_bot", "fp_are_you_a_bot", "hard negative");
                breakdown("make_call", "fp_make_call", "hard negative");
            }
            _ => {}
        }
        let errors = outcome
            .false_positives
            .into_iter()
            .map(|e| ("FP", e))
            .chain(outcome.false_negatives.into_iter().map(|e| ("FN", e)));
        for (kind, (label, text)) in errors {
            section.errors.push(ErrorExample {
                dataset: name.to_string(),
                kind: kind.into(),
                label,
                text,
            });
        }
    }
    section.tables.push(summary);
    section.tables.extend(confusions);
    Ok(section)
}

fn negatives(rows: Vec<LabelledText>) -> Vec<Sample> {
    rows.into_iter()
        .map(|r| Sample {
            text: r.text,
            gold: false,
            label: r.label,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

pub fn build_report(input: &EvalInput) -> anyhow::Result<Report> {
    if !input.data.is_dir() {
        bail!(
            "evaluation data directory {} not found (pass --data, e.g. --data ../shared/data)",
            input.data.display()
        );
    }
    Ok(Report {
        data_dir: input.data.display().to_string(),
        policy_version: input.policy.version().to_string(),
        sections: sections(input)?,
    })
}

/// The report as text.
pub fn render(report: &Report) -> String {
    let mut out = format!(
        "handoff eval: policy {}, data {}\n",
        report.policy_version, report.data_dir
    );
    for s in &report.sections {
        let _ = write!(out, "\n== {} ==\n{}\n", s.name, s.title);
        for t in &s.tables {
            out.push('\n');
            out.push_str(&t.render());
        }
        if !s.notes.is_empty() {
            out.push('\n');
            for n in &s.notes {
                out.push_str(n);
                out.push('\n');
            }
        }
        if !s.errors.is_empty() {
            out.push_str("\nmisclassified examples:\n");
            for e in &s.errors {
                let _ = writeln!(out, "  {} {} [{}] {}", e.dataset, e.kind, e.label, e.text);
            }
        }
    }
    out
}

/// `handoff eval`.
pub fn run(data: &Path, policy: &Policy, json: bool, errors: usize) -> anyhow::Result<()> {
    let report = build_report(&EvalInput {
        data,
        policy,
        errors,
    })?;
    let text = if json {
        serde_json::to_string_pretty(&report)? + "\n"
    } else {
        render(&report)
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        // `handoff eval | head` is fine.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(rows: &[(&str, bool)]) -> Vec<Sample> {
        rows.iter()
            .map(|(t, g)| Sample {
                text: t.to_string(),
                gold: *g,
                label: if *g { "human".into() } else { "other".into() },
            })
            .collect()
    }

    const TINY: &[(&str, bool)] = &[
        ("can I talk to a person", true),
        ("get me a manager!", true),
        ("human pls", true),
        ("what are your support hours?", false),
        ("are you a bot?", false),
        ("my order arrived broken", false),
        ("no need for a human, thanks", false),
    ];

    #[test]
    fn counts_escalations_with_an_explicit_reason_through_the_detector() {
        let policy = Policy::builtin();
        let mut runner = TurnRunner::new(&policy);
        let out = evaluate_binary(&samples(TINY), 5, |t| {
            runner.escalates_for(t, ReasonKind::ExplicitRequest)
        });
        assert_eq!(
            out.confusion,
            Confusion {
                tp: 3,
                fp: 0,
                fn_: 0,
                tn: 4
            }
        );
        assert_eq!(out.confusion.precision(), Some(1.0));
        assert_eq!(out.confusion.recall(), Some(1.0));
        assert_eq!(out.predicted_by_label.get("human"), Some(&3));
        assert!(out.false_positives.is_empty() && out.false_negatives.is_empty());
    }

    #[test]
    fn a_disabled_rule_predicts_nothing() {
        let mut policy = Policy::builtin();
        policy.rules.explicit_request.enabled = false;
        let mut runner = TurnRunner::new(&policy);
        let out = evaluate_binary(&samples(TINY), 1, |t| {
            runner.escalates_for(t, ReasonKind::ExplicitRequest)
        });
        assert_eq!((out.confusion.tp, out.confusion.fn_), (0, 3));
        assert_eq!(out.confusion.precision(), None);
        assert_eq!(out.confusion.recall(), Some(0.0));
        assert_eq!(
            out.false_negatives.len(),
            1,
            "keeps at most `errors` examples"
        );
    }

    #[test]
    fn confusion_ratios() {
        let mut c = Confusion::default();
        for (g, p) in [
            (true, true),
            (true, false),
            (false, true),
            (false, false),
            (false, false),
        ] {
            c.add(g, p);
        }
        assert_eq!(c.n(), 5);
        assert_eq!(c.precision(), Some(0.5));
        assert_eq!(c.recall(), Some(0.5));
        assert_eq!(c.f1(), Some(0.5));
        assert!((c.fp_rate().unwrap() - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(fmt_ratio(Confusion::default().precision()), "n/a");
        assert_eq!(fmt_percent(Some(0.00027)), "0.027%");
        let t = c.table("t", "explicit");
        assert_eq!(
            t.rows,
            vec![vec!["explicit", "1", "1"], vec!["not explicit", "1", "2"]]
        );
    }

    #[test]
    fn parses_the_data_formats() {
        let bitext = "instruction,intent,category,team,handoff_label,tags\n\
            \"I want to speak to an agent, now\",contact_human_agent,CONTACT,human_handoff,explicit_human_request,BL\n\
            what hours can I call customer service,contact_customer_service,CONTACT,human_handoff,contact_channel_request,BQ\n";
        let rows = read_bitext(bitext.as_bytes(), "inline").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].instruction, "I want to speak to an agent, now");
        assert_eq!(rows[1].handoff_label, "contact_channel_request");

        let banking = "text,category\n\"Where is my card, please?\",card_arrival\n";
        let rows = read_banking77(banking.as_bytes(), "inline").unwrap();
        assert_eq!(rows[0].label, "card_arrival");

        let clinc = r#"{"train": [["are you a bot", "are_you_a_bot"]], "oos_val": [["a show on broadway", "oos"]]}"#;
        let rows = read_clinc(clinc.as_bytes(), "inline").unwrap();
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().any(|r| r.label == "are_you_a_bot"));
    }

    #[test]
    fn a_missing_data_dir_is_an_error_naming_it() {
        let policy = Policy::builtin();
        let err = build_report(&EvalInput {
            data: Path::new("/nonexistent/handoff-eval-data"),
            policy: &policy,
            errors: 0,
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("/nonexistent/handoff-eval-data"), "{err}");
        let dir = std::env::temp_dir();
        let err = data_file(&dir, "bitext/definitely-missing.csv")
            .unwrap_err()
            .to_string();
        assert!(err.contains("definitely-missing.csv"), "{err}");
    }

    #[test]
    fn tables_align() {
        let mut t = Table::new("title", &["dataset", "n"]);
        t.row(vec!["bitext".into(), "1372".into()]);
        t.row(vec!["b".into(), "7".into()]);
        assert_eq!(
            t.render(),
            "title\ndataset     n\n-------------\nbitext   1372\nb           7\n"
        );
    }
}
