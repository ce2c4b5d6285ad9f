//! Out of scope relative to the tenant's domain, given by examples: the policy is built with
//! `[rules.out_of_scope] domain_examples` (one place, [`policy_with_domain_examples`], for every
//! section that needs it), and CLINC150 plays ten tenants, one per domain.

use super::*;
use std::sync::OnceLock;

/// The text the evaluated policy was loaded from, so sections can derive policies from it.
#[derive(Debug, Clone)]
pub struct PolicySource {
    pub text: String,
    /// A path, or `built-in`.
    pub origin: String,
}

impl PolicySource {
    pub fn builtin() -> PolicySource {
        PolicySource {
            text: handoff_core::policy::DEFAULT_POLICY_TOML.to_string(),
            origin: "built-in".into(),
        }
    }
}

impl PolicySource {
    /// The same policy with `tables` set at its top level (e.g. `[tenants.<id>]` profiles).
    pub fn with_tables(&self, tables: &toml::Table) -> anyhow::Result<PolicySource> {
        let mut doc: toml::Table = toml::from_str(&self.text)
            .with_context(|| format!("parsing policy {}", self.origin))?;
        for (key, value) in tables {
            doc.insert(key.clone(), value.clone());
        }
        Ok(PolicySource {
            text: toml::to_string(&doc)?,
            origin: self.origin.clone(),
        })
    }
}

/// The policy text with `[rules.out_of_scope] domain_examples = files`.
fn with_domain_examples(source: &PolicySource, files: &[String]) -> anyhow::Result<String> {
    let mut doc: toml::Table = toml::from_str(&source.text)
        .with_context(|| format!("parsing policy {}", source.origin))?;
    let rules = doc
        .entry("rules")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let scope = rules
        .as_table_mut()
        .context("policy: [rules] is not a table")?
        .entry("out_of_scope")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    scope
        .as_table_mut()
        .context("policy: [rules.out_of_scope] is not a table")?
        .insert(
            "domain_examples".into(),
            toml::Value::Array(files.iter().cloned().map(toml::Value::String).collect()),
        );
    Ok(toml::to_string(&doc)?)
}

/// Whether this build's policy loader knows `domain_examples`: a policy naming a domain file
/// that does not exist must then be refused (a loader that ignores the key accepts it).
fn domain_examples_supported(source: &PolicySource) -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        let missing = std::env::temp_dir()
            .join("handoff-eval-probe-does-not-exist")
            .join("domain.csv");
        match with_domain_examples(source, &[missing.display().to_string()]) {
            Ok(text) => Policy::from_toml(&text, &source.origin).is_err(),
            Err(_) => false,
        }
    })
}

/// The evaluated policy with `files` as the tenant's in-domain examples (absolute paths), or
/// `None` when this build's policy loader does not support the key.
pub fn policy_with_domain_examples(
    source: &PolicySource,
    files: &[PathBuf],
) -> anyhow::Result<Option<Policy>> {
    if !domain_examples_supported(source) {
        return Ok(None);
    }
    let files: Vec<String> = files
        .iter()
        .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.clone()))
        .map(|f| f.display().to_string())
        .collect();
    let text = with_domain_examples(source, &files)?;
    match Policy::from_toml(&text, &source.origin) {
        // With the learned detectors, as `handoff replay` and the detector load them: the
        // domain examples are embedded by the same encoder.
        Ok(p) => Ok(Some(handoff_semantic::with_learned_detectors(p)?)),
        Err(e) if e.to_string().contains("unknown field `domain_examples`") => Ok(None),
        Err(e) => Err(e).with_context(|| format!("policy with domain examples {files:?}")),
    }
}

/// CLINC150 by split (`train`, `val`, `oos_val`, ...), each `[text, intent]` pairs.
fn load_clinc_splits(data: &Path) -> anyhow::Result<BTreeMap<String, Vec<LabelledText>>> {
    let path = data_file(data, "clinc150/data_full_train_val.json")?;
    let raw: BTreeMap<String, Vec<(String, String)>> = serde_json::from_str(
        &std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
    )
    .with_context(|| format!("parsing {}", path.display()))?;
    Ok(raw
        .into_iter()
        .map(|(split, rows)| {
            let rows = rows
                .into_iter()
                .map(|(text, label)| LabelledText { text, label })
                .collect();
            (split, rows)
        })
        .collect())
}

/// Writes `rows` as a `text,intent` CSV.
fn write_examples(path: &Path, rows: &[&LabelledText]) -> anyhow::Result<()> {
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("writing {}", path.display()))?;
    w.write_record(["text", "intent"])?;
    for r in rows {
        w.write_record([r.text.as_str(), r.label.as_str()])?;
    }
    w.flush()?;
    Ok(())
}

