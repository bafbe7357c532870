//! The run directory (`--artifacts`, or `eval --output`) on disk: who may write it ([`lock`]),
//! the names of its files and the manifest of what this program wrote ([`layout`]), and each
//! file it holds: [`model_dir`] (the trained model as one unit), [`history`], [`run_info`],
//! [`metric_logs`].

pub mod history;
pub mod lock;
pub mod manifest;
pub mod metric_logs;
pub mod model_dir;
pub mod run_info;
