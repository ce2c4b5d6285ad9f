//! Required literals of a regex: a set of strings one of which every match contains. Computed
//! from the parsed pattern, so a literal prefilter built from it can never reject a text the
//! regex would match; an [`aho_corasick`] scan for them is far cheaper than running a large
//! `RegexSet` over a text that contains none.

use regex_syntax::hir::{Class, Hir, HirKind};

/// Largest finite set of strings a sub-pattern is expanded to.
const MAX_EXACT: usize = 64;
/// Largest character class expanded into its members.
const MAX_CLASS: usize = 4;

/// The required literals of every pattern together (a match of any one of the patterns
/// contains one of them); `None` if some pattern has none. `parser` must parse with the flags
/// the patterns are compiled with. Literals have no whitespace but single inner spaces, and
/// those only where `spaced` allows the literal (else its longest piece is taken).
pub fn required_any<I, S>(
    patterns: I,
    parser: &regex_syntax::ParserBuilder,
    spaced: &dyn Fn(&[u8]) -> bool,
) -> Option<Vec<String>>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut all: Vec<Vec<u8>> = Vec::new();
    for p in patterns {
        let hir = parser.build().parse(p.as_ref()).ok()?;
        all.extend(required(&hir, spaced)?);
    }
    all.sort();
    all.dedup();
    all.into_iter().map(|l| String::from_utf8(l).ok()).collect()
}

/// A superset of the strings `hir` matches, if it is finite and small.
fn exact(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    match hir.kind() {
        // Zero-width: as far as the matched text goes, the empty string.
        HirKind::Empty | HirKind::Look(_) => Some(vec![Vec::new()]),
        HirKind::Literal(l) => Some(vec![l.0.to_vec()]),
        HirKind::Class(c) => class_members(c),
        HirKind::Capture(c) => exact(&c.sub),
        HirKind::Repetition(r) => match (r.min, r.max) {
            (1, Some(1)) => exact(&r.sub),
            (0, Some(1)) => {
                let mut set = exact(&r.sub)?;
                set.push(Vec::new());
                Some(set)
            }
            _ => None,
        },
        HirKind::Alternation(alts) => {
            let mut set = Vec::new();
            for a in alts {
                set.extend(exact(a)?);
                if set.len() > MAX_EXACT {
                    return None;
                }
            }
            Some(set)
        }
        HirKind::Concat(items) => {
            let mut set = vec![Vec::new()];
            for i in items {
                set = product(&set, &exact(i)?)?;
            }
            Some(set)
        }
    }
}

fn product(left: &[Vec<u8>], right: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    if left.len() * right.len() > MAX_EXACT {
        return None;
    }
    Some(
        left.iter()
            .flat_map(|l| right.iter().map(move |r| [l.as_slice(), r].concat()))
            .collect(),
    )
}

fn class_members(c: &Class) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    match c {
        Class::Bytes(b) => {
            for r in b.ranges() {
                for x in r.start()..=r.end() {
                    out.push(vec![x]);
                    if out.len() > MAX_CLASS {
                        return None;
                    }
                }
            }
        }
        Class::Unicode(u) => {
            for r in u.ranges() {
                for x in r.start()..=r.end() {
                    out.push(x.to_string().into_bytes());
                    if out.len() > MAX_CLASS {
                        return None;
                    }
                }
            }
        }
    }
    Some(out)
}

/// For each string of a set every match is one of, a literal it contains: itself (trimmed) if
/// `spaced` allows it, else its longest whitespace-free piece, everyday words last (every match
/// then contains one of the literals); `None` if some string has no such piece.
fn pieces(set: &[Vec<u8>], spaced: &dyn Fn(&[u8]) -> bool) -> Option<Vec<Vec<u8>>> {
    let mut out: Vec<Vec<u8>> = set
        .iter()
        .map(|s| {
            let t = s.trim_ascii();
            let single_spaces = !t.is_empty()
                && !t.windows(2).any(|w| w == b"  ")
                && t.iter().all(|&b| b == b' ' || !b.is_ascii_whitespace());
            if single_spaces && (!t.contains(&b' ') || spaced(t)) {
                return Some(t.to_vec());
            }
            t.split(|b| b.is_ascii_whitespace())
                .filter(|p| !p.is_empty())
                .max_by_key(|p| (!is_common(p), p.len()))
                .map(<[u8]>::to_vec)
        })
        .collect::<Option<_>>()?;
    out.sort();
    out.dedup();
    Some(out)
}

