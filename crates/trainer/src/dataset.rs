//! The data a run trains, validates and tests on, cut as the config says, and the adapter that
//! turns the data crate's batches into the model crate's (the two crates never meet).

use std::path::Path;
use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::data::dataset::transform::PartialDataset;
use burn::tensor::Device;
use data::{DataFiles, DatasetKind, MnistBatch, MnistBatcher, MnistDataset, MnistItem};
use model::ImageBatch;

use crate::config::TrainConfig;
use crate::console;
use crate::error::Error;

/// The data batcher's output, as the model's input type.
#[derive(Clone, Debug)]
pub struct ModelBatcher(pub MnistBatcher);

impl Batcher<MnistItem, ImageBatch> for ModelBatcher {
    fn batch(&self, items: Vec<MnistItem>, device: &Device) -> ImageBatch {
        let MnistBatch { images, targets } = self.0.batch(items, device);
        ImageBatch { images, targets }
    }
}

pub type SharedDataset = Arc<dyn Dataset<MnistItem>>;

/// Train and validation sets as the config cuts them, plus the full test set.
pub struct Splits {
    pub train: SharedDataset,
    pub valid: SharedDataset,
    pub test: Arc<MnistDataset>,
}

/// Finds the files of `kind` (fetching them if needed) and verifies them: every command's way to
/// the dataset, with its progress as `data: ...` lines on stderr.
pub fn ensure(kind: DatasetKind, dir: Option<&Path>) -> Result<DataFiles, Error> {
    Ok(data::ensure(kind, dir, &mut |line| {
        console::note(format!("data: {line}"))
    })?)
}

/// Finds (fetching if needed), verifies and reads the data, then cuts it.
pub fn load_splits(config: &TrainConfig) -> Result<Splits, Error> {
    let (train_full, test) = match (&config.data.tsv, &config.data.idx) {
        (Some(tsv), _) => (
            MnistDataset::from_tsv(&tsv.train)?,
            MnistDataset::from_tsv(&tsv.test)?,
        ),
        (None, Some(idx)) => (
            MnistDataset::from_idx(&idx.train_images, &idx.train_labels)
                .map_err(data::DataError::from)?,
            MnistDataset::from_idx(&idx.test_images, &idx.test_labels)
                .map_err(data::DataError::from)?,
        ),
        (None, None) => {
            let dir = config.data.dir.as_deref();
            let files = ensure(config.data.dataset, dir)?;
            (
                MnistDataset::open(&files, data::Split::Train)?,
                MnistDataset::open(&files, data::Split::Test)?,
            )
        }
    };
    let (train_full, test) = (Arc::new(train_full), Arc::new(test));

    let n = train_full.len();
    let held_out = config.data.validation;
    let (train, valid): (SharedDataset, SharedDataset) = if held_out == 0 {
        (train_full, test.clone())
    } else if held_out < n {
        (
            Arc::new(PartialDataset::new(train_full.clone(), 0, n - held_out)),
            Arc::new(PartialDataset::new(train_full, n - held_out, n)),
        )
    } else {
        return Err(Error::Usage(format!(
            "data.validation: {held_out} held-out images leave none of the {n} training images to train on"
        )));
    };
    let train: SharedDataset = match config.data.limit {
        Some(limit) if limit < train.len() => Arc::new(PartialDataset::new(train, 0, limit)),
        _ => train,
    };
    Ok(Splits { train, valid, test })
}

/// A dataset view as an in-memory dataset (for reports that index its items).
pub fn materialize(dataset: &SharedDataset) -> MnistDataset {
    MnistDataset::from_items(
        (0..dataset.len())
            .filter_map(|i| dataset.get(i).ok())
            .collect(),
    )
}
