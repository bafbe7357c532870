//! A run directory's manifest and what it owns: [`RunDir`] reads the manifest that records which
//! files this program wrote there, so that `--overwrite` removes exactly those and never a file
//! or folder of the user's, and claims names before writing them. The names themselves are in
//! `names.rs`; which files inside our directories are ours, and removing exactly those, in
//! `owned.rs`.
//!
//! The manifest is written before the files it names (write-ahead), so a run killed at any
//! moment never leaves a file of ours that the manifest does not list. Directories listed in
//! it were created by this program; inside them it owns only the names it writes (checkpoint
//! parts, Burn's `epoch-N/*.log`), so a user's file placed there is left alone.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::run_dir::lock::RunLock;
use crate::run_dir::names::{
    CHECKPOINT_PARTS, CHECKPOINTS, CONFIG, MANIFEST, METRICS, RUN_DIRS, RUN_FILES, TRAIN_LOGS,
    VALID_LOGS,
};
use crate::run_dir::owned::{remove_file, remove_owned_tree, remove_temp_files};
use crate::run_dir::position::{Position, checkpoint_path};
use crate::run_dir::write::write_json;

/// The largest manifest read back (it lists a few dozen names).
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// What this program wrote in a directory, and what it was doing there when it last stopped.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always "trainer": tells this file apart from another program's.
    pub written_by: String,
    /// Top-level files this program may have written (claimed before the first write).
    pub files: BTreeSet<String>,
    /// Directories this program created.
    pub dirs: BTreeSet<String>,
    /// Set while `--overwrite` removes the previous run's files; until cleared, the directory
    /// holds a half-removed run that only `--overwrite` may continue.
    #[serde(default)]
    pub replacing: bool,
    /// Checkpoints being removed because a resume started from an earlier one; they never
    /// count as checkpoints, even if a kill left some of their files.
    #[serde(default)]
    pub discarding: BTreeSet<Position>,
}

/// A directory this program writes into, with its manifest (if it has one), and the lock that
/// makes this process its only writer (see `lock.rs`).
#[derive(Debug)]
pub struct RunDir {
    root: PathBuf,
    manifest: Option<Manifest>,
    lock: Option<RunLock>,
}

impl RunDir {
    /// Takes the directory's lock (creating the directory if missing), then reads it as
    /// [`RunDir::open`] does. Only a locked directory can be written to.
    pub fn lock(root: &Path) -> Result<Self, Error> {
        check_root(root)?;
        let lock = RunLock::acquire(root)?;
        match Self::open(root) {
            Ok(dir) => Ok(Self {
                lock: Some(lock),
                ..dir
            }),
            Err(e) => {
                lock.abandon();
                Err(e)
            }
        }
    }

    /// Gives the lock up after checks that failed before anything was written (see
    /// [`RunLock::abandon`]).
    pub fn abandon(self) {
        if let Some(lock) = self.lock {
            lock.abandon();
        }
    }

