//! Resume that is exact: a run interrupted and resumed (at an epoch's end, or mid-epoch with
//! `checkpoint.every_batches`) ends with the same weights, bit for bit, as one that ran straight
//! through; and its per-epoch numbers are the same. Same backend (flex), same machine, same
//! thread count: see the README for what is and is not guaranteed.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use burn::tensor::Bytes;
use common::{Fixture, assert_success, read_json};
use serde_json::Value;

/// The weight payloads of a model file, by tensor name (the parameter ids differ between runs).
fn weights(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let bytes = Bytes::from_bytes_vec(std::fs::read(path).unwrap());
    burn_pack::Reader::from_bytes(bytes)
        .unwrap()
        .into_tensors()
        .unwrap()
        .into_iter()
        .map(|t| {
            let name = t.name.clone();
            (name, t.into_bytes().unwrap().to_vec())
        })
        .collect()
}

fn final_weights(fixture: &Fixture) -> BTreeMap<String, Vec<u8>> {
    weights(&fixture.artifacts().join("model.bpk"))
}

/// The per-epoch losses, accuracies and learning rates (not the timings).
fn numbers(fixture: &Fixture) -> Vec<Value> {
    let history = read_json(&fixture.artifacts().join("history.json"));
    history["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            serde_json::json!([
                e["epoch"],
                e["train_loss"],
                e["train_accuracy"],
                e["valid_loss"],
                e["valid_accuracy"],
                e["lr"]
            ])
        })
        .collect()
}

fn fixture(model: &str, extra: &str) -> Fixture {
    let fixture = Fixture::new(1_000, extra);
    let text = std::fs::read_to_string(&fixture.config)
        .unwrap()
        .replace("kind = \"mlp\"\nhidden = [32]", model)
        .replace("epochs = 2", "epochs = 4");
    std::fs::write(&fixture.config, text).unwrap();
    fixture
}

#[test]
fn two_epochs_and_a_resume_equal_four_straight_epochs() {
    for model in [
        "kind = \"mlp\"\nhidden = [32]",
        // Dropout draws random masks every step: they must be the same after the resume.
        "kind = \"mlp\"\nhidden = [32, 16]\ndropout = 0.3",
    ] {
        let straight = fixture(model, "");
        assert_success(&straight.train(&[]));
        let resumed = fixture(model, "");
        assert_success(&resumed.train(&["--epochs", "2"]));
        assert_success(&resumed.train(&["--resume", "--epochs", "4"]));
        assert!(
            final_weights(&straight) == final_weights(&resumed),
            "{model}: the weights differ"
        );
        assert_eq!(numbers(&straight), numbers(&resumed), "{model}");
        assert_eq!(numbers(&resumed).len(), 4);
        // Burn's own metric logs hold each epoch once.
        for split in ["train", "valid"] {
            let mut epochs: Vec<String> = std::fs::read_dir(resumed.artifacts().join(split))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            epochs.sort();
            assert_eq!(epochs, ["epoch-1", "epoch-2", "epoch-3", "epoch-4"]);
        }
    }
}

#[test]
fn the_seed_alone_decides_the_weights() {
    let model = "kind = \"mlp\"\nhidden = [32]";
    let a = fixture(model, "");
    let b = fixture(model, "");
    let c = fixture(model, "");
    assert_success(&a.train(&["--epochs", "1"]));
    assert_success(&b.train(&["--epochs", "1"]));
    assert_success(&c.train(&["--epochs", "1", "--seed", "43"]));
    assert!(
        final_weights(&a) == final_weights(&b),
        "same seed, same weights"
    );
    assert!(
        final_weights(&a) != final_weights(&c),
        "another seed, other weights"
    );
}

/// The Caffe2 LeNet with dropout on 3,000 images: epochs of about a second, long enough to kill
/// in the middle of.
fn slow(extra: &str) -> Fixture {
    let fixture = Fixture::new(3_000, extra);
    let text = std::fs::read_to_string(&fixture.config)
        .unwrap()
        .replace(
            "kind = \"mlp\"\nhidden = [32]",
            "kind = \"lenet\"\nfc_dropout = [0.2]",
        )
        .replace("epochs = 2", "epochs = 4")
        .replace("lr = 0.1", "lr = 0.01");
    std::fs::write(&fixture.config, text).unwrap();
    fixture
}

/// Starts training and SIGKILLs it as soon as `file` (relative to the artifacts) exists.
fn kill_when(fixture: &Fixture, file: &dyn Fn(&Path) -> bool) {
    let artifacts = fixture.artifacts();
    let mut child = common::trainer()
        .args(["--config", fixture.config.to_str().unwrap()])
        .args(["--artifacts", artifacts.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !file(&artifacts) {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "never got there"
        );
        assert!(child.try_wait().unwrap().is_none(), "training ended first");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_run_killed_in_epoch_3_resumes_to_the_same_weights() {
    let straight = slow("[checkpoint]\nevery_batches = 20\n");
    assert_success(&straight.train(&[]));

    // Killed in epoch 3, resumed from the end of epoch 2.
    let killed = slow("");
    kill_when(&killed, &|a| a.join("checkpoint/scheduler-2.bpk").exists());
    assert_success(&killed.train(&["--resume"]));
    assert!(final_weights(&straight) == final_weights(&killed));

    // Killed mid-epoch 3, resumed from its mid-epoch checkpoint: at most 20 batches lost.
    let mid = slow("[checkpoint]\nevery_batches = 20\n");
    kill_when(&mid, &|a| {
        std::fs::read_dir(a.join("checkpoint")).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("scheduler-3-"))
        })
    });
    let output = mid.train(&["--resume"]);
    assert_success(&output);
    assert!(
        common::stdout(&output).contains("epoch 3, batch"),
        "{}",
        common::stdout(&output)
    );
    assert!(final_weights(&straight) == final_weights(&mid));
    // A finished run keeps no mid-epoch checkpoint.
    let left: Vec<String> = std::fs::read_dir(mid.artifacts().join("checkpoint"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.iter().all(|n| n.matches('-').count() == 1), "{left:?}");
}
