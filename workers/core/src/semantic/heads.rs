//! Learned heads: one multinomial logistic regression (softmax, L2) per detector, on top of the
//! sentence embedding. Pure math, no model runtime: `handoff train` fits them on embedded
//! training rows and writes `models/heads.json`; the detector loads that file and scores every
//! turn with a few dot products.
//!
//! Training is deterministic (full-batch gradient descent from zero weights on standardised
//! features), so the same rows and the same encoder always give the same file. The file records
//! the encoder id it was trained on: an embedding from another encoder lives in another space,
//! so loading refuses it instead of scoring nonsense.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The version of the heads file layout.
pub const FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum HeadsError {
    #[error("cannot read heads file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid heads file {path}: {message}")]
    Invalid { path: String, message: String },
    #[error(
        "heads file {path} was trained on encoder {trained_on:?}, but the loaded encoder is \
         {loaded:?}; retrain with `handoff train` or load the matching model"
    )]
    EncoderMismatch {
        path: String,
        trained_on: String,
        loaded: String,
    },
}

/// Where the rows of a head came from: a file, its content hash and how many rows it gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSource {
    pub file: String,
    pub sha256: String,
    pub rows: usize,
}

/// Precision and recall of one label on the validation rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelMetrics {
    pub precision: f64,
    pub recall: f64,
    pub support: usize,
}

/// How a head did on rows it was not fitted on (every fifth row, held out before the final fit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Validation {
    pub rows: usize,
    pub accuracy: f64,
    pub per_label: BTreeMap<String, LabelMetrics>,
}

/// One softmax classifier: `p = softmax(W x + b)`, `W` one row per label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Head {
    pub labels: Vec<String>,
    pub weights: Vec<Vec<f32>>,
    pub bias: Vec<f32>,
    #[serde(default)]
    pub data: Vec<DataSource>,
    #[serde(default)]
    pub validation: Validation,
}

/// Every head, keyed by detector name, and the encoder they were fitted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heads {
    pub format: u32,
    pub encoder_id: String,
    pub dim: usize,
    pub heads: BTreeMap<String, Head>,
}

impl Head {
    /// Label probabilities for an embedding, in `labels` order.
    pub fn probabilities(&self, x: &[f32]) -> Vec<f32> {
        let logits: Vec<f32> = self
            .weights
            .iter()
            .zip(&self.bias)
            .map(|(w, b)| dot(w, x) + b)
            .collect();
        softmax(&logits)
    }

    /// The probability of one label (0 when the head has no such label).
    pub fn probability(&self, x: &[f32], label: &str) -> f32 {
        match self.labels.iter().position(|l| l == label) {
            Some(i) => self.probabilities(x)[i],
            None => 0.0,
        }
    }

