//! What the model directory says about the run that trained it: the numbers of `metrics.json`
//! and the pictures, read once at start-up so that the report matches the model being served.
//! Only the fixed names below are ever read; a file that is missing is simply left out.

use std::path::Path;

use axum::body::Bytes;
use serde::Deserialize;

use crate::console;
use crate::run_dir::names::{
    CONFUSION, CURVES, CURVES_ITERATIONS, FEATURE_MAPS, FILTERS, METRICS, MISTAKES, SAMPLES,
};

/// The pictures shown, in page order, each with its caption.
pub const PICTURES: [(&str, &str); 7] = [
    (CURVES, "loss and accuracy per epoch"),
    (CURVES_ITERATIONS, "loss and accuracy per iteration"),
    (CONFUSION, "confusion matrix (rows: true class)"),
    (SAMPLES, "test images with predictions"),
    (MISTAKES, "the most confidently wrong test images"),
    (FILTERS, "first-layer filters"),
    (FEATURE_MAPS, "first-layer feature maps of a test image"),
];

/// The largest picture or `metrics.json` read (the pictures are a few hundred KiB).
const MAX_FILE_BYTES: u64 = 32 << 20;

/// The numbers of `metrics.json` worth showing. Every field is optional so that a file from an
/// older or newer trainer still shows what it has.
#[derive(Debug, Default, Deserialize)]
pub struct Metrics {
    /// Fraction 0-1.
    pub test_accuracy: Option<f64>,
    pub test_images: Option<usize>,
    #[serde(default)]
    pub per_class_accuracy: Vec<f64>,
    pub epochs: Option<usize>,
    pub wall_seconds: Option<f64>,
    pub train_images_per_sec: Option<f64>,
    pub backend: Option<String>,
    pub dataset: Option<String>,
}

/// One picture of the run, held in memory.
pub struct Picture {
    pub name: &'static str,
    pub caption: &'static str,
    pub png: Bytes,
}

/// The run's numbers and pictures, as far as the directory has them.
pub struct RunFiles {
    pub metrics: Option<Metrics>,
    pub pictures: Vec<Picture>,
}

impl RunFiles {
    /// Reads what exists; a file that exists but cannot be read is a warning, not a reason
    /// to refuse to serve the model.
    pub fn read(dir: &Path) -> Self {
        let metrics = read(dir, METRICS).and_then(|bytes| {
            serde_json::from_slice(&bytes)
                .map_err(|e| warn(dir, METRICS, &e.to_string()))
                .ok()
        });
        let pictures = PICTURES
            .iter()
            .filter_map(|&(name, caption)| {
                Some(Picture {
                    name,
                    caption,
                    png: Bytes::from(read(dir, name)?),
                })
            })
            .collect();
        Self { metrics, pictures }
    }
}

fn read(dir: &Path, name: &str) -> Option<Vec<u8>> {
    match files::read_capped_no_links(&dir.join(name), MAX_FILE_BYTES) {
        Ok(bytes) => Some(bytes),
        Err(files::ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            warn(dir, name, &e.to_string());
            None
        }
    }
}

fn warn(dir: &Path, name: &str, message: &str) {
    console::note(format!(
        "warning: {}: {message}; the report leaves it out",
        dir.join(name).display()
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_left_out_and_present_ones_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFUSION), b"png bytes").unwrap();
        std::fs::write(
            dir.path().join(METRICS),
            r#"{"test_accuracy": 0.5, "epochs": 3, "history": {"epochs": []}}"#,
        )
        .unwrap();
        let files = RunFiles::read(dir.path());
        let names: Vec<&str> = files.pictures.iter().map(|p| p.name).collect();
        assert_eq!(names, [CONFUSION]);
        let metrics = files.metrics.unwrap();
        assert_eq!(metrics.test_accuracy, Some(0.5));
        assert_eq!(metrics.epochs, Some(3));

        std::fs::write(dir.path().join(METRICS), b"{ not json").unwrap();
        assert!(RunFiles::read(dir.path()).metrics.is_none());
    }
}
