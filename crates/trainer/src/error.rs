//! Every way the trainer can fail, each saying what and where; `main` prints one and exits 1.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    ConfigSyntax {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{}: {message}", path.display())]
    ConfigValue { path: PathBuf, message: String },
    #[error(transparent)]
    Fetch(#[from] data::FetchError),
    #[error(transparent)]
    Data(#[from] data::DataError),
    #[error(transparent)]
    ModelConfig(#[from] model::ModelConfigError),
    #[error(transparent)]
    ModelStore(#[from] model::StoreError),
    #[error(transparent)]
    Plot(#[from] plot::PlotError),
    #[error("cannot resume: {0}")]
    Resume(String),
    #[error(
        "training interrupted; the last complete checkpoint is in {}/checkpoint: continue with --resume",
        artifacts.display()
    )]
    Interrupted { artifacts: PathBuf },
    #[error(transparent)]
    Tsv(#[from] data::TsvError),
    #[error("training failed: {0}")]
    Training(String),
    #[error("{0}")]
    Usage(String),
    #[error("{failed} of {total} images could not be predicted")]
    PredictFailed { failed: usize, total: usize },
}

impl Error {
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
