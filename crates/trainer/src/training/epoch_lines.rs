//! What training prints while it runs: [`EpochLines`], the renderer for logs and CI, one stable,
//! greppable line per epoch. (Burn's own CLI renderer prints every batch; the terminal dashboard
//! is used when stdout is a tty.)

use std::collections::HashMap;
use std::time::Instant;

use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};

use crate::console;
use crate::training::progress::{ACCURACY, LOSS, LR};

/// Prints `epoch 3/10  train loss 0.0412 acc 98.71%  valid loss 0.0398 acc 98.80%  lr 1.000e-2
/// 2712 images/s` once per epoch and, with `[output] log_every = N`, a line every N training
/// batches with the mean loss and accuracy of those batches and their speed
/// (`epoch 3/10  batch 200/860  loss 0.0398 acc 98.83%  2741 images/s`), the way the seed
/// tutorials print (Caffe2 every 25 iterations, PyTorch every 100 batches, MXNet's Speedometer).
pub struct EpochLines {
    names: HashMap<MetricId, String>,
    total_epochs: usize,
    train: HashMap<String, f64>,
    valid: HashMap<String, f64>,
    lr: Option<f64>,
    log_every: Option<usize>,
    batch_size: usize,
    /// The epoch being trained, and its number of batches.
    epoch: usize,
    batches_total: usize,
    /// Training batches seen this epoch (one loss value each).
    batches: usize,
    window: Window,
    /// Batches of this epoch a mid-epoch resume skipped (batch numbers count them).
    skipped: usize,
    /// When this epoch's training split started, the images done before its first reported
    /// batch, and the images done by the last one.
    split: Option<(Instant, Option<usize>, usize)>,
    images_per_sec: Option<f64>,
}

/// The batches since the last batch line.
struct Window {
    loss: f64,
    accuracy: f64,
    accuracies: usize,
    batches: usize,
    since: Instant,
}

impl Window {
    fn new() -> Self {
        Self {
            loss: 0.0,
            accuracy: 0.0,
            accuracies: 0,
            batches: 0,
            since: Instant::now(),
        }
    }
}

impl EpochLines {
    pub fn new(log_every: Option<usize>, batch_size: usize) -> Self {
        Self {
            names: HashMap::new(),
            total_epochs: 0,
            train: HashMap::new(),
            valid: HashMap::new(),
            lr: None,
            log_every,
            batch_size,
            epoch: 1,
            batches_total: 0,
            batches: 0,
            window: Window::new(),
            skipped: 0,
            split: None,
            images_per_sec: None,
        }
    }

    fn record(&mut self, state: MetricState, valid: bool) {
        let MetricState::Numeric(entry, Some(value)) = state else {
            return;
        };
        let Some(name) = self.names.get(&entry.metric_id).cloned() else {
            return;
        };
        match value {
            NumericEntry::Final(v) if valid => {
                self.valid.insert(name, v);
            }
            NumericEntry::Final(v) => {
                self.train.insert(name, v);
            }
            v if name == LR => self.lr = Some(v.current()),
            v if valid => {
                let _ = v;
            }
            v if name == ACCURACY => {
                self.window.accuracy += v.current();
                self.window.accuracies += 1;
            }
            v if name == LOSS => {
                self.window.loss += v.current();
                self.window.batches += 1;
                self.batches += 1;
                if self
                    .log_every
                    .is_some_and(|every| self.window.batches >= every)
                {
                    self.batch_line();
                }
            }
            _ => {}
        }
    }

    fn batch_line(&mut self) {
        let w = std::mem::replace(&mut self.window, Window::new());
        let images = (w.batches * self.batch_size) as f64;
        console::progress(format!(
            "epoch {}/{}  batch {}/{}  loss {:.4} acc {:.2}%  {:.0} images/s",
            self.epoch,
            self.total_epochs,
            self.skipped + self.batches,
            self.batches_total,
            w.loss / w.batches.max(1) as f64,
            w.accuracy / w.accuracies.max(1) as f64,
            images / w.since.elapsed().as_secs_f64().max(1e-9),
        ));
    }

    fn line(&self, epoch: usize) -> String {
        let mut line = format!("epoch {epoch}/{}", self.total_epochs);
        for (split, values) in [("train", &self.train), ("valid", &self.valid)] {
            if let (Some(loss), Some(acc)) = (values.get(LOSS), values.get(ACCURACY)) {
                line += &format!("  {split} loss {loss:.4} acc {acc:.2}%");
            }
        }
        if let Some(lr) = self.lr {
            line += &format!("  lr {lr:.3e}");
        }
        if let Some(rate) = self.images_per_sec {
            line += &format!("  {rate:.0} images/s");
        }
        line
    }
}

impl MetricsRendererTraining for EpochLines {
    fn update_train(&mut self, state: MetricState) {
        self.record(state, false);
    }

    fn update_valid(&mut self, state: MetricState) {
        self.record(state, true);
    }
}

impl MetricsRendererEvaluation for EpochLines {
    fn update_test(&mut self, _: EvaluationName, _: MetricState) {}
}

impl TrainingProgressLogger for EpochLines {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        _: Option<usize>,
        _: Option<&str>,
    ) {
        self.total_epochs = total_epochs;
        self.epoch = starting_epoch;
        // A resume of a run killed after its last checkpoint trains nothing, only finishes it.
        console::progress(if starting_epoch > total_epochs {
            format!("all {total_epochs} epochs are trained; finishing the run")
        } else {
            format!("training epochs {starting_epoch}-{total_epochs}")
        });
    }

    fn update_epoch(&mut self, epoch: usize) {
        console::progress(self.line(epoch));
        self.train.clear();
        self.valid.clear();
        self.images_per_sec = None;
        self.epoch = epoch + 1;
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        if split == "train" {
            self.split = Some((Instant::now(), None, 0));
            self.batches_total = total_items.div_ceil(self.batch_size);
            self.batches = 0;
            self.skipped = 0;
            self.window = Window::new();
        }
    }

    fn update_split(&mut self, items_processed: usize) {
        if let Some((_, first, last)) = &mut self.split {
            if first.is_none() {
                let before = items_processed.saturating_sub(self.batch_size);
                *first = Some(before);
                self.skipped = before.div_ceil(self.batch_size);
            }
            *last = items_processed;
        }
    }

    fn end_split(&mut self) {
        if let Some((started, Some(first), last)) = self.split.take() {
            let images = last.saturating_sub(first) as f64;
            self.images_per_sec = Some(images / started.elapsed().as_secs_f64().max(1e-9));
        }
    }

    fn end(&mut self) {}

    fn log_event_training(&mut self, _: String) {}
}

impl EvaluationProgressLogger for EpochLines {
    fn start_global_progress(&mut self, _: usize) {}

    fn start_test(&mut self, _: &str, _: usize) {}

    fn update_test_progress(&mut self, _: usize) {}

    fn end_test(&mut self) {}

    fn end_global_progress(&mut self) {}

    fn log_event_evaluation(&mut self, _: String) {}
}

impl MetricsRenderer for EpochLines {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id, definition.name.to_string());
    }
}
