//! Checkpoints: Burn's `FileCheckpointer` layout (`checkpoint/model-N.bpk`, `optim-N.bpk`,
//! `scheduler-N.bpk`) written through the workspace's atomic writer, a strategy that saves
//! every N epochs and keeps the last few, and [`CheckedCheckpoint`]: the three records of one
//! epoch read once and checked against the run before Burn is given them.
//!
//! Rotation happens after success: Burn's Learner saves the three parts on three threads and
//! then asks each thread to delete an older epoch, even when its save failed. [`Rotation`]
//! holds every delete back until all three parts of a newer checkpoint are whole on disk, so a
//! failed save (a full disk) never costs the last whole checkpoint.
//!
//! Burn restores a checkpoint with `expect`s, silently drops optimizer state it cannot match,
//! and restarts a schedule whose record it cannot read. So the trainer never lets Burn read a
//! checkpoint file: [`AtomicFileCheckpointer::restore`] hands back the bytes that were checked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use burn::tensor::{Bytes, Device};
use burn::train::checkpoint::{
    Checkpoint, Checkpointer, CheckpointerError, CheckpointingAction, CheckpointingStrategy,
};
use burn::train::metric::store::EventStoreClient;
use model::pack::{self, Expected, Problems, Scalar};

use crate::config::{OptimizerConfig, TrainConfig, model_differences};
use crate::error::Error;
use crate::failure::WriteFailure;
use crate::run_dir::model_dir::ModelDir;
use crate::run_dir::names::{CHECKPOINT_PARTS, MODEL_CONFIG, WEIGHTS};
use crate::run_dir::position::{Position, checkpoint_path, parse_checkpoint_name};
use crate::training::optimizer;
use crate::training::trainee::Trainee;
use model::{Classifier, ModelConfig};

/// Saves one record kind (model, optimizer or scheduler) per epoch, atomically; restores only
/// the checked bytes it was given.
pub struct AtomicFileCheckpointer {
    dir: PathBuf,
    part: &'static str,
    checked: Mutex<Option<(usize, Bytes)>>,
    rotation: Arc<Rotation>,
    failure: WriteFailure,
}

impl AtomicFileCheckpointer {
    pub fn new(
        dir: &Path,
        part: &'static str,
        checked: Option<(usize, Bytes)>,
        rotation: Arc<Rotation>,
        failure: WriteFailure,
    ) -> Self {
        Self {
            dir: dir.to_path_buf(),
            part,
            checked: Mutex::new(checked),
            rotation,
            failure,
        }
    }
}

impl<R: Checkpoint> Checkpointer<R> for AtomicFileCheckpointer {
    fn save(&self, epoch: usize, record: R) -> Result<(), CheckpointerError> {
        let bytes = record
            .checkpoint_into_bytes()
            .map_err(CheckpointerError::Record)?;
        let path = checkpoint_path(&self.dir, self.part, Position::end_of(epoch));
        match files::write_atomic(&path, &bytes) {
            Ok(()) => self.rotation.saved(&self.dir, epoch),
            Err(e) => {
                let message = format!("{}: {e}", path.display());
                self.failure.record(&path, e);
                Err(CheckpointerError::Unknown(message))
            }
        }
    }

    fn restore(&self, epoch: usize) -> Result<R, CheckpointerError> {
        let checked = self
            .checked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match checked {
            Some((e, bytes)) if e == epoch => {
                R::checkpoint_from_bytes(bytes).map_err(CheckpointerError::Record)
            }
            _ => Err(CheckpointerError::Unknown(format!(
                "{}-{epoch}.bpk was not checked before the resume",
                self.part
            ))),
        }
    }

    fn delete(&self, epoch: usize) -> Result<(), CheckpointerError> {
        self.rotation.delete_when_superseded(&self.dir, epoch)
    }
}

