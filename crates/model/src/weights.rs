//! A network's weights on disk: written whole, read back only after the file is checked
//! against the network it is loaded into (see [`crate::pack`]).

use std::path::Path;

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};

use crate::classifier::Classifier;
use crate::config::ModelConfig;
use crate::error::StoreError;
use crate::pack;

/// Writes `model`'s weights to `path` atomically (burnpack format).
pub fn save_weights(path: &Path, model: &Classifier) -> Result<(), StoreError> {
    let encode_error = |message: String| StoreError::EncodeWeights {
        path: path.to_path_buf(),
        message,
    };
    let bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| encode_error(e.to_string()))?;
    files::write_atomic(path, &bytes).map_err(|source| StoreError::Io {
        action: "writing",
        path: path.to_path_buf(),
        source,
    })
}

/// Builds `config`'s network and loads the weights at `path` into it. The file is read once,
/// refused unread if it is larger than this network's weights can be, and checked tensor by
/// tensor (names, dtype, shapes, finite values, parameter ids) before Burn sees it: a wrong,
/// damaged or hostile file is an error naming the file and what differs, never a panic.
pub fn load_weights(
    config: &ModelConfig,
    path: &Path,
    device: &Device,
) -> Result<Classifier, StoreError> {
    let fresh = build(config, path, device)?;
    let expected = pack::expected(&fresh);
    let bytes = pack::read_bytes(path, pack::size_limit(&expected))?;
    load_checked(config, fresh, path, bytes)
}

/// [`load_weights`] on bytes already in memory (an upload, a fuzz input); `name` is used in
/// errors in place of a path.
pub fn load_weights_from_bytes(
    config: &ModelConfig,
    name: &Path,
    bytes: Bytes,
    device: &Device,
) -> Result<Classifier, StoreError> {
    let fresh = build(config, name, device)?;
    load_checked(config, fresh, name, bytes)
}

/// The network to load into; its parameters stay uninitialised until first used.
fn build(config: &ModelConfig, path: &Path, device: &Device) -> Result<Classifier, StoreError> {
    config
        .init(device)
        .map_err(|source| StoreError::InvalidConfig {
            path: path.to_path_buf(),
            source,
        })
}

fn load_checked(
    config: &ModelConfig,
    fresh: Classifier,
    path: &Path,
    bytes: Bytes,
) -> Result<Classifier, StoreError> {
    load_into(
        fresh,
        path,
        bytes,
        &format!("{} network", config.describe()),
    )
}

/// Loads burnpack `bytes` (read from `path`) into any module, `fresh`, after checking every
/// tensor against it (see [`pack::compare`]); `what` names the module in errors. For the
/// trainer's checkpoints, which hold a network inside the Learner's wrapper.
pub fn load_into<M: Module>(
    fresh: M,
    path: &Path,
    bytes: Bytes,
    what: &str,
) -> Result<M, StoreError> {
    let file = pack::parse(path, &bytes)?;
    pack::compare(path, &file, &pack::expected(&fresh), what)?;
    drop(file);
    let mismatch = |message: String| StoreError::Mismatch {
        path: path.to_path_buf(),
        model: what.to_string(),
        message,
    };
    let record = ModuleRecord::from_bytes(bytes).map_err(|e| mismatch(e.to_string()))?;
    // Every tensor was checked above, so this cannot fail on shapes or dtypes.
    fresh
        .try_load_record(record)
        .map_err(|e| mismatch(e.to_string()))
}
