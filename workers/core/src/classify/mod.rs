//! Intent classification: a multinomial logistic regression over hashed word uni/bigrams and
//! character 3–5-grams, trained from labelled `text,intent` examples.
//!
//! Labels are `intent` or `intent/sub_intent` (`billing/refund`); the classifier learns the full
//! labels and reports the intent whose sub-intents together carry the most probability, with the
//! best sub-intent inside it. Pure Rust, no vocabulary: features hash straight into a
//! `2^hash_bits × labels` weight matrix, so training on a thousand examples takes tens of
//! milliseconds and a prediction a few microseconds.
//!
//! Training is deterministic (a fixed-seed shuffle and no hash-map iteration), so every worker
//! and `handoff replay` trained on the same examples predict exactly alike.
//!
//! - [`features`]: the featuriser.
//! - [`examples`]: reading `text,intent` CSV files and the built-in default example set.

pub mod examples;
pub mod features;

use features::{FeatureVec, Featurizer};
use std::cell::RefCell;

/// How the classifier is trained.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Columns of the weight matrix are `1 << hash_bits`.
    pub hash_bits: u32,
    pub epochs: usize,
    /// Initial SGD step; it decays as `lr / (1 + decay * t)`.
    pub learning_rate: f32,
    /// L2 penalty (applied lazily, as weight decay per update).
    pub l2: f32,
    /// Characters of input read per text (the opening of a conversation says what it is about).
    pub max_chars: usize,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            hash_bits: 16,
            epochs: 12,
            learning_rate: 0.8,
            l2: 1e-6,
            max_chars: 1200,
            seed: 0x5eed_1234,
        }
    }
}

/// What the classifier says about a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The intent (the part of the label before `/`).
    pub intent: String,
    /// The best sub-intent within that intent, when the labels have one.
    pub sub_intent: Option<String>,
    /// Probability of the intent (summed over its sub-intents), in [0, 1].
    pub confidence: f64,
    /// Probability of the full `intent/sub_intent` label.
    pub label_confidence: f64,
    /// The full label as trained (`billing/refund`).
    pub label: String,
}

/// A trained intent classifier. Cheap to share (`Arc`); `predict` takes `&self`.
#[derive(Debug, Clone)]
pub struct IntentClassifier {
    config: TrainConfig,
    labels: Vec<String>,
    /// For each label, the index of its intent in `intents`.
    intent_of: Vec<usize>,
    intents: Vec<String>,
    /// Row-major `columns × labels`.
    weights: Vec<f32>,
    bias: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<(Featurizer, FeatureVec, Vec<f32>)> =
        RefCell::new((Featurizer::new(16), FeatureVec::default(), Vec::new()));
}

/// A tiny deterministic PRNG (xorshift64*) for the training shuffle.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

impl IntentClassifier {
    /// Trains with the default configuration on `(text, label)` pairs.
    pub fn train(examples: &[(String, String)]) -> Self {
        Self::train_with(examples, &TrainConfig::default())
    }

    /// Trains on `(text, label)` pairs. Labels are kept in first-seen order.
    pub fn train_with(examples: &[(String, String)], config: &TrainConfig) -> Self {
        let bits = config.hash_bits.clamp(8, 24);
        let mut labels: Vec<String> = Vec::new();
        let mut y: Vec<usize> = Vec::with_capacity(examples.len());
        for (_, label) in examples {
            let label = label.trim();
            let idx = match labels.iter().position(|l| l == label) {
                Some(i) => i,
                None => {
                    labels.push(label.to_string());
                    labels.len() - 1
                }
            };
            y.push(idx);
        }
        let mut intents: Vec<String> = Vec::new();
        let intent_of: Vec<usize> = labels
            .iter()
            .map(|l| {
                let intent = l.split('/').next().unwrap_or(l).to_string();
                match intents.iter().position(|i| *i == intent) {
                    Some(i) => i,
                    None => {
                        intents.push(intent);
                        intents.len() - 1
                    }
                }
            })
            .collect();
        let k = labels.len();
        let columns = 1usize << bits;
        let mut model = IntentClassifier {
            config: TrainConfig {
                hash_bits: bits,
                ..config.clone()
            },
            labels,
            intent_of,
            intents,
            weights: vec![0.0; columns * k],
            bias: vec![0.0; k],
        };
        if k == 0 {
            return model;
        }

        let mut featurizer = Featurizer::new(bits);
        let xs: Vec<FeatureVec> = examples
            .iter()
            .map(|(text, _)| {
                let mut v = FeatureVec::default();
                featurizer.add(text, config.max_chars, &mut v);
                v.normalize();
                v
            })
            .collect();

        // Plain SGD on the softmax cross-entropy with a decaying step, then the average of the
        // last epoch's iterates (averaging smooths the noise of the final steps).
        let mut order: Vec<usize> = (0..xs.len()).collect();
        let mut rng = Rng(config.seed | 1);
        let mut probs = vec![0.0f32; k];
        let mut t = 0usize;
        let decay = 1.0 / (xs.len().max(1) as f32 * 2.0);
        let keep = 1.0 - config.l2;
        for epoch in 0..config.epochs.max(1) {
            rng.shuffle(&mut order);
            for &i in &order {
                let lr = config.learning_rate / (1.0 + decay * t as f32);
                t += 1;
                model.scores_into(&xs[i], &mut probs);
                softmax(&mut probs);
                probs[y[i]] -= 1.0;
                for (c, &g) in probs.iter().enumerate() {
                    if g.abs() < 1e-5 {
                        continue;
                    }
                    model.bias[c] -= lr * g;
                }
                for &(col, x) in &xs[i].items {
                    let row = &mut model.weights[col as usize * k..(col as usize + 1) * k];
                    for (w, &g) in row.iter_mut().zip(probs.iter()) {
                        if g.abs() >= 1e-5 {
                            *w = *w * keep - lr * g * x;
                        }
                    }
                }
            }
            let _ = epoch;
        }
        model
    }

