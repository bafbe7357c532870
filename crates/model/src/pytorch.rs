//! The networks' weights under PyTorch's names and layouts: those of the ordinary `torch.nn`
//! network of `python/mnist_net.py` (`convs.N.*` and `fcs.N.*` for the LeNet family,
//! `layers.N.*` for the MLP, Linear weights `[out, in]`). Written as safetensors
//! ([`to_safetensors`]); read from a PyTorch state dict (`.pt`, `.pth`) or safetensors
//! ([`load`]), mapped onto a config's network by burn-store's adapters.

use std::path::Path;

use burn::store::{
    ApplyResult, BurnToPyTorchAdapter, ModuleSnapshot, PyTorchToBurnAdapter, PytorchStore,
    SafetensorsStore,
};
use burn::tensor::Device;

use crate::classifier::Classifier;
use crate::config::ModelConfig;
use crate::error::StoreError;
use crate::pack;

/// The weights as a safetensors file PyTorch loads with `strict=True`.
pub fn to_safetensors(model: &Classifier) -> Result<Vec<u8>, String> {
    let mut store = SafetensorsStore::from_bytes(None)
        .skip_enum_variants(true)
        .with_to_adapter(BurnToPyTorchAdapter);
    model.save_into(&mut store).map_err(|e| e.to_string())?;
    store.get_bytes().map_err(|e| e.to_string())
}

/// Whether `path` names a file [`load`] reads: `.pt`, `.pth` or `.safetensors`.
pub fn is_pytorch_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "pt" | "pth" | "safetensors"))
}

/// The network `config` describes with the weights of a PyTorch state dict (`.pt`, `.pth`) or
/// a safetensors file. The file is refused unread when larger than any file of this network can
/// be; every missing, extra or mis-shaped tensor is named in one error.
pub fn load(config: &ModelConfig, path: &Path, device: &Device) -> Result<Classifier, StoreError> {
    let mut model = config
        .init(device)
        .map_err(|source| StoreError::InvalidConfig {
            path: path.to_path_buf(),
            source,
        })?;
    let limit = pack::size_limit(&pack::expected(&model));
    let decode = |message: String| StoreError::DecodeWeights {
        path: path.to_path_buf(),
        message,
    };
    let result = if path.extension().is_some_and(|e| e == "safetensors") {
        let bytes = pack::read_bytes(path, limit)?;
        let mut store = SafetensorsStore::from_bytes(Some(bytes.to_vec()))
            .skip_enum_variants(true)
            .with_from_adapter(PyTorchToBurnAdapter)
            .validate(false)
            .allow_partial(true);
        model
            .load_from(&mut store)
            .map_err(|e| decode(format!("not a readable safetensors file: {e}")))?
    } else {
        // burn-store's PyTorch reader opens the file itself: check what it will find first.
        check_size(path, limit)?;
        let mut store = PytorchStore::from_file(path)
            .map_indices_contiguous(false)
            .validate(false)
            .allow_partial(true);
        model
            .load_from(&mut store)
            .map_err(|e| decode(format!("not a readable PyTorch state dict: {e}")))?
    };
    match differences(&result) {
        None => Ok(model),
        Some(message) => Err(StoreError::Mismatch {
            path: path.to_path_buf(),
            model: format!("{} network", config.describe()),
            message,
        }),
    }
}

fn check_size(path: &Path, limit: u64) -> Result<(), StoreError> {
    let file =
        files::open_regular(path, files::Links::Follow).map_err(|source| StoreError::Io {
            action: "reading",
            path: path.to_path_buf(),
            source,
        })?;
    let size = file
        .metadata()
        .map_err(|source| StoreError::Io {
            action: "reading",
            path: path.to_path_buf(),
            source,
        })?
        .len();
    if size > limit {
        return Err(StoreError::TooLarge {
            path: path.to_path_buf(),
            size,
            limit,
        });
    }
    Ok(())
}

/// Every tensor the network lacks, the file has beyond it, or that has the wrong shape or type.
fn differences(result: &ApplyResult) -> Option<String> {
    let mut parts = Vec::new();
    if !result.missing.is_empty() {
        let names: Vec<&str> = result
            .missing
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        parts.push(format!("missing {}", names.join(", ")));
    }
    if !result.unused.is_empty() {
        parts.push(format!("extra {}", result.unused.join(", ")));
    }
    if !result.errors.is_empty() {
        let errors: Vec<String> = result.errors.iter().map(|e| e.to_string()).collect();
        parts.push(errors.join("; "));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}
