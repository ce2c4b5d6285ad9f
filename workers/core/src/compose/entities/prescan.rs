//! The byte pre-filter: which patterns can match a text at all, found in one pass before any regex runs.

#[allow(unused_imports)]
use super::*;

/// The patterns (`P_*`) that may match, as bits.
#[derive(Clone, Copy, Default, PartialEq, Debug)]
pub(super) struct Hits(pub(super) u32);

impl Hits {
    pub(super) fn matched(self, p: usize) -> bool {
        self.0 & (1 << p) != 0
    }
    pub(super) fn set(&mut self, p: usize) {
        self.0 |= 1 << p;
    }
    /// What the regex set says: exactly the patterns that match somewhere.
    pub(super) fn exact(text: &str) -> Hits {
        let mut h = Hits(0);
        for p in SET.matches(text).iter() {
            h.set(p);
        }
        h
    }
}

/// Which patterns can match an ASCII text with a digit, from one cheap pass over it: a
/// superset of what [`SET`] finds (a pattern left out has no match; one kept may still have
/// none, and then its own search finds nothing). Every condition below is something each
/// match of the pattern has, read off its regex for ASCII text, where `(?i)` folds ASCII
/// letters only, `\s` is ASCII white space and `\b` sits between `[A-Za-z0-9_]` and the rest:
///
/// - a keyword after `\b` starts a run of word chars (`order55120`, `ticket`); a month or a
///   weekday is a whole run (it sits between `\b`s, or white space and `\b`);
/// - the amount of money ends with, and starts, a run of digits: a code or `$` comes just
///   before the run (one space between at most), or a code or currency word just after;
/// - a time has `digit:digit`; a numeric date `20dd-` or `d[./]d…[./]20`; a quantity's unit
///   word starts after the number's last digits and white space; a measure's unit letter
///   comes right after (or one space after) them;
/// - ids glued to a prefix (`A-77`, `TK-123`) have an upper-case letter and `-` just before
///   their digits; `#55120` has `#` just before them; phones start with `+digit` or `00digit`,
///   or follow a label and then (after spaces, `:`, `(`) a digit;
/// - a product has a `Capitalised` word followed by a space or `-` and an upper-case letter
///   or a digit.
pub(super) fn prescan(text: &str) -> Option<(Hits, Option<Digits>)> {
    let b = text.as_bytes();
    let n = b.len();
    let mut h = Hits(0);
    let mut digits: Option<Digits> = None;
    let at = |i: usize| if i < n { b[i] } else { 0 };
    let class = |i: usize| if i < n { ASCII_CLASS[b[i] as usize] } else { 0 };
    let mut i = 0;
    // The class of the byte before `i`.
    let mut before_class = 0;
    while i < n {
        let c = b[i];
        let k = ASCII_CLASS[c as usize];
        if k & LETTER != 0 {
            let start = i;
            i += 1;
            while i < n && ASCII_CLASS[b[i] as usize] & LETTER != 0 {
                i += 1;
            }
            // A keyword starts at a word boundary: no word char before it.
            if before_class & WORD == 0 {
                word_hits(b, start, i, &mut h);
            }
            before_class = LETTER | WORD;
            continue;
        }
        if k & DIGIT == 0 {
            match c {
                b'@' => h.set(P_EMAIL),
                b'$' => h.set(P_MONEY),
                _ if k & NON_ASCII != 0 => return None,
                _ => {}
            }
            before_class = k;
            i += 1;
            continue;
        }
        // A run of digits [start, end).
        let start = i;
        while i < n && ASCII_CLASS[b[i] as usize] & DIGIT != 0 {
            i += 1;
        }
        let end = i;
        digits = Some(Digits {
            first: digits.map_or(start, |d| d.first),
            last: end - 1,
        });
        before_class = DIGIT | WORD;
        let next = at(end);
        // Before the run.
        let before = if start >= 1 { b[start - 1] } else { 0 };
        match before {
            b'#' => h.set(P_ORDER),
            b'+' => h.set(P_PHONE),
            b'-' if start >= 2 && b[start - 2].is_ascii_uppercase() => {
                h.set(P_ACCOUNT);
                h.set(P_PREFIXED);
            }
            _ => {}
        }
        let code_end = if start >= 1 && class(start - 1) & SPACE != 0 {
            start - 1
        } else {
            start
        };
        if code_end >= 1 && b[code_end - 1] == b'$' {
            h.set(P_MONEY);
        }
        if code_end >= 3 && is_code(lower3(&b[code_end - 3..code_end])) {
            h.set(P_MONEY);
        }
        if end - start >= 3 && b[start] == b'0' && b[start + 1] == b'0' {
            h.set(P_PHONE);
        }
        // After the run.
        match next {
            b':' if class(end + 1) & DIGIT != 0 => h.set(P_TIME),
            b'-' if end - start == 4 && b[start] == b'2' && b[start + 1] == b'0' => h.set(P_DATE),
            b'.' | b'/' if class(end + 1) & DIGIT != 0 => {
                let mut j = end + 1;
                while j < n && ASCII_CLASS[b[j] as usize] & DIGIT != 0 {
                    j += 1;
                }
                if matches!(at(j), b'.' | b'/') && at(j + 1) == b'2' && at(j + 2) == b'0' {
                    h.set(P_DATE);
                }
            }
            _ => {}
        }
        let spaced = class(end) & SPACE != 0;
        let unit = if spaced { end + 1 } else { end };
        if matches!(
            at(unit),
            b'm' | b'c' | b'k' | b'W' | b'G' | b'T' | b'M' | b'g' | b'l'
        ) {
            h.set(P_MEASURE);
        }
        if unit + 3 <= n {
            let l = lower3(&b[unit..unit + 3]);
            if is_code(l) || &l == b"dol" || &l == b"pou" {
                h.set(P_MONEY);
            }
        }
        if spaced {
            let mut j = end;
            while j < n && ASCII_CLASS[b[j] as usize] & SPACE != 0 {
                j += 1;
            }
            let (w, len) = lower_letters(b, j);
            let w = &w[..len];
            if len > 0 && is_unit(w) {
                h.set(P_QUANTITY);
            }
            if len > 0 && end - start == 3 && matches!(b[start], b'4' | b'5') && is_status(w) {
                h.set(P_ERROR);
            }
        }
    }
    Some((h, digits))
}

