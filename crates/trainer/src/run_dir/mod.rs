//! The run directory (`--artifacts`, or `eval --output`) on disk: who may write it ([`lock`]),
//! the names of its files ([`names`]), the manifest of what this program wrote there
//! ([`manifest`]: [`manifest::RunDir`]) and which files in its folders are ours
//! ([`owned`]), where a checkpoint stands ([`position`]), the atomic
//! text writers ([`write`]), and each file it holds: [`model_dir`] (the trained model as one
//! unit), [`history`], [`run_info`], [`metric_logs`].

pub mod history;
pub mod lock;
pub mod manifest;
pub mod metric_logs;
pub mod model_dir;
pub mod names;
pub mod owned;
pub mod position;
pub mod run_info;
pub mod write;
