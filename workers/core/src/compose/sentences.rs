//! Sentences of a turn and the greetings that open them: the units the summary and the intent
//! reader choose from.

use super::text::count_words;

/// Sentences: a `.`, `!`, `?` or `…` followed by white space or the end closes one, so "EUR
/// 89.90" and "e.g." inside a word run stay whole; a line break always does.
pub fn split_sentences(text: &str) -> Sentences<'_> {
    Sentences {
        text,
        start: 0,
        done: false,
    }
}

/// The bytes that may close a sentence: line break, `.`, `!`, `?`, and the lead byte of `…`.
static SENTENCE_MARK: [bool; 256] = {
    let mut t = [false; 256];
    t[b'\n' as usize] = true;
    t[b'.' as usize] = true;
    t[b'!' as usize] = true;
    t[b'?' as usize] = true;
    t[0xE2] = true;
    t
};

/// The iterator of [`split_sentences`]: trimmed, non-empty pieces.
pub struct Sentences<'a> {
    text: &'a str,
    /// Where the next piece starts.
    start: usize,
    done: bool,
}

impl<'a> Sentences<'a> {
    /// The end of the piece starting at `self.start` (just after its closing mark), if a mark
    /// closes it.
    fn next_end(&self) -> Option<usize> {
        let bytes = self.text.as_bytes();
        let followed_by_space_or_end = |at: usize| match bytes.get(at) {
            None => true,
            Some(&b) if b < 0x80 => (b as char).is_whitespace(),
            Some(_) => self.text[at..]
                .chars()
                .next()
                .is_some_and(char::is_whitespace),
        };
        let mut i = self.start;
        while i < bytes.len() {
            if !SENTENCE_MARK[bytes[i] as usize] {
                i += 1;
                continue;
            }
            match bytes[i] {
                b'\n' => return Some(i + 1),
                b'.' | b'!' | b'?' if followed_by_space_or_end(i + 1) => return Some(i + 1),
                // '…' is E2 80 A6.
                0xE2 if bytes[i + 1..].starts_with(&[0x80, 0xA6])
                    && followed_by_space_or_end(i + 3) =>
                {
                    return Some(i + 3)
                }
                _ => i += 1,
            }
        }
        None
    }
}

impl<'a> Iterator for Sentences<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        while !self.done {
            let piece = match self.next_end() {
                Some(end) => {
                    let piece = &self.text[self.start..end];
                    self.start = end;
                    piece
                }
                None => {
                    self.done = true;
                    &self.text[self.start..]
                }
            };
            let piece = piece.trim();
            if !piece.is_empty() {
                return Some(piece);
            }
        }
        None
    }
}

/// Drops a leading greeting ("Hi, ", "Hola, ", "Guten Tag, ").
pub fn without_greeting(s: &str) -> &str {
    const GREETINGS: &[&str] = &[
        "hi",
        "hello",
        "hey",
        "dear",
        "good morning",
        "good afternoon",
        "hola",
        "buenos días",
        "buenas",
        "hallo",
        "guten tag",
        "guten morgen",
        "ok",
        "okay",
        "thanks",
        "thank you",
        "great",
        "good",
    ];
    // Greetings are at most 14 bytes: when the first 16 are ASCII, lower-casing them is all
    // the comparison needs.
    let head = &s.as_bytes()[..s.len().min(16)];
    if head.is_ascii() {
        // Every greeting starts with one of these letters.
        if !head.first().is_some_and(|c| {
            matches!(
                c.to_ascii_lowercase(),
                b'h' | b'd' | b'g' | b'b' | b'o' | b't'
            )
        }) {
            return s;
        }
        for g in GREETINGS {
            if head.len() >= g.len() && head[..g.len()].eq_ignore_ascii_case(g.as_bytes()) {
                let rest = &s[g.len()..];
                if let Some(r) = rest.strip_prefix(|c: char| c == ',' || c == '!' || c == '.') {
                    let r = r.trim_start();
                    if count_words(r) >= 4 {
                        return r;
                    }
                }
            }
        }
        return s;
    }
    let lower = s.to_lowercase();
    for g in GREETINGS {
        if lower.starts_with(g) {
            let rest = &s[g.len().min(s.len())..];
            if let Some(r) = rest.strip_prefix(|c: char| c == ',' || c == '!' || c == '.') {
                let r = r.trim_start();
                if count_words(r) >= 4 {
                    return r;
                }
            }
        }
    }
    s
}
