//! A weights file (.bpk) for a small MLP: any bytes load as that network or give an error naming
//! what differs, never a panic or an outsized allocation.
#![no_main]

use burn::tensor::{Bytes, Device};
use libfuzzer_sys::fuzz_target;
use model::{MlpConfig, ModelConfig};

fuzz_target!(|bytes: &[u8]| {
    let config = ModelConfig::Mlp(MlpConfig {
        hidden: vec![3],
        ..MlpConfig::default()
    });
    let _ = model::load_weights_from_bytes(
        &config,
        std::path::Path::new("fuzz.bpk"),
        Bytes::from_bytes_vec(bytes.to_vec()),
        &Device::flex(),
    );
});
