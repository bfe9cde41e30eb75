//! proto3 `ListOfSpans` decoding: never panics, and what decodes re-encodes to the same
//! spans.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zipwire::codec::proto3;

fuzz_target!(|data: &[u8]| {
    if let Ok(spans) = proto3::decode_list(data) {
        let again =
            proto3::decode_list(&proto3::encode_list(&spans)).expect("our own encoding decodes");
        assert_eq!(again, spans, "proto3 round trip changed the spans");
    }
});
