//! Training-step rate on the flex CPU backend: forward + backward + SGD at batch 64, printed as
//! images/s for caffe2 LeNet and the MXNet MLP, with a forward / backward / optimizer breakdown
//! and per-op forward timings for the LeNet layers.
//!
//! `cargo run -p model --release --example train_step_rate [steps]`
//!
//! An example rather than a criterion bench: it builds with nothing beyond the dev backend and
//! prints exactly the figures we compare against PyTorch.
//!
//! On glibc the allocator is pinned first (see [`pin_malloc_thresholds`]): with glibc's default,
//! adaptive thresholds the multi-MB activation and im2col buffers of every step go back to the
//! kernel and come back as fresh zeroed pages (about 4,000 minor page faults a step, a third of
//! the step time in the kernel), while the trainer, whose data loading happens to raise those
//! thresholds before training starts, reuses them. Pinned, this loop measures what a training
//! step costs in the trainer.

use std::time::{Duration, Instant};

use burn::nn::LinearConfig;
use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::MaxPool2dConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use model::{LenetConfig, LenetPreset, MlpConfig, MlpPreset, ModelConfig};

const BATCH: usize = 64;

fn sync(device: &Device) {
    device.sync().expect("device sync");
}

fn batch(device: &Device, side: usize) -> (Tensor<4>, Tensor<1, Int>) {
    let images = Tensor::<4>::random(
        [BATCH, 1, side, side],
        Distribution::Normal(0.0, 1.0),
        device,
    );
    let labels: Vec<i64> = (0..BATCH as i64).map(|i| i % 10).collect();
    (
        images,
        Tensor::from_data(TensorData::new(labels, [BATCH]), device),
    )
}

