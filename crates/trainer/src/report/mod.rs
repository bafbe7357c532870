//! What a run leaves to read and look at: `metrics.json`, the test report, and the pictures
//! (curves, sample grid, mistakes, confusion matrix, first-layer filters and feature maps,
//! parameter statistics).

pub mod stats;

use std::fmt::Write;
use std::path::Path;

use burn::data::dataloader::batcher::Batcher;
use burn::prelude::*;
use data::{DatasetKind, MnistBatcher, MnistDataset, MnistItem};
use model::Classifier;
use plot::{Map, Series, Tile};
use serde::Serialize;

use crate::config::TrainConfig;
use crate::console;
use crate::dataset::ModelBatcher;
use crate::error::Error;
use crate::evaluate::Evaluation;
use crate::run_dir::history::{EpochRecord, History, IterationRecord};
use crate::run_dir::names::{self, EVAL_FILES};
use crate::run_dir::write;
use crate::training::train::Outcome;

#[derive(Serialize)]
struct Metrics<'a> {
    /// Fraction 0-1 over the whole test set.
    test_accuracy: f64,
    /// The final model's accuracy on the training images (0-1).
    train_accuracy: f64,
    test_images: usize,
    per_class_accuracy: &'a [f64],
    /// Rows are true classes, columns predicted ones.
    confusion_matrix: &'a [Vec<u64>],
    class_names: [&'static str; 10],
    /// Epochs trained in total, counting those before a resume.
    epochs: usize,
    /// This invocation's wall-clock time: data, training, evaluation.
    wall_seconds: f64,
    /// Training-split images per second over the epochs this invocation trained; `null` for a
    /// resume that only finished the run.
    train_images_per_sec: Option<f64>,
    backend: &'a str,
    device: &'a str,
    model: &'a str,
    parameters: usize,
    dataset: &'static str,
    history: &'a History,
}

/// Training-split throughput over the epochs this invocation trained (those after `resumed_from`),
/// if it trained any.
pub fn images_per_sec(history: &History, resumed_from: usize) -> Option<f64> {
    let (images, seconds) = history
        .epochs
        .iter()
        .filter(|e| e.epoch > resumed_from)
        .filter_map(|e| Some((e.train_images, e.train_seconds?)))
        .fold((0usize, 0f64), |(n, s), (i, t)| (n + i, s + t));
    (seconds > 0.0).then(|| images as f64 / seconds)
}

pub fn after_training(dir: &Path, config: &TrainConfig, outcome: &Outcome) -> Result<(), Error> {
    let kind = config.data.dataset;
    let metrics = Metrics {
        test_accuracy: outcome.test.accuracy,
        train_accuracy: outcome.train_accuracy,
        test_images: outcome.test.predictions.len(),
        per_class_accuracy: &outcome.test.per_class_accuracy,
        confusion_matrix: &outcome.test.confusion,
        class_names: kind.class_names(),
        epochs: outcome
            .history
            .epochs
            .last()
            .map_or(config.training.epochs, |e| e.epoch),
        wall_seconds: outcome.wall_seconds,
        train_images_per_sec: images_per_sec(&outcome.history, outcome.resumed_from),
        backend: &outcome.run.backend,
        device: &outcome.run.device,
        model: &outcome.run.model,
        parameters: outcome.run.parameters,
        dataset: kind.name(),
        history: &outcome.history,
    };
    // The model is saved; a picture that cannot be drawn (a diverged run has no finite loss to
    // plot) is worth a warning, not a failed run.
    let pictures = [
        curves(dir, &outcome.history),
        split_report(
            dir,
            kind,
            data::Split::Test,
            &outcome.test,
            &outcome.test_set,
            EVAL_FILES,
        )
        .map(drop),
        samples(dir, kind, &outcome.test, &outcome.test_set),
        layer_pictures(
            dir,
            &outcome.model,
            &outcome.test_set,
            &outcome.batcher,
            &outcome.device,
        ),
        parameters(
            dir,
            &outcome.model,
            &outcome.grad_items,
            &outcome.batcher,
            &outcome.device,
        ),
    ];
    for error in pictures.into_iter().filter_map(Result::err) {
        console::note(format!("warning: {error}"));
    }
    // Last: `metrics.json` marks a finished run. A run killed before it is finished by
    // `--resume`, which writes the reports and pictures again.
    write::write_json(&dir.join(names::METRICS), &metrics)
}

