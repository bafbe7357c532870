//! Atomic file writes: a temp file in the target's directory, then a rename, so readers
//! never see a half-written file and a failure leaves nothing behind. Written files are
//! fsynced before the rename and are mode 0644 on Unix (not tempfile's 0600).

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Writes `path` by calling `fill` on a buffered temp file in the same directory and renaming it.
pub(crate) fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // Same directory so the rename cannot cross file systems; dropped (deleted) on any error.
    let tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    {
        let mut w = BufWriter::new(tmp.as_file());
        fill(&mut w)?;
        w.flush()?;
    }
    // tempfile creates 0600; the data files are meant to be shared (e.g. a common cache).
    set_readable(tmp.as_file())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Mode of every file written here: 0644 on Unix (owner read/write, everyone read).
#[cfg(unix)]
const FILE_MODE: u32 = 0o644;

#[cfg(unix)]
fn set_readable(file: &fs::File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(FILE_MODE))
}

#[cfg(not(unix))]
fn set_readable(_file: &fs::File) -> io::Result<()> {
    Ok(())
}

/// Moves an already complete file into place (same file system), falling back to copy + atomic write.
/// Either way the result has [`write_atomic`]'s permissions (0644 on Unix).
pub(crate) fn move_into_place(from: &Path, to: &Path) -> io::Result<()> {
    set_readable(&fs::File::open(from)?)?;
    match fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(_) => {
            let bytes = fs::read(from)?;
            write_atomic(to, |w| w.write_all(&bytes))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_nothing_and_success_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let err = write_atomic(&path, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("boom"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        write_atomic(&path, |w| w.write_all(b"done")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"done");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn written_and_moved_files_are_world_readable() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        write_atomic(&path, |w| w.write_all(b"x")).unwrap();
        assert_eq!(mode(&path), 0o644);
        // Replacing an existing file gives the same mode.
        write_atomic(&path, |w| w.write_all(b"y")).unwrap();
        assert_eq!(mode(&path), 0o644);
        let from = dir.path().join("staged");
        fs::write(&from, b"z").unwrap();
        fs::set_permissions(&from, fs::Permissions::from_mode(0o600)).unwrap();
        let to = dir.path().join("moved");
        move_into_place(&from, &to).unwrap();
        assert_eq!(mode(&to), 0o644);
        assert_eq!(fs::read(&to).unwrap(), b"z");
    }
}
