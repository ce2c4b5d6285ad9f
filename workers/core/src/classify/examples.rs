//! Labelled examples: `text,intent` CSV files and the default set compiled into the binary.
//!
//! A CSV file needs a header. The text column is the first of `text`, `instruction`,
//! `utterance`; the label column the first of `intent`, `label`, `category`; other columns are
//! ignored, so the Bitext and Banking77 files read as they are. Labels are `intent` or
//! `intent/sub_intent`; a label map (policy `[builder.classifier.label_map]`) can rename them,
//! which is how a data set's own labels map onto the teams' intents.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The default example set (`infra/policy/intents.csv`), written for the default teams.
pub const DEFAULT_EXAMPLES_CSV: &str = include_str!("../../../../infra/policy/intents.csv");
/// The name a policy uses for the default set.
pub const BUILTIN_DEFAULT: &str = "builtin:default";

#[derive(Debug, thiserror::Error)]
pub enum ExamplesError {
    #[error("cannot read examples file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("examples {origin}: {message}")]
    Format { origin: String, message: String },
}

/// Parses `text,intent` CSV text. Rows with an empty text or label are skipped.
pub fn parse_csv(text: &str, origin: &str) -> Result<Vec<(String, String)>, ExamplesError> {
    let err = |message: String| ExamplesError::Format {
        origin: origin.to_string(),
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| err(e.to_string()))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect::<Vec<_>>();
    let find = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| headers.iter().position(|h| h == n))
    };
    let text_col = find(&["text", "instruction", "utterance"])
        .ok_or_else(|| err("no `text` column in the header".into()))?;
    let label_col = find(&["intent", "label", "category"])
        .ok_or_else(|| err("no `intent` column in the header".into()))?;
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| err(format!("row {}: {e}", i + 2)))?;
        let (Some(t), Some(l)) = (row.get(text_col), row.get(label_col)) else {
            continue;
        };
        let (t, l) = (t.trim(), l.trim());
        if !t.is_empty() && !l.is_empty() {
            out.push((t.to_string(), l.to_string()));
        }
    }
    Ok(out)
}

/// The built-in default examples.
pub fn default_examples() -> Vec<(String, String)> {
    parse_csv(DEFAULT_EXAMPLES_CSV, BUILTIN_DEFAULT).expect("the shipped example set parses")
}

/// Resolves a source name: `builtin:default`, or a path relative to `base_dir` (the policy
/// file's directory) when it is not absolute.
pub fn resolve(source: &str, base_dir: Option<&Path>) -> Option<PathBuf> {
    if source == BUILTIN_DEFAULT {
        return None;
    }
    let p = Path::new(source);
    Some(match base_dir {
        Some(dir) if p.is_relative() => dir.join(p),
        _ => p.to_path_buf(),
    })
}

/// Loads every source in order and applies the label map (labels mapped to `""` are dropped).
pub fn load(
    sources: &[String],
    base_dir: Option<&Path>,
    label_map: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, ExamplesError> {
    let mut all = Vec::new();
    for source in sources {
        let mut rows = match resolve(source, base_dir) {
            None => default_examples(),
            Some(path) => {
                let text =
                    std::fs::read_to_string(&path).map_err(|source| ExamplesError::Read {
                        path: path.display().to_string(),
                        source,
                    })?;
                parse_csv(&text, &path.display().to_string())?
            }
        };
        if !label_map.is_empty() {
            rows = rows
                .into_iter()
                .filter_map(|(t, l)| match label_map.get(&l) {
                    Some(m) if m.is_empty() => None,
                    Some(m) => Some((t, m.clone())),
                    None => Some((t, l)),
                })
                .collect();
        }
        all.extend(rows);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bitext_and_banking_shapes() {
        let b = parse_csv(
            "instruction,intent,category\n\"I want a refund, now\",get_refund,REFUND\n",
            "t",
        )
        .unwrap();
        assert_eq!(
            b,
            vec![("I want a refund, now".into(), "get_refund".into())]
        );
        let k = parse_csv("text,category\ncard lost,lost_or_stolen_card\n,x\n", "t").unwrap();
        assert_eq!(k.len(), 1);
        assert!(parse_csv("foo,bar\n1,2\n", "t").is_err());
    }

    #[test]
    fn default_set_covers_the_default_teams() {
        let ex = default_examples();
        assert!(ex.len() >= 600, "{}", ex.len());
        for intent in [
            "billing",
            "orders",
            "technical",
            "account",
            "retention",
            "fraud",
            "sales",
            "general",
        ] {
            assert!(
                ex.iter().any(|(_, l)| l.starts_with(&format!("{intent}/"))),
                "no {intent}"
            );
        }
        let mut per_label: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, l) in &ex {
            *per_label.entry(l).or_default() += 1;
        }
        for (l, n) in per_label {
            assert!((20..=60).contains(&n), "{l} has {n} examples");
        }
    }

    #[test]
    fn paths_resolve_against_the_policy_dir_and_labels_map() {
        assert_eq!(resolve(BUILTIN_DEFAULT, None), None);
        assert_eq!(
            resolve("intents.csv", Some(Path::new("/etc/handoff"))),
            Some(PathBuf::from("/etc/handoff/intents.csv"))
        );
        assert_eq!(
            resolve("/x/y.csv", Some(Path::new("/etc"))),
            Some(PathBuf::from("/x/y.csv"))
        );
        let dir = std::env::temp_dir().join(format!("handoff-ex-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.csv"), "text,intent\nhello,greet\nbye,drop\n").unwrap();
        let map = BTreeMap::from([
            ("greet".to_string(), "general/greeting".to_string()),
            ("drop".to_string(), String::new()),
        ]);
        let rows = load(&["a.csv".into()], Some(&dir), &map).unwrap();
        assert_eq!(rows, vec![("hello".into(), "general/greeting".into())]);
        let err = load(&["missing.csv".into()], Some(&dir), &map).unwrap_err();
        assert!(err.to_string().contains("missing.csv"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
