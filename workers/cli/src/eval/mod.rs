//! `handoff eval`: replays labelled public data through the same detector code as the workers
//! (`handoff_core::detect::step` with the loaded policy; whole conversations through the whole
//! pipeline for the multi-turn set) and reports, per stop reason and
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
//!   on `are_you_a_bot` and `make_call` reported apart) and Banking77 (all negative); a
//!   `typos` variant repeats Bitext's positives with deterministic character noise.
//! - `sentiment`: hostile-sentiment false fires on iSarcasmEval's sarcastic texts and more.
//! - `out_of_scope`: the built-in topic list on support text and CLINC150 per domain.
//! - `out_of_scope_domain`: out of scope given the tenant's domain by examples (CLINC150).
//! - `routing`: the intent classifier's team accuracy.
//! - `multiturn`: the multi-turn set (`eval/multiturn/`), whole conversations through the whole
//!   pipeline exactly as `handoff replay` runs them.

use anyhow::{bail, Context};
use handoff_core::detect::{self, Clock, DetectorOutput, Input};
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

mod data;
mod domain;
mod explicit;
mod multiturn;
mod out_of_scope;
mod routing;
mod runner;
mod sentiment;

pub use data::*;
pub use domain::*;
pub use explicit::*;
pub use multiturn::*;
pub use out_of_scope::*;
pub use routing::*;
pub use runner::*;
pub use sentiment::*;

// ---------------------------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------------------------

/// What the report is built from.
pub struct EvalInput<'a> {
    /// The public data sets' directory.
    pub data: &'a Path,
    /// The multi-turn set's directory.
    pub multiturn: &'a Path,
    pub policy: &'a Policy,
    /// The text `policy` was loaded from (sections derive policies from it).
    pub policy_source: &'a PolicySource,
    /// How many misclassified examples to keep per data set and kind.
    pub errors: usize,
    /// Only these sections (by name); all when empty.
    pub only: &'a [String],
}

type SectionFn = fn(&EvalInput) -> anyhow::Result<Section>;

/// Every section by name, in report order, and whether it reads the public data directory.
/// Add new sections here.
pub const SECTIONS: &[(&str, bool, SectionFn)] = &[
    ("explicit_request", true, explicit_request_section),
    ("sentiment", true, sentiment_section),
    ("out_of_scope", true, out_of_scope_section),
    ("out_of_scope_domain", true, domain_out_of_scope_section),
    ("routing", true, routing_section),
    ("multiturn", false, multiturn_section),
];

fn selected<'s>(input: &EvalInput) -> anyhow::Result<Vec<&'s (&'static str, bool, SectionFn)>> {
    for name in input.only {
        if !SECTIONS.iter().any(|(n, _, _)| n == name) {
            let known: Vec<&str> = SECTIONS.iter().map(|(n, _, _)| *n).collect();
            bail!("no section {name:?} (sections: {})", known.join(", "));
        }
    }
    Ok(SECTIONS
        .iter()
        .filter(|(name, _, _)| input.only.is_empty() || input.only.iter().any(|o| o == name))
        .collect())
}

/// The selected sections, in report order.
pub fn sections(input: &EvalInput) -> anyhow::Result<Vec<Section>> {
    selected(input)?
        .into_iter()
        .map(|(_, _, section)| section(input))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

pub fn build_report(input: &EvalInput) -> anyhow::Result<Report> {
    let needs_data = selected(input)?.iter().any(|(_, public, _)| *public);
    if needs_data && !input.data.is_dir() {
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
pub fn run(input: &EvalInput, json: bool) -> anyhow::Result<()> {
    let report = build_report(input)?;
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
            multiturn: Path::new("/nonexistent/handoff-eval-multiturn"),
            policy: &policy,
            policy_source: &PolicySource::builtin(),
            errors: 0,
            only: &[],
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
