//! The multi-turn development set (`eval/multiturn/`, format in its README): whole labelled
//! conversations replayed through the same pure pipeline as `handoff replay` (detector →
//! builder → router, [`Pipeline::step`]), scored per split, language and domain.
//!
//! A conversation is predicted positive when it escalates before any handback (the first
//! `resume` command). Over true positives the first escalation is scored: fired inside the
//! label's `fire_window` (before it is early, after it late), routed to the labelled team, the
//! labelled urgency, and the payload summary carrying the must-mention facts. Conversations with
//! a handback are scored on whether a new escalation follows it.

use super::*;
use handoff_core::pipeline::{Output, Pipeline, Rejected};
use handoff_core::records::{CommandAction, Urgency};
use handoff_core::replay::{read_all, ReplayRecord};

/// One line of `labels*.jsonl`.
#[derive(Debug, Clone, Deserialize)]
pub struct Label {
    pub conversation_id: String,
    pub split: String,
    pub tenant_id: String,
    pub domain: String,
    pub language: String,
    pub escalate: bool,
    #[serde(default)]
    pub fire_event_id: Option<String>,
    #[serde(default)]
    pub fire_window: Vec<String>,
    #[serde(default)]
    pub reasons: Vec<String>,
    #[serde(default)]
    pub team: Option<String>,
    #[serde(default)]
    pub urgency: Option<String>,
    #[serde(default)]
    pub must_mention: Vec<String>,
    #[serde(default)]
    pub must_not: Vec<String>,
    #[serde(default)]
    pub reescalate_after_handback: Option<Reescalation>,
    #[serde(default)]
    pub category: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Reescalation {
    pub expected: bool,
    #[serde(default)]
    pub event_id: Option<String>,
}

/// The set as read from its directory.
pub struct MultiTurnSet {
    /// Labels in conversation-id order, each with its conversation's records.
    pub conversations: Vec<(Label, Vec<ReplayRecord>)>,
    /// `tenants.toml`: the tenants' profiles (`[tenants.<id>]`: name, domain, voice), set on
    /// each tenant's policy as its deployment would.
    pub tenant_profiles: Option<toml::Table>,
    /// `domains/<tenant_id>.csv`: each tenant's in-domain examples.
    pub domain_files: BTreeMap<String, PathBuf>,
}

/// Reads `labels*.jsonl` (one file, or several parts while the set is being written),
/// `conversations/<conversation_id>.jsonl` and `domains/*.csv`. A label without its
/// conversation file is an error naming both.
pub fn load_multiturn(dir: &Path) -> anyhow::Result<MultiTurnSet> {
    let mut label_files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("labels") && n.ends_with(".jsonl"))
        })
        .collect();
    label_files.sort();
    if label_files.is_empty() {
        bail!("no labels*.jsonl in {}", dir.display());
    }
    let mut labels = Vec::new();
    for f in &label_files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let label: Label = serde_json::from_str(line)
                .with_context(|| format!("{}:{}: not a label", f.display(), i + 1))?;
            labels.push(label);
        }
    }
    labels.sort_by(|a, b| a.conversation_id.cmp(&b.conversation_id));
    let mut conversations = Vec::with_capacity(labels.len());
    for label in labels {
        let path = dir
            .join("conversations")
            .join(format!("{}.jsonl", label.conversation_id));
        let file = std::fs::File::open(&path).with_context(|| {
            format!(
                "label {} has no conversation file {}",
                label.conversation_id,
                path.display()
            )
        })?;
        let records = read_all(std::io::BufReader::new(file), &path.display().to_string())?;
        conversations.push((label, records));
    }
    let mut domain_files = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(dir.join("domains")) {
        for p in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if p.extension().is_some_and(|x| x == "csv") {
                if let Some(tenant) = p.file_stem().and_then(|s| s.to_str()) {
                    domain_files.insert(tenant.to_string(), p.clone());
                }
            }
        }
    }
    let profiles = dir.join("tenants.toml");
    let tenant_profiles = match std::fs::read_to_string(&profiles) {
        Ok(text) => Some(
            toml::from_str::<toml::Table>(&text)
                .with_context(|| format!("parsing {}", profiles.display()))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", profiles.display())),
    };
    Ok(MultiTurnSet {
        conversations,
        tenant_profiles,
        domain_files,
    })
}

