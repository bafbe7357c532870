use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::NUM_CLASSES;
use crate::activation::Activation;
use crate::error::{
    ModelConfigError, check_dropout, check_input_size, check_parameter_count, check_widths,
};
use crate::init::InitConfig;

/// Named MLP shapes matching the seed projects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MlpPreset {
    /// MXNet's MNIST MLP: 784-128-64-10, relu.
    #[default]
    Mxnet,
    /// Caffe2's MNIST MLP: 784-1568-1568-10, relu.
    Caffe2,
}

impl MlpPreset {
    /// The TOML spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mxnet => "mxnet",
            Self::Caffe2 => "caffe2",
        }
    }
}

/// A multi-layer perceptron over the flattened image.
///
/// In TOML, `preset` (default `mxnet`) gives every field a value and any field written
/// next to it overrides that value; see [`crate::ModelConfig`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawMlpConfig")]
pub struct MlpConfig {
    /// The preset the fields started from; kept so descriptions can name it.
    pub preset: MlpPreset,
    /// Image side in pixels (28 or 32); the input layer has `input_size^2` features.
    pub input_size: usize,
    /// Hidden layer widths, in order; empty means a linear (softmax regression) model.
    pub hidden: Vec<usize>,
    /// Activation after every hidden layer.
    pub activation: Activation,
    /// Dropout probability after every hidden activation (0 disables it).
    pub dropout: f64,
    /// Activation after the last layer, before the softmax: `none`, except in Caffe2's MLP,
    /// which applies a ReLU there.
    pub output_activation: Activation,
    /// How the weights and biases start (Burn's default unless set).
    pub init: InitConfig,
}

/// The TOML form: everything optional so a preset can fill the gaps, unknown keys refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMlpConfig {
    preset: Option<MlpPreset>,
    input_size: Option<usize>,
    hidden: Option<Vec<usize>>,
    activation: Option<Activation>,
    dropout: Option<f64>,
    output_activation: Option<Activation>,
    init: Option<InitConfig>,
}

impl From<RawMlpConfig> for MlpConfig {
    fn from(raw: RawMlpConfig) -> Self {
        let base = MlpConfig::preset(raw.preset.unwrap_or_default());
        MlpConfig {
            preset: base.preset,
            input_size: raw.input_size.unwrap_or(base.input_size),
            hidden: raw.hidden.unwrap_or(base.hidden),
            activation: raw.activation.unwrap_or(base.activation),
            dropout: raw.dropout.unwrap_or(base.dropout),
            output_activation: raw.output_activation.unwrap_or(base.output_activation),
            init: raw.init.unwrap_or(base.init),
        }
    }
}

impl Default for MlpConfig {
    fn default() -> Self {
        Self::preset(MlpPreset::default())
    }
}

impl MlpConfig {
    /// The configuration a preset stands for.
    pub fn preset(preset: MlpPreset) -> Self {
        let (hidden, output_activation) = match preset {
            MlpPreset::Mxnet => (vec![128, 64], Activation::None),
            MlpPreset::Caffe2 => (vec![1568, 1568], Activation::Relu),
        };
        Self {
            preset,
            input_size: 28,
            hidden,
            activation: Activation::Relu,
            dropout: 0.0,
            output_activation,
            init: InitConfig::default(),
        }
    }

    /// Checks every field; the message names the offending key.
    pub fn validate(&self) -> Result<(), ModelConfigError> {
        check_input_size(self.input_size)?;
        check_widths("hidden", &self.hidden, "unit")?;
        check_dropout("dropout", self.dropout)?;
        self.init.validate()?;
        check_parameter_count("hidden", self.parameter_count())
    }

    /// Trainable scalars, counted without building anything (exact for any widths).
    pub fn parameter_count(&self) -> u128 {
        dense_parameters(&self.widths())
    }

    /// Layer widths from input to logits, e.g. `[784, 128, 64, 10]`.
    pub fn widths(&self) -> Vec<usize> {
        let mut widths = vec![self.input_size * self.input_size];
        widths.extend(&self.hidden);
        widths.push(NUM_CLASSES);
        widths
    }

    /// Builds the network. Call [`validate`](Self::validate) first (Burn panics on bad sizes).
    pub(crate) fn init(&self, device: &Device) -> Mlp {
        let widths = self.widths();
        Mlp {
            layers: widths
                .windows(2)
                .map(|w| self.init.linear(w[0], w[1], device))
                .collect(),
            dropout: DropoutConfig::new(self.dropout).init(),
            activation: self.activation,
            output_activation: self.output_activation,
        }
    }

    /// True when every field still equals its preset's value.
    pub(crate) fn is_pure_preset(&self) -> bool {
        *self == Self::preset(self.preset)
    }
}

/// Multi-layer perceptron: flatten, then `Linear -> activation -> dropout` per hidden layer,
/// and a final `Linear` to the logits.
#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
    dropout: Dropout,
    #[module(skip)]
    activation: Activation,
    #[module(skip)]
    output_activation: Activation,
}

impl Mlp {
    /// `[B, 1, H, W]` images to `[B, 10]` logits.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x: Tensor<2> = images.flatten(1, 3);
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = self.dropout.forward(self.activation.apply(x));
            }
        }
        self.output_activation.apply(x)
    }
}

/// Weights and biases of a chain of dense layers with the given widths, in u128 so that no
/// width a config can hold overflows it.
pub(crate) fn dense_parameters(widths: &[usize]) -> u128 {
    widths
        .windows(2)
        .map(|w| w[0] as u128 * w[1] as u128 + w[1] as u128)
        .sum()
}
