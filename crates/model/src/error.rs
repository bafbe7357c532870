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
