//! Sentiment of contact turns: hostility and frustration per turn, building frustration over the
//! last turns, and threats (legal, chargeback, regulator, churn) that escalate at once.
//!
//! # Method
//! The base is VADER (Hutto & Gilbert, ICWSM 2014), re-implemented here allocation-light over
//! the lexicon of the `vader_sentiment` crate (7,500 rated English words and emoticons, plus its
//! emoji descriptions). The crate's own `polarity_scores` is correct but slow for a hot path
//! (a `String` per character for emoji, a `HashMap` per call, a scan of the whole booster list
//! per word), so only its data is used. The algorithm follows the reference Python 3.3.2:
//! boosters and dampeners up to three words back, negation up to three words back ("not bad at
//! all" is positive), ALL-CAPS emphasis, "but" weighting (first half x0.5, second x1.5),
//! "least", "never so", "without doubt", `!`/`?` emphasis and the compound normalisation
//! `x / sqrt(x^2 + 15)`, which is the score in [-1, 1].
//!
//! VADER measures polarity, not hostility, so four layers turn it into a frustration signal
//! (data files under `detect/sentiment/`):
//! - **Curated hostility**: insults, contempt and profanity weigh more than in VADER ("useless"
//!   -1.8 -> -2.5) and multi-word cues carry their own valence: repetition ("third time", "how
//!   many times", "still not", "already told you"), waiting ("for weeks", "takes forever", "no
//!   response"), exasperation ("fed up", "waste of my time", "this is a joke", "thanks for
//!   nothing"). Repetition ("again", "once again", "schon wieder") adds -0.8 to a negative turn.
//!   Shouting (three ALL-CAPS words, or an all-caps turn) adds -1.2 to a non-positive turn.
//! - **Plain bad news is damped**: negative words that describe what happened rather than how the
//!   contact feels about us ("lost", "broken", "late", "error", "sorry", "died") count x0.35, so
//!   "my parcel was lost" is mildly negative, not hostile.
//! - **Praise slang and sarcasm**: "sick", "wicked", "killer" are praise after "this is / that's /
//!   so" or before a noun ("sick feature"), frustration in "sick of"; "insanely / crazy / damn /
//!   pretty" boost the next sentiment word instead of being negative ("insanely good"); "like"
//!   counts only as a verb ("I like it"). Laughter and joke markers (lol, haha, jaja, 😂, 🙃, 💀)
//!   halve non-hostile negativity: a joking complaint is not an angry one. Mixed sarcasm such as
//!   "that's the worst thing I've ever heard, I love it" nets out near zero by VADER's sum.
//! - **Spanish and German**: a cheap language vote on function words picks the lexicon; curated
//!   ES/DE lexicons (hostility, bad news, praise, boosters, negators, contrast, phrases such as
//!   "todavía no", "tomadura de pelo", "immer noch nicht", "die Nase voll") are scored by the same
//!   algorithm. Negation: ES negative concord counts once ("no es nada malo"); DE verbs also see a
//!   following "nicht" ("das gefällt mir nicht"). Unaccented / ae-oe-ue spellings are accepted.
//!
//! Threats are token patterns (word-boundary by construction) in `threats.tsv`, with guards:
//! a negator just before ("I won't sue", "no voy a cancelar", "ich werde nicht kündigen"),
//! exclusions ("I'm a lawyer"), bare noun mentions ignored in a positive turn ("my lawyer said
//! you're great"), "call my bank" only with intent ("I'll call my bank"); "cancel an order" is not
//! churn (only subscription / account / membership / plan / contract / service).
//!
//! Cost: one pass over the text, three small allocations per call, one hash lookup per word:
//! about 0.7 µs for a 16-word turn on one core (`analyze` with the threat check about the same),
//! against about 3 µs for the crate's `polarity_scores`. The dev-only evaluation is the ignored
//! test `dataset_eval` (iSarcasmEval, Banking77, Bitext, and the timings).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

/// One contact turn scoring at or below this escalates ("hostile").
pub const DEFAULT_TURN_THRESHOLD: f64 = -0.65;
/// Building frustration: the mean of the last `window` contact-turn scores at or below this, with
/// the last no better than the first, escalates.
pub const DEFAULT_TRAJECTORY_THRESHOLD: f64 = -0.3;
/// How many contact turns the trajectory rule looks at.
pub const DEFAULT_TRAJECTORY_WINDOW: usize = 3;

/// Hostility of one contact turn in [-1, 1]: -1 very hostile/frustrated, 0 neutral, +1 happy.
pub fn score(text: &str) -> f64 {
    let toks = Tokens::new(text);
    toks.score()
}

/// A threat that escalates immediately, with what matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Threat {
    pub kind: ThreatKind,
    /// The words of the turn that matched, as written.
    pub matched: String,
}

/// What the contact threatens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ThreatKind {
    /// Lawyer, lawsuit, court.
    Legal,
    /// Chargeback, disputing or reversing a payment through the bank.
    Chargeback,
    /// A regulator, ombudsman or consumer-protection body.
    Regulator,
    /// Leaving: cancelling the subscription or account, switching to a competitor.
    Churn,
}

impl ThreatKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ThreatKind::Legal => "legal",
            ThreatKind::Chargeback => "chargeback",
            ThreatKind::Regulator => "regulator",
            ThreatKind::Churn => "churn",
        }
    }
}

/// The most severe threat in the turn (legal, chargeback, regulator, churn; then the earliest).
pub fn threat(text: &str) -> Option<Threat> {
    let toks = Tokens::new(text);
    toks.threat()
}

/// Score and threat of one turn, tokenising once (what the detector should call per turn).
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub score: f64,
    pub threat: Option<Threat>,
}

/// Builds the lexicon now (about 7 ms in a release build) instead of on the first turn.
pub fn warm_up() {
    LazyLock::force(&LEX);
}

/// [`score`] and [`threat`] together, sharing the tokenisation.
pub fn analyze(text: &str) -> Analysis {
    let toks = Tokens::new(text);
    let score = toks.score();
    let threat = toks.threat_with_score(Some(score));
    Analysis { score, threat }
}

/// Building frustration: the trajectory rule over the last turns' scores (oldest first).
/// Fires when there are at least `window` scores, the mean of the last `window` is at or below
/// `threshold`, and they are not improving (the last is no better than the first of the window).
pub fn trajectory_fires(scores: &[f64], window: usize, threshold: f64) -> bool {
    if window == 0 || scores.len() < window {
        return false;
    }
    let last = &scores[scores.len() - window..];
    let mean = last.iter().sum::<f64>() / window as f64;
    mean <= threshold && last[window - 1] <= last[0]
}

// ---------------------------------------------------------------------------------------------
// Lexicon
// ---------------------------------------------------------------------------------------------

// VADER's empirically derived constants.
const B_INCR: f32 = 0.293;
const B_DECR: f32 = -0.293;
const C_INCR: f32 = 0.733;
const N_SCALAR: f32 = -0.74;
const QMARK_INCR: f64 = 0.18;
const EMARK_INCR: f64 = 0.292;
const ALPHA: f64 = 15.0;

// Our layers.
/// Negative valence of plain bad-news words is multiplied by this.
const SITUATIONAL_DAMP: f32 = 0.35;
/// Non-hostile negative valence in a joking turn (lol, haha, 😂) is multiplied by this.
const LAUGH_DAMP: f32 = 0.5;
/// Added to a negative turn that says it happens again ("again", "wieder", "otra vez").
const REPEAT_EXTRA: f32 = -0.8;
/// Plain bad news saturates: all situational words of a turn together count at most this much
/// (after damping), so describing a mishap in detail does not make it hostile.
const SITUATIONAL_CAP: f32 = -1.0;
/// Added to a non-positive shouted turn.
const SHOUT_EXTRA: f32 = -1.2;
/// "third time", "zum dritten Mal", "tercera vez".
const ORDINAL_TIME: f32 = -1.8;
/// "five times", "varias veces", "drei Mal" (also said of a double charge: milder).
const COUNT_TIMES: f32 = -0.8;
/// The sarcastic-interjection rule applies only when the turn's other negativity is milder than
/// this (sum of word valences).
const SARCASM_MAX_NEGATIVE: f32 = -2.0;
/// A bare legal mention ("my lawyer") is no threat in a turn scoring above this.
const WEAK_THREAT_MAX_SCORE: f64 = 0.2;

const EN: usize = 0;
const ES: usize = 1;
const DE: usize = 2;

const F_NEG: u32 = 1;
const F_CONTRAST: u32 = 1 << 1;
const F_SITU: u32 = 1 << 2;
const F_HOSTILE: u32 = 1 << 3;
const F_LAUGH: u32 = 1 << 4;
const F_UNIVERSAL: u32 = 1 << 5;
const F_VERB: u32 = 1 << 6;
const F_REPEAT: u32 = 1 << 7;
const F_INTENS: u32 = 1 << 8;
const F_KIND: u32 = 1 << 9;
const F_ORD: u32 = 1 << 10;
const F_COUNT: u32 = 1 << 11;
const F_SLANG: u32 = 1 << 12;
const F_LIKE: u32 = 1 << 13;
const F_LEAST: u32 = 1 << 14;
const F_NEGATABLE: u32 = 1 << 15;
const F_FILLER: u32 = 1 << 16;
const F_PRAISE: u32 = 1 << 17;

