//! Dates in English, Spanish and German, made canonical (`9 November`), and weekdays.

#[allow(unused_imports)]
use super::*;

pub(super) fn looks_like_date_word(s: &str) -> bool {
    // "order 2019" is a year, not an order.
    s.len() == 4
        && (s.starts_with("19") || s.starts_with("20"))
        && s.bytes().all(|b| b.is_ascii_digit())
}

pub(super) fn month_index(name: &str) -> Option<usize> {
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

pub(super) fn dates(text: &str, locs: &mut CaptureLocations, scope: Scope, out: &mut Vec<Entity>) {
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
pub(super) enum DateParts<'t> {
    /// 2026-11-20
    Iso(&'t str, &'t str, &'t str),
    /// 20.11.2026, 20/11/2026
    Numeric(&'t str, &'t str, &'t str),
    /// Day, month name, year.
    Named(&'t str, &'t str, Option<&'t str>),
    None,
}

pub(super) fn date_parts_from<'t>(c: &Caps<'t, '_>) -> DateParts<'t> {
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
pub(super) fn date_parts(m: &str) -> Option<DateParts<'_>> {
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
pub(super) fn date_value(parts: DateParts<'_>) -> Option<String> {
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

pub(super) fn weekday_en(w: &str) -> &'static str {
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

/// Times of day (`14:00`, `9.30 am`, `10:15 UTC`), hours zero-padded.
pub(super) fn times(
    text: &str,
    hits: Hits,
    slots: &mut Slots,
    digits: Digits,
    out: &mut Vec<Entity>,
) {
    if hits.matched(P_TIME) {
        let [h, mi, z] = *TIME_G;
        each_match(
            &TIME,
            slots.get(P_TIME, &TIME),
            text,
            digits.scope(text, 0),
            |c| {
                let m = c.at(0);
                if overlaps(out, m.start(), m.end()) {
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
                push(out, "time", v, m.start(), m.end(), None);
            },
        );
    }
}
