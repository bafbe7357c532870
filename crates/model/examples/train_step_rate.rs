//! Training-step rate on the flex CPU backend, Burn's ops against the custom kernels
//! (`[model] kernels = "burn"` / `"custom"`) side by side: images/s per network, a forward /
//! backward / optimizer split, and per-op times of every conv, max-pool and fc layer.
//!
//! ```text
//! cargo run --release -p model --example train_step_rate -- [--nets caffe2,lenet5,cnn-dropout,mlp]
//!     (also: mxnet-tanh, mlp-caffe2)
//!     [--rounds 5] [--steps 20] [--op-reps 20]
//! ```
//!
//! A step is forward, cross-entropy, backward and an SGD update (lr 0.02, momentum 0.9, as
//! PyTorch's SGD and `bench/torch_lenet.py`) at batch 64 on one fixed random batch. The two
//! op sets run in alternating rounds of `--steps` steps (after a warm-up round each), so both
//! see the same machine load; the summary gives the median and range of the rounds. Per-op
//! times alternate blocks of `--op-reps` calls the same way (`--op-reps 0` skips them).
//! The cnn-dropout network runs with its dropout, so its two op sets draw different masks.
//! The MLPs have no `kernels` option (the linear kernel measured no faster on the MXNet MLP);
//! their "custom" side here is the same layers run by the linear kernel, built by this bench,
//! which is the measurement behind that decision.
//!
//! An example rather than a criterion bench: it builds with nothing beyond the dev backend and
//! prints exactly the figures compared against PyTorch (`bench/vs_pytorch.sh`).
//!
//! On glibc the allocator is pinned first (`model::malloc`, as in the trainer): with glibc's default,
//! adaptive thresholds the multi-MB activation and im2col buffers of every step go back to the
//! kernel and come back as fresh zeroed pages (about 4,000 minor page faults a step, a third of
//! the step time in the kernel), while the trainer, whose data loading happens to raise those
//! thresholds before training starts, reuses them. Pinned, this loop measures what a training
//! step costs in the trainer.

use std::time::{Duration, Instant};

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use model::{Classifier, Kernels, LenetConfig, LenetPreset, MlpConfig, MlpPreset, ModelConfig};

const BATCH: usize = 64;
const LR: f64 = 0.02;
const KINDS: [Kernels; 2] = [Kernels::Burn, Kernels::Custom];

/// The networks this bench knows, by the name `--nets` takes.
fn network(name: &str) -> Option<ModelConfig> {
    Some(match name {
        "caffe2" => ModelConfig::Lenet(LenetConfig::preset(LenetPreset::Caffe2)),
        "mxnet-tanh" => ModelConfig::Lenet(LenetConfig::preset(LenetPreset::MxnetTanh)),
        "lenet5" => ModelConfig::Lenet(LenetConfig::preset(LenetPreset::Lenet5)),
        "cnn-dropout" => ModelConfig::Lenet(LenetConfig::preset(LenetPreset::CnnDropout)),
        "mlp" => ModelConfig::Mlp(MlpConfig::preset(MlpPreset::Mxnet)),
        "mlp-caffe2" => ModelConfig::Mlp(MlpConfig::preset(MlpPreset::Caffe2)),
        _ => return None,
    })
}

struct Args {
    nets: Vec<String>,
    rounds: usize,
    steps: usize,
    op_reps: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        nets: ["caffe2", "lenet5", "cnn-dropout", "mlp"]
            .map(String::from)
            .to_vec(),
        rounds: 5,
        steps: 20,
        op_reps: 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{flag}: expected a number, got {value}"))
        };
        match flag.as_str() {
            "--nets" => args.nets = value.split(',').map(String::from).collect(),
            "--rounds" => args.rounds = number()?.max(1),
            "--steps" => args.steps = number()?.max(1),
            "--op-reps" => args.op_reps = number()?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if let Some(bad) = args.nets.iter().find(|n| network(n).is_none()) {
        return Err(format!(
            "unknown network {bad}; expected caffe2, mxnet-tanh, lenet5, cnn-dropout, mlp or mlp-caffe2"
        ));
    }
    Ok(args)
}

fn sync(device: &Device) {
    device.sync().expect("device sync");
}

