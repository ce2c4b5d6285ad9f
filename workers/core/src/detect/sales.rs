//! Sales moments: a buyer asking about pricing, quotes, discounts, contract terms, plans or a
//! demo; and how good a fit the lead is (seats, budget, account value, urgency).

use regex::Regex;
use std::sync::LazyLock;

static INTEREST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:pricing|price|prices|quote|quotation|discount\w*|volume deal|contract terms?|contract|renewal terms|enterprise plan|upgrade (?:to|our|the) plan|plans? for (?:\d+|our team)|demo|proof of concept|pilot|purchase order|procurement|licen[cs]es?|seats?|precio\w*|presupuesto|descuento|contrato|preis\w*|angebot|rabatt|vertrag|lizenz\w*)\b").unwrap()
});

/// Moments that need a person whatever the lead's size: legal/security paperwork.
static SENSITIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:security questionnaire|security review|dpa|data processing agreement|soc ?2|iso ?27001|penetration test|custom contract|msa|master services agreement|redline\w*|sla credits?|indemnit\w*)\b").unwrap()
});

static NEGOTIATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:discount\w*|better (?:price|deal|offer)|match (?:their|the) price|negotiat\w*|too expensive|lower the price|contract terms?|payment terms|net ?\d\d|descuento|rabatt)\b").unwrap()
});

static SEATS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(\d{1,3}(?:[,.]\d{3})*|\d+)\s*(?:\+\s*)?(?:seats?|users?|licen[cs]es?|agents?|employees|people|staff|puestos|usuarios|licencias|nutzer|lizenzen|mitarbeiter)\b").unwrap()
});

static MONEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:(?:usd|eur|gbp|\$|€|£)\s*(\d{1,3}(?:[,.]\d{3})+|\d+(?:[.,]\d+)?)\s*(k|m)?|(\d{1,3}(?:[,.]\d{3})+|\d+(?:[.,]\d+)?)\s*(k|m)?\s*(?:usd|eur|gbp|dollars|euros?|€|\$))").unwrap()
});

static URGENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:this week|by (?:monday|tuesday|wednesday|thursday|friday|end of (?:the )?(?:week|month|quarter))|asap|urgent\w*|before (?:the )?end of (?:the )?(?:month|quarter)|this month|today)\b").unwrap()
});

/// What a contact turn says about a sale.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SalesSignal {
    pub interest: bool,
    pub sensitive: Option<String>,
    pub negotiation: bool,
    pub seats: Option<u32>,
    pub budget: Option<f64>,
    pub urgent: bool,
}

fn number(s: &str) -> Option<f64> {
    // "120,000" / "120.000" are thousands; "1.5" with a k/m suffix is a decimal.
    let digits: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
    let grouped = s.len() > 4
        && (s.contains(',') || s.contains('.'))
        && s.rsplit([',', '.'])
            .next()
            .is_some_and(|tail| tail.len() == 3);
    if grouped {
        digits.parse().ok()
    } else {
        s.replace(',', ".").parse().ok()
    }
}

/// [`analyze`] when the turn shows interest or sensitive paperwork, else `None` without
/// reading seats, budget, negotiation or urgency (what the detector needs per turn).
pub fn analyze_sale(text: &str) -> Option<SalesSignal> {
    let interest = INTEREST.is_match(text);
    let sensitive = SENSITIVE.find(text).map(|m| m.as_str().to_string());
    (interest || sensitive.is_some()).then(|| details(text, interest, sensitive))
}

/// Every signal of the turn, whether or not it shows interest.
#[cfg(test)]
pub fn analyze(text: &str) -> SalesSignal {
    details(
        text,
        INTEREST.is_match(text),
        SENSITIVE.find(text).map(|m| m.as_str().to_string()),
    )
}

fn details(text: &str, interest: bool, sensitive: Option<String>) -> SalesSignal {
    let seats = SEATS
        .captures_iter(text)
        .filter_map(|c| number(&c[1]))
        .map(|n| n as u32)
        .max();
    let budget = MONEY
        .captures_iter(text)
        .filter_map(|c| {
            let (n, suffix) = match (c.get(1), c.get(3)) {
                (Some(n), _) => (n.as_str(), c.get(2)),
                (None, Some(n)) => (n.as_str(), c.get(4)),
                _ => return None,
            };
            let mult = match suffix.map(|m| m.as_str().to_ascii_lowercase()).as_deref() {
                Some("k") => 1e3,
                Some("m") => 1e6,
                _ => 1.0,
            };
            number(n).map(|v| v * mult)
        })
        .fold(None, |acc: Option<f64>, v| {
            Some(acc.map_or(v, |a| a.max(v)))
        });
    SalesSignal {
        interest,
        sensitive,
        negotiation: NEGOTIATION.is_match(text),
        seats,
        budget,
        urgent: URGENT.is_match(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_seats_budget_and_negotiation() {
        let s = analyze("We need 250 seats, our budget is USD 120,000 and we'd want a discount on a 3-year contract.");
        assert!(s.interest && s.negotiation);
        assert_eq!(s.seats, Some(250));
        assert_eq!(s.budget, Some(120_000.0));
        let s = analyze("Budget around €45k, can you send a quote by Friday?");
        assert_eq!(s.budget, Some(45_000.0));
        assert!(s.urgent);
    }

    #[test]
    fn sensitive_paperwork() {
        assert_eq!(
            analyze("Can you sign our DPA and fill in a security questionnaire?")
                .sensitive
                .as_deref(),
            Some("DPA")
        );
    }

    #[test]
    fn not_a_sale() {
        let s = analyze("My order 55120 arrived broken");
        assert!(!s.interest && s.seats.is_none() && s.budget.is_none());
    }
}