/// Keeps freed buffers of up to 32 MiB in the heap instead of returning them to the kernel.
///
/// glibc serves blocks above `M_MMAP_THRESHOLD` (128 KiB at start) with `mmap` and unmaps them on
/// free, and trims the heap top above `M_TRIM_THRESHOLD`; both rise adaptively only when certain
/// blocks are freed, so a process's step cost depends on what it allocated before. Fixing them at
/// the values glibc's own adaptation tops out at (32 MiB, trim at twice that) gives the
/// steady state the trainer runs in, whatever came before.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn pin_malloc_thresholds() {
    use std::ffi::c_int;
    unsafe extern "C" {
        fn mallopt(param: c_int, value: c_int) -> c_int;
    }
    const M_TRIM_THRESHOLD: c_int = -1;
    const M_MMAP_THRESHOLD: c_int = -3;
    const MMAP_THRESHOLD: c_int = 32 << 20;
    // SAFETY: mallopt only changes glibc malloc tunables; it is called before any other thread
    // exists and takes plain integers.
    let ok = unsafe {
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
            && mallopt(M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD) == 1
    };
    if !ok {
        eprintln!("warning: mallopt failed; step rates include page-fault churn");
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn pin_malloc_thresholds() {}

fn rate(d: Duration, steps: usize) -> f64 {
    (steps * BATCH) as f64 / d.as_secs_f64()
}

fn ms(d: Duration, steps: usize) -> f64 {
    d.as_secs_f64() * 1e3 / steps as f64
}

fn train_steps(config: &ModelConfig, steps: usize) {
    let device = Device::flex().autodiff();
    let (images, targets) = batch(&device, config.input_size());
    let mut model = config.init(&device).expect("valid preset");
    let mut optim = SgdConfig::new().init();
    let (mut fwd, mut bwd, mut opt) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for step in 0..steps + 3 {
        let t0 = Instant::now();
        let out = model.forward_classification(images.clone(), targets.clone());
        sync(&device);
        let t1 = Instant::now();
        let grads = GradientsParams::from_grads(out.loss.backward(), &model);
        sync(&device);
        let t2 = Instant::now();
        model = optim.step(0.01, model, grads);
        sync(&device);
        let t3 = Instant::now();
        if step >= 3 {
            // The first steps warm allocators and thread pools.
            fwd += t1 - t0;
            bwd += t2 - t1;
            opt += t3 - t2;
        }
    }
    // The breakdown needs a sync between phases; the headline rate runs steps back to back,
    // as a training loop does, and syncs once at the end.
    let t = Instant::now();
    for _ in 0..steps {
        let out = model.forward_classification(images.clone(), targets.clone());
        let grads = GradientsParams::from_grads(out.loss.backward(), &model);
        model = optim.step(0.01, model, grads);
    }
    sync(&device);
    let unsynced = t.elapsed();
    println!(
        "{:<16} {:>8.0} images/s  ({:.2} ms/step; with a sync per phase: forward {:.2} ms, backward {:.2} ms, sgd {:.2} ms)",
        config.describe(),
        rate(unsynced, steps),
        ms(unsynced, steps),
        ms(fwd, steps),
        ms(bwd, steps),
        ms(opt, steps)
    );
}

fn time_op(name: &str, device: &Device, reps: usize, mut f: impl FnMut()) {
    f();
    sync(device);
    let t = Instant::now();
    for _ in 0..reps {
        f();
    }
    sync(device);
    println!("  {name:<40} {:>7.3} ms", ms(t.elapsed(), reps));
}

/// Per-op costs of caffe2 LeNet at batch 64, forward only on the plain device and
/// forward + backward on the autodiff device.
fn lenet_ops(reps: usize) {
    println!("caffe2 LeNet per-op, batch {BATCH}:");
    let device = Device::flex();
    let conv1 = Conv2dConfig::new([1, 20], [5, 5]).init(&device);
    let conv2 = Conv2dConfig::new([20, 50], [5, 5]).init(&device);
    let pool = MaxPool2dConfig::new([2, 2]).init();
    let fc1 = LinearConfig::new(800, 500).init(&device);
    let fc2 = LinearConfig::new(500, 10).init(&device);
    let x0 = Tensor::<4>::random([BATCH, 1, 28, 28], Distribution::Default, &device);
    let x1 = Tensor::<4>::random([BATCH, 20, 24, 24], Distribution::Default, &device);
    let x2 = Tensor::<4>::random([BATCH, 20, 12, 12], Distribution::Default, &device);
    let x3 = Tensor::<4>::random([BATCH, 50, 8, 8], Distribution::Default, &device);
    let x4 = Tensor::<2>::random([BATCH, 800], Distribution::Default, &device);
    let x5 = Tensor::<2>::random([BATCH, 500], Distribution::Default, &device);
    time_op("fwd conv1 1->20 k5 (28->24)", &device, reps, || {
        drop(conv1.forward(x0.clone()))
    });
    time_op("fwd max-pool 2 [20,24,24]", &device, reps, || {
        drop(pool.forward(x1.clone()))
    });
    time_op("fwd conv2 20->50 k5 (12->8)", &device, reps, || {
        drop(conv2.forward(x2.clone()))
    });
    time_op("fwd max-pool 2 [50,8,8]", &device, reps, || {
        drop(pool.forward(x3.clone()))
    });
    time_op("fwd fc1 800->500", &device, reps, || {
        drop(fc1.forward(x4.clone()))
    });
    time_op("fwd fc2 500->10", &device, reps, || {
        drop(fc2.forward(x5.clone()))
    });

    let ad = Device::flex().autodiff();
    // Built on the autodiff device so the parameters are tracked leaves.
    let conv1 = Conv2dConfig::new([1, 20], [5, 5]).init(&ad);
    let conv2 = Conv2dConfig::new([20, 50], [5, 5]).init(&ad);
    let fc1 = LinearConfig::new(800, 500).init(&ad);
    let x0 = Tensor::<4>::random([BATCH, 1, 28, 28], Distribution::Default, &ad);
    let x1 = Tensor::<4>::random([BATCH, 20, 24, 24], Distribution::Default, &ad);
    let x2 = Tensor::<4>::random([BATCH, 20, 12, 12], Distribution::Default, &ad);
    let x4 = Tensor::<2>::random([BATCH, 800], Distribution::Default, &ad);
    time_op("fwd+bwd conv1 (weight grads)", &ad, reps, || {
        drop(conv1.forward(x0.clone()).sum().backward())
    });
    time_op("fwd+bwd max-pool 2 [20,24,24]", &ad, reps, || {
        let x = x1.clone().require_grad();
        drop(pool.forward(x).sum().backward())
    });
    time_op("fwd+bwd conv2 (weight + input grads)", &ad, reps, || {
        let x = x2.clone().require_grad();
        drop(conv2.forward(x).sum().backward())
    });
    time_op("fwd+bwd fc1 (weight + input grads)", &ad, reps, || {
        let x = x4.clone().require_grad();
        drop(fc1.forward(x).sum().backward())
    });
}

fn main() {
    pin_malloc_thresholds();
    let steps = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    println!("flex backend, batch {BATCH}, {steps} timed steps (after 3 warm-up)");
    train_steps(
        &ModelConfig::Lenet(LenetConfig::preset(LenetPreset::Caffe2)),
        steps,
    );
    train_steps(
        &ModelConfig::Mlp(MlpConfig::preset(MlpPreset::Mxnet)),
        steps,
    );
    train_steps(
        &ModelConfig::Mlp(MlpConfig::preset(MlpPreset::Caffe2)),
        steps / 5 + 1,
    );
    lenet_ops(steps);
}
