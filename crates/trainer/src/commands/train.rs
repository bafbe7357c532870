//! `trainer train` (and `trainer --config FILE`): train the run, then write what it leaves to
//! read and look at, and say where.

use crate::console;
use crate::error::Error;
use crate::report;
use crate::run::TrainRun;
use crate::training::train;

pub fn run(run: &TrainRun) -> Result<(), Error> {
    console::progress(format!(
        "training {} on {} with {} ({}) into {}",
        run.config.model.describe(),
        run.config.data.dataset.name(),
        run.backend.name(),
        run.backend_why,
        run.artifacts.display()
    ));
    let outcome = train::run(run)?;
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
