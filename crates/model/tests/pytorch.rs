//! Weights in PyTorch's names: the fixtures `python/make_init_fixture.py` saved with PyTorch
//! (`torch.save` of a state dict, and safetensors) load into the same network, and writing that
//! network back gives PyTorch's own tensors, names, shapes and bytes (Linear weights transposed
//! both ways).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use model::{ModelConfig, pytorch};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

/// The network of the fixtures.
fn config() -> ModelConfig {
    #[derive(serde::Deserialize)]
    struct File {
        model: ModelConfig,
    }
    let text = "[model]\nkind = \"lenet\"\nconv_channels = [4, 8]\nfc_hidden = [16]\nconv_activation = \"relu\"\n";
    toml::from_str::<File>(text).unwrap().model
}

/// name -> (shape, little-endian f32 bytes) of a safetensors file.
fn tensors(bytes: &[u8]) -> BTreeMap<String, (Vec<u64>, Vec<u8>)> {
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    let data = &bytes[8 + len..];
    header
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| *name != "__metadata__")
        .map(|(name, t)| {
            assert_eq!(t["dtype"], "F32", "{name}");
            let shape = t["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap())
                .collect();
            let [start, end] = [0, 1].map(|i| t["data_offsets"][i].as_u64().unwrap() as usize);
            (name.clone(), (shape, data[start..end].to_vec()))
        })
        .collect()
}

#[test]
fn pytorch_saved_weights_load_and_write_back_unchanged() {
    let torch = tensors(&std::fs::read(fixture("torch-lenet.safetensors")).unwrap());
    assert_eq!(torch.len(), 8, "{:?}", torch.keys());
    for file in ["torch-lenet.pth", "torch-lenet.safetensors"] {
        let model = pytorch::load(&config(), &fixture(file), &Device::flex())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let written = tensors(&pytorch::to_safetensors(&model).unwrap());
        assert_eq!(written, torch, "{file}");
    }
}

#[test]
fn another_network_is_refused_naming_every_difference() {
    let mut text = toml::to_string(&config()).unwrap();
    text = text.replace("conv_channels = [4, 8]", "conv_channels = [4, 6]");
    let other: ModelConfig = toml::from_str(&text).unwrap();
    let error = pytorch::load(&other, &fixture("torch-lenet.pth"), &Device::flex())
        .expect_err("a file of another network is refused")
        .to_string();
    assert!(error.contains("torch-lenet.pth"), "{error}");
    assert!(
        error.contains("convs.1.weight") && error.contains("fcs.0.weight"),
        "{error}"
    );
}