fn ms(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e3 / n as f64
}

/// Median, min and max.
fn stats(v: &[f64]) -> (f64, f64, f64) {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[0], v[v.len() - 1])
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

fn sgd() -> SgdConfig {
    SgdConfig::new().with_momentum(Some(
        MomentumConfig::new().with_momentum(0.9).with_dampening(0.0),
    ))
}

/// A network this bench trains: the model crate's own, or an MLP's layers run by the kernels
/// crate's linear op (see the module docs).
trait Trainable: Module + Clone {
    fn loss(&self, images: Tensor<4>, targets: Tensor<1, Int>) -> Tensor<1>;
}

impl Trainable for Classifier {
    fn loss(&self, images: Tensor<4>, targets: Tensor<1, Int>) -> Tensor<1> {
        self.forward_classification(images, targets).loss
    }
}

/// An MLP's dense layers with relu between them, run by Burn's op or the linear kernel.
#[derive(Module, Debug)]
struct LinearStack {
    layers: Vec<Linear>,
    #[module(skip)]
    kernels: Kernels,
}

impl LinearStack {
    fn new(widths: &[usize], kernels: Kernels, device: &Device) -> Self {
        Self {
            layers: widths
                .windows(2)
                .map(|w| LinearConfig::new(w[0], w[1]).init(device))
                .collect(),
            kernels,
        }
    }
}

impl Trainable for LinearStack {
    fn loss(&self, images: Tensor<4>, targets: Tensor<1, Int>) -> Tensor<1> {
        let mut x: Tensor<2> = images.flatten(1, 3);
        for (i, layer) in self.layers.iter().enumerate() {
            x = self.kernels.linear(layer, x);
            if i + 1 < self.layers.len() {
                x = relu(x);
            }
        }
        CrossEntropyLossConfig::new()
            .init(&x.device())
            .forward(x, targets)
    }
}

/// The network of `config` twice, `[burn, custom]`, with the same weights.
fn lenet_pair(config: &ModelConfig, device: &Device) -> [Classifier; 2] {
    let first = config.init(device).expect("valid preset");
    KINDS.map(|k| {
        config
            .clone()
            .with_kernels(k)
            .init(device)
            .expect("valid preset")
            .load_record(first.clone().into_record())
    })
}

/// The MLP's layers twice, `[burn, custom]`, with the same weights.
fn mlp_pair(config: &MlpConfig, device: &Device) -> [LinearStack; 2] {
    let first = LinearStack::new(&config.widths(), Kernels::Burn, device);
    KINDS.map(|k| LinearStack {
        kernels: k,
        ..first.clone()
    })
}

