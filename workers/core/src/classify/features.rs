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

/// Where the featuriser writes its features, a word at a time and in order: a [`FeatureVec`],
/// or the classifier's prediction scratch, which packs them tighter.
pub(crate) trait Sink {
    /// One word's features: the word, the bigram with the previous word (if any), then its
    /// character n-grams.
    fn push_word(&mut self, word: u32, bigram: Option<u32>, grams: &[u32]);
}

/// Feature families, the index into [`FAMILY_WEIGHTS`].
pub(crate) const WORD: usize = 0;
pub(crate) const BIGRAM: usize = 1;
pub(crate) const CHAR: usize = 2;
/// The weight of each family.
pub(crate) const FAMILY_WEIGHTS: [f32; 3] = [WORD_WEIGHT, BIGRAM_WEIGHT, CHAR_WEIGHT];

impl Sink for FeatureVec {
    fn push_word(&mut self, word: u32, bigram: Option<u32>, grams: &[u32]) {
        self.items.push((word, WORD_WEIGHT));
        if let Some(b) = bigram {
            self.items.push((b, BIGRAM_WEIGHT));
        }
        self.items.extend(grams.iter().map(|&g| (g, CHAR_WEIGHT)));
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// At most this many n-grams per word: 3–5-grams of `<word>` for a word of
/// [`MAX_WORD_CHARS`].
const MAX_GRAMS: usize = 3 * MAX_WORD_CHARS;

/// Extracts features into `out` (appending), hashing into `1 << bits` columns.
pub struct Featurizer {
    bits: u32,
}

/// What an ASCII byte is to the featuriser: a separator, a digit, or a letter (its lower case).
static ASCII: [u8; 128] = {
    let mut t = [SEPARATOR; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        if c.is_ascii_digit() {
            t[b] = DIGIT;
        } else if c.is_ascii_alphabetic() {
            t[b] = c.to_ascii_lowercase();
        }
        b += 1;
    }
    t
};
const SEPARATOR: u8 = 0;
const DIGIT: u8 = 1;

/// The chars of the word being read (the first [`MAX_WORD_CHARS`], after a `<`; the `>` goes
/// in when it ends) and its n-gram columns, reused from word to word.
struct Buffers {
    padded: [u64; MAX_WORD_CHARS + 2],
    grams: [u32; MAX_GRAMS],
}

/// The word being read: its FNV hash so far, its length in chars, and whether its last char is
/// the '0' of a digit run. Plain values, so that they stay in registers.
#[derive(Clone, Copy)]
struct Word {
    hash: u64,
    len: usize,
    last_zero: bool,
}

impl Word {
    const EMPTY: Word = Word {
        hash: FNV_OFFSET,
        len: 0,
        last_zero: false,
    };

    #[inline(always)]
    fn push(self, c: char, buf: &mut Buffers) -> Word {
        if self.len < MAX_WORD_CHARS {
            buf.padded[self.len + 1] = u64::from(c);
        }
        Word {
            hash: fnv_step(self.hash, c),
            len: self.len + 1,
            last_zero: c == '0',
        }
    }

    /// A digit run becomes one '0'.
    #[inline(always)]
    fn push_digit(self, buf: &mut Buffers) -> Word {
        if self.len > 0 && self.last_zero {
            self
        } else {
            self.push('0', buf)
        }
    }
}

impl Featurizer {
    pub fn new(bits: u32) -> Self {
        Featurizer { bits }
    }

    /// The number of hash bits (columns are `1 << bits`).
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Appends the features of `text`. `max_chars` caps the characters read.
    pub fn add(&mut self, text: &str, max_chars: usize, out: &mut FeatureVec) {
        self.add_to(text, max_chars, out);
    }

    /// Appends the features of `text` to any sink. Words are runs of alphanumerics,
    /// lower-cased, with digit runs collapsed to '0'; ASCII takes a fast path, everything else
    /// the full Unicode rules.
    pub(crate) fn add_to<S: Sink>(&mut self, text: &str, max_chars: usize, out: &mut S) {
        let shift = 64 - self.bits;
        let mut prev_word: Option<u64> = None;
        let mut buf = Buffers {
            padded: [0; MAX_WORD_CHARS + 2],
            grams: [0; MAX_GRAMS],
        };
        buf.padded[0] = u64::from('<');
        let mut word = Word::EMPTY;
        let bytes = text.as_bytes();
        let mut i = 0;
        let mut left = max_chars;
        while i < bytes.len() && left > 0 {
            left -= 1;
            let b = bytes[i];
            if b < 0x80 {
                i += 1;
                match ASCII[b as usize] {
                    SEPARATOR => {
                        if word.len > 0 {
                            word_features(word, &mut buf, shift, &mut prev_word, out);
                            word = Word::EMPTY;
                        }
                    }
                    DIGIT => word = word.push_digit(&mut buf),
                    lower => word = word.push(char::from(lower), &mut buf),
                }
                continue;
            }
            let c = text[i..].chars().next().expect("a char at a boundary");
            i += c.len_utf8();
            if c.is_alphanumeric() {
                if c.is_numeric() {
                    word = word.push_digit(&mut buf);
                } else {
                    for l in c.to_lowercase() {
                        word = word.push(l, &mut buf);
                    }
                }
            } else if word.len > 0 {
                word_features(word, &mut buf, shift, &mut prev_word, out);
                word = Word::EMPTY;
            }
        }
        if word.len > 0 {
            word_features(word, &mut buf, shift, &mut prev_word, out);
        }
    }
}

#[inline(always)]
fn column(h: u64, shift: u32) -> u32 {
    (mix(h) >> shift) as u32
}

/// The features of a finished word: the word, the bigram with the previous word, and the
/// character 3–5-grams of `<word>` (by start, then length) for a word of at most
/// [`MAX_WORD_CHARS`].
#[inline(never)]
fn word_features<S: Sink>(
    word: Word,
    buf: &mut Buffers,
    shift: u32,
    prev_word: &mut Option<u64>,
    out: &mut S,
) {
    let h = word.hash;
    let bigram =
        prev_word.map(|p| column(p.rotate_left(17) ^ h.wrapping_mul(31) ^ SEED_BIGRAM, shift));
    *prev_word = Some(h);
    let mut k = 0;
    if word.len <= MAX_WORD_CHARS {
        let n = word.len + 2;
        buf.padded[n - 1] = u64::from('>');
        let (padded, grams) = (&buf.padded[..n], &mut buf.grams);
        let step = |h: u64, c: u64| (h ^ c).wrapping_mul(0x0000_0100_0000_01b3);
        let gram3 = |w: &[u64]| step(step(step(FNV_OFFSET ^ SEED_CHAR, w[0]), w[1]), w[2]);
        // By start, then length: every start but the last two has its 3-, 4- and 5-gram...
        for (w, g) in padded.windows(5).zip(grams.chunks_exact_mut(3)) {
            let h3 = gram3(w);
            let h4 = step(h3, w[3]);
            let h5 = step(h4, w[4]);
            g[0] = column(h3 ^ 3, shift);
            g[1] = column(h4 ^ 4, shift);
            g[2] = column(h5 ^ 5, shift);
            k += 3;
        }
        // ...the one before last its 3- and 4-gram, the last its 3-gram (`<word>` ends).
        if n >= 4 {
            let w = &padded[n - 4..];
            let h3 = gram3(w);
            grams[k] = column(h3 ^ 3, shift);
            grams[k + 1] = column(step(h3, w[3]) ^ 4, shift);
            k += 2;
        }
        grams[k] = column(gram3(&padded[n - 3..]) ^ 3, shift);
        k += 1;
    }
    out.push_word(column(h ^ SEED_WORD, shift), bigram, &buf.grams[..k]);
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
