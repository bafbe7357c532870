//! `trainer fetch`: find, download and verify the dataset files, and list them.

use std::path::PathBuf;

use data::DatasetKind;

use crate::console;
use crate::dataset;
use crate::error::Error;

/// `trainer fetch`, resolved.
#[derive(Clone, Debug)]
pub struct FetchRun {
    pub dataset: DatasetKind,
    /// Dataset directory [default: $MNIST_DATA_DIR, else the user cache].
    pub data_dir: Option<PathBuf>,
}

pub fn run(run: &FetchRun) -> Result<(), Error> {
    let files = dataset::ensure(run.dataset, run.data_dir.as_deref())?;
    console::line(format!(
        "{} files verified in {}",
        files.kind.name(),
        files.dir.display()
    ))?;
    for path in [
        &files.train_images,
        &files.train_labels,
        &files.test_images,
        &files.test_labels,
    ] {
        console::line(format!("  {}", path.display()))?;
    }
    Ok(())
}
