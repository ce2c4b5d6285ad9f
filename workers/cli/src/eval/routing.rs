//! Routing on the public sets.

use super::*;

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
