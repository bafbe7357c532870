use burn::tensor::{Tensor, activation};
use serde::{Deserialize, Serialize};

/// Non-linearity applied after a layer. `none` exists because Caffe2's LeNet applies nothing
/// after its convolutions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    /// max(0, x)
    #[default]
    Relu,
    /// tanh(x), as in MXNet's LeNet.
    Tanh,
    /// 1 / (1 + e^-x)
    Sigmoid,
    /// Identity: no activation.
    None,
}

impl Activation {
    /// Applies the activation element-wise.
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Self::Relu => activation::relu(x),
            Self::Tanh => activation::tanh(x),
            Self::Sigmoid => activation::sigmoid(x),
            Self::None => x,
        }
    }

    /// The TOML spelling, for summaries and descriptions.
    pub fn name(self) -> &'static str {
        match self {
            Self::Relu => "relu",
            Self::Tanh => "tanh",
            Self::Sigmoid => "sigmoid",
            Self::None => "none",
        }
    }
}
