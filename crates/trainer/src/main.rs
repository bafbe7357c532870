//! `trainer`: the thin binary that joins the `data`, `model` and `plot` crates. It parses the
//! command line, resolves it once into what to do, runs that, and turns any error into one
//! message and an exit code: 1 for errors, 130 for a run stopped by Ctrl-C, 2 for usage errors
//! (clap's), 0 when whoever read the output stopped reading.

use std::process::ExitCode;

use clap::Parser;
use trainer::cli::{Cli, Command, EvalArgs, ExportArgs, FetchArgs, TrainArgs};
use trainer::commands::{predict, serve, tutorials};
use trainer::console;
use trainer::error::Error;
use trainer::training::train;
use trainer::{malloc, panics, report};

fn main() -> ExitCode {
    malloc::pin_thresholds();
    panics::install_hook();
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Train(args)) => train(args),
        None => train(cli.train),
        Some(Command::Eval(args)) => eval(args),
        Some(Command::Predict(args)) => predict::command(args),
        Some(Command::Serve(args)) => serve::command(args),
        Some(Command::Fetch(args)) => fetch(args),
        Some(Command::ExportTsv(args)) => export_tsv(args),
        Some(Command::Tutorials(args)) => {
            tutorials::command(&args.list, &args.only, args.table_only, args.backend.get())
        }
    };
    match result {
        Ok(()) | Err(Error::StdoutClosed) => ExitCode::SUCCESS,
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
    let run = args.resolve()?;
    console::progress(format!(
        "training {} on {} with {} ({}) into {}",
        run.config.model.describe(),
        run.config.data.dataset.name(),
        run.backend.name(),
        run.backend_why,
        run.artifacts.display()
    ));
    let outcome = train::run(&run)?;
    report::after_training(&run.artifacts, &run.config, &outcome)?;
    let speed = match report::images_per_sec(&outcome.history, outcome.resumed_from) {
        Some(rate) => format!("{rate:.0} train images/s"),
        None => "no epoch trained".to_string(),
    };
    console::line(format!(
        "test accuracy {:.2}% on {} images ({:.0} s, {speed}); artifacts in {}",
        outcome.test.accuracy * 100.0,
        outcome.test.predictions.len(),
        outcome.wall_seconds,
        run.artifacts.display()
    ))
}

fn eval(args: EvalArgs) -> Result<(), Error> {
    let backend = args.backend.get().backend;
    let device = backend.device();
    backend.probe(&device)?;
    let report = report::evaluate_saved(&args, args.split.into(), &device)?;
    console::line(report)
}

fn fetch(args: FetchArgs) -> Result<(), Error> {
    let files = data::ensure(args.dataset, args.data_dir.as_deref(), &mut |line| {
        console::progress(line)
    })?;
    console::line(format!(
        "{} files verified in {}",
        files.kind.name(),
        files.dir.display()
    ))?;
    for path in [
        &files.train_images,
        &files.train_labels,
        &files.test_images,
        &files.test_labels,
    ] {
        console::line(format!("  {}", path.display()))?;
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
    console::line(format!(
        "wrote {} images to {}",
        items.len(),
        args.output.display()
    ))
}
