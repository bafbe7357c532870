//! Checking files against their pinned SHA-256, and what to do with one that fails.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::error::FetchError;
use super::location::DataDir;

/// SHA-256 of a file as lower-case hex, streamed so large files need no extra memory.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    sha256_stream(files::open_regular(path, files::Links::Follow)?)
}

/// SHA-256 of the decompressed content of a gzip file, streamed.
fn sha256_gz_file(path: &Path) -> io::Result<String> {
    let file = io::BufReader::new(files::open_regular(path, files::Links::Follow)?);
    sha256_stream(flate2::read::MultiGzDecoder::new(file)).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a valid gzip file: {e}"),
        )
    })
}

/// SHA-256 of everything `input` yields.
pub(crate) fn sha256_stream(mut input: impl Read) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hex(&hasher.finalize()))
}

pub(crate) fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// What to do with a file on disk that fails verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnBad {
    /// Per-user cache: report it and delete it, so it is refetched and never used.
    Delete,
    /// User-given data dir: leave it and fail with [`FetchError::ChecksumMismatch`].
    Fail,
    /// System dirs (Fashion-MNIST): report it and skip it, never delete.
    Skip,
}

impl OnBad {
    pub(crate) fn for_dir(dir: &DataDir) -> Self {
        if dir.is_cache() {
            Self::Delete
        } else {
            Self::Fail
        }
    }
}

/// Creates the data directory if needed; something else standing at its path is an error.
pub(crate) fn data_dir_ready(dir: &Path) -> Result<(), FetchError> {
    if let Ok(meta) = fs::metadata(dir)
        && !meta.is_dir()
    {
        return Err(FetchError::NotAFile {
            path: dir.to_path_buf(),
            found: "a file",
            expected: "the data directory",
        });
    }
    fs::create_dir_all(dir).map_err(FetchError::io(dir))
}

/// Whether a regular file is at `path`: `Ok(false)` when nothing is there, an error when
/// something else (a directory, say) is, since fetching could not put the file there.
pub(crate) fn file_present(path: &Path) -> Result<bool, FetchError> {
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(true),
        Ok(meta) => Err(FetchError::NotAFile {
            path: path.to_path_buf(),
            found: if meta.is_dir() {
                "a directory"
            } else {
                "not a regular file"
            },
            expected: "the data file",
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(FetchError::io(path)(e)),
    }
}

/// Checks a file already on disk (`gz`: hash its decompressed content). `Ok(true)`:
/// verified; `Ok(false)`: absent, or rejected and handled as `on_bad` says.
pub(crate) fn check_existing(
    path: &Path,
    expected: &str,
    gz: bool,
    on_bad: OnBad,
    report: &mut dyn FnMut(&str),
) -> Result<bool, FetchError> {
    if !file_present(path)? {
        return Ok(false);
    }
    let hashed = if gz {
        sha256_gz_file(path)
    } else {
        sha256_file(path)
    };
    let found = match hashed {
        Ok(found) => found,
        // A corrupt .gz is a bad file like any other; a read error is not.
        Err(e) if gz && e.kind() == io::ErrorKind::InvalidData => {
            format!("none ({e})")
        }
        Err(source) => return Err(FetchError::io(path)(source)),
    };
    if found == expected {
        report(&format!("verified {}", path.display()));
        return Ok(true);
    }
    report(&format!(
        "checksum mismatch for {} (expected {expected}, found {found}); not using it",
        path.display()
    ));
    match on_bad {
        OnBad::Delete => {
            report(&format!("deleting {} from the cache", path.display()));
            fs::remove_file(path).map_err(FetchError::io(path))?;
        }
        OnBad::Fail => {
            return Err(FetchError::ChecksumMismatch {
                path: path.to_path_buf(),
                expected: expected.to_string(),
                found,
            });
        }
        OnBad::Skip => {}
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_known_vector() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        fs::write(&p, b"abc").unwrap();
        assert_eq!(
            sha256_file(&p).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256_bytes(b"abc"), sha256_file(&p).unwrap());
    }

    #[test]
    fn a_folder_where_a_file_belongs_is_named_not_missing() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("train-images-idx3-ubyte");
        fs::create_dir(&folder).unwrap();
        let err = file_present(&folder).unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
        assert!(!file_present(&dir.path().join("absent")).unwrap());
        let file = dir.path().join("plain");
        fs::write(&file, b"x").unwrap();
        let err = data_dir_ready(&file).unwrap_err();
        assert!(err.to_string().contains("the data directory"), "{err}");
    }
}
