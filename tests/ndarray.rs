//! The ndarray backend, the CPU backend Burn's card names (deprecated upstream since Burn 0.22,
//! and slower than flex): the same training code trains a short run on it. Built only with
//! `--features trainer/ndarray`, as CI builds it.

#![cfg(feature = "ndarray")]

mod common;

use common::{Fixture, assert_success, read_json};

#[test]
fn trains_on_ndarray() {
    let fixture = Fixture::new(400, "");
    let output = fixture.train(&["--backend", "ndarray", "--epochs", "1"]);
    assert_success(&output);
    let run = read_json(&fixture.artifacts().join("run.json"));
    assert_eq!(run["backend"], "ndarray");
    assert_eq!(run["backend_choice"], "asked for");
    let metrics = read_json(&fixture.artifacts().join("metrics.json"));
    assert!(
        metrics["test_accuracy"].as_f64().unwrap() > 0.5,
        "{metrics}"
    );
}
