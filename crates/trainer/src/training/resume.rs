//! What a training run does to its directory before it trains, decided from a look at the
//! directory, the config and the checkpoint alone. Nothing on disk changes until
//! [`Plan::apply`], and by then everything that can be checked has been: a typo, a damaged
//! checkpoint or a foreign file costs nothing but a message.

use std::collections::BTreeSet;

use burn::tensor::Device;

use crate::config::{MAX_EPOCHS, ScheduleConfig, TrainConfig, model_differences};
use crate::console;
use crate::error::Error;
use crate::run::{Mode, Resume, TrainRun};
use crate::run_dir::manifest::RunDir;
use crate::run_dir::model_dir::InputSpec;
use crate::run_dir::names::{self, RUN_DIRS, RUN_FILES, TRAIN_LOGS, VALID_LOGS};
use crate::run_dir::position::{self, Position};
use crate::training::checkpoint::checked::CheckedCheckpoint;
use crate::training::checkpoint::inventory::Inventory;

pub struct Plan {
    dir: RunDir,
    action: Action,
}

enum Action {
    /// Start a run (removing, first, what an earlier run of ours left).
    Start,
    /// Continue from a checked checkpoint, removing the epochs after it.
    Resume {
        checkpoint: CheckedCheckpoint,
        discard: BTreeSet<Position>,
        discard_logs: BTreeSet<usize>,
        keep: Vec<usize>,
    },
}

/// The directory, ready to train in.
pub struct Prepared {
    pub dir: RunDir,
    /// The checkpoint to continue from.
    pub checkpoint: Option<CheckedCheckpoint>,
    /// Complete end-of-epoch checkpoints on disk, oldest first (for the keep-last strategy).
    pub kept: Vec<usize>,
}

impl Plan {
    /// Takes the run directory's lock, then decides. A plan that fails leaves the directory as
    /// it was (one that did not exist before is removed again).
    pub fn prepare(run: &TrainRun, iters_per_epoch: usize, device: &Device) -> Result<Self, Error> {
        let dir = RunDir::lock(&run.artifacts)?;
        match decide(&dir, run, iters_per_epoch, device) {
            Ok(action) => Ok(Self { dir, action }),
            Err(e) => {
                dir.abandon();
                Err(e)
            }
        }
    }

    /// Makes the directory ready: the only step that changes it.
    pub fn apply(self) -> Result<Prepared, Error> {
        let mut dir = self.dir;
        match self.action {
            Action::Start => {
                for path in dir.remove_owned()? {
                    console::note(format!(
                        "note: left {}: this program did not write it",
                        path.display()
                    ));
                }
                dir.claim(&RUN_FILES, &RUN_DIRS)?;
                dir.create_dir(names::CHECKPOINTS)?;
                Ok(Prepared {
                    dir,
                    checkpoint: None,
                    kept: Vec::new(),
                })
            }
            Action::Resume {
                checkpoint,
                discard,
                discard_logs,
                keep,
            } => {
                // A resume trains on: until it writes new results, the directory holds no
                // finished run (a kill before then leaves one that `--resume` finishes).
                dir.remove_results()?;
                dir.discard(&discard, &discard_logs)?;
                // A run made before a file name was added to RUN_FILES claims it now.
                dir.claim(&RUN_FILES, &RUN_DIRS)?;
                Ok(Prepared {
                    dir,
                    checkpoint: Some(checkpoint),
                    kept: keep,
                })
            }
        }
    }
}

