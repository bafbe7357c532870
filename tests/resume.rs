//! Checkpoints and `--resume` through the real binary, on a small fixture dataset.

mod common;

use std::time::{Duration, Instant};

use burn::optim::OptimizerRecord;
use burn::optim::lr_scheduler::LrSchedulerRecord;
use burn::tensor::Device;
use common::{Fixture, assert_success, read_json, stdout};
use serde_json::Value;

/// A finished run: its results, and `metrics.json` written last, so that a run killed before
/// the end has no `metrics.json` and `--resume` finishes it.
fn assert_finished(artifacts: &std::path::Path, epochs: u64, when: &str) {
    for name in [
        "model.bpk",
        "model.toml",
        "report.txt",
        "eval.json",
        "curves.png",
    ] {
        assert!(artifacts.join(name).is_file(), "{when}: no {name}");
    }
    let modified = |path: &std::path::Path| path.metadata().unwrap().modified().unwrap();
    let metrics = modified(&artifacts.join("metrics.json"));
    for entry in std::fs::read_dir(artifacts).unwrap() {
        let path = entry.unwrap().path();
        // The lock records each command that held the directory, including the one after.
        if path.is_file() && !path.ends_with("trainer.lock") {
            assert!(
                modified(&path) <= metrics,
                "{when}: {} was written after metrics.json",
                path.display()
            );
        }
    }
    assert_eq!(
        read_json(&artifacts.join("metrics.json"))["epochs"],
        epochs,
        "{when}"
    );
}

fn epochs(history: &Value) -> Vec<Value> {
    history["epochs"]
        .as_array()
        .expect("an epochs array")
        .clone()
}

#[test]
fn resume_continues_the_schedule_and_keeps_earlier_epochs() {
    let run = Fixture::new(400, "");
    assert_success(&run.train(&[]));
    let first = epochs(&read_json(&run.artifacts().join("history.json")));
    assert_eq!(first.len(), 2);

    let resumed = run.train(&["--resume", "--epochs", "3"]);
    assert_success(&resumed);
    assert!(
        stdout(&resumed).contains("resuming from the checkpoint at epoch 2"),
        "{}",
        stdout(&resumed)
    );
    let metrics = read_json(&run.artifacts().join("metrics.json"));
    assert_eq!(metrics["epochs"], 3);
    let after = epochs(&metrics["history"]);
    assert_eq!(after.len(), 3);
    assert_eq!(after[..2], first[..], "epochs 1-2 are kept as they were");

    let straight = Fixture::new(400, "");
    assert_success(&straight.train(&["--epochs", "3"]));
    let reference = epochs(&read_json(&straight.artifacts().join("metrics.json"))["history"]);
    // The step schedule halves the rate each epoch: a scheduler restarted from scratch would
    // be back at 0.1 in epoch 3.
    let lr = |e: &Value| e["lr"].as_f64().expect("a learning rate");
    assert_eq!(lr(&after[2]), lr(&reference[2]));
    assert!(
        (lr(&after[2]) - 0.1 * 0.25).abs() < 1e-9,
        "{}",
        lr(&after[2])
    );
    // Restored weights: epoch 3 starts where epoch 2 ended, not from a fresh network.
    let loss = |e: &Value| e["train_loss"].as_f64().expect("a loss");
    assert!(loss(&after[2]) < loss(&after[0]), "{after:?}");
}