/// FxHash: the lexicon keys are short words, SipHash would dominate the lookup.
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl Hasher for Fx {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(K);
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

/// What a word means in one language.
#[derive(Debug, Clone, Copy, Default)]
struct Sense {
    val: f32,
    boost: f32,
    flags: u32,
}

#[derive(Debug, Clone, Default)]
struct Entry {
    sense: [Sense; 3],
    /// Bit per language: the word has a sense there.
    has: u8,
    /// Bit per language: a function word voting for that language.
    votes: u8,
    /// Phrases starting with this word, per language: range into `Lexicon::phrases`.
    phr: [(u16, u16); 3],
    /// Threat patterns starting with this word: range into `Lexicon::threat_idx`.
    thr: (u16, u16),
}

#[derive(Debug)]
struct Phrase {
    /// The words after the first.
    rest: Box<[Box<str>]>,
    val: f32,
    flags: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatKind {
    Threat(ThreatKind),
    Exclude,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    Plain,
    Weak,
    Intent,
    Acronym,
}

#[derive(Debug)]
enum PTok {
    Words {
        alts: Box<[Box<str>]>,
        optional: bool,
    },
    ClauseEnd,
    NotNext(Box<[Box<str>]>),
}

#[derive(Debug)]
struct Pattern {
    kind: PatKind,
    guard: Guard,
    toks: Box<[PTok]>,
}

struct Lexicon {
    map: FxMap<Box<str>, Entry>,
    phrases: Vec<Phrase>,
    patterns: Vec<Pattern>,
    threat_idx: Vec<u16>,
    emoji: FxMap<char, Sense>,
}

static LEX: LazyLock<Lexicon> = LazyLock::new(build_lexicon);

const EN_TSV: &str = include_str!("sentiment/en.tsv");
const ES_TSV: &str = include_str!("sentiment/es.tsv");
const DE_TSV: &str = include_str!("sentiment/de.tsv");
const PHRASES_TSV: &str = include_str!("sentiment/phrases.tsv");
const THREATS_TSV: &str = include_str!("sentiment/threats.tsv");

// Function words that vote for a language (frequent, and rare in the other two).
const EN_VOTES: &[&str] = &[
    "the", "and", "is", "are", "was", "were", "i", "you", "to", "it", "my", "this", "that", "of",
    "for", "have", "has", "with", "be", "your", "what", "why", "not", "can", "just", "do", "don't",
    "it's", "i'm", "on", "at", "they", "we", "but", "get", "will", "been", "there", "an", "if",
    "how", "when", "still", "again", "please", "thanks", "any", "our", "from", "would",
];
const ES_VOTES: &[&str] = &[
    "el", "la", "los", "las", "que", "de", "y", "en", "es", "por", "para", "con", "una", "un",
    "mi", "me", "lo", "se", "del", "al", "pero", "muy", "está", "esto", "ya", "porque", "qué",
    "cómo", "también", "hola", "gracias", "nada", "todo", "esta", "este", "son", "hace", "hay",
    "yo", "tengo", "estoy", "su", "le", "les", "sí", "otra", "vez", "todavía", "nunca", "mis",
    "sus", "cuando", "donde", "ustedes", "usted", "os", "nos",
];
const DE_VOTES: &[&str] = &[
    "der", "die", "das", "und", "ist", "nicht", "ich", "sie", "es", "ein", "eine", "einen", "mit",
    "auf", "für", "zu", "den", "dem", "des", "mein", "meine", "meinen", "wir", "noch", "schon",
    "aber", "wieder", "bitte", "sehr", "kein", "keine", "habe", "hat", "wird", "von", "ihr",
    "ihre", "sind", "auch", "nur", "wie", "warum", "hallo", "danke", "jetzt", "immer", "mir",
    "mich", "dass", "oder", "wenn", "bei", "seit", "sich", "doch", "ihnen", "euch", "bin", "war",
];

fn parse_flags(s: &str) -> (u32, f32) {
    let mut flags = 0;
    let mut boost = 0.0;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'H' => flags |= F_HOSTILE,
            b'S' => flags |= F_SITU,
            b'N' => flags |= F_NEG,
            b'C' => flags |= F_CONTRAST,
            b'L' => flags |= F_LAUGH,
            b'U' => flags |= F_UNIVERSAL,
            b'V' => flags |= F_VERB,
            b'R' => flags |= F_REPEAT,
            b'I' => flags |= F_INTENS,
            b'K' => flags |= F_KIND,
            b'O' => flags |= F_ORD,
            b'M' => flags |= F_COUNT,
            b'X' => flags |= F_SLANG,
            b'Q' => flags |= F_LIKE,
            b'Z' => flags |= F_LEAST,
            b'G' => flags |= F_NEGATABLE,
            b'F' => flags |= F_FILLER,
            b'P' => flags |= F_PRAISE,
            b'B' => {
                i += 1;
                boost = if b.get(i) == Some(&b'-') {
                    B_DECR
                } else {
                    B_INCR
                };
            }
            _ => {}
        }
        i += 1;
    }
    (flags, boost)
}

/// Spelling variants people type without accents: Spanish "inutil", German "unverschaemt" and
/// "unverschamt".
fn spelling_variants(word: &str) -> Vec<String> {
    let mut out = Vec::new();
    let strip: String = word
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'ä' => 'a',
            'é' | 'è' => 'e',
            'í' => 'i',
            'ó' | 'ö' => 'o',
            'ú' | 'ü' => 'u',
            c => c,
        })
        .collect();
    if strip != word {
        out.push(strip);
    }
    if word.contains(['ä', 'ö', 'ü', 'ß']) {
        let mut t = String::with_capacity(word.len() + 4);
        for c in word.chars() {
            match c {
                'ä' => t.push_str("ae"),
                'ö' => t.push_str("oe"),
                'ü' => t.push_str("ue"),
                'ß' => t.push_str("ss"),
                c => t.push(c),
            }
        }
        if t != word {
            out.push(t);
        }
    }
    out
}

fn data_lines(tsv: &str) -> impl Iterator<Item = Vec<&str>> {
    tsv.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').collect())
}

