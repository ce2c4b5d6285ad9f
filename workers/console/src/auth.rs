//! Who is calling, and what they may touch.
//!
//! Operators sign in with a bearer token (`Authorization: Bearer <token>`). Only the SHA-256 of
//! each token is kept after start-up, and a presented token is compared against every digest
//! in constant time, so neither the tokens nor their timing leak. An operator acts only on
//! handoffs currently routed to their own team.

use crate::config::OperatorEntry;
use handoff_core::records::Operator;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

/// The signed-in operator (what goes into every command's `operator` block).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Identity {
    pub id: String,
    pub name: String,
    pub team: String,
}

impl Identity {
    pub fn operator(&self) -> Operator {
        Operator {
            id: self.id.clone(),
            name: self.name.clone(),
            team: self.team.clone(),
        }
    }
}

/// The configured operators, by token digest.
pub struct Operators {
    entries: Vec<([u8; 32], Identity)>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("sign in: send Authorization: Bearer <your operator token>")]
    Missing,
    #[error("unknown or revoked operator token")]
    Unknown,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OwnershipError {
    #[error("handoff {handoff_id} belongs to team {owner}; operator {operator} is in team {team}")]
    OtherTeam {
        handoff_id: String,
        owner: String,
        operator: String,
        team: String,
    },
    #[error("handoff {handoff_id} is not routed to a team yet; try again in a moment")]
    Unrouted { handoff_id: String },
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Debug, thiserror::Error)]
#[error("invalid operators: {0}")]
pub struct OperatorsError(String);

impl Operators {
    /// Refuses empty fields, short tokens and duplicate ids or tokens (a shared token would make
    /// the audit trail name the wrong person).
    pub fn new(entries: &[OperatorEntry]) -> Result<Operators, OperatorsError> {
        let mut out: Vec<([u8; 32], Identity)> = Vec::with_capacity(entries.len());
        for e in entries {
            if e.id.trim().is_empty() || e.team.trim().is_empty() {
                return Err(OperatorsError(format!(
                    "operator {:?}: id and team are required",
                    e.id
                )));
            }
            if e.token.expose_secret().len() < 16 {
                return Err(OperatorsError(format!(
                    "operator {}: the token must be at least 16 characters",
                    e.id
                )));
            }
            let d = digest(e.token.expose_secret());
            if out.iter().any(|(_, i)| i.id == e.id) {
                return Err(OperatorsError(format!("operator {} is listed twice", e.id)));
            }
            if out.iter().any(|(other, _)| constant_time_eq(other, &d)) {
                return Err(OperatorsError(format!(
                    "operator {} shares a token with another operator",
                    e.id
                )));
            }
            out.push((
                d,
                Identity {
                    id: e.id.clone(),
                    name: if e.name.trim().is_empty() {
                        e.id.clone()
                    } else {
                        e.name.clone()
                    },
                    team: e.team.clone(),
                },
            ));
        }
        Ok(Operators { entries: out })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The operator an `Authorization` header value names.
    pub fn authenticate(&self, header: Option<&str>) -> Result<Identity, AuthError> {
        let token = header
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        let d = digest(token);
        // Compare with every entry, so the time taken does not say which one matched.
        let mut found = None;
        for (digest, identity) in &self.entries {
            if constant_time_eq(digest, &d) {
                found = Some(identity);
            }
        }
        found.cloned().ok_or(AuthError::Unknown)
    }
}

/// Whether `who` may act on a handoff routed to `owner` (`None`: not routed yet).
pub fn check_ownership(
    who: &Identity,
    handoff_id: &str,
    owner: Option<&str>,
) -> Result<(), OwnershipError> {
    match owner {
        Some(team) if team == who.team => Ok(()),
        Some(team) => Err(OwnershipError::OtherTeam {
            handoff_id: handoff_id.to_string(),
            owner: team.to_string(),
            operator: who.id.clone(),
            team: who.team.clone(),
        }),
        None => Err(OwnershipError::Unrouted {
            handoff_id: handoff_id.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn entry(id: &str, team: &str, token: &str) -> OperatorEntry {
        OperatorEntry {
            id: id.into(),
            name: format!("name of {id}"),
            team: team.into(),
            token: SecretString::from(token.to_string()),
        }
    }

    fn operators() -> Operators {
        Operators::new(&[
            entry("u-3", "billing", "sam-token-0123456789"),
            entry("u-7", "general", "mia-token-0123456789"),
        ])
        .unwrap()
    }

    #[test]
    fn a_known_bearer_token_names_its_operator() {
        let ops = operators();
        let who = ops
            .authenticate(Some("Bearer mia-token-0123456789"))
            .unwrap();
        assert_eq!((who.id.as_str(), who.team.as_str()), ("u-7", "general"));
        assert_eq!(who.operator().name, "name of u-7");
    }

    #[test]
    fn missing_malformed_or_unknown_tokens_are_refused() {
        let ops = operators();
        assert_eq!(ops.authenticate(None), Err(AuthError::Missing));
        assert_eq!(ops.authenticate(Some("")), Err(AuthError::Missing));
        assert_eq!(
            ops.authenticate(Some("Basic dTpw")),
            Err(AuthError::Missing)
        );
        assert_eq!(ops.authenticate(Some("Bearer ")), Err(AuthError::Missing));
        assert_eq!(
            ops.authenticate(Some("Bearer sam-token-012345678")),
            Err(AuthError::Unknown)
        );
        assert_eq!(
            ops.authenticate(Some("sam-token-0123456789")),
            Err(AuthError::Missing)
        );
    }

    #[test]
    fn bad_operator_lists_are_refused() {
        let short = Operators::new(&[entry("u-1", "billing", "short")])
            .err()
            .unwrap();
        assert!(short.to_string().contains("16 characters"), "{short}");
        let dup = Operators::new(&[
            entry("u-1", "billing", "aaaaaaaaaaaaaaaa1"),
            entry("u-1", "general", "aaaaaaaaaaaaaaaa2"),
        ])
        .err()
        .unwrap();
        assert!(dup.to_string().contains("twice"), "{dup}");
        let shared = Operators::new(&[
            entry("u-1", "billing", "aaaaaaaaaaaaaaaa1"),
            entry("u-2", "general", "aaaaaaaaaaaaaaaa1"),
        ])
        .err()
        .unwrap();
        assert!(shared.to_string().contains("shares a token"), "{shared}");
        assert!(Operators::new(&[entry("u-1", "", "aaaaaaaaaaaaaaaa1")]).is_err());
    }

    #[test]
    fn operators_act_only_on_their_teams_handoffs() {
        let ops = operators();
        let sam = ops
            .authenticate(Some("Bearer sam-token-0123456789"))
            .unwrap();
        assert_eq!(check_ownership(&sam, "h1", Some("billing")), Ok(()));
        let err = check_ownership(&sam, "h1", Some("fraud")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "handoff h1 belongs to team fraud; operator u-3 is in team billing"
        );
        assert!(matches!(
            check_ownership(&sam, "h1", None),
            Err(OwnershipError::Unrouted { .. })
        ));
    }
}
