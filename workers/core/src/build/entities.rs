//! Entity extraction with tested patterns: money with currency, order/account/ticket/invoice ids,
//! tracking numbers, error codes, emails, phone numbers, dates, times, quantities, measures,
//! sizes, card endings and product names, in English, Spanish and German text.
//!
//! Every entity gets a *canonical* value, the form the summary prints and the LLM composer is
//! checked against: money as `CODE amount` (`€640` → `EUR 640`, `1.299,00 €` → `EUR 1,299.00`),
//! dates as `9 November` (Spanish and German months translated, ISO dates kept), weekdays in
//! English. Patterns run on the original text; a turn without a digit skips every pattern that
//! needs one, so most of the cost is paid only where facts can be.

use regex::{Regex, RegexSet};
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

/// Extracts every entity from `text`, in text order, without duplicates of the same value.
pub fn extract(text: &str) -> Vec<Entity> {
    let mut out: Vec<Entity> = Vec::new();
    let hits = SET.matches(text);
    let has_digit = text.bytes().any(|b| b.is_ascii_digit());
    if hits.matched(P_EMAIL) {
        for m in EMAIL.find_iter(text) {
            push(
                &mut out,
                "email",
                m.as_str().to_string(),
                m.start(),
                m.end(),
                None,
            );
        }
    }
    if has_digit {
        if hits.matched(P_MONEY) {
            money(text, &mut out);
        }
        ids(text, &hits, &mut out);
        if hits.matched(P_DATE) {
            dates(text, &mut out);
        }
        for c in hits
            .matched(P_TIME)
            .then(|| TIME.captures_iter(text))
            .into_iter()
            .flatten()
        {
            let m = c.get(0).expect("match");
            if overlaps(&out, m.start(), m.end()) {
                continue;
            }
            let h: u32 = c["h"].parse().unwrap_or(0);
            let mut v = format!("{h:02}:{}", &c["m"]);
            if let Some(z) = c.name("z") {
                let z = z.as_str().to_ascii_lowercase();
                if matches!(z.as_str(), "utc" | "cet" | "cest" | "gmt" | "am" | "pm") {
                    v.push(' ');
                    v.push_str(&z.to_ascii_uppercase());
                }
            }
            push(&mut out, "time", v, m.start(), m.end(), None);
        }
        for c in hits
            .matched(P_PHONE)
            .then(|| PHONE.captures_iter(text))
            .into_iter()
            .flatten()
        {
            let m = c.get(0).expect("match");
            let raw = c.name("local").map(|l| l.as_str()).unwrap_or(m.as_str());
            let digits = raw.bytes().filter(u8::is_ascii_digit).count();
            if !(7..=15).contains(&digits) || overlaps(&out, m.start(), m.end()) {
                continue;
            }
            push(&mut out, "phone", squash(raw), m.start(), m.end(), None);
        }
        for c in hits
            .matched(P_QUANTITY)
            .then(|| QUANTITY.captures_iter(text))
            .into_iter()
            .flatten()
        {
            let m = c.get(0).expect("match");
            if overlaps(&out, m.start(), m.end()) {
                continue;
            }
            let v = format!("{} {}", &c["n"], c["u"].to_lowercase());
            push(&mut out, "quantity", v, m.start(), m.end(), None);
        }
        for c in hits
            .matched(P_MEASURE)
            .then(|| MEASURE.captures_iter(text))
            .into_iter()
            .flatten()
        {
            let m = c.get(0).expect("match");
            if overlaps(&out, m.start(), m.end()) {
                continue;
            }
            let v = format!("{} {}", &c["n"], &c["u"]);
            push(&mut out, "measure", v, m.start(), m.end(), None);
        }
        for c in hits
            .matched(P_SIZE)
            .then(|| SIZE.captures_iter(text))
            .into_iter()
            .flatten()
        {
            let m = c.get(0).expect("match");
            push(
                &mut out,
                "size",
                c["s"].to_uppercase(),
                m.start(),
                m.end(),
                None,
            );
        }
        for c in hits
            .matched(P_CARD)
            .then(|| CARD_LAST4.captures_iter(text))
            .into_iter()
            .flatten()
        {
            let m = c.get(0).expect("match");
            push(
                &mut out,
                "card_last4",
                c["d"].to_string(),
                m.start(),
                m.end(),
                None,
            );
        }
        for c in hits
            .matched(P_PRODUCT)
            .then(|| PRODUCT.captures_iter(text))
            .into_iter()
            .flatten()
        {
            let m = c.name("p").expect("group");
            product(m.as_str(), m.start(), &mut out);
        }
    }
    for m in hits
        .matched(P_WEEKDAY)
        .then(|| WEEKDAY.find_iter(text))
        .into_iter()
        .flatten()
    {
        // "Tuesday 17 November": the date says it all.
        let next_date = out
            .iter()
            .any(|e| e.kind == "date" && e.start >= m.end() && e.start <= m.end() + 4);
        // "Black Friday", "Cyber Monday" are sales, not days.
        let before = text[..m.start()].trim_end().to_lowercase();
        let event = before.ends_with("black") || before.ends_with("cyber");
        if next_date || event || overlaps(&out, m.start(), m.end()) {
            continue;
        }
        push(
            &mut out,
            "date",
            weekday_en(m.as_str()).to_string(),
            m.start(),
            m.end(),
            None,
        );
    }
    out.sort_by_key(|e| e.start);
    out
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

fn money(text: &str, out: &mut Vec<Entity>) {
    for c in MONEY.captures_iter(text) {
        let m = c.get(0).expect("match");
        let (cur, amount) = match (c.name("a1"), c.name("a2")) {
            (Some(a), _) => (c.name("c1").or(c.name("s1")), a),
            (None, Some(a)) => (c.name("c2").or(c.name("s2")), a),
            _ => continue,
        };
        let (Some(code), Some((value, rendered))) = (
            cur.and_then(|c| currency_code(c.as_str())),
            parse_amount(amount.as_str()),
        ) else {
            continue;
        };
        push(
            out,
            "money",
            format!("{code} {rendered}"),
            m.start(),
            m.end(),
            Some((code, value)),
        );
    }
}

fn has_digit(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_digit())
}

