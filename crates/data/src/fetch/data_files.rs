//! What [`crate::ensure`] returns: the four verified files of one dataset.

use std::path::{Path, PathBuf};

use crate::{DatasetKind, Split};

/// Where the four files of one dataset are, all verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataFiles {
    /// Which dataset.
    pub kind: DatasetKind,
    /// The directory they were found in (the data dir, or a system dir for Fashion-MNIST).
    pub dir: PathBuf,
    /// Training images (IDX, raw or .gz).
    pub train_images: PathBuf,
    /// Training labels.
    pub train_labels: PathBuf,
    /// Test images.
    pub test_images: PathBuf,
    /// Test labels.
    pub test_labels: PathBuf,
}

impl DataFiles {
    /// The (images, labels) pair of a split.
    pub fn split_paths(&self, split: Split) -> (&Path, &Path) {
        match split {
            Split::Train => (&self.train_images, &self.train_labels),
            Split::Test => (&self.test_images, &self.test_labels),
        }
    }

    pub(crate) fn from_paths(kind: DatasetKind, dir: &Path, paths: [PathBuf; 4]) -> Self {
        let [train_images, train_labels, test_images, test_labels] = paths;
        Self {
            kind,
            dir: dir.to_path_buf(),
            train_images,
            train_labels,
            test_images,
            test_labels,
        }
    }
}