/// What to do, from the directory, the config and the checkpoint: changes nothing.
fn decide(
    dir: &RunDir,
    run: &TrainRun,
    iters_per_epoch: usize,
    device: &Device,
) -> Result<Action, Error> {
    // Before anything in the directory is read: a link there leads to a file it did not write.
    let links = dir.links(&RUN_FILES, &RUN_DIRS);
    if !links.is_empty() {
        return Err(Error::Links {
            dir: dir.root().to_path_buf(),
            paths: links,
        });
    }
    let replacing = dir.manifest().is_some_and(|m| m.replacing);
    let action = match run.mode {
        Mode::Resume(_) if replacing => {
            return Err(Error::Resume(format!(
                "{} was being replaced by --overwrite when that stopped; finish it with --overwrite",
                dir.root().display()
            )));
        }
        Mode::Resume(resume) => resume_action(dir, run, resume, iters_per_epoch, device)?,
        Mode::Fresh if replacing => {
            return Err(Error::Usage(format!(
                "{} holds a run half-removed by an --overwrite that stopped; finish it with --overwrite",
                dir.root().display()
            )));
        }
        Mode::Fresh if holds_a_run(dir) => {
            return Err(Error::Usage(format!(
                "{} already holds a training run; continue it with --resume, or start again with --overwrite",
                dir.root().display()
            )));
        }
        Mode::Fresh | Mode::Overwrite => Action::Start,
    };
    dir.check_writable(&RUN_FILES, &RUN_DIRS)?;
    Ok(action)
}

fn holds_a_run(dir: &RunDir) -> bool {
    dir.manifest().is_some()
        && (dir.path(names::WEIGHTS).exists()
            || !Inventory::of(&dir.checkpoints(), &dir.discarding())
                .complete
                .is_empty())
}

fn resume_action(
    dir: &RunDir,
    run: &TrainRun,
    resume: Resume,
    iters_per_epoch: usize,
    device: &Device,
) -> Result<Action, Error> {
    let saved_path = dir.path(names::CONFIG);
    if dir.manifest().is_none() || std::fs::symlink_metadata(&saved_path).is_err() {
        return Err(Error::Resume(format!(
            "{} holds no earlier run of this program (no {} and {}); train without --resume first",
            dir.root().display(),
            names::MANIFEST,
            names::CONFIG
        )));
    }
    let saved = TrainConfig::load(&saved_path)?;
    check_same_run(&saved, &run.config, dir, &saved_path)?;

    let checkpoints = dir.checkpoints();
    let inventory = Inventory::of(&checkpoints, &dir.discarding());
    // A name is only a claim: every checkpoint must lie inside an epoch of this run, or its step
    // count (which the schedule check replays) would be whatever the name says.
    if let Some(beyond) = inventory
        .complete
        .iter()
        .chain(&inventory.partial)
        .find(|p| p.batches >= iters_per_epoch || p.epochs > MAX_EPOCHS)
    {
        return Err(Error::Resume(format!(
            "{} claims {beyond}, but this run has epochs of {iters_per_epoch} batches and at most \
             {MAX_EPOCHS} epochs; it is not a checkpoint of this run: move it away",
            position::checkpoint_path(&checkpoints, "model", *beyond).display(),
        )));
    }
    let position = match resume {
        Resume::Latest => inventory.complete.last().copied().ok_or_else(|| {
            Error::Resume(format!(
                "no complete checkpoint in {} yet (the run stopped during its first saved epoch)",
                checkpoints.display()
            ))
        })?,
        Resume::Epoch(epoch) if inventory.complete.contains(&Position::end_of(epoch)) => {
            Position::end_of(epoch)
        }
        Resume::Epoch(epoch) => {
            let found: Vec<String> = inventory
                .complete
                .iter()
                .filter(|p| p.batches == 0)
                .map(|p| p.epochs.to_string())
                .collect();
            return Err(Error::Resume(format!(
                "no complete checkpoint for epoch {epoch} in {} (found: {})",
                checkpoints.display(),
                if found.is_empty() {
                    "none".to_string()
                } else {
                    found.join(", ")
                }
            )));
        }
    };
    let total = run.config.training.epochs;
    // A mid-epoch checkpoint past the last epoch is not one of this run's either.
    if position.batches > 0 && position.epochs >= total {
        return Err(Error::Resume(format!(
            "{} claims batch {} of epoch {}, but this run has {total} epochs of {iters_per_epoch} batches; \
             it is not a checkpoint of this run: move it away",
            position::checkpoint_path(&checkpoints, "model", position).display(),
            position.batches,
            position.epochs + 1,
        )));
    }
    // A run killed after its last checkpoint but before its results were written is finished
    // by a resume that trains no further epoch; one with its results has nothing left to do.
    let finished = dir.path(names::METRICS).exists();
    if position.epochs > total || (position.epochs == total && finished) {
        return Err(Error::Resume(format!(
            "checkpoint {} already covers the {total} epochs asked for; pass --epochs N with N above {}",
            position.epochs, position.epochs
        )));
    }
    let checkpoint =
        CheckedCheckpoint::load(&checkpoints, position, &run.config, iters_per_epoch, device)?;

    // Everything after the checkpoint belongs to the continuation being abandoned, a partial
    // checkpoint to a save or delete that was cut short, and any other mid-epoch checkpoint is
    // superseded by the end-of-epoch ones around it.
    let discard: BTreeSet<Position> = inventory
        .complete
        .iter()
        .copied()
        .filter(|&p| p > position || (p.batches > 0 && p != position))
        .chain(inventory.partial.iter().copied())
        .collect();
    // The logs of the epoch in progress are rewritten from its start by the resumed run.
    let discard_logs = [TRAIN_LOGS, VALID_LOGS]
        .into_iter()
        .flat_map(|logs| logged_epochs(dir, logs))
        .filter(|&e| e > position.epochs)
        .collect();
    let keep = inventory
        .complete
        .iter()
        .filter(|p| p.batches == 0 && **p <= position)
        .map(|p| p.epochs)
        .collect();
    Ok(Action::Resume {
        checkpoint,
        discard,
        discard_logs,
        keep,
    })
}