/// Up to 16 letters of `b` from `i`, lower-cased, and how many.
pub(super) fn lower_letters(b: &[u8], i: usize) -> ([u8; 16], usize) {
    let mut w = [0u8; 16];
    let mut k = 0;
    while k < 16 && i + k < b.len() && ASCII_CLASS[b[i + k] as usize] & LETTER != 0 {
        w[k] = b[i + k] | 0x20;
        k += 1;
    }
    (w, k)
}

/// The hits of the word of letters `b[start..end]`, which starts at a word boundary.
#[inline]
pub(super) fn word_hits(b: &[u8], start: usize, end: usize, h: &mut Hits) {
    let len = end - start;
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    // Capitalised word, then ' ' or '-', then an upper-case letter or a digit.
    if len >= 2
        && b[start].is_ascii_uppercase()
        && matches!(at(end), b' ' | b'-')
        && (at(end + 1).is_ascii_uppercase() || at(end + 1).is_ascii_digit())
        && b[start + 1..end].iter().all(u8::is_ascii_lowercase)
    {
        h.set(P_PRODUCT);
    }
    // Every keyword, month and weekday has three letters or more: most words are ruled out by
    // their first three.
    if len < 3 || !KEY_TRIGRAMS.has(b[start], b[start + 1], b[start + 2]) {
        return;
    }
    let (lw, m) = lower_letters(b, start);
    let lw = &lw[..m];
    keyword_hits(lw, h);
    // A phone label is followed, after spaces, ':' and '(', by a digit.
    for &label in PHONE_LABELS {
        if lw.starts_with(label) {
            let mut j = start + label.len();
            if label == b"tel" && at(j) == b'.' {
                j += 1;
            }
            while j < b.len()
                && (ASCII_CLASS[b[j] as usize] & SPACE != 0 || matches!(b[j], b':' | b'('))
            {
                j += 1;
            }
            if at(j).is_ascii_digit() {
                h.set(P_PHONE);
            }
        }
    }
    if len <= 13 {
        if is_month(lw) {
            h.set(P_DATE);
        }
        if is_weekday(lw) {
            h.set(P_WEEKDAY);
        }
    }
}

/// The first three letters (lower-cased) of every keyword, phone label, month and weekday.
pub(super) struct Trigrams(pub(super) [u64; 26 * 26 * 26 / 64 + 1]);

impl Trigrams {
    pub(super) const fn index(a: u8, b: u8, c: u8) -> Option<usize> {
        let (a, b, c) = (a | 0x20, b | 0x20, c | 0x20);
        if a < b'a' || a > b'z' || b < b'a' || b > b'z' || c < b'a' || c > b'z' {
            return None;
        }
        Some(((a - b'a') as usize * 26 + (b - b'a') as usize) * 26 + (c - b'a') as usize)
    }

