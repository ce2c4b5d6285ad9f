//! Hashed text features: word unigrams and bigrams, and character 3–5-grams of each word.
//!
//! Text is lower-cased and every run of digits becomes one `0`, so "order 55120" and "order 7"
//! share features. Character n-grams are taken inside each word padded with `<` and `>` (as
//! fastText does), which makes the model robust to inflection and typos ("refund", "refunded",
//! "reembolso") without a stemmer per language. Every feature is hashed straight to a column of
//! the weight matrix: no vocabulary, no allocation per feature.

/// Weights of the feature families, relative to a word unigram.
const WORD_WEIGHT: f32 = 1.0;
const BIGRAM_WEIGHT: f32 = 0.8;
const CHAR_WEIGHT: f32 = 0.35;

/// Hash seeds keep the families apart.
const SEED_WORD: u64 = 0x9e37_79b9_7f4a_7c15;
const SEED_BIGRAM: u64 = 0xc2b2_ae3d_27d4_eb4f;
const SEED_CHAR: u64 = 0x1656_67b1_9e37_79f9;

/// Words at most this long contribute character n-grams (longer ones are ids, urls, noise).
const MAX_WORD_CHARS: usize = 24;

/// A sparse feature vector: (column, value) pairs, possibly with repeats (the model is linear, so
/// a repeat adds up exactly like a merged count).
#[derive(Debug, Default, Clone)]
pub struct FeatureVec {
    pub items: Vec<(u32, f32)>,
}

impl FeatureVec {
    /// Scales the vector to unit L2 norm.
    pub fn normalize(&mut self) {
        let norm: f32 = self.items.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            for (_, v) in &mut self.items {
                *v /= norm;
            }
        }
    }
}

#[inline]
fn mix(mut h: u64) -> u64 {
    // splitmix64 finaliser: spreads FNV's weak low bits over the whole word.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[inline]
fn fnv_step(h: u64, c: char) -> u64 {
    (h ^ u64::from(c)).wrapping_mul(0x0000_0100_0000_01b3)
}

/// Extracts features into `out` (appending), hashing into `1 << bits` columns.
pub struct Featurizer {
    bits: u32,
    /// Reused buffer for the current word's characters.
    word: Vec<char>,
}

impl Featurizer {
    pub fn new(bits: u32) -> Self {
        Featurizer {
            bits,
            word: Vec::with_capacity(32),
        }
    }

    /// The number of hash bits (columns are `1 << bits`).
    pub fn bits(&self) -> u32 {
        self.bits
    }

    #[inline]
    fn column(&self, h: u64) -> u32 {
        (mix(h) >> (64 - self.bits)) as u32
    }

    /// Appends the features of `text`. `max_chars` caps the characters read.
    pub fn add(&mut self, text: &str, max_chars: usize, out: &mut FeatureVec) {
        let mut prev_word: Option<u64> = None;
        let mut chars = text.chars().take(max_chars).peekable();
        loop {
            // Next word: a run of alphanumerics, lower-cased, digit runs collapsed to '0'.
            self.word.clear();
            while let Some(&c) = chars.peek() {
                if c.is_alphanumeric() {
                    break;
                }
                chars.next();
            }
            while let Some(&c) = chars.peek() {
                if !c.is_alphanumeric() {
                    break;
                }
                chars.next();
                if c.is_ascii_digit() || c.is_numeric() {
                    if self.word.last() != Some(&'0') {
                        self.word.push('0');
                    }
                } else if c.is_ascii() {
                    self.word.push(c.to_ascii_lowercase());
                } else {
                    self.word.extend(c.to_lowercase());
                }
            }
            if self.word.is_empty() {
                break;
            }
            let mut h = 0xcbf2_9ce4_8422_2325u64;
            for &c in &self.word {
                h = fnv_step(h, c);
            }
            out.items.push((self.column(h ^ SEED_WORD), WORD_WEIGHT));
            if let Some(p) = prev_word {
                let b = p.rotate_left(17) ^ h.wrapping_mul(31) ^ SEED_BIGRAM;
                out.items.push((self.column(b), BIGRAM_WEIGHT));
            }
            prev_word = Some(h);
            if self.word.len() <= MAX_WORD_CHARS {
                self.char_grams(out);
            }
        }
    }

    /// Character 3–5-grams of `<word>`.
    fn char_grams(&self, out: &mut FeatureVec) {
        let n = self.word.len() + 2;
        let at = |i: usize| -> char {
            if i == 0 {
                '<'
            } else if i == n - 1 {
                '>'
            } else {
                self.word[i - 1]
            }
        };
        if n < 3 {
            return;
        }
        for start in 0..=n - 3 {
            let mut h = 0xcbf2_9ce4_8422_2325u64 ^ SEED_CHAR;
            for len in 1..=5 {
                let i = start + len - 1;
                if i >= n {
                    break;
                }
                h = fnv_step(h, at(i));
                if len >= 3 {
                    out.items.push((self.column(h ^ len as u64), CHAR_WEIGHT));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_collapse_and_case_folds() {
        let mut f = Featurizer::new(16);
        let (mut a, mut b) = (FeatureVec::default(), FeatureVec::default());
        f.add("Refund ORDER 55120", 1000, &mut a);
        f.add("refund order 7", 1000, &mut b);
        assert_eq!(a.items, b.items);
    }

    #[test]
    fn columns_stay_in_range_and_short_text_works() {
        let mut f = Featurizer::new(10);
        let mut v = FeatureVec::default();
        f.add("a ü ß 1 — 😀 x", 1000, &mut v);
        assert!(v.items.iter().all(|(c, _)| *c < 1024));
        f.add("", 1000, &mut v);
    }
}