    /// The most probable label and its probability.
    pub fn best(&self, x: &[f32]) -> (&str, f32) {
        let p = self.probabilities(x);
        let (i, v) = p
            .iter()
            .enumerate()
            .fold((0, f32::MIN), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
        (self.labels[i].as_str(), v)
    }
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Four accumulators: the compiler vectorises the independent chains.
    let mut acc = [0f32; 4];
    let chunks = a.len().min(b.len()) / 4;
    for i in 0..chunks {
        let j = i * 4;
        acc[0] += a[j] * b[j];
        acc[1] += a[j + 1] * b[j + 1];
        acc[2] += a[j + 2] * b[j + 2];
        acc[3] += a[j + 3] * b[j + 3];
    }
    let mut s = acc[0] + acc[1] + acc[2] + acc[3];
    for j in chunks * 4..a.len().min(b.len()) {
        s += a[j] * b[j];
    }
    s
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::MIN, f32::max);
    let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

impl Heads {
    pub fn new(encoder_id: &str, dim: usize) -> Heads {
        Heads {
            format: FORMAT,
            encoder_id: encoder_id.to_string(),
            dim,
            heads: BTreeMap::new(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Head> {
        self.heads.get(name)
    }

    /// Reads a heads file and checks it fits the loaded encoder (`encoder_id`, `dim`).
    pub fn load(path: &Path, encoder_id: &str, dim: usize) -> Result<Heads, HeadsError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| HeadsError::Read {
            path: shown.clone(),
            source,
        })?;
        let heads = Heads::from_json(&text, &shown)?;
        if heads.encoder_id != encoder_id {
            return Err(HeadsError::EncoderMismatch {
                path: shown,
                trained_on: heads.encoder_id,
                loaded: encoder_id.to_string(),
            });
        }
        if heads.dim != dim {
            return Err(HeadsError::Invalid {
                path: shown,
                message: format!("dim {} but the encoder embeds in {dim}", heads.dim),
            });
        }
        Ok(heads)
    }

    /// Parses and checks the shapes (one weight row per label, each `dim` long).
    pub fn from_json(text: &str, origin: &str) -> Result<Heads, HeadsError> {
        let invalid = |message: String| HeadsError::Invalid {
            path: origin.to_string(),
            message,
        };
        let heads: Heads = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if heads.format != FORMAT {
            return Err(invalid(format!(
                "format {} (this build reads {FORMAT})",
                heads.format
            )));
        }
        for (name, h) in &heads.heads {
            if h.labels.len() < 2
                || h.weights.len() != h.labels.len()
                || h.bias.len() != h.labels.len()
                || h.weights.iter().any(|w| w.len() != heads.dim)
            {
                return Err(invalid(format!(
                    "heads.{name}: needs at least two labels, one weight row of {} and one bias per label",
                    heads.dim
                )));
            }
        }
        Ok(heads)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("heads serialise")
    }
}

/// How a head is fitted.
#[derive(Debug, Clone, Copy)]
pub struct TrainConfig {
    /// L2 penalty on the weights (on standardised features).
    pub l2: f32,
    pub epochs: usize,
    pub learning_rate: f32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            l2: 1e-2,
            epochs: 150,
            learning_rate: 0.5,
        }
    }
}

/// Fits a softmax head on `xs` (embeddings) and `ys` (label indices into `labels`): first on
/// four fifths of the rows to measure it on the fifth left out, then on every row. Classes are
/// weighted by inverse frequency, so a rare label is not drowned by the common one.
pub fn fit(labels: &[String], xs: &[Vec<f32>], ys: &[usize], config: TrainConfig) -> Head {
    assert_eq!(xs.len(), ys.len(), "one label per row");
    let (train, held): (Vec<usize>, Vec<usize>) = (0..xs.len()).partition(|i| i % 5 != 4);
    let validation = if held.is_empty() || train.is_empty() {
        Validation::default()
    } else {
        let pick = |ix: &[usize]| -> (Vec<Vec<f32>>, Vec<usize>) {
            (
                ix.iter().map(|&i| xs[i].clone()).collect(),
                ix.iter().map(|&i| ys[i]).collect(),
            )
        };
        let (tx, ty) = pick(&train);
        let (vx, vy) = pick(&held);
        let head = fit_all(labels, &tx, &ty, config);
        validate(&head, &vx, &vy)
    };
    let mut head = fit_all(labels, xs, ys, config);
    head.validation = validation;
    head
}

/// Accuracy and per-label precision/recall of `head` on labelled rows.
pub fn validate(head: &Head, xs: &[Vec<f32>], ys: &[usize]) -> Validation {
    let k = head.labels.len();
    let mut confusion = vec![vec![0usize; k]; k]; // [truth][predicted]
    for (x, &y) in xs.iter().zip(ys) {
        let p = head.probabilities(x);
        let pred = argmax(&p);
        confusion[y][pred] += 1;
    }
    let correct: usize = (0..k).map(|i| confusion[i][i]).sum();
    let per_label = (0..k)
        .map(|i| {
            let predicted: usize = (0..k).map(|t| confusion[t][i]).sum();
            let support: usize = confusion[i].iter().sum();
            let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
            (
                head.labels[i].clone(),
                LabelMetrics {
                    precision: ratio(confusion[i][i], predicted),
                    recall: ratio(confusion[i][i], support),
                    support,
                },
            )
        })
        .collect();
    Validation {
        rows: xs.len(),
        accuracy: if xs.is_empty() {
            0.0
        } else {
            correct as f64 / xs.len() as f64
        },
        per_label,
    }
}

