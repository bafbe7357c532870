use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::classifier::Classifier;
use crate::config::ModelConfig;
use crate::error::ModelConfigError;

/// File in a model directory holding the [`ModelConfig`] as a `[model]` table.
pub const CONFIG_FILE: &str = "model.toml";
/// File in a model directory holding the weights (Burn's burnpack format).
pub const WEIGHTS_FILE: &str = "model.bpk";

/// Why a model directory or weights file could not be written or read.
#[derive(Debug, Error)]
pub enum StoreError {
    /// Filesystem failure (create, write, rename, read).
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done, e.g. "reading".
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// `model.toml` is not valid TOML or has unknown / mistyped keys.
    #[error("parsing {path}: {message}")]
    ParseConfig {
        /// The config file.
        path: PathBuf,
        /// The TOML / serde message (names the key).
        message: String,
    },
    /// `model.toml` parsed but describes an impossible network.
    #[error("{path}: {source}")]
    InvalidConfig {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        source: ModelConfigError,
    },
    /// The config could not be serialised (should not happen for valid configs).
    #[error("serialising the model config: {0}")]
    SerializeConfig(String),
    /// Burn could not encode the weights.
    #[error("encoding weights for {path}: {message}")]
    EncodeWeights {
        /// The weights file.
        path: PathBuf,
        /// Burn's message.
        message: String,
    },
    /// The file is not a readable burnpack weights file.
    #[error("decoding weights {path}: {message}")]
    DecodeWeights {
        /// The weights file.
        path: PathBuf,
        /// Burn's message.
        message: String,
    },
    /// The weights do not fit the architecture (missing, extra or differently shaped tensors).
    #[error("weights {path} do not match the {model} architecture: {message}")]
    Mismatch {
        /// The weights file.
        path: PathBuf,
        /// `ModelConfig::describe()` of the architecture they were loaded into.
        model: String,
        /// Which tensors are missing, unused or of the wrong shape.
        message: String,
    },
}

/// `model.toml` layout: the same `[model]` table a training config holds.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    model: ModelConfig,
}

/// Writes `dir/model.toml` and `dir/model.bpk` (creating `dir`), each atomically, so a crash
/// never leaves a half-written file under the final name.
pub fn save(dir: &Path, config: &ModelConfig, model: &Classifier) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
        action: "creating directory",
        path: dir.to_path_buf(),
        source,
    })?;
    let weights = dir.join(WEIGHTS_FILE);
    let bytes =
        model
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| StoreError::EncodeWeights {
                path: weights.clone(),
                message: e.to_string(),
            })?;
    write_atomic(&weights, &bytes)?;
    let text = toml::to_string(&ModelFile {
        model: config.clone(),
    })
    .map_err(|e| StoreError::SerializeConfig(e.to_string()))?;
    write_atomic(&dir.join(CONFIG_FILE), text.as_bytes())
}

/// Reads a model directory written by [`save`]: the config from `model.toml` (validated), then
/// the checked weights from `model.bpk`. Needs no training config.
pub fn load(dir: &Path, device: &Device) -> Result<(ModelConfig, Classifier), StoreError> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| StoreError::Io {
        action: "reading",
        path: path.clone(),
        source,
    })?;
    let config = toml::from_str::<ModelFile>(&text)
        .map_err(|e| StoreError::ParseConfig {
            path: path.clone(),
            message: e.to_string(),
        })?
        .model;
    config
        .validate()
        .map_err(|source| StoreError::InvalidConfig { path, source })?;
    let model = load_weights(&config, &dir.join(WEIGHTS_FILE), device)?;
    Ok((config, model))
}

/// Builds `config`'s network and loads `weights` into it, refusing (not panicking on) a file
/// whose tensors do not match that architecture. Also used for training checkpoints.
pub fn load_weights(
    config: &ModelConfig,
    weights: &Path,
    device: &Device,
) -> Result<Classifier, StoreError> {
    let fresh = config
        .init(device)
        .map_err(|source| StoreError::InvalidConfig {
            path: weights.to_path_buf(),
            source,
        })?;
    let bytes = std::fs::read(weights).map_err(|source| StoreError::Io {
        action: "reading",
        path: weights.to_path_buf(),
        source,
    })?;
    let decode_error = |message: String| StoreError::DecodeWeights {
        path: weights.to_path_buf(),
        message,
    };
    // Burn's reader validates the header; catch_unwind is a backstop for malformed payloads
    // so a corrupt file is an error, never a crash of the caller.
    let record = catch_unwind(|| ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes)))
        .map_err(|_| decode_error("malformed burnpack data".into()))?
        .map_err(|e| decode_error(e.to_string()))?
        // Cast to the module's dtype so a record saved at another precision still loads.
        .cast_to_module_dtype();
    let mismatch = |message: String| StoreError::Mismatch {
        path: weights.to_path_buf(),
        model: config.describe(),
        message,
    };
    // `try_load_record` already reports missing, unused and mis-shaped tensors as errors;
    // catch_unwind guards the tensor construction it does afterwards.
    catch_unwind(AssertUnwindSafe(|| fresh.try_load_record(record)))
        .map_err(|_| mismatch("tensor data could not be loaded".into()))?
        .map_err(|e| mismatch(e.to_string()))
}

/// Temp files are created 0600; a saved model is meant to be shared like any other file.
fn readable_by_all(file: &std::fs::File) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

/// Temp file in the destination's directory, then rename: atomic on the same filesystem.
fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let io = |action, source| StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    };
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| io("creating a temp file for", e))?;
    tmp.write_all(contents)
        .and_then(|()| readable_by_all(tmp.as_file()))
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| io("writing", e))?;
    tmp.persist(path)
        .map_err(|e| io("renaming into", e.error))?;
    Ok(())
}
