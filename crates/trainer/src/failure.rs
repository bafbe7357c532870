//! The first write that failed while training (a full disk, a file size limit, an I/O error),
//! kept so the run can stop with one line naming the file and the reason. Burn's Learner calls
//! our checkpointers, metric loggers and step hook from its own threads, where an error cannot
//! be returned to the caller: each of them records it here, and asks the Learner to stop.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use burn::train::Interrupter;

/// Shared by everything that writes during training; cheap to clone.
#[derive(Clone, Default)]
pub struct WriteFailure {
    first: Arc<Mutex<Option<(PathBuf, std::io::Error)>>>,
    interrupter: Option<Interrupter>,
}

impl WriteFailure {
    /// Failures stop training through `interrupter`.
    pub fn new(interrupter: Interrupter) -> Self {
        Self {
            first: Arc::default(),
            interrupter: Some(interrupter),
        }
    }

    /// Records that writing `path` failed (only the first failure is kept: later ones are
    /// usually its consequence) and stops the run after the batch in hand.
    pub fn record(&self, path: &Path, error: std::io::Error) {
        let mut first = self.first.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_none() {
            if let Some(interrupter) = &self.interrupter {
                interrupter.stop(Some(&format!("writing {} failed: {error}", path.display())));
            }
            *first = Some((path.to_path_buf(), error));
        }
    }

    /// The first failure, if any.
    pub fn take(&self) -> Option<(PathBuf, std::io::Error)> {
        self.first.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}
