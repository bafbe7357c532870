//! The optimizer and learning-rate schedule a config describes, built the same way for a
//! fresh run, a resumed one, and the checks of a checkpoint's records.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::optim::lr_scheduler::exponential::ExponentialLrSchedulerConfig;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::optim::lr_scheduler::step::StepLrSchedulerConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig};

use crate::config::{OptimizerConfig, ScheduleConfig, TrainConfig};
use crate::error::Error;

pub fn optimizer(config: &OptimizerConfig) -> ModuleOptimizer {
    let decay = |penalty: f64| (penalty > 0.0).then(|| WeightDecayConfig::new(penalty as f32));
    match *config {
        OptimizerConfig::Sgd {
            momentum,
            nesterov,
            weight_decay,
            ..
        } => SgdConfig::new()
            .with_momentum((momentum > 0.0).then(|| {
                // PyTorch's SGD has no dampening; Burn defaults to 0.1.
                MomentumConfig::new()
                    .with_momentum(momentum)
                    .with_dampening(0.0)
                    .with_nesterov(nesterov)
            }))
            .with_weight_decay(decay(weight_decay))
            .init(),
        OptimizerConfig::Adam { weight_decay, .. } => AdamConfig::new()
            .with_weight_decay(decay(weight_decay))
            .init(),
        OptimizerConfig::AdamW { weight_decay, .. } => AdamWConfig::new()
            .with_weight_decay(weight_decay as f32)
            .init(),
    }
}

/// The schedule, stepping once per iteration as Burn's Learner does.
pub fn schedule(config: &TrainConfig, iters_per_epoch: usize) -> Result<ModuleLrScheduler, Error> {
    let lr = config.optimizer.lr();
    let built = match config.schedule {
        ScheduleConfig::Constant => Ok(ModuleLrScheduler::from(lr)),
        ScheduleConfig::Step {
            every_epochs,
            gamma,
        } => StepLrSchedulerConfig::new(lr, every_epochs * iters_per_epoch)
            .with_gamma(gamma)
            .init(),
        ScheduleConfig::Exponential { gamma } => {
            ExponentialLrSchedulerConfig::new(lr, gamma).init()
        }
        ScheduleConfig::Cosine { min_lr } => {
            CosineAnnealingLrSchedulerConfig::new(lr, config.training.epochs * iters_per_epoch)
                .with_min_lr(min_lr)
                .init()
        }
    };
    built.map_err(|e| Error::Usage(format!("schedule: {e}")))
}

/// The schedule as it stands after `steps` iterations: what a checkpoint taken then must hold.
pub fn schedule_after(
    config: &TrainConfig,
    iters_per_epoch: usize,
    steps: usize,
) -> Result<ModuleLrScheduler, Error> {
    let mut schedule = schedule(config, iters_per_epoch)?;
    for _ in 0..steps {
        schedule.step();
    }
    Ok(schedule)
}
