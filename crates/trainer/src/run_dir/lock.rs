//! One writer per run directory. Every command that writes into a run directory (training,
//! `--resume`, `--overwrite`, `eval`) first takes an advisory lock on its `trainer.lock`, and
//! holds it until it has written its last file. A second command on the same directory is
//! refused at once, naming the one that holds it.
//!
//! The lock is `flock(2)` (std's `File::try_lock`): the kernel drops it when its holder exits,
//! however it exits, so a lock left by a killed process is simply free again and is taken over
//! by the next command; there is no stale state to clean up. The file itself only says who
//! holds it (pid, command line, start time) for the message a refused command prints; it is
//! never deleted while the directory is in use, since a waiter could lock a deleted file.

use std::fs::File;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The lock file's name inside a run directory.
pub const LOCK: &str = "trainer.lock";

/// Who holds a lock: what `trainer.lock` says.
#[derive(Debug, Serialize, Deserialize)]
struct Holder {
    pid: u32,
    command: String,
    /// Seconds since the Unix epoch.
    started: u64,
}

/// A held lock on a run directory; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    path: PathBuf,
    /// Whether taking the lock created the directory (so giving up may remove it again).
    created_dir: bool,
}

impl RunLock {
    /// Locks `dir`, creating it if missing. Refused with an error naming the holder when
    /// another process holds it.
    pub fn acquire(dir: &Path) -> Result<Self, Error> {
        let created_dir = !dir.exists();
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        let path = dir.join(LOCK);
        let mut file = open_lock_file(&path).map_err(Error::io(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Locked {
                    dir: dir.to_path_buf(),
                    holder: describe_holder(&path),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path)(e)),
        }
        let holder = Holder {
            pid: std::process::id(),
            command: std::env::args().collect::<Vec<_>>().join(" "),
            started: now(),
        };
        let text = serde_json::to_string(&holder).unwrap_or_default();
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(text.as_bytes()))
            .map_err(Error::io(&path))?;
        Ok(Self {
            _file: file,
            path,
            created_dir,
        })
    }

    /// Gives the lock up after a command that changed nothing (its checks failed): when taking
    /// it created the directory, the lock file and the directory go again, so a typo leaves
    /// nothing behind.
    pub fn abandon(self) {
        if self.created_dir {
            let _ = std::fs::remove_file(&self.path);
            if let Some(dir) = self.path.parent() {
                // Only an empty directory goes.
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

/// Opens (creating) the lock file for writing, refusing a link or anything but a regular file.
fn open_lock_file(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: a FIFO planted under this name must not hang the open.
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "is a symbolic link; move it away",
            );
        }
        e
    })?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "is not a regular file; move it away",
        ));
    }
    Ok(file)
}

/// "pid 4242, `trainer --config c.toml --resume`, started 3 min ago", or what is known of it.
fn describe_holder(path: &Path) -> String {
    let read = || {
        files::read_capped_string_no_links(path, 64 << 10)
            .ok()
            .and_then(|text| serde_json::from_str::<Holder>(&text).ok())
    };
    // A holder that has just taken the lock may not have written its name yet.
    let mut holder = read();
    for _ in 0..20 {
        if holder.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
        holder = read();
    }
    match holder {
        Some(h) => format!(
            "pid {}, `{}`, started {} ago",
            h.pid,
            h.command,
            elapsed(now().saturating_sub(h.started))
        ),
        None => "another process".into(),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn elapsed(seconds: u64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 2 * 3600 => format!("{} min", s / 60),
        s => format!("{} h", s / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_free_once_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        let first = RunLock::acquire(&dir).unwrap();
        let err = RunLock::acquire(&dir).unwrap_err().to_string();
        assert!(err.contains("in use"), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        let again = RunLock::acquire(&dir).unwrap();
        // The directory existed: giving up leaves it.
        again.abandon();
        assert!(dir.join(LOCK).exists());
    }

    #[test]
    fn giving_up_removes_a_directory_the_lock_created() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("new");
        RunLock::acquire(&dir).unwrap().abandon();
        assert!(!dir.exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_link_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("precious");
        std::fs::write(&target, b"keep").unwrap();
        let dir = tmp.path().join("run");
        std::fs::create_dir(&dir).unwrap();
        std::os::unix::fs::symlink(&target, dir.join(LOCK)).unwrap();
        let err = RunLock::acquire(&dir).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    }
}