/// Epochs with a metric-log folder (`epoch-N`) under `dir/logs`.
fn logged_epochs(dir: &RunDir, logs: &str) -> Vec<usize> {
    let Ok(entries) = std::fs::read_dir(dir.path(logs)) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("epoch-")?.parse().ok())
        .collect()
}

/// A resumed run must be the same run: Burn would silently drop optimizer or schedule state it
/// cannot match, and a different data cut changes the iteration count the schedule counts in.
fn check_same_run(
    saved: &TrainConfig,
    config: &TrainConfig,
    dir: &RunDir,
    saved_path: &std::path::Path,
) -> Result<(), Error> {
    // `kernels` may differ: it changes how the layers are computed, not the network.
    if !saved.model.same_network(&config.model) {
        return Err(Error::Resume(format!(
            "the checkpoints in {} were made by another [model] than the config's ({}; there: {}); \
             use the same [model] section or another --artifacts directory",
            dir.root().display(),
            model_differences(&saved.model, &config.model),
            saved_path.display(),
        )));
    }
    let (s, c) = (&saved.data, &config.data);
    let changed: Vec<&str> = [
        ("[optimizer]", saved.optimizer != config.optimizer),
        ("[schedule]", saved.schedule != config.schedule),
        (
            "training.batch_size",
            saved.training.batch_size != config.training.batch_size,
        ),
        (
            "[data] input (dataset, normalize, resize)",
            InputSpec::from(s) != InputSpec::from(c),
        ),
        (
            "[data] split (validation, limit, shuffle, tsv, idx)",
            (
                s.validation,
                s.limit,
                s.shuffle,
                s.tsv.is_some(),
                s.idx.is_some(),
            ) != (
                c.validation,
                c.limit,
                c.shuffle,
                c.tsv.is_some(),
                c.idx.is_some(),
            ),
        ),
    ]
    .into_iter()
    .filter_map(|(key, differs)| differs.then_some(key))
    .collect();
    if !changed.is_empty() {
        return Err(Error::Resume(format!(
            "{} differ from the run in {} ({}); resume with the same settings",
            changed.join(", "),
            dir.root().display(),
            saved_path.display()
        )));
    }
    if matches!(config.schedule, ScheduleConfig::Cosine { .. })
        && saved.training.epochs != config.training.epochs
    {
        return Err(Error::Resume(format!(
            "the cosine schedule of the run in {} anneals over {} epochs; resuming with {} would \
             change it mid-way (use the same --epochs, or the step or constant schedule)",
            dir.root().display(),
            saved.training.epochs,
            config.training.epochs
        )));
    }
    if saved.training.seed != config.training.seed {
        console::note(format!(
            "warning: the run in {} was seeded with {}; continuing with seed {} gives a different \
             data order than an uninterrupted run",
            dir.root().display(),
            saved.training.seed,
            config.training.seed
        ));
    }
    Ok(())
}
