//! Entity extraction with tested patterns: money with currency, order/account/ticket/invoice ids,
//! tracking numbers, error codes, emails, phone numbers, dates, times, quantities, measures,
//! sizes, card endings and product names, in English, Spanish and German text.
//!
//! Every entity gets a *canonical* value, the form the summary prints and the LLM composer is
//! checked against: money as `CODE amount` (`€640` → `EUR 640`, `1.299,00 €` → `EUR 1,299.00`),
//! dates as `9 November` (Spanish and German months translated, ISO dates kept), weekdays in
//! English. Patterns run on the original text; a turn without a digit skips every pattern that
//! needs one, so most of the cost is paid only where facts can be.

use regex::{CaptureLocations, Regex, RegexSet};
use std::cell::RefCell;
use std::sync::LazyLock;

/// One extracted entity.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    /// money, order_id, account_id, ticket_id, invoice_id, reference, tracking_id, error_code,
    /// email, phone, date, time, quantity, measure, size, card_last4, product
    pub kind: &'static str,
    /// Canonical value (single spaces).
    pub value: String,
    /// Byte range in the source text.
    pub start: usize,
    pub end: usize,
    /// For money: (ISO code, amount).
    pub amount: Option<(&'static str, f64)>,
}

/// Kinds the summary must carry when they fit (and the LLM composer must keep).
pub fn is_key_kind(kind: &str) -> bool {
    matches!(
        kind,
        "money" | "order_id" | "account_id" | "ticket_id" | "invoice_id" | "reference"
    )
}

/// Compiles a pattern with ASCII digits: `\d` would also match "٣" or "៦", which are no
/// amount or id here (and would not parse).
fn re(p: &str) -> Regex {
    Regex::new(&p.replace(r"\d", "[0-9]")).expect("static entity regex")
}

const CODES: &str = "EUR|USD|GBP|CHF|SEK|NOK|DKK|PLN|CZK|CAD|AUD|JPY|MXN|BRL|INR";
const AMOUNT: &str = r"\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?";

static MONEY: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?x)
        (?: \b(?P<c1>(?i:{CODES})) | (?P<s1>[€$£]) ) \s? (?P<a1>{AMOUNT}) (?:\b|$)
        |
        \b(?P<a2>{AMOUNT}) \s? (?: (?P<s2>€) | (?P<c2>(?i:{CODES}|euros?|dollars?|pounds?))\b )
        "
    ))
});

static ORDER_ID: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:orders?|purchase|pedido|bestellung|bestellnummer|commande|ordine)(?:\s+(?:no\.?|nr\.?|number|n[úu]mero|nummer|id))?\s*[:#]?\s*#?(?P<id>[A-Z0-9][A-Z0-9-]{2,19})\b|(?:^|[\s(])#(?P<hash>\d{4,12})\b",
    )
});
static ACCOUNT_ID: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?P<id>[A-Z]-\d{2,8})\b|(?i:\b(?:account|acct|konto|cuenta|kundennummer)(?:\s+(?:no\.?|nr\.?|number|n[úu]mero|nummer|id))?\s*[:#]?\s*)(?P<id2>[A-Z0-9][A-Z0-9-]{2,19})\b",
    )
});
static PREFIXED_ID: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(?P<p>[A-Z]{2,5})-(?P<n>\d{3,10})\b"));
static TICKET_ID: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:ticket|caso|incidencia|vorgang)(?:\s+(?:no\.?|nr\.?|number|n[úu]mero|nummer|id))?\s*[:#]?\s*#?(?P<id>[A-Z0-9][A-Z0-9-]{2,19})\b",
    )
});
static INVOICE_ID: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:invoice|factura|rechnung|rechnungsnummer)(?:\s+(?:no\.?|nr\.?|number|n[úu]mero|nummer))?\s*[:#]?\s*#?(?P<id>[A-Z0-9][A-Z0-9-]{2,19})\b",
    )
});
static TRACKING_ID: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:tracking|sendungsnummer|seguimiento)(?:\s+(?:number|no\.?|nummer|n[úu]mero|code|id))?\s*[:#]?\s*(?P<id>[A-Z0-9]{8,30})\b",
    )
});
static ERROR_CODE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:error|fehler|c[óo]digo de error|status)\s*(?:code\s*)?[:#]?\s*(?P<c>\d{3,5})\b|\b(?P<h>[45]\d\d)\s+(?:bad gateway|unauthori[sz]ed|forbidden|not found|service unavailable|internal server error)\b",
    )
});
static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"));
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:\+\d{1,3}|\b00\d{1,3})(?:[ .-]?\(?\d{1,5}\)?){2,6}|(?i:\b(?:phone|tel\.?|tel[ée]fono|telefon|mobile|m[óo]vil|handy)\s*:?\s*)(?P<local>\(?\d[\d ()./-]{6,18}\d)",
    )
});

const MONTHS_EN: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const MONTHS_ES: &[&str] = &[
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];
const MONTHS_DE: &[&str] = &[
    "januar",
    "februar",
    "märz",
    "april",
    "mai",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "dezember",
];
const MONTH_NAMES: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

static DATE: LazyLock<Regex> = LazyLock::new(|| {
    let en = "january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec";
    let es = "enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre";
    let de =
        "januar|jänner|februar|märz|april|mai|juni|juli|august|september|oktober|november|dezember";
    re(&format!(
        r"(?xi)
        \b(?P<iy>20\d\d)-(?P<im>0[1-9]|1[0-2])-(?P<id>0[1-9]|[12]\d|3[01])\b
        | \b(?P<nd>[0-3]?\d)[./](?P<nm>[01]?\d)[./](?P<ny>20\d\d)\b
        | \b(?P<sd>[0-3]?\d)\s+de\s+(?P<sm>{es})\b(?:\s+(?:de|del)\s+(?P<sy>20\d\d))?
        | \b(?P<gd>[0-3]?\d)\.\s*(?P<gm>{de})\b(?:\s+(?P<gy>20\d\d))?
        | \b(?P<ed>[0-3]?\d)(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<em>{en})\b\.?(?:,?\s+(?P<ey>20\d\d))?
        | \b(?P<am>{en})\.?\s+(?P<ad>[0-3]?\d)(?:st|nd|rd|th)?\b(?:,?\s+(?P<ay>20\d\d))?
        "
    ))
});
static WEEKDAY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|lunes|martes|mi[ée]rcoles|jueves|viernes|s[áa]bado|domingo|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag)\b",
    )
});
static TIME: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)\b(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)\b(?:\s?(?P<z>uhr|h|utc|cet|cest|gmt|am|pm)\b)?")
});
static QUANTITY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?P<n>\d{1,3}(?:,\d{3})+|\d+)\s+(?P<u>seats?|licen[cs]es?|users?|agents?|units?|items?|pieces?|pairs?|employees|plazas|licencias|usuarios|unidades|lizenzen|nutzer|arbeitspl[äa]tze|pl[äa]tze|stück)\b",
    )
});
static MEASURE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?P<n>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?)\s?(?P<u>mm|cm|km|kg|mg|ml|kW|W|GB|TB|MB|°C|m|g|l)\b",
    )
});
static SIZE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)\b(?:size|talla|gr[öo]ße|taille)\s+(?P<s>XXS|XS|S|M|L|XL|XXL|\d{1,2}(?:[.,]5)?)\b")
});
static CARD_LAST4: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)\b(?:ending(?:\s+in)?|terminada\s+en|endet\s+auf|endend\s+auf)\s+(?P<d>\d{4})\b")
});
static PRODUCT: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b(?P<p>(?:[A-Z][a-z]+[ -]){1,3}(?:[A-Z]{0,2}\d{1,4}[A-Z]?|X\d+|Pro|Max|Mini|Plus))\b")
});

/// Words a product name never starts with (articles, id labels, calendar words).
const NOT_PRODUCT_START: &[&str] = &[
    "the",
    "a",
    "an",
    "my",
    "our",
    "your",
    "his",
    "her",
    "their",
    "this",
    "that",
    "el",
    "la",
    "los",
    "las",
    "un",
    "una",
    "mi",
    "der",
    "die",
    "das",
    "ein",
    "eine",
    "mein",
    "meine",
    "unser",
    "unsere",
    "order",
    "orders",
    "account",
    "error",
    "fehler",
    "konto",
    "invoice",
    "ticket",
    "step",
    "page",
    "size",
    "talla",
    "version",
    "level",
    "plan",
    "tier",
    "year",
    "day",
    "days",
    "week",
    "weeks",
    "hi",
    "hello",
    "hola",
    "hallo",
    "dear",
    "pedido",
    "bestellung",
    "room",
    "gate",
    "line",
    "item",
    "items",
    "only",
    "since",
    "about",
    "over",
    "under",
    "after",
    "before",
    "until",
    "on",
    "in",
    "at",
    "by",
    "for",
    "and",
    "or",
    "to",
    "status",
    "code",
    "phone",
    "seit",
    "nach",
    "vor",
    "um",
    "am",
    "im",
    "de",
    "del",
    "en",
    "y",
    "und",
    "q",
    "and",
    "with",
    "from",
];