/// `steps` training steps back to back, as a training loop runs them (one sync at the end).
fn run_steps<M: Trainable>(
    model: M,
    optim: &mut ModuleOptimizer,
    (images, targets): &(Tensor<4>, Tensor<1, Int>),
    steps: usize,
) -> M {
    let mut model = model;
    for _ in 0..steps {
        let loss = model.loss(images.clone(), targets.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(LR, model, grads);
    }
    model
}

/// Images/s of both op sets in alternating rounds, then each one's forward / backward / SGD
/// split; returns the median rates `[burn, custom]`.
fn compare<M: Trainable>(
    label: &str,
    models: [M; 2],
    device: &Device,
    side: usize,
    rounds: usize,
    steps: usize,
) -> [f64; 2] {
    let data = batch(device, side);
    let mut runs: Vec<(Kernels, M, ModuleOptimizer, Vec<f64>)> = KINDS
        .into_iter()
        .zip(models)
        .map(|(k, model)| (k, model, sgd().init(), Vec::new()))
        .collect();
    println!("{label}, training step, batch {BATCH}, {rounds} rounds of {steps} steps:");
    for round in 0..=rounds {
        for (kernels, model, optim, rates) in runs.iter_mut() {
            let t = Instant::now();
            *model = run_steps(model.clone(), optim, &data, steps);
            sync(device);
            let rate = (steps * BATCH) as f64 / t.elapsed().as_secs_f64();
            // Round 0 warms allocators, thread pools and the optimizer state.
            if round > 0 {
                rates.push(rate);
                print!("  {:<6} {rate:>7.0}", kernels.name());
            }
        }
        if round > 0 {
            println!("  images/s (round {round})");
        }
    }
    let (b, b_lo, b_hi) = stats(&runs[0].3);
    let (c, c_lo, c_hi) = stats(&runs[1].3);
    println!(
        "  median: burn {b:.0} images/s ({b_lo:.0}-{b_hi:.0}, {:.2} ms/step), custom {c:.0} \
         images/s ({c_lo:.0}-{c_hi:.0}, {:.2} ms/step), custom/burn {:.2}",
        BATCH as f64 * 1e3 / b,
        BATCH as f64 * 1e3 / c,
        c / b
    );
    for (kernels, model, _, _) in runs {
        phases(model, kernels, &data, device, steps);
    }
    [b, c]
}

/// Forward / backward / SGD split of one op set's step, with a sync after each phase.
fn phases<M: Trainable>(
    model: M,
    kernels: Kernels,
    (images, targets): &(Tensor<4>, Tensor<1, Int>),
    device: &Device,
    steps: usize,
) {
    let mut model = model;
    let mut optim = sgd().init();
    let mut t = [Duration::ZERO; 3];
    for step in 0..steps + 3 {
        let t0 = Instant::now();
        let loss = model.loss(images.clone(), targets.clone());
        sync(device);
        let t1 = Instant::now();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        sync(device);
        let t2 = Instant::now();
        model = optim.step(LR, model, grads);
        sync(device);
        if step >= 3 {
            t[0] += t1 - t0;
            t[1] += t2 - t1;
            t[2] += t2.elapsed();
        }
    }
    println!(
        "  {:<6} phases: forward {:>6.2} ms, backward {:>6.2} ms, sgd {:>5.2} ms",
        kernels.name(),
        ms(t[0], steps),
        ms(t[1], steps),
        ms(t[2], steps)
    );
}

/// Step rates of one network, both op sets.
fn step_rates(name: &str, config: &ModelConfig, rounds: usize, steps: usize) -> [f64; 2] {
    let device = Device::flex().autodiff();
    device.seed(1);
    let label = format!("{name} ({})", config.describe());
    let side = config.input_size();
    match config {
        ModelConfig::Lenet(_) => {
            let pair = lenet_pair(config, &device);
            compare(&label, pair, &device, side, rounds, steps)
        }
        ModelConfig::Mlp(c) => {
            let pair = mlp_pair(c, &device);
            compare(&label, pair, &device, side, rounds, steps)
        }
    }
}

/// One layer of a network, with the input shape it sees at batch 64.
enum Layer {
    Conv(Conv2d, [usize; 4]),
    MaxPool(MaxPool2d, [usize; 4]),
    Fc(Linear, [usize; 2]),
}

/// The conv, max-pool and fc layers of `config` (activations and dropout left out), built on
/// `device`.
fn layers(config: &ModelConfig, device: &Device) -> Vec<(String, Layer)> {
    let mut out = Vec::new();
    let widths = match config {
        ModelConfig::Lenet(c) => {
            let sides = c.feature_sides().expect("valid preset");
            let k = c.kernel_size;
            let mut in_ch = 1;
            for (i, &ch) in c.conv_channels.iter().enumerate() {
                let (side, conv_side) = (sides[i], sides[i] - k + 1);
                out.push((
                    format!("conv{} {in_ch}->{ch} k{k} ({side}->{conv_side})", i + 1),
                    Layer::Conv(
                        Conv2dConfig::new([in_ch, ch], [k, k]).init(device),
                        [BATCH, in_ch, side, side],
                    ),
                ));
                let p = c.pool_size;
                out.push((
                    format!("max-pool{} {p} [{ch},{conv_side},{conv_side}]", i + 1),
                    Layer::MaxPool(
                        MaxPool2dConfig::new([p, p]).init(),
                        [BATCH, ch, conv_side, conv_side],
                    ),
                ));
                in_ch = ch;
            }
            c.fc_widths().expect("valid preset")
        }
        ModelConfig::Mlp(c) => c.widths(),
    };
    for (i, w) in widths.windows(2).enumerate() {
        out.push((
            format!("fc{} {}->{}", i + 1, w[0], w[1]),
            Layer::Fc(LinearConfig::new(w[0], w[1]).init(device), [BATCH, w[0]]),
        ));
    }
    out
}

/// Times `f` for both op sets in alternating blocks of `reps` calls (one warm-up call each);
/// returns the median ms per call of 5 blocks, `[burn, custom]`.
fn time_pair(device: &Device, reps: usize, mut f: impl FnMut(Kernels)) -> [f64; 2] {
    let mut times = [Vec::new(), Vec::new()];
    for block in 0..6 {
        for (i, kernels) in KINDS.into_iter().enumerate() {
            f(kernels);
            sync(device);
            let t = Instant::now();
            for _ in 0..reps {
                f(kernels);
            }
            sync(device);
            if block > 0 {
                times[i].push(ms(t.elapsed(), reps));
            }
        }
    }
    [stats(&times[0]).0, stats(&times[1]).0]
}

/// Per-layer forward (plain flex device) and forward + backward (autodiff device) times of
/// both op sets. Under autodiff each layer's input requires a gradient, except the images',
/// as in training.
fn op_times(name: &str, config: &ModelConfig, reps: usize) {
    println!("{name} per op, batch {BATCH}, ms (median of 5 alternating blocks of {reps} calls):");
    let mut total = [[0.0; 2]; 2];
    for (a, autodiff) in [false, true].into_iter().enumerate() {
        let device = if autodiff {
            Device::flex().autodiff()
        } else {
            Device::flex()
        };
        let tag = if autodiff { "fwd+bwd" } else { "fwd" };
        let run = |y: Tensor<1>| {
            if autodiff {
                drop(y.backward());
            }
        };
        for (i, (label, layer)) in layers(config, &device).into_iter().enumerate() {
            let tracked = autodiff && i > 0;
            let input4 = |shape: [usize; 4]| {
                let x = Tensor::<4>::random(shape, Distribution::Default, &device);
                if tracked { x.require_grad() } else { x }
            };
            let [b, c] = match layer {
                Layer::Conv(conv, shape) => {
                    let x = input4(shape);
                    time_pair(&device, reps, |k| run(k.conv2d(&conv, x.clone()).sum()))
                }
                Layer::MaxPool(pool, shape) => {
                    let x = input4(shape);
                    time_pair(&device, reps, |k| run(k.max_pool(&pool, x.clone()).sum()))
                }
                Layer::Fc(fc, shape) => {
                    let x = Tensor::<2>::random(shape, Distribution::Default, &device);
                    let x = if autodiff { x.require_grad() } else { x };
                    time_pair(&device, reps, |k| run(k.linear(&fc, x.clone()).sum()))
                }
            };
            total[a][0] += b;
            total[a][1] += c;
            println!(
                "  {:<8}{label:<34} burn {b:>7.3}   custom {c:>7.3}   {:>5.2}x",
                tag,
                b / c
            );
        }
    }
    for (a, tag) in ["fwd", "fwd+bwd"].into_iter().enumerate() {
        let [b, c] = total[a];
        println!(
            "  {tag:<8}{:<34} burn {b:>7.3}   custom {c:>7.3}   {:>5.2}x",
            "all layers",
            b / c
        );
    }
}

fn main() {
    if !model::malloc::pin_thresholds() {
        eprintln!("warning: mallopt failed; step rates include page-fault churn");
    }
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(2);
        }
    };
    println!(
        "flex backend, {} threads, batch {BATCH}, burn = Burn's ops, custom = the kernels crate",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let nets: Vec<(&str, ModelConfig)> = args
        .nets
        .iter()
        .map(|n| (n.as_str(), network(n).expect("checked")))
        .collect();
    let mut summary = Vec::new();
    for (name, config) in &nets {
        summary.push((*name, step_rates(name, config, args.rounds, args.steps)));
    }
    if args.op_reps > 0 {
        for (name, config) in &nets {
            op_times(name, config, args.op_reps);
        }
    }
    println!("summary, median images/s:");
    for (name, [b, c]) in summary {
        println!(
            "  {name:<12} burn {b:>7.0}   custom {c:>7.0}   custom/burn {:.2}",
            c / b
        );
    }
}
