use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::nn::{Linear, PaddingConfig2d};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Which implementation runs the convolutions, 2x2 max-pools and fully connected layers:
/// `[model] kernels` in TOML.
///
/// Not part of the architecture: both give the same network with the same weights and the same
/// results to f32 rounding, so changing it never makes a saved model or a checkpoint
/// incompatible (see [`crate::ModelConfig::same_network`]). The layers stay Burn's `Conv2d`,
/// `MaxPool2d` and `Linear` modules, which hold the parameters either way; only their forward
/// (and so backward) computation changes.
// Read through `TryFrom<String>` so that a wrong value names the key: inside `[model]`'s tagged
// enum, serde's own "unknown variant" message would not say which field it is about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", try_from = "String")]
pub enum Kernels {
    /// The `kernels` crate's CPU kernels, where they apply: f32 tensors on the flex backend,
    /// stride-1 unpadded convolutions and 2x2 stride-2 max-pools. Everything else (other
    /// backends, other layer settings, avg-pool) runs Burn's ops, so this is safe everywhere.
    /// The default: about 3x Burn's ops for a LeNet training step on a 2-core x86-64 CPU.
    #[default]
    Custom,
    /// Burn's standard ops everywhere.
    Burn,
}

impl TryFrom<String> for Kernels {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        match value.as_str() {
            "custom" => Ok(Self::Custom),
            "burn" => Ok(Self::Burn),
            other => Err(format!(
                "`kernels`: expected \"custom\" or \"burn\", got \"{other}\""
            )),
        }
    }
}

impl Kernels {
    /// The TOML spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Custom => "custom",
            Self::Burn => "burn",
        }
    }

    /// Whether this is the default (`custom`); the configs leave the default unwritten.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// What actually runs on `device`: `Custom` only on the flex backend (plain or autodiff),
    /// where the custom kernels take the tensors; `Burn` elsewhere.
    pub fn on(self, device: &Device) -> Self {
        match self {
            Self::Custom if kernels::runs_on(device) => Self::Custom,
            _ => Self::Burn,
        }
    }

    /// `conv.forward(x)`, by the custom kernel when the convolution is stride 1, unpadded,
    /// undilated and ungrouped (as every convolution of this crate's networks is).
    pub fn conv2d(self, conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
        let plain = conv.stride == [1, 1]
            && conv.dilation == [1, 1]
            && conv.groups == 1
            && matches!(conv.padding, PaddingConfig2d::Valid);
        if self == Self::Custom && plain {
            kernels::conv2d(x, conv.weight.val(), conv.bias.as_ref().map(Param::val))
        } else {
            conv.forward(x)
        }
    }

    /// `pool.forward(x)`, by the custom kernel for a 2x2 window with stride 2, no padding
    /// and floor mode; other windows keep Burn's op.
    pub fn max_pool(self, pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
        let two_by_two = pool.kernel_size == [2, 2]
            && pool.stride == [2, 2]
            && pool.dilation == [1, 1]
            && !pool.ceil_mode
            && matches!(pool.padding, PaddingConfig2d::Valid);
        if self == Self::Custom && two_by_two {
            kernels::max_pool_2x2(x)
        } else {
            pool.forward(x)
        }
    }

    /// `fc.forward(x)` for a batch of vectors `[B, d_in]`; `kernels::linear` itself leaves
    /// small layers (below `kernels::LINEAR_MIN_MACS` multiply-adds) to Burn's op.
    pub fn linear(self, fc: &Linear, x: Tensor<2>) -> Tensor<2> {
        match self {
            Self::Custom => kernels::linear(x, fc.weight.val(), fc.bias.as_ref().map(Param::val)),
            Self::Burn => fc.forward(x),
        }
    }
}
