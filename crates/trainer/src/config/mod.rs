//! The training config: one TOML file that says what to train, on what, and how.
//!
//! Every section but `[model]` has defaults, unknown keys are rejected, and
//! [`TrainConfig::validate`] (in `validate.rs`) names the key of any value out of range. This
//! file is the schema.

use std::path::{Path, PathBuf};

use data::{DatasetKind, Normalization, Resize};
use model::ModelConfig;
use serde::{Deserialize, Serialize};

use crate::error::Error;

pub mod validate;

/// The largest config file read: a config is a few dozen lines.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The largest batch accepted, whatever the memory: a batch bigger than the largest dataset
/// the readers accept is a typo. (The memory check in `memory.rs` is usually tighter.)
pub const MAX_BATCH_SIZE: usize = data::MAX_ITEMS;

/// The most epochs accepted.
pub const MAX_EPOCHS: usize = 100_000;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub model: ModelConfig,
    #[serde(default)]
    pub data: DataConfig,
    #[serde(default)]
    pub training: TrainingConfig,
    #[serde(default)]
    pub optimizer: OptimizerConfig,
    #[serde(default)]
    pub schedule: ScheduleConfig,
    #[serde(default)]
    pub checkpoint: CheckpointConfig,
    #[serde(default)]
    pub output: OutputConfig,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// `mnist` or `fashion-mnist`.
    pub dataset: DatasetKind,
    /// Where the IDX files live; unset means `$MNIST_DATA_DIR`, then the user cache.
    pub dir: Option<PathBuf>,
    pub normalize: Normalization,
    /// `none`, `bilinear32` (torchvision's `Resize(32)`) or `pad32` (classic LeNet-5).
    pub resize: Resize,
    /// The last N training images are held out for validation; 0 validates on the test set.
    pub validation: usize,
    /// Train on the first N training images only (the Caffe2 seed uses 1,000).
    pub limit: Option<usize>,
    /// Draw a new order of the training images every epoch (from the seed and the epoch);
    /// `false` keeps file order, as MXNet's tutorial iterator does.
    pub shuffle: bool,
    /// Read the seed tutorial's tab-separated text files instead of the dataset's files.
    pub tsv: Option<TsvFiles>,
    /// Read these IDX files (your own data in MNIST's format, raw or gzip) instead of the
    /// dataset's verified ones. They are checked for structure, not against a checksum.
    pub idx: Option<IdxFiles>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsvFiles {
    pub train: PathBuf,
    pub test: PathBuf,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdxFiles {
    pub train_images: PathBuf,
    pub train_labels: PathBuf,
    pub test_images: PathBuf,
    pub test_labels: PathBuf,
}

impl DataConfig {
    /// Whether the run reads files the config names (TSV or IDX) rather than a dataset directory.
    pub fn names_files(&self) -> bool {
        self.tsv.is_some() || self.idx.is_some()
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            dataset: DatasetKind::Mnist,
            dir: None,
            normalize: Normalization::default(),
            resize: Resize::None,
            validation: 5_000,
            limit: None,
            shuffle: true,
            tsv: None,
            idx: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingConfig {
    pub epochs: usize,
    pub batch_size: usize,
    /// Seeds the weights, the data order of every epoch and dropout.
    pub seed: u64,
    /// Stop at the first non-finite training loss instead of training on NaN.
    pub stop_on_nan: bool,
    /// Start a new run from these weights (a model directory, a weights file, a checkpoint's
    /// `model-N.bpk`, or a PyTorch `.pt`/`.pth`/`.safetensors` state dict) with a fresh optimizer
    /// and schedule, instead of from random ones.
    pub init_from: Option<PathBuf>,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 64,
            seed: 42,
            stop_on_nan: true,
            init_from: None,
        }
    }
}

/// The optimizer, with the base learning rate that the schedule starts from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum OptimizerConfig {
    Sgd {
        lr: f64,
        #[serde(default)]
        momentum: f64,
        #[serde(default)]
        nesterov: bool,
        #[serde(default)]
        weight_decay: f64,
    },
    Adam {
        lr: f64,
        #[serde(default)]
        weight_decay: f64,
    },
    AdamW {
        lr: f64,
        #[serde(default = "default_adamw_decay")]
        weight_decay: f64,
    },
}

fn default_adamw_decay() -> f64 {
    1e-4
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self::Sgd {
            lr: 0.01,
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
        }
    }
}

impl OptimizerConfig {
    pub fn lr(&self) -> f64 {
        match self {
            Self::Sgd { lr, .. } | Self::Adam { lr, .. } | Self::AdamW { lr, .. } => *lr,
        }
    }
}

