//! One training run, resolved once from the command line and the config file: what `main`
//! dispatches and what everything below it reads.

use std::path::PathBuf;

use burn::tensor::Device;

use crate::backend::Backend;
use crate::config::TrainConfig;
use crate::error::Error;

/// Where to continue from: `--resume` alone means the newest complete checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    Latest,
    Epoch(usize),
}

/// What to do with the artifact directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A new run: refused where a run already is.
    Fresh,
    /// A new run replacing the one there (only files this program wrote are removed).
    Overwrite,
    /// Continue the run there.
    Resume(Resume),
}

#[derive(Clone, Debug)]
pub struct TrainRun {
    /// The config file, for messages.
    pub config_path: PathBuf,
    /// The config with the command line's overrides applied, validated.
    pub config: TrainConfig,
    pub artifacts: PathBuf,
    pub backend: Backend,
    /// Why that backend ("asked for", "the default", or what `auto` saw).
    pub backend_why: String,
    pub mode: Mode,
}

/// The backend's device, checked with one tiny computation ([`Backend::probe`]): the one place
/// a backend becomes a device a command can use.
pub fn open_device(backend: Backend) -> Result<Device, Error> {
    let device = backend.device();
    backend.probe(&device)?;
    Ok(device)
}
