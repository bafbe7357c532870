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
//! - [`open_regular`]: the one way a file is opened for reading. Only a regular file is
//!   accepted, judged by its type before a read can block: a FIFO, socket or device is refused
//!   (a FIFO would hang the reader), and so is a directory. With [`Links::Refuse`] (files
//!   inside a directory this program writes) a symbolic link is refused too, never followed.
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
    // Renaming onto a directory fails only at the end, after the temp file is written.
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory; give a file name",
        ));
    }
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

/// Whether the last component of a path may be a symbolic link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Links {
    /// Follow it: a path the user gave (a config, a data file, a picture).
    Follow,
    /// Refuse it: a file inside a directory this program writes, where a link is either a
    /// mistake or a plant that would make it read (or serve) a file from elsewhere.
    Refuse,
}

/// Opens `path` for reading if it is a regular file. A FIFO, socket, device or directory is
/// refused by its type (the open itself never blocks: it is non-blocking, and a regular file
/// ignores that flag); with [`Links::Refuse`], so is a symbolic link.
pub fn open_regular(path: &Path, links: Links) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let no_follow = match links {
            Links::Follow => 0,
            Links::Refuse => libc::O_NOFOLLOW,
        };
        options.custom_flags(libc::O_NONBLOCK | no_follow);
    }
    #[cfg(not(unix))]
    if links == Links::Refuse && std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Err(link_error());
    }
    let file = options.open(path).map_err(|e| {
        // O_NOFOLLOW on a link fails with ELOOP, whose text ("too many levels of symbolic
        // links") says nothing useful here.
        #[cfg(unix)]
        if links == Links::Refuse && e.raw_os_error() == Some(libc::ELOOP) {
            return link_error();
        }
        e
    })?;
    let kind = file.metadata()?.file_type();
    if kind.is_file() {
        return Ok(file);
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("is {}, not a regular file", describe(kind)),
    ))
}

fn link_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "is a symbolic link; only the files this program wrote here are read, never a link",
    )
}

/// "a directory", "a FIFO", ...: what a non-regular file is, for messages.
fn describe(kind: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
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

/// Reads the whole of `path` if it is a regular file (see [`open_regular`]; a link is followed)
/// holding at most `limit` bytes. The size is checked before anything is read, and the read
/// itself stops past the limit (the file may grow meanwhile).
pub fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    read_capped_with(path, limit, Links::Follow)
}

/// [`read_capped`] for a file inside a directory this program writes: a link is refused.
pub fn read_capped_no_links(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    read_capped_with(path, limit, Links::Refuse)
}

fn read_capped_with(path: &Path, limit: u64, links: Links) -> Result<Vec<u8>, ReadError> {
    let file = open_regular(path, links).map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
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
    utf8(read_capped(path, limit)?)
}

/// [`read_capped_no_links`] for text.
pub fn read_capped_string_no_links(path: &Path, limit: u64) -> Result<String, ReadError> {
    utf8(read_capped_no_links(path, limit)?)
}

fn utf8(bytes: Vec<u8>) -> Result<String, ReadError> {
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
    fn writing_onto_a_directory_fails_before_any_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("out")).unwrap();
        let err = write_atomic(&dir.path().join("out"), b"x").unwrap_err();
        assert!(err.to_string().contains("directory"), "{err}");
        assert_eq!(names(dir.path()), ["out"]);
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

    #[cfg(unix)]
    #[test]
    fn only_regular_files_are_opened_and_a_fifo_never_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = read_capped(&fifo, 10).unwrap_err().to_string();
        assert!(err.contains("FIFO"), "{err}");
        let err = read_capped(Path::new("/dev/null"), 10)
            .unwrap_err()
            .to_string();
        assert!(err.contains("device"), "{err}");

        let target = dir.path().join("target");
        std::fs::write(&target, b"elsewhere").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(read_capped(&link, 100).unwrap(), b"elsewhere");
        let err = read_capped_no_links(&link, 100).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        assert_eq!(read_capped_no_links(&target, 100).unwrap(), b"elsewhere");
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(300), "300 bytes");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(20 << 30), "20 GiB");
    }
}