/// A kill after the last checkpoint but before the results are written (the final evaluation
/// and pictures) leaves a run that `--resume` finishes without training again; once the results
/// exist, there is nothing left to resume.
#[test]
fn resume_finishes_a_run_killed_after_its_last_checkpoint() {
    let run = Fixture::new(200, "");
    assert_success(&run.train(&[]));
    let artifacts = run.artifacts();
    assert_finished(&artifacts, 2, "a whole run");
    let history = epochs(&read_json(&artifacts.join("metrics.json"))["history"]);
    let weights = std::fs::read(artifacts.join("model.bpk")).unwrap();
    for name in [
        "metrics.json",
        "model.bpk",
        "model.toml",
        "input.toml",
        "curves.png",
    ] {
        std::fs::remove_file(artifacts.join(name)).unwrap();
    }

    let output = run.train(&["--resume"]);
    assert_success(&output);
    assert!(
        stdout(&output).contains("all 2 epochs are trained; finishing the run"),
        "{}",
        stdout(&output)
    );
    assert!(
        stdout(&output).contains("no epoch trained"),
        "{}",
        stdout(&output)
    );
    let metrics = read_json(&artifacts.join("metrics.json"));
    assert_eq!(metrics["epochs"], 2);
    assert_eq!(
        epochs(&metrics["history"]),
        history,
        "no epoch trained again"
    );
    assert!(
        metrics["train_images_per_sec"].is_null(),
        "no speed to report"
    );
    assert!(artifacts.join("curves.png").is_file());
    assert!(
        std::fs::read(artifacts.join("model.bpk")).unwrap() == weights,
        "the final weights are checkpoint 2's, as before"
    );

    let again = run.train(&["--resume"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        common::stderr(&again).contains("already covers the 2 epochs"),
        "{}",
        common::stderr(&again)
    );
}

#[test]
fn resume_from_a_named_epoch_and_reject_a_different_model() {
    let fixture = Fixture::new(200, "");
    assert_success(&fixture.train(&[]));
    let before = epochs(&read_json(&fixture.artifacts().join("history.json")));
    let output = fixture.train(&["--resume", "1", "--epochs", "2"]);
    assert_success(&output);
    assert!(stdout(&output).contains("resuming from the checkpoint at epoch 1"));
    let after = epochs(&read_json(&fixture.artifacts().join("metrics.json"))["history"]);
    assert_eq!(after.len(), 2);
    assert_eq!(
        after[0], before[0],
        "epoch 1 is kept; epoch 2 is trained again"
    );

    // Same artifacts, another network or optimizer: refused before anything is touched.
    let metrics = std::fs::read(fixture.artifacts().join("metrics.json")).unwrap();
    let original = std::fs::read_to_string(&fixture.config).unwrap();
    for (from, to, named) in [
        ("hidden = [32]", "hidden = [16]", "model"),
        ("momentum = 0.9", "momentum = 0.5", "[optimizer]"),
    ] {
        std::fs::write(&fixture.config, original.replace(from, to)).unwrap();
        let output = fixture.train(&["--resume", "--epochs", "3"]);
        assert_eq!(output.status.code(), Some(1));
        let err = common::stderr(&output);
        assert!(
            err.contains("cannot resume") && err.contains(named),
            "{err}"
        );
        let unchanged = std::fs::read(fixture.artifacts().join("metrics.json")).unwrap();
        assert!(
            unchanged == metrics,
            "a refused resume leaves the run as it was"
        );
    }
}

/// `[model] kernels` changes how the layers are computed, not the network: a run started with
/// Burn's ops resumes with the custom kernels, says that the result will not equal an
/// uninterrupted run's bit for bit, and `run.json` records which ops ran.
#[test]
fn resume_with_the_other_kernels() {
    let fixture = Fixture::new(200, "");
    let lenet = std::fs::read_to_string(&fixture.config)
        .unwrap()
        .replace("kind = \"mlp\"\nhidden = [32]", "kind = \"lenet\"");
    std::fs::write(
        &fixture.config,
        lenet.replace("kind = \"lenet\"", "kind = \"lenet\"\nkernels = \"burn\""),
    )
    .unwrap();
    assert_success(&fixture.train(&["--epochs", "1"]));
    assert_eq!(
        read_json(&fixture.artifacts().join("run.json"))["kernels"],
        "burn"
    );

    std::fs::write(&fixture.config, lenet).unwrap();
    let output = fixture.train(&["--resume", "--epochs", "2"]);
    assert_success(&output);
    assert!(
        common::stderr(&output).contains("kernels burn then, custom now"),
        "{}",
        common::stderr(&output)
    );
    assert_eq!(
        read_json(&fixture.artifacts().join("run.json"))["kernels"],
        "custom"
    );
    assert_eq!(
        epochs(&read_json(&fixture.artifacts().join("history.json"))).len(),
        2
    );
}

/// The Caffe2 LeNet on 3,000 images: epochs long enough (about a second) to stop in the middle of.
fn slow_fixture() -> Fixture {
    let fixture = Fixture::new(3_000, "");
    let text = std::fs::read_to_string(&fixture.config)
        .unwrap()
        .replace("kind = \"mlp\"\nhidden = [32]", "kind = \"lenet\"")
        .replace("epochs = 2", "epochs = 4")
        .replace("lr = 0.1", "lr = 0.01");
    std::fs::write(&fixture.config, text).unwrap();
    fixture
}

/// Starts training in the background and returns once epoch 1 is checkpointed.
fn start_and_wait_for_checkpoint(fixture: &Fixture) -> std::process::Child {
    let artifacts = fixture.artifacts();
    let mut child = common::trainer()
        .args(["--config", fixture.config.to_str().unwrap()])
        .args(["--artifacts", artifacts.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let first = artifacts.join("checkpoint/scheduler-1.bpk");
    let started = Instant::now();
    while !first.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no checkpoint appeared"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "training ended too early"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[test]
fn a_killed_run_resumes_from_its_last_complete_checkpoint() {
    let fixture = slow_fixture();
    let artifacts = fixture.artifacts();
    let mut child = start_and_wait_for_checkpoint(&fixture);
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL: no chance to clean up.
    child.wait().unwrap();
    assert!(
        !artifacts.join("metrics.json").exists(),
        "the run was killed before it finished"
    );

    let checkpoints = artifacts.join("checkpoint");
    let config = read_model_config(&artifacts);
    let device = Device::flex();
    let mut loaded = 0;
    for entry in std::fs::read_dir(&checkpoints).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".bpk") {
            continue;
        }
        if name.starts_with("model-") {
            // The checker a resume uses: a checkpoint holds the network in the Learner's wrapper.
            trainer::training::checkpoint::checked::initial_weights(&path, &config, &device)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        } else if name.starts_with("optim-") {
            OptimizerRecord::load(&path).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        } else {
            LrSchedulerRecord::load(&path).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        }
        loaded += 1;
    }
    assert!(loaded >= 3, "at least one whole checkpoint survives");

    let output = fixture.train(&["--resume"]);
    assert_success(&output);
    let metrics = read_json(&artifacts.join("metrics.json"));
    assert_eq!(metrics["epochs"], 4);
    assert_eq!(epochs(&metrics["history"]).len(), 4);
}

#[test]
fn ctrl_c_stops_at_a_resumable_point() {
    let fixture = slow_fixture();
    let artifacts = fixture.artifacts();
    let child = start_and_wait_for_checkpoint(&fixture);
    let interrupt = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupt.success());
    let output = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{err}");
    assert!(
        err.contains("--resume"),
        "the message says how to continue: {err}"
    );
    assert!(!artifacts.join("metrics.json").exists());

    assert_success(&fixture.train(&["--resume"]));
    assert_eq!(read_json(&artifacts.join("metrics.json"))["epochs"], 4);
}

fn read_model_config(artifacts: &std::path::Path) -> model::ModelConfig {
    #[derive(serde::Deserialize)]
    struct Saved {
        model: model::ModelConfig,
    }
    let text = std::fs::read_to_string(artifacts.join("config.toml")).unwrap();
    let saved: Saved = toml::from_str(&text).unwrap();
    saved.model
}

/// Starts `trainer` with `flags` on the fixture and SIGKILLs it after `delay`.
fn kill_after(fixture: &Fixture, flags: &[&str], delay: Duration) {
    let mut child = common::trainer()
        .args(["--config", fixture.config.to_str().unwrap()])
        .args(["--artifacts", fixture.artifacts().to_str().unwrap()])
        .args(flags)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let _ = child.kill();
    child.wait().unwrap();
}

/// After a kill, the run directory is never in a state the program cannot continue from: a
/// `--resume` finishes the run, or says plainly that there is nothing to resume yet (no
/// complete checkpoint, or an interrupted `--overwrite`), in which case `--overwrite` starts it,
/// or that the run is already finished (the kill came after its last file, or after it ended:
/// how far a run gets in a given time depends on the machine), and then every file is there.
fn continue_after_kill(fixture: &Fixture, when: &str) {
    let resumed = fixture.train(&["--resume"]);
    if !resumed.status.success() {
        let err = common::stderr(&resumed);
        assert!(!err.contains("panicked"), "{when}: {err}");
        if err.contains("already covers the 4 epochs") {
            assert_finished(&fixture.artifacts(), 4, when);
        } else {
            assert!(
                err.contains("no complete checkpoint")
                    || err.contains("holds no earlier run")
                    || err.contains("finish it with --overwrite"),
                "{when}: resume failed for another reason:\n{err}"
            );
            assert_success(&fixture.train(&["--overwrite"]));
        }
    }
    let metrics = read_json(&fixture.artifacts().join("metrics.json"));
    assert_eq!(metrics["epochs"], 4, "{when}");
    assert_eq!(epochs(&metrics["history"]).len(), 4, "{when}");
}

#[test]
fn a_kill_at_any_moment_of_training_resume_or_overwrite_leaves_a_run_to_continue() {
    // Training: before the first checkpoint, during and between epochs.
    for ms in [40, 700, 2_600] {
        let fixture = slow_fixture();
        kill_after(&fixture, &[], Duration::from_millis(ms));
        continue_after_kill(&fixture, &format!("training killed after {ms} ms"));
    }
    // Resume: while it checks the checkpoint, discards later epochs, or trains.
    for ms in [5, 60, 900] {
        let fixture = slow_fixture();
        let mut first = start_and_wait_for_checkpoint(&fixture);
        first.kill().unwrap();
        first.wait().unwrap();
        kill_after(&fixture, &["--resume"], Duration::from_millis(ms));
        continue_after_kill(&fixture, &format!("resume killed after {ms} ms"));
    }
    // Overwrite: while it removes the earlier run, or once the new one has started.
    for ms in [5, 40, 300] {
        let fixture = slow_fixture();
        assert_success(&fixture.train(&["--epochs", "2"]));
        kill_after(&fixture, &["--overwrite"], Duration::from_millis(ms));
        continue_after_kill(&fixture, &format!("overwrite killed after {ms} ms"));
    }
}