fn argmax(p: &[f32]) -> usize {
    p.iter()
        .enumerate()
        .fold((0, f32::MIN), |a, (i, &v)| if v > a.1 { (i, v) } else { a })
        .0
}

/// Full-batch gradient descent with momentum (0.9) on standardised features; the standardisation is folded back
/// into the weights and bias, so scoring is a plain dot product on the raw embedding.
fn fit_all(labels: &[String], xs: &[Vec<f32>], ys: &[usize], config: TrainConfig) -> Head {
    let k = labels.len();
    let n = xs.len();
    let dim = xs.first().map_or(0, Vec::len);
    let (mean, scale) = standardisation(xs, dim);
    let z: Vec<Vec<f32>> = xs
        .iter()
        .map(|x| {
            x.iter()
                .zip(&mean)
                .zip(&scale)
                .map(|((v, m), s)| (v - m) / s)
                .collect()
        })
        .collect();
    let mut counts = vec![0usize; k];
    for &y in ys {
        counts[y] += 1;
    }
    // Inverse-frequency weights, normalised so they average to 1 over the rows.
    let class_weight: Vec<f32> = counts
        .iter()
        .map(|&c| {
            if c == 0 {
                0.0
            } else {
                n as f32 / (k as f32 * c as f32)
            }
        })
        .collect();

    let mut w = vec![vec![0f32; dim]; k];
    let mut b = vec![0f32; k];
    // Heavy-ball momentum: the same minimum in a fraction of the epochs plain descent needs.
    let mut vw = vec![vec![0f32; dim]; k];
    let mut vb = vec![0f32; k];
    for _ in 0..config.epochs {
        let mut gw = vec![vec![0f32; dim]; k];
        let mut gb = vec![0f32; k];
        for (x, &y) in z.iter().zip(ys) {
            let logits: Vec<f32> = (0..k).map(|c| dot(&w[c], x) + b[c]).collect();
            let p = softmax(&logits);
            for c in 0..k {
                let g = (p[c] - if c == y { 1.0 } else { 0.0 }) * class_weight[y];
                gb[c] += g;
                for (gwi, xi) in gw[c].iter_mut().zip(x) {
                    *gwi += g * xi;
                }
            }
        }
        let step = config.learning_rate / n.max(1) as f32;
        for c in 0..k {
            for ((wi, gi), vi) in w[c].iter_mut().zip(&gw[c]).zip(vw[c].iter_mut()) {
                *vi = 0.9 * *vi + step * gi + config.learning_rate * config.l2 * *wi;
                *wi -= *vi;
            }
            vb[c] = 0.9 * vb[c] + step * gb[c];
            b[c] -= vb[c];
        }
    }
    // Fold the standardisation back: w·((x-m)/s) + b = (w/s)·x + (b - Σ w m / s).
    for c in 0..k {
        let mut shift = 0f32;
        for i in 0..dim {
            w[c][i] /= scale[i];
            shift += w[c][i] * mean[i];
        }
        b[c] -= shift;
    }
    Head {
        labels: labels.to_vec(),
        weights: w,
        bias: b,
        data: Vec::new(),
        validation: Validation::default(),
    }
}