    /// Looks at `root` without changing anything. A missing directory is fine; a file there, or
    /// a manifest this program cannot read, is an error naming it.
    pub fn open(root: &Path) -> Result<Self, Error> {
        check_root(root)?;
        let path = root.join(MANIFEST);
        let manifest = match files::read_capped_string_no_links(&path, MAX_MANIFEST_BYTES) {
            Ok(text) => {
                let manifest: Manifest = serde_json::from_str(&text).map_err(|e| Error::Json {
                    path: path.clone(),
                    message: format!(
                        "{e}; this is not a manifest this program wrote: move it away"
                    ),
                })?;
                if manifest.written_by != "trainer" {
                    return Err(Error::Json {
                        path,
                        message: "not written by trainer; move it away".into(),
                    });
                }
                // Only names this program writes: a manifest edited to list `../x` or `/etc/x`
                // must never make it delete anything else.
                let strange = manifest
                    .files
                    .iter()
                    .find(|f| !RUN_FILES.contains(&f.as_str()))
                    .or_else(|| {
                        manifest
                            .dirs
                            .iter()
                            .find(|d| !RUN_DIRS.contains(&d.as_str()))
                    });
                if let Some(name) = strange {
                    return Err(Error::Json {
                        path,
                        message: format!(
                            "lists `{name}`, which is not a file this program writes; it was edited: move it away"
                        ),
                    });
                }
                Some(manifest)
            }
            Err(files::ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::read(&path, e)),
        };
        // A directory of ours replaced by a link leads somewhere this program did not create:
        // refuse it rather than read, write or delete through it.
        for name in RUN_DIRS {
            let path = root.join(name);
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(Error::Foreign {
                    dir: root.to_path_buf(),
                    paths: vec![path],
                });
            }
        }
        Ok(Self {
            root: root.to_path_buf(),
            manifest,
            lock: None,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifest.as_ref()
    }

    pub fn checkpoints(&self) -> PathBuf {
        self.root.join(CHECKPOINTS)
    }

    /// Checkpoints being discarded (see [`Manifest::discarding`]).
    pub fn discarding(&self) -> BTreeSet<Position> {
        self.manifest
            .as_ref()
            .map(|m| m.discarding.clone())
            .unwrap_or_default()
    }

    fn owns_file(&self, name: &str) -> bool {
        self.manifest
            .as_ref()
            .is_some_and(|m| m.files.contains(name))
    }

    fn owns_dir(&self, name: &str) -> bool {
        self.manifest
            .as_ref()
            .is_some_and(|m| m.dirs.contains(name))
    }

    /// Paths among `files` and `dirs` that exist here but were not written by this program:
    /// writing there would mix or destroy a user's files.
    pub fn foreign(&self, files: &[&str], dirs: &[&str]) -> Vec<PathBuf> {
        let exists = |name: &str| std::fs::symlink_metadata(self.root.join(name)).is_ok();
        files
            .iter()
            .filter(|name| exists(name) && !self.owns_file(name))
            .chain(
                dirs.iter()
                    .filter(|name| exists(name) && !self.owns_dir(name)),
            )
            .map(|name| self.root.join(name))
            .collect()
    }

    /// Links and special files (FIFOs, sockets, devices) where this program writes: at the
    /// names `files` and `dirs` (and the manifest), and anywhere inside `dirs`. It never
    /// writes or reads through one: a link leads to a file it did not write, and a FIFO would
    /// block a read or be replaced by a write.
    pub fn links(&self, files: &[&str], dirs: &[&str]) -> Vec<PathBuf> {
        let special = |path: &Path| {
            std::fs::symlink_metadata(path).is_ok_and(|m| {
                let kind = m.file_type();
                !kind.is_file() && !kind.is_dir()
            })
        };
        let is_link =
            |path: &Path| std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        let mut found: Vec<PathBuf> = files
            .iter()
            .chain([&MANIFEST])
            .map(|name| self.root.join(name))
            .filter(|path| special(path))
            .chain(
                dirs.iter()
                    .map(|name| self.root.join(name))
                    .filter(|path| special(path)),
            )
            .collect();
        // Our folders are two deep at most (`train/epoch-3/Loss.log`).
        let mut pending: Vec<(PathBuf, usize)> = dirs
            .iter()
            .map(|name| (self.root.join(name), 0))
            .filter(|(path, _)| !is_link(path))
            .collect();
        while let Some((dir, depth)) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                match entry.file_type() {
                    Ok(kind) if kind.is_dir() && depth == 0 => pending.push((entry.path(), 1)),
                    Ok(kind) if !kind.is_file() && !kind.is_dir() => found.push(entry.path()),
                    _ => {}
                }
            }
        }
        found.sort();
        found
    }

    /// Refuses to write `files` and `dirs` here when any of them is the user's, or a link.
    pub fn check_writable(&self, files: &[&str], dirs: &[&str]) -> Result<(), Error> {
        let links = self.links(files, dirs);
        if !links.is_empty() {
            return Err(Error::Links {
                dir: self.root.clone(),
                paths: links,
            });
        }
        let foreign = self.foreign(files, dirs);
        if foreign.is_empty() {
            Ok(())
        } else {
            Err(Error::Foreign {
                dir: self.root.clone(),
                paths: foreign,
            })
        }
    }

    /// Records `files` and `dirs` as this program's (creating the directory and the manifest
    /// as needed) before any of them is written.
    pub fn claim(&mut self, files: &[&str], dirs: &[&str]) -> Result<(), Error> {
        self.check_writable(files, dirs)?;
        std::fs::create_dir_all(&self.root).map_err(Error::io(&self.root))?;
        let mut manifest = self.manifest.clone().unwrap_or_else(|| Manifest {
            written_by: "trainer".into(),
            ..Manifest::default()
        });
        manifest.files.extend(files.iter().map(|s| s.to_string()));
        manifest.dirs.extend(dirs.iter().map(|s| s.to_string()));
        self.save(manifest)
    }

    /// Creates one of the claimed directories.
    pub fn create_dir(&self, name: &str) -> Result<PathBuf, Error> {
        let path = self.root.join(name);
        std::fs::create_dir_all(&path).map_err(Error::io(&path))?;
        Ok(path)
    }

    fn save(&mut self, manifest: Manifest) -> Result<(), Error> {
        // Every change to a run directory starts with its manifest: only the lock holder makes one.
        assert!(
            self.lock.is_some(),
            "a run directory is written only under its lock"
        );
        write_json(&self.root.join(MANIFEST), &manifest)?;
        self.manifest = Some(manifest);
        Ok(())
    }

    fn update(&mut self, change: impl FnOnce(&mut Manifest)) -> Result<(), Error> {
        let mut manifest = self.manifest.clone().unwrap_or_else(|| Manifest {
            written_by: "trainer".into(),
            ..Manifest::default()
        });
        change(&mut manifest);
        self.save(manifest)
    }

    /// Removes every file this program wrote here (for `--overwrite`), marking the manifest
    /// first so that a kill half-way leaves a directory that says what it holds. Files of the
    /// user's inside our directories stay, and are returned so the caller can say so.
    pub fn remove_owned(&mut self) -> Result<Vec<PathBuf>, Error> {
        let Some(manifest) = self.manifest.clone() else {
            return Ok(Vec::new());
        };
        self.update(|m| m.replacing = true)?;
        // The model and results first, the checkpoints and config (what resume needs) last.
        for name in manifest.files.iter().filter(|n| n.as_str() != CONFIG) {
            remove_file(&self.root.join(name))?;
            remove_temp_files(&self.root, name)?;
        }
        let mut left = Vec::new();
        for dir in &manifest.dirs {
            let path = self.root.join(dir);
            // A directory replaced by a link leads somewhere this program did not create.
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                left.push(path);
                continue;
            }
            left.extend(remove_owned_tree(&path, dir)?);
        }
        remove_file(&self.root.join(CONFIG))?;
        // A directory of ours that had to stay (it holds a user's file) is still ours.
        let dirs = manifest
            .dirs
            .into_iter()
            .filter(|d| self.root.join(d).is_dir())
            .collect();
        self.save(Manifest {
            written_by: "trainer".into(),
            dirs,
            ..Manifest::default()
        })?;
        Ok(left)
    }

    /// Removes `metrics.json`, the mark of a finished run (see the README's "Kills"), when a
    /// resume is about to train on.
    pub fn remove_results(&mut self) -> Result<(), Error> {
        assert!(
            self.lock.is_some(),
            "a run directory is written only under its lock"
        );
        remove_file(&self.root.join(METRICS))
    }

    /// Removes the given checkpoints and the metric logs of the given epochs (a resume from an
    /// earlier checkpoint abandons them), recording the intent first so that a kill half-way
    /// never leaves one of them looking like a checkpoint to resume from.
    pub fn discard(
        &mut self,
        checkpoints: &BTreeSet<Position>,
        log_epochs: &BTreeSet<usize>,
    ) -> Result<(), Error> {
        if checkpoints.is_empty() && log_epochs.is_empty() {
            return Ok(());
        }
        self.update(|m| m.discarding.extend(checkpoints))?;
        let dir = self.checkpoints();
        for &position in checkpoints {
            for part in CHECKPOINT_PARTS {
                remove_file(&checkpoint_path(&dir, part, position))?;
            }
        }
        for epoch in log_epochs {
            for logs in [TRAIN_LOGS, VALID_LOGS] {
                remove_owned_tree(&self.root.join(logs).join(format!("epoch-{epoch}")), logs)?;
            }
        }
        self.update(|m| m.discarding.clear())
    }
}

