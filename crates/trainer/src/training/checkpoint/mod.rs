//! Checkpoints: Burn's `FileCheckpointer` layout (`checkpoint/model-N.bpk`, `optim-N.bpk`,
//! `scheduler-N.bpk`) written through the workspace's atomic writer, a strategy that saves
//! every N epochs and keeps the last few, and [`checked::CheckedCheckpoint`]: the three records of one
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

use burn::tensor::Bytes;
use burn::train::checkpoint::{
    Checkpoint, Checkpointer, CheckpointerError, CheckpointingAction, CheckpointingStrategy,
};
use burn::train::metric::store::EventStoreClient;

use crate::failure::WriteFailure;
use crate::run_dir::names::CHECKPOINT_PARTS;
use crate::run_dir::position::{Position, checkpoint_path};

pub mod checked;
pub mod inventory;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::checkpoint::inventory::Inventory;

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
}
