//! MNIST classifier networks for Burn 0.22: the configurable MLP and LeNet families, their
//! configuration (read from a `[model]` TOML table, validated), a Learner-ready
//! [`Classifier`] (forward pass, cross-entropy, `TrainStep` / `InferenceStep`), a printable
//! [`ModelSummary`], and saving / loading of a self-describing model directory.
//!
//! Not for: reading data sets, picking a backend, parsing command lines, training loops,
//! metrics or plotting. The trainer joins this crate with the data crate; nothing here knows
//! about either, and nothing here prints or exits.

mod activation;
mod classifier;
mod config;
mod error;
mod lenet;
mod mlp;
mod store;
mod summary;

pub use activation::Activation;
pub use classifier::{Classifier, ImageBatch};
pub use config::ModelConfig;
pub use error::ModelConfigError;
pub use lenet::{Lenet, LenetConfig, LenetPreset, PoolKind};
pub use mlp::{Mlp, MlpConfig, MlpPreset};
pub use store::{CONFIG_FILE, StoreError, WEIGHTS_FILE, load, load_weights, save};
pub use summary::{LayerSummary, ModelSummary, summary};

/// Number of classes every network here predicts (the ten digits).
pub const NUM_CLASSES: usize = 10;