/// The end-of-epoch checkpoints saved in this run, and the deletes the keep-last strategy asked
/// for; shared by the three checkpointers.
#[derive(Default)]
pub struct Rotation {
    state: Mutex<RotationState>,
}

#[derive(Default)]
struct RotationState {
    /// Parts saved whole, by epoch.
    saved: BTreeMap<usize, usize>,
    /// Epochs to delete once a newer checkpoint is whole.
    doomed: BTreeSet<usize>,
}

impl Rotation {
    fn saved(&self, dir: &Path, epoch: usize) -> Result<(), CheckpointerError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        *state.saved.entry(epoch).or_default() += 1;
        Self::rotate(dir, &mut state)
    }

    fn delete_when_superseded(&self, dir: &Path, epoch: usize) -> Result<(), CheckpointerError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.doomed.insert(epoch);
        Self::rotate(dir, &mut state)
    }

    /// Deletes the doomed checkpoints older than the newest whole one.
    fn rotate(dir: &Path, state: &mut RotationState) -> Result<(), CheckpointerError> {
        let whole = state
            .saved
            .iter()
            .filter(|&(_, &parts)| parts == CHECKPOINT_PARTS.len())
            .map(|(&epoch, _)| epoch)
            .max();
        let Some(whole) = whole else {
            return Ok(());
        };
        let due: Vec<usize> = state.doomed.range(..whole).copied().collect();
        for epoch in due {
            for part in CHECKPOINT_PARTS {
                match std::fs::remove_file(checkpoint_path(dir, part, Position::end_of(epoch))) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(CheckpointerError::IOError(e));
                    }
                    _ => {}
                }
            }
            state.doomed.remove(&epoch);
        }
        Ok(())
    }
}

/// Save every `every` epochs and after the last one; keep the newest `keep` checkpoints.
pub struct EveryNKeepLast {
    pub every: usize,
    pub keep: usize,
    pub last_epoch: usize,
    /// Epochs saved so far, oldest first, including those found on disk when resuming.
    pub saved: Vec<usize>,
}

impl CheckpointingStrategy for EveryNKeepLast {
    fn checkpointing(&mut self, epoch: usize, _: &EventStoreClient) -> Vec<CheckpointingAction> {
        self.actions(epoch)
    }
}

impl EveryNKeepLast {
    fn actions(&mut self, epoch: usize) -> Vec<CheckpointingAction> {
        if !epoch.is_multiple_of(self.every) && epoch != self.last_epoch {
            return Vec::new();
        }
        self.saved.retain(|&e| e != epoch);
        self.saved.push(epoch);
        let mut actions = vec![CheckpointingAction::Save];
        while self.saved.len() > self.keep {
            actions.push(CheckpointingAction::Delete(self.saved.remove(0)));
        }
        actions
    }
}

/// What the checkpoint directory holds, by position.
#[derive(Debug, Default, PartialEq)]
pub struct Inventory {
    /// Positions with all three parts, oldest first.
    pub complete: Vec<Position>,
    /// Positions with some parts only (a save or a delete cut short), and those being discarded.
    pub partial: BTreeSet<Position>,
}

impl Inventory {
    /// Reads `dir`; `discarding` positions (see the manifest) never count as complete.
    pub fn of(dir: &Path, discarding: &BTreeSet<Position>) -> Self {
        let mut parts: BTreeMap<Position, usize> = BTreeMap::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let is_file = entry.file_type().is_ok_and(|t| t.is_file());
                if let Some((_, position)) =
                    parse_checkpoint_name(&entry.file_name().to_string_lossy())
                    && is_file
                {
                    *parts.entry(position).or_default() += 1;
                }
            }
        }
        let mut inventory = Self::default();
        for (position, count) in parts {
            if count == CHECKPOINT_PARTS.len() && !discarding.contains(&position) {
                inventory.complete.push(position);
            } else {
                inventory.partial.insert(position);
            }
        }
        inventory.partial.extend(discarding);
        inventory
    }

    /// The newest complete end-of-epoch checkpoint.
    pub fn last_epoch(&self) -> Option<usize> {
        self.complete
            .iter()
            .rev()
            .find(|p| p.batches == 0)
            .map(|p| p.epochs)
    }

    /// Complete mid-epoch checkpoints.
    pub fn mid_epoch(&self) -> impl Iterator<Item = Position> + '_ {
        self.complete.iter().copied().filter(|p| p.batches > 0)
    }
}