fn curves(dir: &Path, history: &History) -> Result<(), Error> {
    let series = |name: &str, f: &dyn Fn(&EpochRecord) -> Option<f64>| Series {
        name: name.to_string(),
        points: history
            .epochs
            .iter()
            .filter_map(|e| Some((e.epoch as f64, f(e)?)))
            .collect(),
    };
    let loss = [
        series("train", &|e| e.train_loss),
        series("valid", &|e| e.valid_loss),
    ];
    let accuracy = [
        series("train", &|e| e.train_accuracy.map(|a| a * 100.0)),
        series("valid", &|e| e.valid_accuracy.map(|a| a * 100.0)),
    ];
    plot::training_curves(&dir.join(names::CURVES), "epoch", &loss, &accuracy)?;

    if !history.iterations.is_empty() {
        let per_iter = |f: &dyn Fn(&IterationRecord) -> f64| {
            let mut step = 0;
            let points = history
                .iterations
                .iter()
                .map(|i| {
                    step += 1;
                    (step as f64, f(i))
                })
                .collect();
            [Series {
                name: "train".into(),
                points,
            }]
        };
        plot::training_curves(
            &dir.join(names::CURVES_ITERATIONS),
            "iteration",
            &per_iter(&|i| i.loss),
            &per_iter(&|i| i.accuracy * 100.0),
        )?;
    }
    Ok(())
}

/// The text report, the confusion heatmap and the most confidently wrong images of a split,
/// written as the files `names` (report, numbers, heatmap, mistakes; see `names::EVAL_FILES`).
pub fn split_report(
    dir: &Path,
    kind: DatasetKind,
    split: data::Split,
    eval: &Evaluation,
    test: &MnistDataset,
    names: [&str; 4],
) -> Result<String, Error> {
    let [report, numbers, heatmap, mistakes] = names;
    let classes = kind.class_names();
    let text = text_report(kind, split, eval);
    write::write_text(&dir.join(report), &text)?;
    write::write_json(&dir.join(numbers), eval)?;
    plot::confusion_heatmap(
        &dir.join(heatmap),
        &eval.confusion,
        &classes,
        &format!(
            "{} {} set: {:.2}% correct",
            kind.name(),
            split_name(split),
            eval.accuracy * 100.0
        ),
    )?;
    let names = classes;

    let mut wrong: Vec<usize> = (0..eval.predictions.len())
        .filter(|&i| eval.predictions[i].label != eval.predictions[i].predicted)
        .collect();
    wrong.sort_by(|&a, &b| {
        eval.predictions[b]
            .confidence
            .total_cmp(&eval.predictions[a].confidence)
    });
    let tiles: Vec<Tile> = wrong
        .iter()
        .take(16)
        .filter_map(|&i| {
            let item = test.items().get(i)?;
            let p = &eval.predictions[i];
            Some(Tile {
                pixels: &item.image,
                width: 28,
                height: 28,
                caption: format!(
                    "true {} / pred {} ({:.0}%)",
                    names[p.label as usize % 10],
                    names[p.predicted as usize % 10],
                    p.confidence * 100.0
                ),
                wrong: true,
            })
        })
        .collect();
    if !tiles.is_empty() {
        plot::digit_grid(&dir.join(mistakes), &tiles, 4)?;
    }
    Ok(text)
}

fn split_name(split: data::Split) -> &'static str {
    match split {
        data::Split::Train => "training",
        data::Split::Test => "test",
    }
}

