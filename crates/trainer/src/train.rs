//! Training: the data, the network, the optimizer and schedule, handed to Burn's Learner with
//! checkpoints, metrics and a renderer. One code path for every backend.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::data::dataset::transform::PartialDataset;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::optim::lr_scheduler::exponential::ExponentialLrSchedulerConfig;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::optim::lr_scheduler::step::StepLrSchedulerConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig};
use burn::prelude::*;
use burn::train::logger::FileMetricLogger;
use burn::train::metric::{AccuracyMetric, LearningRateMetric, LossMetric};
use burn::train::{Interrupter, Learner, SupervisedTraining};
use data::{MnistBatch, MnistBatcher, MnistDataset, MnistItem};
use model::ImageBatch;

use crate::artifacts::{self, InputSpec, RunInfo};
use crate::backend::Backend;
use crate::checkpoint::{self, AtomicFileCheckpointer, EveryNKeepLast};
use crate::config::{OptimizerConfig, ScheduleConfig, TrainConfig};
use crate::error::Error;
use crate::evaluate;
use crate::progress::{self, EpochLines, History, Recorder};

/// Where to continue from: `--resume` alone means the newest complete checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    Latest,
    Epoch(usize),
}

/// The data batcher's output, as the model's input type: the two crates don't know each other.
#[derive(Clone, Debug)]
pub struct ModelBatcher(pub MnistBatcher);

impl Batcher<MnistItem, ImageBatch> for ModelBatcher {
    fn batch(&self, items: Vec<MnistItem>, device: &Device) -> ImageBatch {
        let MnistBatch { images, targets } = self.0.batch(items, device);
        ImageBatch { images, targets }
    }
}

pub type BoxedDataset = Box<dyn Dataset<MnistItem>>;

/// Train and validation sets as the config cuts them, plus the full test set.
pub struct Splits {
    pub train: BoxedDataset,
    pub valid: BoxedDataset,
    pub test: Arc<MnistDataset>,
}

pub fn load_splits(config: &TrainConfig) -> Result<Splits, Error> {
    let (train_full, test) = match &config.data.tsv {
        Some(tsv) => (
            MnistDataset::from_tsv(&tsv.train)?,
            MnistDataset::from_tsv(&tsv.test)?,
        ),
        None => {
            let dir = config.data.dir.as_deref();
            let files = data::ensure(config.data.dataset, dir, &mut |line| {
                eprintln!("data: {line}")
            })?;
            (
                MnistDataset::open(&files, data::Split::Train)?,
                MnistDataset::open(&files, data::Split::Test)?,
            )
        }
    };
    let (train_full, test) = (Arc::new(train_full), Arc::new(test));

    let n = train_full.len();
    let held_out = config.data.validation;
    let (train, valid): (BoxedDataset, BoxedDataset) = if held_out == 0 {
        (Box::new(train_full), Box::new(test.clone()))
    } else if held_out < n {
        (
            Box::new(PartialDataset::new(train_full.clone(), 0, n - held_out)),
            Box::new(PartialDataset::new(train_full, n - held_out, n)),
        )
    } else {
        return Err(Error::Usage(format!(
            "data.validation: {held_out} held-out images leave none of the {n} training images to train on"
        )));
    };
    let train: BoxedDataset = match config.data.limit {
        Some(limit) if limit < train.len() => Box::new(PartialDataset::new(train, 0, limit)),
        _ => train,
    };
    Ok(Splits { train, valid, test })
}