/// A usable run directory path: not empty, and not a file.
fn check_root(root: &Path) -> Result<(), Error> {
    if root.as_os_str().is_empty() {
        return Err(Error::Usage(
            "the artifact directory is an empty path; give a directory name".into(),
        ));
    }
    match std::fs::metadata(root) {
        Ok(meta) if !meta.is_dir() => Err(Error::NotADirectory {
            path: root.to_path_buf(),
        }),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(root)(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run_dir::names::{CURVES, WEIGHTS};

    fn names(dir: &Path) -> Vec<String> {
        let mut out: Vec<String> = walk(dir)
            .iter()
            .map(|p| p.strip_prefix(dir).unwrap().to_string_lossy().into_owned())
            .collect();
        out.sort();
        out
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.push(path.clone());
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
        out
    }

    #[test]
    fn removing_a_run_keeps_every_file_of_the_users() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("run");
        let mut dir = RunDir::lock(&root).unwrap();
        dir.claim(&RUN_FILES, &RUN_DIRS).unwrap();
        for name in [CONFIG, WEIGHTS, CURVES] {
            std::fs::write(root.join(name), b"ours").unwrap();
        }
        std::fs::create_dir_all(root.join("checkpoint")).unwrap();
        std::fs::create_dir_all(root.join("train/epoch-1")).unwrap();
        std::fs::write(root.join("checkpoint/model-1.bpk"), b"ours").unwrap();
        std::fs::write(root.join("train/epoch-1/Loss.log"), b"ours").unwrap();
        // The user's own things, inside and beside ours.
        std::fs::write(root.join("notes.txt"), b"mine").unwrap();
        std::fs::write(root.join("checkpoint/README"), b"mine").unwrap();
        std::fs::create_dir_all(root.join("plots")).unwrap();

        let left = dir.remove_owned().unwrap();
        assert_eq!(left, vec![root.join("checkpoint/README")]);
        assert_eq!(
            names(&root),
            [
                "checkpoint",
                "checkpoint/README",
                "notes.txt",
                "plots",
                MANIFEST,
                crate::run_dir::lock::LOCK
            ]
        );
    }

    #[test]
    fn foreign_files_block_a_claim() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("curves.png"), b"mine").unwrap();
        std::fs::create_dir(tmp.path().join("train")).unwrap();
        let mut dir = RunDir::lock(tmp.path()).unwrap();
        let err = dir.claim(&RUN_FILES, &RUN_DIRS).unwrap_err().to_string();
        assert!(err.contains("curves.png") && err.contains("train"), "{err}");
        assert!(!tmp.path().join(MANIFEST).exists(), "nothing written");

        let file = tmp.path().join("curves.png");
        let err = RunDir::open(&file).unwrap_err().to_string();
        assert!(err.contains("not a directory"), "{err}");
    }

    #[test]
    fn an_unreadable_manifest_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(MANIFEST), b"{\"version\": 3}").unwrap();
        let err = RunDir::open(tmp.path()).unwrap_err().to_string();
        assert!(err.contains(MANIFEST), "{err}");
    }

    #[test]
    fn an_edited_manifest_never_deletes_outside_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("precious.txt");
        std::fs::write(&outside, b"keep").unwrap();
        let root = tmp.path().join("run");
        std::fs::create_dir(&root).unwrap();
        for (files, dirs) in [
            (vec!["../precious.txt"], vec![]),
            (vec![outside.to_str().unwrap()], vec![]),
            (vec![], vec![".."]),
        ] {
            let manifest = serde_json::json!({
                "written_by": "trainer", "files": files, "dirs": dirs
            });
            std::fs::write(root.join(MANIFEST), manifest.to_string()).unwrap();
            let err = RunDir::open(&root).unwrap_err().to_string();
            assert!(err.contains("not a file this program writes"), "{err}");
        }
        assert_eq!(std::fs::read(&outside).unwrap(), b"keep");
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_replaced_by_a_link_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("model-1.bpk"), b"not ours to delete").unwrap();
        let root = tmp.path().join("run");
        let mut dir = RunDir::lock(&root).unwrap();
        dir.claim(&RUN_FILES, &RUN_DIRS).unwrap();
        std::os::unix::fs::symlink(&elsewhere, root.join(CHECKPOINTS)).unwrap();
        let left = dir.remove_owned().unwrap();
        assert_eq!(left, vec![root.join(CHECKPOINTS)]);
        assert!(elsewhere.join("model-1.bpk").exists());
        // Opened afresh, the directory is refused outright.
        let err = RunDir::open(&root).unwrap_err().to_string();
        assert!(err.contains("checkpoint"), "{err}");
    }
}
