//! Reading a checkpoint back: [`CheckedCheckpoint`], the three records of one epoch read once
//! and checked against the run before Burn is given them, and [`initial_weights`] for
//! `init_from`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use burn::tensor::{Bytes, Device};
use burn::train::checkpoint::Checkpoint;
use model::pack::{self, Expected, Problems, Scalar};
use model::{Classifier, ModelConfig};

use crate::config::{OptimizerConfig, TrainConfig, model_differences};
use crate::error::Error;
use crate::failure::WriteFailure;
use crate::run_dir::model_dir::ModelDir;
use crate::run_dir::names::{MODEL_CONFIG, WEIGHTS};
use crate::run_dir::position::{Position, checkpoint_path};
use crate::training::checkpoint::{AtomicFileCheckpointer, Rotation};
use crate::training::optimizer;
use crate::training::trainee::Trainee;

/// The three records of one checkpoint, each read once and checked against the run: the model
/// against the network, the optimizer state against the model's parameters (ids, shapes, step
/// count), the schedule against the position it must have reached.
pub struct CheckedCheckpoint {
    pub position: Position,
    pub model: Bytes,
    pub optim: Bytes,
    pub scheduler: Bytes,
}

impl CheckedCheckpoint {
    pub fn load(
        dir: &Path,
        position: Position,
        config: &TrainConfig,
        iters_per_epoch: usize,
        device: &Device,
    ) -> Result<Self, Error> {
        let steps = position.steps(iters_per_epoch);
        // Checkpoints hold the model as the Learner trains it: the classifier in its wrapper.
        let fresh = Trainee::new(config.model.init(&device.clone().autodiff())?, None);
        let expected = pack::expected(&fresh);

        let model_path = checkpoint_path(dir, "model", position);
        let (model, model_pack) = pack::read(&model_path, pack::size_limit(&expected))?;
        let network = format!("{} network", config.model.describe());
        pack::compare(&model_path, &model_pack, &expected, &network)?;
        // Optimizer state is keyed by the parameter ids the model file carries.
        let ids: Vec<(u64, &Expected)> = expected
            .iter()
            .filter_map(|e| Some((model_pack.tensors.get(&e.name)?.param_id?, e)))
            .collect();

        let optim_path = checkpoint_path(dir, "optim", position);
        let (optim, optim_pack) = pack::read(&optim_path, 3 * pack::size_limit(&expected))?;
        check_optimizer(&optim_path, &optim_pack, &config.optimizer, &ids, steps)?;

        let scheduler_path = checkpoint_path(dir, "scheduler", position);
        let (scheduler, scheduler_pack) = pack::read(&scheduler_path, 1 << 20)?;
        let reference = optimizer::schedule_after(config, iters_per_epoch, steps)?
            .to_record()
            .checkpoint_into_bytes()
            .map_err(|e| Error::Training(format!("encoding the schedule: {e}")))?;
        let reference = pack::parse(Path::new("the expected schedule"), &reference)?;
        let mut problems = Problems::default();
        if !scheduler_pack.tensors.is_empty() {
            problems.push("holds tensors; a schedule record holds counters only".into());
        }
        problems.check_scalars(&reference.scalars, &scheduler_pack.scalars);
        problems.into_result(
            &scheduler_path,
            &format!("schedule after {steps} iterations ({position}, {iters_per_epoch} per epoch)"),
        )?;

        Ok(Self {
            position,
            model,
            optim,
            scheduler,
        })
    }

    /// The three checkpointers for a training run, resuming from this checkpoint's records.
    pub fn into_checkpointers(
        this: Option<Self>,
        dir: &Path,
        failure: &WriteFailure,
    ) -> [AtomicFileCheckpointer; 3] {
        let (model, optim, scheduler) = match this {
            Some(c) => {
                // Burn restores "epoch N" to start at N + 1: a mid-epoch checkpoint in epoch
                // N + 1 is handed over as that (the data loader skips the batches it covered).
                let epoch = c.position.epochs;
                (
                    Some((epoch, c.model)),
                    Some((epoch, c.optim)),
                    Some((epoch, c.scheduler)),
                )
            }
            None => (None, None, None),
        };
        let rotation = Arc::new(Rotation::default());
        let part = |name, checked| {
            AtomicFileCheckpointer::new(dir, name, checked, rotation.clone(), failure.clone())
        };
        [
            part("model", model),
            part("optim", optim),
            part("scheduler", scheduler),
        ]
    }
}