/// A finished run: the trained model and what the reports need.
pub struct Outcome {
    pub model: model::Classifier,
    pub history: History,
    pub test: evaluate::Evaluation,
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

pub fn run(
    config: &TrainConfig,
    artifacts: &Path,
    backend: Backend,
    resume: Option<Resume>,
    overwrite: bool,
) -> Result<Outcome, Error> {
    let started = Instant::now();
    let checkpoints = checkpoint::dir(artifacts);
    let resume_epoch = match resume {
        Some(resume) => Some(artifacts::check_resume(artifacts, config, resume)?),
        None => {
            artifacts::start_fresh(artifacts, overwrite)?;
            None
        }
    };
    let total_epochs = config.training.epochs;
    if let Some(epoch) = resume_epoch
        && epoch >= total_epochs
    {
        return Err(Error::Resume(format!(
            "checkpoint {epoch} already covers the {total_epochs} epochs asked for; pass --epochs N with N above {epoch}"
        )));
    }
    std::fs::create_dir_all(&checkpoints).map_err(Error::io(&checkpoints))?;
    let saved = checkpoint::prepare_resume(&checkpoints, resume_epoch.unwrap_or(0))
        .map_err(Error::io(&checkpoints))?;
    artifacts::save_config(artifacts, config)?;

    let splits = load_splits(config)?;
    let device = backend.device();
    device.seed(config.training.seed);

    let batcher = MnistBatcher::new(config.data.normalize.clone(), config.data.resize);
    let t = &config.training;
    let grad_items: Vec<MnistItem> = (0..t.batch_size.min(splits.train.len()))
        .filter_map(|i| splits.train.get(i).ok())
        .collect();
    let train_loader = DataLoaderBuilder::new(ModelBatcher(batcher.clone()))
        .batch_size(t.batch_size)
        .shuffle(t.seed)
        .num_workers(t.workers)
        .build(splits.train);
    let valid_loader = DataLoaderBuilder::new(ModelBatcher(batcher.clone()))
        .batch_size(t.batch_size)
        .num_workers(t.workers)
        .build(splits.valid);
    let iters_per_epoch = train_loader.num_items().div_ceil(t.batch_size);

    let model = config.model.init(&device.clone().autodiff())?;
    let run = RunInfo::new(backend, &device, config, model.num_params());
    artifacts::save_run_info(artifacts, &run)?;
    let learner = Learner::new(
        model,
        optimizer(&config.optimizer),
        schedule(config, iters_per_epoch)?,
    );

    let mut history = artifacts::load_history(artifacts);
    history.truncate_after(resume_epoch.unwrap_or(0));
    let recorder = Recorder::new(history, total_epochs <= progress::SHORT_RUN_EPOCHS);
    let interrupter = Interrupter::new();
    stop_on_ctrl_c(&interrupter);

    let mut training = SupervisedTraining::new(artifacts, train_loader, valid_loader)
        .metrics((AccuracyMetric::new(), LossMetric::new()))
        .metric_train_numeric(LearningRateMetric::new())
        .with_metric_logger(FileMetricLogger::new(artifacts))
        .with_metric_logger(recorder.metric_logger(artifacts::history_path(artifacts)))
        .with_progress_logger(recorder.split_timer())
        .with_custom_checkpointers(
            AtomicFileCheckpointer::new(&checkpoints, "model"),
            AtomicFileCheckpointer::new(&checkpoints, "optim"),
            AtomicFileCheckpointer::new(&checkpoints, "scheduler"),
        )
        .with_checkpointing_strategy(EveryNKeepLast {
            every: config.checkpoint.every,
            keep: config.checkpoint.keep,
            last_epoch: total_epochs,
            saved,
        })
        .with_interrupter(interrupter)
        .num_epochs(total_epochs);
    if !std::io::stdout().is_terminal() {
        training = training.renderer(Box::new(EpochLines::default()));
    }
    if let Some(epoch) = resume_epoch {
        println!(
            "resuming from checkpoint {epoch} in {}",
            checkpoints.display()
        );
        training = training.checkpoint(epoch);
    }

    let result = training.launch(learner);
    // Drop the renderer first: the terminal dashboard hands the screen back when it goes.
    drop(result.renderer);
    if let Some(error) = result.error {
        return Err(Error::Training(error.to_string()));
    }
    // The dashboard resets the interrupter when it closes, so ask the disk instead: the strategy
    // always checkpoints the last epoch, and the checkpointers have finished writing by now.
    if checkpoint::complete_epochs(&checkpoints).last() != Some(&total_epochs) {
        return Err(Error::Interrupted {
            artifacts: artifacts.to_path_buf(),
        });
    }

    let model = result.model;
    model::save(artifacts, &config.model, &model)?;
    InputSpec::from(&config.data).save(artifacts)?;
    let test = evaluate::evaluate(&model, &splits.test, &batcher, t.batch_size, &device)?;
    Ok(Outcome {
        model,
        history: recorder.snapshot(),
        test,
        test_set: splits.test,
        batcher,
        device,
        grad_items,
        run,
        resumed_from: resume_epoch.unwrap_or(0),
        wall_seconds: started.elapsed().as_secs_f64(),
    })
}

fn optimizer(config: &OptimizerConfig) -> ModuleOptimizer {
    let decay = |penalty: f64| (penalty > 0.0).then(|| WeightDecayConfig::new(penalty as f32));
    match *config {
        OptimizerConfig::Sgd {
            momentum,
            nesterov,
            weight_decay,
            ..
        } => SgdConfig::new()
            .with_momentum((momentum > 0.0).then(|| {
                // PyTorch's SGD has no dampening; Burn defaults to 0.1.
                MomentumConfig::new()
                    .with_momentum(momentum)
                    .with_dampening(0.0)
                    .with_nesterov(nesterov)
            }))
            .with_weight_decay(decay(weight_decay))
            .init(),
        OptimizerConfig::Adam { weight_decay, .. } => AdamConfig::new()
            .with_weight_decay(decay(weight_decay))
            .init(),
        OptimizerConfig::AdamW { weight_decay, .. } => AdamWConfig::new()
            .with_weight_decay(weight_decay as f32)
            .init(),
    }
}

fn schedule(config: &TrainConfig, iters_per_epoch: usize) -> Result<ModuleLrScheduler, Error> {
    let lr = config.optimizer.lr();
    let built = match config.schedule {
        ScheduleConfig::Constant => Ok(ModuleLrScheduler::from(lr)),
        ScheduleConfig::Step {
            every_epochs,
            gamma,
        } => StepLrSchedulerConfig::new(lr, every_epochs * iters_per_epoch)
            .with_gamma(gamma)
            .init(),
        ScheduleConfig::Exponential { gamma } => {
            ExponentialLrSchedulerConfig::new(lr, gamma).init()
        }
        ScheduleConfig::Cosine { min_lr } => {
            CosineAnnealingLrSchedulerConfig::new(lr, config.training.epochs * iters_per_epoch)
                .with_min_lr(min_lr)
                .init()
        }
    };
    built.map_err(|e| Error::Usage(format!("schedule: {e}")))
}

/// The first Ctrl-C asks the Learner to stop after the batch in hand, keeping the last complete
/// checkpoint; a second one quits at once, which the atomic checkpoints also survive. (Burn's
/// terminal dashboard reads keys itself: there, `q` stops.)
fn stop_on_ctrl_c(interrupter: &Interrupter) {
    let interrupter = interrupter.clone();
    let pressed = AtomicBool::new(false);
    // Failing to install the handler only means Ctrl-C kills the process at once.
    let _ = ctrlc::set_handler(move || {
        if pressed.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("stopping after this batch; press Ctrl-C again to quit now");
        interrupter.stop(Some("interrupted by Ctrl-C"));
    });
}

pub fn default_artifacts(config_path: &Path) -> PathBuf {
    let name = config_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    PathBuf::from("artifacts").join(name)
}
