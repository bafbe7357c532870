//! Fashion-MNIST: nothing can download it here, so the `.gz` files come from the data dir or
//! from Debian's `dataset-fashion-mnist` package, verified as shipped.

use super::data_files::DataFiles;
use super::error::FetchError;
use super::location::DataDir;
use super::sources::{MNIST_FILE_NAMES, Sources};
use super::verify::{OnBad, check_existing, file_present};
use crate::DatasetKind;

pub(crate) fn ensure(
    sources: &Sources,
    data_dir: &DataDir,
    report: &mut dyn FnMut(&str),
) -> Result<DataFiles, FetchError> {
    let dir = data_dir.path();
    let names = MNIST_FILE_NAMES.map(|n| format!("{n}.gz"));
    let mut attempts = Vec::new();
    // Nothing can refetch Fashion-MNIST, so a bad file is never deleted, even from the cache;
    // in a user-given data dir it is an error, in the cache or a system dir it is skipped.
    let data_dir_policy = match data_dir {
        DataDir::Cache(_) => OnBad::Skip,
        DataDir::UserGiven(_) => OnBad::Fail,
    };
    let candidates = std::iter::once((dir.to_path_buf(), data_dir_policy)).chain(
        sources
            .fashion_dirs
            .iter()
            .map(|d| (d.clone(), OnBad::Skip)),
    );
    for (candidate, on_bad) in candidates {
        let paths = names.clone().map(|n| candidate.join(n));
        let mut absent = Vec::new();
        for (path, name) in paths.iter().zip(&names) {
            if !file_present(path)? {
                absent.push(name.as_str());
            }
        }
        if !absent.is_empty() {
            attempts.push(format!(
                "{}: missing {}",
                candidate.display(),
                absent.join(", ")
            ));
            continue;
        }
        let mut ok = true;
        for (i, path) in paths.iter().enumerate() {
            if !check_existing(path, &sources.fashion_sha256[i], false, on_bad, report)? {
                attempts.push(format!("{}: checksum mismatch", path.display()));
                ok = false;
            }
        }
        if ok {
            return Ok(DataFiles::from_paths(
                DatasetKind::FashionMnist,
                &candidate,
                paths,
            ));
        }
    }
    Err(FetchError::AllSourcesFailed {
        kind: DatasetKind::FashionMnist,
        dir: dir.to_path_buf(),
        missing: names.to_vec(),
        attempts,
        hint: format!(
            "Install the Debian package with `apt-get install dataset-fashion-mnist` \
             (it puts the files in /usr/share/datasets/fashion-mnist/), or put the four gzip \
             files {} into {}.",
            names.join(", "),
            dir.display()
        ),
    })
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::fetch::verify::sha256_bytes;

    fn fixture_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for n in MNIST_FILE_NAMES {
            fs::write(dir.path().join(format!("{n}.gz")), b"not the real file").unwrap();
        }
        dir
    }

    fn no_system_dirs() -> Sources {
        Sources {
            fashion_dirs: vec![],
            ..Sources::default()
        }
    }

    #[test]
    fn missing_files_error_says_how_to_install() {
        let dir = tempfile::tempdir().unwrap();
        let sources = Sources {
            fashion_dirs: vec![dir.path().join("nowhere")],
            ..Sources::default()
        };
        let user = DataDir::UserGiven(dir.path().to_path_buf());
        let err = ensure(&sources, &user, &mut |_| {}).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("apt-get install dataset-fashion-mnist"),
            "{text}"
        );
        assert!(text.contains("train-images-idx3-ubyte.gz"), "{text}");
        assert!(text.contains("nowhere"), "{text}");
    }

    #[test]
    fn a_bad_checksum_in_a_user_dir_is_an_error_and_the_file_is_kept() {
        let dir = fixture_dir();
        let mut lines = Vec::new();
        let user = DataDir::UserGiven(dir.path().to_path_buf());
        let err = ensure(&no_system_dirs(), &user, &mut |l| lines.push(l.to_string())).unwrap_err();
        assert!(err.to_string().contains("checksum mismatch"), "{err}");
        let FetchError::ChecksumMismatch { path, found, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(path, &dir.path().join("train-images-idx3-ubyte.gz"));
        assert_eq!(found, &sha256_bytes(b"not the real file"));
        assert!(lines.iter().any(|l| l.contains("checksum mismatch")));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 4);
    }

    #[test]
    fn a_bad_file_in_the_cache_is_skipped_not_deleted() {
        let dir = fixture_dir();
        let cache = DataDir::Cache(dir.path().to_path_buf());
        let err = ensure(&no_system_dirs(), &cache, &mut |_| {}).unwrap_err();
        // Nothing can refetch Fashion-MNIST: the cache keeps the files and the error lists them.
        assert!(
            matches!(err, FetchError::AllSourcesFailed { .. }),
            "{err:?}"
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 4);
    }
}
