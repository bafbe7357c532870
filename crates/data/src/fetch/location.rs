//! Which directory holds the data, and who owns it.

use std::path::{Path, PathBuf};

use crate::DatasetKind;

/// The data dir to use and who owns it, which decides what happens to a file that fails
/// verification (see the [module docs](super)). [`locate_dir`] picks it; tests and callers
/// that need a specific policy construct it directly and pass it to [`crate::ensure_in`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataDir {
    /// The per-user cache, owned by this crate: bad files are deleted and fetched again.
    Cache(PathBuf),
    /// A directory the user chose: never deleted from; a bad file is an error.
    UserGiven(PathBuf),
}

impl DataDir {
    /// The directory itself.
    pub fn path(&self) -> &Path {
        match self {
            Self::Cache(p) | Self::UserGiven(p) => p,
        }
    }

    /// Whether this is the crate-owned cache (bad files may be deleted).
    pub fn is_cache(&self) -> bool {
        matches!(self, Self::Cache(_))
    }
}

/// The data dir to use: `explicit_dir`, else `$MNIST_DATA_DIR` (both used as given), else
/// `<user cache dir>/mnist-burn/<kind>` where the cache dir is `$XDG_CACHE_HOME`,
/// `~/.cache`, `%LOCALAPPDATA%`, or the system temp dir, first that is set.
pub fn locate(kind: DatasetKind, explicit_dir: Option<&Path>) -> PathBuf {
    match locate_dir(kind, explicit_dir) {
        DataDir::Cache(p) | DataDir::UserGiven(p) => p,
    }
}

/// [`locate`], also saying whose directory it is: `explicit_dir` and `$MNIST_DATA_DIR`
/// are [`DataDir::UserGiven`], the per-user cache default is [`DataDir::Cache`].
pub fn locate_dir(kind: DatasetKind, explicit_dir: Option<&Path>) -> DataDir {
    if let Some(dir) = explicit_dir {
        return DataDir::UserGiven(dir.to_path_buf());
    }
    let env_dir = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = env_dir("MNIST_DATA_DIR") {
        return DataDir::UserGiven(dir);
    }
    let cache = env_dir("XDG_CACHE_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| env_dir("HOME").map(|h| h.join(".cache")))
        .or_else(|| env_dir("LOCALAPPDATA"))
        .unwrap_or_else(std::env::temp_dir);
    DataDir::Cache(cache.join("mnist-burn").join(kind.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_prefers_explicit_dir() {
        let p = Path::new("/some/where");
        assert_eq!(locate(DatasetKind::FashionMnist, Some(p)), p);
        // Without an explicit dir the cache path ends in the kind unless MNIST_DATA_DIR is set.
        let auto = locate(DatasetKind::FashionMnist, None);
        if std::env::var_os("MNIST_DATA_DIR").is_none() {
            assert!(
                auto.ends_with("mnist-burn/fashion-mnist"),
                "{}",
                auto.display()
            );
        }
    }
}