/// The three records of one checkpoint, each read once and checked against the run: the model
/// against the network, the optimizer state against the model's parameters (ids, shapes, step
/// count), the schedule against the position it must have reached.
pub struct CheckedCheckpoint {
    pub position: Position,
    pub model: Bytes,
    pub optim: Bytes,
    pub scheduler: Bytes,
}

impl CheckedCheckpoint {
    pub fn load(
        dir: &Path,
        position: Position,
        config: &TrainConfig,
        iters_per_epoch: usize,
        device: &Device,
    ) -> Result<Self, Error> {
        let steps = position.steps(iters_per_epoch);
        // Checkpoints hold the model as the Learner trains it: the classifier in its wrapper.
        let fresh = Trainee::new(config.model.init(&device.clone().autodiff())?, None);
        let expected = pack::expected(&fresh);

        let model_path = checkpoint_path(dir, "model", position);
        let (model, model_pack) = pack::read(&model_path, pack::size_limit(&expected))?;
        let network = format!("{} network", config.model.describe());
        pack::compare(&model_path, &model_pack, &expected, &network)?;
        // Optimizer state is keyed by the parameter ids the model file carries.
        let ids: Vec<(u64, &Expected)> = expected
            .iter()
            .filter_map(|e| Some((model_pack.tensors.get(&e.name)?.param_id?, e)))
            .collect();

        let optim_path = checkpoint_path(dir, "optim", position);
        let (optim, optim_pack) = pack::read(&optim_path, 3 * pack::size_limit(&expected))?;
        check_optimizer(&optim_path, &optim_pack, &config.optimizer, &ids, steps)?;

        let scheduler_path = checkpoint_path(dir, "scheduler", position);
        let (scheduler, scheduler_pack) = pack::read(&scheduler_path, 1 << 20)?;
        let reference = optimizer::schedule_after(config, iters_per_epoch, steps)?
            .to_record()
            .checkpoint_into_bytes()
            .map_err(|e| Error::Training(format!("encoding the schedule: {e}")))?;
        let reference = pack::parse(Path::new("the expected schedule"), &reference)?;
        let mut problems = Problems::default();
        if !scheduler_pack.tensors.is_empty() {
            problems.push("holds tensors; a schedule record holds counters only".into());
        }
        problems.check_scalars(&reference.scalars, &scheduler_pack.scalars);
        problems.into_result(
            &scheduler_path,
            &format!("schedule after {steps} iterations ({position}, {iters_per_epoch} per epoch)"),
        )?;

        Ok(Self {
            position,
            model,
            optim,
            scheduler,
        })
    }

    /// The three checkpointers for a training run, resuming from this checkpoint's records.
    pub fn into_checkpointers(
        this: Option<Self>,
        dir: &Path,
        failure: &WriteFailure,
    ) -> [AtomicFileCheckpointer; 3] {
        let (model, optim, scheduler) = match this {
            Some(c) => {
                // Burn restores "epoch N" to start at N + 1: a mid-epoch checkpoint in epoch
                // N + 1 is handed over as that (the data loader skips the batches it covered).
                let epoch = c.position.epochs;
                (
                    Some((epoch, c.model)),
                    Some((epoch, c.optim)),
                    Some((epoch, c.scheduler)),
                )
            }
            None => (None, None, None),
        };
        let rotation = Arc::new(Rotation::default());
        let part = |name, checked| {
            AtomicFileCheckpointer::new(dir, name, checked, rotation.clone(), failure.clone())
        };
        [
            part("model", model),
            part("optim", optim),
            part("scheduler", scheduler),
        ]
    }
}