fn build_lexicon() -> Lexicon {
    let mut map: FxMap<Box<str>, Entry> = FxMap::default();

    // English: VADER's lexicon, keys lower-cased (the crate matches case-insensitively).
    for (k, v) in vader_sentiment::LEXICON.iter() {
        let key = k.to_lowercase();
        let e = map.entry(key.into_boxed_str()).or_default();
        if e.has & 1 == 0 {
            e.sense[EN].val = *v as f32;
            e.has |= 1;
        }
    }
    // Curated layers.
    for (lang, tsv) in [(EN, EN_TSV), (ES, ES_TSV), (DE, DE_TSV)] {
        for cols in data_lines(tsv) {
            let (word, val, flags) = (
                cols[0],
                cols.get(1).copied().unwrap_or("0"),
                cols.get(2).copied().unwrap_or(""),
            );
            let (f, boost) = parse_flags(flags);
            if let Some(prefix) = word.strip_suffix('*') {
                // Every negative English lexicon word with this prefix gets the flags.
                for (k, e) in map.iter_mut() {
                    if k.starts_with(prefix) && e.has & 1 != 0 && e.sense[EN].val < 0.0 {
                        e.sense[EN].flags |= f;
                    }
                }
                continue;
            }
            let mut words = vec![word.to_string()];
            if lang != EN {
                words.extend(spelling_variants(word));
            }
            for (n, w) in words.into_iter().enumerate() {
                let e = map.entry(w.into_boxed_str()).or_default();
                // An automatic variant never overrides a word that has its own entry.
                if n > 0 && e.has & (1 << lang) != 0 {
                    continue;
                }
                let s = &mut e.sense[lang];
                if val != "=" {
                    s.val = val
                        .parse()
                        .unwrap_or_else(|_| panic!("bad valence for {word}"));
                }
                s.flags |= f;
                if boost != 0.0 {
                    s.boost = boost;
                }
                e.has |= 1 << lang;
            }
        }
    }
    // Universal English words (internet slang, profanity) count inside Spanish and German text.
    for e in map.values_mut() {
        if e.has & 1 != 0 && e.sense[EN].flags & F_UNIVERSAL != 0 {
            for lang in [ES, DE] {
                if e.has & (1 << lang) == 0 {
                    e.sense[lang] = e.sense[EN];
                    e.has |= 1 << lang;
                }
            }
        }
    }
    for (lang, words) in [(EN, EN_VOTES), (ES, ES_VOTES), (DE, DE_VOTES)] {
        for w in words {
            let mut all = vec![w.to_string()];
            all.extend(spelling_variants(w));
            for w in all {
                map.entry(w.into_boxed_str()).or_default().votes |= 1 << lang;
            }
        }
    }

    // Phrases, grouped by (language, first word).
    let mut raw: Vec<(usize, String, Phrase)> = Vec::new();
    for cols in data_lines(PHRASES_TSV) {
        let lang = match cols[0] {
            "en" => EN,
            "es" => ES,
            "de" => DE,
            other => panic!("phrase language {other}"),
        };
        let val: f32 = cols[1].parse().expect("phrase valence");
        let (flags, _) = parse_flags(cols[2]);
        let mut words = cols[3].split(' ');
        let first = words.next().expect("phrase words").to_string();
        let rest: Box<[Box<str>]> = words.map(Into::into).collect();
        raw.push((lang, first, Phrase { rest, val, flags }));
    }
    // Longer phrases first, so "this is a joke" wins over "this is".
    raw.sort_by(|a, b| {
        (a.0, &a.1)
            .cmp(&(b.0, &b.1))
            .then(b.2.rest.len().cmp(&a.2.rest.len()))
    });
    let mut phrases = Vec::with_capacity(raw.len());
    let i = 0;
    while i < raw.len() {
        let mut j = i;
        while j < raw.len() && raw[j].0 == raw[i].0 && raw[j].1 == raw[i].1 {
            j += 1;
        }
        let lang = raw[i].0;
        let first = raw[i].1.clone();
        let start = phrases.len() as u16;
        for r in raw.drain(i..j).map(|r| r.2) {
            phrases.push(r);
        }
        let e = map.entry(first.into_boxed_str()).or_default();
        e.phr[lang] = (start, phrases.len() as u16 - start);
        // `drain` shifted the rest down: continue at i.
    }

    // Threat patterns.
    let mut patterns = Vec::new();
    let mut first_words: FxMap<String, Vec<u16>> = FxMap::default();
    for cols in data_lines(THREATS_TSV) {
        let kind = match cols[0] {
            "legal" => PatKind::Threat(ThreatKind::Legal),
            "chargeback" => PatKind::Threat(ThreatKind::Chargeback),
            "regulator" => PatKind::Threat(ThreatKind::Regulator),
            "churn" => PatKind::Threat(ThreatKind::Churn),
            "exclude" => PatKind::Exclude,
            other => panic!("threat kind {other}"),
        };
        let guard = match cols[1] {
            "S" => Guard::Plain,
            "W" => Guard::Weak,
            "I" => Guard::Intent,
            "A" => Guard::Acronym,
            other => panic!("threat guard {other}"),
        };
        let alts = |s: &str| -> Box<[Box<str>]> {
            let mut v: Vec<Box<str>> = Vec::new();
            for a in s.split('|') {
                v.push(a.into());
                for var in spelling_variants(a) {
                    v.push(var.into());
                }
            }
            v.into()
        };
        let toks: Box<[PTok]> = cols[2]
            .split(' ')
            .map(|t| {
                if t == "$" {
                    PTok::ClauseEnd
                } else if let Some(rest) = t.strip_prefix('!') {
                    PTok::NotNext(alts(rest))
                } else if let Some(w) = t.strip_suffix('?') {
                    PTok::Words {
                        alts: alts(w),
                        optional: true,
                    }
                } else {
                    PTok::Words {
                        alts: alts(t),
                        optional: false,
                    }
                }
            })
            .collect();
        let id = patterns.len() as u16;
        match &toks[0] {
            PTok::Words {
                alts,
                optional: false,
            } => {
                for a in alts.iter() {
                    first_words.entry(a.to_string()).or_default().push(id);
                }
            }
            _ => panic!(
                "a threat pattern must start with a required word: {}",
                cols[2]
            ),
        }
        patterns.push(Pattern { kind, guard, toks });
    }
    let mut threat_idx = Vec::new();
    for (w, ids) in first_words {
        let start = threat_idx.len() as u16;
        threat_idx.extend(ids);
        let e = map.entry(w.into_boxed_str()).or_default();
        e.thr = (start, threat_idx.len() as u16 - start);
    }

    // Emoji: VADER's descriptions scored with the lexicon, then the ones that matter here.
    let mut emoji: FxMap<char, Sense> = FxMap::default();
    for (k, desc) in vader_sentiment::EMOJI_LEXICON.iter() {
        let mut chars = k.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            continue;
        };
        let v: f32 = desc
            .split_whitespace()
            .filter_map(|w| {
                map.get(w)
                    .filter(|e| e.has & 1 != 0)
                    .map(|e| e.sense[EN].val)
            })
            .sum();
        if v != 0.0 {
            emoji.insert(
                c,
                Sense {
                    val: v.clamp(-3.0, 3.0),
                    boost: 0.0,
                    flags: 0,
                },
            );
        }
    }
    let curated: &[(char, f32, u32)] = &[
        ('😡', -2.5, 0),
        ('🤬', -3.0, F_HOSTILE),
        ('😠', -2.3, 0),
        ('😤', -1.8, 0),
        ('🙄', -1.2, 0),
        ('😒', -1.2, 0),
        ('🖕', -3.0, F_HOSTILE),
        ('💩', -1.5, 0),
        ('👎', -1.8, 0),
        ('🤦', -1.2, 0),
        ('😑', -0.8, 0),
        ('😐', -0.3, 0),
        ('😞', -1.5, F_SITU),
        ('😔', -1.2, F_SITU),
        ('😢', -1.5, F_SITU),
        ('😭', 0.0, F_LAUGH),
        ('😩', -1.2, 0),
        ('😫', -1.5, 0),
        ('🤡', -1.5, F_HOSTILE),
        ('👍', 1.5, 0),
        ('🙏', 1.0, 0),
        ('❤', 2.5, 0),
        ('💕', 2.5, 0),
        ('🥰', 3.0, 0),
        ('😍', 3.0, 0),
        ('🙂', 1.0, 0),
        ('😊', 2.0, 0),
        ('😀', 2.0, 0),
        ('😁', 2.0, 0),
        ('😃', 2.0, 0),
        ('😄', 2.0, 0),
        ('🔥', 1.5, 0),
        ('🙃', 0.0, F_LAUGH),
        ('😂', 1.0, F_LAUGH),
        ('🤣', 1.0, F_LAUGH),
        ('😆', 1.0, F_LAUGH),
        ('😹', 1.0, F_LAUGH),
        ('😅', 0.5, F_LAUGH),
        ('💀', 0.0, F_LAUGH),
        ('😜', 1.0, F_LAUGH),
        ('😉', 1.0, F_LAUGH),
        ('😏', 0.0, F_LAUGH),
        ('🥲', 0.5, F_LAUGH),
        ('🥴', 0.0, F_LAUGH),
        ('🤪', 1.0, F_LAUGH),
        ('😝', 1.0, F_LAUGH),
        ('😛', 1.0, F_LAUGH),
        ('🫠', 0.0, F_LAUGH),
    ];
    for &(c, val, flags) in curated {
        emoji.insert(
            c,
            Sense {
                val,
                boost: 0.0,
                flags,
            },
        );
    }

    Lexicon {
        map,
        phrases,
        patterns,
        threat_idx,
        emoji,
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Tok {
    /// Byte range of the normalised (lower-case) word in `Tokens::lower`.
    ls: u32,
    le: u32,
    /// Byte range of the word as written in the text.
    os: u32,
    oe: u32,
    entry: Option<&'static Entry>,
    /// An emoji token's sense.
    emoji: Option<Sense>,
    /// ALL CAPS (at least two letters, none lower case).
    caps: bool,
    /// Letters in the word (saturating).
    letters: u8,
    /// Punctuation that ends a clause follows the word.
    brk: bool,
    /// A number >= 2 ("3 times").
    count: bool,
    /// An ordinal >= 2 written with digits ("3rd time").
    ordinal: bool,
    /// Laughter or a joke/sarcasm marker ("hahaha", "/s", 😂).
    laugh: bool,
}

impl Tok {
    fn new(ls: usize, le: usize, os: usize, oe: usize) -> Tok {
        Tok {
            ls: ls as u32,
            le: le as u32,
            os: os as u32,
            oe: oe as u32,
            entry: None,
            emoji: None,
            caps: false,
            letters: 0,
            brk: false,
            count: false,
            ordinal: false,
            laugh: false,
        }
    }
}

/// Per-word working state of `score`.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// Effective lexicon valence (0: not a sentiment word here).
    val: f32,
    /// Booster / dampener value.
    boost: f32,
    flags: u32,
    /// Starts a phrase (its valence is in `val`).
    phrase: bool,
    /// Final valence.
    sent: f32,
}

struct Tokens<'t> {
    text: &'t str,
    lower: String,
    toks: Vec<Tok>,
}

fn is_clause_punct(c: char) -> bool {
    matches!(
        c,
        '.' | ',' | '!' | '?' | ';' | ':' | '…' | '¿' | '¡' | '(' | ')'
    )
}

fn is_laugh_word(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 4 {
        return false;
    }
    let only = |set: &[u8]| b.iter().all(|c| set.contains(c));
    (only(b"ha") && b.contains(&b'h') && b.contains(&b'a'))
        || (only(b"ja") && b[0] == b'j')
        || (only(b"je") && b[0] == b'j')
        || (only(b"he") && b.starts_with(b"hehe"))
        || (b[0] == b'l' && b[b.len() - 1] == b'l' && b[1..b.len() - 1].iter().all(|&c| c == b'o'))
        || (b.starts_with(b"lmao") && b[4..].iter().all(|&c| c == b'o'))
        || (b[0] == b'x' && b[1..].iter().all(|&c| c == b'd'))
}