// ---------------------------------------------------------------------------------------------
// Replaying one conversation
// ---------------------------------------------------------------------------------------------

/// The first escalation of a conversation, as the pipeline published it.
#[derive(Debug, Clone, Default)]
pub struct Escalation {
    pub trigger_event_id: String,
    pub rule_id: String,
    pub evidence: String,
    /// Every reason kind of the escalation (`fraud`, `explicit_request`, ...).
    pub reason_kinds: Vec<String>,
    pub urgency: Option<Urgency>,
    pub team: Option<String>,
    pub summary: String,
    pub draft: String,
    pub next_action: String,
}

/// What replaying one conversation produced.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The first escalation before any handback.
    pub first: Option<Escalation>,
    pub handback: bool,
    /// The trigger event of the first escalation after the handback.
    pub reescalated_at: Option<String>,
    /// Records the detector would have dead-lettered.
    pub refused: Vec<Rejected>,
    /// Event ids in file order (to tell an early fire from a late one).
    pub events: Vec<String>,
}

/// Replays one conversation through a fresh pipeline.
pub fn observe(records: &[ReplayRecord], policy: &Policy) -> Observed {
    let mut pipeline = Pipeline::new(policy);
    let mut seen = Observed::default();
    for record in records {
        if let ReplayRecord::Event(e) = record {
            seen.events.push(e.event_id.clone());
        }
        match pipeline.step(record) {
            Ok(outputs) => absorb(&mut seen, outputs),
            Err(refused) => seen.refused.push(refused),
        }
        if matches!(record, ReplayRecord::Command(c) if c.action == CommandAction::Resume) {
            seen.handback = true;
        }
    }
    seen
}

