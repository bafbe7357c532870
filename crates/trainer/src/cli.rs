//! The command line: `trainer [train] --config FILE`, `eval`, `predict`, `serve`, `fetch`,
//! `export`, `export-tsv`, `tutorials`. Each subcommand's flags are resolved here, once, into what to run
//! ([`Resolved`]): the config loaded and validated, the backend chosen, and for the commands that
//! compute at once, its device opened and probed. Below this file nothing sees clap's types.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use data::DatasetKind;

use crate::backend_choice::{Chosen, Selection};
use crate::commands::eval::EvalRun;
use crate::commands::export::{ExportRun, Format};
use crate::commands::export_tsv::ExportTsvRun;
use crate::commands::fetch::FetchRun;
use crate::commands::predict::PredictRun;
use crate::commands::serve::ServeRun;
use crate::commands::tutorials::TutorialsRun;
use crate::config::TrainConfig;
use crate::error::Error;
use crate::run::{Mode, Resume, TrainRun, open_device};

#[derive(Debug, Parser)]
#[command(
    name = "trainer",
    version,
    about = "Train, evaluate and use MNIST digit classifiers built with Burn",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Without a subcommand, `trainer --config FILE` trains.
    #[command(flatten)]
    pub train: TrainArgs,
}

/// A command line resolved into what to run: one variant per subcommand.
#[derive(Debug)]
pub enum Resolved {
    Train(Box<TrainRun>),
    Eval(EvalRun),
    Predict(PredictRun),
    Serve(ServeRun),
    Fetch(FetchRun),
    Export(ExportRun),
    ExportTsv(ExportTsvRun),
    Tutorials(TutorialsRun),
}

impl Cli {
    /// The subcommand (`train` when none is named), resolved.
    pub fn resolve(self) -> Result<Resolved, Error> {
        Ok(match self.command {
            Some(Command::Train(args)) => Resolved::Train(Box::new(args.resolve()?)),
            None => Resolved::Train(Box::new(self.train.resolve()?)),
            Some(Command::Eval(args)) => Resolved::Eval(args.resolve()?),
            Some(Command::Predict(args)) => Resolved::Predict(args.resolve()?),
            Some(Command::Serve(args)) => Resolved::Serve(args.resolve()?),
            Some(Command::Fetch(args)) => Resolved::Fetch(FetchRun {
                dataset: args.dataset,
                data_dir: args.data_dir,
            }),
            Some(Command::Export(args)) => Resolved::Export(ExportRun {
                model: args.model,
                format: args.format.into(),
                output: args.output,
                force: args.force,
            }),
            Some(Command::ExportTsv(args)) => Resolved::ExportTsv(ExportTsvRun {
                dataset: args.dataset,
                data_dir: args.data_dir,
                split: args.split.into(),
                limit: args.limit,
                output: args.output,
            }),
            Some(Command::Tutorials(args)) => Resolved::Tutorials(TutorialsRun {
                backend: args.backend.get(),
                list: args.list,
                only: args.only,
                table_only: args.table_only,
            }),
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model from a TOML config (the default command).
    Train(TrainArgs),
    /// Evaluate a saved model on the test (or training) data it was trained on, and write a report.
    Eval(EvalArgs),
    /// Predict the digit (or clothing class) in image files with a saved model.
    Predict(PredictArgs),
    /// Serve a saved model over HTTP: a page to draw digits on, the run's report, a JSON API.
    Serve(ServeArgs),
    /// Find, download and verify the dataset files.
    Fetch(FetchArgs),
    /// Write a trained model as ONNX or as PyTorch-named safetensors, with what to feed it.
    Export(ExportArgs),
    /// Write images in the seed tutorials' tab-separated text format.
    ExportTsv(ExportTsvArgs),
    /// Run the seed tutorials' experiments and print the table of published and measured figures.
    Tutorials(TutorialsArgs),
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The training config (see configs/).
    #[arg(long, short, value_name = "FILE", required = true)]
    pub config: Option<PathBuf>,
    /// Total number of epochs, overriding training.epochs (with --resume: the epoch to stop at).
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub epochs: Option<usize>,
    /// Artifact directory [default: output.dir, else artifacts/<config name>].
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
    /// Dataset directory, overriding data.dir and $MNIST_DATA_DIR.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Random seed for weights and shuffling, overriding training.seed.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Continue from the newest complete checkpoint, or from the given epoch's.
    #[arg(long, value_name = "EPOCH", num_args = 0..=1, default_missing_value = "latest",
          value_parser = parse_resume)]
    pub resume: Option<Resume>,
    /// Replace an earlier run in the artifact directory instead of refusing to.
    #[arg(long, conflicts_with = "resume")]
    pub overwrite: bool,
    /// Start a new run from these weights (a model directory, model.bpk, a checkpoint's
    /// model-N.bpk, or a PyTorch .pt/.pth/.safetensors state dict in python/mnist_net.py's
    /// names) with a fresh optimizer and schedule, overriding training.init_from.
    #[arg(long, value_name = "PATH", conflicts_with = "resume")]
    pub init_from: Option<PathBuf>,
    #[command(flatten)]
    pub backend: BackendArg,
}

impl TrainArgs {
    /// The flags and the config file, resolved once into the run to do.
    pub fn resolve(self) -> Result<TrainRun, Error> {
        let config_path = self
            .config
            .ok_or_else(|| Error::Usage("--config FILE is required".into()))?;
        let mut config = TrainConfig::load(&config_path)?;
        if let Some(epochs) = self.epochs {
            config.training.epochs = epochs;
        }
        if let Some(seed) = self.seed {
            config.training.seed = seed;
        }
        if let Some(path) = self.init_from {
            config.training.init_from = Some(path);
        }
        if let Some(dir) = self.data_dir {
            if config.data.names_files() {
                return Err(Error::Usage(format!(
                    "--data-dir has no effect: {} names its files ([data] tsv or idx)",
                    config_path.display()
                )));
            }
            config.data.dir = Some(dir);
        }
        config.validate().map_err(|message| Error::ConfigValue {
            path: config_path.clone(),
            message,
        })?;
        let artifacts = self
            .artifacts
            .or_else(|| config.output.dir.clone())
            .unwrap_or_else(|| crate::run_dir::names::default_artifacts(&config_path));
        let mode = match (self.resume, self.overwrite) {
            (Some(resume), _) => Mode::Resume(resume),
            (None, true) => Mode::Overwrite,
            (None, false) => Mode::Fresh,
        };
        let chosen = self.backend.get();
        Ok(TrainRun {
            config_path,
            config,
            artifacts,
            backend: chosen.backend,
            backend_why: chosen.why,
            mode,
        })
    }
}

#[derive(Debug, Args)]
pub struct BackendArg {
    /// Compute backend, among those compiled in [default: auto when a GPU backend is compiled
    /// in, else flex (or the one there is)].
    #[arg(long, value_enum)]
    pub backend: Option<Selection>,
}

// `--backend`'s values: clap's view of a [`Selection`], kept here so that nothing below this file
// depends on clap.
impl clap::ValueEnum for Selection {
    fn value_variants<'a>() -> &'a [Self] {
        Selection::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()).help(self.about()))
    }
}

