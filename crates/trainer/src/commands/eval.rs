//! `trainer eval`: a saved model on a whole split of the data it was trained on, with the report
//! written beside it (or where `--output` says).

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use data::MnistDataset;

use crate::config::TrainConfig;
use crate::console;
use crate::dataset;
use crate::error::Error;
use crate::evaluate::{self, EVAL_BATCH, ProbabilityRow};
use crate::report::split_report;
use crate::run_dir::manifest::RunDir;
use crate::run_dir::model_dir::ModelDir;
use crate::run_dir::names::{self, EVAL_FILES, EVAL_TRAIN_FILES, RUN_DIRS, RUN_FILES};

/// `trainer eval`, resolved: the device is open and probed.
#[derive(Clone, Debug)]
pub struct EvalRun {
    /// A model directory (an artifact directory after training).
    pub model: PathBuf,
    /// Dataset directory, overriding $MNIST_DATA_DIR.
    pub data_dir: Option<PathBuf>,
    /// Where to write the report [default: the model directory].
    pub output: Option<PathBuf>,
    pub split: data::Split,
    /// Also write every image's ten class probabilities to this CSV file.
    pub probabilities: Option<PathBuf>,
    pub device: Device,
}

pub fn run(run: &EvalRun) -> Result<(), Error> {
    let report = evaluate_saved(run)?;
    console::line(report)
}

/// `trainer eval`: a saved model on a whole split of the data it was trained on, with the
/// report written to `output` (the model directory unless given), refusing to replace files
/// there that are not ours.
fn evaluate_saved(run: &EvalRun) -> Result<String, Error> {
    let (split, device) = (run.split, &run.device);
    let names = match split {
        data::Split::Test => EVAL_FILES,
        data::Split::Train => EVAL_TRAIN_FILES,
    };
    // One writer per directory: a training run or another eval there waits its turn. The lock
    // comes first, so that a model being written by a run in that directory is never read.
    let mut out = RunDir::lock(run.output.as_deref().unwrap_or(&run.model))?;
    let evaluated = (|| {
        if out.root() == run.model {
            // Reading the model from the directory written into: no link or FIFO is followed.
            let strange = out.links(&RUN_FILES, &RUN_DIRS);
            if !strange.is_empty() {
                return Err(Error::Links {
                    dir: out.root().to_path_buf(),
                    paths: strange,
                });
            }
        }
        let saved = ModelDir::load(&run.model, device)?;
        out.check_writable(&names, &[])?;
        let items = eval_data(&run.model, &saved, run.data_dir.as_deref(), split)?;
        let batcher = saved.input.batcher();
        let eval = evaluate::evaluate(&saved.model, items.items(), &batcher, EVAL_BATCH, device)?;
        if let Some(path) = &run.probabilities {
            let rows: Vec<ProbabilityRow> = eval
                .predictions
                .iter()
                .enumerate()
                .map(|(i, p)| ProbabilityRow {
                    id: i.to_string(),
                    label: Some(p.label),
                    predicted: p.predicted as usize,
                    probabilities: &p.probabilities,
                })
                .collect();
            evaluate::write_probabilities(path, "index", &rows)?;
        }
        Ok((saved, items, eval))
    })();
    let (saved, items, eval) = match evaluated {
        Ok(done) => done,
        Err(e) => {
            // Nothing was written into the directory yet.
            out.abandon();
            return Err(e);
        }
    };
    out.claim(&names, &[])?;
    let text = split_report(out.root(), saved.input.dataset, split, &eval, &items, names)?;
    Ok(format!(
        "{text}\n{} written to {}",
        names.join(", "),
        out.root().display()
    ))
}

/// The images a saved model is evaluated on: when the model directory is a run directory, the
/// split of exactly the data its run trained on (its `config.toml` names TSV files, IDX files or
/// a dataset, and the training split is what the run trained on, without the held-out
/// validation images); else the dataset its `input.toml` names.
fn eval_data(
    model_dir: &Path,
    saved: &ModelDir,
    data_dir: Option<&Path>,
    split: data::Split,
) -> Result<MnistDataset, Error> {
    let run_config = model_dir.join(names::CONFIG);
    if !run_config.is_file() {
        let files = dataset::ensure(saved.input.dataset, data_dir)?;
        return Ok(MnistDataset::open(&files, split)?);
    }
    let mut config = TrainConfig::load(&run_config)?;
    if config.model != saved.config {
        return Err(Error::ConfigValue {
            path: run_config,
            message: format!(
                "its [model] (`{}`) is not the network in {} (`{}`); the directory mixes two runs",
                config.model.describe(),
                model_dir.join(names::MODEL_CONFIG).display(),
                saved.config.describe()
            ),
        });
    }
    if let Some(dir) = data_dir {
        if config.data.names_files() {
            return Err(Error::Usage(format!(
                "--data-dir has no effect: the run in {} read the files its config.toml names",
                model_dir.display()
            )));
        }
        config.data.dir = Some(dir.to_path_buf());
    }
    let splits = dataset::load_splits(&config)?;
    Ok(match split {
        data::Split::Test => splits.test.as_ref().clone(),
        data::Split::Train => dataset::materialize(&splits.train),
    })
}
