//! `trainer`: the thin binary that joins the `data`, `model` and `plot` crates. It parses the
//! command line, resolves it once into what to do, runs that, and turns any error into one
//! message and an exit code: 1 for errors, 130 for a run stopped by Ctrl-C, 2 for usage errors
//! (clap's), 0 when whoever read the output stopped reading.

use std::process::ExitCode;

use clap::Parser;
use model::malloc;
use trainer::cli::{Cli, Resolved};
use trainer::commands::{eval, export_tsv, fetch, predict, serve, train, tutorials};
use trainer::error::Error;
use trainer::panics;

fn main() -> ExitCode {
    // Failure only costs speed.
    let _ = malloc::pin_thresholds();
    panics::install_hook();
    let result = Cli::parse().resolve().and_then(|resolved| match resolved {
        Resolved::Train(run) => train::run(&run),
        Resolved::Eval(run) => eval::run(&run),
        Resolved::Predict(run) => predict::run(&run),
        Resolved::Serve(run) => serve::run(&run),
        Resolved::Fetch(run) => fetch::run(&run),
        Resolved::ExportTsv(run) => export_tsv::run(&run),
        Resolved::Tutorials(run) => tutorials::run(&run),
    });
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
