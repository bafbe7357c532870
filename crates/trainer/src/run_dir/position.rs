//! Where a checkpoint stands in a run ([`Position`]: whole epochs and batches of the next), and
//! the checkpoint file names that encode it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::run_dir::names::CHECKPOINT_PARTS;

/// Where a checkpoint stands in a run: after `epochs` whole epochs and `batches` batches of
/// the next one (0 for the checkpoint taken at the end of an epoch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Position {
    pub epochs: usize,
    pub batches: usize,
}

impl Position {
    pub fn end_of(epoch: usize) -> Self {
        Self {
            epochs: epoch,
            batches: 0,
        }
    }

    /// Optimizer steps taken to get here.
    pub fn steps(self, iters_per_epoch: usize) -> usize {
        self.epochs * iters_per_epoch + self.batches
    }

    pub fn from_steps(steps: usize, iters_per_epoch: usize) -> Self {
        Self {
            epochs: steps / iters_per_epoch.max(1),
            batches: steps % iters_per_epoch.max(1),
        }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.batches {
            0 => write!(f, "epoch {}", self.epochs),
            b => write!(f, "epoch {}, batch {b}", self.epochs + 1),
        }
    }
}

/// `checkpoint/optim-3.bpk` at the end of epoch 3; `checkpoint/optim-4-200.bpk` in epoch 4
/// after 200 batches (a mid-epoch checkpoint).
pub fn checkpoint_path(dir: &Path, part: &str, position: Position) -> PathBuf {
    match position.batches {
        0 => dir.join(format!("{part}-{}.bpk", position.epochs)),
        b => dir.join(format!("{part}-{}-{b}.bpk", position.epochs + 1)),
    }
}

/// The part and position of a checkpoint file name such as `optim-12.bpk` or `model-4-200.bpk`.
pub fn parse_checkpoint_name(name: &str) -> Option<(&'static str, Position)> {
    let stem = name.strip_suffix(".bpk")?;
    let number = |text: &str| -> Option<usize> {
        (!text.starts_with('0') && !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    CHECKPOINT_PARTS.iter().find_map(|&part| {
        let rest = stem.strip_prefix(part)?.strip_prefix('-')?;
        let position = match rest.split_once('-') {
            None => Position::end_of(number(rest)?),
            Some((epoch, batches)) => Position {
                epochs: number(epoch)?.checked_sub(1)?,
                batches: number(batches)?,
            },
        };
        Some((part, position))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_names_round_trip() {
        assert_eq!(
            parse_checkpoint_name("scheduler-7.bpk"),
            Some(("scheduler", Position::end_of(7)))
        );
        let mid = Position {
            epochs: 3,
            batches: 200,
        };
        assert_eq!(
            parse_checkpoint_name("optim-4-200.bpk"),
            Some(("optim", mid))
        );
        assert_eq!(
            checkpoint_path(Path::new("c"), "optim", mid),
            Path::new("c/optim-4-200.bpk")
        );
        assert!(mid > Position::end_of(3) && mid < Position::end_of(4));
        assert_eq!(parse_checkpoint_name("scheduler-x.bpk"), None);
        assert_eq!(parse_checkpoint_name("model-0-5.bpk"), None);
        assert_eq!(parse_checkpoint_name("model-3-0.bpk"), None);
    }
}
