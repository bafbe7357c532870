//! IDX images and labels, raw or gzip: any bytes give items or an error, in bounded memory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let name = std::path::Path::new("fuzz.idx");
    let _ = data::decode_idx_images(name, bytes);
    let _ = data::decode_idx_labels(name, bytes);
});
