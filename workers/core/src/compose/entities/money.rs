//! Money with its currency, in every notation (`€640`, `1.299,00 €`, `USD 1,188`).

#[allow(unused_imports)]
use super::*;

pub(super) fn currency_code(c: &str) -> Option<&'static str> {
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

pub(super) fn money(text: &str, locs: &mut CaptureLocations, scope: Scope, out: &mut Vec<Entity>) {
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
pub(super) fn money_parts(m: &str) -> Option<(Option<&str>, &str)> {
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
