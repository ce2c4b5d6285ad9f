//! Byte-level text helpers for the builder's hot paths, each exactly equivalent to the plain
//! `str` code it replaces (`split_whitespace().count()`, joining words with single spaces),
//! only without allocating.

/// What a UTF-8 byte says about white space: 0 no (an ASCII non-space, a continuation byte, or
/// the lead byte of a char that is never white space), 1 ASCII white space, 2 the lead byte of
/// a char that may be white space (U+0085, U+00A0, U+1680, U+2000–U+205F, U+3000).
static WHITE: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'\t' as usize] = 1;
    t[b'\n' as usize] = 1;
    t[0x0B] = 1;
    t[0x0C] = 1;
    t[b'\r' as usize] = 1;
    t[b' ' as usize] = 1;
    t[0xC2] = 2;
    t[0xE1] = 2;
    t[0xE2] = 2;
    t[0xE3] = 2;
    t
};

/// Whether the char starting at byte `i` of `s` is white space (`char::is_whitespace`), and
/// how many bytes to step: one for anything but a possibly-white multi-byte char (the
/// continuation bytes of other chars then count as non-white bytes of the same word).
#[inline(always)]
fn white_at(s: &str, i: usize) -> (bool, usize) {
    match WHITE[s.as_bytes()[i] as usize] {
        0 => (false, 1),
        1 => (true, 1),
        _ => {
            let c = s[i..].chars().next().expect("a char at a boundary");
            (c.is_whitespace(), c.len_utf8())
        }
    }
}

const LOW: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Eight bytes at `i` (little end first).
#[inline(always)]
fn chunk(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().expect("eight bytes"))
}

/// For eight ASCII bytes, the bit mask (bit `k` for byte `k`) of spaces and of the other ASCII
/// white space (`\t \n \v \f \r`). Per byte: no carries cross bytes, as every byte < 0x80.
#[inline(always)]
fn white_bits(x: u64) -> (u32, u32) {
    let t = x ^ (0x20 * LOW);
    let space = !(((t & !HIGH) + !HIGH) | t) & HIGH;
    let at_least_9 = x + (0x80 - 9) * LOW;
    let at_least_14 = x + (0x80 - 14) * LOW;
    let control = at_least_9 & !at_least_14 & HIGH;
    (gather(space), gather(control))
}

/// The high bit of each byte, as one bit per byte.
#[inline(always)]
fn gather(m: u64) -> u32 {
    ((m >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
}

/// `s.split_whitespace().count()`.
pub(crate) fn count_words(s: &str) -> usize {
    let b = s.as_bytes();
    let mut words = 0;
    // Whether the previous char was white space (or we are at the start).
    let mut gap = true;
    let mut i = 0;
    while i + 8 <= b.len() {
        let x = chunk(b, i);
        if x & HIGH != 0 {
            let end = i + 8;
            while i < end {
                let (white, step) = white_at(s, i);
                words += usize::from(!white && gap);
                gap = white;
                i += step;
            }
            continue;
        }
        let (space, control) = white_bits(x);
        let white = space | control;
        let starts = !white & ((white << 1) | u32::from(gap)) & 0xFF;
        words += starts.count_ones() as usize;
        gap = white & 0x80 != 0;
        i += 8;
    }
    while i < b.len() {
        let (white, step) = white_at(s, i);
        words += usize::from(!white && gap);
        gap = white;
        i += step;
    }
    words
}

/// The number of words when `s` is exactly its words joined by single spaces (no white space
/// at either end, every gap one ASCII space); `None` otherwise.
pub(crate) fn single_spaced_words(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut words = 0;
    // Whether the previous char was a space (or we are at the start).
    let mut gap = true;
    let mut i = 0;
    let scalar = |i: &mut usize, gap: &mut bool, words: &mut usize| -> bool {
        let (white, step) = white_at(s, *i);
        if white {
            if b[*i] != b' ' || *gap {
                return false;
            }
            *gap = true;
        } else if *gap {
            *words += 1;
            *gap = false;
        }
        *i += step;
        true
    };
    while i + 8 <= b.len() {
        let x = chunk(b, i);
        if x & HIGH != 0 {
            let end = i + 8;
            while i < end {
                if !scalar(&mut i, &mut gap, &mut words) {
                    return None;
                }
            }
            continue;
        }
        let (space, control) = white_bits(x);
        let before = (space << 1) | u32::from(gap);
        if control != 0 || space & before != 0 {
            return None;
        }
        words += (!space & before & 0xFF).count_ones() as usize;
        gap = space & 0x80 != 0;
        i += 8;
    }
    while i < b.len() {
        if !scalar(&mut i, &mut gap, &mut words) {
            return None;
        }
    }
    (b.is_empty() || !gap).then_some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_the_plain_str_code() {
        let cases = [
            "",
            " ",
            "a",
            "a b",
            " a b",
            "a b ",
            "a  b",
            "a\tb",
            "a\u{a0}b",
            "a\u{2003}b c",
            "é £ ½ 😀",
            "x\u{85}y",
            "\u{3000}",
            "tab\u{b}x",
            "one two three four five",
            "a fairly long sentence, with\ttabs and  double spaces in it, past eight bytes",
            "single spaced words in a text that runs past a few chunks of eight",
            " leading space in a long enough text to chunk",
            "trailing space in a long enough text to chunk ",
            "mixed é accents and ½ and \u{a0}nbsp in a long enough text",
            "\r\n\x0b\x0c many control whitespace kinds\t\t here",
        ];
        for s in cases {
            assert_eq!(count_words(s), s.split_whitespace().count(), "{s:?}");
            let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
            assert_eq!(
                single_spaced_words(s),
                (joined == s).then(|| s.split_whitespace().count()),
                "{s:?}"
            );
        }
    }
}