/// Picks the escalations out of one record's outputs. A signal is followed by its payload and
/// its route; SLA re-escalations of an open handoff are not new escalations.
fn absorb(seen: &mut Observed, outputs: Vec<Output>) {
    let mut capturing = false;
    for o in outputs {
        match o {
            Output::Signal(s) => {
                capturing = false;
                let new_escalation = s.decision == Decision::Escalate
                    && s.reasons.iter().any(|r| r.kind != ReasonKind::SlaBreach);
                if !new_escalation {
                    continue;
                }
                if seen.handback {
                    seen.reescalated_at
                        .get_or_insert_with(|| s.trigger_event_id.clone());
                } else if seen.first.is_none() {
                    let main = s.reasons.first();
                    seen.first = Some(Escalation {
                        trigger_event_id: s.trigger_event_id.clone(),
                        rule_id: main.map(|r| r.rule_id.clone()).unwrap_or_default(),
                        evidence: main.map(|r| r.evidence_text.clone()).unwrap_or_default(),
                        reason_kinds: s
                            .reasons
                            .iter()
                            .map(|r| r.kind.as_str().to_string())
                            .collect(),
                        urgency: Some(s.urgency),
                        ..Escalation::default()
                    });
                    capturing = true;
                }
            }
            Output::Payload(p) if capturing => {
                if let Some(first) = seen.first.as_mut() {
                    first.summary = p.summary;
                    first.draft = p.draft_reply;
                    first.next_action =
                        format!("{} {}", p.next_action.action, p.next_action.reasoning);
                }
            }
            Output::Route(r) if capturing => {
                if let Some(first) = seen.first.as_mut() {
                    first.team = Some(r.routing.team);
                }
                capturing = false;
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scoring one conversation
// ---------------------------------------------------------------------------------------------

/// Where the first escalation fired against the label's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstFire {
    InWindow,
    Early,
    Late,
}

/// One conversation scored against its label.
#[derive(Debug, Clone)]
pub struct Scored {
    pub gold: bool,
    pub predicted: bool,
    /// True positives only.
    pub first_fire: Option<FirstFire>,
    pub right_team: Option<bool>,
    pub urgency_agrees: Option<bool>,
    /// Must-mention facts found in the summary, and the ones missing (true positives only).
    pub facts_found: usize,
    pub facts_missing: Vec<String>,
    pub summary_words: Option<usize>,
    /// (expected, observed) re-escalation after a handback, when the file has one.
    pub reescalation: Option<(bool, bool)>,
    /// `must_not` kinds the label lists and this run checked, with whether each was violated.
    pub must_not: Vec<(String, bool)>,
}

/// Tenants of the set by id, with their names: a draft naming another company (or the
/// built-in "Acme") breaks `draft_mentions_other_company`.
const TENANT_NAMES: &[(&str, &str)] = &[
    ("northbank", "Northbank"),
    ("kestrel", "Kestrel"),
    ("ledgerly", "Ledgerly"),
    ("skyway", "Skyway"),
    ("voltia", "Voltia"),
];

/// Words of a next action or draft written for a shop (`retail_next_action` for other domains).
const RETAIL_WORDS: &[&str] = &[
    "order",
    "orders",
    "parcel",
    "carrier",
    "shipping",
    "ships",
    "shipped",
    "warehouse",
    "dispatch",
    "dispatched",
];

pub fn score(label: &Label, seen: &Observed) -> Scored {
    let predicted = seen.first.is_some();
    let tp = label.escalate && predicted;
    let first = seen.first.as_ref().filter(|_| tp);
    let first_fire = first.map(|f| fire_position(label, seen, &f.trigger_event_id));
    let right_team = first.map(|f| f.team.is_some() && f.team == label.team);
    let urgency_agrees = first.and_then(|f| {
        let gold = label.urgency.as_deref()?;
        Some(f.urgency.map(urgency_name) == Some(gold))
    });
    let (facts_found, facts_missing) = match first {
        Some(f) => {
            let summary = normalise(&f.summary);
            let (found, missing): (Vec<&String>, Vec<&String>) = label
                .must_mention
                .iter()
                .partition(|m| summary.contains(&normalise(m)));
            (found.len(), missing.into_iter().cloned().collect())
        }
        None => (0, Vec::new()),
    };
    let reescalation = seen.handback.then(|| {
        let expected = label
            .reescalate_after_handback
            .as_ref()
            .is_some_and(|r| r.expected);
        (expected, seen.reescalated_at.is_some())
    });
    Scored {
        gold: label.escalate,
        predicted,
        first_fire,
        right_team,
        urgency_agrees,
        facts_found,
        facts_missing,
        summary_words: first.map(|f| f.summary.split_whitespace().count()),
        reescalation,
        must_not: must_not(label, seen, first_fire),
    }
}

fn urgency_name(u: Urgency) -> &'static str {
    match u {
        Urgency::Immediate => "immediate",
        Urgency::Normal => "normal",
        Urgency::Nurture => "nurture",
    }
}

fn fire_position(label: &Label, seen: &Observed, trigger: &str) -> FirstFire {
    if label.fire_window.iter().any(|w| w == trigger) {
        return FirstFire::InWindow;
    }
    let index = |id: &str| seen.events.iter().position(|e| e == id);
    match (
        index(trigger),
        label.fire_event_id.as_deref().and_then(index),
    ) {
        (Some(t), Some(f)) if t < f => FirstFire::Early,
        _ => FirstFire::Late,
    }
}

/// The `must_not` behaviours the label lists that this run can check, and whether each broke.
fn must_not(label: &Label, seen: &Observed, first_fire: Option<FirstFire>) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for kind in &label.must_not {
        let first = seen.first.as_ref();
        let violated = match kind.as_str() {
            "escalate_before_fire" => match first_fire {
                Some(f) => f == FirstFire::Early,
                None => continue,
            },
            "escalate_at_all" => first.is_some(),
            "draft_mentions_other_company" => match first {
                Some(f) => mentions_other_company(&f.draft, &label.tenant_id),
                None => continue,
            },
            "retail_next_action" => match first {
                Some(f) => has_retail_words(&format!("{} {}", f.next_action, f.draft)),
                None => continue,
            },
            "route_general" => match first {
                Some(f) => f.team.as_deref() == Some("general"),
                None => continue,
            },
            _ => continue,
        };
        out.push((kind.clone(), violated));
    }
    out
}

fn mentions_other_company(draft: &str, tenant_id: &str) -> bool {
    let draft = draft.to_lowercase();
    std::iter::once("acme")
        .chain(
            TENANT_NAMES
                .iter()
                .filter(|(id, _)| *id != tenant_id)
                .map(|(_, name)| *name),
        )
        .any(|name| draft.contains(&name.to_lowercase()))
}

fn has_retail_words(text: &str) -> bool {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| RETAIL_WORDS.contains(&w))
}