/// The weights a new run starts from (`--init-from`): a model directory (whose `model.toml`
/// must describe the run's network), a weights file, or a checkpoint's `model-N.bpk`. Checked
/// like any weights file: a file of another network is an error naming what differs.
pub fn initial_weights(
    path: &Path,
    config: &ModelConfig,
    device: &Device,
) -> Result<Classifier, Error> {
    let meta = std::fs::metadata(path).map_err(Error::io(path))?;
    if meta.is_dir() {
        let saved = ModelDir::read_config(path)?;
        if saved != *config {
            return Err(Error::ConfigValue {
                path: path.join(MODEL_CONFIG),
                message: format!(
                    "--init-from: this model differs from the network the config asks for ({}); use the same [model] section",
                    model_differences(&saved, config)
                ),
            });
        }
        return Ok(model::load_weights(config, &path.join(WEIGHTS), device)?);
    }
    // A checkpoint holds the network inside the Learner's wrapper; a model.bpk holds it bare.
    let wrapped = Trainee::new(config.init(device)?, None);
    let bytes = pack::read_bytes(path, pack::size_limit(&pack::expected(&wrapped)))?;
    let file = pack::parse(path, &bytes)?;
    let what = format!("{} network", config.describe());
    if file
        .tensors
        .keys()
        .any(|name| name.starts_with("classifier."))
    {
        Ok(model::load_into(wrapped, path, bytes, &what)?.classifier)
    } else {
        Ok(model::load_into(config.init(device)?, path, bytes, &what)?)
    }
}

