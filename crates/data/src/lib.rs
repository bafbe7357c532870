//! MNIST and Fashion-MNIST for Burn: finding, fetching and verifying the data files,
//! reading them (IDX raw or gzip, and the tutorial's TSV text format) into an in-memory
//! [`MnistDataset`] that implements Burn's `Dataset`, turning items into tensors with
//! [`MnistBatcher`], and preparing arbitrary pictures for prediction with [`mnist_style`].
//!
//! It is not a general image-dataset library, it defines no model and no training loop,
//! and it never picks a tensor backend: callers pass a `burn::tensor::Device`.
//! Nothing here prints or exits; progress goes through a callback and failures are typed errors.
//!
//! Subsets and shuffling use Burn's own combinators rather than anything defined here, e.g.
//! `burn::data::dataset::transform::PartialDataset::new(dataset, 0, limit)` for "the first
//! `limit` items" and `ShuffledDataset` for a seeded shuffle; [`split_last`] builds the
//! usual "validation = last N of train" pair.

mod batcher;
mod dataset;
mod fetch;
mod idx;
mod item;
mod kind;
mod normalization;
mod picture;
mod preprocess;
mod tsv;

pub use batcher::{MnistBatch, MnistBatcher, Resize};
pub use dataset::{DataError, IndexOutOfRange, MnistDataset, split_last};
pub use fetch::{
    DataDir, DataFiles, FetchError, MNIST_FILE_NAMES, Sources, ensure, ensure_in, ensure_with,
    locate, locate_dir, sha256_file,
};
pub use idx::{
    IMAGES_MAGIC, IdxError, LABELS_MAGIC, decode_idx_images, decode_idx_labels, encode_idx_images,
    encode_idx_labels, read_idx_images, read_idx_labels,
};
pub use item::MnistItem;
pub use kind::{DatasetKind, ParseDatasetKindError, Split};
pub use normalization::Normalization;
pub use picture::{
    MAX_PICTURE_BYTES, MAX_PICTURE_PIXELS, PictureError, decode_picture, decode_raw_picture,
    read_picture, read_raw_picture,
};
pub use preprocess::{PreprocessError, mnist_style};
pub use tsv::{MAX_LINE_BYTES, TsvError, decode_tsv, read_tsv, write_tsv};

/// Side length of an MNIST image in pixels.
pub const IMAGE_SIDE: usize = 28;
/// Number of pixels in an MNIST image.
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;
/// Number of classes in both MNIST and Fashion-MNIST.
pub const NUM_CLASSES: usize = 10;
/// The most images either reader (IDX or TSV) accepts: 1,000,000 images are 748 MiB of pixels
/// (MNIST has 70,000). A file declaring or holding more is refused, so no input can make the
/// readers allocate without bound.
pub const MAX_ITEMS: usize = 1_000_000;