/// Lower case, whitespace collapsed, numbers without thousands separators or zero decimals and
/// trailing decimal zeros, and with `.` as the decimal mark: "1,249.00", "1.249,00" and
/// "1249" all read "1249".
pub fn normalise(text: &str) -> String {
    let chars: Vec<char> = text.to_lowercase().chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            if chars[i].is_whitespace() {
                if !out.ends_with(' ') {
                    out.push(' ');
                }
            } else {
                out.push(chars[i]);
            }
            i += 1;
            continue;
        }
        // A number: digit groups joined by single '.' or ',' between digits.
        let start = i;
        while i < chars.len()
            && (chars[i].is_ascii_digit()
                || (matches!(chars[i], '.' | ',')
                    && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit())
                    && i > start))
        {
            i += 1;
        }
        out.push_str(&normalise_number(&chars[start..i]));
    }
    out.trim().to_string()
}

fn normalise_number(chars: &[char]) -> String {
    let groups: Vec<String> = chars
        .split(|c| matches!(c, '.' | ','))
        .map(|g| g.iter().collect())
        .collect();
    let (whole, decimals) = match groups.split_last() {
        // A last group of one or two digits after a mark is the decimals; three digits are a
        // thousands group.
        Some((last, rest)) if !rest.is_empty() && last.len() <= 2 => (rest.concat(), Some(last)),
        _ => (groups.concat(), None),
    };
    // "12.50" and "12.5" are one amount; "1249.00" is "1249".
    match decimals.map(|d| d.trim_end_matches('0')) {
        Some(d) if !d.is_empty() => format!("{whole}.{d}"),
        _ => whole,
    }
}

// ---------------------------------------------------------------------------------------------
// Tallies and the section
// ---------------------------------------------------------------------------------------------

/// Scores of a group of conversations (a split, a language, a domain).
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub n: usize,
    pub escalation: Confusion,
    pub in_window: usize,
    pub early: usize,
    pub late: usize,
    pub right_team: usize,
    pub facts_found: usize,
    pub facts_total: usize,
    pub words_max: usize,
    pub over_80_words: usize,
    pub urgency_agrees: usize,
    pub urgency_n: usize,
    pub reescalation: Confusion,
    /// must_not kind → (violations, checked).
    pub must_not: BTreeMap<String, (usize, usize)>,
}

impl Tally {
    pub fn add(&mut self, s: &Scored) {
        self.n += 1;
        self.escalation.add(s.gold, s.predicted);
        match s.first_fire {
            Some(FirstFire::InWindow) => self.in_window += 1,
            Some(FirstFire::Early) => self.early += 1,
            Some(FirstFire::Late) => self.late += 1,
            None => {}
        }
        self.right_team += usize::from(s.right_team == Some(true));
        self.facts_found += s.facts_found;
        self.facts_total += s.facts_found + s.facts_missing.len();
        if let Some(w) = s.summary_words {
            self.words_max = self.words_max.max(w);
            self.over_80_words += usize::from(w > 80);
        }
        if let Some(agrees) = s.urgency_agrees {
            self.urgency_n += 1;
            self.urgency_agrees += usize::from(agrees);
        }
        if let Some((expected, observed)) = s.reescalation {
            self.reescalation.add(expected, observed);
        }
        for (kind, violated) in &s.must_not {
            let e = self.must_not.entry(kind.clone()).or_default();
            e.0 += usize::from(*violated);
            e.1 += 1;
        }
    }

    fn ratio(num: usize, den: usize) -> Option<f64> {
        (den > 0).then(|| num as f64 / den as f64)
    }

    pub fn first_fire_accuracy(&self) -> Option<f64> {
        Self::ratio(self.in_window, self.escalation.tp)
    }

    pub fn right_team_rate(&self) -> Option<f64> {
        Self::ratio(self.right_team, self.escalation.tp)
    }

    pub fn facts_coverage(&self) -> Option<f64> {
        Self::ratio(self.facts_found, self.facts_total)
    }

    pub fn urgency_agreement(&self) -> Option<f64> {
        Self::ratio(self.urgency_agrees, self.urgency_n)
    }

