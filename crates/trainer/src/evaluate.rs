//! Test-set evaluation: every prediction, the confusion matrix and accuracies.

use burn::data::dataloader::batcher::Batcher;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use std::path::Path;

use data::{MnistBatcher, MnistItem};
use model::Classifier;
use serde::Serialize;

use crate::error::Error;

#[derive(Clone, Debug, Serialize)]
pub struct Prediction {
    pub label: u8,
    pub predicted: u8,
    /// The probability the model gave its prediction.
    pub confidence: f32,
    /// All ten class probabilities.
    #[serde(skip)]
    pub probabilities: Vec<f32>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    /// Fraction 0-1 of test images classified correctly.
    pub accuracy: f64,
    pub per_class_accuracy: Vec<f64>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<u64>>,
    #[serde(skip)]
    pub predictions: Vec<Prediction>,
}

/// Class probabilities for each image, `[n][10]`.
pub fn probabilities(model: &Classifier, images: Tensor<4>) -> Result<Vec<Vec<f32>>, Error> {
    let probs = softmax(model.forward(images), 1);
    let [_, classes] = probs.dims();
    let values: Vec<f32> = probs
        .into_data()
        .try_into_vec()
        .map_err(|e| Error::Training(format!("reading back the predictions: {e:?}")))?;
    Ok(values.chunks(classes).map(<[f32]>::to_vec).collect())
}

/// Images per forward pass when evaluating or predicting: no gradients are kept, so a larger
/// batch than training's is cheap, and any number of images fits in memory.
pub const EVAL_BATCH: usize = 256;

/// Every image of `items` through `model`, in batches of `batch_size` (at least 1).
pub fn evaluate(
    model: &Classifier,
    items: &[MnistItem],
    batcher: &MnistBatcher,
    batch_size: usize,
    device: &Device,
) -> Result<Evaluation, Error> {
    let mut predictions = Vec::with_capacity(items.len());
    for chunk in items.chunks(batch_size) {
        let batch = batcher.batch(chunk.to_vec(), device);
        for (item, probs) in chunk.iter().zip(probabilities(model, batch.images)?) {
            let (predicted, confidence) = argmax(&probs);
            predictions.push(Prediction {
                label: item.label,
                predicted: predicted as u8,
                confidence,
                probabilities: probs,
            });
        }
    }
    Ok(summarize(predictions))
}

/// One row of a probabilities file.
pub struct ProbabilityRow<'a> {
    /// The image: its index in the split, or its file.
    pub id: String,
    /// The true class, when known.
    pub label: Option<u8>,
    pub predicted: usize,
    pub probabilities: &'a [f32],
}

/// Writes one CSV row per image (the id, the true label when known, the predicted class and the
/// ten class probabilities), atomically.
pub fn write_probabilities(path: &Path, id: &str, rows: &[ProbabilityRow]) -> Result<(), Error> {
    let mut out = format!("{id},label,predicted");
    for class in 0..model::NUM_CLASSES {
        out += &format!(",p{class}");
    }
    out.push('\n');
    for row in rows {
        // Quote the id: a file name may hold commas or quotes.
        out += &format!("\"{}\",", row.id.replace('"', "\"\""));
        if let Some(label) = row.label {
            out += &label.to_string();
        }
        out += &format!(",{}", row.predicted);
        for p in row.probabilities {
            out += &format!(",{p:.6}");
        }
        out.push('\n');
    }
    crate::run_dir::write::write_text(path, &out)
}

pub fn argmax(values: &[f32]) -> (usize, f32) {
    values
        .iter()
        .copied()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, v)| {
            if v > best.1 { (i, v) } else { best }
        })
}

pub fn summarize(predictions: Vec<Prediction>) -> Evaluation {
    let mut confusion = vec![vec![0u64; 10]; 10];
    for p in &predictions {
        if let Some(row) = confusion.get_mut(p.label as usize)
            && let Some(cell) = row.get_mut(p.predicted as usize)
        {
            *cell += 1;
        }
    }
    let correct: u64 = (0..10).map(|i| confusion[i][i]).sum();
    let per_class_accuracy = confusion
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let total: u64 = row.iter().sum();
            if total == 0 {
                0.0
            } else {
                row[i] as f64 / total as f64
            }
        })
        .collect();
    Evaluation {
        accuracy: correct as f64 / predictions.len().max(1) as f64,
        per_class_accuracy,
        confusion,
        predictions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(label: u8, predicted: u8) -> Prediction {
        Prediction {
            label,
            predicted,
            confidence: 0.9,
            probabilities: vec![0.01; 10],
        }
    }

    #[test]
    fn confusion_rows_are_true_labels_and_the_diagonal_is_accuracy() {
        let eval = summarize(vec![p(1, 1), p(1, 7), p(7, 7), p(3, 3)]);
        assert_eq!(eval.confusion[1][7], 1);
        assert_eq!(eval.confusion[1][1], 1);
        assert_eq!(eval.confusion.iter().flatten().sum::<u64>(), 4);
        assert_eq!(eval.accuracy, 0.75);
        assert_eq!(eval.per_class_accuracy[1], 0.5);
        assert_eq!(eval.per_class_accuracy[7], 1.0);
    }

    #[test]
    fn argmax_takes_the_first_of_equal_maxima() {
        assert_eq!(argmax(&[0.1, 0.7, 0.7, 0.2]), (1, 0.7));
    }
}
