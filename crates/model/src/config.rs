use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::classifier::Classifier;
use crate::error::ModelConfigError;
use crate::lenet::LenetConfig;
use crate::mlp::MlpConfig;
use crate::ops::Kernels;

/// Which network to build: the `[model]` table of a training config, and the content of a
/// model directory's `model.toml`.
///
/// ```toml
/// [model]
/// kind = "lenet"          # or "mlp"
/// preset = "caffe2"       # optional; lenet: caffe2 (default) | mxnet-tanh | lenet5 | cnn-dropout
///                         #           mlp:   mxnet (default)  | caffe2
/// conv_channels = [32, 64] # optional: any field given overrides the preset's value
/// kernels = "custom"      # lenet only, optional: "custom" (default) | "burn"; which ops run the layers
/// ```
///
/// Presets are a starting point and explicit fields override them (rather than
/// preset-XOR-fields) so small experiments ("caffe2 with avg pooling") stay one line.
/// Unknown keys are an error. The tag is internally `kind`; the variant structs deserialize
/// through `deny_unknown_fields` helpers, which serde applies to the untagged remainder of the
/// table, so misspelt keys are reported (tested in `tests/config.rs`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ModelConfig {
    /// Multi-layer perceptron.
    Mlp(MlpConfig),
    /// LeNet-family convolutional network.
    Lenet(LenetConfig),
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self::Lenet(LenetConfig::default())
    }
}

impl ModelConfig {
    /// Checks every field; the error names the offending key and expected vs found.
    pub fn validate(&self) -> Result<(), ModelConfigError> {
        match self {
            Self::Mlp(c) => c.validate(),
            Self::Lenet(c) => c.validate(),
        }
    }

    /// The image side (28 or 32) this network expects; the data pipeline pads or resizes to it.
    pub fn input_size(&self) -> usize {
        match self {
            Self::Mlp(c) => c.input_size,
            Self::Lenet(c) => c.input_size,
        }
    }

    /// Validates, then builds a freshly initialised network on `device`.
    pub fn init(&self, device: &Device) -> Result<Classifier, ModelConfigError> {
        self.validate()?;
        Ok(match self {
            Self::Mlp(c) => Classifier::Mlp(c.init(device)),
            Self::Lenet(c) => Classifier::Lenet(c.init(device)?),
        })
    }

    /// Which ops run the layers. The MLP always runs Burn's: the custom linear kernel measured
    /// no faster on its layers (README, Performance).
    pub fn kernels(&self) -> Kernels {
        match self {
            Self::Mlp(_) => Kernels::Burn,
            Self::Lenet(c) => c.kernels,
        }
    }

    /// The same network with the layers run by `kernels` (the MLP is returned unchanged).
    pub fn with_kernels(mut self, kernels: Kernels) -> Self {
        if let Self::Lenet(c) = &mut self {
            c.kernels = kernels;
        }
        self
    }

    /// Whether `other` describes the same network: every field equal except `kernels`, which
    /// changes how the layers are computed, not what they are. Weights and checkpoints of one
    /// load into the other.
    pub fn same_network(&self, other: &Self) -> bool {
        self.clone().with_kernels(Kernels::default())
            == other.clone().with_kernels(Kernels::default())
    }

    /// Short human name: `lenet (caffe2)`, `mlp (mxnet)`, or `lenet (caffe2, customized)` when
    /// fields were overridden.
    pub fn describe(&self) -> String {
        let (kind, preset, pure) = match self {
            Self::Mlp(c) => ("mlp", c.preset.name(), c.is_pure_preset()),
            Self::Lenet(c) => ("lenet", c.preset.name(), c.is_pure_preset()),
        };
        if pure {
            format!("{kind} ({preset})")
        } else {
            format!("{kind} ({preset}, customized)")
        }
    }
}