fn standardisation(xs: &[Vec<f32>], dim: usize) -> (Vec<f32>, Vec<f32>) {
    let n = xs.len().max(1) as f32;
    let mut mean = vec![0f32; dim];
    for x in xs {
        for (m, v) in mean.iter_mut().zip(x) {
            *m += v / n;
        }
    }
    let mut var = vec![0f32; dim];
    for x in xs {
        for ((s, v), m) in var.iter_mut().zip(x).zip(&mean) {
            *s += (v - m) * (v - m) / n;
        }
    }
    // A constant feature keeps scale 1 (it carries no signal and must not divide by zero).
    let scale = var
        .into_iter()
        .map(|v| if v > 1e-12 { v.sqrt() } else { 1.0 })
        .collect();
    (mean, scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points around three unit directions in 8 dimensions, deterministic jitter.
    fn three_clusters(per_class: usize) -> (Vec<Vec<f32>>, Vec<usize>) {
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        let mut seed = 7u32;
        let mut jitter = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            ((seed >> 16) % 1000) as f32 / 1000.0 * 0.6 - 0.3
        };
        for i in 0..per_class * 3 {
            let class = i % 3;
            let mut x: Vec<f32> = (0..8).map(|_| jitter()).collect();
            x[class] += 1.0;
            xs.push(x);
            ys.push(class);
        }
        (xs, ys)
    }

    fn labels() -> Vec<String> {
        vec!["a".into(), "b".into(), "c".into()]
    }

    #[test]
    fn separable_clusters_are_learned_and_validated() {
        let (xs, ys) = three_clusters(40);
        let head = fit(&labels(), &xs, &ys, TrainConfig::default());
        assert_eq!(head.validation.rows, 24);
        assert!(head.validation.accuracy > 0.95, "{:?}", head.validation);
        let mut probe = vec![0f32; 8];
        probe[1] = 1.0;
        assert_eq!(head.best(&probe).0, "b");
        assert!(head.probability(&probe, "b") > 0.8);
        let p = head.probabilities(&probe);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn training_is_deterministic() {
        let (xs, ys) = three_clusters(20);
        let a = fit(&labels(), &xs, &ys, TrainConfig::default());
        let b = fit(&labels(), &xs, &ys, TrainConfig::default());
        assert_eq!(a, b);
    }

    #[test]
    fn a_stronger_penalty_gives_smaller_weights() {
        let (xs, ys) = three_clusters(20);
        let norm = |h: &Head| -> f32 { h.weights.iter().flatten().map(|w| w * w).sum() };
        let loose = fit(
            &labels(),
            &xs,
            &ys,
            TrainConfig {
                l2: 0.0,
                ..Default::default()
            },
        );
        let tight = fit(
            &labels(),
            &xs,
            &ys,
            TrainConfig {
                l2: 0.1,
                ..Default::default()
            },
        );
        assert!(
            norm(&tight) < norm(&loose),
            "{} vs {}",
            norm(&tight),
            norm(&loose)
        );
    }

    #[test]
    fn round_trips_and_refuses_another_encoder() {
        let (xs, ys) = three_clusters(10);
        let mut heads = Heads::new("enc@1", 8);
        heads.heads.insert(
            "toy".into(),
            fit(&labels(), &xs, &ys, TrainConfig::default()),
        );
        let dir = std::env::temp_dir().join(format!("heads-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("heads.json");
        std::fs::write(&path, heads.to_json()).unwrap();
        assert_eq!(Heads::load(&path, "enc@1", 8).unwrap(), heads);
        let err = Heads::load(&path, "enc@2", 8).unwrap_err().to_string();
        assert!(
            err.contains("heads.json") && err.contains("enc@1") && err.contains("enc@2"),
            "{err}"
        );
        let err = Heads::load(&path, "enc@1", 16).unwrap_err().to_string();
        assert!(err.contains("dim 8"), "{err}");
        let err = Heads::load(&dir.join("missing.json"), "enc@1", 8)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.json"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn malformed_shapes_are_refused() {
        let text = r#"{"format":1,"encoder_id":"e","dim":2,"heads":{"x":{"labels":["a","b"],"weights":[[1,2]],"bias":[0,0]}}}"#;
        let err = Heads::from_json(text, "h.json").unwrap_err().to_string();
        assert!(err.contains("h.json") && err.contains("heads.x"), "{err}");
    }
}
