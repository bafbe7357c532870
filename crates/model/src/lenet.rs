use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::NUM_CLASSES;
use crate::activation::Activation;
use crate::error::{
    ModelConfigError, check_dropout, check_input_size, check_parameter_count, check_widths,
};
use crate::init::InitConfig;
use crate::mlp::dense_parameters;
use crate::ops::Kernels;

/// Named LeNet shapes matching the seed projects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LenetPreset {
    /// Caffe2's LeNet: conv 1->20 k5, max-pool 2, conv 20->50 k5, max-pool 2, fc 800->500,
    /// relu, fc 500->10. No activation after the convolutions (Caffe2's net has none).
    #[default]
    Caffe2,
    /// MXNet's LeNet: the Caffe2 layers with tanh after each convolution and the hidden fc.
    MxnetTanh,
    /// Classic LeNet-5 on 32x32 input as in the PyTorch seed: conv 1->6 k5, max-pool,
    /// conv 6->16 k5, max-pool, fc 400->120->84->10, relu everywhere.
    Lenet5,
    /// conv 1->32 k5, pool, dropout 0.25, conv 32->64 k5, pool, fc 1024->512, dropout 0.5,
    /// fc 512->256, fc 256->10, relu everywhere.
    CnnDropout,
}

impl LenetPreset {
    /// The TOML spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Caffe2 => "caffe2",
            Self::MxnetTanh => "mxnet-tanh",
            Self::Lenet5 => "lenet5",
            Self::CnnDropout => "cnn-dropout",
        }
    }
}

/// Pooling after each convolution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoolKind {
    /// Max pooling.
    #[default]
    Max,
    /// Average pooling (LeCun's original subsampling).
    Avg,
}

/// The LeNet family: `conv -> conv_activation -> pool -> dropout` blocks, flatten, then
/// `fc -> activation -> dropout` hidden layers and a final fc to the 10 logits.
///
/// The flatten width is computed from `input_size`, `kernel_size`, `pool_size` and the last
/// channel count (see [`LenetConfig::feature_sides`]), never written down.
/// In TOML, `preset` (default `caffe2`) gives every field a value and fields written next to
/// it override those values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawLenetConfig")]
pub struct LenetConfig {
    /// The preset the fields started from; kept so descriptions and checks can name it.
    pub preset: LenetPreset,
    /// Image side in pixels (28 or 32).
    pub input_size: usize,
    /// Output channels of each convolution (input has 1 channel).
    pub conv_channels: Vec<usize>,
    /// Square kernel side of every convolution (stride 1, no padding).
    pub kernel_size: usize,
    /// Pooling kind after each convolution.
    pub pool: PoolKind,
    /// Square pooling window and stride.
    pub pool_size: usize,
    /// Activation between each convolution and its pooling (`none` for Caffe2).
    pub conv_activation: Activation,
    /// Dropout after each conv block, one per convolution; empty means none.
    pub conv_dropout: Vec<f64>,
    /// Hidden fully connected widths (the final 10-way layer is implied).
    pub fc_hidden: Vec<usize>,
    /// Activation after each hidden fully connected layer.
    pub activation: Activation,
    /// Dropout after each hidden fc activation, one per hidden layer; empty means none.
    pub fc_dropout: Vec<f64>,
    /// How the weights and biases start (Burn's default unless set).
    pub init: InitConfig,
    /// Which ops run the convolutions, max-pools and fc layers (default `custom`). Not part of
    /// the architecture: left out of [`ModelConfig::same_network`](crate::ModelConfig::same_network)
    /// and of the "customized" mark, and not written when it is the default, so files stay
    /// readable by builds that predate it.
    #[serde(skip_serializing_if = "Kernels::is_default")]
    pub kernels: Kernels,
}

/// The TOML form: everything optional so a preset can fill the gaps, unknown keys refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLenetConfig {
    preset: Option<LenetPreset>,
    input_size: Option<usize>,
    conv_channels: Option<Vec<usize>>,
    kernel_size: Option<usize>,
    pool: Option<PoolKind>,
    pool_size: Option<usize>,
    conv_activation: Option<Activation>,
    conv_dropout: Option<Vec<f64>>,
    fc_hidden: Option<Vec<usize>>,
    activation: Option<Activation>,
    fc_dropout: Option<Vec<f64>>,
    init: Option<InitConfig>,
    kernels: Option<Kernels>,
}

impl From<RawLenetConfig> for LenetConfig {
    fn from(raw: RawLenetConfig) -> Self {
        let base = LenetConfig::preset(raw.preset.unwrap_or_default());
        LenetConfig {
            preset: base.preset,
            input_size: raw.input_size.unwrap_or(base.input_size),
            conv_channels: raw.conv_channels.unwrap_or(base.conv_channels),
            kernel_size: raw.kernel_size.unwrap_or(base.kernel_size),
            pool: raw.pool.unwrap_or(base.pool),
            pool_size: raw.pool_size.unwrap_or(base.pool_size),
            conv_activation: raw.conv_activation.unwrap_or(base.conv_activation),
            conv_dropout: raw.conv_dropout.unwrap_or(base.conv_dropout),
            fc_hidden: raw.fc_hidden.unwrap_or(base.fc_hidden),
            activation: raw.activation.unwrap_or(base.activation),
            fc_dropout: raw.fc_dropout.unwrap_or(base.fc_dropout),
            init: raw.init.unwrap_or(base.init),
            kernels: raw.kernels.unwrap_or(base.kernels),
        }
    }
}

