//! The GPU path: the same training code on the wgpu backend (lavapipe on a machine without a GPU).
//! Built only with `--features trainer/wgpu`.

#![cfg(feature = "wgpu")]

mod common;

use common::{Fixture, assert_success, read_json};

#[test]
fn trains_on_wgpu() {
    let fixture = Fixture::new(400, "");
    let output = fixture.train(&["--backend", "wgpu", "--epochs", "1"]);
    assert_success(&output);
    let run = read_json(&fixture.artifacts().join("run.json"));
    assert_eq!(run["backend"], "wgpu");
    let metrics = read_json(&fixture.artifacts().join("metrics.json"));
    assert!(
        metrics["test_accuracy"].as_f64().unwrap() > 0.5,
        "{metrics}"
    );
}
