//! The builder's part of the policy file (`[builder]`).

use serde::Deserialize;

/// How payloads are composed. Every field has a default, so a policy without `[builder]` works.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BuilderPolicy {}