    /// Flat figures for `--json`, under `dataset`.
    pub fn metrics(&self, dataset: &str) -> Vec<Metric> {
        let c = &self.escalation;
        let r = &self.reescalation;
        let mut out: Vec<(String, Option<f64>)> = vec![
            ("n".into(), Some(self.n as f64)),
            ("precision".into(), c.precision()),
            ("recall".into(), c.recall()),
            ("f1".into(), c.f1()),
            ("first_fire_accuracy".into(), self.first_fire_accuracy()),
            ("early_fires".into(), Some(self.early as f64)),
            ("right_team".into(), self.right_team_rate()),
            ("facts_coverage".into(), self.facts_coverage()),
            ("summary_words_max".into(), Some(self.words_max as f64)),
            ("urgency_agreement".into(), self.urgency_agreement()),
            ("reescalation_expected".into(), Some((r.tp + r.fn_) as f64)),
            ("reescalation_observed".into(), Some((r.tp + r.fp) as f64)),
            (
                "reescalation_agreement".into(),
                Self::ratio(r.tp + r.tn, r.n()),
            ),
        ];
        for (kind, (violations, _)) in &self.must_not {
            out.push((format!("must_not_{kind}"), Some(*violations as f64)));
        }
        out.into_iter()
            .map(|(name, value)| Metric {
                dataset: dataset.to_string(),
                name,
                value,
            })
            .collect()
    }
}

/// The groups each conversation counts in: its split, split × language, split × domain.
fn groups_of(label: &Label) -> [String; 3] {
    [
        label.split.clone(),
        format!("{} / {}", label.split, label.language),
        format!("{} / {}", label.split, label.domain),
    ]
}

/// Group names in report order: each split, then its languages, then its domains.
fn group_order(labels: &[&Label]) -> Vec<String> {
    let mut out = Vec::new();
    for split in ["dev", "holdout"] {
        let of_split: Vec<&&Label> = labels.iter().filter(|l| l.split == split).collect();
        if of_split.is_empty() {
            continue;
        }
        out.push(split.to_string());
        let languages: std::collections::BTreeSet<&str> =
            of_split.iter().map(|l| l.language.as_str()).collect();
        let domains: std::collections::BTreeSet<&str> =
            of_split.iter().map(|l| l.domain.as_str()).collect();
        out.extend(languages.into_iter().map(|x| format!("{split} / {x}")));
        out.extend(domains.into_iter().map(|x| format!("{split} / {x}")));
    }
    out
}

/// The tables of the section from the tallies by group.
fn tables(order: &[String], tallies: &BTreeMap<String, Tally>) -> Vec<Table> {
    let mut escalation = Table::new(
        "escalation (positive: escalates before any handback)",
        &[
            "group",
            "n",
            "gold+",
            "TP",
            "FP",
            "FN",
            "precision",
            "recall",
            "F1",
        ],
    );
    let mut first = Table::new(
        "over true positives: first fire in window (early / late), routed team, urgency, must-mention facts in the summary",
        &["group", "TP", "first-fire", "early", "late", "team", "urgency", "facts", "words max", ">80 words"],
    );
    let mut handback = Table::new(
        "re-escalation after a handback (rows with a handback only)",
        &["group", "handbacks", "expected", "observed", "agree"],
    );
    for name in order {
        let Some(t) = tallies.get(name) else { continue };
        let c = &t.escalation;
        escalation.row(vec![
            name.clone(),
            t.n.to_string(),
            (c.tp + c.fn_).to_string(),
            c.tp.to_string(),
            c.fp.to_string(),
            c.fn_.to_string(),
            fmt_ratio(c.precision()),
            fmt_ratio(c.recall()),
            fmt_ratio(c.f1()),
        ]);
        first.row(vec![
            name.clone(),
            c.tp.to_string(),
            fmt_ratio(t.first_fire_accuracy()),
            t.early.to_string(),
            t.late.to_string(),
            fmt_ratio(t.right_team_rate()),
            fmt_ratio(t.urgency_agreement()),
            format!(
                "{} ({}/{})",
                fmt_ratio(t.facts_coverage()),
                t.facts_found,
                t.facts_total
            ),
            t.words_max.to_string(),
            t.over_80_words.to_string(),
        ]);
        let r = &t.reescalation;
        if r.n() > 0 {
            handback.row(vec![
                name.clone(),
                r.n().to_string(),
                (r.tp + r.fn_).to_string(),
                (r.tp + r.fp).to_string(),
                (r.tp + r.tn).to_string(),
            ]);
        }
    }
    let mut must_not = Table::new(
        "must_not violations by kind (violations / conversations checked)",
        &["kind", "dev", "holdout"],
    );
    let kinds: std::collections::BTreeSet<&String> =
        tallies.values().flat_map(|t| t.must_not.keys()).collect();
    for kind in kinds {
        let cell = |split: &str| {
            tallies
                .get(split)
                .and_then(|t| t.must_not.get(kind))
                .map_or("-".to_string(), |(v, n)| format!("{v}/{n}"))
        };
        must_not.row(vec![kind.clone(), cell("dev"), cell("holdout")]);
    }
    vec![escalation, first, handback, must_not]
}

