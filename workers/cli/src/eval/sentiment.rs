//! Sentiment false fires on the public sets.

use super::*;

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
