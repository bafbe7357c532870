//! What the seed tutorials' readers do: run every tutorial and get the table, continue training
//! from saved weights, watch progress lines, evaluate on the training and the test data a model
//! was trained on, and read all ten probabilities.

mod common;

use std::path::Path;

use common::{Fixture, assert_clean_failure, assert_success, stdout};

#[test]
fn the_tutorials_command_prints_the_table_from_the_runs() {
    let a = Fixture::new(300, "");
    let b = Fixture::new(300, "");
    let dir = a.dir.path();
    let list = dir.join("tutorials.toml");
    std::fs::write(
        &list,
        format!(
            "[[tutorial]]\nconfig = \"{}\"\nname = \"Fixture A\"\npublished = \"90% test\"\nruns = 2\n\n\
             [[tutorial]]\nconfig = \"{}\"\nname = \"Fixture B\"\npublished = \"80% train, 70% test\"\n",
            a.config.display(),
            b.config.display()
        ),
    )
    .unwrap();
    // The configs write where their [output] dir says, here inside the fixtures.
    for f in [&a, &b] {
        let text = std::fs::read_to_string(&f.config).unwrap();
        let out = f.artifacts();
        std::fs::write(
            &f.config,
            format!("{text}\n[output]\ndir = \"{}\"\n", out.display()),
        )
        .unwrap();
    }
    let output = common::run(&["tutorials", "--list", list.to_str().unwrap()]);
    assert_success(&output);
    let text = stdout(&output);
    let table: Vec<&str> = text.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(table.len(), 4, "{text}");
    assert!(
        table[2].starts_with("| Fixture A") && table[2].contains("% test (mean of 2;"),
        "{}",
        table[2]
    );
    assert!(
        table[3].contains("% train, ") && table[3].contains("% test |"),
        "{}",
        table[3]
    );
    // Two seeds of A, one run of B, each with its metrics.
    assert!(
        a.artifacts()
            .with_file_name("artifacts-seed-42")
            .join("metrics.json")
            .is_file()
    );
    assert!(
        a.artifacts()
            .with_file_name("artifacts-seed-43")
            .join("metrics.json")
            .is_file()
    );
    assert!(b.artifacts().join("metrics.json").is_file());

    // The table again, from the runs on disk: the same rows.
    let again = common::run(&[
        "tutorials",
        "--list",
        list.to_str().unwrap(),
        "--table-only",
    ]);
    assert_success(&again);
    let rows = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.starts_with("| Fixture"))
            .map(|l| l.rsplitn(3, '|').nth(2).unwrap().to_string())
            .collect()
    };
    assert_eq!(rows(&stdout(&again)), rows(&text));
}

