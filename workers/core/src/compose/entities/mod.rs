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

mod dates;
mod ids;
mod measures;
mod money;
mod patterns;
mod prescan;
#[cfg(test)]
mod tests;

use dates::*;
use ids::*;
use measures::*;
pub use money::parse_amount;
use money::*;
use patterns::*;
use prescan::*;

static REPEAT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:third time|second time|again and again|already (?:told|asked|wrote|written|tried|said|explained)|keep (?:giving|telling|asking) me|same answer|same thing again|otra vez|de nuevo|eso mismo|ya (?:os|te|les) (?:dije|escrib)|schon wieder|erneut|nochmal|alles gemacht|bereits versucht)",
    )
});

/// Whether the contact says they have been through this before ("you keep giving me...").
pub fn is_repeat_contact(text: &str) -> bool {
    REPEAT.is_match(text)
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
    times(text, hits, slots, digits, &mut out);
    phones(text, hits, slots, digits, &mut out);
    measures(text, hits, slots, digits, &mut out);
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
