//! Thrift decoding, as a list and as a legacy single span: never panics or runs away.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zipwire::codec::thrift;

fuzz_target!(|data: &[u8]| {
    let _ = thrift::decode_list(data);
    let _ = thrift::decode_one(data);
});
