//! `trainer predict`: a saved model reads image files of any size and colour and names the class.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::PredictArgs;
use crate::console;
use crate::error::Error;
use crate::evaluate;
use crate::model_dir::ModelDir;

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

pub fn command(args: PredictArgs) -> Result<(), Error> {
    let device = args.backend.get().device();
    let ModelDir { model, input, .. } = ModelDir::load(&args.model, &device)?;
    let names = input.dataset.class_names();

    // Convert every file first, so one bad file is reported without stopping the others.
    let mut failed = 0;
    let mut ready = Vec::new();
    for path in &args.images {
        match read(path) {
            Ok(pixels) => ready.push((path.clone(), pixels)),
            Err(message) => {
                failed += 1;
                eprintln!("error: {}: {message}", path.display());
            }
        }
    }

    let mut results = Vec::new();
    if !ready.is_empty() {
        let pixels: Vec<[u8; 784]> = ready.iter().map(|(_, p)| *p).collect();
        let images = input.batcher().images(&pixels, &device);
        for ((file, _), probs) in ready
            .into_iter()
            .zip(evaluate::probabilities(&model, images)?)
        {
            let mut order: Vec<usize> = (0..probs.len()).collect();
            order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
            let predicted = order[0];
            results.push(FilePrediction {
                file,
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
        }
    }

    if args.json {
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
            total: args.images.len(),
        });
    }
    Ok(())
}

/// Decodes a picture (size-checked before decoding) and turns it into a 28x28 MNIST-style digit.
fn read(path: &Path) -> Result<[u8; 784], String> {
    data::read_picture(path).map_err(|e| e.to_string())
}
