//! Calibrates `rules.out_of_scope.domain_similarity`: for each threshold, the share of
//! in-domain queries flagged (false alarms) and of out-of-domain queries caught (recall).
//!
//! `cargo run --release -p handoff-semantic --example calibrate_domain -- CLINC_JSON DOMAINS_JSON`
//!
//! Per CLINC150 domain, the domain's train utterances are the tenant's examples; the domain's
//! val utterances must not fire, and the `oos_val` queries and a sample of the other domains'
//! val utterances must.

use handoff_core::semantic::{DomainIndex, TextEncoder};
use std::collections::BTreeMap;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data: BTreeMap<String, Vec<(String, String)>> =
        serde_json::from_str(&std::fs::read_to_string(&args[1]).unwrap()).unwrap();
    let domains: BTreeMap<String, Vec<String>> =
        serde_json::from_str(&std::fs::read_to_string(&args[2]).unwrap()).unwrap();
    let encoder = handoff_semantic::load_encoder().unwrap();
    let domain_of = |intent: &str| {
        domains
            .iter()
            .find(|(_, v)| v.iter().any(|i| i == intent))
            .map(|(d, _)| d.clone())
    };
    let oos: Vec<Vec<f32>> = data["oos_val"]
        .iter()
        .map(|(t, _)| encoder.embed(t))
        .collect();
    let val: Vec<(Vec<f32>, String)> = data["val"]
        .iter()
        .map(|(t, i)| (encoder.embed(t), domain_of(i).unwrap_or_default()))
        .collect();
    let thresholds: Vec<f32> = (20..=70).step_by(5).map(|t| t as f32 / 100.0).collect();
    let mut false_alarms = vec![(0usize, 0usize); thresholds.len()];
    let mut recall_oos = vec![(0usize, 0usize); thresholds.len()];
    let mut recall_other = vec![(0usize, 0usize); thresholds.len()];
    for d in domains.keys() {
        let examples: Vec<(String, String)> = data["train"]
            .iter()
            .filter(|(_, i)| domain_of(i).as_deref() == Some(d))
            .cloned()
            .collect();
        let index = DomainIndex::new(&examples, encoder.as_ref());
        for (k, t) in thresholds.iter().enumerate() {
            for (x, vd) in &val {
                let sim = index.nearest(x).similarity;
                if vd == d {
                    false_alarms[k].1 += 1;
                    false_alarms[k].0 += usize::from(sim < *t);
                } else if x.len() % 1 == 0 && (x[0].to_bits() % 7 == 0) {
                    recall_other[k].1 += 1;
                    recall_other[k].0 += usize::from(sim < *t);
                }
            }
            for x in &oos {
                recall_oos[k].1 += 1;
                recall_oos[k].0 += usize::from(index.nearest(x).similarity < *t);
            }
        }
    }
    println!("threshold  false-alarms  recall(oos)  recall(other domains)");
    for (k, t) in thresholds.iter().enumerate() {
        let r = |p: (usize, usize)| p.0 as f64 / p.1.max(1) as f64;
        println!(
            "{t:.2}       {:.3}         {:.3}        {:.3}",
            r(false_alarms[k]),
            r(recall_oos[k]),
            r(recall_other[k])
        );
    }
}
