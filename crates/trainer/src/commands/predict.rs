//! `trainer predict`: a saved model reads image files of any size and colour and names the class.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use serde::Serialize;

use crate::console;
use crate::error::Error;
use crate::evaluate::{self, EVAL_BATCH, ProbabilityRow};
use crate::run_dir::model_dir::ModelDir;

#[derive(Debug, Serialize)]
struct Guess {
    label: &'static str,
    probability: f32,
}

#[derive(Debug, Serialize)]
struct FilePrediction {
    file: PathBuf,
    predicted: usize,
    label: &'static str,
    top3: Vec<Guess>,
}

/// `trainer predict`, resolved: the device is open and probed.
#[derive(Clone, Debug)]
pub struct PredictRun {
    /// A model directory (an artifact directory after training).
    pub model: PathBuf,
    /// PNG, JPEG, BMP or PGM files, any size and colour.
    pub images: Vec<PathBuf>,
    /// Print a JSON array instead of text.
    pub json: bool,
    /// The pictures already are MNIST digits: take their pixels as they are.
    pub raw: bool,
    /// Also write each picture's ten class probabilities to this CSV file.
    pub probabilities: Option<PathBuf>,
    pub device: Device,
}

pub fn run(run: &PredictRun) -> Result<(), Error> {
    let device = &run.device;
    let ModelDir { model, input, .. } = ModelDir::load(&run.model, device)?;
    let names = input.dataset.class_names();

    // Convert every file first, so one bad file is reported without stopping the others.
    let mut failed = 0;
    let mut ready = Vec::new();
    for path in &run.images {
        match read(path, run.raw) {
            Ok(pixels) => ready.push((path.clone(), pixels)),
            Err(message) => {
                failed += 1;
                console::note(format!("error: {}: {message}", path.display()));
            }
        }
    }

    let mut results = Vec::new();
    let mut all_probabilities = Vec::new();
    for chunk in ready.chunks(EVAL_BATCH) {
        let pixels: Vec<[u8; 784]> = chunk.iter().map(|(_, p)| *p).collect();
        let images = input.batcher().images(&pixels, device);
        for ((file, _), probs) in chunk.iter().zip(evaluate::probabilities(&model, images)?) {
            let mut order: Vec<usize> = (0..probs.len()).collect();
            order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
            let predicted = order[0];
            results.push(FilePrediction {
                file: file.clone(),
                predicted,
                label: names[predicted % 10],
                top3: order
                    .iter()
                    .take(3)
                    .map(|&i| Guess {
                        label: names[i % 10],
                        probability: probs[i],
                    })
                    .collect(),
            });
            all_probabilities.push(probs);
        }
    }
    if let Some(path) = &run.probabilities {
        let rows: Vec<ProbabilityRow> = results
            .iter()
            .zip(&all_probabilities)
            .map(|(r, probs)| ProbabilityRow {
                id: r.file.display().to_string(),
                label: None,
                predicted: r.predicted,
                probabilities: probs,
            })
            .collect();
        evaluate::write_probabilities(path, "file", &rows)?;
    }

    if run.json {
        let text = serde_json::to_string_pretty(&results)
            .map_err(|e| Error::Usage(format!("cannot encode the predictions: {e}")))?;
        console::line(text)?;
    } else {
        for r in &results {
            let top3: Vec<String> = r
                .top3
                .iter()
                .map(|g| format!("{} {:.1}%", g.label, g.probability * 100.0))
                .collect();
            console::line(format!(
                "{}: {}  ({})",
                r.file.display(),
                r.label,
                top3.join(", ")
            ))?;
        }
    }
    if failed > 0 {
        return Err(Error::PredictFailed {
            failed,
            total: run.images.len(),
        });
    }
    Ok(())
}

/// Decodes a picture (size-checked before decoding) and turns it into a 28x28 MNIST-style digit,
/// or, with `raw`, takes a 28x28 digit as it is.
fn read(path: &Path, raw: bool) -> Result<[u8; 784], String> {
    let digit = if raw {
        data::read_raw_picture(path)
    } else {
        data::read_picture(path)
    };
    digit.map_err(|e| e.to_string())
}
