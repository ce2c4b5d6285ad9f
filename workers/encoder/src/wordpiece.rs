//! BERT's uncased tokenisation, written for the static encoder's hot path: no allocation per
//! text once the buffers have grown, no offsets, no special tokens. It reproduces what
//! tokenizer.json describes for this model (BertNormalizer with lower-casing and accent
//! stripping, BertPreTokenizer, WordPiece with `##` continuations); the tests hold it to the
//! `tokenizers` crate's output.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

use unicode_categories::UnicodeCategories;

use crate::files;
use crate::EncoderError;

/// WordPiece gives up on words longer than this (tokenizer.json: `max_input_chars_per_word`).
const MAX_CHARS_PER_WORD: usize = 100;
const CONTINUATION: &str = "##";

/// The vocabulary of vocab.txt and the uncased BERT tokenisation over it.
#[derive(Debug, Clone)]
pub struct WordPiece {
    /// Tokens that start a word.
    word_start: HashMap<Box<str>, u32, BuildFnv>,
    /// Tokens that continue a word, without their `##`.
    continuation: HashMap<Box<str>, u32, BuildFnv>,
    tokens: Vec<Box<str>>,
    unk: u32,
}

impl WordPiece {
    /// Reads vocab.txt (one token per line, the line number is the id).
    pub fn load(path: &Path) -> Result<WordPiece, EncoderError> {
        let text = files::read_text(path)?;
        let tokens: Vec<Box<str>> = text.lines().map(Box::from).collect();
        let mut word_start = HashMap::with_capacity_and_hasher(tokens.len(), BuildFnv::default());
        let mut continuation = HashMap::with_capacity_and_hasher(8192, BuildFnv::default());
        for (id, token) in tokens.iter().enumerate() {
            let id = id as u32;
            match token.strip_prefix(CONTINUATION) {
                Some(rest) if !rest.is_empty() => continuation.insert(Box::from(rest), id),
                _ => word_start.insert(token.clone(), id),
            };
        }
        let unk = *word_start
            .get("[UNK]")
            .ok_or_else(|| EncoderError::invalid(path, "no [UNK] token"))?;
        Ok(WordPiece {
            word_start,
            continuation,
            tokens,
            unk,
        })
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn unk_id(&self) -> u32 {
        self.unk
    }

    /// The id of `token` as spelt in vocab.txt (`##` for continuations).
    pub fn token_id(&self, token: &str) -> Option<u32> {
        match token.strip_prefix(CONTINUATION) {
            Some(rest) if !rest.is_empty() => self.continuation.get(rest).copied(),
            _ => self.word_start.get(token).copied(),
        }
    }

    pub fn token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(|t| &**t)
    }

    /// The token ids of `text` (no `[CLS]`/`[SEP]`), appended to `ids`; `scratch` holds the
    /// normalised text. Both are cleared first and reused across calls by the caller.
    pub fn tokenize_into(&self, text: &str, scratch: &mut String, ids: &mut Vec<u32>) {
        ids.clear();
        normalize_into(text, scratch);
        for word in scratch.split(' ') {
            let mut start = 0;
            for (i, c) in word.char_indices() {
                if is_bert_punctuation(c) {
                    self.word_pieces(&word[start..i], ids);
                    self.word_pieces(&word[i..i + c.len_utf8()], ids);
                    start = i + c.len_utf8();
                }
            }
            self.word_pieces(&word[start..], ids);
        }
    }

    /// Convenience for tests and one-off use: allocates its own buffers.
    pub fn tokenize(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        self.tokenize_into(text, &mut String::new(), &mut ids);
        ids
    }

    /// Greedy longest-match-first over one word; a word that cannot be covered is one [UNK].
    fn word_pieces(&self, word: &str, ids: &mut Vec<u32>) {
        if word.is_empty() {
            return;
        }
        if word.len() > MAX_CHARS_PER_WORD && word.chars().count() > MAX_CHARS_PER_WORD {
            ids.push(self.unk);
            return;
        }
        let first = ids.len();
        let mut start = 0;
        while start < word.len() {
            let table = if start == 0 {
                &self.word_start
            } else {
                &self.continuation
            };
            let mut end = word.len();
            let found = loop {
                if let Some(&id) = table.get(&word[start..end]) {
                    break Some(id);
                }
                end = match word[start..end].char_indices().next_back() {
                    Some((i, _)) if i > 0 => start + i,
                    _ => break None,
                };
            };
            match found {
                Some(id) => {
                    ids.push(id);
                    start = end;
                }
                None => {
                    ids.truncate(first);
                    ids.push(self.unk);
                    return;
                }
            }
        }
    }
}

/// BertNormalizer (clean text, pad CJK ideographs, NFD and drop non-spacing marks, lower-case),
/// with every kind of whitespace made one ASCII space so the pre-tokeniser splits on ' '.
fn normalize_into(text: &str, out: &mut String) {
    out.clear();
    out.reserve(text.len() + 8);
    for c in text.chars() {
        if c.is_ascii() {
            match c {
                '\t' | '\n' | '\r' | ' ' => out.push(' '),
                '\0'..='\x1f' | '\x7f' => {}
                _ => out.push(c.to_ascii_lowercase()),
            }
            continue;
        }
        if c == '\u{fffd}' || c.is_other() {
            continue;
        }
        if c.is_whitespace() {
            out.push(' ');
        } else if is_cjk_ideograph(c) {
            out.push(' ');
            out.push(c);
            out.push(' ');
        } else {
            unicode_normalization::char::decompose_canonical(c, |d| {
                if !d.is_mark_nonspacing() {
                    out.extend(d.to_lowercase());
                }
            });
        }
    }
}

fn is_bert_punctuation(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_punctuation()
    } else {
        c.is_punctuation()
    }
}

/// The CJK Unified Ideographs blocks BERT splits character by character.
fn is_cjk_ideograph(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F
        | 0x2B920..=0x2CEAF
        | 0xF900..=0xFAFF
        | 0x2F800..=0x2FA1F)
}

/// FNV-1a: the keys are short word pieces, where SipHash's setup dominates the lookup and its
/// flood resistance buys nothing (the table is fixed at load).
struct Fnv(u64);

type BuildFnv = BuildHasherDefault<Fnv>;

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(text: &str) -> String {
        let mut out = String::new();
        normalize_into(text, &mut out);
        out
    }

    #[test]
    fn normalising_lowercases_strips_accents_and_cleans_whitespace() {
        assert_eq!(normalized("Ärger\tÜBER   Café\u{0}!"), "arger uber   cafe!");
        assert_eq!(normalized("Señor ÑANDÚ"), "senor nandu");
        assert_eq!(normalized("中文"), " 中  文 ");
    }

    #[test]
    fn punctuation_is_ascii_or_unicode_p() {
        assert!(is_bert_punctuation('?'));
        assert!(is_bert_punctuation('$'));
        assert!(is_bert_punctuation('¿'));
        assert!(is_bert_punctuation('«'));
        assert!(!is_bert_punctuation('a'));
        assert!(!is_bert_punctuation('€'));
    }
}