impl Default for LenetConfig {
    fn default() -> Self {
        Self::preset(LenetPreset::default())
    }
}

impl LenetConfig {
    /// The configuration a preset stands for.
    pub fn preset(preset: LenetPreset) -> Self {
        let caffe2 = Self {
            preset,
            input_size: 28,
            conv_channels: vec![20, 50],
            kernel_size: 5,
            pool: PoolKind::Max,
            pool_size: 2,
            conv_activation: Activation::None,
            conv_dropout: Vec::new(),
            fc_hidden: vec![500],
            activation: Activation::Relu,
            fc_dropout: Vec::new(),
            init: InitConfig::default(),
            kernels: Kernels::default(),
        };
        match preset {
            LenetPreset::Caffe2 => caffe2,
            LenetPreset::MxnetTanh => Self {
                conv_activation: Activation::Tanh,
                activation: Activation::Tanh,
                ..caffe2
            },
            LenetPreset::Lenet5 => Self {
                input_size: 32,
                conv_channels: vec![6, 16],
                conv_activation: Activation::Relu,
                fc_hidden: vec![120, 84],
                ..caffe2
            },
            LenetPreset::CnnDropout => Self {
                conv_channels: vec![32, 64],
                conv_activation: Activation::Relu,
                conv_dropout: vec![0.25, 0.0],
                fc_hidden: vec![512, 256],
                fc_dropout: vec![0.5, 0.0],
                ..caffe2
            },
        }
    }

    /// Feature-map side entering each conv block, then the side after the last block:
    /// `[28, 12, 4]` for caffe2. `Err` names the key whose value does not fit.
    pub fn feature_sides(&self) -> Result<Vec<usize>, ModelConfigError> {
        let mut sides = vec![self.input_size];
        let mut side = self.input_size;
        for i in 0..self.conv_channels.len() {
            if self.kernel_size > side {
                return Err(ModelConfigError::invalid(
                    "kernel_size",
                    format!(
                        "kernel {k}x{k} is larger than the {side}x{side} feature map entering \
                         convolution {n} (conv_channels[{i}])",
                        k = self.kernel_size,
                        n = i + 1
                    ),
                ));
            }
            let conv_side = side - self.kernel_size + 1;
            if self.pool_size > conv_side {
                return Err(ModelConfigError::invalid(
                    "pool_size",
                    format!(
                        "pooling window {p}x{p} is larger than the {conv_side}x{conv_side} output \
                         of convolution {n} (conv_channels[{i}])",
                        p = self.pool_size,
                        n = i + 1
                    ),
                ));
            }
            side = conv_side / self.pool_size;
            sides.push(side);
        }
        Ok(sides)
    }

    /// Width of the flattened conv output feeding the first fc layer (800 for caffe2).
    pub fn flatten_size(&self) -> Result<usize, ModelConfigError> {
        let side = *self.feature_sides()?.last().unwrap_or(&self.input_size);
        let channels = self.conv_channels.last().copied().unwrap_or(1);
        Ok(channels.saturating_mul(side * side))
    }

    /// Checks every field; the message names the offending key.
    pub fn validate(&self) -> Result<(), ModelConfigError> {
        check_input_size(self.input_size)?;
        if self.preset == LenetPreset::Lenet5 && self.input_size != 32 {
            return Err(ModelConfigError::invalid(
                "input_size",
                format!(
                    "preset \"lenet5\" is the 32x32 LeNet-5 and expects input_size = 32, found {}",
                    self.input_size
                ),
            ));
        }
        if self.conv_channels.is_empty() {
            return Err(ModelConfigError::invalid(
                "conv_channels",
                "expected at least one convolution, found an empty list",
            ));
        }
        check_widths("conv_channels", &self.conv_channels, "channel")?;
        check_widths("fc_hidden", &self.fc_hidden, "unit")?;
        if self.kernel_size == 0 {
            return Err(ModelConfigError::invalid(
                "kernel_size",
                "expected at least 1, found 0",
            ));
        }
        if self.pool_size == 0 {
            return Err(ModelConfigError::invalid(
                "pool_size",
                "expected at least 1 (1 disables pooling), found 0",
            ));
        }
        self.feature_sides()?;
        check_per_layer("conv_dropout", &self.conv_dropout, self.conv_channels.len())?;
        check_per_layer("fc_dropout", &self.fc_dropout, self.fc_hidden.len())?;
        self.init.validate()?;
        check_parameter_count("conv_channels", self.parameter_count()?)
    }