/// Positive conversations by their main (first) labelled reason: how many escalate at all and
/// how many with that reason among the escalation's (is a fraud case caught by the fraud stop,
/// or only by the agent's transfer tool?).
#[derive(Debug, Default)]
struct ByReason {
    /// (reason, split) → (n, escalated, by that reason)
    counts: BTreeMap<(String, String), (usize, usize, usize)>,
}

impl ByReason {
    fn add(&mut self, label: &Label, seen: &Observed) {
        let Some(main) = label.reasons.first().filter(|_| label.escalate) else {
            return;
        };
        let c = self
            .counts
            .entry((main.clone(), label.split.clone()))
            .or_default();
        c.0 += 1;
        if let Some(first) = &seen.first {
            c.1 += 1;
            c.2 += usize::from(first.reason_kinds.contains(main));
        }
    }

    fn table(&self) -> Table {
        let mut t = Table::new(
            "positives by main labelled reason: escalated at all / by a stop of that reason (n)",
            &["reason", "dev", "holdout"],
        );
        let reasons: std::collections::BTreeSet<&String> =
            self.counts.keys().map(|(r, _)| r).collect();
        for reason in reasons {
            let cell = |split: &str| {
                self.counts
                    .get(&(reason.clone(), split.to_string()))
                    .map_or("-".into(), |(n, any, same)| format!("{any} / {same} ({n})"))
            };
            t.row(vec![reason.clone(), cell("dev"), cell("holdout")]);
        }
        t
    }
}

