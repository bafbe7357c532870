//! The library half of the `trainer` binary: everything it does, in one-way layers, so that the
//! fuzz targets and tests reach the same config parser and checked loaders the binary uses.
//! Not a stable API.
//!
//! From the bottom up:
//! - helpers: `console` (stdout lines), `panics`, `malloc`, `error`, `failure` (the first
//!   write that failed during training);
//! - what a run is: `config` (the TOML file), `backend`, `backend_choice` (`--backend auto`), `run` (a run resolved from flags),
//!   `memory` (does it fit);
//! - the run directory on disk: `lock` (one writer at a time), `layout` (file names and the manifest of what this program
//!   wrote), `history`, `run_info`, `model_dir` (model.toml + model.bpk + input.toml as one
//!   unit), `optimizer`, `trainee` (the model as trained, with mid-epoch saves), `checkpoint`,
//!   `metric_logs` (Burn's per-epoch logs, written without following links);
//! - data: `dataset` (the splits), `loader` (epoch order from the seed);
//! - decisions: `plan` (check everything, then change the directory);
//! - commands: `throughput` (a metric), `progress`, `evaluate`, `stats`, `train`, `report`,
//!   `predict`, `serve` (a folder: worker, API, pages), `tutorials`, `cli`.

pub mod backend;
pub mod backend_choice;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod console;
pub mod dataset;
pub mod error;
pub mod evaluate;
pub mod failure;
pub mod history;
pub mod layout;
pub mod loader;
pub mod lock;
pub mod malloc;
pub mod memory;
pub mod metric_logs;
pub mod model_dir;
pub mod optimizer;
pub mod panics;
pub mod plan;
pub mod predict;
pub mod progress;
pub mod report;
pub mod run;
pub mod run_info;
pub mod serve;
pub mod stats;
pub mod throughput;
pub mod train;
pub mod trainee;
pub mod tutorials;