/// Out of scope given the tenant's domain by examples, on CLINC150: each domain in turn is the
/// tenant; its intents' training examples are its `domain_examples`; its validation
/// utterances must not fire (false alarms), the out-of-scope validation utterances must.
pub fn domain_out_of_scope_section(input: &EvalInput) -> anyhow::Result<Section> {
    let mut section = Section {
        name: "out_of_scope_domain".into(),
        title: "Out of scope given the tenant's domain by examples (CLINC150: each domain as a tenant; its train examples as domain_examples; its val utterances negatives, oos val positives)".into(),
        tables: Vec::new(),
        notes: Vec::new(),
        metrics: Vec::new(),
        errors: Vec::new(),
    };
    if !domain_examples_supported(input.policy_source) {
        section
            .notes
            .push("not available: domain_examples unsupported by this build".into());
        return Ok(section);
    }
    let domains_path = data_file(input.data, "clinc150/domains.json")?;
    let domains: BTreeMap<String, Vec<String>> = serde_json::from_str(
        &std::fs::read_to_string(&domains_path)
            .with_context(|| format!("reading {}", domains_path.display()))?,
    )
    .with_context(|| format!("parsing {}", domains_path.display()))?;
    let splits = load_clinc_splits(input.data)?;
    let split = |name: &str| splits.get(name).map(Vec::as_slice).unwrap_or(&[]);
    let oos: Vec<Sample> = split("oos_val")
        .iter()
        .map(|r| Sample {
            text: r.text.clone(),
            gold: true,
            label: "oos".into(),
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("handoff-eval-clinc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = domain_rows(
        input,
        &domains,
        split("train"),
        split("val"),
        &oos,
        &dir,
        &mut section,
    );
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    section.notes.push(
        "goal on unseen data: out-of-scope recall ≥ 0.85 with false alarms ≤ 5% (the policy's threshold is the operating point)".into(),
    );
    Ok(section)
}

fn domain_rows(
    input: &EvalInput,
    domains: &BTreeMap<String, Vec<String>>,
    train: &[LabelledText],
    val: &[LabelledText],
    oos: &[Sample],
    dir: &Path,
    section: &mut Section,
) -> anyhow::Result<()> {
    let mut table = Table::new(
        "",
        &[
            "tenant domain",
            "examples",
            "in-domain n",
            "false alarms",
            "FA rate",
            "oos n",
            "caught",
            "recall",
        ],
    );
    let mut pooled = Confusion::default();
    for (domain, intents) in domains {
        let in_domain = |r: &&LabelledText| intents.contains(&r.label);
        let examples: Vec<&LabelledText> = train.iter().filter(in_domain).collect();
        let file = dir.join(format!("{domain}.csv"));
        write_examples(&file, &examples)?;
        let Some(policy) = policy_with_domain_examples(input.policy_source, &[file])? else {
            bail!("domain_examples became unsupported between two policy loads");
        };
        let mut samples: Vec<Sample> = val
            .iter()
            .filter(in_domain)
            .map(|r| Sample {
                text: r.text.clone(),
                gold: false,
                label: r.label.clone(),
            })
            .collect();
        samples.extend_from_slice(oos);
        let mut runner = TurnRunner::new(&policy);
        let outcome = evaluate_binary(&samples, input.errors, |t| {
            runner.escalates_for(t, ReasonKind::OutOfScope)
        });
        let c = outcome.confusion;
        pooled.tp += c.tp;
        pooled.fp += c.fp;
        pooled.fn_ += c.fn_;
        pooled.tn += c.tn;
        table.row(domain_row(domain, examples.len(), &c));
        let dataset = format!("clinc150 {domain}");
        section.metrics.push(Metric {
            dataset: dataset.clone(),
            name: "oos_recall".into(),
            value: c.recall(),
        });
        section.metrics.push(Metric {
            dataset: dataset.clone(),
            name: "false_alarm_rate".into(),
            value: c.fp_rate(),
        });
        section.errors.extend(outcome.into_errors(&dataset));
    }
    table.row(domain_row("all (pooled)", train.len(), &pooled));
    section.metrics.push(Metric {
        dataset: "clinc150".into(),
        name: "oos_recall".into(),
        value: pooled.recall(),
    });
    section.metrics.push(Metric {
        dataset: "clinc150".into(),
        name: "false_alarm_rate".into(),
        value: pooled.fp_rate(),
    });
    section.tables.push(table);
    Ok(())
}

fn domain_row(name: &str, examples: usize, c: &Confusion) -> Vec<String> {
    vec![
        name.to_string(),
        examples.to_string(),
        (c.fp + c.tn).to_string(),
        c.fp.to_string(),
        fmt_percent(c.fp_rate()),
        (c.tp + c.fn_).to_string(),
        c.tp.to_string(),
        fmt_ratio(c.recall()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_goes_under_rules_out_of_scope() {
        let text = with_domain_examples(&PolicySource::builtin(), &["/tmp/a.csv".into()]).unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(
            doc["rules"]["out_of_scope"]["domain_examples"],
            toml::Value::Array(vec![toml::Value::String("/tmp/a.csv".into())])
        );
        // The rest of the policy is kept.
        let before: toml::Table =
            toml::from_str(handoff_core::policy::DEFAULT_POLICY_TOML).unwrap();
        assert_eq!(doc["routing"], before["routing"]);
        assert_eq!(
            doc["rules"]["out_of_scope"]["topics"],
            before["rules"]["out_of_scope"]["topics"]
        );
    }
}
