use std::path::PathBuf;

use thiserror::Error;

/// A model configuration that cannot be built. `key` is the TOML key under `[model]` at fault
/// (with an index for list entries, e.g. `conv_channels[1]`), so the message points at the line
/// to fix.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum ModelConfigError {
    /// A value is out of range or inconsistent with the rest of the configuration.
    #[error("invalid model config: `{key}`: {message}")]
    Invalid {
        /// The offending key, e.g. `dropout` or `conv_channels[0]`.
        key: String,
        /// What is wrong: expected versus found.
        message: String,
    },
}

impl ModelConfigError {
    pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The TOML key the error is about.
    pub fn key(&self) -> &str {
        match self {
            Self::Invalid { key, .. } => key,
        }
    }
}

/// Shared check for every dropout probability: Burn's `DropoutConfig::init` panics outside
/// `[0, 1)`, so we refuse such values before building anything.
pub(crate) fn check_dropout(key: &str, p: f64) -> Result<(), ModelConfigError> {
    if p.is_finite() && (0.0..1.0).contains(&p) {
        Ok(())
    } else {
        Err(ModelConfigError::invalid(
            key,
            format!("dropout probability must be in [0, 1), found {p}"),
        ))
    }
}

/// Networks expect MNIST's native 28x28 or the 32x32 padding classic LeNet-5 was designed for.
pub(crate) fn check_input_size(size: usize) -> Result<(), ModelConfigError> {
    if size == 28 || size == 32 {
        Ok(())
    } else {
        Err(ModelConfigError::invalid(
            "input_size",
            format!("expected 28 or 32 (image side in pixels), found {size}"),
        ))
    }
}

/// The widest layer accepted (units or channels): far above any MNIST network, and low enough
/// that no product of two widths overflows or allocates absurdly before the parameter check.
pub const MAX_WIDTH: usize = 65_536;
/// The most layers in one list (`hidden`, `conv_channels`, `fc_hidden`).
pub const MAX_LAYERS: usize = 64;
/// The most trainable parameters a network may have: 100 million (400 MB of f32 weights, and
/// as much again for each of the gradients and optimizer states). The caffe2 MLP has 3.7 million.
pub const MAX_PARAMETERS: u64 = 100_000_000;

/// Every entry of a width list is in `1..=MAX_WIDTH`, and the list has at most `MAX_LAYERS`.
pub(crate) fn check_widths(
    key: &str,
    widths: &[usize],
    what: &str,
) -> Result<(), ModelConfigError> {
    if widths.len() > MAX_LAYERS {
        return Err(ModelConfigError::invalid(
            key,
            format!(
                "{} layers given; at most {MAX_LAYERS} are accepted",
                widths.len()
            ),
        ));
    }
    for (i, &w) in widths.iter().enumerate() {
        if w == 0 {
            return Err(ModelConfigError::invalid(
                format!("{key}[{i}]"),
                format!("a layer needs at least 1 {what}, found 0"),
            ));
        }
        if w > MAX_WIDTH {
            return Err(ModelConfigError::invalid(
                format!("{key}[{i}]"),
                format!("{w} {what}s is more than the {MAX_WIDTH} accepted"),
            ));
        }
    }
    Ok(())
}

/// Refuses networks above [`MAX_PARAMETERS`], counted from the config before anything is built.
pub(crate) fn check_parameter_count(key: &str, count: u128) -> Result<(), ModelConfigError> {
    if count > u128::from(MAX_PARAMETERS) {
        return Err(ModelConfigError::invalid(
            key,
            format!(
                "the network would have {count} parameters ({} MiB of weights); at most {MAX_PARAMETERS} are accepted",
                (count * 4) >> 20
            ),
        ));
    }
    Ok(())
}

/// Why a weights file could not be written or read. Every variant names the file.
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
    /// The file is larger than any file of the expected network can be; it was not read.
    #[error("{path} is {}, more than any weights file of this network can be ({} at most); it is not this network's file", files::human_bytes(*.size), files::human_bytes(*.limit))]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The most a file of the expected tensors can take.
        limit: u64,
    },
    /// The config describes an impossible network.
    #[error("{path}: {source}")]
    InvalidConfig {
        /// The file that was to be loaded.
        path: PathBuf,
        /// What is wrong.
        source: ModelConfigError,
    },
    /// Burn could not encode the weights.
    #[error("encoding weights for {path}: {message}")]
    EncodeWeights {
        /// The weights file.
        path: PathBuf,
        /// Burn's message.
        message: String,
    },
    /// The file is not a readable burnpack file.
    #[error("{path}: {message}")]
    DecodeWeights {
        /// The weights file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The file does not fit what it is loaded into (missing, extra, mis-shaped or
    /// mis-typed tensors; for checkpoints, also state and counters).
    #[error("{path} does not match the {model}: {message}")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// What it was checked against, e.g. `lenet (caffe2)` network.
        model: String,
        /// Every difference found (the first ten).
        message: String,
    },
}
