//! `trainer export`: a model directory to a file other programs read, with what to feed it
//! written beside it (`FILE.toml`).
//!
//! - `onnx`: the whole inference path as one graph, traced by burn-onnx's exporter through
//!   Burn's ops: raw pixel values `[N, 1, 28, 28]` (0-255, as floats) in, the resize and
//!   normalisation of `input.toml` inside, `[N, 10]` logits out; the batch axis is dynamic.
//! - `safetensors`: the weights under the names and layouts of the ordinary `torch.nn` network
//!   (`python/mnist_net.py`), which loads them with `strict=True`; that network takes images
//!   already resized and normalised, as `FILE.toml` says.
//!
//! Both are written atomically, and neither replaces an existing file without `--force`.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use burn_onnx::export::{AxisSpec, InputSpec as OnnxInput, OnnxExporter};
use data::{IMAGE_SIDE, Normalization, Resize};
use model::{Classifier, Kernels, ModelConfig};
use serde::Serialize;

use crate::console;
use crate::error::Error;
use crate::run_dir::model_dir::{InputSpec, ModelDir};
use crate::run_dir::write;

/// What `trainer export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Onnx,
    Safetensors,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Self::Onnx => "onnx",
            Self::Safetensors => "safetensors",
        }
    }
}

/// `trainer export`, resolved.
#[derive(Clone, Debug)]
pub struct ExportRun {
    /// A model directory (an artifact directory after training).
    pub model: PathBuf,
    pub format: Format,
    pub output: PathBuf,
    /// Replace `output` (and its `.toml`) when they exist.
    pub force: bool,
}

/// `FILE.toml`: what the exported file holds and what to feed it.
#[derive(Serialize)]
struct Contract {
    format: &'static str,
    /// The model directory it came from.
    exported_from: String,
    input: String,
    output: &'static str,
    classes: [&'static str; 10],
    /// The `input.toml` of the model: the data it was trained on and how its pixels were prepared.
    data: InputSpec,
    /// The network, as `model.toml` gives it.
    model: ModelConfig,
}

const LOGITS: &str =
    "[N, 10] f32 logits, one per class in the order of `classes` (softmax gives the probabilities)";

pub fn run(run: &ExportRun) -> Result<(), Error> {
    let contract_path = contract_path(&run.output);
    check_free(&run.output, run.force)?;
    check_free(&contract_path, run.force)?;
    // Export is a one-off on the CPU; Burn's own ops, which the ONNX trace can follow.
    let device = crate::backend::Backend::cpu().device();
    let ModelDir {
        config,
        input,
        model,
    } = ModelDir::load_with_kernels(&run.model, Kernels::Burn, &device)?;

    let (bytes, feed) = match run.format {
        Format::Onnx => (
            onnx(&model, &input, &device, &run.model)?,
            onnx_input(&input),
        ),
        Format::Safetensors => (
            model::pytorch::to_safetensors(&model).map_err(|e| {
                Error::Usage(format!(
                    "{}: cannot export the weights: {e}",
                    run.model.display()
                ))
            })?,
            torch_input(&config, &input),
        ),
    };
    files::write_atomic(&run.output, &bytes).map_err(Error::io(&run.output))?;
    let contract = Contract {
        format: run.format.name(),
        exported_from: run.model.display().to_string(),
        input: feed,
        output: LOGITS,
        classes: input.dataset.class_names(),
        data: input,
        model: config.with_kernels(Kernels::default()),
    };
    write::write_toml(&contract_path, &contract)?;
    console::line(format!(
        "wrote {} ({} bytes) and what to feed it to {}",
        run.output.display(),
        bytes.len(),
        contract_path.display()
    ))
}

/// `lenet.onnx` -> `lenet.onnx.toml`.
pub fn contract_path(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".toml");
    PathBuf::from(name)
}

/// Refuses to replace an existing file (or anything else at `path`) without `--force`, and never
/// replaces a directory.
fn check_free(path: &Path, force: bool) -> Result<(), Error> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path)(e)),
        Ok(meta) if meta.is_dir() => Err(Error::Usage(format!(
            "{} is a directory; give --output a file name",
            path.display()
        ))),
        Ok(_) if force => Ok(()),
        Ok(_) => Err(Error::Usage(format!(
            "{} exists; pass --force to replace it",
            path.display()
        ))),
    }
}

fn onnx_input(input: &InputSpec) -> String {
    let prepared = match input.resize {
        Resize::None => "",
        Resize::Pad32 => ", padded to 32x32 inside the graph",
        Resize::Bilinear32 => ", resized to 32x32 (bilinear) inside the graph",
    };
    format!(
        "[N, 1, {IMAGE_SIDE}, {IMAGE_SIDE}] f32 pixel values 0-255 as in the IDX files (light ink on a dark background{prepared}); the normalisation in [data] is inside the graph"
    )
}

fn torch_input(config: &ModelConfig, input: &InputSpec) -> String {
    let side = config.input_size();
    let resize = match input.resize {
        Resize::None => String::new(),
        Resize::Pad32 => "the 28x28 digits zero-padded by 2 pixels on each side, then ".into(),
        Resize::Bilinear32 => {
            "the 28x28 digits resized to 32x32 (bilinear, align_corners=False), then ".into()
        }
    };
    let normalize = match &input.normalize {
        Normalization::MeanStd { mean, std } => format!("(p / 255 - {mean}) / {std}"),
        Normalization::Unit => "p / 255".into(),
        Normalization::Divide { divisor } => format!("p / {divisor}"),
    };
    format!("[N, 1, {side}, {side}] f32: {resize}each pixel value p (0-255) mapped to {normalize}")
}

/// The ONNX graph of raw pixels -> logits, with a dynamic batch axis.
fn onnx(
    model: &Classifier,
    input: &InputSpec,
    device: &Device,
    dir: &Path,
) -> Result<Vec<u8>, Error> {
    let batcher = input.batcher();
    // Two traces of different batch sizes tell the batch axis from the constants.
    let images = |n: usize| {
        let zeros = TensorData::new(
            vec![0f32; n * IMAGE_SIDE * IMAGE_SIDE],
            [n, 1, IMAGE_SIDE, IMAGE_SIDE],
        );
        Tensor::<4>::from_data(zeros, device)
    };
    let spec = [OnnxInput::new([
        AxisSpec::dynamic("batch"),
        AxisSpec::Static,
        AxisSpec::Static,
        AxisSpec::Static,
    ])];
    let onnx = OnnxExporter::new()
        .export_dynamic(
            &model.clone().no_grad(),
            images(2),
            images(3),
            &spec,
            |model: &Classifier, x: Tensor<4>| model.forward(batcher.prepare(x)),
        )
        .map_err(|e| Error::Usage(format!("{}: cannot export to ONNX: {e}", dir.display())))?;
    Ok(onnx.into_bytes())
}
