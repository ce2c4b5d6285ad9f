//! cargo-fuzz target `policy_toml`: see `handoff_fuzz::policy_toml` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| handoff_fuzz::policy_toml(data));
