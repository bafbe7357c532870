//! Training: check everything (config, memory, data, backend, the run directory and any
//! checkpoint), then change the run directory, then hand the network, optimizer and schedule to
//! Burn's Learner with checkpoints, metrics and a renderer. One code path for every backend.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use burn::data::dataloader::DataLoader;
use burn::data::dataset::Dataset;
use burn::prelude::*;
use burn::train::metric::{AccuracyMetric, LearningRateMetric, LossMetric};
use burn::train::{Interrupter, Learner, SupervisedTraining};
use data::{MnistBatcher, MnistDataset, MnistItem};
use model::ImageBatch;

use crate::config::TrainingConfig;
use crate::console;
use crate::dataset::{self, ModelBatcher, SharedDataset, Splits};
use crate::error::Error;
use crate::evaluate::{self, EVAL_BATCH};
use crate::failure::WriteFailure;
use crate::memory;
use crate::run::{Mode, TrainRun, open_device};
use crate::run_dir::history::History;
use crate::run_dir::manifest;
use crate::run_dir::metric_logs::MetricLogs;
use crate::run_dir::model_dir::{InputSpec, ModelDir};
use crate::run_dir::names;
use crate::run_dir::position::{self, Position};
use crate::run_dir::run_info::RunInfo;
use crate::run_dir::write;
use crate::training::checkpoint::EveryNKeepLast;
use crate::training::checkpoint::checked::{self, CheckedCheckpoint};
use crate::training::checkpoint::inventory::Inventory;
use crate::training::ctrl_c;
use crate::training::epoch_lines::EpochLines;
use crate::training::loader::EpochLoader;
use crate::training::optimizer;
use crate::training::progress::{self, Recorder};
use crate::training::resume::{Plan, Prepared};
use crate::training::throughput::ImagesPerSecond;
use crate::training::trainee::{MidEpochSaver, Trainee};

/// A finished run: the trained model and what the reports need.
pub struct Outcome {
    /// The run directory, locked until this is dropped (after the reports are written).
    pub dir: manifest::RunDir,
    pub model: model::Classifier,
    pub history: History,
    pub test: evaluate::Evaluation,
    /// The final model's accuracy on the training images (as cut for training).
    pub train_accuracy: f64,
    pub test_set: Arc<MnistDataset>,
    pub batcher: MnistBatcher,
    pub device: Device,
    /// A batch of training images, for the gradient statistics.
    pub grad_items: Vec<MnistItem>,
    pub run: RunInfo,
    /// The checkpoint this invocation resumed from (0 for a fresh run).
    pub resumed_from: usize,
    pub wall_seconds: f64,
}

