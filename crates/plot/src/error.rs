//! The one error type of the crate; every variant names the file it was about.

use std::path::PathBuf;

/// Why a picture was not written. No file is left at `path` in any case.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The data cannot be drawn (wrong lengths, nothing finite, zero columns...).
    #[error("{}: invalid input: {reason}", path.display())]
    InvalidInput { path: PathBuf, reason: String },
    /// The extension of `path` is not one this picture can be written as.
    #[error("{}: unsupported output format (expected {expected})", path.display())]
    UnsupportedFormat {
        path: PathBuf,
        expected: &'static str,
    },
    /// Creating, writing or renaming the file failed (e.g. missing directory).
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// PNG encoding failed.
    #[error("{}: PNG encoding failed: {source}", path.display())]
    Encode {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
    /// plotters reported an error while drawing (font or backend trouble).
    #[error("{}: drawing failed: {message}", path.display())]
    Draw { path: PathBuf, message: String },
}

impl PlotError {
    pub(crate) fn invalid(path: &std::path::Path, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    pub(crate) fn draw(path: &std::path::Path, err: impl std::fmt::Display) -> Self {
        Self::Draw {
            path: path.to_path_buf(),
            message: err.to_string(),
        }
    }
}
