//! The in-memory dataset and its Burn `Dataset` implementation.

use std::path::Path;
use std::sync::Arc;

use burn::data::dataset::transform::PartialDataset;
use burn::data::dataset::{Dataset, DatasetError};

use crate::item::MnistItem;
use crate::{DataFiles, FetchError, IdxError, Split, TsvError};

/// Any failure while obtaining or opening a dataset.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// An IDX file is missing, unreadable or malformed.
    #[error(transparent)]
    Idx(#[from] IdxError),
    /// A TSV file is unreadable or malformed.
    #[error(transparent)]
    Tsv(#[from] TsvError),
    /// The files could not be found or fetched.
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

/// Asked for an item past the end (Burn's `Dataset::get` contract says panic; we return this).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("index {index} out of range for a dataset of {len} items")]
pub struct IndexOutOfRange {
    /// The requested index.
    pub index: usize,
    /// The dataset length.
    pub len: usize,
}

/// A whole split held in memory (MNIST train is 47 MB, small enough that streaming is not worth it).
#[derive(Clone, Debug, Default)]
pub struct MnistDataset {
    items: Vec<MnistItem>,
}

impl MnistDataset {
    /// Reads an IDX images/labels pair (each raw or gzip-compressed) and checks they agree.
    pub fn from_idx(images: &Path, labels: &Path) -> Result<Self, IdxError> {
        let pixels = crate::read_idx_images(images)?;
        let classes = crate::read_idx_labels(labels)?;
        if pixels.len() != classes.len() {
            return Err(IdxError::CountMismatch {
                images: images.to_path_buf(),
                labels: labels.to_path_buf(),
                image_count: pixels.len(),
                label_count: classes.len(),
            });
        }
        let items = pixels
            .into_iter()
            .zip(classes)
            .map(|(image, label)| MnistItem { image, label })
            .collect();
        Ok(Self { items })
    }

    /// Reads the tutorial's TSV text format (see [`crate::read_tsv`]).
    pub fn from_tsv(path: &Path) -> Result<Self, TsvError> {
        crate::read_tsv(path).map(Self::from_items)
    }

    /// Wraps items already in memory.
    pub fn from_items(items: Vec<MnistItem>) -> Self {
        Self { items }
    }

    /// Opens one split of files located by [`crate::ensure`].
    pub fn open(files: &DataFiles, split: Split) -> Result<Self, DataError> {
        let (images, labels) = files.split_paths(split);
        Ok(Self::from_idx(images, labels)?)
    }

    /// All items, in file order.
    pub fn items(&self) -> &[MnistItem] {
        &self.items
    }

    /// Consumes the dataset, returning its items.
    pub fn into_items(self) -> Vec<MnistItem> {
        self.items
    }
}

impl Dataset<MnistItem> for MnistDataset {
    fn get(&self, index: usize) -> Result<MnistItem, DatasetError> {
        self.items.get(index).cloned().ok_or_else(|| {
            DatasetError::new(IndexOutOfRange {
                index,
                len: self.items.len(),
            })
        })
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

/// Splits off the last `n` items (clamped to the length) as a validation set:
/// returns `(first len-n, last n)`, both views over one shared copy.
///
/// For a size limit use Burn's combinator directly, e.g.
/// `PartialDataset::new(train, 0, limit.min(train.len()))`.
pub fn split_last(
    dataset: MnistDataset,
    n: usize,
) -> (
    PartialDataset<Arc<MnistDataset>, MnistItem>,
    PartialDataset<Arc<MnistDataset>, MnistItem>,
) {
    let len = dataset.len();
    let cut = len - n.min(len);
    let shared = Arc::new(dataset);
    (
        PartialDataset::new(shared.clone(), 0, cut),
        PartialDataset::new(shared, cut, len),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IMAGE_PIXELS;

    fn items(n: u8) -> Vec<MnistItem> {
        (0..n)
            .map(|i| MnistItem {
                image: [i; IMAGE_PIXELS],
                label: i % 10,
            })
            .collect()
    }

    #[test]
    fn dataset_get_and_split_last() {
        let ds = MnistDataset::from_items(items(10));
        assert_eq!(ds.len(), 10);
        assert_eq!(ds.get(3).unwrap().label, 3);
        assert!(ds.get(10).is_err());
        let (train, valid) = split_last(ds.clone(), 3);
        assert_eq!((train.len(), valid.len()), (7, 3));
        assert_eq!(train.get(6).unwrap().image[0], 6);
        assert_eq!(valid.get(0).unwrap().image[0], 7);
        let (train, valid) = split_last(ds, 99);
        assert_eq!((train.len(), valid.len()), (0, 10));
    }

    #[test]
    fn from_idx_count_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let i = dir.path().join("i");
        let l = dir.path().join("l");
        std::fs::write(&i, crate::encode_idx_images(&[[0; IMAGE_PIXELS]; 2])).unwrap();
        std::fs::write(&l, crate::encode_idx_labels(&[1, 2, 3])).unwrap();
        match MnistDataset::from_idx(&i, &l) {
            Err(IdxError::CountMismatch {
                image_count: 2,
                label_count: 3,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        std::fs::write(&l, crate::encode_idx_labels(&[1, 2])).unwrap();
        let ds = MnistDataset::from_idx(&i, &l).unwrap();
        assert_eq!(ds.items()[1].label, 2);
    }
}
