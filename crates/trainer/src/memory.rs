//! Whether a training run fits in memory, judged from the config before anything is allocated:
//! a batch size or a network that cannot fit is a message naming the key and the limit, not an
//! allocation abort half-way through loading.

use crate::config::{OptimizerConfig, TrainConfig};

/// An estimate of the bytes a training run needs, from its config alone.
pub struct Estimate {
    pub per_example: u64,
    pub fixed: u64,
}

impl Estimate {
    pub fn of(config: &TrainConfig) -> Result<Self, String> {
        let summary = model::summary(&config.model).map_err(|e| format!("model: {e}"))?;
        let per_example = 4 * summary.training_floats_per_example() as u64;
        // Weights, gradients, the optimizer's state per weight, and a copy while checkpointing.
        let states = match config.optimizer {
            OptimizerConfig::Sgd { momentum, .. } if momentum > 0.0 => 1,
            OptimizerConfig::Sgd { .. } => 0,
            OptimizerConfig::Adam { .. } | OptimizerConfig::AdamW { .. } => 2,
        };
        let fixed = 4 * summary.total_params() as u64 * (3 + states);
        Ok(Self { per_example, fixed })
    }

    pub fn bytes(&self, batch: usize) -> u64 {
        self.fixed + self.per_example * batch as u64
    }
}

/// Memory this process may still use: `MemAvailable` on Linux; `None` where unknown.
pub fn available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses a batch size (or network) whose training step would not fit in `available` bytes.
pub fn check(config: &TrainConfig, available: Option<u64>) -> Result<(), String> {
    let Some(available) = available else {
        return Ok(());
    };
    let estimate = Estimate::of(config)?;
    let batch = config.training.batch_size;
    let needed = estimate.bytes(batch);
    if needed <= available {
        return Ok(());
    }
    let fitting = available.saturating_sub(estimate.fixed) / estimate.per_example.max(1);
    Err(format!(
        "training.batch_size: a batch of {batch} images of {} needs about {} for one training \
         step, but about {} of memory is available here; batches of up to {fitting} images fit",
        config.model.describe(),
        files::human_bytes(needed),
        files::human_bytes(available),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(batch: usize) -> TrainConfig {
        let mut config: TrainConfig =
            toml::from_str("[model]\nkind = \"lenet\"\npreset = \"caffe2\"\n").unwrap();
        config.training.batch_size = batch;
        config
    }

    #[test]
    fn a_huge_batch_is_refused_with_the_limit_in_the_message() {
        let gib = 1 << 30;
        check(&config(64), Some(gib)).unwrap();
        let err = check(&config(1_000_000), Some(gib)).unwrap_err();
        assert!(err.starts_with("training.batch_size"), "{err}");
        assert!(err.contains("batches of up to"), "{err}");
        // The caffe2 LeNet needs a few hundred KiB per image in a step.
        let estimate = Estimate::of(&config(1)).unwrap();
        assert!(
            (100_000..1_000_000).contains(&estimate.per_example),
            "{}",
            estimate.per_example
        );
        check(&config(1_000_000), None).unwrap();
    }
}
