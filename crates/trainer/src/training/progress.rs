//! What training records while it runs (the lines it prints are `epoch_lines.rs`).
//!
//! - [`Recorder`]: keeps the per-epoch and per-iteration numbers that end up in `metrics.json`
//!   and the training curves, by plugging a metric logger and a progress logger into the Learner;
//!   and stops training at the first non-finite loss when asked to.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::train::Interrupter;
use burn::train::logger::{MetricLogger, TrainingProgressLogger};
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};

use crate::error::Error;
use crate::failure::WriteFailure;
use crate::run_dir::history::{History, IterationRecord};

// The names Burn's metrics register under.
pub const LOSS: &str = "Loss";
pub const ACCURACY: &str = "Accuracy";
pub const LR: &str = "Learning Rate";

/// Runs of at most this many epochs keep per-iteration points and get a per-iteration curve:
/// their per-epoch curves have too few points to show anything.
pub const SHORT_RUN_EPOCHS: usize = 3;

/// A cap on per-iteration points, so a short run over a huge dataset stays small on disk.
pub const MAX_ITERATION_POINTS: usize = 5_000;

/// Where a run diverged: the epoch and the first non-finite batch loss seen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Divergence {
    pub epoch: usize,
    pub loss: f64,
}

/// A shared handle on the [`History`] being recorded.
#[derive(Clone)]
pub struct Recorder {
    history: Arc<Mutex<History>>,
    keep_iterations: bool,
    /// Stops training at the first non-finite loss, when set.
    stop_on_nan: Option<Interrupter>,
    diverged: Arc<Mutex<Option<Divergence>>>,
}

impl Recorder {
    pub fn new(history: History, keep_iterations: bool, stop_on_nan: Option<Interrupter>) -> Self {
        Self {
            history: Arc::new(Mutex::new(history)),
            keep_iterations,
            stop_on_nan,
            diverged: Arc::default(),
        }
    }

    pub fn snapshot(&self) -> History {
        self.lock().clone()
    }

    /// The first non-finite training loss, if one was seen.
    pub fn divergence(&self) -> Option<Divergence> {
        *self.diverged.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn saw_loss(&self, epoch: usize, loss: f64) {
        if loss.is_finite() {
            return;
        }
        let mut diverged = self.diverged.lock().unwrap_or_else(|e| e.into_inner());
        if diverged.is_some() {
            return;
        }
        *diverged = Some(Divergence { epoch, loss });
        if let Some(interrupter) = &self.stop_on_nan {
            interrupter.stop(Some(&format!("the loss became {loss} in epoch {epoch}")));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, History> {
        // A panic elsewhere must not hide the numbers recorded so far.
        self.history.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A metric logger that also saves the history to `path` after every epoch, so that a run
    /// killed mid-way still has the curves of the epochs it finished.
    pub fn metric_logger(&self, path: PathBuf, failure: WriteFailure) -> HistoryLogger {
        HistoryLogger {
            recorder: self.clone(),
            path,
            failure,
            names: HashMap::new(),
            iteration: HashMap::new(),
        }
    }

    pub fn split_timer(&self) -> SplitTimer {
        SplitTimer {
            recorder: self.clone(),
            epoch: 0,
            split: String::new(),
            started: None,
            items: 0,
        }
    }
}

/// Records epoch values (Burn's `Final` entries) and, for train, every batch's loss and accuracy.
pub struct HistoryLogger {
    recorder: Recorder,
    path: PathBuf,
    failure: WriteFailure,
    names: HashMap<MetricId, String>,
    /// Iterations seen per epoch, to number the per-iteration points.
    iteration: HashMap<usize, usize>,
}

impl MetricLogger for HistoryLogger {
    fn log(&mut self, update: MetricsUpdate, epoch: usize, split: &Split) {
        let mut history = self.recorder.lock();
        let mut batch_loss = None;
        let mut batch_accuracy = None;
        for numeric in update.entries_numeric {
            let Some(name) = self.names.get(&numeric.entry.metric_id) else {
                continue;
            };
            let Some(value) = numeric.numeric_entry else {
                continue;
            };
            let record = history.epoch_mut(epoch);
            match (value, name.as_str(), split) {
                (NumericEntry::Final(v), LOSS, Split::Train) => record.train_loss = Some(v),
                (NumericEntry::Final(v), ACCURACY, Split::Train) => {
                    record.train_accuracy = Some(v / 100.0)
                }
                (NumericEntry::Final(v), LOSS, Split::Valid) => record.valid_loss = Some(v),
                (NumericEntry::Final(v), ACCURACY, Split::Valid) => {
                    record.valid_accuracy = Some(v / 100.0)
                }
                (NumericEntry::Final(_), _, _) => {}
                (v, LR, Split::Train) => record.lr = Some(v.current()),
                (v, LOSS, Split::Train) => batch_loss = Some(v.current()),
                (v, ACCURACY, Split::Train) => batch_accuracy = Some(v.current() / 100.0),
                _ => {}
            }
        }
        drop(history);
        if let Some(loss) = batch_loss {
            self.recorder.saw_loss(epoch, loss);
        }
        let mut history = self.recorder.lock();
        if let (Some(loss), Some(accuracy)) = (batch_loss, batch_accuracy)
            && self.recorder.keep_iterations
            && history.iterations.len() < MAX_ITERATION_POINTS
        {
            let iteration = self.iteration.entry(epoch).or_default();
            *iteration += 1;
            let iteration = *iteration;
            history.iterations.push(IterationRecord {
                epoch,
                iteration,
                loss,
                accuracy,
            });
        }
    }

    fn read_numeric(&mut self, _: &str, _: usize, _: &Split) -> Result<Vec<NumericEntry>, String> {
        Err("the history logger only records; Burn's file logger answers reads".into())
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id, definition.name.to_string());
    }

    fn log_epoch_summary(&mut self, summary: EpochSummary) {
        if summary.split == Split::Valid {
            // A history that cannot be saved would leave a resumed run without its earlier
            // epochs: stop, as for any other failed write.
            if let Err(e) = self.recorder.snapshot().save(&self.path) {
                let source = match e {
                    Error::Io { source, .. } => source,
                    other => std::io::Error::other(other.to_string()),
                };
                self.failure.record(&self.path, source);
            }
        }
    }
}

/// Times each epoch's training split, for `train_images_per_sec`.
pub struct SplitTimer {
    recorder: Recorder,
    epoch: usize,
    split: String,
    started: Option<Instant>,
    items: usize,
}

impl TrainingProgressLogger for SplitTimer {
    fn start(&mut self, _: usize, starting_epoch: usize, _: Option<usize>, _: Option<&str>) {
        self.epoch = starting_epoch;
    }

    fn update_epoch(&mut self, epoch: usize) {
        self.epoch = epoch + 1;
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        self.split = split.to_string();
        self.items = total_items;
        self.started = Some(Instant::now());
    }

    fn update_split(&mut self, _: usize) {}

    fn end_split(&mut self) {
        if self.split == "train"
            && let Some(started) = self.started.take()
        {
            let mut history = self.recorder.lock();
            let record = history.epoch_mut(self.epoch);
            record.train_seconds = Some(started.elapsed().as_secs_f64());
            record.train_images = self.items;
        }
    }

    fn end(&mut self) {}

    fn log_event_training(&mut self, _: String) {}
}
