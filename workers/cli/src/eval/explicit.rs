//! Explicit request for a human on the public sets.

use super::*;

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