static REPEAT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:third time|second time|again and again|already (?:told|asked|wrote|written|tried|said|explained)|keep (?:giving|telling|asking) me|same answer|same thing again|otra vez|de nuevo|eso mismo|ya (?:os|te|les) (?:dije|escrib)|schon wieder|erneut|nochmal|alles gemacht|bereits versucht)",
    )
});

/// Whether the contact says they have been through this before ("you keep giving me...").
pub fn is_repeat_contact(text: &str) -> bool {
    REPEAT.is_match(text)
}

/// One pass over the text tells which patterns match at all; only those then run (most turns
/// hold two or three kinds of entity, so this saves most of the scanning).
static SET: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new([
        EMAIL.as_str(),
        MONEY.as_str(),
        ORDER_ID.as_str(),
        ACCOUNT_ID.as_str(),
        PREFIXED_ID.as_str(),
        TICKET_ID.as_str(),
        INVOICE_ID.as_str(),
        TRACKING_ID.as_str(),
        ERROR_CODE.as_str(),
        DATE.as_str(),
        TIME.as_str(),
        PHONE.as_str(),
        QUANTITY.as_str(),
        MEASURE.as_str(),
        SIZE.as_str(),
        CARD_LAST4.as_str(),
        PRODUCT.as_str(),
        WEEKDAY.as_str(),
    ])
    .expect("static entity regex set")
});
const P_EMAIL: usize = 0;
const P_MONEY: usize = 1;
const P_ORDER: usize = 2;
const P_ACCOUNT: usize = 3;
const P_PREFIXED: usize = 4;
const P_TICKET: usize = 5;
const P_INVOICE: usize = 6;
const P_TRACKING: usize = 7;
const P_ERROR: usize = 8;
const P_DATE: usize = 9;
const P_TIME: usize = 10;
const P_PHONE: usize = 11;
const P_QUANTITY: usize = 12;
const P_MEASURE: usize = 13;
const P_SIZE: usize = 14;
const P_CARD: usize = 15;
const P_PRODUCT: usize = 16;
const P_WEEKDAY: usize = 17;

/// A capture group's span in the text.
#[derive(Clone, Copy)]
struct Span<'t> {
    text: &'t str,
    start: usize,
    end: usize,
}

impl<'t> Span<'t> {
    fn as_str(&self) -> &'t str {
        &self.text[self.start..self.end]
    }
    fn start(&self) -> usize {
        self.start
    }
    fn end(&self) -> usize {
        self.end
    }
}

/// The groups of one match, by index.
struct Caps<'t, 'l> {
    text: &'t str,
    locs: &'l CaptureLocations,
}

impl<'t> Caps<'t, '_> {
    fn get(&self, group: usize) -> Option<Span<'t>> {
        self.locs.get(group).map(|(start, end)| Span {
            text: self.text,
            start,
            end,
        })
    }

    /// A group every match has (the whole match, or a group outside any alternative).
    fn at(&self, group: usize) -> Span<'t> {
        self.get(group).expect("a group every match has")
    }
}

/// The indices of named groups, resolved once (looking a group up by name hashes the name).
fn groups<const N: usize>(re: &Regex, names: [&str; N]) -> [usize; N] {
    names.map(|n| {
        re.capture_names()
            .position(|g| g == Some(n))
            .unwrap_or_else(|| panic!("group {n}"))
    })
}

static MONEY_G: LazyLock<[usize; 6]> =
    LazyLock::new(|| groups(&MONEY, ["c1", "s1", "a1", "a2", "s2", "c2"]));
static ORDER_G: LazyLock<[usize; 2]> = LazyLock::new(|| groups(&ORDER_ID, ["id", "hash"]));
static ACCOUNT_G: LazyLock<[usize; 2]> = LazyLock::new(|| groups(&ACCOUNT_ID, ["id", "id2"]));
static PREFIXED_G: LazyLock<[usize; 1]> = LazyLock::new(|| groups(&PREFIXED_ID, ["p"]));
static TICKET_G: LazyLock<[usize; 1]> = LazyLock::new(|| groups(&TICKET_ID, ["id"]));
static INVOICE_G: LazyLock<[usize; 1]> = LazyLock::new(|| groups(&INVOICE_ID, ["id"]));
static TRACKING_G: LazyLock<[usize; 1]> = LazyLock::new(|| groups(&TRACKING_ID, ["id"]));
static ERROR_G: LazyLock<[usize; 2]> = LazyLock::new(|| groups(&ERROR_CODE, ["c", "h"]));
static PHONE_G: LazyLock<[usize; 1]> = LazyLock::new(|| groups(&PHONE, ["local"]));
static DATE_G: LazyLock<[usize; 15]> = LazyLock::new(|| {
    groups(
        &DATE,
        [
            "iy", "im", "id", "nd", "nm", "ny", "sd", "sm", "sy", "gd", "gm", "gy", "ed", "em",
            "ey",
        ],
    )
});
static DATE_A_G: LazyLock<[usize; 3]> = LazyLock::new(|| groups(&DATE, ["ad", "am", "ay"]));
static TIME_G: LazyLock<[usize; 3]> = LazyLock::new(|| groups(&TIME, ["h", "m", "z"]));
static QUANTITY_G: LazyLock<[usize; 2]> = LazyLock::new(|| groups(&QUANTITY, ["n", "u"]));
static MEASURE_G: LazyLock<[usize; 2]> = LazyLock::new(|| groups(&MEASURE, ["n", "u"]));
static SIZE_G: LazyLock<[usize; 1]> = LazyLock::new(|| groups(&SIZE, ["s"]));
static CARD_G: LazyLock<[usize; 1]> = LazyLock::new(|| groups(&CARD_LAST4, ["d"]));
static PRODUCT_G: LazyLock<[usize; 1]> = LazyLock::new(|| groups(&PRODUCT, ["p"]));

/// Capture slots per pattern (`P_*`), reused from call to call on a thread.
#[derive(Default)]
struct Slots(Vec<Option<CaptureLocations>>);

impl Slots {
    fn get(&mut self, pattern: usize, re: &Regex) -> &mut CaptureLocations {
        if self.0.len() <= pattern {
            self.0.resize_with(pattern + 1, || None);
        }
        self.0[pattern].get_or_insert_with(|| re.capture_locations())
    }
}

thread_local! {
    static SLOTS: RefCell<Slots> = RefCell::new(Slots::default());
}

/// Where in a text a pattern's matches can be, found from where its digits are.
#[derive(Clone, Copy)]
struct Scope {
    /// No match starts before this byte.
    from: usize,
    /// When set, a match after this byte (the text's last digit) gives no entity: stop there.
    last_digit: Option<usize>,
}

impl Scope {
    /// The whole text.
    const ALL: Scope = Scope {
        from: 0,
        last_digit: None,
    };
}

/// The first and last ASCII digit of a text.
#[derive(Clone, Copy)]
struct Digits {
    first: usize,
    last: usize,
}

impl Digits {
    fn of(text: &str) -> Option<Digits> {
        let b = text.as_bytes();
        let mut first = 0;
        while first < b.len() && !b[first].is_ascii_digit() {
            first += 1;
        }
        if first == b.len() {
            return None;
        }
        let mut last = b.len() - 1;
        while !b[last].is_ascii_digit() {
            last -= 1;
        }
        Some(Digits { first, last })
    }

    /// For a pattern whose every match holds a digit, with at most `before` bytes before its
    /// first one: no match starts more than `before` bytes before the text's first digit, and
    /// none (the leftmost-first search from any earlier point finds none) comes after its last.
    fn scope(self, text: &str, before: usize) -> Scope {
        let mut from = self.first.saturating_sub(before);
        while !text.is_char_boundary(from) {
            from -= 1;
        }
        Scope {
            from,
            last_digit: Some(self.last),
        }
    }

    /// For a pattern that gives an entity only when its match holds a digit.
    fn tail(self) -> Scope {
        Scope {
            from: 0,
            last_digit: Some(self.last),
        }
    }
}

/// Every match of `re` in `text` within `scope`, in order, as `captures_iter` yields them, with
/// reused slots.
fn each_match<'t>(
    re: &Regex,
    locs: &mut CaptureLocations,
    text: &'t str,
    scope: Scope,
    mut f: impl FnMut(&Caps<'t, '_>),
) {
    let mut at = scope.from;
    while at <= text.len() && scope.last_digit.is_none_or(|d| at <= d) {
        let Some(m) = re.captures_read_at(locs, text, at) else {
            break;
        };
        let (start, end) = (m.start(), m.end());
        f(&Caps { text, locs });
        at = if end > start {
            end
        } else {
            // No pattern here matches the empty string; step over a char as the iterator does.
            match text[end..].chars().next() {
                Some(c) => end + c.len_utf8(),
                None => break,
            }
        };
    }
}

/// The patterns (`P_*`) that may match, as bits.
#[derive(Clone, Copy, Default, PartialEq, Debug)]
struct Hits(u32);