    pub(super) const fn of(words: &[&[u8]]) -> Trigrams {
        let mut t = [0u64; 26 * 26 * 26 / 64 + 1];
        let mut i = 0;
        while i < words.len() {
            let w = words[i];
            if let Some(x) = Trigrams::index(w[0], w[1], w[2]) {
                t[x / 64] |= 1 << (x % 64);
            }
            i += 1;
        }
        Trigrams(t)
    }

    /// Whether three letters (any case) start a word of the set.
    #[inline]
    pub(super) fn has(&self, a: u8, b: u8, c: u8) -> bool {
        Trigrams::index(a, b, c).is_some_and(|x| self.0[x / 64] & (1 << (x % 64)) != 0)
    }
}

pub(super) static KEY_TRIGRAMS: Trigrams = Trigrams::of(&[
    b"order",
    b"purchase",
    b"pedido",
    b"bestell",
    b"commande",
    b"ordine",
    b"account",
    b"acct",
    b"konto",
    b"cuenta",
    b"kundennummer",
    b"ticket",
    b"caso",
    b"incidencia",
    b"vorgang",
    b"invoice",
    b"factura",
    b"rechnung",
    b"tracking",
    b"sendungsnummer",
    b"seguimiento",
    b"error",
    b"fehler",
    b"codigo",
    b"status",
    b"size",
    b"talla",
    b"taille",
    b"ending",
    b"terminada",
    b"endet",
    b"endend",
    b"phone",
    b"tel",
    b"mobile",
    b"movil",
    b"handy",
    b"january",
    b"february",
    b"march",
    b"april",
    b"may",
    b"june",
    b"july",
    b"august",
    b"september",
    b"october",
    b"november",
    b"december",
    b"enero",
    b"abril",
    b"agosto",
    b"setiembre",
    b"diciembre",
    b"mai",
    b"oktober",
    b"dezember",
    b"monday",
    b"tuesday",
    b"wednesday",
    b"thursday",
    b"friday",
    b"saturday",
    b"sunday",
    b"lunes",
    b"martes",
    b"miercoles",
    b"jueves",
    b"viernes",
    b"sabado",
    b"domingo",
    b"montag",
    b"dienstag",
    b"mittwoch",
    b"donnerstag",
    b"freitag",
    b"samstag",
    b"sonntag",
]);

/// Classes of ASCII bytes for the prescan.
pub(super) const LETTER: u8 = 1;
pub(super) const DIGIT: u8 = 2;
pub(super) const SPACE: u8 = 4;
/// `[A-Za-z0-9_]`
pub(super) const WORD: u8 = 8;
/// A byte of a non-ASCII char.
pub(super) const NON_ASCII: u8 = 16;
pub(super) static ASCII_CLASS: [u8; 256] = {
    let mut t = [NON_ASCII; 256];
    let mut c = 0;
    while c < 128 {
        t[c] = 0;
        let b = c as u8;
        if b.is_ascii_alphabetic() {
            t[c] = LETTER | WORD;
        } else if b.is_ascii_digit() {
            t[c] = DIGIT | WORD;
        } else if b == b'_' {
            t[c] = WORD;
        } else if matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r') {
            t[c] = SPACE;
        }
        c += 1;
    }
    t
};

pub(super) fn lower3(s: &[u8]) -> [u8; 3] {
    [
        s[0].to_ascii_lowercase(),
        s[1].to_ascii_lowercase(),
        s[2].to_ascii_lowercase(),
    ]
}

/// A quantity unit starts the lower-cased word `w`.
pub(super) fn is_unit(w: &[u8]) -> bool {
    let any = |units: &[&[u8]]| units.iter().any(|u| w.starts_with(u));
    match w[0] {
        b's' => any(&[b"seat"]),
        b'l' => any(&[b"licen", b"lizenzen"]),
        b'u' => any(&[b"user", b"unit", b"usuarios", b"unidades"]),
        b'a' => any(&[b"agent", b"arbeitsplatze"]),
        b'i' => any(&[b"item"]),
        b'p' => any(&[b"piece", b"pair", b"plazas", b"platze"]),
        b'e' => any(&[b"employees"]),
        b'n' => any(&[b"nutzer"]),
        _ => false,
    }
}

/// What follows a 4xx/5xx status starts the lower-cased word `w`.
pub(super) fn is_status(w: &[u8]) -> bool {
    let any = |words: &[&[u8]]| words.iter().any(|u| w.starts_with(u));
    match w[0] {
        b'b' => any(&[b"bad"]),
        b'u' => any(&[b"unauthori"]),
        b'f' => any(&[b"forbidden"]),
        b'n' => any(&[b"not"]),
        b's' => any(&[b"service"]),
        b'i' => any(&[b"internal"]),
        _ => false,
    }
}