pub fn run(run: &TrainRun) -> Result<Outcome, Error> {
    let started = Instant::now();
    let config = &run.config;
    let t = &config.training;

    // Check everything that can be checked...
    let Checked {
        splits,
        device,
        batcher,
        iters_per_epoch,
        plan,
        model,
    } = check(run)?;

    // ...then change the run directory.
    let Prepared {
        mut dir,
        checkpoint,
        kept,
    } = plan.apply()?;
    let start = checkpoint
        .as_ref()
        .map_or(Position::end_of(0), |c| c.position);
    let resumed_from = start.epochs;
    write::write_toml(&dir.path(names::CONFIG), config)?;
    let history_path = dir.path(names::HISTORY);
    let mut history = History::load(&history_path)?;
    history.truncate_after(resumed_from);

    let grad_items: Vec<MnistItem> = (0..t.batch_size.min(splits.train.len()))
        .filter_map(|i| splits.train.get(i).ok())
        .collect();
    let (train_loader, valid_loader) = loaders(run, &splits, &batcher, start);

    let info = RunInfo::new(
        run.backend,
        &run.backend_why,
        &device,
        config,
        model.num_params(),
    );
    if start != Position::end_of(0) {
        warn_if_conditions_changed(&info, &dir.path(names::RUN));
    }
    info.save(&dir.path(names::RUN))?;
    let checkpoints = dir.checkpoints();
    let interrupter = Interrupter::new();
    let _ctrl_c = ctrl_c::route_to(&interrupter);
    let failure = WriteFailure::new(interrupter.clone());
    let saver = config.checkpoint.every_batches.map(|every| {
        Arc::new(MidEpochSaver::new(
            checkpoints.clone(),
            every,
            iters_per_epoch,
            config.clone(),
            start,
            failure.clone(),
        ))
    });
    let learner = Learner::new(
        Trainee::new(model, saver),
        optimizer::optimizer(&config.optimizer),
        optimizer::schedule(config, iters_per_epoch)?,
    );

    let recorder = Recorder::new(
        history,
        t.epochs <= progress::SHORT_RUN_EPOCHS,
        t.stop_on_nan.then(|| interrupter.clone()),
    );
    if checkpoint.is_some() {
        console::progress(format!(
            "resuming from the checkpoint at {start} in {}",
            checkpoints.display()
        ));
    }
    let [model_part, optim_part, scheduler_part] =
        CheckedCheckpoint::into_checkpointers(checkpoint, &checkpoints, &failure);

    let train_loader: Arc<dyn DataLoader<ImageBatch>> = Arc::new(train_loader);
    let valid_loader: Arc<dyn DataLoader<ImageBatch>> = Arc::new(valid_loader);
    let mut training = SupervisedTraining::new(dir.root(), train_loader, valid_loader)
        .metrics((AccuracyMetric::new(), LossMetric::new()))
        .metric_train_numeric(LearningRateMetric::new())
        .metric_train_numeric(ImagesPerSecond::new())
        .with_metric_logger(MetricLogs::new(dir.root(), failure.clone()))
        .with_metric_logger(recorder.metric_logger(history_path, failure.clone()))
        .with_progress_logger(recorder.split_timer())
        // Burn's application log appends every run's per-batch lines to one file; our own lines
        // and metric logs say the same.
        .with_application_logger(None)
        .with_custom_checkpointers(model_part, optim_part, scheduler_part)
        .with_checkpointing_strategy(EveryNKeepLast {
            every: config.checkpoint.every,
            keep: config.checkpoint.keep,
            last_epoch: t.epochs,
            saved: kept,
        })
        .with_interrupter(interrupter)
        .num_epochs(t.epochs);
    if !std::io::stdout().is_terminal() {
        training = training.renderer(Box::new(EpochLines::new(
            config.output.log_every,
            t.batch_size,
        )));
    }
    if start != Position::end_of(0) {
        training = training.checkpoint(resumed_from);
    }

    let result = training.launch(learner);
    // Drop the renderer first: the terminal dashboard hands the screen back when it goes.
    drop(result.renderer);
    let error = result.error.map(|e| e.to_string());
    let inventory = verdict(&failure, &recorder, error, &dir, &checkpoints, t)?;
    // The run is complete: mid-epoch checkpoints are superseded by the last epoch's.
    dir.discard(&inventory.mid_epoch().collect(), &Default::default())?;

    let model = result.model.classifier;
    ModelDir::save(
        dir.root(),
        &config.model,
        &model,
        &InputSpec::from(&config.data),
    )?;
    let (test, train_accuracy) =
        evaluate_final(&model, &splits.test, &splits.train, &batcher, &device)?;
    Ok(Outcome {
        dir,
        model,
        history: recorder.snapshot(),
        test,
        train_accuracy,
        test_set: splits.test,
        batcher,
        device,
        grad_items,
        run: info,
        resumed_from,
        wall_seconds: started.elapsed().as_secs_f64(),
    })
}

/// What the checks hand on to the run: nothing on disk has changed yet.
struct Checked {
    splits: Splits,
    device: Device,
    batcher: MnistBatcher,
    iters_per_epoch: usize,
    plan: Plan,
    model: model::Classifier,
}

/// Checks everything that can be checked (the config against memory, the data, the backend,
/// the run directory and any checkpoint) and makes the initial weights.
fn check(run: &TrainRun) -> Result<Checked, Error> {
    let config = &run.config;
    let t = &config.training;
    memory::check(config, memory::available()).map_err(|message| Error::ConfigValue {
        path: run.config_path.clone(),
        message,
    })?;
    let splits = dataset::load_splits(config)?;
    let device = open_device(run.backend)?;
    let batcher = MnistBatcher::new(config.data.normalize.clone(), config.data.resize);
    let iters_per_epoch = splits.train.len().div_ceil(t.batch_size);
    check_step_count(run, iters_per_epoch)?;
    let plan = Plan::prepare(run, iters_per_epoch, &device)?;
    // The weights of a new run come from the seed, or, with `init_from`, from a checked file.
    device.seed(t.seed);
    let model = match (&t.init_from, run.mode) {
        (Some(path), Mode::Fresh | Mode::Overwrite) => {
            checked::initial_weights(path, &config.model, &device.clone().autodiff())?
        }
        _ => config.model.init(&device.clone().autodiff())?,
    };
    Ok(Checked {
        splits,
        device,
        batcher,
        iters_per_epoch,
        plan,
        model,
    })
}

/// The training loader (epoch order from the seed, starting at `start`) and the validation
/// loader (file order); on a GPU backend both gather their batches on the device.
fn loaders(
    run: &TrainRun,
    splits: &Splits,
    batcher: &MnistBatcher,
    start: Position,
) -> (EpochLoader, EpochLoader) {
    let t = &run.config.training;
    let train = EpochLoader::training(
        splits.train.clone(),
        ModelBatcher(batcher.clone()),
        t.batch_size,
        t.seed,
        run.config.data.shuffle,
        start,
    )
    .on_gpu(run.backend.is_gpu());
    let valid = EpochLoader::evaluation(
        splits.valid.clone(),
        ModelBatcher(batcher.clone()),
        t.batch_size,
    )
    .on_gpu(run.backend.is_gpu());
    (train, valid)
}