fn text_report(kind: DatasetKind, split: data::Split, eval: &Evaluation) -> String {
    let names = kind.class_names();
    let mut out = format!(
        "{} {} set: {} images, accuracy {:.2}%\n\nper class:\n",
        kind.name(),
        split_name(split),
        eval.predictions.len(),
        eval.accuracy * 100.0
    );
    for (name, acc) in names.iter().zip(&eval.per_class_accuracy) {
        let _ = writeln!(out, "  {name:>12}  {:.2}%", acc * 100.0);
    }
    out.push_str("\nconfusion matrix (rows: true class, columns: predicted)\n       ");
    for i in 0..10 {
        let _ = write!(out, "{i:>6}");
    }
    out.push('\n');
    for (i, row) in eval.confusion.iter().enumerate() {
        let _ = write!(out, "  {i:>3}  ");
        for count in row {
            let _ = write!(out, "{count:>6}");
        }
        out.push('\n');
    }
    out
}

/// The first 16 test digits with their predictions, wrong ones marked.
fn samples(
    dir: &Path,
    kind: DatasetKind,
    eval: &Evaluation,
    test: &MnistDataset,
) -> Result<(), Error> {
    let names = kind.class_names();
    let tiles: Vec<Tile> = test
        .items()
        .iter()
        .zip(&eval.predictions)
        .take(16)
        .map(|(item, p)| Tile {
            pixels: &item.image,
            width: 28,
            height: 28,
            caption: format!("predicted: {}", names[p.predicted as usize % 10]),
            wrong: p.predicted != p.label,
        })
        .collect();
    plot::digit_grid(&dir.join(names::SAMPLES), &tiles, 4)?;
    Ok(())
}

/// The first convolution's filters, and its feature maps for the first test digit.
fn layer_pictures(
    dir: &Path,
    model: &Classifier,
    test: &MnistDataset,
    batcher: &MnistBatcher,
    device: &Device,
) -> Result<(), Error> {
    let Some(weights) = model.first_conv_weights() else {
        return Ok(()); // The MLP has no convolution to picture.
    };
    let filters = planes(weights);
    let title = "first convolution: filters";
    plot::map_grid(&dir.join(names::FILTERS), title, &filters.maps(), 10)?;

    let Some(item) = test.items().first() else {
        return Ok(());
    };
    if let Some(maps) = model.feature_maps(batcher.images(&[item.image], device)) {
        let title = format!("first convolution: feature maps of a test '{}'", item.label);
        plot::map_grid(
            &dir.join(names::FEATURE_MAPS),
            &title,
            &planes(maps).maps(),
            10,
        )?;
    }
    Ok(())
}

/// Every `h x w` plane of a `[n, c, h, w]` tensor, in order: the filters of `[out, 1, k, k]`
/// conv weights, or the channels of one image's `[1, c, h, w]` feature maps.
struct Planes {
    values: Vec<f32>,
    count: usize,
    height: usize,
    width: usize,
}

fn planes(tensor: Tensor<4>) -> Planes {
    let [n, c, height, width] = tensor.dims();
    Planes {
        // Reading back a tensor just computed cannot fail on a working backend.
        values: tensor.into_data().try_into_vec().unwrap_or_default(),
        count: n * c,
        height,
        width,
    }
}

impl Planes {
    fn maps(&self) -> Vec<Map<'_>> {
        self.values
            .chunks(self.height * self.width)
            .take(self.count)
            .enumerate()
            .map(|(i, values)| Map {
                values,
                width: self.width,
                height: self.height,
                caption: i.to_string(),
            })
            .collect()
    }
}

fn parameters(
    dir: &Path,
    model: &Classifier,
    grad_items: &[MnistItem],
    batcher: &MnistBatcher,
    device: &Device,
) -> Result<(), Error> {
    let autodiff = device.clone().autodiff();
    let trainable = model.clone().train().fork(&autodiff);
    let batch = (!grad_items.is_empty())
        .then(|| ModelBatcher(batcher.clone()).batch(grad_items.to_vec(), &autodiff));
    let table = stats::table(&stats::collect(&trainable, batch));
    let text = format!(
        "Parameters of the trained model; gradients of the loss on the first {} training images.\n\n{table}",
        grad_items.len()
    );
    write::write_text(&dir.join(names::PARAMETERS), &text)
}
