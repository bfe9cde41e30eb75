//! JSON v1 decoding and the v1 to v2 conversion: never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zipwire::codec::json_v1;

fuzz_target!(|data: &[u8]| {
    let _ = json_v1::decode_list(data);
});
