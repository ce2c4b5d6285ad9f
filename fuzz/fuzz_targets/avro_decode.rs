//! cargo-fuzz target `avro_decode`: see `handoff_fuzz::avro_decode` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| handoff_fuzz::avro_decode(data));
