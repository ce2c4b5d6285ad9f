//! `handoff train`: fits the learned detectors' heads and writes `models/heads.json`.
//!
//! Every row is embedded with the encoder the detector runs (the static one), so the heads score
//! the same vectors at run time. Our own examples (`models/training/*.csv`, `text,label,lang`)
//! are the core of every head; with `--public DIR` (the public sets of `../shared/data`, never
//! copied into the repo) Bitext, Banking77 and CLINC150 rows are added where they fit. The heads
//! file records, per head, each file used with its sha256 and row count, and the validation
//! metrics on the fifth of the rows held out before the final fit.

use anyhow::{bail, Context};
use handoff_core::semantic::heads::{self, DataSource, Heads, TrainConfig};
use handoff_core::semantic::TextEncoder;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// The rows of one head: texts, labels, and where they came from.
#[derive(Default)]
struct Rows {
    texts: Vec<String>,
    labels: Vec<String>,
    sources: Vec<DataSource>,
}

impl Rows {
    fn add(&mut self, file: &str, sha256: &str, rows: impl IntoIterator<Item = (String, String)>) {
        let before = self.texts.len();
        for (t, l) in rows {
            self.texts.push(t);
            self.labels.push(l);
        }
        let rows = self.texts.len() - before;
        if rows > 0 {
            self.sources.push(DataSource {
                file: file.to_string(),
                sha256: sha256.to_string(),
                rows,
            });
        }
    }
}

/// One of our CSVs: its `(text, label)` rows, display name and hash.
struct Csv {
    name: String,
    sha256: String,
    rows: Vec<(String, String)>,
}

fn read_ours(dir: &Path, file: &str) -> anyhow::Result<Csv> {
    let path = dir.join(file);
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let mut rows = Vec::new();
    for (i, r) in reader.records().enumerate() {
        let r = r.with_context(|| format!("{} row {}", path.display(), i + 2))?;
        let (Some(t), Some(l)) = (r.get(0), r.get(1)) else {
            bail!("{} row {}: needs text,label", path.display(), i + 2);
        };
        if !t.trim().is_empty() {
            rows.push((t.trim().to_string(), l.trim().to_string()));
        }
    }
    Ok(Csv {
        name: format!("models/training/{file}"),
        sha256: hex::encode(Sha256::digest(&bytes)),
        rows,
    })
}

fn relabel(
    rows: &[(String, String)],
    f: impl Fn(&str) -> Option<&'static str>,
) -> Vec<(String, String)> {
    rows.iter()
        .filter_map(|(t, l)| f(l).map(|l| (t.clone(), l.to_string())))
        .collect()
}

/// Public rows that fit a head, read from `../shared/data` (recorded by name and hash).
struct Public {
    /// Bitext: explicit requests for a human, and everything else.
    bitext_explicit: Option<Csv>,
    /// Banking77: fraud and security intents, and a sample of the rest.
    banking_fraud: Option<Csv>,
    /// CLINC150: out-of-scope queries (`oos_train`).
    clinc_oos: Option<Csv>,
    /// Ordinary support requests (Bitext and Banking77 samples): negatives for every contact
    /// head, so the heads learn what everyday support text looks like. Labelled by intent.
    ordinary: Vec<Csv>,
}

fn file_hash(path: &Path) -> anyhow::Result<(Vec<u8>, String)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let h = hex::encode(Sha256::digest(&bytes));
    Ok((bytes, h))
}

