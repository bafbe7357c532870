//! Burn's per-epoch metric logs, `train/epoch-N/<Metric>.log` and `valid/...` (one serialized
//! value per line, in burn-train's own format), written by this program instead of burn-train's
//! `FileMetricLogger`. That logger follows whatever link it finds in its path and panics when a
//! write fails (a full disk ends the process with a panic). Here, the folders are checked to be
//! real directories (never links), each file is opened without following a link, and a failed
//! write stops the run through [`WriteFailure`] with the file's name and the reason.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use burn::train::logger::MetricLogger;
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};

use crate::failure::WriteFailure;
use crate::run_dir::names::{TRAIN_LOGS, VALID_LOGS};

/// The largest log file read back (a value per batch: a few hundred KiB for MNIST).
const MAX_LOG_BYTES: u64 = 64 << 20;

pub struct MetricLogs {
    root: PathBuf,
    names: HashMap<MetricId, String>,
    /// Files open in the epoch being logged, by path.
    open: HashMap<PathBuf, BufWriter<File>>,
    epoch: Option<usize>,
    failure: WriteFailure,
    failed: bool,
}

impl MetricLogs {
    /// Logs into `root/train` and `root/valid`.
    pub fn new(root: &Path, failure: WriteFailure) -> Self {
        Self {
            root: root.to_path_buf(),
            names: HashMap::new(),
            open: HashMap::new(),
            epoch: None,
            failure,
            failed: false,
        }
    }

    fn split_dir(split: &Split) -> Option<&'static str> {
        match split {
            Split::Train => Some(TRAIN_LOGS),
            Split::Valid => Some(VALID_LOGS),
            Split::Test(_) => None,
        }
    }

    /// `train/epoch-3/Learning_Rate.log`: Burn's names (spaces become underscores).
    fn path(&self, name: &str, epoch: usize, logs: &str) -> PathBuf {
        self.root
            .join(logs)
            .join(format!("epoch-{epoch}"))
            .join(format!("{}.log", name.replace(' ', "_")))
    }

    fn append(&mut self, path: &Path, value: &str) -> std::io::Result<()> {
        if !self.open.contains_key(path) {
            let file = create(path)?;
            self.open.insert(path.to_path_buf(), BufWriter::new(file));
        }
        let out = self.open.get_mut(path).expect("inserted above");
        writeln!(out, "{value}")
    }

    /// Flushes and closes every open log.
    fn close_all(&mut self) {
        for (path, mut out) in self.open.drain() {
            if let Err(e) = out.flush() {
                if !self.failed {
                    self.failure.record(&path, e);
                }
                self.failed = true;
            }
        }
    }
}

/// Creates (truncating) the log file at `path`, making its two folders if needed; neither the
/// folders nor the file may be a link.
fn create(path: &Path) -> std::io::Result<File> {
    let epoch_dir = path.parent().expect("a log path has folders");
    let split_dir = epoch_dir.parent().expect("a log path has folders");
    for dir in [split_dir, epoch_dir] {
        match std::fs::create_dir(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        if !std::fs::symlink_metadata(dir)?.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{} is not a directory (a link or a file); this program writes only into folders it made",
                    dir.display()
                ),
            ));
        }
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "is not a regular file",
        ));
    }
    Ok(file)
}

impl MetricLogger for MetricLogs {
    fn log(&mut self, update: MetricsUpdate, epoch: usize, split: &Split) {
        let Some(logs) = Self::split_dir(split) else {
            return;
        };
        if self.failed {
            return;
        }
        if self.epoch != Some(epoch) {
            self.close_all();
            self.epoch = Some(epoch);
        }
        let entries = update
            .entries
            .iter()
            .chain(update.entries_numeric.iter().map(|n| &n.entry));
        for entry in entries {
            if entry.serialized_entry.is_not_available() {
                continue;
            }
            let Some(name) = self.names.get(&entry.metric_id) else {
                continue;
            };
            let path = self.path(name, epoch, logs);
            let value = entry.serialized_entry.serialized.clone();
            if let Err(e) = self.append(&path, &value) {
                self.failure.record(&path, e);
                self.failed = true;
                return;
            }
        }
    }

    fn read_numeric(
        &mut self,
        name: &str,
        epoch: usize,
        split: &Split,
    ) -> Result<Vec<NumericEntry>, String> {
        let logs = Self::split_dir(split).ok_or("no logs are kept for the test split")?;
        let path = self.path(name, epoch, logs);
        if let Some(out) = self.open.get_mut(&path) {
            out.flush()
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let text = files::read_capped_string_no_links(&path, MAX_LOG_BYTES)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        text.lines()
            .filter(|line| !line.is_empty())
            .map(NumericEntry::deserialize)
            .collect()
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id, definition.name.to_string());
    }

    fn log_epoch_summary(&mut self, _: EpochSummary) {
        self.close_all();
    }
}

impl Drop for MetricLogs {
    fn drop(&mut self) {
        self.close_all();
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_planted_link_is_refused_and_nothing_is_written_through_it() {
        let tmp = tempfile::tempdir().unwrap();
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let root = tmp.path().join("run");
        std::fs::create_dir_all(root.join("valid")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, root.join("valid/epoch-1")).unwrap();
        let err = create(&root.join("valid/epoch-1/Loss.log")).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);

        std::fs::create_dir_all(root.join("train/epoch-1")).unwrap();
        let target = tmp.path().join("precious.log");
        std::fs::write(&target, b"keep").unwrap();
        std::os::unix::fs::symlink(&target, root.join("train/epoch-1/Loss.log")).unwrap();
        assert!(create(&root.join("train/epoch-1/Loss.log")).is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        assert!(create(&root.join("train/epoch-1/Accuracy.log")).is_ok());
    }
}
