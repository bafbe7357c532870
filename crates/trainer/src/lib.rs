//! The library half of the `trainer` binary: everything it does, in one-way layers, so that the
//! fuzz targets and tests reach the same config parser and checked loaders the binary uses.
//! Not a stable API.
//!
//! From the bottom up (no file imports one above it):
//! - helpers: `console` (every line printed, stdout and stderr), `panics`, `error`, `failure`
//!   (the first write that failed during training);
//! - what a run is: `config` (the TOML file), `backend`, `backend_choice` (`--backend auto`),
//!   `run` (a run resolved from flags), `memory` (does it fit);
//! - [`run_dir`]: the run directory on disk: `lock` (one writer at a time), `names` (its files),
//!   `manifest` (what this program wrote there), `position` (checkpoint positions and names),
//!   `write` (atomic text files), `history`, `run_info`, `model_dir` (model.toml + model.bpk +
//!   input.toml as one unit), `metric_logs` (Burn's per-epoch logs, written without following
//!   links);
//! - data: `dataset` (the splits), `evaluate` (predictions, accuracy, the confusion matrix);
//! - [`training`]: `resume` (fresh, overwrite or resume: check everything, then change the
//!   directory), `loader` (epoch order from the seed), `optimizer`, `trainee` (the model as
//!   trained, with mid-epoch saves), `checkpoint/` (saving, the inventory, reading back
//!   checked), `throughput` (a metric), `progress` (the history recorded), `epoch_lines` (the
//!   lines printed), and `train` (the run itself, in named steps);
//! - [`report`]: what a run leaves to read and look at (`stats`: parameter statistics);
//! - [`commands`]: one file per subcommand;
//! - `cli`: the command line, resolved into what to run.

pub mod backend;
pub mod backend_choice;
pub mod cli;
pub mod commands;
pub mod config;
pub mod console;
pub mod dataset;
pub mod error;
pub mod evaluate;
pub mod failure;
pub mod memory;
pub mod panics;
pub mod report;
pub mod run;
pub mod run_dir;
pub mod training;
