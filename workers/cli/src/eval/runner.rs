//! Running the detector over single turns, and counting.

use super::*;

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
        // The detector's own step, validation included: a turn it would dead-letter escalates
        // nothing, as live.
        detect::step(
            None,
            Input::Event(&event),
            self.policy,
            Clock::at(event.occurred_at),
        )
        .map(|stepped| stepped.outputs)
        .unwrap_or_default()
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

impl BinaryOutcome {
    /// The kept misclassified samples as error examples of `dataset`: false positives, then
    /// false negatives.
    pub fn into_errors(self, dataset: &str) -> impl Iterator<Item = ErrorExample> + '_ {
        let fps = self.false_positives.into_iter().map(|e| ("FP", e));
        let fns = self.false_negatives.into_iter().map(|e| ("FN", e));
        fps.chain(fns)
            .map(move |(kind, (label, text))| ErrorExample {
                dataset: dataset.to_string(),
                kind: kind.into(),
                label,
                text,
            })
    }
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

/// How [`fire_rates`] names its table, rate column, metric and error examples.
pub struct FireRateLabels {
    pub table: &'static str,
    pub rate_column: &'static str,
    pub metric: &'static str,
    pub error_kind: &'static str,
}

/// Single turns of negative-only data sets through the detector: one row per data set of how
/// many escalate with `kind`, a metric per data set, and the firing texts as error examples.
pub fn fire_rates(
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