/// Checks an optimizer record against the parameters it must hold state for: exactly the state
/// tensors the optimizer keeps per parameter, each of its parameter's shape, tagged with its id,
/// and the step counter the checkpoint's epoch implies.
fn check_optimizer(
    path: &Path,
    file: &pack::Pack,
    config: &OptimizerConfig,
    params: &[(u64, &Expected)],
    steps: usize,
) -> Result<(), Error> {
    let (fields, counted): (&[&str], bool) = match *config {
        OptimizerConfig::Sgd { momentum, .. } if momentum > 0.0 => (&["momentum.velocity"], false),
        OptimizerConfig::Sgd { .. } => (&[], false),
        OptimizerConfig::Adam { .. } | OptimizerConfig::AdamW { .. } => {
            (&["momentum.moment_1", "momentum.moment_2"], true)
        }
    };
    let mut problems = Problems::default();
    let mut wanted = BTreeSet::new();
    let mut scalars = BTreeMap::new();
    for &(id, param) in params {
        for field in fields {
            let name = format!("{id}.{field}");
            match file.tensors.get(&name) {
                None => problems.push(format!("state {name} of {} is missing", param.name)),
                Some(tensor) => {
                    if tensor.param_id != Some(id) {
                        problems.push(format!(
                            "state {name} is tagged with parameter {:?}, expected {id}",
                            tensor.param_id
                        ));
                    }
                    problems.check_tensor(
                        &format!("state {name} of {}", param.name),
                        tensor,
                        &param.shape,
                    );
                }
            }
            wanted.insert(name);
        }
        scalars.insert(
            format!("{id}.__rank"),
            Scalar::UInt(param.shape.len() as u64),
        );
        if counted {
            scalars.insert(format!("{id}.momentum.time"), Scalar::UInt(steps as u64));
        }
    }
    for name in file.tensors.keys().filter(|n| !wanted.contains(n.as_str())) {
        problems.push(format!("state {name} belongs to no parameter of the model"));
    }
    problems.check_scalars(&scalars, &file.scalars);
    let ids: BTreeSet<String> = params.iter().map(|(id, _)| id.to_string()).collect();
    for key in file.metadata.keys().filter(|k| !ids.contains(k.as_str())) {
        problems.push(format!(
            "metadata names parameter {key}, which the model does not have"
        ));
    }
    problems
        .into_result(path, &format!("optimizer state after {steps} steps"))
        .map_err(Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strategy(every: usize, keep: usize, last: usize) -> EveryNKeepLast {
        EveryNKeepLast {
            every,
            keep,
            last_epoch: last,
            saved: Vec::new(),
        }
    }

    #[test]
    fn saves_every_n_and_the_last_epoch_keeping_the_newest() {
        use CheckpointingAction::{Delete, Save};
        let mut s = strategy(2, 2, 5);
        let actions: Vec<_> = (1..=5).map(|epoch| (epoch, s.actions(epoch))).collect();
        assert_eq!(
            actions,
            vec![
                (1, vec![]),
                (2, vec![Save]),
                (3, vec![]),
                (4, vec![Save]),
                (5, vec![Save, Delete(2)]),
            ]
        );
    }

    #[test]
    fn a_resumed_run_deletes_the_oldest_of_the_checkpoints_it_found() {
        use CheckpointingAction::{Delete, Save};
        let mut s = strategy(1, 2, 6);
        s.saved = vec![2, 3];
        assert_eq!(s.actions(4), vec![Save, Delete(2)]);
        assert_eq!(s.actions(5), vec![Save, Delete(3)]);
    }

    #[test]
    fn an_older_checkpoint_is_deleted_only_once_a_newer_one_is_whole() {
        let dir = tempfile::tempdir().unwrap();
        let at = Position::end_of;
        for part in CHECKPOINT_PARTS {
            std::fs::write(checkpoint_path(dir.path(), part, at(1)), b"x").unwrap();
        }
        let rotation = Rotation::default();
        // Epoch 2: the model part is saved, the optimizer's save fails (nothing recorded),
        // and every thread goes on to ask for epoch 1's delete, as Burn's threads do.
        rotation.saved(dir.path(), 2).unwrap();
        for _ in CHECKPOINT_PARTS {
            rotation.delete_when_superseded(dir.path(), 1).unwrap();
        }
        let inventory = Inventory::of(dir.path(), &BTreeSet::new());
        assert_eq!(inventory.complete, vec![at(1)], "epoch 1 must survive");
        // Epoch 3 saved whole: now epoch 1 goes.
        for part in CHECKPOINT_PARTS {
            std::fs::write(checkpoint_path(dir.path(), part, at(3)), b"x").unwrap();
            rotation.saved(dir.path(), 3).unwrap();
        }
        let inventory = Inventory::of(dir.path(), &BTreeSet::new());
        assert_eq!(inventory.complete, vec![at(3)]);
    }

    #[test]
    fn only_checkpoints_with_every_part_and_not_discarded_count_as_complete() {
        let dir = tempfile::tempdir().unwrap();
        let at = Position::end_of;
        let mid = Position {
            epochs: 3,
            batches: 40,
        };
        for position in [at(1), at(3), mid, at(5)] {
            for part in CHECKPOINT_PARTS {
                std::fs::write(checkpoint_path(dir.path(), part, position), b"x").unwrap();
            }
        }
        // Epoch 4 was cut short after the model was written; epoch 5 is being discarded.
        std::fs::write(checkpoint_path(dir.path(), "model", at(4)), b"x").unwrap();
        // A directory with a checkpoint's name is not a checkpoint part.
        std::fs::create_dir(dir.path().join("model-6.bpk")).unwrap();
        let inventory = Inventory::of(dir.path(), &BTreeSet::from([at(5)]));
        assert_eq!(inventory.complete, vec![at(1), at(3), mid]);
        assert_eq!(inventory.partial, BTreeSet::from([at(4), at(5)]));
        assert_eq!(inventory.last_epoch(), Some(3));
        assert_eq!(inventory.mid_epoch().collect::<Vec<_>>(), vec![mid]);
    }
}