#[test]
fn a_new_run_can_start_from_saved_weights() {
    let first = Fixture::new(400, "");
    assert_success(&first.train(&[]));

    // From the model directory, and from a checkpoint: a new run, starting already trained.
    let second = Fixture::new(400, "");
    let from = first.artifacts();
    let checkpoint = from.join("checkpoint/model-2.bpk");
    for source in [&from, &checkpoint] {
        let output = second.train(&[
            "--init-from",
            source.to_str().unwrap(),
            "--overwrite",
            "--epochs",
            "1",
        ]);
        assert_success(&output);
        let metrics = common::read_json(&second.artifacts().join("metrics.json"));
        assert_eq!(metrics["epochs"], 1);
        let run = common::read_json(&second.artifacts().join("run.json"));
        assert_eq!(run["init_from"], source.to_str().unwrap());
        // Trained weights from the start: the first epoch's training accuracy is already high.
        let first_epoch = &metrics["history"]["epochs"][0];
        assert!(
            first_epoch["train_accuracy"].as_f64().unwrap() > 0.9,
            "{metrics}"
        );
    }

    // Another network's weights are refused, naming what differs.
    let other = Fixture::new(400, "");
    let text = std::fs::read_to_string(&other.config)
        .unwrap()
        .replace("hidden = [32]", "hidden = [16]");
    std::fs::write(&other.config, text).unwrap();
    let output = other.train(&["--init-from", from.to_str().unwrap()]);
    assert_clean_failure(&output, &["model.toml", "hidden", "config asks for"]);
    let output = other.train(&["--init-from", checkpoint.to_str().unwrap()]);
    assert_clean_failure(&output, &["model-2.bpk", "shape"]);
    assert!(
        !other.artifacts().join("trainer-manifest.json").exists(),
        "nothing written"
    );

    // --resume continues a run; --init-from starts one: together they are a usage error.
    let output = first.train(&["--resume", "--init-from", from.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn progress_lines_every_n_batches_with_images_per_second() {
    let fixture = Fixture::new(400, "[output]\nlog_every = 3\n");
    let output = fixture.train(&["--epochs", "1"]);
    assert_success(&output);
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("  batch ")).collect();
    // 300 training images in batches of 32: 10 batches, a line after batches 3, 6 and 9.
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("epoch 1/1  batch 3/10  loss "),
        "{}",
        lines[0]
    );
    assert!(lines.iter().all(|l| l.ends_with(" images/s")), "{text}");
    let epoch = text.lines().find(|l| l.contains("valid loss")).unwrap();
    assert!(epoch.ends_with(" images/s"), "{epoch}");
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn eval_uses_the_data_the_model_was_trained_on() {
    let fixture = Fixture::new(300, "");
    assert_success(&fixture.train(&["--epochs", "1"]));
    let model = fixture.artifacts();
    let probabilities = fixture.dir.path().join("probabilities.csv");
    for (split, images, report) in [
        ("test", 200, "report.txt"),
        ("train", 200, "report-train.txt"),
    ] {
        let output = common::trainer()
            .args(["eval", "--split", split, "--model"])
            .arg(&model)
            .arg("--probabilities")
            .arg(&probabilities)
            .output()
            .unwrap();
        assert_success(&output);
        let text = std::fs::read_to_string(model.join(report)).unwrap();
        assert!(
            text.contains(&format!("{images} images")),
            "{split}: {text}"
        );
        let rows = csv_rows(&probabilities);
        assert_eq!(rows.len(), images + 1, "a header and a row per image");
        assert_eq!(rows[0][..3], ["index", "label", "predicted"]);
        assert_eq!(rows[1].len(), 13);
        let sum: f64 = rows[1][3..].iter().map(|p| p.parse::<f64>().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-4, "{sum}");
    }
    let metrics = common::read_json(&model.join("metrics.json"));
    assert!(metrics["train_accuracy"].as_f64().unwrap() > 0.0);
}

#[test]
fn predict_raw_digits_and_all_probabilities() {
    let fixture = Fixture::new(300, "");
    assert_success(&fixture.train(&["--epochs", "1"]));
    // A fixture digit, saved as the 28x28 picture it is.
    let item = common::toy_item(3, 7);
    let raw = fixture.dir.path().join("three.png");
    image::GrayImage::from_raw(28, 28, item.image.to_vec())
        .unwrap()
        .save(&raw)
        .unwrap();
    let probabilities = fixture.dir.path().join("p.csv");
    let output = common::trainer()
        .args(["predict", "--raw", "--model"])
        .arg(fixture.artifacts())
        .arg(&raw)
        .arg("--probabilities")
        .arg(&probabilities)
        .output()
        .unwrap();
    assert_success(&output);
    assert!(
        stdout(&output).contains("three.png: 3"),
        "{}",
        stdout(&output)
    );
    let rows = csv_rows(&probabilities);
    assert_eq!(rows[0][..3], ["file", "label", "predicted"]);
    assert_eq!(rows[1][2], "3");

    // --raw takes 28x28 digits only.
    let big = fixture.dir.path().join("big.png");
    image::GrayImage::new(40, 40).save(&big).unwrap();
    let output = common::trainer()
        .args(["predict", "--raw", "--model"])
        .arg(fixture.artifacts())
        .arg(&big)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(common::stderr(&output).contains("must be 28x28"));
}
