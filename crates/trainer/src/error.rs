//! Every way the trainer can fail, each saying what and where; `main` prints one and exits 1
//! (130 for a run stopped by Ctrl-C, 0 for a closed stdout).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: files::ReadError,
    },
    #[error("{}: {source}", path.display())]
    ConfigSyntax {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{}: {message}", path.display())]
    ConfigValue { path: PathBuf, message: String },
    #[error("{}: {message}", path.display())]
    Json { path: PathBuf, message: String },
    #[error("{} is not a directory; give --artifacts (or [output] dir) a directory path", path.display())]
    NotADirectory { path: PathBuf },
    #[error("{} holds {} that this program did not write ({}); move them away or choose another directory", dir.display(), if paths.len() == 1 { "a file" } else { "files" }, list(paths))]
    Foreign { dir: PathBuf, paths: Vec<PathBuf> },
    #[error("{} holds symbolic links or special files (FIFO, socket, device) where this program writes ({}); it never reads or writes through them: move them away", dir.display(), list(paths))]
    Links { dir: PathBuf, paths: Vec<PathBuf> },
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
    #[error("{} is in use by another trainer command ({holder}); wait for it to finish, or stop it", dir.display())]
    Locked { dir: PathBuf, holder: String },
    #[error(
        "{}: {source}; training stopped, keeping the last whole checkpoint in {}/checkpoint: continue with --resume once that is fixed",
        path.display(),
        artifacts.display()
    )]
    WriteFailed {
        path: PathBuf,
        source: std::io::Error,
        artifacts: PathBuf,
    },
    #[error("cannot resume: {0}")]
    Resume(String),
    #[error(
        "training interrupted; the last complete checkpoint is in {}/checkpoint: continue with --resume",
        artifacts.display()
    )]
    Interrupted { artifacts: PathBuf },
    #[error(
        "training diverged in epoch {epoch}: the loss became {loss} (stopped, as [training] stop_on_nan asks); {advice}"
    )]
    Diverged {
        epoch: usize,
        loss: f64,
        advice: String,
    },
    #[error(transparent)]
    Tsv(#[from] data::TsvError),
    #[error("{0} backend: {1}")]
    Backend(&'static str, String),
    #[error("training failed: {0}")]
    Training(String),
    #[error("{0}")]
    Usage(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("the server failed: {0}")]
    Serve(String),
    #[error("{failed} of {total} images could not be predicted")]
    PredictFailed { failed: usize, total: usize },
    /// Whoever read our output stopped reading (`trainer predict ... | head -1`): a normal end.
    #[error("standard output was closed")]
    StdoutClosed,
}

fn list(paths: &[PathBuf]) -> String {
    let mut names: Vec<String> = paths
        .iter()
        .take(5)
        .map(|p| p.display().to_string())
        .collect();
    if paths.len() > 5 {
        names.push(format!("and {} more", paths.len() - 5));
    }
    names.join(", ")
}

impl Error {
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    pub fn read(path: &std::path::Path, source: files::ReadError) -> Self {
        Self::Read {
            path: path.to_path_buf(),
            source,
        }
    }
}
