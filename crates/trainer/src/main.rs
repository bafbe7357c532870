//! `trainer`: the thin binary that joins the `data`, `model` and `plot` crates. It parses the
//! command line, resolves it once into what to do, runs that, and turns any error into one
//! message and an exit code: 1 for errors, 130 for a run stopped by Ctrl-C, 2 for usage errors
//! (clap's), 0 when whoever read the output stopped reading.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;
use model::malloc;
use trainer::cli::{Cli, Resolved};
use trainer::commands::{eval, export, export_tsv, fetch, predict, serve, train, tutorials};
use trainer::error::Error;
use trainer::panics;
use trainer::training::ctrl_c;

fn main() -> ExitCode {
    // Failure only costs speed.
    let _ = malloc::pin_thresholds();
    panics::install_hook();
    let result = Cli::parse().resolve().and_then(|resolved| match resolved {
        Resolved::Train(run) => {
            stop_training_on_ctrl_c();
            train::run(&run)
        }
        Resolved::Eval(run) => eval::run(&run),
        Resolved::Predict(run) => predict::run(&run),
        Resolved::Serve(run) => serve::run(&run),
        Resolved::Fetch(run) => fetch::run(&run),
        Resolved::Export(run) => export::run(&run),
        Resolved::ExportTsv(run) => export_tsv::run(&run),
        Resolved::Tutorials(run) => {
            stop_training_on_ctrl_c();
            tutorials::run(&run)
        }
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

/// The first Ctrl-C asks the run in hand to stop after its batch, keeping the last complete
/// checkpoint (the run then ends with `Error::Interrupted`, exit code 130); a second one quits at
/// once, which the atomic checkpoints also survive. (Burn's terminal dashboard reads keys itself:
/// there, `q` stops.) Only for the training commands: `serve` handles Ctrl-C its own way.
fn stop_training_on_ctrl_c() {
    let pressed = AtomicBool::new(false);
    // Failing to install the handler only means Ctrl-C kills the process at once.
    let _ = ctrlc::set_handler(move || {
        if pressed.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        ctrl_c::stop_run_in_hand();
    });
}