/// A currency code, lower-cased.
pub(super) fn is_code(l: [u8; 3]) -> bool {
    matches!(
        &l,
        b"eur"
            | b"usd"
            | b"gbp"
            | b"chf"
            | b"sek"
            | b"nok"
            | b"dkk"
            | b"pln"
            | b"czk"
            | b"cad"
            | b"aud"
            | b"jpy"
            | b"mxn"
            | b"brl"
            | b"inr"
    )
}

/// The patterns whose keyword (after `\b`, ASCII spelling) starts the lower-cased word `w`.
pub(super) fn keyword_hits(w: &[u8], h: &mut Hits) {
    let mut hit = |kws: &[&[u8]], p: usize| {
        if kws.iter().any(|k| w.starts_with(k)) {
            h.set(p);
        }
    };
    match w[0] {
        b'a' => hit(&[b"account", b"acct"], P_ACCOUNT),
        b'b' => hit(&[b"bestell"], P_ORDER),
        b'c' => {
            hit(&[b"commande"], P_ORDER);
            hit(&[b"cuenta"], P_ACCOUNT);
            hit(&[b"caso"], P_TICKET);
            hit(&[b"codigo"], P_ERROR);
        }
        b'e' => {
            hit(&[b"error"], P_ERROR);
            hit(&[b"ending", b"endet", b"endend"], P_CARD);
        }
        b'f' => {
            hit(&[b"factura"], P_INVOICE);
            hit(&[b"fehler"], P_ERROR);
        }
        b'i' => {
            hit(&[b"incidencia"], P_TICKET);
            hit(&[b"invoice"], P_INVOICE);
        }
        b'k' => hit(&[b"konto", b"kundennummer"], P_ACCOUNT),
        b'o' => hit(&[b"order", b"ordine"], P_ORDER),
        b'p' => hit(&[b"purchase", b"pedido"], P_ORDER),
        b'r' => hit(&[b"rechnung"], P_INVOICE),
        b's' => {
            hit(&[b"sendungsnummer", b"seguimiento"], P_TRACKING);
            hit(&[b"status"], P_ERROR);
            hit(&[b"size"], P_SIZE);
        }
        b't' => {
            hit(&[b"ticket"], P_TICKET);
            hit(&[b"tracking"], P_TRACKING);
            hit(&[b"talla", b"taille"], P_SIZE);
            hit(&[b"terminada"], P_CARD);
        }
        b'v' => hit(&[b"vorgang"], P_TICKET),
        _ => {}
    }
}

/// Phone labels (`tel` covers `tel.`, `telefon`, `telefono`), lower-cased.
pub(super) const PHONE_LABELS: &[&[u8]] = &[
    b"phone",
    b"tel",
    b"telefon",
    b"telefono",
    b"mobile",
    b"movil",
    b"handy",
];

/// A month name or abbreviation of the date pattern (the ASCII ones), lower-cased.
pub(super) fn is_month(w: &[u8]) -> bool {
    matches!(
        w,
        b"january"
            | b"february"
            | b"march"
            | b"april"
            | b"may"
            | b"june"
            | b"july"
            | b"august"
            | b"september"
            | b"october"
            | b"november"
            | b"december"
            | b"jan"
            | b"feb"
            | b"mar"
            | b"apr"
            | b"jun"
            | b"jul"
            | b"aug"
            | b"sept"
            | b"sep"
            | b"oct"
            | b"nov"
            | b"dec"
            | b"enero"
            | b"febrero"
            | b"marzo"
            | b"abril"
            | b"mayo"
            | b"junio"
            | b"julio"
            | b"agosto"
            | b"septiembre"
            | b"setiembre"
            | b"octubre"
            | b"noviembre"
            | b"diciembre"
            | b"januar"
            | b"februar"
            | b"mai"
            | b"juni"
            | b"juli"
            | b"oktober"
            | b"dezember"
    )
}

/// A weekday name of the weekday pattern (the ASCII ones), lower-cased.
pub(super) fn is_weekday(w: &[u8]) -> bool {
    matches!(
        w,
        b"monday"
            | b"tuesday"
            | b"wednesday"
            | b"thursday"
            | b"friday"
            | b"saturday"
            | b"sunday"
            | b"lunes"
            | b"martes"
            | b"miercoles"
            | b"jueves"
            | b"viernes"
            | b"sabado"
            | b"domingo"
            | b"montag"
            | b"dienstag"
            | b"mittwoch"
            | b"donnerstag"
            | b"freitag"
            | b"samstag"
            | b"sonntag"
    )
}