    /// The labels the model knows, in training order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    fn scores_into(&self, x: &FeatureVec, out: &mut [f32]) {
        let k = self.labels.len();
        out.copy_from_slice(&self.bias);
        for &(col, v) in &x.items {
            let row = &self.weights[col as usize * k..(col as usize + 1) * k];
            for (o, w) in out.iter_mut().zip(row) {
                *o += w * v;
            }
        }
    }

    /// Classifies one text.
    pub fn predict(&self, text: &str) -> Prediction {
        self.predict_parts(&[text])
    }

    /// Classifies several texts read as one (e.g. the contact's turns), up to `max_chars` in all.
    pub fn predict_parts(&self, parts: &[&str]) -> Prediction {
        if self.labels.is_empty() {
            return Prediction {
                intent: "unknown".into(),
                sub_intent: None,
                confidence: 0.0,
                label_confidence: 0.0,
                label: "unknown".into(),
            };
        }
        SCRATCH.with(|s| {
            let mut guard = s.borrow_mut();
            let (featurizer, x, probs) = &mut *guard;
            if featurizer_bits(featurizer) != self.config.hash_bits {
                *featurizer = Featurizer::new(self.config.hash_bits);
            }
            x.items.clear();
            let mut budget = self.config.max_chars;
            for p in parts {
                if budget == 0 {
                    break;
                }
                featurizer.add(p, budget, x);
                budget = budget.saturating_sub(p.chars().count());
            }
            x.normalize();
            probs.clear();
            probs.resize(self.labels.len(), 0.0);
            self.scores_into(x, probs);
            softmax(probs);
            self.decide(probs)
        })
    }

    /// The probability of every label for `text` (evaluation and tests).
    pub fn probabilities(&self, text: &str) -> Vec<(String, f64)> {
        let mut f = Featurizer::new(self.config.hash_bits);
        let mut x = FeatureVec::default();
        f.add(text, self.config.max_chars, &mut x);
        x.normalize();
        let mut probs = vec![0.0; self.labels.len()];
        self.scores_into(&x, &mut probs);
        softmax(&mut probs);
        self.labels
            .iter()
            .cloned()
            .zip(probs.iter().map(|&p| f64::from(p)))
            .collect()
    }

    fn decide(&self, probs: &[f32]) -> Prediction {
        let mut per_intent = [0.0f32; 64];
        let mut per_intent_vec;
        let sums: &mut [f32] = if self.intents.len() <= 64 {
            &mut per_intent[..self.intents.len()]
        } else {
            per_intent_vec = vec![0.0; self.intents.len()];
            &mut per_intent_vec
        };
        for (l, &p) in probs.iter().enumerate() {
            sums[self.intent_of[l]] += p;
        }
        let best_intent = argmax(sums);
        let best_label = probs
            .iter()
            .enumerate()
            .filter(|(l, _)| self.intent_of[*l] == best_intent)
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(l, _)| l)
            .unwrap_or(0);
        let label = &self.labels[best_label];
        Prediction {
            intent: self.intents[best_intent].clone(),
            sub_intent: label.split_once('/').map(|(_, s)| s.to_string()),
            confidence: f64::from(sums[best_intent]),
            label_confidence: f64::from(probs[best_label]),
            label: label.clone(),
        }
    }
}

fn featurizer_bits(f: &Featurizer) -> u32 {
    f.bits()
}

fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

fn softmax(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    if sum > 0.0 {
        for x in v.iter_mut() {
            *x /= sum;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(t, l)| (t.to_string(), l.to_string()))
            .collect()
    }

    #[test]
    fn learns_a_toy_problem_and_groups_sub_intents() {
        let data = ex(&[
            ("I want my money back", "billing/refund"),
            ("please refund my order", "billing/refund"),
            ("refund the charge", "billing/refund"),
            ("send me the invoice", "billing/invoice"),
            ("I need a copy of my invoice", "billing/invoice"),
            ("where is the invoice for march", "billing/invoice"),
            ("I cannot log in", "technical/login"),
            ("login fails with my password", "technical/login"),
            (
                "the password reset does not work, can't sign in",
                "technical/login",
            ),
        ]);
        let c = IntentClassifier::train(&data);
        let p = c.predict("can you refund me please");
        assert_eq!(p.intent, "billing");
        assert_eq!(p.sub_intent.as_deref(), Some("refund"));
        assert!(p.confidence >= p.label_confidence);
        let p = c.predict("I can't log in to my account");
        assert_eq!(p.label, "technical/login");
        assert!(p.confidence > 0.5, "{p:?}");
    }

    #[test]
    fn training_is_deterministic_and_empty_is_safe() {
        let data = ex(&[("a b c", "x"), ("d e f", "y"), ("a c", "x"), ("e f", "y")]);
        let a = IntentClassifier::train(&data);
        let b = IntentClassifier::train(&data);
        assert_eq!(a.weights, b.weights);
        let empty = IntentClassifier::train(&[]);
        assert_eq!(empty.predict("anything").intent, "unknown");
    }
}
