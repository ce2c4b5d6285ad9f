//! cargo-fuzz target `replay_line`: see `handoff_fuzz::replay_line` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| handoff_fuzz::replay_line(data));
