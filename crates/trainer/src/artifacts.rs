//! The artifact directory: one run's config, checkpoints, model, metrics and pictures.
//!
//! ```text
//! artifacts/lenet/
//!   config.toml     the resolved training config        model.toml, model.bpk   the final model
//!   run.json        backend, device, versions           metrics.json            test results + history
//!   history.json    per-epoch numbers, saved each epoch checkpoint/             model/optim/scheduler-N.bpk
//!   train/, valid/  Burn's metric logs                  *.png, parameters.txt   pictures and statistics
//! ```
//!
//! Every file is written to a temp file and renamed into place, so none is ever half-written.

use std::io::Write;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::checkpoint;
use crate::config::{DataConfig, ScheduleConfig, TrainConfig};
use crate::error::Error;
use crate::progress::History;
use crate::train::Resume;
use data::{DatasetKind, MnistBatcher, Normalization, Resize};

pub const CONFIG: &str = "config.toml";
pub const RUN: &str = "run.json";
pub const HISTORY: &str = "history.json";
pub const METRICS: &str = "metrics.json";
pub const INPUT: &str = "input.toml";

/// What trained the model, recorded so results can be compared honestly.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunInfo {
    pub backend: String,
    pub device: String,
    pub burn_version: String,
    pub model: String,
    pub parameters: usize,
}

impl RunInfo {
    pub fn new(backend: Backend, device: &Device, config: &TrainConfig, parameters: usize) -> Self {
        Self {
            backend: backend.name().to_string(),
            device: format!("{device:?}"),
            // The workspace pins this version (Cargo.toml); bump both together.
            burn_version: "0.22.1".to_string(),
            model: config.model.describe(),
            parameters,
        }
    }
}

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

    pub fn save(&self, dir: &Path) -> Result<(), Error> {
        write_toml(&dir.join(INPUT), self)
    }

    pub fn load(dir: &Path) -> Result<Self, Error> {
        let path = dir.join(INPUT);
        let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
        toml::from_str(&text).map_err(|source| Error::ConfigSyntax {
            path,
            source: Box::new(source),
        })
    }
}

pub fn history_path(dir: &Path) -> PathBuf {
    dir.join(HISTORY)
}

// The reports and pictures (written by `report.rs`).
pub const REPORT: &str = "report.txt";
pub const EVAL: &str = "eval.json";
pub const PARAMETERS: &str = "parameters.txt";
pub const CURVES: &str = "curves.png";
pub const CURVES_ITERATIONS: &str = "curves-iterations.png";
pub const SAMPLES: &str = "samples.png";
pub const CONFUSION: &str = "confusion.png";
pub const MISTAKES: &str = "mistakes.png";
pub const FILTERS: &str = "filters.png";
pub const FEATURE_MAPS: &str = "feature_maps.png";

/// Every file a run or `eval` writes here, so that starting again removes exactly those.
const OUTPUTS: [&str; 18] = [
    CONFIG,
    RUN,
    HISTORY,
    METRICS,
    INPUT,
    model::CONFIG_FILE,
    model::WEIGHTS_FILE,
    "experiment.log", // Burn's application log
    REPORT,
    EVAL,
    PARAMETERS,
    CURVES,
    CURVES_ITERATIONS,
    SAMPLES,
    CONFUSION,
    MISTAKES,
    FILTERS,
    FEATURE_MAPS,
];

/// Prepares `dir` for a new run. An earlier run there is kept unless `overwrite` says to
/// replace it: forgetting `--resume` must not wipe hours of training.
pub fn start_fresh(dir: &Path, overwrite: bool) -> Result<(), Error> {
    let holds_a_run = dir.join(model::WEIGHTS_FILE).exists()
        || !checkpoint::complete_epochs(&checkpoint::dir(dir)).is_empty();
    if holds_a_run || (overwrite && dir.join(CONFIG).exists()) {
        if !overwrite {
            return Err(Error::Usage(format!(
                "{} already holds a training run; continue it with --resume, or start again with --overwrite",
                dir.display()
            )));
        }
        for file in OUTPUTS {
            remove(&dir.join(file))?;
        }
        for sub in ["checkpoint", "train", "valid"] {
            let path = dir.join(sub);
            if path.exists() {
                std::fs::remove_dir_all(&path).map_err(Error::io(&path))?;
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(Error::io(dir))
}

fn remove(path: &Path) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path)(e)),
        _ => Ok(()),
    }
}

