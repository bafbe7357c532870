//! Why the files could not be provided.

use std::io;
use std::path::{Path, PathBuf};

use crate::DatasetKind;

/// Why the files could not be provided.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The data dir could not be created or written, or a file in it could not be read.
    #[error("cannot use data directory {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Something other than a regular file (a directory, a socket...) stands where a data file
    /// or the data directory should be; it is left alone.
    #[error(
        "{path} is {found}, but {expected} should be there; move it away or choose another data directory"
    )]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What is there, e.g. "a directory".
        found: &'static str,
        /// What should be there, e.g. "the IDX file".
        expected: &'static str,
    },
    /// A file in a user-given data dir failed SHA-256 verification; it is left untouched.
    #[error(
        "checksum mismatch for {path} (expected sha256 {expected}, found {found}); \
         this file is in a user-given data directory and is not deleted: \
         remove or replace it with the correct file"
    )]
    ChecksumMismatch {
        /// The rejected file.
        path: PathBuf,
        /// The pinned SHA-256 (lower-case hex; of the decompressed content for MNIST `.gz`).
        expected: String,
        /// The SHA-256 found.
        found: String,
    },
    /// No source delivered every file.
    #[error("{}", all_failed_message(.kind, .dir, .missing, .attempts, .hint))]
    AllSourcesFailed {
        /// Which dataset.
        kind: DatasetKind,
        /// The data dir where files were expected.
        dir: PathBuf,
        /// Files still missing.
        missing: Vec<String>,
        /// One line per source tried and why it failed.
        attempts: Vec<String>,
        /// How to fix it by hand.
        hint: String,
    },
}

impl FetchError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| Self::Io { path, source }
    }
}

fn all_failed_message(
    kind: &DatasetKind,
    dir: &Path,
    missing: &[String],
    attempts: &[String],
    hint: &str,
) -> String {
    let mut s = format!(
        "could not obtain the {kind} files ({}) for {}; tried:\n",
        missing.join(", "),
        dir.display()
    );
    for a in attempts {
        s.push_str("  - ");
        s.push_str(a);
        s.push('\n');
    }
    s.push_str(hint);
    s
}