fn read_public(dir: &Path) -> anyhow::Result<Public> {
    let mut ordinary = Vec::new();
    let bitext = dir.join("bitext/dev.csv");
    let bitext_explicit = if bitext.exists() {
        let (bytes, sha256) = file_hash(&bitext)?;
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        let mut rows = Vec::new();
        let mut plain = Vec::new();
        for (i, r) in reader.records().enumerate() {
            let r = r?;
            let (Some(t), Some(h)) = (r.get(0), r.get(4)) else {
                continue;
            };
            if i % 2 == 0 && h != "explicit_human_request" {
                plain.push((t.to_string(), r.get(1).unwrap_or_default().to_string()));
            }
            let label = if h == "explicit_human_request" {
                "request"
            } else {
                "other"
            };
            rows.push((t.to_string(), label.to_string()));
        }
        ordinary.push(Csv {
            name: "public:bitext/dev.csv".into(),
            sha256: sha256.clone(),
            rows: plain,
        });
        Some(Csv {
            name: "public:bitext/dev.csv".into(),
            sha256,
            rows,
        })
    } else {
        None
    };
    let banking = dir.join("banking77/train.csv");
    let banking_fraud = if banking.exists() {
        let (bytes, sha256) = file_hash(&banking)?;
        let map: BTreeMap<String, String> = serde_json::from_slice(
            &std::fs::read(dir.join("banking77/intent_to_team.json"))
                .context("reading banking77/intent_to_team.json")?,
        )?;
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        let mut rows = Vec::new();
        let mut plain = Vec::new();
        for (i, r) in reader.records().enumerate() {
            let r = r?;
            let (Some(t), Some(c)) = (r.get(0), r.get(1)) else {
                continue;
            };
            if i % 10 == 5 && map.get(c).is_none_or(|t| t != "security_fraud") {
                plain.push((t.to_string(), c.to_string()));
            }
            // Lost phones are a security matter but not fraud a person must stop now.
            let fraud =
                map.get(c).is_some_and(|t| t == "security_fraud") && c != "lost_or_stolen_phone";
            if fraud {
                rows.push((t.to_string(), "fraud".to_string()));
            } else if i % 8 == 0 {
                rows.push((t.to_string(), "other".to_string()));
            }
        }
        ordinary.push(Csv {
            name: "public:banking77/train.csv".into(),
            sha256: sha256.clone(),
            rows: plain,
        });
        Some(Csv {
            name: "public:banking77/train.csv".into(),
            sha256,
            rows,
        })
    } else {
        None
    };
    let clinc = dir.join("clinc150/data_full_train_val.json");
    let clinc_oos = if clinc.exists() {
        let (bytes, sha256) = file_hash(&clinc)?;
        let data: BTreeMap<String, Vec<(String, String)>> = serde_json::from_slice(&bytes)?;
        let rows = data
            .get("oos_train")
            .map(|r| {
                r.iter()
                    .map(|(t, _)| (t.clone(), "out_of_domain".to_string()))
                    .collect()
            })
            .unwrap_or_default();
        Some(Csv {
            name: "public:clinc150/data_full_train_val.json#oos_train".into(),
            sha256,
            rows,
        })
    } else {
        None
    };
    Ok(Public {
        bitext_explicit,
        banking_fraud,
        clinc_oos,
        ordinary,
    })
}

/// Which rows each head is fitted on.
fn assemble(data: &Path, public: Option<&Public>) -> anyhow::Result<BTreeMap<&'static str, Rows>> {
    let intent = read_ours(data, "intent.csv")?;
    // Plain routing requests: hard negatives for the detectors they do not belong to.
    let plain = |exclude: &'static [&'static str]| {
        relabel(&intent.rows, move |l| {
            (!exclude.contains(&l)).then_some("other")
        })
    };
    let mut heads: BTreeMap<&'static str, Rows> = BTreeMap::new();
    for (head, file, negatives_exclude) in [
        ("explicit_request", "explicit_request.csv", Some(&[][..])),
        ("fraud", "fraud.csv", Some(&["fraud", "account"][..])),
        ("compliance", "compliance.csv", Some(&["retention"][..])),
        ("threat", "threat.csv", Some(&["retention"][..])),
        ("frustration", "frustration.csv", Some(&[][..])),
        ("safety", "safety.csv", Some(&[][..])),
        ("agent_transfer_promise", "agent_transfer_promise.csv", None),
        ("intent", "intent.csv", None),
    ] {
        let csv = read_ours(data, file)?;
        let rows = heads.entry(head).or_default();
        rows.add(&csv.name, &csv.sha256, csv.rows.clone());
        if let Some(exclude) = negatives_exclude {
            rows.add(
                &format!("{} (as other)", intent.name),
                &intent.sha256,
                plain(exclude),
            );
        }
    }
    // Out of domain: requests no desk handles, against every in-domain contact text we have.
    let ood = read_ours(data, "out_of_domain.csv")?;
    let rows = heads.entry("out_of_domain").or_default();
    rows.add(&ood.name, &ood.sha256, ood.rows.clone());
    rows.add(
        &format!("{} (as in_domain)", intent.name),
        &intent.sha256,
        relabel(&intent.rows, |_| Some("in_domain")),
    );
    for file in [
        "explicit_request.csv",
        "fraud.csv",
        "compliance.csv",
        "frustration.csv",
    ] {
        let csv = read_ours(data, file)?;
        rows.add(
            &format!("{} (as in_domain)", csv.name),
            &csv.sha256,
            relabel(&csv.rows, |_| Some("in_domain")),
        );
    }
    if let Some(p) = public {
        if let Some(c) = &p.bitext_explicit {
            heads.get_mut("explicit_request").expect("head").add(
                &c.name,
                &c.sha256,
                c.rows.clone(),
            );
        }
        if let Some(c) = &p.banking_fraud {
            heads
                .get_mut("fraud")
                .expect("head")
                .add(&c.name, &c.sha256, c.rows.clone());
            let in_domain = relabel(&c.rows, |_| Some("in_domain"));
            heads.get_mut("out_of_domain").expect("head").add(
                &format!("{} (as in_domain)", c.name),
                &c.sha256,
                in_domain,
            );
        }
        // Intents that overlap a head stay out of its negatives (a newsletter cancellation is
        // an opt-out; a complaint may be a threat or frustration).
        for (head, skip) in [
            ("fraud", &[][..]),
            (
                "compliance",
                &["newsletter_subscription", "delete_account"][..],
            ),
            ("threat", &["complaint", "cancel_order"][..]),
            ("frustration", &["complaint"][..]),
            ("safety", &[][..]),
        ] {
            for c in &p.ordinary {
                let rows: Vec<(String, String)> = c
                    .rows
                    .iter()
                    .filter(|(_, intent)| !skip.contains(&intent.as_str()))
                    .map(|(t, _)| (t.clone(), "other".to_string()))
                    .collect();
                let name = format!("{} (sample, as other)", c.name);
                heads
                    .get_mut(head)
                    .expect("head")
                    .add(&name, &c.sha256, rows);
            }
        }
        if let Some(c) = &p.clinc_oos {
            heads
                .get_mut("out_of_domain")
                .expect("head")
                .add(&c.name, &c.sha256, c.rows.clone());
        }
    }
    Ok(heads)
}

