//! The tutorial's TSV format: any bytes give items or an error naming the line.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = data::decode_tsv(std::path::Path::new("fuzz.tsv"), bytes);
});