impl<'t> Tokens<'t> {
    fn new(text: &'t str) -> Tokens<'t> {
        let lex = &*LEX;
        let mut t = Tokens {
            text,
            lower: String::with_capacity(text.len() + 8),
            toks: Vec::with_capacity(text.len() / 5 + 2),
        };
        let base = text.as_ptr() as usize;
        for raw in text.split_whitespace() {
            let off = raw.as_ptr() as usize - base;
            let mut start = 0;
            for (ci, c) in raw.char_indices() {
                if (c as u32) >= 0x2190 {
                    if let Some(s) = lex.emoji.get(&c) {
                        t.push_word(&raw[start..ci], off + start);
                        let os = off + ci;
                        t.toks.push(Tok {
                            emoji: Some(*s),
                            laugh: s.flags & F_LAUGH != 0,
                            ..Tok::new(0, 0, os, os + c.len_utf8())
                        });
                        start = ci + c.len_utf8();
                    }
                }
            }
            t.push_word(&raw[start..], off + start);
        }
        t
    }

    fn push_word(&mut self, piece: &str, off: usize) {
        if piece.is_empty() {
            return;
        }
        let lex = &*LEX;
        let trimmed = piece.trim_matches(|c: char| !c.is_alphanumeric());
        if trimmed.is_empty() {
            // Punctuation alone: an emoticon, or a clause break for the word before.
            if piece.len() >= 2 && piece.len() <= 8 {
                let ls = self.lower.len();
                self.lower
                    .extend(piece.chars().flat_map(char::to_lowercase));
                if let Some(e) = lex
                    .map
                    .get(&self.lower[ls..])
                    .filter(|e| e.sense[EN].val != 0.0)
                {
                    let tok = Tok::new(ls, self.lower.len(), off, off + piece.len());
                    self.toks.push(Tok {
                        entry: Some(e),
                        ..tok
                    });
                    return;
                }
                self.lower.truncate(ls);
            }
            if piece.contains(is_clause_punct) {
                if let Some(last) = self.toks.last_mut() {
                    last.brk = true;
                }
            }
            return;
        }
        let lead = trimmed.as_ptr() as usize - piece.as_ptr() as usize;
        let trail = &piece[lead + trimmed.len()..];
        let brk = trail.contains(is_clause_punct);
        // Tone indicators: "/s" (sarcasm), "/j" and "/jk" (joking), "/lh" (light-hearted).
        if lead > 0
            && piece.as_bytes()[lead - 1] == b'/'
            && matches!(trimmed, "s" | "j" | "jk" | "lh" | "hj")
        {
            let ls = self.lower.len();
            let tok = Tok::new(ls, ls, off + lead, off + lead + trimmed.len());
            self.toks.push(Tok {
                brk,
                laugh: true,
                ..tok
            });
            return;
        }

        // Short emoticons with letters (":D", ":p", "xD") are lexicon entries as written.
        if trimmed.len() != piece.len() && piece.len() <= 4 {
            let ls = self.lower.len();
            self.lower
                .extend(piece.chars().flat_map(char::to_lowercase));
            if let Some(e) = lex
                .map
                .get(&self.lower[ls..])
                .filter(|e| e.sense[EN].val != 0.0)
            {
                let tok = Tok::new(ls, self.lower.len(), off, off + piece.len());
                self.toks.push(Tok {
                    entry: Some(e),
                    brk,
                    ..tok
                });
                return;
            }
            self.lower.truncate(ls);
        }

        let ls = self.lower.len();
        let mut letters = 0u32;
        let mut lowercase_seen = false;
        for c in trimmed.chars() {
            if c.is_ascii() {
                if c.is_ascii_alphabetic() {
                    letters += 1;
                    lowercase_seen |= c.is_ascii_lowercase();
                }
                self.lower.push(c.to_ascii_lowercase());
            } else if matches!(c, '’' | '‘' | '´' | '`') {
                self.lower.push('\'');
            } else {
                if c.is_alphabetic() {
                    letters += 1;
                    lowercase_seen |= c.is_lowercase();
                }
                self.lower.extend(c.to_lowercase());
            }
        }
        let le = self.lower.len();
        let w = &self.lower[ls..le];
        let entry = lex.map.get(w);
        let wb = w.as_bytes();
        let digits = wb.iter().take_while(|b| b.is_ascii_digit()).count();
        let (mut count, mut ordinal) = (false, false);
        if digits > 0 {
            let n: u64 = w[..digits.min(9)].parse().unwrap_or(0);
            let suffix = &w[digits..];
            if n >= 2 {
                if suffix.is_empty() {
                    count = true;
                } else if matches!(
                    suffix,
                    "st" | "nd" | "rd" | "th" | "ª" | "º" | "a" | "ra" | "era" | "te" | "ten"
                ) {
                    ordinal = true;
                }
            }
        }
        let laugh = entry.is_none() && is_laugh_word(w);
        self.toks.push(Tok {
            entry,
            caps: letters >= 2 && !lowercase_seen,
            letters: letters.min(255) as u8,
            brk,
            count,
            ordinal,
            laugh,
            ..Tok::new(ls, le, off + lead, off + lead + trimmed.len())
        });
    }

    #[inline]
    fn w(&self, i: usize) -> &str {
        let t = &self.toks[i];
        &self.lower[t.ls as usize..t.le as usize]
    }

    /// The word as written.
    fn orig(&self, i: usize) -> &str {
        let t = &self.toks[i];
        &self.text[t.os as usize..t.oe as usize]
    }

    #[inline]
    fn w_is(&self, i: usize, words: &[&str]) -> bool {
        i < self.toks.len() && words.contains(&self.w(i))
    }

    /// The language voted by function words; None when no function word was seen.
    fn language(&self) -> Option<usize> {
        let mut v = [0u32; 3];
        for t in &self.toks {
            if let Some(e) = t.entry {
                for (l, n) in v.iter_mut().enumerate() {
                    *n += ((e.votes >> l) & 1) as u32;
                }
            }
        }
        if v == [0, 0, 0] {
            None
        } else if v[ES] > v[EN] && v[ES] >= v[DE] {
            Some(ES)
        } else if v[DE] > v[EN] && v[DE] > v[ES] {
            Some(DE)
        } else {
            Some(EN)
        }
    }

    /// The word's sense in `lang`; without a language, the first language that knows it.
    #[inline]
    fn sense(&self, i: usize, lang: Option<usize>) -> Sense {
        let t = &self.toks[i];
        if let Some(s) = t.emoji {
            return s;
        }
        let Some(e) = t.entry else {
            return Sense::default();
        };
        let l = match lang {
            Some(l) => l,
            None => match [EN, ES, DE].into_iter().find(|l| e.has & (1 << l) != 0) {
                Some(l) => l,
                None => return Sense::default(),
            },
        };
        if e.has & (1 << l) != 0 {
            e.sense[l]
        } else {
            Sense::default()
        }
    }

    // -----------------------------------------------------------------------------------------
    // Score
    // -----------------------------------------------------------------------------------------

    fn score(&self) -> f64 {
        let n = self.toks.len();
        if n == 0 {
            return 0.0;
        }
        let lex = &*LEX;
        let lang = self.language();
        let plang = lang.unwrap_or(EN);

        // Per word: effective valence, booster, flags.
        let mut sl = vec![Slot::default(); n];
        let mut laugh = false;
        let (mut caps2, mut caps3, mut words) = (0u32, 0u32, 0u32);
        for i in (0..n).rev() {
            let t = &self.toks[i];
            laugh |= t.laugh;
            if t.letters > 0 {
                words += 1;
                if t.caps {
                    caps2 += 1;
                    caps3 += (t.letters >= 3) as u32;
                }
            }
            let s = self.sense(i, lang);
            let mut v = s.val;
            let mut b = s.boost;
            laugh |= s.flags & F_LAUGH != 0;
            // A run of the same emoji counts once ("😩😩😩😩").
            if t.emoji.is_some()
                && i > 0
                && self.toks[i - 1].emoji.is_some()
                && self.orig(i) == self.orig(i - 1)
            {
                v = 0.0;
            }
            if s.flags & F_FILLER != 0 && (i == 0 || self.toks[i - 1].brk) {
                v = 0.0;
            }
            if s.flags & (F_KIND | F_LIKE | F_SLANG | F_INTENS) != 0 {
                if s.flags & F_KIND != 0 && self.w_is(i + 1, &["of"]) {
                    v = 0.0;
                    b = B_DECR;
                }
                if s.flags & F_LIKE != 0 && !(i > 0 && self.w_is(i - 1, LIKE_SUBJECTS)) {
                    v = 0.0;
                }
                if s.flags & F_SLANG != 0 {
                    v = self.slang(i, v);
                }
                if s.flags & F_INTENS != 0 && i + 1 < n && sl[i + 1].val != 0.0 {
                    v = 0.0;
                    b = B_INCR;
                }
            }
            if b != 0.0 {
                v = 0.0;
            }
            sl[i].val = v;
            sl[i].boost = b;
            sl[i].flags = s.flags;
        }
        let mixed_caps = caps2 > 0 && caps2 < words;

        // Phrases and repetition counters replace their words' sentiment.
        let mut repeat = false;
        let mut i = 0;
        while i < n {
            let mut matched = 0usize;
            let mut pval = 0f32;
            let mut pflags = 0u32;
            if let Some(e) = self.toks[i].entry {
                let (start, len) = e.phr[plang];
                for p in &lex.phrases[start as usize..(start + len) as usize] {
                    if i + p.rest.len() < n
                        && p.rest
                            .iter()
                            .enumerate()
                            .all(|(k, w)| self.w(i + 1 + k) == &**w)
                    {
                        matched = 1 + p.rest.len();
                        pval = p.val;
                        pflags = p.flags;
                        break;
                    }
                }
            }
            if matched == 0 && i + 1 < n {
                let s = self.sense(i, lang);
                let next = self.w(i + 1);
                let ord = s.flags & F_ORD != 0 || self.toks[i].ordinal;
                let cnt = s.flags & F_COUNT != 0 || self.toks[i].count;
                let (time, times) = match plang {
                    ES => ("vez", "veces"),
                    DE => ("mal", "mal"),
                    _ => ("time", "times"),
                };
                if ord && next == time {
                    matched = 2;
                    pval = ORDINAL_TIME;
                    pflags = F_REPEAT;
                } else if cnt && next == times {
                    // "zum 3. Mal" is an ordinal.
                    let zum = plang == DE && i > 0 && self.w_is(i - 1, &["zum"]);
                    matched = 2;
                    pval = if zum { ORDINAL_TIME } else { COUNT_TIMES };
                    pflags = F_REPEAT;
                }
            }
            if matched > 0 {
                for (k, x) in sl[i..i + matched].iter_mut().enumerate() {
                    x.val = 0.0;
                    x.boost = 0.0;
                    // A negator ending the phrase ("still not") still negates what follows; one
                    // inside it ("can't believe") does not.
                    x.flags &= if k + 1 == matched && k > 0 { F_NEG } else { 0 };
                }
                sl[i].phrase = true;
                sl[i].val = pval;
                sl[i].flags = pflags;
                // A repetition phrase carries its own valence; "again" alone adds REPEAT_EXTRA.
                repeat |= pflags & F_REPEAT != 0 && pval == 0.0;
                i += matched;
            } else {
                repeat |= sl[i].flags & F_REPEAT != 0 && sl[i].val == 0.0;
                i += 1;
            }
        }

        // VADER valence with our damping.
        let concord = lang == Some(ES);
        let mut situational = 0f32;
        for i in 0..n {
            let v0 = sl[i].val;
            if v0 == 0.0 {
                continue;
            }
            let mut v = v0;
            let mut negated = false;
            if sl[i].phrase {
                if sl[i].flags & F_NEGATABLE != 0 {
                    for j in (i.saturating_sub(3)..i).rev() {
                        if self.toks[j].brk {
                            break;
                        }
                        if sl[j].flags & F_NEG != 0 && !sl[j].phrase {
                            v *= N_SCALAR;
                            break;
                        }
                    }
                }
            } else {
                if self.toks[i].caps && mixed_caps {
                    v += C_INCR.copysign(v);
                }
                for start in 0..3 {
                    if i <= start {
                        break;
                    }
                    let j = i - start - 1;
                    // Unlike the reference VADER, boosters and negation stop at a clause break:
                    // "no funciona nada, estoy harto" is not "not fed up".
                    if self.toks[j].brk {
                        break;
                    }
                    if sl[j].val != 0.0 {
                        continue;
                    }
                    let mut s = sl[j].boost;
                    if s != 0.0 {
                        if v < 0.0 {
                            s = -s;
                        }
                        if self.toks[j].caps && mixed_caps {
                            s += C_INCR.copysign(v);
                        }
                        s *= [1.0, 0.95, 0.9][start];
                        v += s;
                    }
                    // "never so good" intensifies; "without doubt" is no negation.
                    let never_so = |a: usize, b: usize| {
                        self.w(a) == "never" && (self.w(b) == "so" || self.w(b) == "this")
                    };
                    let without_doubt =
                        start >= 1 && self.w(j) == "without" && self.w(j + 1) == "doubt";
                    if (start == 1 && never_so(i - 2, i - 1))
                        || (start == 2 && (never_so(i - 3, i - 2) || never_so(i - 3, i - 1)))
                    {
                        v *= 1.25;
                    } else if sl[j].flags & F_NEG != 0 && !without_doubt && !(concord && negated) {
                        v *= N_SCALAR;
                        negated = true;
                    }
                }
                if i > 0
                    && sl[i - 1].val == 0.0
                    && sl[i - 1].flags & F_LEAST != 0
                    && !(i > 1 && self.w_is(i - 2, &["at", "very"]))
                {
                    v *= N_SCALAR;
                }
                if lang == Some(DE) && sl[i].flags & F_VERB != 0 && !negated {
                    for j in i + 1..n.min(i + 4) {
                        if self.w_is(j, &["nicht", "nie", "niemals", "kein", "keine", "keinen"]) {
                            v *= N_SCALAR;
                            break;
                        }
                        if self.toks[j].brk {
                            break;
                        }
                    }
                }
            }
            // An evaluative word describing bad news ("a terrible mistake", "horrible accident")
            // is part of the bad news.
            if v < 0.0
                && sl[i].flags & (F_SITU | F_HOSTILE) == 0
                && i + 1 < n
                && sl[i + 1].flags & F_SITU != 0
                && sl[i + 1].val < 0.0
            {
                sl[i].flags |= F_SITU;
            }
            if v < 0.0 {
                if sl[i].flags & F_SITU != 0 {
                    v *= SITUATIONAL_DAMP;
                    situational += v;
                }
                if laugh && sl[i].flags & F_HOSTILE == 0 {
                    v *= LAUGH_DAMP;
                }
            }
            sl[i].sent = v;
        }

        if situational < SITUATIONAL_CAP {
            let f = SITUATIONAL_CAP / situational;
            for x in sl
                .iter_mut()
                .filter(|x| x.sent < 0.0 && x.flags & F_SITU != 0)
            {
                x.sent *= f;
            }
        }

        // Sarcastic interjections: a praise word alone in a clause of one or two words ("Great.",
        // "Oh wonderful,") next to a mild complaint in another clause says nothing positive.
        // Next to strong negativity it is more likely playful ("worst idea ever. Amazing."), and a
        // sarcasm cue must never be what makes a turn hostile, so it is left alone there.
        let negative: f32 = sl.iter().map(|x| x.sent.min(0.0)).sum();
        if (SARCASM_MAX_NEGATIVE..0.0).contains(&negative) {
            let mut start = 0;
            while start < n {
                let mut end = start;
                while end + 1 < n && !self.toks[end].brk {
                    end += 1;
                }
                // Clause is start..=end.
                let len = end + 1 - start;
                if len <= 2 && sl[start..=end].iter().all(|x| x.sent >= 0.0) {
                    let negative_elsewhere = sl[..start]
                        .iter()
                        .chain(&sl[end + 1..])
                        .any(|x| x.sent < 0.0);
                    if negative_elsewhere {
                        for x in &mut sl[start..=end] {
                            if x.flags & F_PRAISE != 0 {
                                x.sent = 0.0;
                            }
                        }
                    }
                }
                start = end + 1;
            }
        }

        // "but": the first clause counts half, the second one and a half.
        if let Some(b) = (0..n).find(|&i| sl[i].flags & F_CONTRAST != 0 && !sl[i].phrase) {
            for (k, s) in sl.iter_mut().map(|x| &mut x.sent).enumerate() {
                if k < b {
                    *s *= 0.5;
                } else if k > b {
                    *s *= 1.5;
                }
            }
        }

        let mut sum: f32 = sl.iter().map(|x| x.sent).sum();
        if repeat && sum < 0.0 {
            sum += REPEAT_EXTRA;
        }
        let shouting = caps3 >= 3 || (words >= 3 && caps2 == words && caps3 >= 1);
        if shouting && sum <= 0.0 {
            sum += SHOUT_EXTRA;
        }
        let mut sum = sum as f64;
        if sum != 0.0 {
            let b = self.text.as_bytes();
            let em = b.iter().filter(|&&c| c == b'!').count().min(4);
            let qm = b.iter().filter(|&&c| c == b'?').count();
            let q = match qm {
                0 | 1 => 0.0,
                2 | 3 => qm as f64 * QMARK_INCR,
                _ => 0.96,
            };
            let amp = em as f64 * EMARK_INCR + q;
            sum += amp.copysign(sum);
        }
        (sum / (sum * sum + ALPHA).sqrt()).clamp(-1.0, 1.0)
    }

    /// Contextual value of "sick", "wicked", "killer": praise in "this is sick", "that's
    /// wicked", "sick feature"; otherwise near neutral ("I'm sick": illness, not hostility).
    fn slang(&self, i: usize, default: f32) -> f32 {
        #[rustfmt::skip]
        const PRAISE_BEFORE: &[&str] = &[
            "this", "that", "that's", "thats", "it's", "its", "looks", "look", "looked", "sounds",
            "sound", "pretty", "totally", "absolutely", "fucking", "hella", "freaking", "literally",
            "damn", "how", "real", "super", "soo", "sooo",
        ];
        const SUBJECTS: &[&str] = &["this", "that", "it", "which"];
        let subject = |p: &str| SUBJECTS.contains(&p) || NOUNS.contains(&p);
        #[rustfmt::skip]
        const NOUNS: &[&str] = &[
            "feature", "features", "app", "apps", "update", "design", "product", "deal", "deals",
            "price", "prices", "ui", "look", "job", "stuff", "game", "car", "ride", "view", "trick",
            "tricks", "move", "moves", "beat", "beats", "track", "song", "shot", "setup", "release",
            "drop", "combo", "edit", "video", "pic", "photo", "shoes", "bike", "graphics", "sound",
            "interface", "tool", "integration", "idea", "service", "support", "dashboard",
            "upgrade", "performance", "speed", "camera", "phone", "laptop", "skills", "work",
            "results",
        ];
        if self.w_is(
            i + 1,
            &[
                "of", "and", "to", "with", "from", "since", "for", "today", "again", "all",
            ],
        ) {
            return default;
        }
        let prev = |k: usize| if i >= k { Some(self.w(i - k)) } else { None };
        let praise = match prev(1) {
            Some(p) if PRAISE_BEFORE.contains(&p) => true,
            Some("is" | "was" | "'s" | "are" | "looks" | "sounds") => prev(2).is_some_and(subject),
            Some("so") => prev(2).is_some_and(|p| {
                subject(p) || p == "is" || p == "was" || p == "that's" || p == "it's"
            }),
            _ => false,
        } || self.w_is(i + 1, NOUNS);
        if praise {
            2.0
        } else {
            default
        }
    }

    // -----------------------------------------------------------------------------------------
    // Threats
    // -----------------------------------------------------------------------------------------

    fn threat(&self) -> Option<Threat> {
        self.threat_with_score(None)
    }

    fn threat_with_score(&self, known_score: Option<f64>) -> Option<Threat> {
        let lex = &*LEX;
        let n = self.toks.len();
        // (kind, start, end, guard); exclusions separately. Threats are rare: allocate lazily.
        let mut cands: Vec<(ThreatKind, usize, usize, Guard)> = Vec::new();
        let mut excl: Vec<(usize, usize)> = Vec::new();
        for i in 0..n {
            let Some(e) = self.toks[i].entry else {
                continue;
            };
            let (start, len) = e.thr;
            for &pid in &lex.threat_idx[start as usize..(start + len) as usize] {
                let p = &lex.patterns[pid as usize];
                if let Some(end) = self.match_pattern(p, i) {
                    match p.kind {
                        PatKind::Exclude => excl.push((i, end)),
                        PatKind::Threat(k) => cands.push((k, i, end, p.guard)),
                    }
                }
            }
        }
        if cands.is_empty() {
            return None;
        }
        let mut score = known_score;
        let mut best: Option<(ThreatKind, usize, usize)> = None;
        for &(kind, s, e, guard) in &cands {
            if excl.iter().any(|&(a, b)| a < e && s < b) || self.threat_negated(s, e) {
                continue;
            }
            let ok = match guard {
                Guard::Plain => true,
                Guard::Weak => *score.get_or_insert_with(|| self.score()) <= WEAK_THREAT_MAX_SCORE,
                Guard::Intent => self.has_intent(s),
                Guard::Acronym => !self.orig(s).chars().any(char::is_lowercase),
            };
            if ok && best.is_none_or(|(bk, bs, _)| (kind, s) < (bk, bs)) {
                best = Some((kind, s, e));
            }
        }
        best.map(|(kind, s, e)| Threat {
            kind,
            matched: self.text[self.toks[s].os as usize..self.toks[e - 1].oe as usize].to_string(),
        })
    }

    /// Matches pattern `p` at token `i`; the end (exclusive) of the match.
    fn match_pattern(&self, p: &Pattern, i: usize) -> Option<usize> {
        let n = self.toks.len();
        let mut k = i;
        for pt in p.toks.iter() {
            match pt {
                PTok::Words { alts, optional } => {
                    if k < n && alts.iter().any(|a| **a == *self.w(k)) {
                        k += 1;
                    } else if !optional {
                        return None;
                    }
                }
                PTok::ClauseEnd => {
                    if !(k == n || (k > i && self.toks[k - 1].brk)) {
                        return None;
                    }
                }
                PTok::NotNext(alts) => {
                    if k < n && alts.iter().any(|a| **a == *self.w(k)) {
                        return None;
                    }
                }
            }
        }
        Some(k)
    }

    /// A negator in the three words before the threat (same clause), or "nicht/nie" right after.
    fn threat_negated(&self, s: usize, e: usize) -> bool {
        #[rustfmt::skip]
        const NEGATORS: &[&str] = &[
            "not", "never", "no", "won't", "wont", "don't", "dont", "didn't", "didnt", "doesn't",
            "doesnt", "wouldn't", "wouldnt", "shouldn't", "isn't", "aren't", "nunca", "jamás",
            "jamas", "tampoco", "ni", "nicht", "nie", "niemals", "kein", "keine", "keinen",
            "keinem", "keiner", "no-one",
        ];
        for j in (s.saturating_sub(3)..s).rev() {
            if self.toks[j].brk {
                break;
            }
            // "don't make me sue you" is still a threat.
            if self.w_is(j, NEGATORS) && !self.w_is(j + 1, &["make", "force", "let"]) {
                return true;
            }
        }
        e < self.toks.len() && !self.toks[e - 1].brk && self.w_is(e, &["nicht", "nie", "niemals"])
    }

    /// Intent before a threat: "I'll call my bank", "I'm going to contact my bank".
    fn has_intent(&self, s: usize) -> bool {
        const INTENT: &[&str] = &[
            "will", "i'll", "ill", "we'll", "gonna", "going", "about", "shall", "i'm", "im",
            "i've", "ive", "we've", "already", "voy", "vamos", "werde", "werden", "habe",
        ];
        (s.saturating_sub(4)..s).any(|j| self.w_is(j, INTENT))
    }
}

/// "like" is a sentiment verb only after these ("I like it", "don't like", "would like").
#[rustfmt::skip]
const LIKE_SUBJECTS: &[&str] = &[
    "i", "we", "they", "you", "really", "i'd", "we'd", "would", "do", "does", "did", "don't",
    "dont", "doesn't", "doesnt", "didn't", "didnt", "actually", "totally", "genuinely",
    "definitely", "also", "still", "kinda", "much", "they'd", "you'd", "not", "people",
];

#[cfg(test)]
mod tests {
    use super::*;

