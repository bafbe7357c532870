//! A picture for `predict`: any bytes give a 28x28 digit or an error; size checked before decoding.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = data::decode_picture(bytes);
});
