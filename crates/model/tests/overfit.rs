//! Each family can memorise one fixed batch: the forward pass, loss, TrainStep gradients
//! and an SGD update are wired together correctly.

use burn::optim::SgdConfig;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use burn::train::TrainStep;
use model::{ImageBatch, LenetConfig, LenetPreset, MlpConfig, ModelConfig};

fn steps_to_overfit(config: &ModelConfig, lr: f64, max_steps: usize) -> (usize, f32) {
    let device = Device::flex().autodiff();
    device.seed(7);
    let s = config.input_size();
    let images = Tensor::<4>::random([64, 1, s, s], Distribution::Normal(0.0, 1.0), &device);
    let labels: Vec<i64> = (0..64).map(|i| (i * 7 + 3) % 10).collect();
    let targets = Tensor::<1, Int>::from_data(TensorData::new(labels, [64]), &device);
    let batch = ImageBatch { images, targets };

    let mut model = config.init(&device).unwrap();
    let mut optim = SgdConfig::new().init();
    let mut loss = f32::INFINITY;
    for step in 1..=max_steps {
        let out = TrainStep::step(&model, batch.clone());
        loss = out.item.loss.clone().into_scalar::<f32>();
        if loss < 0.05 {
            return (step, loss);
        }
        model = optim.step(lr, model, out.grads);
    }
    (max_steps, loss)
}

#[test]
fn mlp_overfits_one_batch() {
    let (steps, loss) = steps_to_overfit(&ModelConfig::Mlp(MlpConfig::default()), 0.05, 300);
    assert!(loss < 0.05, "loss {loss} after {steps} steps");
}

#[test]
fn lenet_overfits_one_batch() {
    let config = ModelConfig::Lenet(LenetConfig::preset(LenetPreset::Caffe2));
    let (steps, loss) = steps_to_overfit(&config, 0.05, 300);
    assert!(loss < 0.05, "loss {loss} after {steps} steps");
}
