//! The classifier as Burn's Learner trains it. [`Trainee`] wraps it to add one thing: a hook
//! after every optimizer step that saves a mid-epoch checkpoint every
//! `checkpoint.every_batches` batches, so that a kill in a long epoch loses at most that many.
//!
//! Burn checkpoints only at the end of an epoch, and its Learner hands its optimizer to nothing
//! but `TrainStep::optimize`: overriding that is the one place a step can be saved from.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use burn::module::Module;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::train::checkpoint::Checkpoint;
use burn::train::{ClassificationOutput, InferenceStep, TrainOutput, TrainStep};
use model::{Classifier, ImageBatch};

use crate::config::TrainConfig;
use crate::error::Error;
use crate::failure::WriteFailure;
use crate::run_dir::names::CHECKPOINT_PARTS;
use crate::run_dir::position::{Position, checkpoint_path};
use crate::training::optimizer;

#[derive(Module, Debug)]
pub struct Trainee {
    pub classifier: Classifier,
    #[module(skip)]
    saver: Option<Arc<MidEpochSaver>>,
}

impl Trainee {
    pub fn new(classifier: Classifier, saver: Option<Arc<MidEpochSaver>>) -> Self {
        Self { classifier, saver }
    }
}

impl TrainStep for Trainee {
    type Input = ImageBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: ImageBatch) -> TrainOutput<ClassificationOutput> {
        let item = self
            .classifier
            .forward_classification(batch.images, batch.targets);
        TrainOutput::new(self, item.loss.backward(), item)
    }

    fn optimize(
        self,
        optim: &mut ModuleOptimizer,
        lr: ModuleLearningRate,
        grads: GradientsParams,
    ) -> Self {
        let model = optim.step(lr, self, grads);
        if let Some(saver) = &model.saver {
            saver.after_step(&model, optim);
        }
        model
    }
}

impl InferenceStep for Trainee {
    type Input = ImageBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: ImageBatch) -> ClassificationOutput {
        self.classifier
            .forward_classification(batch.images, batch.targets)
    }
}

/// Saves the model, the optimizer and the schedule every `every` batches, in the same three
/// files an end-of-epoch checkpoint has (`model-4-200.bpk`: epoch 4, after 200 batches), and
/// removes the mid-epoch checkpoint it supersedes once the new one is whole. A failed save
/// removes its own partial files and stops the run (see [`WriteFailure`]).
pub struct MidEpochSaver {
    dir: PathBuf,
    every: usize,
    iters_per_epoch: usize,
    config: TrainConfig,
    /// Optimizer steps taken so far in the run, counting those before a resume.
    steps: AtomicUsize,
    /// The mid-epoch checkpoint on disk, removed when the next one is complete.
    saved: Mutex<Option<Position>>,
    failure: WriteFailure,
}

impl std::fmt::Debug for MidEpochSaver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MidEpochSaver")
            .field("dir", &self.dir)
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

impl MidEpochSaver {
    /// A saver for a run starting at `start` (the checkpoint resumed from, or the beginning).
    pub fn new(
        dir: PathBuf,
        every: usize,
        iters_per_epoch: usize,
        config: TrainConfig,
        start: Position,
        failure: WriteFailure,
    ) -> Self {
        Self {
            dir,
            every: every.max(1),
            iters_per_epoch,
            config,
            steps: AtomicUsize::new(start.steps(iters_per_epoch)),
            saved: Mutex::new((start.batches > 0).then_some(start)),
            failure,
        }
    }

    fn after_step(&self, model: &Trainee, optim: &ModuleOptimizer) {
        let steps = self.steps.fetch_add(1, Ordering::SeqCst) + 1;
        let position = Position::from_steps(steps, self.iters_per_epoch);
        if position.batches == 0 || !position.batches.is_multiple_of(self.every) {
            return;
        }
        if let Err(e) = self.save(position, steps, model, optim) {
            match e {
                Error::Io { path, source } => self.failure.record(&path, source),
                other => self
                    .failure
                    .record(&self.dir, std::io::Error::other(other.to_string())),
            }
        }
    }

    fn save(
        &self,
        position: Position,
        steps: usize,
        model: &Trainee,
        optim: &ModuleOptimizer,
    ) -> Result<(), Error> {
        let encode = |what: &str, e: &dyn std::fmt::Display| {
            Error::Training(format!(
                "encoding the {what} for a mid-epoch checkpoint: {e}"
            ))
        };
        let model = model
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| encode("model", &e))?;
        let optim = optim
            .to_record()
            .checkpoint_into_bytes()
            .map_err(|e| encode("optimizer state", &e))?;
        let schedule = optimizer::schedule_after(&self.config, self.iters_per_epoch, steps)?
            .to_record()
            .checkpoint_into_bytes()
            .map_err(|e| encode("schedule", &e))?;
        for (part, bytes) in CHECKPOINT_PARTS.into_iter().zip([model, optim, schedule]) {
            let path = checkpoint_path(&self.dir, part, position);
            if let Err(e) = files::write_atomic(&path, &bytes) {
                // The parts already written are no checkpoint without this one.
                for part in CHECKPOINT_PARTS {
                    let _ = std::fs::remove_file(checkpoint_path(&self.dir, part, position));
                }
                return Err(Error::io(&path)(e));
            }
        }
        let previous = self
            .saved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(position);
        if let Some(previous) = previous {
            for part in CHECKPOINT_PARTS {
                let _ = std::fs::remove_file(checkpoint_path(&self.dir, part, previous));
            }
        }
        Ok(())
    }
}