/// Ids named by a label ("order 55120", "ticket #4521") need three digits: "order 2" is a count.
fn id_like(s: &str) -> bool {
    s.bytes().filter(u8::is_ascii_digit).count() >= 3
}

fn ids(text: &str, hits: &regex::SetMatches, out: &mut Vec<Entity>) {
    for c in hits
        .matched(P_INVOICE)
        .then(|| INVOICE_ID.captures_iter(text))
        .into_iter()
        .flatten()
    {
        let id = c.name("id").expect("group");
        if id_like(id.as_str()) {
            push(
                out,
                "invoice_id",
                id.as_str().to_uppercase(),
                id.start(),
                id.end(),
                None,
            );
        }
    }
    for c in hits
        .matched(P_TICKET)
        .then(|| TICKET_ID.captures_iter(text))
        .into_iter()
        .flatten()
    {
        let id = c.name("id").expect("group");
        if id_like(id.as_str()) && !overlaps(out, id.start(), id.end()) {
            push(
                out,
                "ticket_id",
                id.as_str().to_uppercase(),
                id.start(),
                id.end(),
                None,
            );
        }
    }
    for c in hits
        .matched(P_TRACKING)
        .then(|| TRACKING_ID.captures_iter(text))
        .into_iter()
        .flatten()
    {
        let id = c.name("id").expect("group");
        let s = id.as_str();
        if has_digit(s) && (s.bytes().any(|b| b.is_ascii_alphabetic()) || s.len() >= 10) {
            push(
                out,
                "tracking_id",
                s.to_uppercase(),
                id.start(),
                id.end(),
                None,
            );
        }
    }
    for c in hits
        .matched(P_PREFIXED)
        .then(|| PREFIXED_ID.captures_iter(text))
        .into_iter()
        .flatten()
    {
        let m = c.get(0).expect("match");
        if overlaps(out, m.start(), m.end()) {
            continue;
        }
        let kind = match &c["p"] {
            "INV" | "RE" | "FAC" => "invoice_id",
            "TK" | "TKT" | "TCK" | "CASE" | "SR" | "INC" | "REQ" => "ticket_id",
            "ORD" | "PO" => "order_id",
            _ => "reference",
        };
        push(out, kind, m.as_str().to_string(), m.start(), m.end(), None);
    }
    for c in hits
        .matched(P_ACCOUNT)
        .then(|| ACCOUNT_ID.captures_iter(text))
        .into_iter()
        .flatten()
    {
        let Some(id) = c.name("id").or(c.name("id2")) else {
            continue;
        };
        let named = c.name("id2").is_some();
        let b = id.as_str().as_bytes();
        let lettered = b.len() >= 4 && b[0].is_ascii_alphabetic() && b[1] == b'-';
        if (!named || lettered || id_like(id.as_str())) && !overlaps(out, id.start(), id.end()) {
            push(
                out,
                "account_id",
                id.as_str().to_uppercase(),
                id.start(),
                id.end(),
                None,
            );
        }
    }
    for c in hits
        .matched(P_ORDER)
        .then(|| ORDER_ID.captures_iter(text))
        .into_iter()
        .flatten()
    {
        let Some(id) = c.name("id").or(c.name("hash")) else {
            continue;
        };
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
    }
    for c in hits
        .matched(P_ERROR)
        .then(|| ERROR_CODE.captures_iter(text))
        .into_iter()
        .flatten()
    {
        let Some(code) = c.name("c").or(c.name("h")) else {
            continue;
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

fn dates(text: &str, out: &mut Vec<Entity>) {
    for c in DATE.captures_iter(text) {
        let m = c.get(0).expect("match");
        if overlaps(out, m.start(), m.end()) {
            continue;
        }
        let value = if let Some(y) = c.name("iy") {
            format!("{}-{}-{}", y.as_str(), &c["im"], &c["id"])
        } else if let Some(d) = c.name("nd") {
            format!("{}.{}.{}", d.as_str(), &c["nm"], &c["ny"])
        } else {
            let (d, mo, y) = if let Some(d) = c.name("sd") {
                (d, c.name("sm"), c.name("sy"))
            } else if let Some(d) = c.name("gd") {
                (d, c.name("gm"), c.name("gy"))
            } else if let Some(d) = c.name("ed") {
                (d, c.name("em"), c.name("ey"))
            } else if let Some(d) = c.name("ad") {
                (d, c.name("am"), c.name("ay"))
            } else {
                continue;
            };
            let day: u32 = d.as_str().parse().unwrap_or(0);
            let Some(month) = mo.and_then(|mo| month_index(mo.as_str())) else {
                continue;
            };
            if !(1..=31).contains(&day) {
                continue;
            }
            // "may" is also a verb: "I may 2 ..." is not a date.
            if mo.is_some_and(|mo| mo.as_str() == "may") {
                continue;
            }
            match y {
                Some(y) => format!("{day} {} {}", MONTH_NAMES[month], y.as_str()),
                None => format!("{day} {}", MONTH_NAMES[month]),
            }
        };
        push(out, "date", value, m.start(), m.end(), None);
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

    #[test]
    fn text_without_digits_is_cheap_and_safe() {
        assert!(extract("hello there, nothing here").is_empty());
        assert!(extract("").is_empty());
        let _ = extract("€€€ $ £ 1. ,, -- @@ + ++ ٣٤٥ ½");
    }
}
