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
//! - [`IntentSource`]: the seam the builder reads intents through. This classifier is one
//!   source; a learned head on sentence embeddings ([`crate::semantic::TextEncoder`]) is
//!   another, plugged in with [`crate::compose::Builder::with_intent_source`].

pub mod examples;
pub mod features;

use features::{FeatureVec, Featurizer, Sink, BIGRAM, CHAR, FAMILY_WEIGHTS, WORD};
use std::cell::RefCell;

/// Where the builder gets an intent reading of the contact's words when the agent gave none (and,
/// for routing, beside the agent's). Implementations must be deterministic: the live builder,
/// `handoff replay` and `handoff eval` must read the same intent from the same text.
///
/// The builder consults its sources in order and takes the first prediction whose confidence
/// reaches `[builder.classifier] min_confidence`; when none does, the intent is `unknown` with
/// the best confidence seen. A semantic source goes *before* this lexical classifier to be used
/// in addition (the lexical one still decides where the semantic one is unsure), or alone to be
/// used instead.
pub trait IntentSource: Send + Sync + std::fmt::Debug {
    /// Recorded as the payload intent's `source` (`classifier`, `semantic`, ...).
    fn name(&self) -> &str;

    /// The intent of the contact's text parts read as one; `None` when the source has no
    /// opinion (no labels, nothing to read).
    fn predict_parts(&self, parts: &[&str]) -> Option<Prediction>;
}

impl IntentSource for IntentClassifier {
    fn name(&self) -> &str {
        "classifier"
    }

    fn predict_parts(&self, parts: &[&str]) -> Option<Prediction> {
        (!self.labels.is_empty()).then(|| IntentClassifier::predict_parts(self, parts))
    }
}

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
    /// Row-major `columns × stride`: each column's row holds one weight per label, padded with
    /// zeros to `stride` (a multiple of [`LANES`]) so that scoring runs in whole SIMD vectors.
    weights: Vec<f32>,
    stride: usize,
    bias: Vec<f32>,
}

/// Rows of the weight matrix are padded to a multiple of this many labels.
const LANES: usize = 8;

/// The features of one prediction, packed as `column << 2 | family`, with the running sum of
/// their squared weights (in feature order, as [`FeatureVec::normalize`] sums them).
#[derive(Default)]
struct Packed {
    items: Vec<u32>,
    sum_sq: f32,
}

impl Sink for Packed {
    #[inline]
    fn push_word(&mut self, word: u32, bigram: Option<u32>, grams: &[u32]) {
        let [w, b, c] = FAMILY_WEIGHTS;
        // The sum goes feature by feature, in order, as `FeatureVec::normalize` adds them up.
        let mut sum = self.sum_sq;
        self.items.reserve(2 + grams.len());
        self.items.push(word << 2 | WORD as u32);
        sum += w * w;
        if let Some(bigram) = bigram {
            self.items.push(bigram << 2 | BIGRAM as u32);
            sum += b * b;
        }
        self.items
            .extend(grams.iter().map(|&g| g << 2 | CHAR as u32));
        for _ in grams {
            sum += c * c;
        }
        self.sum_sq = sum;
    }
}

