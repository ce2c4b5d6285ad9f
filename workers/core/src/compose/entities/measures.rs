//! Quantities, measures, clothing sizes, card endings and phone numbers: the entities that are
//! numbers with a unit or a label.

#[allow(unused_imports)]
use super::*;

/// Phone numbers: 7 to 15 digits, written as the contact wrote them (single-spaced).
pub(super) fn phones(
    text: &str,
    hits: Hits,
    slots: &mut Slots,
    digits: Digits,
    out: &mut Vec<Entity>,
) {
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
                if !(7..=15).contains(&digits) || overlaps(out, m.start(), m.end()) {
                    return;
                }
                push(out, "phone", squash(raw), m.start(), m.end(), None);
            },
        );
    }
}

/// Quantities (`250 seats`), measures (`1,500 W`), clothing sizes and card endings.
pub(super) fn measures(
    text: &str,
    hits: Hits,
    slots: &mut Slots,
    digits: Digits,
    out: &mut Vec<Entity>,
) {
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
                if overlaps(out, m.start(), m.end()) {
                    return;
                }
                let v = format!("{} {}", c.at(n).as_str(), c.at(u).as_str().to_lowercase());
                push(out, "quantity", v, m.start(), m.end(), None);
            },
        );
    }
    if hits.matched(P_MEASURE) {
        let [n, u] = *MEASURE_G;
        let scope = digits.scope(text, 0);
        each_match(&MEASURE, slots.get(P_MEASURE, &MEASURE), text, scope, |c| {
            let m = c.at(0);
            if overlaps(out, m.start(), m.end()) {
                return;
            }
            let v = format!("{} {}", c.at(n).as_str(), c.at(u).as_str());
            push(out, "measure", v, m.start(), m.end(), None);
        });
    }
    if hits.matched(P_SIZE) {
        let [g] = *SIZE_G;
        each_match(&SIZE, slots.get(P_SIZE, &SIZE), text, Scope::ALL, |c| {
            let m = c.at(0);
            let v = c.at(g).as_str().to_uppercase();
            push(out, "size", v, m.start(), m.end(), None);
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
                push(out, "card_last4", v, m.start(), m.end(), None);
            },
        );
    }
}