    const T: f64 = DEFAULT_TURN_THRESHOLD;

    fn hostile(s: &str) -> bool {
        score(s) <= T
    }

    #[test]
    fn lexicon_builds_and_neutral_is_zero() {
        assert_eq!(score(""), 0.0);
        assert_eq!(score("   "), 0.0);
        assert_eq!(score("I ordered a blue jacket on Monday"), 0.0);
        assert!(score("thank you so much, great help!") > 0.5);
    }

    #[test]
    fn frustration_is_hostile_bad_news_is_not() {
        assert!(hostile(
            "this is ridiculous, third time I'm asking, useless"
        ));
        assert!(hostile(
            "You people are completely incompetent. Unacceptable!"
        ));
        assert!(hostile("I'm sick and tired of waiting, this is a joke"));
        assert!(hostile("WHY IS THIS STILL NOT FIXED?? WASTE OF MY TIME"));
        assert!(hostile(
            "how many times do I have to explain this, useless bot"
        ));
        assert!(hostile(
            "what the hell is wrong with you people, I've had enough"
        ));
        for plain in [
            "my parcel was lost",
            "My parcel was lost and the box arrived damaged",
            "Unfortunately the payment failed with an error",
            "my dad died last month and I need to close his account",
            "sorry, I'm confused, the app crashed",
            "the delivery is late",
            "I'm sick today, can we move the appointment?",
        ] {
            let s = score(plain);
            assert!(s > DEFAULT_TRAJECTORY_THRESHOLD, "{plain}: {s}");
        }
        assert!(score("my parcel was lost") < 0.0);
    }

