//! The names of the files a run directory (`--artifacts`, or `eval --output`) holds, and which
//! of them each command writes. What this program owns there is `manifest.rs`'s business.
//!
//! ```text
//! artifacts/lenet/
//!   trainer-manifest.json  what this program wrote here (read before anything is deleted)
//!   config.toml            the resolved training config
//!   run.json               backend, device, versions, seed, threads
//!   history.json           per-epoch numbers, saved after every epoch
//!   model.toml, model.bpk, input.toml   the trained model (see run_dir/model_dir.rs)
//!   metrics.json, report.txt, eval.json, parameters.txt, *.png   results and pictures
//!   checkpoint/            model-N.bpk, optim-N.bpk, scheduler-N.bpk
//!   train/, valid/         Burn's metric logs: epoch-N/<Metric>.log
//! ```

use std::path::{Path, PathBuf};

pub const MANIFEST: &str = "trainer-manifest.json";
pub const CONFIG: &str = "config.toml";
pub const RUN: &str = "run.json";
pub const HISTORY: &str = "history.json";
pub const METRICS: &str = "metrics.json";
pub const MODEL_CONFIG: &str = "model.toml";
pub const WEIGHTS: &str = "model.bpk";
pub const INPUT: &str = "input.toml";
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
pub const REPORT_TRAIN: &str = "report-train.txt";
pub const EVAL_TRAIN: &str = "eval-train.json";
pub const CONFUSION_TRAIN: &str = "confusion-train.png";
pub const MISTAKES_TRAIN: &str = "mistakes-train.png";

pub const CHECKPOINTS: &str = "checkpoint";
pub const TRAIN_LOGS: &str = "train";
pub const VALID_LOGS: &str = "valid";

/// Every top-level file a training run (or `eval` in its directory) may write.
pub const RUN_FILES: [&str; 21] = [
    CONFIG,
    RUN,
    HISTORY,
    METRICS,
    MODEL_CONFIG,
    WEIGHTS,
    INPUT,
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
    REPORT_TRAIN,
    EVAL_TRAIN,
    CONFUSION_TRAIN,
    MISTAKES_TRAIN,
];

/// Every directory a training run creates.
pub const RUN_DIRS: [&str; 3] = [CHECKPOINTS, TRAIN_LOGS, VALID_LOGS];

/// The files `eval` writes into its output directory for the test split: report, numbers,
/// confusion heatmap, mistakes.
pub const EVAL_FILES: [&str; 4] = [REPORT, EVAL, CONFUSION, MISTAKES];

/// The same for `eval --split train`.
pub const EVAL_TRAIN_FILES: [&str; 4] = [REPORT_TRAIN, EVAL_TRAIN, CONFUSION_TRAIN, MISTAKES_TRAIN];

/// The three records of a checkpoint, by file-name prefix: `checkpoint/<part>-<epoch>.bpk`.
pub const CHECKPOINT_PARTS: [&str; 3] = ["model", "optim", "scheduler"];

/// `artifacts/<config file name>`: where a run goes unless `--artifacts` or `[output] dir` says.
pub fn default_artifacts(config_path: &Path) -> PathBuf {
    let name = config_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    PathBuf::from("artifacts").join(name)
}