/// The weights a new run starts from (`--init-from`): a model directory (whose `model.toml`
/// must describe the run's network), a weights file, a checkpoint's `model-N.bpk`, or a PyTorch
/// state dict (`.pt`, `.pth`) or safetensors file in PyTorch's names (`model::pytorch`). Checked
/// like any weights file: a file of another network is an error naming what differs.
pub fn initial_weights(
    path: &Path,
    config: &ModelConfig,
    device: &Device,
) -> Result<Classifier, Error> {
    let meta = std::fs::metadata(path).map_err(Error::io(path))?;
    if !meta.is_dir() && model::pytorch::is_pytorch_file(path) {
        return Ok(model::pytorch::load(config, path, device)?);
    }
    if meta.is_dir() {
        let saved = ModelDir::read_config(path)?;
        if saved != *config {
            return Err(Error::ConfigValue {
                path: path.join(MODEL_CONFIG),
                message: format!(
                    "--init-from: this model differs from the network the config asks for ({}); use the same [model] section",
                    model_differences(&saved, config)
                ),
            });
        }
        return Ok(model::load_weights(config, &path.join(WEIGHTS), device)?);
    }
    // A checkpoint holds the network inside the Learner's wrapper; a model.bpk holds it bare.
    let wrapped = Trainee::new(config.init(device)?, None);
    let bytes = pack::read_bytes(path, pack::size_limit(&pack::expected(&wrapped)))?;
    let file = pack::parse(path, &bytes)?;
    let what = format!("{} network", config.describe());
    if file
        .tensors
        .keys()
        .any(|name| name.starts_with("classifier."))
    {
        Ok(model::load_into(wrapped, path, bytes, &what)?.classifier)
    } else {
        Ok(model::load_into(config.init(device)?, path, bytes, &what)?)
    }
}

/// Checks an optimizer record against the parameters it must hold state for: exactly the state
/// tensors the optimizer keeps per parameter, each of its parameter's shape, tagged with its id,
/// and the step counter the checkpoint's epoch implies.
fn check_optimizer(
    path: &Path,
    file: &pack::Pack,
    config: &OptimizerConfig,
    params: &[(u64, &Expected)],
    steps: usize,
) -> Result<(), Error> {
    let (fields, counted): (&[&str], bool) = match *config {
        OptimizerConfig::Sgd { momentum, .. } if momentum > 0.0 => (&["momentum.velocity"], false),
        OptimizerConfig::Sgd { .. } => (&[], false),
        OptimizerConfig::Adam { .. } | OptimizerConfig::AdamW { .. } => {
            (&["momentum.moment_1", "momentum.moment_2"], true)
        }
    };
    let mut problems = Problems::default();
    let mut wanted = BTreeSet::new();
    let mut scalars = BTreeMap::new();
    for &(id, param) in params {
        for field in fields {
            let name = format!("{id}.{field}");
            match file.tensors.get(&name) {
                None => problems.push(format!("state {name} of {} is missing", param.name)),
                Some(tensor) => {
                    if tensor.param_id != Some(id) {
                        problems.push(format!(
                            "state {name} is tagged with parameter {:?}, expected {id}",
                            tensor.param_id
                        ));
                    }
                    problems.check_tensor(
                        &format!("state {name} of {}", param.name),
                        tensor,
                        &param.shape,
                    );
                }
            }
            wanted.insert(name);
        }
        scalars.insert(
            format!("{id}.__rank"),
            Scalar::UInt(param.shape.len() as u64),
        );
        if counted {
            scalars.insert(format!("{id}.momentum.time"), Scalar::UInt(steps as u64));
        }
    }
    for name in file.tensors.keys().filter(|n| !wanted.contains(n.as_str())) {
        problems.push(format!("state {name} belongs to no parameter of the model"));
    }
    problems.check_scalars(&scalars, &file.scalars);
    let ids: BTreeSet<String> = params.iter().map(|(id, _)| id.to_string()).collect();
    for key in file.metadata.keys().filter(|k| !ids.contains(k.as_str())) {
        problems.push(format!(
            "metadata names parameter {key}, which the model does not have"
        ));
    }
    problems
        .into_result(path, &format!("optimizer state after {steps} steps"))
        .map_err(Error::from)
}
