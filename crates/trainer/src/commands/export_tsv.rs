//! `trainer export-tsv`: write images in the seed tutorials' tab-separated text format.

use std::path::PathBuf;

use data::DatasetKind;

use crate::console;
use crate::dataset;
use crate::error::Error;

/// `trainer export-tsv`, resolved.
#[derive(Clone, Debug)]
pub struct ExportTsvRun {
    pub dataset: DatasetKind,
    pub data_dir: Option<PathBuf>,
    pub split: data::Split,
    /// Write the first N images only.
    pub limit: Option<usize>,
    /// The .tsv file to write.
    pub output: PathBuf,
}

pub fn run(run: &ExportTsvRun) -> Result<(), Error> {
    let files = dataset::ensure(run.dataset, run.data_dir.as_deref())?;
    let dataset = data::MnistDataset::open(&files, run.split)?;
    let items = dataset.items();
    let items = &items[..run.limit.unwrap_or(items.len()).min(items.len())];
    data::write_tsv(&run.output, items)?;
    console::line(format!(
        "wrote {} images to {}",
        items.len(),
        run.output.display()
    ))
}