    #[test]
    fn sarcasm_and_praise_slang_are_not_hostile() {
        let s = score("that's the worst thing I've ever heard, I love it");
        assert!(s > T, "{s}");
        for praise in [
            "sick feature",
            "this is sick",
            "that's wicked",
            "wicked good update",
            "killer feature, well done",
            "insanely good",
            "the new dashboard is crazy good",
            "you guys are killing it",
            "not bad at all",
        ] {
            let s = score(praise);
            assert!(s > 0.0, "{praise}: {s}");
        }
        // A joking complaint is not an angry one.
        assert!(score("worst day ever lol 😂") > T);
        // A sarcastic complaint may be negative, never hostile-level on its own.
        assert!(score("great, another two hours waiting, just what I needed") > T);
        // But "sick of" is frustration.
        assert!(score("I'm sick of this") < -0.4);
        // Sarcastic interjections next to a mild complaint read as a complaint, not as praise.
        let s = score("Great. Just great. Another delay.");
        assert!(s < 0.0 && s > T, "{s}");
        assert!(score("Great, thanks, that fixed it!") > 0.5);
        assert!(score("lol ok this is kinda broken but no worries") > 0.0);
        assert!(score("the new update is killer") > 0.0);
        assert!(score("I can't believe how fast that was") >= 0.0);
        assert!(score("don't you just love it when the app logs you out") > T);
    }

    #[test]
    fn negation_and_intensifiers() {
        assert!(score("not bad at all") > 0.2);
        let s = score("not helpful at all");
        assert!(s < 0.0 && s > T, "{s}");
        assert!(score("this is not good") < 0.0);
        assert!(score("I don't like it") < 0.0);
        assert!(score("It's like the third time") < 0.0);
        assert!(score("I like it") > 0.0);
        assert!(score("very bad") < score("bad"));
        assert!(score("extremely helpful") > score("helpful"));
        assert!(score("slightly annoying") > score("annoying"));
        assert!(score("this is terrible!!!") < score("this is terrible"));
        assert!(score("this is TERRIBLE") < score("this is terrible"));
        assert!(score("the support was good, but the app is awful") < 0.0);
        assert!(score("never so happy") > score("happy"));
        // Negation does not cross a clause break.
        assert!(score("it doesn't work, I'm angry") < -0.4);
        assert!(score("no funciona nada, estoy harto") < -0.5);
        // "Well, ..." is a filler; "works well" is praise.
        assert_eq!(score("Well, I ordered on Monday"), 0.0);
        assert!(score("it works well") > 0.0);
        // Waiting, nudging, quitting.
        assert!(score("hello??? anyone there???") < -0.3);
        assert!(score("I'm done with you people") < -0.4);
        assert!(score("I've been on hold for an hour") < -0.2);
    }

