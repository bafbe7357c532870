//! `run.json`: what trained a model, recorded so results can be compared honestly and a resumed
//! run can say when it continues under different conditions (which breaks bit-for-bit equality
//! with an uninterrupted run).

use std::path::Path;

use burn::tensor::Device;
use model::Kernels;
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::config::TrainConfig;
use crate::error::Error;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub backend: String,
    /// Why that backend: "asked for", "the default", or what `--backend auto` saw.
    #[serde(default)]
    pub backend_choice: String,
    pub device: String,
    /// CPU threads the backend computes with.
    pub threads: usize,
    pub seed: u64,
    pub burn_version: String,
    /// The git revision of this workspace the binary was built from ("unknown" outside a checkout).
    pub revision: String,
    pub model: String,
    pub parameters: usize,
    /// The weights the run started from, when not from the seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_from: Option<std::path::PathBuf>,
    /// Which ops ran the layers on this backend: `custom` or `burn` (`[model] kernels`, where
    /// the backend runs the custom kernels). Files from before the option were Burn's ops.
    #[serde(default = "burn_ops")]
    pub kernels: String,
}

fn burn_ops() -> String {
    Kernels::Burn.name().to_string()
}

impl RunInfo {
    pub fn new(
        backend: Backend,
        why: &str,
        device: &Device,
        config: &TrainConfig,
        parameters: usize,
    ) -> Self {
        Self {
            backend: backend.name().to_string(),
            backend_choice: why.to_string(),
            device: format!("{device:?}"),
            threads: compute_threads(),
            seed: config.training.seed,
            burn_version: env!("TRAINER_BURN_VERSION").to_string(),
            revision: env!("TRAINER_GIT_REVISION").to_string(),
            model: config.model.describe(),
            parameters,
            init_from: config.training.init_from.clone(),
            kernels: config.model.kernels().on(device).name().to_string(),
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), Error> {
        crate::run_dir::write::write_json(path, self)
    }

    /// The `run.json` an earlier invocation wrote; an error (missing, damaged, edited) says
    /// which and why.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text =
            files::read_capped_string_no_links(path, 1 << 20).map_err(|e| Error::read(path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::Json {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// The fields that make a run reproducible, where they differ from `earlier`'s.
    pub fn differences(&self, earlier: &Self) -> Vec<String> {
        let mut out = Vec::new();
        let mut compare = |name: &str, now: String, then: String| {
            if now != then {
                out.push(format!("{name} {then} then, {now} now"));
            }
        };
        compare("backend", self.backend.clone(), earlier.backend.clone());
        compare("device", self.device.clone(), earlier.device.clone());
        compare(
            "threads",
            self.threads.to_string(),
            earlier.threads.to_string(),
        );
        compare(
            "Burn",
            self.burn_version.clone(),
            earlier.burn_version.clone(),
        );
        compare("revision", self.revision.clone(), earlier.revision.clone());
        compare("kernels", self.kernels.clone(), earlier.kernels.clone());
        out
    }
}

/// The thread count rayon (which the CPU backends compute with) uses.
fn compute_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
}
