//! Checkpoints that survive a crash: Burn's `FileCheckpointer` layout (`checkpoint/model-N.bpk`,
//! `optim-N.bpk`, `scheduler-N.bpk`), written through a temp file and a rename so that a run killed
//! at any moment leaves only whole files, and a strategy that saves every N epochs and keeps the
//! last few.

use std::path::{Path, PathBuf};

use burn::train::checkpoint::{
    Checkpoint, Checkpointer, CheckpointerError, CheckpointingAction, CheckpointingStrategy,
};
use burn::train::metric::store::EventStoreClient;

use crate::artifacts;

/// The three records Burn's Learner checkpoints, by file-name prefix.
pub const PARTS: [&str; 3] = ["model", "optim", "scheduler"];

pub fn dir(artifacts: &Path) -> PathBuf {
    artifacts.join("checkpoint")
}

pub fn path(dir: &Path, part: &str, epoch: usize) -> PathBuf {
    dir.join(format!("{part}-{epoch}.bpk"))
}

/// Saves one record kind (model, optimizer or scheduler) per epoch, atomically.
pub struct AtomicFileCheckpointer {
    dir: PathBuf,
    part: &'static str,
}

impl AtomicFileCheckpointer {
    pub fn new(dir: &Path, part: &'static str) -> Self {
        Self {
            dir: dir.to_path_buf(),
            part,
        }
    }
}

impl<R: Checkpoint> Checkpointer<R> for AtomicFileCheckpointer {
    fn save(&self, epoch: usize, record: R) -> Result<(), CheckpointerError> {
        let bytes = record
            .checkpoint_into_bytes()
            .map_err(CheckpointerError::Record)?;
        artifacts::write_file(&path(&self.dir, self.part, epoch), &bytes)
            .map_err(CheckpointerError::IOError)
    }

    fn restore(&self, epoch: usize) -> Result<R, CheckpointerError> {
        R::load(path(&self.dir, self.part, epoch))
    }

    fn delete(&self, epoch: usize) -> Result<(), CheckpointerError> {
        match std::fs::remove_file(path(&self.dir, self.part, epoch)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(CheckpointerError::IOError(e))
            }
            _ => Ok(()),
        }
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

/// Readies `dir` to continue from checkpoint `epoch`: removes the temp files of saves a killed
/// run never finished, the parts of epochs that never completed, and every checkpoint after
/// `epoch` (from the abandoned continuation), so the strategy never keeps or resumes a stale one.
/// Returns the complete epochs that remain, oldest first.
pub fn prepare_resume(dir: &Path, epoch: usize) -> std::io::Result<Vec<usize>> {
    let complete = complete_epochs(dir);
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale = name.starts_with(".tmp")
            || part_epoch(&name).is_some_and(|e| e > epoch || !complete.contains(&e));
        if stale {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(complete_epochs(dir))
}

/// The epoch of a part file name such as `optim-12.bpk`.
fn part_epoch(name: &str) -> Option<usize> {
    let stem = name.strip_suffix(".bpk")?;
    PARTS
        .iter()
        .find_map(|part| stem.strip_prefix(part)?.strip_prefix('-')?.parse().ok())
}

/// Epochs with all three parts on disk, oldest first.
pub fn complete_epochs(dir: &Path) -> Vec<usize> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut epochs: Vec<usize> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| {
            name.strip_prefix("model-")?
                .strip_suffix(".bpk")?
                .parse()
                .ok()
        })
        .filter(|&epoch| PARTS.iter().all(|part| path(dir, part, epoch).is_file()))
        .collect();
    epochs.sort_unstable();
    epochs
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

    fn run(mut s: EveryNKeepLast, epochs: usize) -> Vec<(usize, Vec<CheckpointingAction>)> {
        (1..=epochs)
            .map(|epoch| (epoch, s.actions(epoch)))
            .collect()
    }

    #[test]
    fn saves_every_n_and_the_last_epoch_keeping_the_newest() {
        use CheckpointingAction::{Delete, Save};
        let actions = run(strategy(2, 2, 5), 5);
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
    fn preparing_a_resume_drops_later_incomplete_and_partial_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for epoch in [1, 2, 4] {
            for part in PARTS {
                std::fs::write(path(d, part, epoch), b"x").unwrap();
            }
        }
        std::fs::write(path(d, "model", 3), b"x").unwrap(); // a save cut short
        std::fs::write(d.join(".tmpAbC12"), b"x").unwrap();
        assert_eq!(prepare_resume(d, 2).unwrap(), vec![1, 2]);
        let mut left: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "model-1.bpk",
                "model-2.bpk",
                "optim-1.bpk",
                "optim-2.bpk",
                "scheduler-1.bpk",
                "scheduler-2.bpk"
            ]
        );
    }

    #[test]
    fn only_epochs_with_every_part_count_as_complete() {
        let dir = tempfile::tempdir().unwrap();
        for part in PARTS {
            std::fs::write(path(dir.path(), part, 1), b"x").unwrap();
            std::fs::write(path(dir.path(), part, 3), b"x").unwrap();
        }
        // Epoch 4 was cut short after the model was written.
        std::fs::write(path(dir.path(), "model", 4), b"x").unwrap();
        assert_eq!(complete_epochs(dir.path()), vec![1, 3]);
    }
}
