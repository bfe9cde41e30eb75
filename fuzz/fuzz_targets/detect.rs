//! Broker messages of unknown encoding (Kafka): detection then any decoder, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zipwire::codec::detect;

fuzz_target!(|data: &[u8]| {
    let _ = detect::decode_message(data);
    for encoding in [
        detect::Encoding::JsonV2,
        detect::Encoding::JsonV1,
        detect::Encoding::Proto3,
        detect::Encoding::Thrift,
    ] {
        if detect::check_http_body(encoding, data).is_ok() {
            let _ = detect::decode_list(encoding, data);
        }
    }
});