impl BackendArg {
    /// The backend to run on, with `auto` resolved (it looks at the machine's adapters).
    pub fn get(&self) -> Chosen {
        match self.backend {
            Some(selection) => selection.resolve(),
            None => {
                let mut chosen = Selection::default_for_build().resolve();
                if chosen.why == "asked for" {
                    chosen.why = "the default".into();
                }
                chosen
            }
        }
    }
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A model directory (an artifact directory after training).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Dataset directory, overriding $MNIST_DATA_DIR.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where to write the report [default: the model directory].
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Which split of the data the model was trained on.
    #[arg(long, value_enum, default_value = "test")]
    pub split: SplitArg,
    /// Also write every image's ten class probabilities to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub probabilities: Option<PathBuf>,
    #[command(flatten)]
    pub backend: BackendArg,
}

impl EvalArgs {
    pub fn resolve(self) -> Result<EvalRun, Error> {
        let device = open_device(self.backend.get().backend)?;
        Ok(EvalRun {
            model: self.model,
            data_dir: self.data_dir,
            output: self.output,
            split: self.split.into(),
            probabilities: self.probabilities,
            device,
        })
    }
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// A model directory (an artifact directory after training).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// PNG, JPEG, BMP or PGM files, any size and colour.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    /// Print a JSON array instead of text.
    #[arg(long)]
    pub json: bool,
    /// The pictures already are MNIST digits (28x28, light ink on dark): take their pixels as
    /// they are, without inverting, cropping or centring.
    #[arg(long)]
    pub raw: bool,
    /// Also write each picture's ten class probabilities to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub probabilities: Option<PathBuf>,
    #[command(flatten)]
    pub backend: BackendArg,
}

