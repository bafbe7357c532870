//! How a network's weights and biases start. The seed tutorials differ here: PyTorch (and Burn)
//! draw both from U(±sqrt(1/fan_in)), Caffe2's `XavierFill` draws weights from U(±sqrt(3/fan_in))
//! with zero biases, MXNet's `Uniform(0.01)` draws weights from U(±0.01) with zero biases. In a
//! 200-iteration run that difference shows in the test accuracy, so a config can say which.
//!
//! ```toml
//! [model.init]
//! weights = { kind = "kaiming-uniform", gain = 1.0 }   # Caffe2's XavierFill
//! biases = { kind = "constant", value = 0.0 }
//! ```

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::error::ModelConfigError;

/// The initialisers of every layer's weights and biases; unset means Burn's default (that of
/// PyTorch): `kaiming-uniform` with gain 1/sqrt(3) for both.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitConfig {
    /// Weights of every convolution and fully connected layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Init>,
    /// Biases; unset means the same initialiser as the weights (Burn's rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biases: Option<Init>,
}

/// One initialiser. `fan_in` is a layer's inputs per output (a convolution's in-channels times
/// its kernel area), `fan_out` its outputs per input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Init {
    /// U(±gain·sqrt(3/fan_in)). Gain 1/sqrt(3) (the default) is PyTorch's and Burn's default;
    /// gain 1 is Caffe's and Caffe2's `XavierFill`.
    KaimingUniform {
        #[serde(default = "pytorch_gain")]
        gain: f64,
    },
    /// Glorot's U(±gain·sqrt(6/(fan_in + fan_out))).
    XavierUniform {
        #[serde(default = "one")]
        gain: f64,
    },
    /// U(-a, a): MXNet's `Uniform(a)`.
    Uniform { a: f64 },
    /// N(0, std²).
    Normal { std: f64 },
    /// Every value the same (0 for Caffe2's and MXNet's biases).
    Constant { value: f64 },
}

fn pytorch_gain() -> f64 {
    1.0 / 3f64.sqrt()
}

fn one() -> f64 {
    1.0
}

impl Init {
    fn initializer(&self) -> Initializer {
        match *self {
            Self::KaimingUniform { gain } => Initializer::KaimingUniform {
                gain,
                fan_out_only: false,
            },
            Self::XavierUniform { gain } => Initializer::XavierUniform { gain },
            Self::Uniform { a } => Initializer::Uniform { min: -a, max: a },
            Self::Normal { std } => Initializer::Normal { mean: 0.0, std },
            Self::Constant { value } => Initializer::Constant { value },
        }
    }

    fn validate(&self, key: &str) -> Result<(), ModelConfigError> {
        let (name, value, zero_ok) = match *self {
            Self::KaimingUniform { gain } | Self::XavierUniform { gain } => ("gain", gain, false),
            Self::Uniform { a } => ("a", a, false),
            Self::Normal { std } => ("std", std, false),
            Self::Constant { value } => ("value", value, true),
        };
        if value.is_finite() && value.abs() <= 1e6 && (zero_ok || value > 0.0) {
            Ok(())
        } else {
            Err(ModelConfigError::invalid(
                format!("init.{key}.{name}"),
                format!(
                    "expected a finite {} of at most 1e6, found {value}",
                    if zero_ok { "number" } else { "positive number" }
                ),
            ))
        }
    }
}

impl InitConfig {
    pub(crate) fn validate(&self) -> Result<(), ModelConfigError> {
        for (key, init) in [("weights", &self.weights), ("biases", &self.biases)] {
            if let Some(init) = init {
                init.validate(key)?;
            }
        }
        Ok(())
    }

    /// A fully connected layer `d_in -> d_out`.
    pub(crate) fn linear(&self, d_in: usize, d_out: usize, device: &Device) -> Linear {
        let mut config = LinearConfig::new(d_in, d_out);
        if let Some(weights) = &self.weights {
            config = config.with_initializer(weights.initializer());
        }
        let mut layer = config.init(device);
        if let Some(biases) = &self.biases {
            layer.bias = Some(biases.initializer().init_with(
                [d_out],
                Some(d_in),
                Some(d_out),
                device,
            ));
        }
        layer
    }

    /// A `k x k` convolution `c_in -> c_out` (stride 1, no padding).
    pub(crate) fn conv2d(&self, c_in: usize, c_out: usize, k: usize, device: &Device) -> Conv2d {
        let mut config = Conv2dConfig::new([c_in, c_out], [k, k]);
        if let Some(weights) = &self.weights {
            config = config.with_initializer(weights.initializer());
        }
        let mut layer = config.init(device);
        if let Some(biases) = &self.biases {
            layer.bias = Some(biases.initializer().init_with(
                [c_out],
                Some(c_in * k * k),
                Some(c_out * k * k),
                device,
            ));
        }
        layer
    }
}