    #[test]
    fn building_frustration_over_three_turns() {
        let turns = [
            "I'm still waiting for my refund",
            "it's been two weeks and no response",
            "this is getting really annoying, any update?",
        ];
        let scores: Vec<f64> = turns.iter().map(|t| score(t)).collect();
        for (t, s) in turns.iter().zip(&scores) {
            assert!(*s > T, "no single turn is hostile: {t}: {s}");
        }
        assert!(
            trajectory_fires(
                &scores,
                DEFAULT_TRAJECTORY_WINDOW,
                DEFAULT_TRAJECTORY_THRESHOLD
            ),
            "{scores:?}"
        );
        // Improving: does not fire.
        let improving = [scores[2], scores[1], 0.3];
        assert!(!trajectory_fires(
            &improving,
            3,
            DEFAULT_TRAJECTORY_THRESHOLD
        ));
        // Too few turns.
        assert!(!trajectory_fires(
            &scores[..2],
            3,
            DEFAULT_TRAJECTORY_THRESHOLD
        ));
        assert!(!trajectory_fires(&scores, 0, DEFAULT_TRAJECTORY_THRESHOLD));
        // Plain bad news three times: no.
        let news: Vec<f64> = [
            "my parcel was lost",
            "the box was damaged",
            "and the invoice is wrong",
        ]
        .iter()
        .map(|t| score(t))
        .collect();
        assert!(
            !trajectory_fires(&news, 3, DEFAULT_TRAJECTORY_THRESHOLD),
            "{news:?}"
        );
        // Exactly at the threshold fires; last == first is "not improving".
        assert!(trajectory_fires(&[-0.3, -0.3, -0.3], 3, -0.3));
        assert!(!trajectory_fires(&[-0.6, -0.4, -0.2], 3, -0.3));
    }

    #[test]
    fn spanish_and_german_hostility() {
        for t in [
            "Esto es una vergüenza, sois unos inútiles",
            "Estoy harto, es la tercera vez que llamo y todavía no lo han arreglado",
            "Es una estafa, una tomadura de pelo",
            "Das ist eine Frechheit, völlig nutzlos!",
            "Unverschämt, zum dritten Mal schreibe ich und immer noch keine Antwort",
            "Betrug! Ich habe die Nase voll",
            "inutil, verguenza",
            "Frechheit!!",
        ] {
            let s = score(t);
            assert!(s <= T, "{t}: {s}");
        }
        assert!(score("Muchas gracias, todo perfecto") > 0.5);
        assert!(score("Vielen Dank, das hat super geklappt") > 0.5);
        // Negation.
        assert!(score("no es bueno") < 0.0);
        assert!(score("no es nada malo") > 0.0);
        assert!(score("das ist nicht gut") < 0.0);
        assert!(score("das ist nicht schlecht") > 0.0);
        assert!(score("das gefällt mir nicht") < 0.0);
        assert!(score("me gusta mucho") > 0.0);
        assert!(score("no me gusta") < 0.0);
        // German articles and Spanish words that are English lexicon entries stay neutral.
        assert_eq!(
            score("Die Lieferung war gestern da, das Kind hat sie angenommen"),
            0.0
        );
        assert_eq!(score("Lo pedí sin gluten, con factura"), 0.0);
        // Plain bad news.
        assert!(score("Mi paquete se ha perdido") > DEFAULT_TRAJECTORY_THRESHOLD);
        assert!(score("Leider ist das Paket beschädigt angekommen") > DEFAULT_TRAJECTORY_THRESHOLD);
        // Slang praise.
        assert!(score("Esto está de puta madre") > 0.3);
    }

    fn kind(s: &str) -> Option<ThreatKind> {
        threat(s).map(|t| t.kind)
    }

    #[test]
    fn threats_escalate() {
        assert_eq!(
            kind("If this isn't fixed today I'm calling my lawyer"),
            Some(ThreatKind::Legal)
        );
        assert_eq!(kind("I will sue you"), Some(ThreatKind::Legal));
        assert_eq!(kind("we'll take legal action"), Some(ThreatKind::Legal));
        assert_eq!(kind("see you in court"), Some(ThreatKind::Legal));
        assert_eq!(
            kind("I'm filing a chargeback"),
            Some(ThreatKind::Chargeback)
        );
        assert_eq!(
            kind("I'll dispute the charge with my bank"),
            Some(ThreatKind::Chargeback)
        );
        assert_eq!(
            kind("I'm going to call my bank and reverse the payment"),
            Some(ThreatKind::Chargeback)
        );
        assert_eq!(
            kind("Reporting you to the BBB and the FTC"),
            Some(ThreatKind::Regulator)
        );
        assert_eq!(
            kind("I'll complain to the ombudsman"),
            Some(ThreatKind::Regulator)
        );
        assert_eq!(
            kind("consumer protection will hear about this"),
            Some(ThreatKind::Regulator)
        );
        assert_eq!(kind("Cancel my subscription now"), Some(ThreatKind::Churn));
        assert_eq!(kind("how do I cancel my account?"), Some(ThreatKind::Churn));
        assert_eq!(kind("I'm leaving."), Some(ThreatKind::Churn));
        assert_eq!(
            kind("I'm switching to a competitor"),
            Some(ThreatKind::Churn)
        );
        assert_eq!(kind("please close my account"), Some(ThreatKind::Churn));
        assert_eq!(
            kind("i want to close my fucking premium account"),
            Some(ThreatKind::Churn)
        );
        assert_eq!(
            kind("I'm going to report this to the authorities"),
            Some(ThreatKind::Regulator)
        );
        assert_eq!(kind("Then I'll get a lawyer"), Some(ThreatKind::Legal));
        assert_eq!(kind("Don't make me sue you"), Some(ThreatKind::Legal));
        let t = threat("Honestly, I'll SUE you all!").unwrap();
        assert_eq!(t.matched, "I'll SUE");
        assert_eq!(t.kind.as_str(), "legal");
        // Severity order: legal before churn.
        assert_eq!(
            kind("cancel my subscription or I'll call my lawyer"),
            Some(ThreatKind::Legal)
        );
        // Conditional negation elsewhere in the sentence does not cancel the threat.
        assert_eq!(
            kind("if you don't refund me I will sue"),
            Some(ThreatKind::Legal)
        );
        assert_eq!(
            kind("If you don't fix it, I'll cancel my subscription"),
            Some(ThreatKind::Churn)
        );
    }

    #[test]
    fn threat_traps() {
        for t in [
            "how do I cancel an order",
            "can I cancel the order I placed yesterday?",
            "my lawyer friend said you're great",
            "I'm a lawyer and I need an invoice for my firm",
            "I won't sue",
            "not going to cancel, just want a refund",
            "I don't want to cancel my subscription",
            "I'm leaving for vacation on Friday, can it arrive before?",
            "I need to call my bank to get the code",
            "the food court was closed",
            "Sue from your team helped me a lot",
            "I'm going to the bank tomorrow",
            "we love the app and will never cancel our subscription",
            "No voy a cancelar mi suscripción",
            "Ich werde nicht kündigen",
            "Ich kündige nicht",
            "Me voy a la playa mañana",
            "la demanda es muy alta estos días",
            "consult our privacy policy on protección de datos",
            "how do I cancel my subscription to your newsletter",
            "is there a lawyer I can talk to about the contract terms?",
            "Ich bin Anwalt und brauche eine Rechnung",
            "can you help me with my divorce lawsuit?",
            "I need the invoices for my custody case",
        ] {
            assert_eq!(threat(t), None, "{t}");
        }
    }

    #[test]
    fn spanish_and_german_threats() {
        assert_eq!(kind("Voy a hablar con mi abogado"), Some(ThreatKind::Legal));
        assert_eq!(kind("Os voy a demandar"), Some(ThreatKind::Legal));
        assert_eq!(kind("Pondré una denuncia"), Some(ThreatKind::Legal));
        assert_eq!(kind("Haré un contracargo"), Some(ThreatKind::Chargeback));
        assert_eq!(
            kind("Voy a devolver el recibo"),
            Some(ThreatKind::Chargeback)
        );
        assert_eq!(kind("Lo denunciaré ante la OCU"), Some(ThreatKind::Legal));
        assert_eq!(
            kind("Pediré la hoja de reclamaciones"),
            Some(ThreatKind::Regulator)
        );
        assert_eq!(kind("Iré a la OCU"), Some(ThreatKind::Regulator));
        assert_eq!(
            kind("Quiero cancelar mi suscripción"),
            Some(ThreatKind::Churn)
        );
        assert_eq!(
            kind("quiero cancelar mi suscripcion"),
            Some(ThreatKind::Churn)
        );
        assert_eq!(kind("Quiero darme de baja"), Some(ThreatKind::Churn));
        assert_eq!(
            kind("Ich schalte meinen Anwalt ein"),
            Some(ThreatKind::Legal)
        );
        assert_eq!(kind("Ich werde Sie verklagen"), Some(ThreatKind::Legal));
        assert_eq!(
            kind("Dann mache ich eine Rückbuchung"),
            Some(ThreatKind::Chargeback)
        );
        assert_eq!(
            kind("Ich lasse die Lastschrift zurückgehen"),
            Some(ThreatKind::Chargeback)
        );
        assert_eq!(
            kind("Ich gehe zur Verbraucherzentrale"),
            Some(ThreatKind::Regulator)
        );
        assert_eq!(kind("Ich will kündigen"), Some(ThreatKind::Churn));
        assert_eq!(
            kind("ich moechte meinen Vertrag kuendigen"),
            Some(ThreatKind::Churn)
        );
        assert_eq!(kind("Ich will mein Konto löschen"), Some(ThreatKind::Churn));
    }

    #[test]
    fn analyze_matches_parts() {
        let t = "This is unacceptable and useless, I will sue you!";
        let a = analyze(t);
        assert_eq!(a.score, score(t));
        assert_eq!(a.threat, threat(t));
        assert!(a.score <= T);
    }

