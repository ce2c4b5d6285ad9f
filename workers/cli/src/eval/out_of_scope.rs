//! Out of scope on the public sets.

use super::*;

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
