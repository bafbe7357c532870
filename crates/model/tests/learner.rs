//! `Classifier` satisfies what Burn's `Learner` asks of a model, and its steps run on both
//! kinds of device the Learner uses.

use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use burn::train::{InferenceStep, LearnerModel, TrainStep};
use model::{Classifier, ImageBatch, LenetConfig, LenetPreset, ModelConfig};

fn assert_learner_model<M: LearnerModel>() {}

fn batch(device: &Device) -> ImageBatch {
    let images = Tensor::<4>::random([8, 1, 28, 28], Distribution::Default, device);
    let labels: Vec<i64> = (0..8).collect();
    ImageBatch {
        images,
        targets: Tensor::<1, Int>::from_data(TensorData::new(labels, [8]), device),
    }
}

#[test]
fn classifier_is_a_learner_model() {
    assert_learner_model::<Classifier>();

    let config = ModelConfig::Lenet(LenetConfig::preset(LenetPreset::CnnDropout));
    let train_device = Device::flex().autodiff();
    let model = config.init(&train_device).unwrap();
    let out = TrainStep::step(&model, batch(&train_device));
    assert_eq!(out.item.output.dims(), [8, 10]);
    assert!(out.item.loss.into_scalar::<f32>().is_finite());

    // Validation runs on the plain device with dropout off: deterministic logits.
    let valid_device = Device::flex();
    let model = config.init(&valid_device).unwrap();
    let b = batch(&valid_device);
    let a = InferenceStep::step(&model, b.clone()).output.into_data();
    let c = InferenceStep::step(&model, b).output.into_data();
    assert_eq!(a, c);
    // The module display Burn's Learner prints names the layers.
    assert!(model.to_string().contains("Conv2d"), "{model}");
}
