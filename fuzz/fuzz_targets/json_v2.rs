//! JSON v2 list decoding: never panics, the fast path decodes exactly what the reference
//! path does wherever it does not defer, and what decodes re-encodes to the same spans.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zipwire::codec::json_v2;

fuzz_target!(|data: &[u8]| {
    if let Some(fast) = json_v2::decode_spans_fast(data) {
        let reference = json_v2::decode_spans_reference(data);
        assert_eq!(reference.ok(), Some(fast), "the decoding paths disagree");
    }
    if let Ok(spans) = json_v2::decode_spans(data) {
        let mut encoded = Vec::new();
        json_v2::encode_spans(&spans, &mut encoded);
        let again = json_v2::decode_spans(&encoded).expect("our own encoding decodes");
        assert_eq!(again, spans, "JSON v2 round trip changed the spans");
    }
});