thread_local! {
    static SCRATCH: RefCell<(Featurizer, Packed, Vec<f32>)> =
        RefCell::new((Featurizer::new(16), Packed::default(), Vec::new()));
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
        let stride = k.div_ceil(LANES) * LANES;
        let mut model = IntentClassifier {
            config: TrainConfig {
                hash_bits: bits,
                ..config.clone()
            },
            labels,
            intent_of,
            intents,
            weights: vec![0.0; columns * stride],
            stride,
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
                    let start = col as usize * stride;
                    let row = &mut model.weights[start..start + k];
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
        self.score(
            x.items.len(),
            |i| {
                let (col, v) = x.items[i];
                (col as usize, v)
            },
            out,
        );
    }

    /// `out[l] = bias[l] + Σ weights[column_i][l] * v_i` over the items `(column_i, v_i)` in order:
    /// for every label the same multiplies and adds, in the same order, as a plain scalar loop
    /// (one rounding each, no fused multiply-add), only eight or four labels at a time.
    fn score(&self, n: usize, item: impl Fn(usize) -> (usize, f32), out: &mut [f32]) {
        let k = self.labels.len();
        let stride = self.stride;
        let mut stack = [0.0f32; 64];
        let mut heap = Vec::new();
        let acc: &mut [f32] = if stride <= stack.len() {
            &mut stack[..stride]
        } else {
            heap.resize(stride, 0.0);
            &mut heap
        };
        acc[..k].copy_from_slice(&self.bias);
        let weights = &self.weights[..];
        // Every row read is `stride` long and inside the matrix: columns are below
        // `1 << hash_bits` (the mask only makes that plain to see).
        let last_column = (weights.len() / stride.max(1)).saturating_sub(1);
        debug_assert!((last_column + 1).is_power_of_two());
        let rows = |i: usize| {
            let (col, v) = item(i);
            ((col & last_column) * stride, v)
        };
        kernel::score(weights, n, rows, acc);
        out[..k].copy_from_slice(&acc[..k]);
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
            x.sum_sq = 0.0;
            let mut budget = self.config.max_chars;
            for p in parts {
                if budget == 0 {
                    break;
                }
                featurizer.add_to(p, budget, x);
                budget = budget.saturating_sub(p.chars().count());
            }
            // What `FeatureVec::normalize` does, once per family instead of once per feature:
            // the same quotients.
            let norm = x.sum_sq.sqrt();
            let mut values = [0.0f32; 4];
            for (v, w) in values.iter_mut().zip(FAMILY_WEIGHTS) {
                *v = if norm > 0.0 { w / norm } else { w };
            }
            probs.clear();
            probs.resize(self.labels.len(), 0.0);
            let items = &x.items;
            self.score(
                items.len(),
                |i| {
                    let f = items[i];
                    ((f >> 2) as usize, values[(f & 3) as usize])
                },
                probs,
            );
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

/// The scoring loop: `acc[l] += weights[row + l] * v` for every item, in item order, over
/// `acc.len()` labels (a multiple of [`LANES`]). `item` must return rows with
/// `row + acc.len() <= weights.len()`.
mod kernel {
    #[cfg(target_arch = "x86_64")]
    pub(super) fn score(
        weights: &[f32],
        n: usize,
        item: impl Fn(usize) -> (usize, f32),
        acc: &mut [f32],
    ) {
        if acc.len().is_multiple_of(16) && std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F; rows are in bounds (the caller's contract).
            unsafe { x86::score_avx512(weights, n, &item, acc) }
        } else if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU has AVX; rows are in bounds (the caller's contract).
            unsafe { x86::score_avx(weights, n, &item, acc) }
        } else {
            // SAFETY: SSE2 is part of x86_64; rows as above.
            unsafe { x86::score_sse2(weights, n, &item, acc) }
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    pub(super) fn score(
        weights: &[f32],
        n: usize,
        item: impl Fn(usize) -> (usize, f32),
        acc: &mut [f32],
    ) {
        score_scalar(weights, n, item, acc)
    }

    /// The plain loop the vector kernels must agree with, bit for bit.
    #[cfg(any(test, not(target_arch = "x86_64")))]
    pub(super) fn score_scalar(
        weights: &[f32],
        n: usize,
        item: impl Fn(usize) -> (usize, f32),
        acc: &mut [f32],
    ) {
        let len = acc.len();
        for i in 0..n {
            let (row, v) = item(i);
            for (a, w) in acc.iter_mut().zip(&weights[row..row + len]) {
                *a += w * v;
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    pub(super) mod x86 {
        use std::arch::x86_64::*;

        /// One kernel per instruction set, all the same loop: labels in groups of registers of
        /// `$lanes` floats, kept in registers over all items (`acc[l] += weights[row + l] * v`).
        /// `$g` lists the group sizes, in registers, that `acc.len() / $lanes` can leave.
        macro_rules! kernel {
            ($score:ident, $group:ident, $feature:literal, $lanes:literal, $max:literal,
             [$($g:literal),+], $last:literal,
             $zero:ident, $load:ident, $splat:ident, $add:ident, $mul:ident, $store:ident) => {
                #[target_feature(enable = $feature)]
                pub(in crate::classify) unsafe fn $score(
                    weights: &[f32],
                    n: usize,
                    item: &impl Fn(usize) -> (usize, f32),
                    acc: &mut [f32],
                ) {
                    let chunks = acc.len() / $lanes;
                    let mut c = 0;
                    while c < chunks {
                        let g = (chunks - c).min($max);
                        unsafe {
                            match g {
                                $($g => $group::<$g>(weights, n, item, acc, c * $lanes),)+
                                _ => $group::<$last>(weights, n, item, acc, c * $lanes),
                            }
                        }
                        c += g;
                    }
                }

                #[target_feature(enable = $feature)]
                #[inline]
                unsafe fn $group<const G: usize>(
                    weights: &[f32],
                    n: usize,
                    item: &impl Fn(usize) -> (usize, f32),
                    acc: &mut [f32],
                    at: usize,
                ) {
                    unsafe {
                        let a = acc.as_mut_ptr().add(at);
                        let mut r = [$zero(); G];
                        for (j, r) in r.iter_mut().enumerate() {
                            *r = $load(a.add(j * $lanes));
                        }
                        for i in 0..n {
                            let (row, v) = item(i);
                            let v = $splat(v);
                            let w = weights.as_ptr().add(row + at);
                            for (j, r) in r.iter_mut().enumerate() {
                                *r = $add(*r, $mul($load(w.add(j * $lanes)), v));
                            }
                        }
                        for (j, r) in r.iter().enumerate() {
                            $store(a.add(j * $lanes), *r);
                        }
                    }
                }
            };
        }

        // Up to four 16-lane registers.
        kernel!(
            score_avx512,
            group_avx512,
            "avx512f",
            16,
            4,
            [1, 2, 3],
            4,
            _mm512_setzero_ps,
            _mm512_loadu_ps,
            _mm512_set1_ps,
            _mm512_add_ps,
            _mm512_mul_ps,
            _mm512_storeu_ps
        );
        // Up to four 8-lane registers.
        kernel!(
            score_avx,
            group_avx,
            "avx",
            8,
            4,
            [1, 2, 3],
            4,
            _mm256_setzero_ps,
            _mm256_loadu_ps,
            _mm256_set1_ps,
            _mm256_add_ps,
            _mm256_mul_ps,
            _mm256_storeu_ps
        );
        // Up to eight 4-lane registers (labels come in multiples of 8: an even count of them).
        kernel!(
            score_sse2,
            group_sse2,
            "sse2",
            4,
            8,
            [2, 4, 6],
            8,
            _mm_setzero_ps,
            _mm_loadu_ps,
            _mm_set1_ps,
            _mm_add_ps,
            _mm_mul_ps,
            _mm_storeu_ps
        );
    }
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

/// Labelled examples, `(text, label)`.
pub type Examples = Vec<(String, String)>;

/// The deterministic evaluation split used for every accuracy figure (`handoff eval`, the
/// builder bench): within each label, every fifth example in file order is held out; the rest
/// trains. Returns `(train, held_out)`.
pub fn holdout_split(rows: &[(String, String)]) -> (Examples, Examples) {
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let (mut train, mut held_out) = (Vec::new(), Vec::new());
    for r in rows {
        let n = seen.entry(r.1.as_str()).or_default();
        *n += 1;
        if n.is_multiple_of(5) {
            held_out.push(r.clone());
        } else {
            train.push(r.clone());
        }
    }
    (train, held_out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holdout_takes_every_fifth_example_of_each_label() {
        let rows: Vec<(String, String)> = (1..=10)
            .flat_map(|i| {
                [
                    (format!("a{i}"), "a".to_string()),
                    (format!("b{i}"), "b".to_string()),
                ]
            })
            .chain([("c1".to_string(), "c".to_string())])
            .collect();
        let (train, held_out) = holdout_split(&rows);
        let names: Vec<&str> = held_out.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(names, ["a5", "b5", "a10", "b10"]);
        assert_eq!(
            train.len(),
            17,
            "the rest trains, a label with one example included"
        );
        assert!(train.iter().all(|r| !names.contains(&r.0.as_str())));
    }

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

    /// Every vector kernel the CPU has gives the plain loop's sums, bit for bit.
    #[test]
    fn scoring_kernels_agree_with_the_plain_loop() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for stride in [8usize, 16, 24, 32, 48, 64, 80] {
            let columns = 64;
            let weights: Vec<f32> = (0..columns * stride)
                .map(|_| (next() % 20_001) as f32 / 7_777.0 - 1.3)
                .collect();
            let items: Vec<(usize, f32)> = (0..500)
                .map(|_| {
                    let col = (next() % columns as u64) as usize;
                    (
                        col * stride,
                        [1.0f32, 0.8, 0.35][(next() % 3) as usize] / 3.7,
                    )
                })
                .collect();
            let bias: Vec<f32> = (0..stride).map(|i| i as f32 * 0.013 - 0.1).collect();
            let item = |i: usize| items[i];
            let mut want = bias.clone();
            kernel::score_scalar(&weights, items.len(), item, &mut want);
            #[cfg(target_arch = "x86_64")]
            {
                let mut got = bias.clone();
                unsafe { kernel::x86::score_sse2(&weights, items.len(), &item, &mut got) };
                assert_eq!(got, want, "sse2, stride {stride}");
                if std::arch::is_x86_feature_detected!("avx") {
                    let mut got = bias.clone();
                    unsafe { kernel::x86::score_avx(&weights, items.len(), &item, &mut got) };
                    assert_eq!(got, want, "avx, stride {stride}");
                }
                if stride % 16 == 0 && std::arch::is_x86_feature_detected!("avx512f") {
                    let mut got = bias.clone();
                    unsafe { kernel::x86::score_avx512(&weights, items.len(), &item, &mut got) };
                    assert_eq!(got, want, "avx512, stride {stride}");
                }
            }
            let mut got = bias.clone();
            kernel::score(&weights, items.len(), item, &mut got);
            assert_eq!(got, want, "dispatch, stride {stride}");
        }
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