impl PredictArgs {
    pub fn resolve(self) -> Result<PredictRun, Error> {
        let device = open_device(self.backend.get().backend)?;
        Ok(PredictRun {
            model: self.model,
            images: self.images,
            json: self.json,
            raw: self.raw,
            probabilities: self.probabilities,
            device,
        })
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A model directory (an artifact directory after training); loaded once at start-up.
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Address to listen on; port 0 picks a free port. Loopback unless you say otherwise.
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Seconds a client has to send its request headers, and again its body (a slower client
    /// is dropped, or answered 408).
    #[arg(long, value_name = "SECONDS", default_value_t = 10,
          value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(1..=3600))]
    pub read_timeout: u64,
    #[command(flatten)]
    pub backend: BackendArg,
}

impl ServeArgs {
    pub fn resolve(self) -> Result<ServeRun, Error> {
        let backend = self.backend.get().backend;
        let device = open_device(backend)?;
        Ok(ServeRun {
            model: self.model,
            addr: self.addr,
            read_timeout: Duration::from_secs(self.read_timeout),
            backend,
            device,
        })
    }
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// `mnist` or `fashion-mnist`.
    #[arg(long, default_value = "mnist")]
    pub dataset: DatasetKind,
    /// Dataset directory [default: $MNIST_DATA_DIR, else the user cache].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A model directory (an artifact directory after training).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    #[arg(long, value_enum)]
    pub format: FormatArg,
    /// The file to write; what to feed it goes beside it, in FILE.toml.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
    /// Replace FILE and FILE.toml when they exist.
    #[arg(long)]
    pub force: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum FormatArg {
    /// The whole inference path (resize and normalisation included) as an ONNX graph.
    Onnx,
    /// The weights, named and laid out as PyTorch's (python/mnist_net.py loads them).
    Safetensors,
}

impl From<FormatArg> for Format {
    fn from(format: FormatArg) -> Self {
        match format {
            FormatArg::Onnx => Format::Onnx,
            FormatArg::Safetensors => Format::Safetensors,
        }
    }
}

#[derive(Debug, Args)]
pub struct ExportTsvArgs {
    /// `mnist` or `fashion-mnist`.
    #[arg(long, default_value = "mnist")]
    pub dataset: DatasetKind,
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "test")]
    pub split: SplitArg,
    /// Write the first N images only.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// The .tsv file to write.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct TutorialsArgs {
    /// The list of tutorials: each config, the tutorial's name and its published figure.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "configs/seeds/tutorials.toml"
    )]
    pub list: PathBuf,
    /// Run only these (config file names without `.toml`).
    #[arg(long, value_name = "NAME")]
    pub only: Vec<String>,
    /// Print the table from the runs already in the artifact directories, training nothing.
    #[arg(long)]
    pub table_only: bool,
    #[command(flatten)]
    pub backend: BackendArg,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum SplitArg {
    Train,
    Test,
}

impl From<SplitArg> for data::Split {
    fn from(arg: SplitArg) -> Self {
        match arg {
            SplitArg::Train => data::Split::Train,
            SplitArg::Test => data::Split::Test,
        }
    }
}

fn parse_resume(value: &str) -> Result<Resume, String> {
    if value == "latest" {
        return Ok(Resume::Latest);
    }
    match value.parse() {
        Ok(epoch) if epoch > 0 => Ok(Resume::Epoch(epoch)),
        _ => Err(format!(
            "expected an epoch number (1 or more), got `{value}`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn resume_takes_an_optional_epoch() {
        let cli =
            Cli::try_parse_from(["trainer", "--config", "c.toml", "--resume", "--epochs", "6"])
                .unwrap();
        assert_eq!(cli.train.resume, Some(Resume::Latest));
        assert_eq!(cli.train.epochs, Some(6));
        let cli =
            Cli::try_parse_from(["trainer", "train", "-c", "c.toml", "--resume", "2"]).unwrap();
        let Some(Command::Train(args)) = cli.command else {
            panic!("expected train")
        };
        assert_eq!(args.resume, Some(Resume::Epoch(2)));
        assert!(Cli::try_parse_from(["trainer", "-c", "c.toml", "--resume", "zero"]).is_err());
    }

    #[test]
    fn subcommands_do_not_need_a_config() {
        let cli = Cli::try_parse_from(["trainer", "fetch", "--dataset", "fashion-mnist"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Fetch(_))));
        assert!(Cli::try_parse_from(["trainer"]).is_err());
    }

    #[test]
    fn serve_listens_on_loopback_unless_told_otherwise() {
        let cli = Cli::try_parse_from(["trainer", "serve", "--model", "m"]).unwrap();
        let Some(Command::Serve(args)) = cli.command else {
            panic!("expected serve")
        };
        assert_eq!(args.addr.to_string(), "127.0.0.1:8080");
        assert!(
            Cli::try_parse_from(["trainer", "serve", "--model", "m", "--addr", "nowhere"]).is_err()
        );
    }
}
