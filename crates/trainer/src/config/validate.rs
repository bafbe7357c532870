//! The checks serde cannot make on a [`TrainConfig`]: each message starts with the offending key.

use std::path::Path;

use data::{Normalization, Resize};
use model::ModelConfig;

use crate::config::{MAX_BATCH_SIZE, MAX_EPOCHS, OptimizerConfig, ScheduleConfig, TrainConfig};

impl TrainConfig {
    /// Checks the values serde cannot: each message starts with the offending key.
    pub fn validate(&self) -> Result<(), String> {
        self.model.validate().map_err(|e| format!("model: {e}"))?;
        check_resize(&self.model, self.data.resize).map_err(|e| format!("data.resize: {e}"))?;
        self.data
            .normalize
            .check()
            .map_err(|e| format!("data.normalize: {e}"))?;
        if self.data.limit == Some(0) {
            return Err("data.limit: must be at least 1 (leave it out to use every image)".into());
        }
        non_empty_path("data.dir", self.data.dir.as_deref())?;
        if let Some(tsv) = &self.data.tsv {
            non_empty_path("data.tsv.train", Some(&tsv.train))?;
            non_empty_path("data.tsv.test", Some(&tsv.test))?;
        }
        if let Some(idx) = &self.data.idx {
            if self.data.tsv.is_some() {
                return Err("data.idx: give either data.tsv or data.idx, not both".into());
            }
            for (key, path) in [
                ("data.idx.train_images", &idx.train_images),
                ("data.idx.train_labels", &idx.train_labels),
                ("data.idx.test_images", &idx.test_images),
                ("data.idx.test_labels", &idx.test_labels),
            ] {
                non_empty_path(key, Some(path))?;
            }
        }
        if self.data.names_files() && self.data.dir.is_some() {
            return Err(
                "data.dir: has no effect when data.tsv or data.idx names the files; remove one"
                    .into(),
            );
        }
        non_empty_path("output.dir", self.output.dir.as_deref())?;
        non_empty_path("training.init_from", self.training.init_from.as_deref())?;
        let t = &self.training;
        if !(1..=MAX_EPOCHS).contains(&t.epochs) {
            return Err(format!(
                "training.epochs: must be 1 to {MAX_EPOCHS}, got {}",
                t.epochs
            ));
        }
        if !(1..=MAX_BATCH_SIZE).contains(&t.batch_size) {
            return Err(format!(
                "training.batch_size: must be 1 to {MAX_BATCH_SIZE}, got {}",
                t.batch_size
            ));
        }
        positive("optimizer.lr", self.optimizer.lr())?;
        match self.optimizer {
            OptimizerConfig::Sgd {
                momentum,
                weight_decay,
                nesterov,
                ..
            } => {
                if !(0.0..1.0).contains(&momentum) {
                    return Err(format!(
                        "optimizer.momentum: must be in [0, 1), got {momentum}"
                    ));
                }
                if nesterov && momentum == 0.0 {
                    return Err("optimizer.nesterov: needs a momentum above 0".into());
                }
                non_negative("optimizer.weight_decay", weight_decay)?;
            }
            OptimizerConfig::Adam { weight_decay, .. }
            | OptimizerConfig::AdamW { weight_decay, .. } => {
                non_negative("optimizer.weight_decay", weight_decay)?;
            }
        }
        match self.schedule {
            ScheduleConfig::Constant => {}
            ScheduleConfig::Step {
                every_epochs,
                gamma,
            } => {
                if every_epochs == 0 {
                    return Err("schedule.every_epochs: must be at least 1".into());
                }
                unit_interval("schedule.gamma", gamma)?;
            }
            ScheduleConfig::Exponential { gamma } => unit_interval("schedule.gamma", gamma)?,
            ScheduleConfig::Cosine { min_lr } => {
                non_negative("schedule.min_lr", min_lr)?;
                if min_lr >= self.optimizer.lr() {
                    return Err(format!(
                        "schedule.min_lr: must be below optimizer.lr ({}), got {min_lr}",
                        self.optimizer.lr()
                    ));
                }
            }
        }
        if self.checkpoint.every == 0 {
            return Err("checkpoint.every: must be at least 1".into());
        }
        if self.output.log_every == Some(0) {
            return Err("output.log_every: must be at least 1 (leave it out for none)".into());
        }
        if self.checkpoint.every_batches == Some(0) {
            return Err(
                "checkpoint.every_batches: must be at least 1 (leave it out for none)".into(),
            );
        }
        if self.checkpoint.keep < 2 {
            // Burn saves the three parts of a checkpoint on separate threads; while the newest
            // is being written, only the one before it is guaranteed whole.
            return Err(format!(
                "checkpoint.keep: must be at least 2 so that a run killed while saving can resume, got {}",
                self.checkpoint.keep
            ));
        }
        Ok(())
    }
}

/// Whether `resize` gives the image side `model` expects; the message says what would.
pub fn check_resize(model: &ModelConfig, resize: Resize) -> Result<(), String> {
    let input = model.input_size();
    let side = data::MnistBatcher::new(Normalization::Unit, resize).output_size();
    if input == side {
        return Ok(());
    }
    Err(format!(
        "the model `{}` expects {input}x{input} images but `resize = \"{}\"` gives {side}x{side}; use resize = \"{}\"",
        model.describe(),
        resize_name(resize),
        if input == 32 {
            "bilinear32\" or \"pad32"
        } else {
            "none"
        },
    ))
}

/// An empty path would silently mean the current directory.
fn non_empty_path(key: &str, path: Option<&Path>) -> Result<(), String> {
    match path {
        Some(p) if p.as_os_str().is_empty() => Err(format!(
            "{key}: is empty; give a path (or leave the key out)"
        )),
        _ => Ok(()),
    }
}

fn resize_name(resize: Resize) -> &'static str {
    match resize {
        Resize::None => "none",
        Resize::Bilinear32 => "bilinear32",
        Resize::Pad32 => "pad32",
    }
}

fn positive(key: &str, value: f64) -> Result<(), String> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(format!("{key}: must be a positive number, got {value}"))
    }
}

fn non_negative(key: &str, value: f64) -> Result<(), String> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(format!("{key}: must be zero or positive, got {value}"))
    }
}

fn unit_interval(key: &str, value: f64) -> Result<(), String> {
    if value > 0.0 && value <= 1.0 {
        Ok(())
    } else {
        Err(format!("{key}: must be in (0, 1], got {value}"))
    }
}
