//! What a checkpoint directory holds: which positions have all three parts, which only some.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::run_dir::names::CHECKPOINT_PARTS;
use crate::run_dir::position::{Position, parse_checkpoint_name};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run_dir::position::checkpoint_path;

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
