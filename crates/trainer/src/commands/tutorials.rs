//! `trainer tutorials`: runs the seed tutorials' experiments (`configs/seeds/tutorials.toml`
//! lists each config with the tutorial's name and published figure) and prints the table
//! "tutorial, published, measured here, seconds" from the runs' results, so the README's table
//! is produced by a command rather than typed.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::backend_choice::Chosen;
use crate::config::TrainConfig;
use crate::console;
use crate::dataset;
use crate::error::Error;
use crate::report;
use crate::run::{Mode, TrainRun};
use crate::run_dir::names;
use crate::training::train;

/// The list of tutorials.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct List {
    tutorial: Vec<Tutorial>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tutorial {
    /// The config, relative to the list's directory.
    config: PathBuf,
    /// The tutorial and experiment, as the table shows it.
    name: String,
    /// Its published figure, as the table shows it.
    published: String,
    /// Seeds to run (the config's seed, then the next ones): a short run over 100 test images
    /// moves by whole percents, so those report a mean and a spread.
    #[serde(default = "one")]
    runs: usize,
    /// TSV files to write from MNIST before the run, when the config reads TSV files that are
    /// not there yet: the first `train` training and `test` test images.
    export_tsv: Option<ExportTsv>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportTsv {
    train: usize,
    test: usize,
}

fn one() -> usize {
    1
}

/// What one run measured.
struct Measured {
    test: f64,
    train: f64,
    seconds: f64,
}

/// `trainer tutorials`, resolved.
#[derive(Clone, Debug)]
pub struct TutorialsRun {
    /// The list of tutorials: each config, the tutorial's name and its published figure.
    pub list: PathBuf,
    /// Run only these (config file names without `.toml`).
    pub only: Vec<String>,
    /// Print the table from the runs already in the artifact directories, training nothing.
    pub table_only: bool,
    pub backend: Chosen,
}

pub fn run(run: &TutorialsRun) -> Result<(), Error> {
    let TutorialsRun {
        list: list_path,
        only,
        table_only,
        backend,
    } = run;
    let table_only = *table_only;
    let text =
        files::read_capped_string(list_path, 1 << 20).map_err(|e| Error::read(list_path, e))?;
    let list: List = toml::from_str(&text).map_err(|source| Error::ConfigSyntax {
        path: list_path.to_path_buf(),
        source: Box::new(source),
    })?;
    let base = list_path.parent().unwrap_or(Path::new("."));
    let name_of = |t: &Tutorial| {
        t.config
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let unknown: Vec<&str> = only
        .iter()
        .filter(|o| !list.tutorial.iter().any(|t| name_of(t) == **o))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        let known: Vec<String> = list.tutorial.iter().map(name_of).collect();
        return Err(Error::Usage(format!(
            "--only {}: no such tutorial in {} (it lists: {})",
            unknown.join(", "),
            list_path.display(),
            known.join(", ")
        )));
    }
    let mut rows = Vec::new();
    for tutorial in list.tutorial.iter().filter(|t| {
        only.is_empty()
            || only
                .iter()
                .any(|o| t.config.file_stem().is_some_and(|s| s == o.as_str()))
    }) {
        let config_path = base.join(&tutorial.config);
        let config = TrainConfig::load(&config_path)?;
        if let (Some(export), Some(tsv)) = (&tutorial.export_tsv, &config.data.tsv) {
            export_tsv(export, &tsv.train, &tsv.test)?;
        }
        let mut measured = Vec::new();
        for i in 0..tutorial.runs.max(1) {
            let mut config = config.clone();
            config.training.seed += i as u64;
            let artifacts = artifacts_of(&config_path, &config, tutorial.runs, i);
            if !table_only {
                console::progress(format!(
                    "{}: {} (seed {}) into {}",
                    tutorial.name,
                    config_path.display(),
                    config.training.seed,
                    artifacts.display()
                ));
                let run = TrainRun {
                    config_path: config_path.clone(),
                    config: config.clone(),
                    artifacts: artifacts.clone(),
                    backend: backend.backend,
                    backend_why: backend.why.clone(),
                    mode: Mode::Overwrite,
                };
                let outcome = train::run(&run)?;
                report::after_training(&artifacts, &config, &outcome)?;
            }
            measured.push(read_metrics(&artifacts)?);
        }
        rows.push((tutorial, measured));
    }
    console::line("| tutorial | published | measured here | seconds |")?;
    console::line("| --- | --- | --- | --- |")?;
    for (tutorial, measured) in rows {
        console::line(format!(
            "| {} (`{}`) | {} | {} | {} |",
            tutorial.name,
            tutorial.config.display(),
            tutorial.published,
            describe(&measured, tutorial.published.contains("train")),
            mean_seconds(&measured)
        ))?;
    }
    Ok(())
}

/// Where run `i` of a tutorial goes: the config's own artifact directory for a single run (so a
/// follow-up config can `init_from` it), with `-seed-N` for each of several.
fn artifacts_of(config_path: &Path, config: &TrainConfig, runs: usize, i: usize) -> PathBuf {
    let dir = config
        .output
        .dir
        .clone()
        .unwrap_or_else(|| names::default_artifacts(config_path));
    if runs <= 1 && i == 0 {
        return dir;
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.with_file_name(format!("{name}-seed-{}", config.training.seed))
}

fn read_metrics(artifacts: &Path) -> Result<Measured, Error> {
    let path = artifacts.join(names::METRICS);
    let text = files::read_capped_string(&path, 64 << 20).map_err(|e| Error::read(&path, e))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Json {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let number = |key: &str| {
        value[key].as_f64().ok_or_else(|| Error::Json {
            path: path.clone(),
            message: format!("no number `{key}`; train the tutorial again"),
        })
    };
    Ok(Measured {
        test: number("test_accuracy")?,
        train: number("train_accuracy")?,
        seconds: number("wall_seconds")?,
    })
}

/// `97.31% test`, or for several runs `95.84% test (mean of 5; 95.02-96.71)`; with the training
/// accuracy first where the tutorial publishes one.
fn describe(measured: &[Measured], with_train: bool) -> String {
    let one = |values: Vec<f64>, what: &str| {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        if values.len() == 1 {
            format!("{:.2}% {what}", mean * 100.0)
        } else {
            let (lo, hi) = values
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            format!(
                "{:.2}% {what} (mean of {}; {:.2}-{:.2})",
                mean * 100.0,
                values.len(),
                lo * 100.0,
                hi * 100.0
            )
        }
    };
    let test = one(measured.iter().map(|m| m.test).collect(), "test");
    if with_train {
        format!(
            "{}, {test}",
            one(measured.iter().map(|m| m.train).collect(), "train")
        )
    } else {
        test
    }
}

fn mean_seconds(measured: &[Measured]) -> String {
    let mean = measured.iter().map(|m| m.seconds).sum::<f64>() / measured.len().max(1) as f64;
    format!("{mean:.0}")
}

/// Writes the first `export.train` / `export.test` MNIST images to the given TSV paths, when
/// they are not there yet.
fn export_tsv(export: &ExportTsv, train: &Path, test: &Path) -> Result<(), Error> {
    for (path, split, limit) in [
        (train, data::Split::Train, export.train),
        (test, data::Split::Test, export.test),
    ] {
        if path.exists() {
            continue;
        }
        let files = dataset::ensure(data::DatasetKind::Mnist, None)?;
        let items = data::MnistDataset::open(&files, split)?.into_items();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
        }
        data::write_tsv(path, &items[..limit.min(items.len())])?;
        console::progress(format!(
            "wrote the first {limit} images to {}",
            path.display()
        ));
    }
    Ok(())
}