/// How the learning rate changes; every schedule steps once per iteration, as Burn's Learner does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ScheduleConfig {
    #[default]
    Constant,
    /// Multiply by `gamma` every `every_epochs` epochs (PyTorch's `StepLR`).
    Step { every_epochs: usize, gamma: f64 },
    /// Multiply by `gamma` every iteration (the Caffe2 seed's `exp` policy).
    Exponential { gamma: f64 },
    /// Cosine annealing from the base rate to `min_lr` over the configured epochs.
    Cosine {
        #[serde(default)]
        min_lr: f64,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckpointConfig {
    /// Save model, optimizer and schedule state every N epochs (and after the last one).
    pub every: usize,
    /// How many checkpoints to keep on disk (at least 2).
    pub keep: usize,
    /// Also save every N batches inside an epoch (the newest such checkpoint is kept), so that
    /// a kill in a long epoch loses at most N batches.
    pub every_batches: Option<usize>,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        Self {
            every: 1,
            keep: 2,
            every_batches: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// The artifact directory; unset means `artifacts/<config file name>`.
    pub dir: Option<PathBuf>,
    /// When output is not a terminal, also print a line every N training batches: their mean
    /// loss and accuracy, and images/s.
    pub log_every: Option<usize>,
}

impl TrainConfig {
    /// Reads and validates a config file (at most 1 MiB).
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text =
            files::read_capped_string(path, MAX_CONFIG_BYTES).map_err(|e| Error::read(path, e))?;
        Self::parse(path, &text)
    }

    /// Parses and validates config text; `path` names it in errors. The fuzz targets call this.
    pub fn parse(path: &Path, text: &str) -> Result<Self, Error> {
        let config: Self = toml::from_str(text).map_err(|source| Error::ConfigSyntax {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        config.validate().map_err(|message| Error::ConfigValue {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(config)
    }
}

/// The keys in which two `[model]` sections differ, for messages: `hidden = [32] there,
/// [16] here`.
pub fn model_differences(there: &ModelConfig, here: &ModelConfig) -> String {
    let table = |config: &ModelConfig| match toml::Value::try_from(config) {
        Ok(toml::Value::Table(table)) => table,
        _ => toml::Table::new(),
    };
    let (a, b) = (table(there), table(here));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let show = |v: Option<&toml::Value>| v.map_or("unset".to_string(), |v| v.to_string());
    let differences: Vec<String> = keys
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("{k} = {} there, {} here", show(a.get(k)), show(b.get(k))))
        .collect();
    differences.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TrainConfig, String> {
        let config: TrainConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    const MINIMAL: &str = "[model]\nkind = \"lenet\"\npreset = \"caffe2\"\n";

    #[test]
    fn defaults_fill_every_section_but_the_model() {
        let config = parse(MINIMAL).unwrap();
        assert_eq!(config.training.batch_size, 64);
        assert_eq!(config.data.validation, 5_000);
        assert_eq!(config.schedule, ScheduleConfig::Constant);
        assert_eq!(config.checkpoint, CheckpointConfig::default());
        assert_eq!(config.checkpoint.keep, 2);
    }

    #[test]
    fn the_model_section_is_required() {
        let err = parse("[training]\nepochs = 1\n").unwrap_err();
        assert!(err.contains("model"), "{err}");
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let err = parse(&format!("{MINIMAL}[training]\nepoch = 3\n")).unwrap_err();
        assert!(err.contains("epoch"), "{err}");
        let err = parse(&format!(
            "{MINIMAL}[optimizer]\nkind = \"sgd\"\nlr = 0.1\nbeta = 1\n"
        ))
        .unwrap_err();
        assert!(err.contains("beta"), "{err}");
    }

    #[test]
    fn wrong_types_name_the_key() {
        let err = parse(&format!("{MINIMAL}[training]\nbatch_size = \"big\"\n")).unwrap_err();
        assert!(err.contains("batch_size"), "{err}");
    }

    #[test]
    fn out_of_range_values_name_the_key() {
        let cases = [
            ("[training]\nbatch_size = 0\n", "training.batch_size"),
            ("[training]\nepochs = 0\n", "training.epochs"),
            ("[optimizer]\nkind = \"sgd\"\nlr = -0.1\n", "optimizer.lr"),
            (
                "[optimizer]\nkind = \"sgd\"\nlr = 0.1\nmomentum = 1.5\n",
                "optimizer.momentum",
            ),
            (
                "[schedule]\nkind = \"step\"\nevery_epochs = 0\ngamma = 0.5\n",
                "schedule.every_epochs",
            ),
            (
                "[schedule]\nkind = \"exponential\"\ngamma = 1.5\n",
                "schedule.gamma",
            ),
            ("[checkpoint]\nkeep = 0\n", "checkpoint.keep"),
            ("[data]\nlimit = 0\n", "data.limit"),
            ("[output]\ndir = \"\"\n", "output.dir"),
            ("[data]\ndir = \"\"\n", "data.dir"),
            (
                "[training]\nbatch_size = 1000000000\n",
                "training.batch_size",
            ),
            ("[training]\nepochs = 1000000000\n", "training.epochs"),
        ];
        for (section, key) in cases {
            let err = parse(&format!("{MINIMAL}{section}")).unwrap_err();
            assert!(err.starts_with(key), "{section:?} gave {err}");
        }
    }

    #[test]
    fn a_32_pixel_model_needs_a_resize() {
        let text = "[model]\nkind = \"lenet\"\npreset = \"lenet5\"\n";
        let err = parse(text).unwrap_err();
        assert!(err.starts_with("data.resize"), "{err}");
        parse(&format!("{text}[data]\nresize = \"pad32\"\n")).unwrap();
    }

    #[test]
    fn shipped_configs_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
        let mut seen = 0;
        for entry in walk(&dir) {
            TrainConfig::load(&entry).unwrap_or_else(|e| panic!("{}: {e}", entry.display()));
            seen += 1;
        }
        assert!(seen >= 11, "expected the shipped configs, found {seen}");
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else if path.extension().is_some_and(|e| e == "toml")
                // The lists `trainer tutorials` reads are not training configs.
                && path
                    .file_name()
                    .is_some_and(|n| n != "tutorials.toml" && n != "ablations.toml")
            {
                out.push(path);
            }
        }
        out
    }
}
