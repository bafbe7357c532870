//! Bad input to the real binary: one clear message naming the file and key, a non-zero exit,
//! never a panic, and no training started.

mod common;

use common::{run, stderr};

fn fails_with(config_text: &str, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, config_text).unwrap();
    let artifacts = dir.path().join("artifacts");
    let output = run(&[
        "--config",
        path.to_str().unwrap(),
        "--artifacts",
        artifacts.to_str().unwrap(),
    ]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("bad.toml"),
        "the message names the file: {err}"
    );
    for needle in expected {
        assert!(err.contains(needle), "expected {needle:?} in: {err}");
    }
    assert!(!artifacts.exists(), "nothing is written for a bad config");
}

const MODEL: &str = "[model]\nkind = \"mlp\"\n";

#[test]
fn syntax_error_names_the_line() {
    fails_with(&format!("{MODEL}[training\nepochs = 2\n"), &["line 3"]);
}

#[test]
fn unknown_key_is_named() {
    fails_with(&format!("{MODEL}[training]\nepoch = 2\n"), &["epoch"]);
}

#[test]
fn wrong_type_names_the_key() {
    fails_with(
        &format!("{MODEL}[training]\nepochs = \"two\"\n"),
        &["epochs"],
    );
}

#[test]
fn zero_batch_size_is_rejected() {
    fails_with(
        &format!("{MODEL}[training]\nbatch_size = 0\n"),
        &["training.batch_size"],
    );
}

#[test]
fn negative_learning_rate_is_rejected() {
    fails_with(
        &format!("{MODEL}[optimizer]\nkind = \"sgd\"\nlr = -0.1\n"),
        &["optimizer.lr", "-0.1"],
    );
}

#[test]
fn unknown_model_key_is_named() {
    fails_with("[model]\nkind = \"lenet\"\nfilters = 3\n", &["filters"]);
}

#[test]
fn missing_config_file_is_named() {
    let output = run(&["--config", "/nonexistent/lenet.toml"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("/nonexistent/lenet.toml"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn resume_without_an_earlier_run_is_a_clear_error() {
    let fixture = common::Fixture::new(200, "");
    let output = fixture.train(&["--resume"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("cannot resume"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_second_run_into_the_same_directory_needs_overwrite() {
    let fixture = common::Fixture::new(200, "");
    common::assert_success(&fixture.train(&["--epochs", "1"]));
    let output = fixture.train(&["--epochs", "1"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("--overwrite"),
        "{}",
        stderr(&output)
    );
    common::assert_success(&fixture.train(&["--epochs", "1", "--overwrite"]));
}

#[test]
fn a_zero_epoch_flag_is_a_usage_error() {
    let output = run(&["--config", "configs/lenet.toml", "--epochs", "0"]);
    assert_eq!(output.status.code(), Some(2), "clap's usage-error code");
    assert!(stderr(&output).contains("--epochs"), "{}", stderr(&output));
}
