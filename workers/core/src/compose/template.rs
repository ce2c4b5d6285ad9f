//! Templates for draft replies, next actions and open questions.
//!
//! Syntax: `{var}` is replaced by a value the builder extracted (see [`VARS`]); `[[ ... ]]` is an
//! optional section, left out when any variable inside it has no value; `[[ a || b ]]` is the
//! first alternative that can be filled (`[[ order {order_id}|| your order]]`). A variable outside an
//! optional section is *required*: when it has no value the template does not apply and the next
//! rule is tried. So rule order plus required variables select the most specific text that can be
//! filled, e.g. "approve the refund of {money}" only when an amount was stated.
//!
//! Templates are parsed once, when the [`Builder`](super::Builder) is made; an unknown variable or
//! an unbalanced bracket is a start-up error that names the rule.

use std::borrow::Cow;

/// Every variable a template may use.
pub const VARS: &[&str] = &[
    "name",
    "first_name",
    "contact",
    "company",
    "plan",
    "account_id",
    "order_id",
    "money",
    "invoice_id",
    "ticket_id",
    "tracking_id",
    "error_code",
    "email",
    "phone",
    "date",
    "time",
    "quantity",
    "product",
    "card_last4",
    "topic",
    "intent",
    "sub_intent",
    "reasons",
    "approval_limit",
    "approval_source",
    "value",
    "account_note",
    "channel",
    "deadline",
    "tenant",
    "greeting",
    "harm",
];

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Lit(String),
    Var(usize),
    /// Alternatives: the first that can be filled, or nothing.
    Opt(Vec<Vec<Seg>>),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    segs: Vec<Seg>,
    /// The literal text, lower-cased (checked against forbidden promises at start-up).
    literal_lower: String,
}

/// Variable values by index into [`VARS`], borrowed where the builder has them already.
#[derive(Debug, Clone, Default)]
pub struct Vars<'a> {
    values: [Option<Cow<'a, str>>; VARS.len()],
}

impl<'a> Vars<'a> {
    pub fn new() -> Self {
        Vars::default()
    }