/// Picks the checkpoint to resume from and checks it was made by the same network.
pub fn check_resume(dir: &Path, config: &TrainConfig, resume: Resume) -> Result<usize, Error> {
    let saved_path = dir.join(CONFIG);
    if !saved_path.is_file() {
        return Err(Error::Resume(format!(
            "{} holds no earlier run (no {CONFIG}); train without --resume first",
            dir.display()
        )));
    }
    let saved = TrainConfig::load(&saved_path)?;
    if saved.model != config.model {
        return Err(Error::Resume(format!(
            "the checkpoints in {} were made by model `{}` ({}), but the config asks for `{}`; \
             use the same [model] section or another --artifacts directory",
            dir.display(),
            saved.model.describe(),
            saved_path.display(),
            config.model.describe()
        )));
    }
    // Burn silently drops optimizer or schedule state it cannot match, and the step schedule
    // counts iterations: any of these changing would quietly make a different run.
    let changed: Vec<&str> = [
        ("[optimizer]", saved.optimizer != config.optimizer),
        ("[schedule]", saved.schedule != config.schedule),
        (
            "training.batch_size",
            saved.training.batch_size != config.training.batch_size,
        ),
        (
            "[data] input",
            InputSpec::from(&saved.data) != InputSpec::from(&config.data),
        ),
    ]
    .into_iter()
    .filter_map(|(key, differs)| differs.then_some(key))
    .collect();
    if !changed.is_empty() {
        return Err(Error::Resume(format!(
            "{} differ from the run in {} ({}); resume with the same settings",
            changed.join(", "),
            dir.display(),
            saved_path.display()
        )));
    }
    if matches!(config.schedule, ScheduleConfig::Cosine { .. })
        && saved.training.epochs != config.training.epochs
    {
        return Err(Error::Resume(format!(
            "the cosine schedule of the run in {} anneals over {} epochs; resuming with {} would \
             change it mid-way (use the same --epochs, or the step or constant schedule)",
            dir.display(),
            saved.training.epochs,
            config.training.epochs
        )));
    }
    let checkpoints = checkpoint::dir(dir);
    let epochs = checkpoint::complete_epochs(&checkpoints);
    match resume {
        Resume::Latest => epochs.last().copied().ok_or_else(|| {
            Error::Resume(format!(
                "no complete checkpoint in {}",
                checkpoints.display()
            ))
        }),
        Resume::Epoch(epoch) if epochs.contains(&epoch) => Ok(epoch),
        Resume::Epoch(epoch) => Err(Error::Resume(format!(
            "no complete checkpoint for epoch {epoch} in {} (found: {})",
            checkpoints.display(),
            if epochs.is_empty() {
                "none".to_string()
            } else {
                epochs
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ))),
    }
}

pub fn save_config(dir: &Path, config: &TrainConfig) -> Result<(), Error> {
    write_toml(&dir.join(CONFIG), config)
}

fn write_toml<T: Serialize>(path: &Path, value: &T) -> Result<(), Error> {
    let text = toml::to_string_pretty(value)
        .map_err(|e| Error::Usage(format!("cannot encode {} as TOML: {e}", path.display())))?;
    write_atomic(path, text.as_bytes())
}

pub fn save_run_info(dir: &Path, info: &RunInfo) -> Result<(), Error> {
    write_json(&dir.join(RUN), info)
}

/// The history of earlier epochs; none when the file is missing. An unreadable one is reported,
/// since the curves and metrics will then lack those epochs.
pub fn load_history(dir: &Path) -> History {
    let path = history_path(dir);
    if !path.exists() {
        return History::default();
    }
    read_json(&path).unwrap_or_else(|| {
        eprintln!(
            "warning: {} is unreadable; the history starts again from this run",
            path.display()
        );
        History::default()
    })
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Usage(format!("cannot encode {}: {e}", path.display())))?;
    write_atomic(path, text.as_bytes())
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_file(path, bytes).map_err(Error::io(path))
}

/// Temp file in the same directory, flushed to disk, made readable like any saved file
/// (temp files start as 0600), then renamed into place: readers see the old file or the
/// whole new one, even after a crash.
pub fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}
