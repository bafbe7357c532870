//! Which files inside the run directory's own folders (`checkpoint/`, Burn's `train/` and
//! `valid/` logs) are this program's, and removing exactly those: a user's file placed there
//! stays, the folder with it, and symbolic links are never followed.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::run_dir::names::{CHECKPOINTS, TRAIN_LOGS, VALID_LOGS};
use crate::run_dir::position::parse_checkpoint_name;

/// Whether `name` is a file this program writes inside its directory `dir` (relative path
/// inside it, `/`-separated): checkpoint parts, Burn's `epoch-N/<Metric>.log`, and the temp
/// files an atomic write leaves when killed (`.<name>.XXXXXX`, on systems without unnamed
/// temp files).
fn owned_in_dir(dir: &str, relative: &str) -> bool {
    match dir {
        CHECKPOINTS => {
            let name = temp_target(relative).unwrap_or(relative);
            parse_checkpoint_name(name).is_some()
        }
        TRAIN_LOGS | VALID_LOGS => {
            let Some((epoch, file)) = relative.split_once('/') else {
                return false;
            };
            let file = temp_target(file).unwrap_or(file);
            epoch
                .strip_prefix("epoch-")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                && file.strip_suffix(".log").is_some_and(|stem| {
                    !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                })
        }
        _ => false,
    }
}

/// `model-3.bpk` for `.model-3.bpk.a1B2c3`: the name an atomic write's temp file stands for.
fn temp_target(name: &str) -> Option<&str> {
    let rest = name.strip_prefix('.')?;
    let (target, suffix) = rest.rsplit_once('.')?;
    (suffix.len() == 6 && suffix.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(target)
}

pub fn remove_file(path: &Path) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path)(e)),
        _ => Ok(()),
    }
}

/// Removes the temp files an interrupted atomic write of `root/name` may have left.
pub fn remove_temp_files(root: &Path, name: &str) -> Result<(), Error> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        if temp_target(&file.to_string_lossy()) == Some(name) {
            remove_file(&entry.path())?;
        }
    }
    Ok(())
}

/// Removes the files this program owns under `path` (its directory `owner`, or a directory
/// inside it), then the directories left empty. Returns what was left because it is not ours.
/// Symbolic links are never followed.
pub fn remove_owned_tree(path: &Path, owner: &str) -> Result<Vec<PathBuf>, Error> {
    let mut left = Vec::new();
    remove_in(path, owner, &owner_root(path, owner), &mut left)?;
    Ok(left)
}

/// The directory named `owner` that `path` is (or lies in).
fn owner_root(path: &Path, owner: &str) -> PathBuf {
    path.ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == owner))
        .unwrap_or(path)
        .to_path_buf()
}

fn remove_in(path: &Path, owner: &str, root: &Path, left: &mut Vec<PathBuf>) -> Result<(), Error> {
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(path)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(Error::io(path))?;
        let child = entry.path();
        let kind = entry.file_type().map_err(Error::io(&child))?;
        let relative = child
            .strip_prefix(root)
            .map(|r| r.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        if kind.is_dir() && relative.split('/').count() == 1 && owner != CHECKPOINTS {
            remove_in(&child, owner, root, left)?;
        } else if kind.is_file() && owned_in_dir(owner, &relative) {
            remove_file(&child)?;
        } else {
            left.push(child);
        }
    }
    // Only an empty directory goes; one still holding a user's file stays, which is the point.
    let _ = std::fs::remove_dir(path);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_names_inside_our_directories() {
        assert!(owned_in_dir(CHECKPOINTS, "model-3.bpk"));
        assert!(owned_in_dir(CHECKPOINTS, ".optim-12.bpk.aB3dE9"));
        assert!(!owned_in_dir(CHECKPOINTS, "model-03.bpk"));
        assert!(!owned_in_dir(CHECKPOINTS, "notes.txt"));
        assert!(!owned_in_dir(CHECKPOINTS, "model-3.bpk.bak"));
        assert!(owned_in_dir(TRAIN_LOGS, "epoch-2/Learning_Rate.log"));
        assert!(!owned_in_dir(TRAIN_LOGS, "epoch-2/../x.log"));
        assert!(!owned_in_dir(TRAIN_LOGS, "mine/Loss.log"));
        assert!(!owned_in_dir(VALID_LOGS, "Loss.log"));
        assert!(owned_in_dir(CHECKPOINTS, "model-3-200.bpk"));
    }
}