/// Labels in a fixed order: `other` (or `in_domain`) last, the rest sorted.
fn label_order(labels: &[String]) -> Vec<String> {
    let mut distinct: Vec<String> = labels.to_vec();
    distinct.sort();
    distinct.dedup();
    let rest = |l: &String| l == "other" || l == "in_domain";
    let mut out: Vec<String> = distinct.iter().filter(|l| !rest(l)).cloned().collect();
    out.extend(distinct.into_iter().filter(rest));
    out
}

/// Fits every head and writes the heads file; prints each head's validation.
pub fn run(
    encoder: &dyn TextEncoder,
    data: &Path,
    public: Option<&Path>,
    out: &Path,
) -> anyhow::Result<()> {
    let public = public.map(read_public).transpose()?;
    let rows = assemble(data, public.as_ref())?;
    let mut result = Heads::new(encoder.id(), handoff_core::semantic::DIM);
    let mut cache: BTreeMap<String, Vec<f32>> = BTreeMap::new();
    for (name, r) in rows {
        let labels = label_order(&r.labels);
        let xs: Vec<Vec<f32>> = r
            .texts
            .iter()
            .map(|t| {
                cache
                    .entry(t.clone())
                    .or_insert_with(|| encoder.embed(t))
                    .clone()
            })
            .collect();
        let ys: Vec<usize> = r
            .labels
            .iter()
            .map(|l| labels.iter().position(|x| x == l).expect("label listed"))
            .collect();
        // Interleave the rows (files are grouped by label) so the held-out fifth covers all.
        let order = interleaved(xs.len());
        let xs: Vec<Vec<f32>> = order.iter().map(|&i| xs[i].clone()).collect();
        let ys: Vec<usize> = order.iter().map(|&i| ys[i]).collect();
        let mut head = heads::fit(&labels, &xs, &ys, TrainConfig::default());
        head.data = r.sources;
        let v = &head.validation;
        let per: Vec<String> = v
            .per_label
            .iter()
            .map(|(l, m)| format!("{l} P {:.3} R {:.3}", m.precision, m.recall))
            .collect();
        println!(
            "{name:<24} rows {:>5}  validation accuracy {:.3} ({})",
            xs.len(),
            v.accuracy,
            per.join(", ")
        );
        result.heads.insert(name.to_string(), head);
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(out, result.to_json()).with_context(|| format!("writing {}", out.display()))?;
    println!("wrote {} (encoder {})", out.display(), encoder.id());
    Ok(())
}

/// A fixed permutation that spreads neighbouring rows apart (a stride coprime with `n`).
fn interleaved(n: usize) -> Vec<usize> {
    if n < 3 {
        return (0..n).collect();
    }
    let mut stride = (n as f64 * 0.618) as usize;
    while gcd(stride, n) != 1 {
        stride += 1;
    }
    (0..n).map(|i| (i * stride) % n).collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaving_is_a_permutation() {
        for n in [0, 1, 2, 3, 10, 97, 100] {
            let mut p = interleaved(n);
            p.sort();
            assert_eq!(p, (0..n).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_catch_all_label_goes_last() {
        let l: Vec<String> = ["other", "opt_out", "deletion", "opt_out"]
            .map(String::from)
            .to_vec();
        assert_eq!(label_order(&l), vec!["deletion", "opt_out", "other"]);
    }
}
