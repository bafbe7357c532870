//! MNIST classifier networks for Burn 0.22: the configurable MLP and LeNet families, their
//! configuration (read from a `[model]` TOML table, validated), a Learner-ready
//! [`Classifier`] (forward pass, cross-entropy, `TrainStep` / `InferenceStep`) whose layers run
//! Burn's ops or the `kernels` crate's faster CPU kernels ([`Kernels`]), a printable
//! [`ModelSummary`], and weights files written whole and read back only after they are checked
//! against the network ([`pack`]), the same weights in PyTorch's names ([`pytorch`]: safetensors
//! out, `.pt`/`.pth`/safetensors in); and [`malloc`], the allocator setting a training step's speed
//! depends on.
//!
//! Not for: reading data sets, picking a backend, parsing command lines, training loops,
//! metrics, plotting, or the layout of a model directory (the trainer's). The trainer joins
//! this crate with the data crate; nothing here knows about either, and nothing here prints
//! or exits.

mod activation;
mod classifier;
mod config;
mod error;
mod init;
mod lenet;
pub mod malloc;
mod mlp;
mod ops;
pub mod pack;
pub mod pytorch;
mod summary;
mod weights;

pub use activation::Activation;
pub use classifier::{Classifier, ImageBatch};
pub use config::ModelConfig;
pub use error::{MAX_LAYERS, MAX_PARAMETERS, MAX_WIDTH, ModelConfigError, StoreError};
pub use init::{Init, InitConfig};
pub use lenet::{Lenet, LenetConfig, LenetPreset, PoolKind};
pub use mlp::{Mlp, MlpConfig, MlpPreset};
pub use ops::Kernels;
pub use summary::{LayerSummary, ModelSummary, summary};
pub use weights::{load_into, load_weights, load_weights_from_bytes, save_weights};

/// Number of classes every network here predicts (the ten digits).
pub const NUM_CLASSES: usize = 10;
