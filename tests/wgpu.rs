//! The GPU path: the same training code on the wgpu backend (Mesa's lavapipe on a machine
//! without a GPU). Built only with `--features trainer/wgpu`.
//!
//! Where no Vulkan driver is installed, the trainer says so (its backend probe) and this test
//! reports itself skipped, with the reason, rather than failing on the machine. CI sets
//! `MNIST_BURN_REQUIRE_WGPU=1` after installing lavapipe, which makes the test mandatory there.

#![cfg(feature = "wgpu-backend")]

mod common;

use std::io::Write;

use common::{Fixture, assert_success, read_json};

#[test]
fn trains_on_wgpu() {
    let required = std::env::var_os("MNIST_BURN_REQUIRE_WGPU").is_some_and(|v| v != "0");
    let fixture = Fixture::new(400, "");
    let output = fixture.train(&["--backend", "wgpu", "--epochs", "1"]);
    let err = common::stderr(&output);
    if !output.status.success() && err.contains("error: wgpu backend:") && !required {
        // Straight to the stderr handle, past the test harness's capture, so the skip shows.
        let _ = writeln!(
            std::io::stderr(),
            "trains_on_wgpu skipped: no usable wgpu adapter on this machine ({}); set \
             MNIST_BURN_REQUIRE_WGPU=1 to make this a failure",
            err.trim()
        );
        return;
    }
    assert_success(&output);
    let run = read_json(&fixture.artifacts().join("run.json"));
    assert_eq!(run["backend"], "wgpu");
    let metrics = read_json(&fixture.artifacts().join("metrics.json"));
    assert!(
        metrics["test_accuracy"].as_f64().unwrap() > 0.5,
        "{metrics}"
    );
}

/// `--backend auto` (the default of a build with wgpu): a hardware GPU is taken, a software
/// adapter passed by. In CI the only adapter is lavapipe, so flex must be taken, naming it.
#[test]
fn auto_passes_a_software_adapter_by() {
    let required = std::env::var_os("MNIST_BURN_REQUIRE_WGPU").is_some_and(|v| v != "0");
    let fixture = Fixture::new(300, "");
    let output = fixture.train(&["--backend", "auto", "--epochs", "1"]);
    assert_success(&output);
    let run = read_json(&fixture.artifacts().join("run.json"));
    let choice = run["backend_choice"].as_str().unwrap().to_string();
    assert!(choice.starts_with("auto: "), "{run}");
    assert!(
        common::stdout(&output).contains(&choice),
        "the run says what it took and why"
    );
    match run["backend"].as_str().unwrap() {
        "wgpu" => assert!(choice.contains("GPU,"), "{choice}"),
        "flex" => {
            if required {
                assert!(choice.contains("software renderer"), "{choice}");
            }
        }
        other => panic!("auto took {other}: {choice}"),
    }
}
