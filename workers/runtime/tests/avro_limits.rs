//! The decoder's allocation cap is process-wide and set once, so this runs in its own process.
use handoff_runtime::codec::{limit_avro_allocations, MAX_AVRO_ALLOCATION_BYTES};

#[test]
// from_avro_datum is the plainest way to decode one datum; its replacement is only a builder.
#[allow(deprecated)]
fn a_corrupt_length_cannot_make_the_decoder_allocate_much() {
    assert_eq!(limit_avro_allocations(), MAX_AVRO_ALLOCATION_BYTES);
    let schema = apache_avro::Schema::parse_str(r#""string""#).unwrap();
    // The zig-zag varint of a 100 MiB string length, and no string after it.
    let mut datum = Vec::new();
    let mut n = (100u64 * 1024 * 1024) << 1;
    while n >= 0x80 {
        datum.push((n as u8) | 0x80);
        n >>= 7;
    }
    datum.push(n as u8);
    let err = apache_avro::from_avro_datum(&schema, &mut datum.as_slice(), None)
        .expect_err("a 100 MiB string in 5 bytes");
    // Under the default 512 MiB cap this fails later, reading past the end of the input.
    assert!(
        err.to_string().contains("allocat"),
        "refused as an allocation over the cap, got: {err}"
    );
}