/// Everyday words: a literal set with one of them makes a poor prefilter (most texts have it).
#[rustfmt::skip]
const COMMON: &[&str] = &[
    "a", "an", "and", "any", "are", "ask", "at", "back", "be", "being", "by", "call", "can",
    "could", "do", "for", "from", "get", "give", "have", "help", "here", "i", "in", "is", "it",
    "like", "line", "look", "make", "may", "me", "my", "need", "now", "of", "on", "one", "or",
    "over", "put", "send", "sent", "so", "some", "take", "that", "the", "there", "this", "to",
    "up", "us", "want", "will", "with", "would", "you", "your",
    "a", "al", "con", "de", "el", "en", "la", "me", "mi", "por", "que", "un", "una", "y",
    "an", "bitte", "das", "der", "die", "ein", "eine", "einen", "ich", "ist", "mich", "mir", "mit",
    "und", "zu",
];

fn is_common(literal: &[u8]) -> bool {
    COMMON.iter().any(|c| c.as_bytes() == literal)
}

/// Preference among valid literal sets: no everyday word, then longer shortest literal (up
/// to 5 bytes), then fewer literals.
fn better(a: &[Vec<u8>], b: &[Vec<u8>]) -> bool {
    let key = |s: &[Vec<u8>]| {
        let common = s.iter().filter(|l| is_common(l)).count();
        let min = s.iter().map(Vec::len).min().unwrap_or(0).min(5);
        (std::cmp::Reverse(common), min, std::cmp::Reverse(s.len()))
    };
    key(a) > key(b)
}

/// Literals one of which every match of `hir` contains, or `None`.
fn required(hir: &Hir, spaced: &dyn Fn(&[u8]) -> bool) -> Option<Vec<Vec<u8>>> {
    let mut best = exact(hir).and_then(|set| pieces(&set, spaced));
    let mut offer = |cand: Option<Vec<Vec<u8>>>| {
        if let Some(c) = cand {
            if best.as_ref().is_none_or(|b| better(&c, b)) {
                best = Some(c);
            }
        }
    };
    match hir.kind() {
        HirKind::Capture(c) => offer(required(&c.sub, spaced)),
        HirKind::Repetition(r) if r.min >= 1 => offer(required(&r.sub, spaced)),
        HirKind::Alternation(alts) => {
            let union = alts.iter().try_fold(Vec::new(), |mut acc, a| {
                acc.extend(required(a, spaced)?);
                Some(acc)
            });
            offer(union.map(|mut u| {
                u.sort();
                u.dedup();
                u
            }));
        }
        HirKind::Concat(items) => {
            for i in items {
                offer(required(i, spaced));
            }
            // Runs of finite items, expanded together: "talk" + " to " + "a" ...
            for start in 0..items.len() {
                let mut set = vec![Vec::new()];
                for i in &items[start..] {
                    let Some(next) = exact(i).and_then(|e| product(&set, &e)) else {
                        break;
                    };
                    set = next;
                    offer(pieces(&set, spaced));
                }
            }
        }
        _ => {}
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(p: &str) -> Option<Vec<String>> {
        required_any(
            [p],
            regex_syntax::ParserBuilder::new().unicode(false),
            &|_| false,
        )
    }

    #[test]
    fn literals_every_match_contains() {
        assert_eq!(req(r"\bfoo\s+bar\b"), Some(vec!["foo".into()]));
        assert_eq!(
            req(r"\b(?:talk|speak)(?:ing)?\s+to\b"),
            Some(vec!["speak".into(), "talk".into()])
        );
        // an everyday word is the last choice
        assert_eq!(req(r"\bthe\s+manager\b"), Some(vec!["manager".into()]));
        // a literal with a space is split unless allowed
        assert_eq!(req(r"\bsome ?one\b"), Some(vec!["some".into()]));
        assert_eq!(
            required_any(
                [r"\bsome ?one\b"],
                regex_syntax::ParserBuilder::new().unicode(false),
                &|_| true
            ),
            Some(vec!["some one".into(), "someone".into()])
        );
        assert_eq!(req(r"\w+"), None);
        assert_eq!(req(r"(?:a|b\w*)"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(req(r"(?:a|\w*)"), None);
        assert_eq!(req(r"x?y?"), None);
        assert_eq!(req(r"advis[eo]rs?"), Some(vec!["advis".into()]));
    }
}