impl Hits {
    fn matched(self, p: usize) -> bool {
        self.0 & (1 << p) != 0
    }
    fn set(&mut self, p: usize) {
        self.0 |= 1 << p;
    }
    /// What the regex set says: exactly the patterns that match somewhere.
    fn exact(text: &str) -> Hits {
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
fn prescan(text: &str) -> Option<(Hits, Option<Digits>)> {
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
fn lower_letters(b: &[u8], i: usize) -> ([u8; 16], usize) {
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
fn word_hits(b: &[u8], start: usize, end: usize, h: &mut Hits) {
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
struct Trigrams([u64; 26 * 26 * 26 / 64 + 1]);

impl Trigrams {
    const fn index(a: u8, b: u8, c: u8) -> Option<usize> {
        let (a, b, c) = (a | 0x20, b | 0x20, c | 0x20);
        if a < b'a' || a > b'z' || b < b'a' || b > b'z' || c < b'a' || c > b'z' {
            return None;
        }
        Some(((a - b'a') as usize * 26 + (b - b'a') as usize) * 26 + (c - b'a') as usize)
    }

    const fn of(words: &[&[u8]]) -> Trigrams {
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
    fn has(&self, a: u8, b: u8, c: u8) -> bool {
        Trigrams::index(a, b, c).is_some_and(|x| self.0[x / 64] & (1 << (x % 64)) != 0)
    }
}

static KEY_TRIGRAMS: Trigrams = Trigrams::of(&[
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
const LETTER: u8 = 1;
const DIGIT: u8 = 2;
const SPACE: u8 = 4;
/// `[A-Za-z0-9_]`
const WORD: u8 = 8;
/// A byte of a non-ASCII char.
const NON_ASCII: u8 = 16;
static ASCII_CLASS: [u8; 256] = {
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

fn lower3(s: &[u8]) -> [u8; 3] {
    [
        s[0].to_ascii_lowercase(),
        s[1].to_ascii_lowercase(),
        s[2].to_ascii_lowercase(),
    ]
}

/// A quantity unit starts the lower-cased word `w`.
fn is_unit(w: &[u8]) -> bool {
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
fn is_status(w: &[u8]) -> bool {
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
fn is_code(l: [u8; 3]) -> bool {
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
fn keyword_hits(w: &[u8], h: &mut Hits) {
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
const PHONE_LABELS: &[&[u8]] = &[
    b"phone",
    b"tel",
    b"telefon",
    b"telefono",
    b"mobile",
    b"movil",
    b"handy",
];

/// A month name or abbreviation of the date pattern (the ASCII ones), lower-cased.
fn is_month(w: &[u8]) -> bool {
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
fn is_weekday(w: &[u8]) -> bool {
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

/// Extracts every entity from `text`, in text order, without duplicates of the same value.
pub fn extract(text: &str) -> Vec<Entity> {
    // The slots are taken out for the call (a nested call would simply make its own).
    let mut slots = SLOTS.with(|s| s.take());
    let out = extract_with(text, &mut slots);
    SLOTS.with(|s| s.replace(slots));
    out
}

fn extract_with(text: &str, slots: &mut Slots) -> Vec<Entity> {
    let mut out: Vec<Entity> = Vec::new();
    // ASCII text: a cheap pass rules most patterns out; other text asks the regex set.
    let ascii = text.is_ascii();
    let (hits, digits) = prescan(text).unwrap_or_else(|| {
        let digits = Digits::of(text);
        let hits = match digits {
            Some(_) => Hits::exact(text),
            None => {
                // Without a digit only an email (which needs an '@') or a weekday can match.
                let mut h = Hits(0);
                if text.as_bytes().contains(&b'@') {
                    h.set(P_EMAIL);
                }
                h.set(P_WEEKDAY);
                h
            }
        };
        (hits, digits)
    });
    let Some(digits) = digits else {
        if hits.matched(P_EMAIL) {
            emails(text, &mut out);
        }
        if hits.matched(P_WEEKDAY) {
            weekdays(text, &mut out);
        }
        out.sort_by_key(|e| e.start);
        return out;
    };
    if hits.matched(P_EMAIL) {
        emails(text, &mut out);
    }
    if hits.matched(P_MONEY) {
        // At most a code or symbol and a space before the amount.
        money(
            text,
            slots.get(P_MONEY, &MONEY),
            digits.scope(text, 12),
            &mut out,
        );
    }
    ids(text, hits, digits, ascii, slots, &mut out);
    if hits.matched(P_DATE) {
        dates(text, slots.get(P_DATE, &DATE), digits.tail(), &mut out);
    }
    if hits.matched(P_TIME) {
        let [h, mi, z] = *TIME_G;
        each_match(
            &TIME,
            slots.get(P_TIME, &TIME),
            text,
            digits.scope(text, 0),
            |c| {
                let m = c.at(0);
                if overlaps(&out, m.start(), m.end()) {
                    return;
                }
                let hour: u32 = c.at(h).as_str().parse().unwrap_or(0);
                let minutes = c.at(mi).as_str();
                let mut v = String::with_capacity(10);
                if hour < 10 {
                    v.push('0');
                }
                v.push_str(&hour.to_string());
                v.push(':');
                v.push_str(minutes);
                if let Some(z) = c.get(z) {
                    let z = z.as_str().to_ascii_lowercase();
                    if matches!(z.as_str(), "utc" | "cet" | "cest" | "gmt" | "am" | "pm") {
                        v.push(' ');
                        v.push_str(&z.to_ascii_uppercase());
                    }
                }
                push(&mut out, "time", v, m.start(), m.end(), None);
            },
        );
    }
    if hits.matched(P_PHONE) {
        let [local] = *PHONE_G;
        each_match(
            &PHONE,
            slots.get(P_PHONE, &PHONE),
            text,
            digits.tail(),
            |c| {
                let m = c.at(0);
                let raw = c.get(local).unwrap_or(m).as_str();
                let digits = raw.bytes().filter(u8::is_ascii_digit).count();
                if !(7..=15).contains(&digits) || overlaps(&out, m.start(), m.end()) {
                    return;
                }
                push(&mut out, "phone", squash(raw), m.start(), m.end(), None);
            },
        );
    }
    if hits.matched(P_QUANTITY) {
        let [n, u] = *QUANTITY_G;
        let scope = digits.scope(text, 0);
        each_match(
            &QUANTITY,
            slots.get(P_QUANTITY, &QUANTITY),
            text,
            scope,
            |c| {
                let m = c.at(0);
                if overlaps(&out, m.start(), m.end()) {
                    return;
                }
                let v = format!("{} {}", c.at(n).as_str(), c.at(u).as_str().to_lowercase());
                push(&mut out, "quantity", v, m.start(), m.end(), None);
            },
        );
    }
    if hits.matched(P_MEASURE) {
        let [n, u] = *MEASURE_G;
        let scope = digits.scope(text, 0);
        each_match(&MEASURE, slots.get(P_MEASURE, &MEASURE), text, scope, |c| {
            let m = c.at(0);
            if overlaps(&out, m.start(), m.end()) {
                return;
            }
            let v = format!("{} {}", c.at(n).as_str(), c.at(u).as_str());
            push(&mut out, "measure", v, m.start(), m.end(), None);
        });
    }
    if hits.matched(P_SIZE) {
        let [g] = *SIZE_G;
        each_match(&SIZE, slots.get(P_SIZE, &SIZE), text, Scope::ALL, |c| {
            let m = c.at(0);
            let v = c.at(g).as_str().to_uppercase();
            push(&mut out, "size", v, m.start(), m.end(), None);
        });
    }
    if hits.matched(P_CARD) {
        let [d] = *CARD_G;
        let scope = digits.tail();
        each_match(
            &CARD_LAST4,
            slots.get(P_CARD, &CARD_LAST4),
            text,
            scope,
            |c| {
                let m = c.at(0);
                let v = c.at(d).as_str().to_string();
                push(&mut out, "card_last4", v, m.start(), m.end(), None);
            },
        );
    }
    if hits.matched(P_PRODUCT) {
        let [p] = *PRODUCT_G;
        each_match(
            &PRODUCT,
            slots.get(P_PRODUCT, &PRODUCT),
            text,
            Scope::ALL,
            |c| {
                let m = c.at(p);
                product(m.as_str(), m.start(), &mut out);
            },
        );
    }
    if hits.matched(P_WEEKDAY) {
        weekdays(text, &mut out);
    }
    out.sort_by_key(|e| e.start);
    out
}

fn emails(text: &str, out: &mut Vec<Entity>) {
    for m in EMAIL.find_iter(text) {
        push(
            out,
            "email",
            m.as_str().to_string(),
            m.start(),
            m.end(),
            None,
        );
    }
}

/// Weekdays ("Monday", "el domingo"), unless a date follows or they name a sale.
fn weekdays(text: &str, out: &mut Vec<Entity>) {
    for m in WEEKDAY.find_iter(text) {
        // "Tuesday 17 November": the date says it all.
        let next_date = out
            .iter()
            .any(|e| e.kind == "date" && e.start >= m.end() && e.start <= m.end() + 4);
        // "Black Friday", "Cyber Monday" are sales, not days.
        let event = ends_with_lowercased(text[..m.start()].trim_end(), &["black", "cyber"]);
        if next_date || event || overlaps(out, m.start(), m.end()) {
            continue;
        }
        push(
            out,
            "date",
            weekday_en(m.as_str()).to_string(),
            m.start(),
            m.end(),
            None,
        );
    }
}

/// Whether `s.to_lowercase()` ends with one of the ASCII `words`: only the last few chars
/// need lower-casing (a char's lower case does not depend on what comes before it, but for a
/// final sigma, which is never ASCII).
fn ends_with_lowercased(s: &str, words: &[&str]) -> bool {
    let longest = words.iter().map(|w| w.len()).max().unwrap_or(0);
    let from = s
        .char_indices()
        .rev()
        .nth(longest + 2)
        .map_or(0, |(i, _)| i);
    let tail = s[from..].to_lowercase();
    words.iter().any(|w| tail.ends_with(w))
}

fn push(
    out: &mut Vec<Entity>,
    kind: &'static str,
    value: String,
    start: usize,
    end: usize,
    amount: Option<(&'static str, f64)>,
) {
    if value.is_empty() || out.iter().any(|e| e.kind == kind && e.value == value) {
        return;
    }
    out.push(Entity {
        kind,
        value,
        start,
        end,
        amount,
    });
}

fn overlaps(out: &[Entity], start: usize, end: usize) -> bool {
    out.iter().any(|e| e.start < end && start < e.end)
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn currency_code(c: &str) -> Option<&'static str> {
    let lower = c.to_ascii_lowercase();
    Some(match lower.as_str() {
        "€" | "eur" | "euro" | "euros" => "EUR",
        "$" | "usd" | "dollar" | "dollars" => "USD",
        "£" | "gbp" | "pound" | "pounds" => "GBP",
        _ => CODES.split('|').find(|k| k.eq_ignore_ascii_case(c))?,
    })
}

/// Reads an amount written with either separator convention: the last separator followed by
/// one or two digits at the end is the decimal point, every other one groups thousands.
/// Returns the amount and its English rendering (`1.299,00` → `1,299.00`).
pub fn parse_amount(raw: &str) -> Option<(f64, String)> {
    let seps: Vec<(usize, char)> = raw
        .char_indices()
        .filter(|(_, c)| !c.is_ascii_digit())
        .collect();
    let (int_part, dec_part) = match seps.last() {
        Some(&(i, _)) if raw.len() - i - 1 <= 2 => (&raw[..i], Some(&raw[i + 1..])),
        _ => (raw, None),
    };
    let digits: String = int_part.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    let int: u64 = digits.parse().ok()?;
    let mut grouped = String::new();
    let d = digits.trim_start_matches('0');
    let d = if d.is_empty() { "0" } else { d };
    for (i, ch) in d.chars().enumerate() {
        if i > 0 && (d.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let mut value = int as f64;
    if let Some(dec) = dec_part {
        grouped.push('.');
        grouped.push_str(dec);
        let frac: f64 = format!("0.{dec}").parse().unwrap_or(0.0);
        value += frac;
    }
    Some((value, grouped))
}

fn money(text: &str, locs: &mut CaptureLocations, scope: Scope, out: &mut Vec<Entity>) {
    let [c1, s1, a1, a2, s2, c2] = *MONEY_G;
    let mut at = scope.from;
    while scope.last_digit.is_none_or(|d| at <= d) {
        let Some(m) = MONEY.find_at(text, at) else {
            break;
        };
        at = m.end();
        // The groups straight from the match (no backtracking search), or from one when the
        // match does not have the expected shape.
        let (cur, amount) = match money_parts(m.as_str()) {
            Some(parts) => parts,
            None => {
                MONEY.captures_read_at(locs, text, m.start());
                let c = Caps { text, locs };
                match (c.get(a1), c.get(a2)) {
                    (Some(a), _) => (c.get(c1).or(c.get(s1)).map(|c| c.as_str()), a.as_str()),
                    (None, Some(a)) => (c.get(c2).or(c.get(s2)).map(|c| c.as_str()), a.as_str()),
                    _ => continue,
                }
            }
        };
        let (Some(code), Some((value, rendered))) =
            (cur.and_then(currency_code), parse_amount(amount))
        else {
            continue;
        };
        let mut v = String::with_capacity(code.len() + 1 + rendered.len());
        v.push_str(code);
        v.push(' ');
        v.push_str(&rendered);
        push(out, "money", v, m.start(), m.end(), Some((code, value)));
    }
}

/// The currency (`c1`/`s1` or `c2`/`s2`) and amount (`a1` or `a2`) of a [`MONEY`] match.
/// `CODE AMOUNT` (a code is three chars) or `SYMBOL AMOUNT` start with a non-digit; `AMOUNT
/// CURRENCY` starts with its digits, and the amount is all of `[0-9.,]` there (what follows is
/// white space, `€` or a letter). At most one white space char comes between the two.
fn money_parts(m: &str) -> Option<(Option<&str>, &str)> {
    let skip_space = |s: &str| -> usize {
        s.chars()
            .next()
            .filter(|c| c.is_whitespace())
            .map_or(0, char::len_utf8)
    };
    if m.as_bytes().first()?.is_ascii_digit() {
        let end = m
            .bytes()
            .position(|b| !(b.is_ascii_digit() || b == b'.' || b == b','))?;
        let rest = &m[end..];
        let cur = &rest[skip_space(rest)..];
        (!cur.is_empty()).then_some((Some(cur), &m[..end]))
    } else {
        let first = m.chars().next()?;
        let cur_len = if matches!(first, '€' | '$' | '£') {
            first.len_utf8()
        } else {
            m.char_indices().nth(3)?.0
        };
        let rest = &m[cur_len..];
        let amount = &rest[skip_space(rest)..];
        amount
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_digit)
            .then_some((Some(&m[..cur_len]), amount))
    }
}

fn has_digit(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_digit())
}

/// Ids named by a label ("order 55120", "ticket #4521") need three digits: "order 2" is a count.
fn id_like(s: &str) -> bool {
    s.bytes().filter(u8::is_ascii_digit).count() >= 3
}

/// One kind of id named by a label and caught by one group ("invoice no. 4471", "ticket #4521",
/// "tracking number 1Z..."): each id that `accept`s becomes a `kind` entity, upper-cased; an
/// `exclusive` one is skipped where an entity found before already covers it.
struct LabelledIds<'r> {
    re: &'r Regex,
    group: usize,
    labelled: &'r Labelled,
    kind: &'static str,
    exclusive: bool,
    accept: fn(&str) -> bool,
}

impl LabelledIds<'_> {
    fn find(
        &self,
        text: &str,
        locs: &mut CaptureLocations,
        scope: Scope,
        ascii: bool,
        out: &mut Vec<Entity>,
    ) {
        let fast = |s, _| self.labelled.id(text, s).map(|(a, b)| (a, b, false));
        let groups = [self.group, usize::MAX];
        each_id(self.re, locs, text, scope, ascii, groups, fast, |id, _| {
            if (self.accept)(id.as_str())
                && !(self.exclusive && overlaps(out, id.start(), id.end()))
            {
                push(
                    out,
                    self.kind,
                    id.as_str().to_uppercase(),
                    id.start(),
                    id.end(),
                    None,
                );
            }
        });
    }
}

/// Ids: an invoice, ticket, tracking or order id needs digits (so nothing after the last digit
/// counts); an account id need not ("account X-AB").
fn ids(
    text: &str,
    hits: Hits,
    digits: Digits,
    ascii: bool,
    slots: &mut Slots,
    out: &mut Vec<Entity>,
) {
    if hits.matched(P_INVOICE) {
        let locs = slots.get(P_INVOICE, &INVOICE_ID);
        let ids = LabelledIds {
            re: &INVOICE_ID,
            group: INVOICE_G[0],
            labelled: &INVOICE_LABELLED,
            kind: "invoice_id",
            exclusive: false,
            accept: id_like,
        };
        ids.find(text, locs, digits.tail(), ascii, out);
    }
    if hits.matched(P_TICKET) {
        let locs = slots.get(P_TICKET, &TICKET_ID);
        let ids = LabelledIds {
            re: &TICKET_ID,
            group: TICKET_G[0],
            labelled: &TICKET_LABELLED,
            kind: "ticket_id",
            exclusive: true,
            accept: id_like,
        };
        ids.find(text, locs, digits.tail(), ascii, out);
    }
    if hits.matched(P_TRACKING) {
        let locs = slots.get(P_TRACKING, &TRACKING_ID);
        let ids = LabelledIds {
            re: &TRACKING_ID,
            group: TRACKING_G[0],
            labelled: &TRACKING_LABELLED,
            kind: "tracking_id",
            exclusive: false,
            // Digits, and letters or at least ten characters: not a short number.
            accept: |s| {
                has_digit(s) && (s.bytes().any(|b| b.is_ascii_alphabetic()) || s.len() >= 10)
            },
        };
        ids.find(text, locs, digits.tail(), ascii, out);
    }
    if hits.matched(P_PREFIXED) {
        let [p] = *PREFIXED_G;
        // "ABCDE-" before the digits.
        let scope = digits.scope(text, 6);
        each_match(
            &PREFIXED_ID,
            slots.get(P_PREFIXED, &PREFIXED_ID),
            text,
            scope,
            |c| {
                let m = c.at(0);
                if overlaps(out, m.start(), m.end()) {
                    return;
                }
                let kind = match c.at(p).as_str() {
                    "INV" | "RE" | "FAC" => "invoice_id",
                    "TK" | "TKT" | "TCK" | "CASE" | "SR" | "INC" | "REQ" => "ticket_id",
                    "ORD" | "PO" => "order_id",
                    _ => "reference",
                };
                push(out, kind, m.as_str().to_string(), m.start(), m.end(), None);
            },
        );
    }
    if hits.matched(P_ACCOUNT) {
        let [g, g2] = *ACCOUNT_G;
        let locs = slots.get(P_ACCOUNT, &ACCOUNT_ID);
        // `A-77` (the first alternative), or a label and an id.
        let fast = |s: usize, e: usize| {
            let b = text.as_bytes();
            if e - s >= 2 && b[s].is_ascii_uppercase() && b[s + 1] == b'-' {
                Some((s, e, false))
            } else {
                ACCOUNT_LABELLED.id(text, s).map(|(a, b)| (a, b, true))
            }
        };
        each_id(
            &ACCOUNT_ID,
            locs,
            text,
            Scope::ALL,
            ascii,
            [g, g2],
            fast,
            |id, named| {
                let b = id.as_str().as_bytes();
                let lettered = b.len() >= 4 && b[0].is_ascii_alphabetic() && b[1] == b'-';
                if (!named || lettered || id_like(id.as_str()))
                    && !overlaps(out, id.start(), id.end())
                {
                    push(
                        out,
                        "account_id",
                        id.as_str().to_uppercase(),
                        id.start(),
                        id.end(),
                        None,
                    );
                }
            },
        );
    }
    if hits.matched(P_ORDER) {
        let [g, hash] = *ORDER_G;
        let locs = slots.get(P_ORDER, &ORDER_ID);
        // A label and an id, or `#55120` (after the start, a space or a '(').
        let fast = |s: usize, e: usize| {
            let b = text.as_bytes();
            if b[s].is_ascii_alphabetic() {
                ORDER_LABELLED.id(text, s).map(|(a, b)| (a, b, false))
            } else {
                let h = if b[s] == b'#' { s } else { s + 1 };
                (b.get(h) == Some(&b'#')).then_some((h + 1, e, true))
            }
        };
        each_id(
            &ORDER_ID,
            locs,
            text,
            digits.tail(),
            ascii,
            [g, hash],
            fast,
            |id, _| {
                let s = id.as_str();
                if id_like(s) && !overlaps(out, id.start(), id.end()) && !looks_like_date_word(s) {
                    push(
                        out,
                        "order_id",
                        s.to_uppercase(),
                        id.start(),
                        id.end(),
                        None,
                    );
                }
            },
        );
    }
    if hits.matched(P_ERROR) {
        let [g, h] = *ERROR_G;
        let scope = digits.tail();
        each_match(
            &ERROR_CODE,
            slots.get(P_ERROR, &ERROR_CODE),
            text,
            scope,
            |c| {
                let Some(code) = c.get(g).or(c.get(h)) else {
                    return;
                };
                if !overlaps(out, code.start(), code.end()) {
                    push(
                        out,
                        "error_code",
                        code.as_str().to_string(),
                        code.start(),
                        code.end(),
                        None,
                    );
                }
            },
        );
    }
}

/// A "keyword, label, id" pattern — `\b(?:KEYWORD)(?:\s+(?:LABEL))?\s*[:#]?\s*#?(?P<id>ID)\b`
/// — as its regex reads it, for ASCII text: its choices are tried in the regex's order of
/// preference (a longer keyword or a label first, white space and marks taken greedily, the
/// longest id first), and the first that works is the match the regex finds.
struct Labelled {
    /// In order of preference (`orders?` is "orders", then "order"), lower-cased.
    keywords: &'static [&'static str],
    /// In order of preference (`no\.?` is "no.", then "no"), lower-cased.
    labels: &'static [&'static str],
    /// A `#?` before the id.
    hash: bool,
    /// The id's letters in either case (under `(?i)`), or upper case only.
    id_fold: bool,
    /// `-` allowed in the id after its first char.
    id_dash: bool,
    /// The id's length, in chars.
    id_len: (usize, usize),
}

const ID_LABELS: &[&str] = &["no.", "no", "nr.", "nr", "number", "numero", "nummer", "id"];

static ORDER_LABELLED: Labelled = Labelled {
    keywords: &[
        "orders",
        "order",
        "purchase",
        "pedido",
        "bestellung",
        "bestellnummer",
        "commande",
        "ordine",
    ],
    labels: ID_LABELS,
    hash: true,
    id_fold: true,
    id_dash: true,
    id_len: (3, 20),
};
static TICKET_LABELLED: Labelled = Labelled {
    keywords: &["ticket", "caso", "incidencia", "vorgang"],
    labels: ID_LABELS,
    hash: true,
    id_fold: true,
    id_dash: true,
    id_len: (3, 20),
};
static INVOICE_LABELLED: Labelled = Labelled {
    keywords: &["invoice", "factura", "rechnung", "rechnungsnummer"],
    labels: &["no.", "no", "nr.", "nr", "number", "numero", "nummer"],
    hash: true,
    id_fold: true,
    id_dash: true,
    id_len: (3, 20),
};
static TRACKING_LABELLED: Labelled = Labelled {
    keywords: &["tracking", "sendungsnummer", "seguimiento"],
    labels: &["number", "no.", "no", "nummer", "numero", "code", "id"],
    hash: false,
    id_fold: true,
    id_dash: false,
    id_len: (8, 30),
};
static ACCOUNT_LABELLED: Labelled = Labelled {
    keywords: &["account", "acct", "konto", "cuenta", "kundennummer"],
    labels: ID_LABELS,
    hash: false,
    id_fold: false,
    id_dash: true,
    id_len: (3, 20),
};

impl Labelled {
    /// The id of the match starting at `s` of ASCII `text`: its byte range, if the match is
    /// this shape (`None`: ask the regex).
    fn id(&self, text: &str, s: usize) -> Option<(usize, usize)> {
        let b = text.as_bytes();
        let n = b.len();
        let word = |i: usize| i < n && (b[i].is_ascii_alphanumeric() || b[i] == b'_');
        let space = |i: usize| {
            let mut j = i;
            while j < n && ASCII_CLASS[b[j] as usize] & SPACE != 0 {
                j += 1;
            }
            j - i
        };
        let starts = |i: usize, w: &str| {
            i + w.len() <= n && b[i..i + w.len()].eq_ignore_ascii_case(w.as_bytes())
        };
        let id_char = |c: u8, first: bool| {
            c.is_ascii_digit()
                || if self.id_fold {
                    c.is_ascii_alphabetic()
                } else {
                    c.is_ascii_uppercase()
                }
                || (!first && self.id_dash && c == b'-')
        };
        // The id from `q`: the longest run (within the length) that ends at a word boundary.
        let id_at = |q: usize| -> Option<usize> {
            if q >= n || !id_char(b[q], true) {
                return None;
            }
            let mut run = 1;
            while run < self.id_len.1 && q + run < n && id_char(b[q + run], false) {
                run += 1;
            }
            (self.id_len.0..=run)
                .rev()
                .find(|&l| word(q + l - 1) != word(q + l))
                .map(|l| q + l)
        };
        for kw in self.keywords {
            if !starts(s, kw) {
                continue;
            }
            let k = s + kw.len();
            // A label (after white space) first, then none.
            for label in self.labels.iter().map(Some).chain([None]) {
                let mut q = k;
                if let Some(label) = label {
                    let w = space(q);
                    if w == 0 || !starts(q + w, label) {
                        continue;
                    }
                    q += w + label.len();
                }
                q += space(q);
                if q < n && matches!(b[q], b':' | b'#') {
                    q += 1;
                }
                q += space(q);
                if self.hash && q < n && b[q] == b'#' {
                    q += 1;
                }
                if let Some(end) = id_at(q) {
                    return Some((q, end));
                }
            }
        }
        None
    }
}

/// Every match of a pattern with an id group (or two: the second is `alternate`), as its
/// byte range and whether it is the second group: read off the match by `fast` where it can
/// (ASCII text; it must agree with the match's end), from the capture groups otherwise.
#[allow(clippy::too_many_arguments)]
fn each_id<'t>(
    re: &Regex,
    locs: &mut CaptureLocations,
    text: &'t str,
    scope: Scope,
    ascii: bool,
    [group, alternate]: [usize; 2],
    fast: impl Fn(usize, usize) -> Option<(usize, usize, bool)>,
    mut f: impl FnMut(Span<'t>, bool),
) {
    let mut at = scope.from;
    while at <= text.len() && scope.last_digit.is_none_or(|d| at <= d) {
        let Some(m) = re.find_at(text, at) else {
            break;
        };
        let (s, e) = (m.start(), m.end());
        let read = if ascii {
            fast(s, e).filter(|&(_, end, _)| end == e)
        } else {
            None
        };
        let span = |start, end| Span { text, start, end };
        match read {
            Some((start, end, second)) => f(span(start, end), second),
            None => {
                re.captures_read_at(locs, text, s);
                let c = Caps { text, locs };
                if let Some(id) = c.get(group) {
                    f(id, false);
                } else if let Some(id) = c.get(alternate) {
                    f(id, true);
                }
            }
        }
        at = if e > s {
            e
        } else {
            // No pattern here matches the empty string; step over a char as the iterator does.
            match text[e..].chars().next() {
                Some(c) => e + c.len_utf8(),
                None => break,
            }
        };
    }
}

fn looks_like_date_word(s: &str) -> bool {
    // "order 2019" is a year, not an order.
    s.len() == 4
        && (s.starts_with("19") || s.starts_with("20"))
        && s.bytes().all(|b| b.is_ascii_digit())
}

fn month_index(name: &str) -> Option<usize> {
    let lower = name.to_lowercase();
    let lower = lower.trim_end_matches('.');
    MONTHS_EN
        .iter()
        .position(|m| *m == lower)
        .or_else(|| {
            MONTHS_EN
                .iter()
                .position(|m| lower.len() >= 3 && m.starts_with(lower))
        })
        .or_else(|| MONTHS_ES.iter().position(|m| *m == lower))
        .or_else(|| (lower == "setiembre").then_some(8))
        .or_else(|| MONTHS_DE.iter().position(|m| *m == lower))
        .or_else(|| (lower == "jänner").then_some(0))
}

fn dates(text: &str, locs: &mut CaptureLocations, scope: Scope, out: &mut Vec<Entity>) {
    let mut at = scope.from;
    while scope.last_digit.is_none_or(|d| at <= d) {
        let Some(m) = DATE.find_at(text, at) else {
            break;
        };
        at = m.end();
        if overlaps(out, m.start(), m.end()) {
            continue;
        }
        let parts = date_parts(m.as_str()).unwrap_or_else(|| {
            DATE.captures_read_at(locs, text, m.start());
            date_parts_from(&Caps { text, locs })
        });
        if let Some(value) = date_value(parts) {
            push(out, "date", value, m.start(), m.end(), None);
        }
    }
}

/// The groups of a [`DATE`] match that make its value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum DateParts<'t> {
    /// 2026-11-20
    Iso(&'t str, &'t str, &'t str),
    /// 20.11.2026, 20/11/2026
    Numeric(&'t str, &'t str, &'t str),
    /// Day, month name, year.
    Named(&'t str, &'t str, Option<&'t str>),
    None,
}

fn date_parts_from<'t>(c: &Caps<'t, '_>) -> DateParts<'t> {
    let [iy, im, id, nd, nm, ny, sd, sm, sy, gd, gm, gy, ed, em, ey] = *DATE_G;
    let [ad, am, ay] = *DATE_A_G;
    if let Some(y) = c.get(iy) {
        return DateParts::Iso(y.as_str(), c.at(im).as_str(), c.at(id).as_str());
    }
    if let Some(d) = c.get(nd) {
        return DateParts::Numeric(d.as_str(), c.at(nm).as_str(), c.at(ny).as_str());
    }
    let (d, mo, y) = if let Some(d) = c.get(sd) {
        (d, c.get(sm), c.get(sy))
    } else if let Some(d) = c.get(gd) {
        (d, c.get(gm), c.get(gy))
    } else if let Some(d) = c.get(ed) {
        (d, c.get(em), c.get(ey))
    } else if let Some(d) = c.get(ad) {
        (d, c.get(am), c.get(ay))
    } else {
        return DateParts::None;
    };
    match mo {
        Some(mo) => DateParts::Named(d.as_str(), mo.as_str(), y.map(|y| y.as_str())),
        None => DateParts::None,
    }
}

/// The groups of a [`DATE`] match read from its text, which has the shape of exactly one
/// alternative: `2026-11-20` (four leading digits); `20/11/2026`, `20.11.2026` (a separator and
/// a digit after the day); `17 de noviembre [de 2026]` ("de" after the day); `18. November
/// [2026]` (a dot, then no digit); `9[th] [of] November[.][, 2026]` (else, after a digit);
/// `November[.] 9[th][, 2026]` (a letter first). A year is always the last four chars.
/// `None` when the text has none of these shapes (the caller then asks the regex).
fn date_parts(m: &str) -> Option<DateParts<'_>> {
    let b = m.as_bytes();
    let digits_at = |i: usize| b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    // The white space (or, with `until_space`, everything else) from `i` on, in bytes.
    let run_at = |i: usize, until_space: bool| -> usize {
        m[i..]
            .char_indices()
            .find(|(_, c)| c.is_whitespace() == until_space)
            .map_or(m.len() - i, |(j, _)| j)
    };
    // A month name: up to white space, '.', ',' or the end.
    let word_at = |i: usize| -> usize {
        m[i..]
            .char_indices()
            .find(|&(_, c)| c.is_whitespace() || c == '.' || c == ',')
            .map_or(m.len() - i, |(j, _)| j)
    };
    let last4 = || -> Option<&str> {
        let y = m.get(m.len().checked_sub(4)?..)?;
        y.bytes().all(|c| c.is_ascii_digit()).then_some(y)
    };
    // After the month: nothing, a dot, or `[,] year`.
    let year_after = |i: usize| -> Option<Option<&str>> {
        match &m[i..] {
            "" | "." => Some(None),
            _ => Some(Some(last4()?)),
        }
    };
    let lower2_is = |i: usize, w: &str| m.get(i..i + 2).is_some_and(|s| s.eq_ignore_ascii_case(w));
    let spaced = |i: usize| {
        m.get(i..)
            .and_then(|r| r.chars().next())
            .is_some_and(char::is_whitespace)
    };
    if !b.first()?.is_ascii_digit() {
        // November[.] 9[th][, 2026]
        let mo = word_at(0);
        let mut i = mo;
        if b.get(i) == Some(&b'.') {
            i += 1;
        }
        i += run_at(i, false);
        let d = digits_at(i);
        if !(1..=2).contains(&d) {
            return None;
        }
        let day = &m[i..i + d];
        i += d;
        i += m[i..]
            .char_indices()
            .find(|(_, c)| !c.is_alphabetic())
            .map_or(m.len() - i, |(j, _)| j);
        let year = if i == m.len() { None } else { Some(last4()?) };
        return Some(DateParts::Named(day, &m[..mo], year));
    }
    let d = digits_at(0);
    if d == 4 {
        // 2026-11-20
        return (m.len() == 10 && b[4] == b'-' && b[7] == b'-')
            .then(|| DateParts::Iso(&m[..4], &m[5..7], &m[8..10]));
    }
    if !(1..=2).contains(&d) {
        return None;
    }
    let day = &m[..d];
    match *b.get(d)? {
        b'/' | b'.' if b.get(d + 1).is_some_and(u8::is_ascii_digit) => {
            // 20.11.2026
            let sep = d + 1 + digits_at(d + 1);
            if !matches!(b.get(sep), Some(b'/' | b'.')) || m.len() != sep + 5 {
                return None;
            }
            Some(DateParts::Numeric(day, &m[d + 1..sep], &m[sep + 1..]))
        }
        b'.' => {
            // 18. November [2026]
            let i = d + 1 + run_at(d + 1, false);
            let w = word_at(i);
            Some(DateParts::Named(day, &m[i..i + w], year_after(i + w)?))
        }
        _ => {
            // A suffix ("th") runs up to the white space.
            let suffix = run_at(d, true);
            let mut i = d + suffix;
            i += run_at(i, false);
            if suffix == 0 && lower2_is(i, "de") && spaced(i + 2) {
                // 17 de noviembre [de 2026]
                let i = i + 2 + run_at(i + 2, false);
                let w = word_at(i);
                let year = if i + w == m.len() {
                    None
                } else {
                    Some(last4()?)
                };
                return Some(DateParts::Named(day, &m[i..i + w], year));
            }
            // 9[th] [of] November[.][, 2026]
            if lower2_is(i, "of") && spaced(i + 2) {
                i += 2 + run_at(i + 2, false);
            }
            let w = word_at(i);
            Some(DateParts::Named(day, &m[i..i + w], year_after(i + w)?))
        }
    }
}

/// A date's canonical value, or `None` when it is no date after all.
fn date_value(parts: DateParts<'_>) -> Option<String> {
    match parts {
        DateParts::Iso(y, mo, d) => Some(format!("{y}-{mo}-{d}")),
        DateParts::Numeric(d, mo, y) => Some(format!("{d}.{mo}.{y}")),
        DateParts::Named(d, mo, y) => {
            let day: u32 = d.parse().unwrap_or(0);
            let month = month_index(mo)?;
            if !(1..=31).contains(&day) {
                return None;
            }
            // "may" is also a verb: "I may 2 ..." is not a date.
            if mo == "may" {
                return None;
            }
            let mut v = String::with_capacity(24);
            v.push_str(&day.to_string());
            v.push(' ');
            v.push_str(MONTH_NAMES[month]);
            if let Some(y) = y {
                v.push(' ');
                v.push_str(y);
            }
            Some(v)
        }
        DateParts::None => None,
    }
}

fn weekday_en(w: &str) -> &'static str {
    let l = w.to_lowercase();
    match l.as_str() {
        "monday" | "lunes" | "montag" => "Monday",
        "tuesday" | "martes" | "dienstag" => "Tuesday",
        "wednesday" | "miércoles" | "miercoles" | "mittwoch" => "Wednesday",
        "thursday" | "jueves" | "donnerstag" => "Thursday",
        "friday" | "viernes" | "freitag" => "Friday",
        "saturday" | "sábado" | "sabado" | "samstag" => "Saturday",
        _ => "Sunday",
    }
}

fn product(raw: &str, start: usize, out: &mut Vec<Entity>) {
    let words: Vec<&str> = raw.split([' ', '-']).collect();
    let mut skip = 0;
    let mut offset = 0;
    for w in &words[..words.len() - 1] {
        let lw = w.to_lowercase();
        if NOT_PRODUCT_START.contains(&lw.as_str())
            || month_index(&lw).is_some()
            || WEEKDAY.is_match(w)
        {
            skip += 1;
            offset += w.len() + 1;
        } else {
            break;
        }
    }
    if skip >= words.len() - 1 {
        return;
    }
    let name = &raw[offset..];
    let s = start + offset;
    if overlaps(out, s, start + raw.len()) {
        return;
    }
    push(out, "product", name.to_string(), s, start + raw.len(), None);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str, kind: &str) -> Vec<String> {
        extract(text)
            .into_iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.value)
            .collect()
    }

    #[test]
    fn money_in_every_notation() {
        let cases = [
            ("I paid EUR 640.", "EUR 640"),
            ("it was €640 in total", "EUR 640"),
            ("refund 640 EUR please", "EUR 640"),
            ("charged $1,200.50 twice", "USD 1,200.50"),
            ("budget is USD 120,000 per year", "USD 120,000"),
            ("kostet 1.299,00 € brutto", "EUR 1,299.00"),
            ("pagué 159 EUR", "EUR 159"),
            ("the refund of EUR 89.90", "EUR 89.90"),
            ("this EUR 1,249.00 payment", "EUR 1,249.00"),
            ("about £30 extra", "GBP 30"),
            ("50 euros de gastos", "EUR 50"),
            ("lost at least EUR 2,500 in sales", "EUR 2,500"),
        ];
        for (text, want) in cases {
            assert_eq!(values(text, "money"), vec![want.to_string()], "{text}");
        }
        let e = &extract("I paid 1.299,00 €")[0];
        assert_eq!(e.amount, Some(("EUR", 1299.0)));
        assert!(values("order 55120 arrived", "money").is_empty());
        assert!(values("at 14:00", "money").is_empty());
    }

    #[test]
    fn ids_of_every_kind() {
        assert_eq!(values("refund for order 55120.", "order_id"), vec!["55120"]);
        assert_eq!(values("it's #55120 again", "order_id"), vec!["55120"]);
        assert_eq!(
            values("mi pedido 55342 no llegó", "order_id"),
            vec!["55342"]
        );
        assert_eq!(values("Bestellung Nr. 77812", "order_id"), vec!["77812"]);
        assert_eq!(values("order number: 4411", "order_id"), vec!["4411"]);
        assert!(values("I bought it in 2019, order 41877.", "order_id") == vec!["41877"]);
        assert!(values("my order to Lyon", "order_id").is_empty());
        assert_eq!(values("account A-77 is mine", "account_id"), vec!["A-77"]);
        assert_eq!(
            values("Konto A-4410 gesperrt", "account_id"),
            vec!["A-4410"]
        );
        assert_eq!(values("account number 99812", "account_id"), vec!["99812"]);
        assert_eq!(values("see ticket TK-123", "ticket_id"), vec!["TK-123"]);
        assert_eq!(values("ticket #4521 is open", "ticket_id"), vec!["4521"]);
        assert_eq!(
            values("(invoice INV-20931)", "invoice_id"),
            vec!["INV-20931"]
        );
        assert_eq!(
            values("tracking number PG7781204 fails", "tracking_id"),
            vec!["PG7781204"]
        );
        assert_eq!(
            values("returning 'Error 503' since", "error_code"),
            vec!["503"]
        );
        assert_eq!(values("(Fehler 401)", "error_code"), vec!["401"]);
        assert_eq!(values("we get 502 bad gateway", "error_code"), vec!["502"]);
    }

    #[test]
    fn contacts() {
        assert_eq!(
            values(
                "write to lena.kraus@example.net and l.kraus@example.org",
                "email"
            ),
            vec!["lena.kraus@example.net", "l.kraus@example.org"]
        );
        assert_eq!(
            values("call +34 612 000 431 today", "phone"),
            vec!["+34 612 000 431"]
        );
        assert_eq!(
            values("mobile +31 6 0000 1842", "phone"),
            vec!["+31 6 0000 1842"]
        );
        assert_eq!(
            values("phone: 030 1234 5678", "phone"),
            vec!["030 1234 5678"]
        );
        assert!(values("order 55120 on 2026-11-20", "phone").is_empty());
    }

    #[test]
    fn dates_in_three_languages() {
        let cases = [
            ("scanned on 9 November.", "9 November"),
            ("on 2026-11-20 at noon", "2026-11-20"),
            ("llegar el martes 17 de noviembre", "17 November"),
            ("am 18. November bestellt", "18 November"),
            ("before 15 December", "15 December"),
            ("on November 9th, 2026", "9 November 2026"),
            ("by 20/11/2026", "20.11.2026"),
            ("arrive on Monday", "Monday"),
            ("la carrera es el domingo", "Sunday"),
        ];
        for (text, want) in cases {
            assert_eq!(values(text, "date"), vec![want.to_string()], "{text}");
        }
        assert_eq!(values("Wednesday 18 November", "date"), vec!["18 November"]);
        assert!(values("you may 2 times", "date").is_empty());
    }

    #[test]
    fn quantities_measures_and_more() {
        assert_eq!(
            values("for 250 seats across", "quantity"),
            vec!["250 seats"]
        );
        assert_eq!(values("we need 3 licences", "quantity"), vec!["3 licences"]);
        assert_eq!(
            values("Wir brauchen 12 Lizenzen", "quantity"),
            vec!["12 lizenzen"]
        );
        assert_eq!(
            values("a 1,500 W inverter and 16.5 cm wrist, 400 mg", "measure"),
            vec!["1,500 W", "16.5 cm", "400 mg"]
        );
        assert_eq!(values("talla 42, y pagué", "size"), vec!["42"]);
        assert_eq!(
            values("a Visa card ending in 4417.", "card_last4"),
            vec!["4417"]
        );
        assert_eq!(values("since about 09:40 and", "time"), vec!["09:40"]);
        assert_eq!(values("um 14:00 Uhr", "time"), vec!["14:00"]);
        assert_eq!(
            values("The Lumen 3 espresso machine and my old Brio 9", "product"),
            vec!["Lumen 3", "Brio 9"]
        );
        assert_eq!(
            values("Son unas zapatillas Trail Runner X2, talla 42", "product"),
            vec!["Trail Runner X2"]
        );
        assert!(values("Error 503 on 9 November", "product").is_empty());
    }

    /// The prescan of ASCII text must keep every pattern the regex set finds (random texts
    /// made of entity pieces, near misses and noise; `HANDOFF_PRESCAN_CASES` runs more).
    #[test]
    fn prescan_keeps_every_pattern_that_matches() {
        const PIECES: &[&str] = &[
            "order 55120",
            "ORDER#77812",
            "order55120",
            "orders: 4411",
            "purchase 1234",
            "pedido 55342",
            "Bestellung Nr. 77812",
            "bestellnummer 123",
            "commande 998",
            "ordine 1234",
            "#55120",
            "(#12345)",
            "account A-77",
            "acct 12345",
            "Konto A-4410",
            "cuenta 88123",
            "kundennummer 5512",
            "A-3381",
            "TK-123",
            "INV-20931",
            "CASE-1234",
            "ticket #4521",
            "caso 123",
            "incidencia 5",
            "vorgang 77",
            "invoice INV-1",
            "factura F-2024",
            "rechnung 2025",
            "tracking number PG7781204",
            "sendungsnummer 0034",
            "seguimiento AB12345678",
            "Error 503",
            "fehler 401",
            "codigo de error 500",
            "status code 404",
            "502 bad gateway",
            "401 unauthorized",
            "403 forbidden",
            "404 not found",
            "503 service unavailable",
            "500 internal server error",
            "EUR 640",
            "eur640",
            "640EUR",
            "640 eur",
            "$1,200.50",
            "$ 5",
            "USD 120,000",
            "120 dollars",
            "30 pounds",
            "50 euros",
            "1.299,00 EUR",
            "CHF 5",
            "5 sek",
            "nok 7",
            "10 dkk",
            "pln 3",
            "czk 9",
            "cad 4",
            "aud 2",
            "jpy 100",
            "mxn 3",
            "brl 5",
            "inr 9",
            "+34 612 000 431",
            "0034 612",
            "0049 30",
            "phone: 030 1234 5678",
            "tel.: (030) 1234567",
            "telefono 612 345 678",
            "telefon 0171 1234",
            "mobile +31 6",
            "movil 612",
            "handy 0171/1234567",
            "2026-11-20",
            "20/11/2026",
            "1.5.2026",
            "9 November",
            "17 de noviembre",
            "18. November",
            "November 9th, 2026",
            "Nov. 5",
            "sept 3",
            "may 2",
            "Dec 24",
            "12 de mayo de 2026",
            "3. Mai 2026",
            "15th of December",
            "jan 1",
            "oct 31",
            "marzo 3",
            "5 abril",
            "Monday",
            "sunday",
            "lunes",
            "miercoles",
            "sabado",
            "Dienstag",
            "09:40",
            "9:30 pm",
            "14:00 Uhr",
            "250 seats",
            "3 licences",
            "12 Lizenzen",
            "5 users",
            "2 agents",
            "3,000 users",
            "10 items",
            "2 pairs",
            "4 units",
            "7 pieces",
            "40 employees",
            "3 plazas",
            "6 usuarios",
            "9 unidades",
            "2 nutzer",
            "12 Arbeitsplatze",
            "1,500 W",
            "16.5 cm",
            "400 mg",
            "10GB",
            "2 TB",
            "5 kg",
            "3 km",
            "7 ml",
            "9 l",
            "4 g",
            "size M",
            "talla 42",
            "taille XL",
            "SIZE 38,5",
            "ending in 4417",
            "ending 1234",
            "terminada en 9876",
            "endet auf 5544",
            "endend auf 1111",
            "Lumen 3",
            "Brio 9",
            "Trail Runner X2",
            "Brio Pro",
            "Max Mini",
            "Acme Plus",
            "Foo-Bar 12",
            "Zeta-X9",
            "a@b.io",
            "lena.kraus@example.net",
            "x_order 5",
            "5order",
            "tell me",
            "hotel 5",
            "status",
            "ending",
            "mar",
            "Black Friday",
            "Cyber Monday",
            "2 days ago",
            "general 5",
            "the 5th",
            "of",
            "de",
            "nr.",
            "no.",
            "#",
            "+",
            "-",
            ":",
            "/",
            ".",
            ",",
            "$",
            "@",
            "(",
            ")",
            " ",
            "  ",
            "\t",
            "\n",
            "_",
            "20",
            "00",
            "4",
            "55",
            "2026",
        ];
        let cases: usize = std::env::var("HANDOFF_PRESCAN_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000);
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let noise = b"aAzZ09 .,:;/#+-_()$@'\"!?\t\nxXkKsSmMgGlLwWtTcC";
        for _ in 0..cases {
            let mut t = String::new();
            for _ in 0..1 + next() % 6 {
                match next() % 4 {
                    0 => {
                        for _ in 0..next() % 6 {
                            t.push(noise[(next() % noise.len() as u64) as usize] as char);
                        }
                    }
                    _ => {
                        let p = PIECES[(next() % PIECES.len() as u64) as usize];
                        match next() % 5 {
                            0 => t.push_str(&p.to_uppercase()),
                            1 => t.push_str(&p.to_lowercase()),
                            _ => t.push_str(p),
                        }
                    }
                }
                if next() % 3 > 0 {
                    t.push(if next() % 7 == 0 { '\t' } else { ' ' });
                }
            }
            let exact = Hits::exact(&t);
            let (pre, digits) = prescan(&t).expect("ASCII text");
            assert_eq!(
                digits.is_some(),
                t.bytes().any(|b| b.is_ascii_digit()),
                "{t:?}"
            );
            if let Some(d) = digits {
                assert_eq!((d.first, d.last), {
                    let d = Digits::of(&t).expect("digits");
                    (d.first, d.last)
                });
            }
            assert_eq!(
                pre.0 & exact.0,
                exact.0,
                "{t:?}: prescan {pre:?} misses {exact:?}"
            );
        }
    }

    /// Ids read off a match (ASCII text) are the ones its capture groups hold.
    #[test]
    fn ids_read_off_matches_agree_with_capture_groups() {
        const PIECES: &[&str] = &[
            "order",
            "orders",
            "ORDER",
            "Orders",
            "purchase",
            "pedido",
            "bestellung",
            "bestellnummer",
            "commande",
            "ordine",
            "ticket",
            "caso",
            "incidencia",
            "vorgang",
            "invoice",
            "factura",
            "rechnung",
            "rechnungsnummer",
            "tracking",
            "sendungsnummer",
            "seguimiento",
            "account",
            "acct",
            "konto",
            "cuenta",
            "kundennummer",
            "no",
            "no.",
            "No.",
            "nr",
            "nr.",
            "number",
            "numero",
            "nummer",
            "id",
            "ID",
            "code",
            "nobody",
            "identity",
            "numbers",
            "#",
            ":",
            "##",
            ": #",
            "-",
            "55120",
            "4411",
            "12",
            "A-77",
            "TK-123",
            "AB12345678",
            "PG7781204",
            "abc",
            "ABC-55",
            "x-1",
            "55-",
            "-77",
            "X9",
            "0000000000",
            "12345678901234567890123",
            "A-",
            "_",
            "(",
            ")",
            "é",
            "order_1",
            "1order",
        ];
        let seps = [" ", "", "  ", "\t", ":", "#", " #", "-", ".", ", "];
        let mut state = 0x1234_5678_9abc_def1u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        #[allow(clippy::type_complexity)]
        let shapes: [(
            &Regex,
            [usize; 2],
            &dyn Fn(&str, usize, usize) -> Option<(usize, usize, bool)>,
        ); 5] = [
            (
                &ORDER_ID,
                {
                    let [g, h] = *ORDER_G;
                    [g, h]
                },
                &|text: &str, s: usize, e: usize| {
                    let b = text.as_bytes();
                    if b[s].is_ascii_alphabetic() {
                        ORDER_LABELLED.id(text, s).map(|(a, b)| (a, b, false))
                    } else {
                        let h = if b[s] == b'#' { s } else { s + 1 };
                        (b.get(h) == Some(&b'#')).then_some((h + 1, e, true))
                    }
                },
            ),
            (
                &TICKET_ID,
                [TICKET_G[0], usize::MAX],
                &|text: &str, s: usize, _| TICKET_LABELLED.id(text, s).map(|(a, b)| (a, b, false)),
            ),
            (
                &INVOICE_ID,
                [INVOICE_G[0], usize::MAX],
                &|text: &str, s: usize, _| INVOICE_LABELLED.id(text, s).map(|(a, b)| (a, b, false)),
            ),
            (
                &TRACKING_ID,
                [TRACKING_G[0], usize::MAX],
                &|text: &str, s: usize, _| {
                    TRACKING_LABELLED.id(text, s).map(|(a, b)| (a, b, false))
                },
            ),
            (
                &ACCOUNT_ID,
                {
                    let [g, g2] = *ACCOUNT_G;
                    [g, g2]
                },
                &|text: &str, s: usize, e: usize| {
                    let b = text.as_bytes();
                    if e - s >= 2 && b[s].is_ascii_uppercase() && b[s + 1] == b'-' {
                        Some((s, e, false))
                    } else {
                        ACCOUNT_LABELLED.id(text, s).map(|(a, b)| (a, b, true))
                    }
                },
            ),
        ];
        let cases: usize = std::env::var("HANDOFF_PRESCAN_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000);
        let mut compared = 0;
        for _ in 0..cases {
            let mut t = String::new();
            for _ in 0..1 + next() % 7 {
                t.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
                t.push_str(seps[(next() % seps.len() as u64) as usize]);
            }
            for (re, groups, fast) in &shapes {
                let mut slow_locs = re.capture_locations();
                let mut fast_locs = re.capture_locations();
                let mut want = Vec::new();
                let mut got = Vec::new();
                let ascii = t.is_ascii();
                each_id(
                    re,
                    &mut slow_locs,
                    &t,
                    Scope::ALL,
                    false,
                    *groups,
                    |_, _| None,
                    |id, second| want.push((id.start(), id.end(), second)),
                );
                each_id(
                    re,
                    &mut fast_locs,
                    &t,
                    Scope::ALL,
                    ascii,
                    *groups,
                    |s, e| fast(&t, s, e),
                    |id, second| got.push((id.start(), id.end(), second)),
                );
                assert_eq!(got, want, "{t:?} with {}", re.as_str());
                compared += want.len();
            }
        }
        assert!(compared > cases / 10, "only {compared} ids compared");
    }

    #[test]
    fn text_without_digits_is_cheap_and_safe() {
        assert!(extract("hello there, nothing here").is_empty());
        assert!(extract("").is_empty());
        let _ = extract("€€€ $ £ 1. ,, -- @@ + ++ ٣٤٥ ½");
    }
}
