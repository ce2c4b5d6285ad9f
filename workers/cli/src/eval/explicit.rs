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
    let typos = noisy_positives(&datasets[0].1);
    let mut datasets = datasets;
    datasets.push(("bitext typos", typos));

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
    let mut pooled = Confusion::default();
    for (name, samples) in &datasets {
        let outcome = evaluate_binary(samples, input.errors, |text| {
            runner.escalates_for(text, ReasonKind::ExplicitRequest)
        });
        let c = outcome.confusion;
        if *name != "bitext typos" {
            pooled.tp += c.tp;
            pooled.fp += c.fp;
            pooled.fn_ += c.fn_;
            pooled.tn += c.tn;
        }
        summary.row(confusion_row(name, &c));
        section.metrics.extend(c.metrics(name));
        confusions.push(c.table(format!("{name}: rows gold, columns predicted"), "explicit"));

        breakdowns(&mut section, name, outcome);
    }
    let name = "all three (pooled)";
    summary.row(confusion_row(name, &pooled));
    section.metrics.extend(pooled.metrics("explicit pooled"));
    section.tables.push(summary);
    section.tables.extend(confusions);
    section.notes.push(format!(
        "bitext typos: the Bitext positives with one adjacent swap or one dropped letter in every word of 4+ letters (seed {TYPO_SEED}); negatives unchanged"
    ));
    section
        .notes
        .push("goal on unseen data: recall ≥ 0.98 (typos included) at precision ≥ 0.97".into());
    Ok(section)
}

/// A row of the summary table.
fn confusion_row(name: &str, c: &Confusion) -> Vec<String> {
    vec![
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
    ]
}

/// The same rows with typos in the positives only: recall under noise, reported apart (and
/// kept out of the pooled row, which counts each utterance once).
fn noisy_positives(samples: &[Sample]) -> Vec<Sample> {
    samples
        .iter()
        .map(|s| Sample {
            text: if s.gold {
                with_typos(&s.text, TYPO_SEED)
            } else {
                s.text.clone()
            },
            ..s.clone()
        })
        .collect()
}

/// The break-downs that matter for this reason, and the misclassified examples.
fn breakdowns(section: &mut Section, name: &str, outcome: BinaryOutcome) {
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
    match name {
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
    section.errors.extend(outcome.into_errors(name));
}

/// The fixed seed of the typo noise: the same noisy text on every run.
pub const TYPO_SEED: u64 = 12;

/// `text` with one typo in every word of four or more letters: two adjacent letters swapped or
/// one letter dropped, chosen by a PRNG seeded from `seed` and the text, so the noise is the
/// same on every run and platform.
pub fn with_typos(text: &str, seed: u64) -> String {
    let mut state = seed
        ^ text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    // SplitMix64: small, fast and fully specified.
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut out = String::with_capacity(text.len());
    let mut word: Vec<char> = Vec::new();
    let flush = |word: &mut Vec<char>, out: &mut String, r: u64| {
        if word.len() >= 4 {
            let at = (r >> 1) as usize % (word.len() - 1);
            if r & 1 == 0 {
                word.swap(at, at + 1);
            } else {
                word.remove(at);
            }
        }
        out.extend(word.drain(..));
    };
    for c in text.chars() {
        if c.is_alphabetic() {
            word.push(c);
        } else {
            let r = next();
            flush(&mut word, &mut out, r);
            out.push(c);
        }
    }
    let r = next();
    flush(&mut word, &mut out, r);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_deterministic_and_touch_only_long_words() {
        let text = "can I speak to a real person please";
        let noisy = with_typos(text, TYPO_SEED);
        assert_eq!(noisy, with_typos(text, TYPO_SEED), "same seed, same noise");
        assert_ne!(
            noisy,
            with_typos(text, TYPO_SEED + 1),
            "another seed, other noise"
        );
        let words: Vec<&str> = noisy.split(' ').collect();
        assert_eq!(words.len(), 8);
        for (before, after) in text.split(' ').zip(&words) {
            if before.chars().count() < 4 {
                assert_eq!(&before, after, "short words stay");
            } else {
                assert_ne!(&before, after, "every long word gets one typo");
                let (b, a) = (before.chars().count(), after.chars().count());
                assert!(a == b || a + 1 == b, "{before} -> {after}");
            }
        }
    }
}
