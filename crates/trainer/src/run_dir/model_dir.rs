//! A model directory is one unit: `model.toml` (the network), `model.bpk` (its weights) and
//! `input.toml` (the input it expects). This file writes all three and is the only code that
//! reads them, checking each against the others, so `predict`, `eval` and `serve` need nothing
//! else and never meet a mismatch as a panic.

use std::path::Path;

use burn::tensor::Device;
use data::{DatasetKind, MnistBatcher, Normalization, Resize};
use model::{Classifier, Kernels, ModelConfig};
use serde::{Deserialize, Serialize};

use crate::config::DataConfig;
use crate::config::validate::check_resize;
use crate::error::Error;
use crate::run_dir::names::{INPUT, MODEL_CONFIG, WEIGHTS};

/// The largest `model.toml` or `input.toml` read: each is a few lines.
const MAX_TOML_BYTES: u64 = 64 << 10;

/// What a model expects as input, saved beside it so `predict` and `eval` need no training config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    pub dataset: DatasetKind,
    pub normalize: Normalization,
    pub resize: Resize,
}

impl From<&DataConfig> for InputSpec {
    fn from(data: &DataConfig) -> Self {
        Self {
            dataset: data.dataset,
            normalize: data.normalize.clone(),
            resize: data.resize,
        }
    }
}

impl InputSpec {
    pub fn batcher(&self) -> MnistBatcher {
        MnistBatcher::new(self.normalize.clone(), self.resize)
    }
}

/// `model.toml`: the same `[model]` table a training config holds.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    model: ModelConfig,
}

/// A loaded model directory.
pub struct ModelDir {
    pub config: ModelConfig,
    pub input: InputSpec,
    pub model: Classifier,
}

impl ModelDir {
    /// Writes the three files into `dir`, each atomically: the weights first, so that a
    /// directory holding `model.toml` holds weights for it.
    pub fn save(
        dir: &Path,
        config: &ModelConfig,
        model: &Classifier,
        input: &InputSpec,
    ) -> Result<(), Error> {
        model::save_weights(&dir.join(WEIGHTS), model)?;
        crate::run_dir::write::write_toml(
            &dir.join(MODEL_CONFIG),
            &ModelFile {
                model: config.clone(),
            },
        )?;
        crate::run_dir::write::write_toml(&dir.join(INPUT), input)
    }

    /// The network `dir/model.toml` describes, validated.
    pub fn read_config(dir: &Path) -> Result<ModelConfig, Error> {
        let path = dir.join(MODEL_CONFIG);
        let config = read_toml::<ModelFile>(&path)?.model;
        config.validate().map_err(|e| Error::ConfigValue {
            path,
            message: e.to_string(),
        })?;
        Ok(config)
    }

    /// Reads and cross-checks the three files of `dir`, then loads the checked weights.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, Error> {
        let config = Self::read_config(dir)?;
        Self::load_as(dir, config, device)
    }

    /// [`load`](Self::load), with the layers run by `kernels` whatever `model.toml` says (an
    /// ONNX export traces Burn's ops; the custom kernels cannot be traced).
    pub fn load_with_kernels(dir: &Path, kernels: Kernels, device: &Device) -> Result<Self, Error> {
        let config = Self::read_config(dir)?.with_kernels(kernels);
        Self::load_as(dir, config, device)
    }

    fn load_as(dir: &Path, config: ModelConfig, device: &Device) -> Result<Self, Error> {
        let model_path = dir.join(MODEL_CONFIG);
        let input_path = dir.join(INPUT);
        let input: InputSpec = read_toml(&input_path)?;
        check_resize(&config, input.resize).map_err(|message| Error::ConfigValue {
            path: input_path,
            message: format!("resize does not fit {}: {message}", model_path.display()),
        })?;
        let model = model::load_weights(&config, &dir.join(WEIGHTS), device)?;
        Ok(Self {
            config,
            input,
            model,
        })
    }
}

fn read_toml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, Error> {
    let text = files::read_capped_string(path, MAX_TOML_BYTES).map_err(|e| Error::read(path, e))?;
    toml::from_str(&text).map_err(|source| Error::ConfigSyntax {
        path: path.to_path_buf(),
        source: Box::new(source),
    })
}