    #[test]
    fn robust_on_odd_input() {
        for t in [
            "!!!",
            "???",
            ":)",
            ":(",
            "😡😡😡",
            "a",
            "I",
            "’",
            "zum 3. Mal",
            "3rd time",
            "x",
            "ÄÖÜ ß",
            "İstanbul",
            "ﬁ",
            "\u{200b}",
            "no",
            "not",
            "but",
            "kind of",
            "sick",
            "least",
        ] {
            let s = score(t);
            assert!((-1.0..=1.0).contains(&s), "{t}: {s}");
            let _ = threat(t);
        }
        assert!(score(":(") < 0.0 && score(":)") > 0.0);
        assert!(score("😡😡") < -0.5);
        assert!(score("3rd time I write") < 0.0);
        assert!(score("Das ist zum 3. Mal so") < 0.0);
        let long = "this is fine ".repeat(2000);
        assert!(score(&long) > 0.0);
    }

    proptest::proptest! {
        #[test]
        fn any_text_scores_in_range(t in "\\PC{0,80}", u in "[a-zA-Z ,.!?'’😂😡🙃/]{0,60}") {
            for x in [&t, &u] {
                let a = analyze(x);
                proptest::prop_assert!((-1.0..=1.0).contains(&a.score));
                proptest::prop_assert_eq!(a.score, score(x));
                if let Some(th) = a.threat {
                    proptest::prop_assert!(x.contains(&th.matched));
                }
            }
        }
    }

    #[test]
    fn emoticons_and_laughter() {
        assert!(score("thanks :D") > score("thanks"));
        assert!(score("jajaja qué malo") > score("qué malo"));
    }

    /// Dev-only evaluation (reads /work/shared/data; skipped when absent). Run with
    /// `cargo test -p handoff-core --release --lib sentiment::tests::dataset_eval -- --ignored --nocapture`
    /// (`SENTIMENT_EVAL_VERBOSE=1` also prints the texts that fire).
    #[test]
    #[ignore]
    fn dataset_eval() {
        use std::time::Instant;
        let root = "/work/shared/data";
        let verbose = std::env::var_os("SENTIMENT_EVAL_VERBOSE").is_some();
        let Ok(data) = std::fs::read_to_string(format!("{root}/isarcasmeval/train.En.csv")) else {
            return;
        };
        let mut rdr = csv::Reader::from_reader(data.as_bytes());
        let (mut sarc, mut reph, mut non) = (Vec::new(), Vec::new(), Vec::new());
        for r in rdr.records() {
            let r = r.unwrap();
            if &r[2] == "1" {
                sarc.push(r[1].to_string());
                reph.push(r[3].to_string());
            } else {
                non.push(r[1].to_string());
            }
        }
        let scores = |v: &[String]| v.iter().map(|t| score(t)).collect::<Vec<f64>>();
        let (ss, rs, ns) = (scores(&sarc), scores(&reph), scores(&non));
        let rate = |v: &[f64], t: f64| {
            100.0 * v.iter().filter(|&&s| s <= t).count() as f64 / v.len() as f64
        };
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        println!(
            "iSarcasmEval train.En: {} sarcastic (each with its plain rephrase), {} non-sarcastic",
            sarc.len(),
            non.len()
        );
        println!("  threshold  sarcastic  rephrase  non-sarcastic   (% scoring <= threshold)");
        for t in [-0.5, -0.55, -0.6, -0.65, -0.7, -0.75] {
            let mark = if t == T { "  <- turn threshold" } else { "" };
            println!(
                "  {t:>9.2}  {:>8.1}%  {:>7.1}%  {:>12.1}%{mark}",
                rate(&ss, t),
                rate(&rs, t),
                rate(&ns, t)
            );
        }
        let close = ss
            .iter()
            .zip(&rs)
            .filter(|(a, b)| (*a - *b).abs() <= 0.5)
            .count();
        let both = ss
            .iter()
            .zip(&rs)
            .filter(|(a, b)| (**a <= T) == (**b <= T))
            .count();
        println!(
            "  mean score: sarcastic {:+.3}, rephrase {:+.3}, non-sarcastic {:+.3}; pairs within 0.5: {:.1}%; same hostile verdict: {:.1}%",
            mean(&ss), mean(&rs), mean(&ns),
            100.0 * close as f64 / ss.len() as f64,
            100.0 * both as f64 / ss.len() as f64
        );
        let vader = vader_sentiment::SentimentIntensityAnalyzer::new();
        let vs: Vec<f64> = sarc
            .iter()
            .map(|t| vader.polarity_scores(t)["compound"])
            .collect();
        let vr: Vec<f64> = reph
            .iter()
            .map(|t| vader.polarity_scores(t)["compound"])
            .collect();
        let vn: Vec<f64> = non
            .iter()
            .map(|t| vader.polarity_scores(t)["compound"])
            .collect();
        println!(
            "  plain VADER (vader_sentiment crate) at {T}: sarcastic {:.1}%, rephrase {:.1}%, non-sarcastic {:.1}%",
            rate(&vs, T), rate(&vr, T), rate(&vn, T)
        );
        if verbose {
            for (t, s) in sarc.iter().zip(&ss).filter(|(_, s)| **s <= T) {
                println!("    SARC {s:+.2} {}", t.replace('\n', " "));
            }
        }

        // Routine support requests: how many would escalate as hostile or as a threat.
        let mut support: Vec<(String, String)> = Vec::new();
        if let Ok(d) = std::fs::read_to_string(format!("{root}/banking77/train.csv")) {
            for r in csv::Reader::from_reader(d.as_bytes()).records() {
                let r = r.unwrap();
                support.push(("banking77".into(), r[0].to_string()));
            }
        }
        if let Ok(d) = std::fs::read_to_string(format!("{root}/bitext/dev.csv")) {
            for r in csv::Reader::from_reader(d.as_bytes()).records() {
                let r = r.unwrap();
                let tag = if r[5].contains('W') {
                    "bitext-offensive"
                } else {
                    "bitext"
                };
                support.push((tag.into(), r[0].to_string()));
            }
        }
        for set in ["banking77", "bitext", "bitext-offensive"] {
            let texts: Vec<&str> = support
                .iter()
                .filter(|(s, _)| s == set)
                .map(|(_, t)| t.as_str())
                .collect();
            if texts.is_empty() {
                continue;
            }
            let sc: Vec<f64> = texts.iter().map(|t| score(t)).collect();
            let mut kinds: HashMap<&str, usize> = HashMap::new();
            for t in &texts {
                if let Some(th) = threat(t) {
                    *kinds.entry(th.kind.as_str()).or_default() += 1;
                    if verbose {
                        println!("    THREAT {set} {:?} {:?} <- {t}", th.kind, th.matched);
                    }
                }
            }
            let mut kinds: Vec<_> = kinds.into_iter().collect();
            kinds.sort();
            println!(
                "{set}: {} texts; hostile (<= {T}): {:.2}%; trajectory-level (<= {}): {:.1}%; mean {:+.3}; threats: {kinds:?}",
                texts.len(), rate(&sc, T), DEFAULT_TRAJECTORY_THRESHOLD, rate(&sc, DEFAULT_TRAJECTORY_THRESHOLD), mean(&sc)
            );
            if verbose {
                for (t, s) in texts.iter().zip(&sc).filter(|(_, s)| **s <= T) {
                    println!("    HOSTILE {set} {s:+.2} {t}");
                }
            }
        }

        // Speed.
        let all: Vec<&str> = sarc
            .iter()
            .chain(&reph)
            .chain(&non)
            .map(String::as_str)
            .chain(support.iter().map(|(_, t)| t.as_str()))
            .collect();
        let words: usize = all.iter().map(|t| t.split_whitespace().count()).sum();
        let mut sink = 0.0;
        let t0 = Instant::now();
        let mut calls = 0usize;
        while t0.elapsed().as_millis() < 1500 {
            for t in &all {
                sink += score(t);
            }
            calls += all.len();
        }
        let el = t0.elapsed().as_secs_f64();
        println!(
            "speed score(): {:.0} turns/s ({:.2} us/turn, mean {:.1} words/turn) on one core",
            calls as f64 / el,
            1e6 * el / calls as f64,
            words as f64 / all.len() as f64
        );
        let typical =
            "Hi, I ordered a jacket two weeks ago and it still hasn't arrived, can you check?";
        let t0 = Instant::now();
        let n = 300_000;
        for _ in 0..n {
            sink += score(std::hint::black_box(typical));
        }
        let el = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        for _ in 0..n {
            sink += analyze(std::hint::black_box(typical)).score;
        }
        let el2 = t1.elapsed().as_secs_f64();
        let t2 = Instant::now();
        let mut n3 = 0;
        while n3 < n && t2.elapsed().as_secs() < 2 {
            sink += vader.polarity_scores(std::hint::black_box(typical))["compound"];
            n3 += 1;
        }
        let el3 = t2.elapsed().as_secs_f64();
        println!(
            "typical {}-word turn: score {:.2} us ({:.0}/s), analyze (score+threat) {:.2} us; vader_sentiment crate polarity_scores ~{:.1} us  [{sink:.0}]",
            typical.split_whitespace().count(), 1e6 * el / n as f64, n as f64 / el, 1e6 * el2 / n as f64,
            1e6 * el3 / n3 as f64
        );
        assert!(rate(&ss, T) <= 5.0);
    }
}