    /// Sets `name` (ignored when empty). Panics on a name not in [`VARS`] (a programming error).
    pub fn set(&mut self, name: &str, value: impl Into<Cow<'a, str>>) {
        let value = value.into();
        let idx = var_index(name).unwrap_or_else(|| panic!("unknown template variable {name}"));
        if !value.trim().is_empty() {
            self.values[idx] = Some(value);
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        var_index(name).and_then(|i| self.values[i].as_deref())
    }
}

/// The position of `name` in [`VARS`].
fn var_index(name: &str) -> Option<usize> {
    Some(match name {
        "name" => 0,
        "first_name" => 1,
        "contact" => 2,
        "company" => 3,
        "plan" => 4,
        "account_id" => 5,
        "order_id" => 6,
        "money" => 7,
        "invoice_id" => 8,
        "ticket_id" => 9,
        "tracking_id" => 10,
        "error_code" => 11,
        "email" => 12,
        "phone" => 13,
        "date" => 14,
        "time" => 15,
        "quantity" => 16,
        "product" => 17,
        "card_last4" => 18,
        "topic" => 19,
        "intent" => 20,
        "sub_intent" => 21,
        "reasons" => 22,
        "approval_limit" => 23,
        "approval_source" => 24,
        "value" => 25,
        "account_note" => 26,
        "channel" => 27,
        "deadline" => 28,
        "tenant" => 29,
        "greeting" => 30,
        "harm" => 31,
        _ => return None,
    })
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, String> {
        // Each open group holds its alternatives; the root has exactly one.
        let mut stack: Vec<Vec<Vec<Seg>>> = vec![vec![Vec::new()]];
        let mut lit = String::new();
        let mut literal_lower = String::new();
        let mut rest = text;
        let flush = |lit: &mut String, stack: &mut Vec<Vec<Vec<Seg>>>| {
            if !lit.is_empty() {
                current(stack).push(Seg::Lit(std::mem::take(lit)));
            }
        };
        while let Some(c) = rest.chars().next() {
            if rest.starts_with("[[") {
                flush(&mut lit, &mut stack);
                stack.push(vec![Vec::new()]);
                rest = &rest[2..];
            } else if rest.starts_with("||") && stack.len() > 1 {
                flush(&mut lit, &mut stack);
                stack.last_mut().expect("stack").push(Vec::new());
                rest = &rest[2..];
            } else if rest.starts_with("]]") {
                flush(&mut lit, &mut stack);
                if stack.len() < 2 {
                    return Err(format!("unbalanced ']]' in {text:?}"));
                }
                let inner = stack.pop().expect("stack");
                current(&mut stack).push(Seg::Opt(inner));
                rest = &rest[2..];
            } else if c == '{' {
                let end = rest
                    .find('}')
                    .ok_or_else(|| format!("unclosed '{{' in {text:?}"))?;
                let name = rest[1..end].trim();
                let idx = var_index(name).ok_or_else(|| {
                    format!(
                        "unknown variable {{{name}}} in {text:?} (known: {})",
                        VARS.join(", ")
                    )
                })?;
                flush(&mut lit, &mut stack);
                current(&mut stack).push(Seg::Var(idx));
                rest = &rest[end + 1..];
            } else {
                lit.push(c);
                literal_lower.extend(c.to_lowercase());
                rest = &rest[c.len_utf8()..];
            }
        }
        flush(&mut lit, &mut stack);
        if stack.len() != 1 {
            return Err(format!("unclosed '[[' in {text:?}"));
        }
        let mut root = stack.pop().expect("stack");
        Ok(Template {
            segs: root.pop().expect("root"),
            literal_lower,
        })
    }

    /// The text with variables filled, or `None` when a required variable has no value.
    pub fn render(&self, vars: &Vars<'_>) -> Option<String> {
        let mut out = String::with_capacity(160);
        if render_into(&self.segs, vars, &mut out) {
            Some(out)
        } else {
            None
        }
    }

    /// The template's fixed text, lower-cased.
    pub fn literal_lower(&self) -> &str {
        &self.literal_lower
    }
}

fn current(stack: &mut [Vec<Vec<Seg>>]) -> &mut Vec<Seg> {
    stack
        .last_mut()
        .and_then(|alts| alts.last_mut())
        .expect("a group always has an alternative")
}

fn render_into(segs: &[Seg], vars: &Vars<'_>, out: &mut String) -> bool {
    for seg in segs {
        match seg {
            Seg::Lit(s) => out.push_str(s),
            Seg::Var(i) => match &vars.values[*i] {
                Some(v) => out.push_str(v),
                None => return false,
            },
            Seg::Opt(alternatives) => {
                let mark = out.len();
                for alt in alternatives {
                    if render_into(alt, vars, out) {
                        break;
                    }
                    out.truncate(mark);
                }
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_sections_drop_and_required_vars_gate() {
        let t = Template::parse("Refund[[ of {money}]][[ for order {order_id}]].").unwrap();
        let mut v = Vars::new();
        assert_eq!(t.render(&v).unwrap(), "Refund.");
        v.set("order_id", "55120");
        assert_eq!(t.render(&v).unwrap(), "Refund for order 55120.");
        v.set("money", "EUR 640");
        assert_eq!(t.render(&v).unwrap(), "Refund of EUR 640 for order 55120.");
        let req = Template::parse("Approve {money} now").unwrap();
        assert_eq!(req.render(&Vars::new()), None);
        let nested = Template::parse("a[[ b {money}[[ c {order_id}]]]]").unwrap();
        let mut v = Vars::new();
        v.set("money", "EUR 1");
        assert_eq!(nested.render(&v).unwrap(), "a b EUR 1");
        let alt = Template::parse("into[[ account {account_id}|| your account]].").unwrap();
        assert_eq!(alt.render(&Vars::new()).unwrap(), "into your account.");
        let mut v = Vars::new();
        v.set("account_id", "A-1");
        assert_eq!(alt.render(&v).unwrap(), "into account A-1.");
        assert_eq!(
            Template::parse("a || b").unwrap().render(&v).unwrap(),
            "a || b"
        );
    }

    #[test]
    fn variable_indices_follow_the_list() {
        for (i, v) in VARS.iter().enumerate() {
            assert_eq!(var_index(v), Some(i), "{v}");
        }
        assert_eq!(var_index("nme"), None);
    }

    #[test]
    fn bad_templates_are_refused() {
        assert!(Template::parse("Hi {nme}").unwrap_err().contains("nme"));
        assert!(Template::parse("a [[ b").is_err());
        assert!(Template::parse("a ]] b").is_err());
        assert!(Template::parse("a {money").is_err());
        assert_eq!(
            Template::parse("Hola {first_name}, ¿qué tal?")
                .unwrap()
                .literal_lower(),
            "hola , ¿qué tal?"
        );
    }
}