/// Warns, on resuming, when the run continues under other conditions than it started with
/// (`run.json`): the result will not equal an uninterrupted run's bit for bit.
fn warn_if_conditions_changed(info: &RunInfo, path: &std::path::Path) {
    match RunInfo::load(path) {
        Ok(earlier) => {
            let differences = info.differences(&earlier);
            if !differences.is_empty() {
                console::note(format!(
                    "warning: resuming under other conditions than the run started with ({}); \
                     the result will not equal an uninterrupted run's bit for bit",
                    differences.join(", ")
                ));
            }
        }
        Err(e) => console::note(format!(
            "warning: {e}; what the run started under is unknown, so the result may not \
             equal an uninterrupted run's bit for bit (run.json is written afresh)"
        )),
    }
}

/// How the Learner's run ended, in order: a failed write, a divergence, Burn's own error, an
/// interruption (Ctrl-C, `q`); else the run is complete and this is its checkpoints.
fn verdict(
    failure: &WriteFailure,
    recorder: &Recorder,
    error: Option<String>,
    dir: &manifest::RunDir,
    checkpoints: &std::path::Path,
    t: &TrainingConfig,
) -> Result<Inventory, Error> {
    if let Some((path, source)) = failure.take() {
        // Every checkpointer thread has finished: a checkpoint missing a part is this run's
        // failed save. Its parts go (they free room), the whole ones before it stay.
        remove_partial_checkpoints(checkpoints);
        return Err(Error::WriteFailed {
            path,
            source,
            artifacts: dir.root().to_path_buf(),
        });
    }
    if let Some(divergence) = recorder.divergence()
        && t.stop_on_nan
    {
        let last = Inventory::of(checkpoints, &Default::default()).last_epoch();
        return Err(Error::Diverged {
            epoch: divergence.epoch,
            loss: divergence.loss,
            advice: match last {
                Some(e) => format!(
                    "checkpoint {e} in {} is from before; lower optimizer.lr and train again with --overwrite",
                    checkpoints.display()
                ),
                None => "lower optimizer.lr and train again with --overwrite".into(),
            },
        });
    }
    if let Some(error) = error {
        return Err(Error::Training(error));
    }
    // The dashboard resets the interrupter when it closes, so ask the disk instead: the strategy
    // always checkpoints the last epoch, and the checkpointers have finished writing by now.
    let inventory = Inventory::of(checkpoints, &Default::default());
    if inventory.last_epoch() != Some(t.epochs) {
        return Err(Error::Interrupted {
            artifacts: dir.root().to_path_buf(),
        });
    }
    Ok(inventory)
}

/// The trained model on the test set, and its accuracy on the images it trained on (as
/// McCaffrey's tutorial reports next to the test's).
fn evaluate_final(
    model: &model::Classifier,
    test: &MnistDataset,
    train: &SharedDataset,
    batcher: &MnistBatcher,
    device: &Device,
) -> Result<(evaluate::Evaluation, f64), Error> {
    let test = evaluate::evaluate(model, test.items(), batcher, EVAL_BATCH, device)?;
    let train_accuracy = evaluate::evaluate(
        model,
        dataset::materialize(train).items(),
        batcher,
        EVAL_BATCH,
        device,
    )?
    .accuracy;
    Ok((test, train_accuracy))
}

/// Burn's learning-rate schedules count iterations in an `i32` and panic past it.
fn check_step_count(run: &TrainRun, iters_per_epoch: usize) -> Result<(), Error> {
    let epochs = run.config.training.epochs;
    if epochs.saturating_mul(iters_per_epoch) > i32::MAX as usize {
        return Err(Error::ConfigValue {
            path: run.config_path.clone(),
            message: format!(
                "training.epochs: {epochs} epochs of {iters_per_epoch} batches are more optimizer steps than Burn's schedules count ({}); train fewer epochs or larger batches",
                i32::MAX
            ),
        });
    }
    Ok(())
}

/// Removes the parts of checkpoints that are not whole (a save cut short). Without their other
/// parts they are never resumed from, so no manifest entry is needed: this is safe to do on a
/// full disk, where the manifest could not be written.
fn remove_partial_checkpoints(dir: &std::path::Path) {
    for position in Inventory::of(dir, &Default::default()).partial {
        for part in names::CHECKPOINT_PARTS {
            let _ = std::fs::remove_file(position::checkpoint_path(dir, part, position));
        }
    }
}
