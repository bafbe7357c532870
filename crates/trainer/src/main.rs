//! `trainer`: the thin binary that joins the `data`, `model` and `plot` crates. It parses the
//! command line, runs one command, and turns any error into one message and a non-zero exit.

mod artifacts;
mod backend;
mod checkpoint;
mod cli;
mod config;
mod error;
mod evaluate;
mod malloc;
mod predict;
mod progress;
mod report;
mod stats;
mod train;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, EvalArgs, ExportArgs, FetchArgs, TrainArgs};
use crate::config::TrainConfig;
use crate::error::Error;

fn main() -> ExitCode {
    malloc::pin_thresholds();
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Train(args)) => train(args),
        None => train(cli.train),
        Some(Command::Eval(args)) => eval(args),
        Some(Command::Predict(args)) => predict::command(args),
        Some(Command::Fetch(args)) => fetch(args),
        Some(Command::ExportTsv(args)) => export_tsv(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            match error {
                // The shell's convention for a run stopped by Ctrl-C.
                Error::Interrupted { .. } => ExitCode::from(130),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

fn train(args: TrainArgs) -> Result<(), Error> {
    let config_path = args
        .config
        .ok_or_else(|| Error::Usage("--config FILE is required".into()))?;
    let mut config = TrainConfig::load(&config_path)?;
    if let Some(epochs) = args.epochs {
        config.training.epochs = epochs;
    }
    if let Some(seed) = args.seed {
        config.training.seed = seed;
    }
    if let Some(dir) = &args.data_dir {
        if config.data.tsv.is_some() {
            return Err(Error::Usage(format!(
                "--data-dir has no effect: {} reads TSV files ([data] tsv)",
                config_path.display()
            )));
        }
        config.data.dir = Some(dir.clone());
    }
    config.validate().map_err(|message| Error::ConfigValue {
        path: config_path.clone(),
        message,
    })?;
    let artifacts = args
        .artifacts
        .or_else(|| config.output.dir.clone())
        .unwrap_or_else(|| train::default_artifacts(&config_path));

    let backend = args.backend.get();
    println!(
        "training {} on {} with {} into {}",
        config.model.describe(),
        config.data.dataset.name(),
        backend.name(),
        artifacts.display()
    );
    let outcome = train::run(&config, &artifacts, backend, args.resume, args.overwrite)?;
    report::after_training(&artifacts, &config, &outcome)?;
    println!(
        "test accuracy {:.2}% on {} images ({:.0} s, {:.0} train images/s); artifacts in {}",
        outcome.test.accuracy * 100.0,
        outcome.test.predictions.len(),
        outcome.wall_seconds,
        report::images_per_sec(&outcome.history, outcome.resumed_from),
        artifacts.display()
    );
    Ok(())
}

fn eval(args: EvalArgs) -> Result<(), Error> {
    let device = args.backend.get().device();
    let report = report::evaluate_saved(
        &args.model,
        args.data_dir.as_deref(),
        args.output.as_deref(),
        &device,
    )?;
    println!("{report}");
    Ok(())
}

fn fetch(args: FetchArgs) -> Result<(), Error> {
    let files = data::ensure(args.dataset, args.data_dir.as_deref(), &mut |line| {
        println!("{line}")
    })?;
    println!(
        "{} files verified in {}",
        files.kind.name(),
        files.dir.display()
    );
    for path in [
        &files.train_images,
        &files.train_labels,
        &files.test_images,
        &files.test_labels,
    ] {
        println!("  {}", path.display());
    }
    Ok(())
}

fn export_tsv(args: ExportArgs) -> Result<(), Error> {
    let files = data::ensure(args.dataset, args.data_dir.as_deref(), &mut |line| {
        eprintln!("{line}")
    })?;
    let dataset = data::MnistDataset::open(&files, args.split.into())?;
    let items = dataset.items();
    let items = &items[..args.limit.unwrap_or(items.len()).min(items.len())];
    data::write_tsv(&args.output, items)?;
    println!("wrote {} images to {}", items.len(), args.output.display());
    Ok(())
}