/// One line of `--errors` for a conversation, when it is wrong in a way worth reading.
fn error_lines(label: &Label, seen: &Observed, s: &Scored) -> Vec<(&'static str, String)> {
    let expected = if label.escalate {
        format!(
            "expected escalate ({}) at {} → {} {}",
            label.reasons.join(","),
            label.fire_window.join("|"),
            label.team.as_deref().unwrap_or("?"),
            label.urgency.as_deref().unwrap_or("?"),
        )
    } else {
        format!("expected no escalation ({})", label.category)
    };
    let got = match &seen.first {
        Some(f) => format!(
            "got escalation at {} by {} → {} {}: {}",
            f.trigger_event_id,
            f.rule_id,
            f.team.as_deref().unwrap_or("?"),
            f.urgency.map_or("?", urgency_name),
            f.evidence
        ),
        None => "got no escalation".into(),
    };
    let mut kinds = Vec::new();
    match (s.gold, s.predicted) {
        (true, false) => kinds.push("FN"),
        (false, true) => kinds.push("FP"),
        _ => {}
    }
    match s.first_fire {
        Some(FirstFire::Early) => kinds.push("early"),
        Some(FirstFire::Late) => kinds.push("late"),
        _ => {}
    }
    if s.right_team == Some(false) {
        kinds.push("team");
    }
    let mut out: Vec<(&'static str, String)> = kinds
        .into_iter()
        .map(|k| (k, format!("{expected}; {got}")))
        .collect();
    if let Some((expected, observed)) = s.reescalation.filter(|(e, o)| e != o) {
        let at = label
            .reescalate_after_handback
            .as_ref()
            .and_then(|r| r.event_id.as_deref())
            .unwrap_or("-");
        out.push((
            "reescalation",
            format!(
                "re-escalation after the handback expected {expected} (new problem at {at}), observed {observed} (at {})",
                seen.reescalated_at.as_deref().unwrap_or("-")
            ),
        ));
    }
    if !s.facts_missing.is_empty() {
        let summary = seen.first.as_ref().map_or("", |f| f.summary.as_str());
        out.push((
            "facts",
            format!("missing {:?} in summary: {summary}", s.facts_missing),
        ));
    }
    out
}

/// The multi-turn section: every conversation of the set through the whole pipeline.
pub fn multiturn_section(input: &EvalInput) -> anyhow::Result<Section> {
    let dir = input.multiturn;
    let mut section = Section {
        name: "multiturn".into(),
        title: format!(
            "multi-turn conversations ({}) replayed through detector → builder → router, as `handoff replay` (policy {})",
            dir.display(),
            input.policy.version()
        ),
        tables: Vec::new(),
        notes: Vec::new(),
        metrics: Vec::new(),
        errors: Vec::new(),
    };
    if !dir.is_dir() {
        section.notes.push(format!(
            "not available: no multi-turn set at {} (pass --multiturn DIR)",
            dir.display()
        ));
        return Ok(section);
    }
    let set = load_multiturn(dir)?;
    let tenant_policies = tenant_policies(input, &set, &mut section.notes)?;
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut errors: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut refused = 0;
    let mut by_reason = ByReason::default();
    for (label, records) in &set.conversations {
        let policy = tenant_policies
            .get(&label.tenant_id)
            .unwrap_or(input.policy);
        let seen = observe(records, policy);
        let scored = score(label, &seen);
        by_reason.add(label, &seen);
        for group in groups_of(label) {
            tallies.entry(group).or_default().add(&scored);
        }
        refused += seen.refused.len();
        for r in &seen.refused {
            section.notes.push(format!(
                "{}: record {} refused as the detector would: {}",
                label.conversation_id, r.record_id, r.error
            ));
        }
        for (kind, text) in error_lines(label, &seen, &scored) {
            let n = errors.entry(kind).or_default();
            if *n < input.errors {
                *n += 1;
                section.errors.push(ErrorExample {
                    dataset: format!("multiturn {}", label.split),
                    kind: kind.into(),
                    label: label.conversation_id.clone(),
                    text,
                });
            }
        }
    }
    section.tables.push(by_reason.table());
    let labels: Vec<&Label> = set.conversations.iter().map(|(l, _)| l).collect();
    let order = group_order(&labels);
    let reasons_table = section.tables.pop();
    section.tables = tables(&order, &tallies);
    section.tables.extend(reasons_table);
    for name in &order {
        if let Some(t) = tallies.get(name) {
            section
                .metrics
                .extend(t.metrics(&format!("multiturn {name}")));
        }
    }
    section.notes.push(format!(
        "{} conversations; holdout = every fifth conversation per writer (nn divisible by 5), never tuned to; {refused} record(s) refused",
        set.conversations.len()
    ));
    section.notes.push(
        "goals on unseen data: F1 ≥ 0.95, first fire ≥ 90%, right team ≥ 95%, facts ≥ 90% with ≤ 80 words"
            .into(),
    );
    Ok(section)
}

/// Each tenant's policy: the given one with the set's tenant profiles and the tenant's
/// `domains/<tenant>.csv` as its out-of-scope domain examples, when this build's policy knows
/// the key; else the given one.
fn tenant_policies(
    input: &EvalInput,
    set: &MultiTurnSet,
    notes: &mut Vec<String>,
) -> anyhow::Result<BTreeMap<String, Policy>> {
    let source = match &set.tenant_profiles {
        Some(profiles) => input.policy_source.with_tables(profiles)?,
        None => input.policy_source.clone(),
    };
    let mut out = BTreeMap::new();
    for (tenant, file) in &set.domain_files {
        match policy_with_domain_examples(&source, std::slice::from_ref(file))? {
            Some(p) => {
                out.insert(tenant.clone(), p);
            }
            None => {
                notes.push(format!(
                    "domain examples not used: domain_examples unsupported by this build ({} tenant files ignored)",
                    set.domain_files.len()
                ));
                break;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_whatever_their_separators() {
        assert_eq!(normalise("1,249.00"), "1249");
        assert_eq!(normalise("1.249,00 EUR"), "1249 eur");
        assert_eq!(normalise("64.99"), "64.99");
        assert_eq!(normalise("64,99 €"), "64.99 €");
        assert_eq!(normalise("Order  0917,\nat 6:40"), "order 0917, at 6:40");
        assert_eq!(normalise("3 x 12.50"), "3 x 12.5");
        assert!(normalise("a charge of £1,249.00 on the card").contains(&normalise("1249")));
        assert!(!normalise("a charge of 12,490").contains(&normalise("1249.5")));
    }

    fn label(json: serde_json::Value) -> Label {
        serde_json::from_value(json).unwrap()
    }

    fn escalation(trigger: &str, team: &str, summary: &str, draft: &str) -> Escalation {
        Escalation {
            trigger_event_id: trigger.into(),
            rule_id: "r".into(),
            team: Some(team.into()),
            urgency: Some(Urgency::Immediate),
            summary: summary.into(),
            draft: draft.into(),
            ..Escalation::default()
        }
    }

    #[test]
    fn scores_a_conversation_against_its_label() {
        let l = label(serde_json::json!({
            "conversation_id": "northbank-en-01", "split": "dev", "tenant_id": "northbank",
            "domain": "banking", "language": "en", "escalate": true,
            "fire_event_id": "c-3", "fire_window": ["c-3", "c-4"], "reasons": ["fraud"],
            "team": "fraud", "urgency": "immediate", "must_mention": ["1,249.00", "VOLTEX"],
            "must_not": ["escalate_before_fire", "draft_mentions_other_company", "route_general"],
            "reescalate_after_handback": null, "category": "fraud_multi_clause"
        }));
        let events = ["c-1", "c-2", "c-3", "c-4", "c-5"]
            .map(String::from)
            .to_vec();
        let mut seen = Observed {
            first: Some(escalation(
                "c-4",
                "fraud",
                "Charge of 1249 at voltex the contact did not make.",
                "Hi, I'm from the Northbank team.",
            )),
            events,
            ..Observed::default()
        };
        let s = score(&l, &seen);
        assert!(s.gold && s.predicted);
        assert_eq!(s.first_fire, Some(FirstFire::InWindow));
        assert_eq!(s.right_team, Some(true));
        assert_eq!(s.urgency_agrees, Some(true));
        assert_eq!((s.facts_found, s.facts_missing.len()), (2, 0));
        assert!(
            s.must_not.iter().all(|(_, violated)| !violated),
            "{:?}",
            s.must_not
        );

        seen.first = Some(escalation(
            "c-2",
            "general",
            "A card issue.",
            "I'm from the Acme team.",
        ));
        let s = score(&l, &seen);
        assert_eq!(s.first_fire, Some(FirstFire::Early));
        assert_eq!(s.right_team, Some(false));
        assert_eq!(s.facts_missing, ["1,249.00", "VOLTEX"]);
        let violated: Vec<&str> = s
            .must_not
            .iter()
            .filter(|(_, v)| *v)
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(
            violated,
            [
                "escalate_before_fire",
                "draft_mentions_other_company",
                "route_general"
            ]
        );
        seen.first.as_mut().unwrap().trigger_event_id = "c-5".into();
        assert_eq!(score(&l, &seen).first_fire, Some(FirstFire::Late));
    }

    /// A conversation replayed through the pipeline: the sample with a handback escalates once,
    /// and the closed topic does not re-escalate after it.
    #[test]
    fn observes_the_first_escalation_and_the_handback() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../infra/samples/02-refund-over-limit-tool-call.jsonl");
        let records = crate::read_input(&path).unwrap();
        let seen = observe(&records, &Policy::builtin());
        let first = seen.first.as_ref().expect("escalates");
        assert_eq!(first.trigger_event_id, "s02-4");
        assert!(first.team.is_some() && !first.summary.is_empty());
        assert!(seen.handback);
        assert_eq!(seen.reescalated_at, None);
        assert!(seen.refused.is_empty());
        let mut tally = Tally::default();
        let l = label(serde_json::json!({
            "conversation_id": "s02", "split": "dev", "tenant_id": "acme", "domain": "retail",
            "language": "en", "escalate": true, "fire_event_id": "s02-4",
            "fire_window": ["s02-4"], "team": first.team.clone(),
            "reescalate_after_handback": {"expected": false}
        }));
        tally.add(&score(&l, &seen));
        assert_eq!(tally.escalation.tp, 1);
        assert_eq!(tally.first_fire_accuracy(), Some(1.0));
        assert_eq!(tally.right_team_rate(), Some(1.0));
        assert_eq!((tally.reescalation.tn, tally.reescalation.n()), (1, 1));
    }
}
