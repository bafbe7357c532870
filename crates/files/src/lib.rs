//! Whole files, read and written safely. Every crate of the workspace writes its files through
//! [`write_atomic`] and reads untrusted ones through [`read_capped`].
//!
//! - [`write_atomic`]: the new content goes to a temp file in the same directory, is flushed to
//!   disk, renamed over the destination, and the directory is flushed too (all done by the
//!   `atomic-write-file` crate). A reader, or the next run after a crash or `kill -9`, sees the
//!   old file or the whole new one, never a mix. New files get the usual mode (0666 less the
//!   umask); a replaced file keeps its mode.
//! - [`read_capped`]: reads a file only if it is no larger than a limit the caller states, so a
//!   wrong or hostile path (a 10 GB file where a config was expected) is an error, not an
//!   allocation of its size.
//!
//! Not for: directories, locking, or streaming writes of unknown size beyond what fits the
//! caller's `Write` closure.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use atomic_write_file::AtomicWriteFile;

/// Replaces `path` with `bytes`, atomically (see the crate docs).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |out| out.write_all(bytes))
}

/// Replaces `path` with what `fill` writes, atomically. If `fill` fails, `path` is untouched and
/// no temp file is left.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let mut file = AtomicWriteFile::open(path)?;
    {
        let mut out = BufWriter::new(&mut file);
        fill(&mut out)?;
        out.flush()?;
    }
    // commit() fsyncs the file, renames it into place and fsyncs the directory; dropping the
    // file without a commit (on any error above) discards it.
    file.commit()
}

/// Why [`read_capped`] refused or failed.
#[derive(Debug)]
pub enum ReadError {
    /// Opening or reading failed (the path is missing, a directory, unreadable...).
    Io(io::Error),
    /// The file holds more than `limit` bytes.
    TooLarge {
        /// Its size in bytes.
        size: u64,
        /// The caller's limit.
        limit: u64,
    },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(e) => e.fmt(f),
            Self::TooLarge { size, limit } => write!(
                f,
                "the file is {} but at most {} is expected here",
                human_bytes(*size),
                human_bytes(*limit)
            ),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::TooLarge { .. } => None,
        }
    }
}

/// Reads the whole of `path` if it holds at most `limit` bytes. The size is checked before
/// anything is read, and the read itself stops past the limit (the file may grow meanwhile).
/// A directory is an error (`EISDIR`), not an empty file.
pub fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = File::open(path).map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if meta.is_dir() {
        return Err(ReadError::Io(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory, not a file",
        )));
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// [`read_capped`] for text: invalid UTF-8 is an `InvalidData` error.
pub fn read_capped_string(path: &Path, limit: u64) -> Result<String, ReadError> {
    let bytes = read_capped(path, limit)?;
    String::from_utf8(bytes).map_err(|e| {
        ReadError::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        ))
    })
}

/// `1.5 GiB`, `12 MiB`, `300 bytes`: sizes in messages people read.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut value = n as f64;
    let mut unit = "bytes";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    if value < 10.0 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.0} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_atomic(&path, b"old").unwrap();
        let err = write_atomic_with(&path, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("boom"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["out.txt"]);
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(names(dir.path()), ["out.txt"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_replaced_file_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.bin");
        std::fs::write(&path, b"x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&path, b"y").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }

    #[test]
    fn writing_into_a_missing_directory_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write_atomic(&dir.path().join("no/such/file"), b"x").is_err());
    }

    #[test]
    fn reads_are_capped_before_anything_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, vec![7u8; 100]).unwrap();
        assert_eq!(read_capped(&path, 100).unwrap().len(), 100);
        match read_capped(&path, 99) {
            Err(ReadError::TooLarge {
                size: 100,
                limit: 99,
            }) => {}
            other => panic!("{other:?}"),
        }
        let err = read_capped(dir.path(), 1_000).unwrap_err();
        assert!(err.to_string().contains("directory"), "{err}");
        assert!(matches!(
            read_capped(&dir.path().join("missing"), 10),
            Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::NotFound
        ));
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        let err = read_capped_string(&path, 10).unwrap_err();
        assert!(err.to_string().contains("UTF-8"), "{err}");
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(300), "300 bytes");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(20 << 30), "20 GiB");
    }
}