    /// Trainable scalars, counted without building anything. Needs valid sides (see
    /// [`feature_sides`](Self::feature_sides)); exact for any widths a config can hold.
    pub fn parameter_count(&self) -> Result<u128, ModelConfigError> {
        let k = self.kernel_size as u128;
        let mut in_channels = 1u128;
        let mut convs = 0u128;
        for &out in &self.conv_channels {
            let out = out as u128;
            convs += in_channels * out * k * k + out;
            in_channels = out;
        }
        Ok(convs + dense_parameters(&self.fc_widths()?))
    }

    /// Fully connected widths from the flatten to the logits, e.g. `[800, 500, 10]`.
    pub fn fc_widths(&self) -> Result<Vec<usize>, ModelConfigError> {
        let mut widths = vec![self.flatten_size()?];
        widths.extend(&self.fc_hidden);
        widths.push(NUM_CLASSES);
        Ok(widths)
    }

    /// Builds the network. Call [`validate`](Self::validate) first (Burn panics on bad sizes).
    pub(crate) fn init(&self, device: &Device) -> Result<Lenet, ModelConfigError> {
        let mut in_channels = 1;
        let mut convs = Vec::with_capacity(self.conv_channels.len());
        for &out in &self.conv_channels {
            convs.push(self.init.conv2d(in_channels, out, self.kernel_size, device));
            in_channels = out;
        }
        let window = [self.pool_size, self.pool_size];
        let pool = match self.pool {
            PoolKind::Max => Pool::Max(MaxPool2dConfig::new(window).init()),
            PoolKind::Avg => Pool::Avg(AvgPool2dConfig::new(window).init()),
        };
        let dropouts = |probs: &[f64], n: usize| -> Vec<Dropout> {
            (0..n)
                .map(|i| DropoutConfig::new(probs.get(i).copied().unwrap_or(0.0)).init())
                .collect()
        };
        let fcs = self
            .fc_widths()?
            .windows(2)
            .map(|w| self.init.linear(w[0], w[1], device))
            .collect();
        Ok(Lenet {
            convs,
            pool,
            conv_dropouts: dropouts(&self.conv_dropout, self.conv_channels.len()),
            fcs,
            fc_dropouts: dropouts(&self.fc_dropout, self.fc_hidden.len()),
            conv_activation: self.conv_activation,
            activation: self.activation,
            kernels: self.kernels,
        })
    }

    /// True when every architecture field still equals its preset's value (`kernels` is not
    /// one).
    pub(crate) fn is_pure_preset(&self) -> bool {
        *self
            == Self {
                kernels: self.kernels,
                ..Self::preset(self.preset)
            }
    }
}

/// Per-layer dropout lists are either empty or one entry per layer, each in `[0, 1)`.
fn check_per_layer(key: &str, probs: &[f64], layers: usize) -> Result<(), ModelConfigError> {
    if !probs.is_empty() && probs.len() != layers {
        return Err(ModelConfigError::invalid(
            key,
            format!(
                "expected {layers} entries (one per layer) or none, found {}",
                probs.len()
            ),
        ));
    }
    for (i, &p) in probs.iter().enumerate() {
        check_dropout(&format!("{key}[{i}]"), p)?;
    }
    Ok(())
}

/// The pooling layer, as a module so it shows in Burn's module display.
#[derive(Module, Debug)]
pub enum Pool {
    /// Max pooling.
    Max(MaxPool2d),
    /// Average pooling.
    Avg(AvgPool2d),
}

impl Pool {
    fn forward(&self, x: Tensor<4>, kernels: Kernels) -> Tensor<4> {
        match self {
            Self::Max(p) => kernels.max_pool(p, x),
            Self::Avg(p) => p.forward(x),
        }
    }
}

/// A LeNet-family convolutional network; built by [`LenetConfig`].
#[derive(Module, Debug)]
pub struct Lenet {
    convs: Vec<Conv2d>,
    pool: Pool,
    conv_dropouts: Vec<Dropout>,
    fcs: Vec<Linear>,
    fc_dropouts: Vec<Dropout>,
    #[module(skip)]
    conv_activation: Activation,
    #[module(skip)]
    activation: Activation,
    #[module(skip)]
    kernels: Kernels,
}

impl Lenet {
    /// `[B, 1, H, W]` images to `[B, 10]` logits.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let k = self.kernels;
        let mut x = images;
        for (conv, dropout) in self.convs.iter().zip(&self.conv_dropouts) {
            let y = self.conv_activation.apply(k.conv2d(conv, x));
            x = dropout.forward(self.pool.forward(y, k));
        }
        let mut x: Tensor<2> = x.flatten(1, 3);
        let last = self.fcs.len() - 1;
        for (i, fc) in self.fcs.iter().enumerate() {
            x = k.linear(fc, x);
            if i < last {
                x = self.fc_dropouts[i].forward(self.activation.apply(x));
            }
        }
        x
    }

    /// Output of the first convolution and its activation, before pooling: `[B, C, H', W']`.
    pub fn feature_maps(&self, images: Tensor<4>) -> Tensor<4> {
        self.conv_activation
            .apply(self.kernels.conv2d(&self.convs[0], images))
    }

    /// Kernels of the first convolution: `[out_channels, 1, k, k]`.
    pub fn first_conv_weights(&self) -> Tensor<4> {
        self.convs[0].weight.val()
    }
}
