use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Int, Tensor};
use burn::train::{ClassificationOutput, InferenceStep, TrainOutput, TrainStep};

use crate::lenet::Lenet;
use crate::mlp::Mlp;

/// Any network of this crate behind one type, so the trainer and Burn's `Learner` drive them
/// the same way. Built by [`crate::ModelConfig::init`].
#[derive(Module, Debug)]
pub enum Classifier {
    /// Multi-layer perceptron.
    Mlp(Mlp),
    /// LeNet-family CNN.
    Lenet(Lenet),
}

/// A batch of images `[B, 1, H, W]` (floats, normalised as the data crate chooses) and their
/// class indices `[B]`.
#[derive(Clone, Debug)]
pub struct ImageBatch {
    /// Images, `[B, 1, H, W]` with `H = W = ModelConfig::input_size()`.
    pub images: Tensor<4>,
    /// Class indices in `0..10`, `[B]`.
    pub targets: Tensor<1, Int>,
}

impl Classifier {
    /// `[B, 1, H, W]` images to `[B, 10]` logits. `H` and `W` must equal the configured
    /// `input_size` (Burn panics on mismatched shapes; the trainer sizes images from the config).
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Self::Mlp(m) => m.forward(images),
            Self::Lenet(m) => m.forward(images),
        }
    }

    /// Logits plus mean cross-entropy loss against `targets`.
    pub fn forward_classification(
        &self,
        images: Tensor<4>,
        targets: Tensor<1, Int>,
    ) -> ClassificationOutput {
        let output = self.forward(images);
        let loss = CrossEntropyLossConfig::new()
            .init(&output.device())
            .forward(output.clone(), targets.clone());
        ClassificationOutput {
            loss,
            output,
            targets,
        }
    }

    /// First-layer kernels `[out_channels, 1, k, k]` for visualisation; `None` for the MLP.
    pub fn first_conv_weights(&self) -> Option<Tensor<4>> {
        match self {
            Self::Mlp(_) => None,
            Self::Lenet(m) => Some(m.first_conv_weights()),
        }
    }

    /// First convolution plus its configured activation (none for caffe2), before pooling:
    /// `[B, C, H', W']`. `None` for the MLP.
    pub fn feature_maps(&self, images: Tensor<4>) -> Option<Tensor<4>> {
        match self {
            Self::Mlp(_) => None,
            Self::Lenet(m) => Some(m.feature_maps(images)),
        }
    }

    /// Number of trainable scalars.
    pub fn num_params(&self) -> usize {
        Module::num_params(self)
    }
}

impl TrainStep for Classifier {
    type Input = ImageBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: ImageBatch) -> TrainOutput<ClassificationOutput> {
        let item = self.forward_classification(batch.images, batch.targets);
        TrainOutput::new(self, item.loss.backward(), item)
    }
}

impl InferenceStep for Classifier {
    type Input = ImageBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: ImageBatch) -> ClassificationOutput {
        self.forward_classification(batch.images, batch.targets)
    }
}
