//! The real thing: `configs/lenet.toml` on the real MNIST (fetched and verified by the data
//! crate), then `eval` and `predict` with the saved model, and every picture checked.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{assert_success, read_json, stderr, stdout};
use image::{Rgb, RgbImage};
use serde_json::Value;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The real data: a user's `MNIST_DATA_DIR` or cache is fine here, unlike in the fixture tests.
fn trainer() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trainer"))
}

#[test]
fn lenet_on_real_mnist_then_eval_and_predict() {
    let dir = tempfile::tempdir().unwrap();
    let artifacts = dir.path().join("lenet");
    let output = trainer()
        .arg("--config")
        .arg(workspace().join("configs/lenet.toml"))
        .arg("--artifacts")
        .arg(&artifacts)
        .output()
        .unwrap();
    assert_success(&output);
    let log = stdout(&output);
    assert_eq!(
        log.lines().filter(|l| l.starts_with("epoch ")).count(),
        4,
        "{log}"
    );

    let metrics = read_json(&artifacts.join("metrics.json"));
    let accuracy = metrics["test_accuracy"].as_f64().unwrap();
    assert!(
        accuracy >= 0.99,
        "configs/lenet.toml promises 99.0%, got {accuracy}"
    );
    assert_eq!(metrics["test_images"], 10_000);
    for key in [
        "per_class_accuracy",
        "wall_seconds",
        "train_images_per_sec",
        "backend",
        "epochs",
    ] {
        assert!(!metrics[key].is_null(), "metrics.json lacks {key}");
    }
    let confusion: Vec<Vec<u64>> =
        serde_json::from_value(metrics["confusion_matrix"].clone()).unwrap();
    assert_eq!(confusion.iter().flatten().sum::<u64>(), 10_000);
    let diagonal: u64 = (0..10).map(|i| confusion[i][i]).sum();
    assert!((diagonal as f64 / 10_000.0 - accuracy).abs() < 1e-12);

    for picture in [
        "curves.png",
        "samples.png",
        "filters.png",
        "feature_maps.png",
        "confusion.png",
        "mistakes.png",
    ] {
        assert_picture(&artifacts.join(picture));
    }
    let stats = std::fs::read_to_string(artifacts.join("parameters.txt")).unwrap();
    let conv = stats
        .lines()
        .find(|l| l.contains("convs.0.weight"))
        .unwrap_or_else(|| panic!("no first-conv row in {stats}"));
    assert!(
        !conv.trim_end().ends_with('-'),
        "gradient columns are filled: {conv}"
    );

    // `eval` reads only the model directory and agrees with training's own evaluation.
    let report = dir.path().join("eval");
    let output = trainer()
        .args(["eval", "--model"])
        .arg(&artifacts)
        .arg("--output")
        .arg(&report)
        .output()
        .unwrap();
    assert_success(&output);
    let eval = read_json(&report.join("eval.json"));
    // Batches of another size may round a near tie differently: allow two images in 10,000.
    let eval_accuracy = eval["accuracy"].as_f64().unwrap();
    assert!(
        (eval_accuracy - accuracy).abs() <= 2e-4,
        "{eval_accuracy} vs {accuracy}"
    );
    assert_picture(&report.join("confusion.png"));

    predict_drawn_digits(&artifacts, dir.path());
    onnx_export_agrees(&artifacts, dir.path());
}

/// The ONNX export in onnxruntime predicts every one of the 10,000 test images as `eval` does
/// (skipped without onnxruntime, unless MNIST_BURN_REQUIRE_ONNXRUNTIME is set).
fn onnx_export_agrees(model: &Path, dir: &Path) {
    let has_onnxruntime = Command::new("python3")
        .args(["-c", "import onnxruntime, numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_onnxruntime {
        assert!(
            std::env::var_os("MNIST_BURN_REQUIRE_ONNXRUNTIME").is_none(),
            "MNIST_BURN_REQUIRE_ONNXRUNTIME is set but python3 cannot import onnxruntime"
        );
        eprintln!("note: python3 cannot import onnxruntime; the ONNX export is not checked");
        return;
    }
    let probabilities = dir.join("test.csv");
    let onnx = dir.join("lenet.onnx");
    for args in [
        vec![
            "eval",
            "--model",
            model.to_str().unwrap(),
            "--output",
            dir.join("eval-csv").to_str().unwrap(),
            "--probabilities",
            probabilities.to_str().unwrap(),
        ],
        vec![
            "export",
            "--model",
            model.to_str().unwrap(),
            "--format",
            "onnx",
            "--output",
            onnx.to_str().unwrap(),
        ],
    ] {
        assert_success(&trainer().args(&args).output().unwrap());
    }
    // `fetch` lists the verified files: the test images are its fourth line.
    let fetched = trainer().arg("fetch").output().unwrap();
    assert_success(&fetched);
    let listing = stdout(&fetched);
    let images = listing
        .lines()
        .map(str::trim)
        .find(|l| l.ends_with("t10k-images-idx3-ubyte") || l.ends_with("t10k-images-idx3-ubyte.gz"))
        .unwrap_or_else(|| panic!("no test images in: {listing}"));
    let output = Command::new("python3")
        .arg(workspace().join("python/check_export.py"))
        .arg(&onnx)
        .args(["--images", images, "--limit", "10000", "--probabilities"])
        .arg(&probabilities)
        .output()
        .unwrap();
    let said = format!("{}{}", stdout(&output), stderr(&output));
    assert!(output.status.success(), "{said}");
    assert!(
        said.contains("10000 images") && said.contains(", 0 predictions differ"),
        "{said}"
    );
}

fn predict_drawn_digits(model: &Path, dir: &Path) {
    let one = dir.join("one.png");
    let seven = dir.join("seven.jpg");
    let large = dir.join("large-seven.png");
    let tiny = dir.join("tiny.png");
    let corrupt = dir.join("corrupt.png");
    // Dark ink on white paper, as a person draws: predict must invert, crop, scale and centre.
    draw(200, &[((100.0, 30.0), (100.0, 170.0))], 14.0)
        .save(&one)
        .unwrap();
    let seven_strokes = [
        ((40.0, 40.0), (160.0, 40.0)),
        ((160.0, 40.0), (85.0, 170.0)),
    ];
    draw(200, &seven_strokes, 14.0).save(&seven).unwrap();
    let scaled: Vec<_> = seven_strokes
        .iter()
        .map(|&((a, b), (c, d))| ((a * 20.0, b * 20.0), (c * 20.0, d * 20.0)))
        .collect();
    draw(4000, &scaled, 280.0).save(&large).unwrap();
    draw(1, &[], 1.0).save(&tiny).unwrap();
    std::fs::write(&corrupt, b"\x89PNG\r\n\x1a\n not really").unwrap();

    let output = trainer()
        .args(["predict", "--json", "--model"])
        .arg(model)
        .args([&one, &seven, &large])
        .output()
        .unwrap();
    assert_success(&output);
    let predictions: Vec<Value> = serde_json::from_str(&stdout(&output)).unwrap();
    let predicted: Vec<i64> = predictions
        .iter()
        .map(|p| p["predicted"].as_i64().unwrap())
        .collect();
    assert_eq!(predicted, [1, 7, 7], "{}", stdout(&output));
    assert_eq!(predictions[0]["top3"].as_array().unwrap().len(), 3);

    // A bad file is named, the good one still predicted, and the exit code says something failed.
    let output = trainer()
        .args(["predict", "--model"])
        .arg(model)
        .args([&corrupt, &one, &tiny])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("corrupt.png") && !err.contains("panicked"),
        "{err}"
    );
    assert!(
        err.contains("tiny.png"),
        "a 1x1 picture has no digit to read: {err}"
    );
    assert!(
        stdout(&output).contains("one.png: 1"),
        "{}",
        stdout(&output)
    );
}

/// A pen stroke from one point to another, in pixels.
type Stroke = ((f32, f32), (f32, f32));

/// A white canvas with thick black strokes.
fn draw(side: u32, strokes: &[Stroke], width: f32) -> RgbImage {
    let mut image = RgbImage::from_pixel(side, side, Rgb([255, 255, 255]));
    for &((x0, y0), (x1, y1)) in strokes {
        let steps = ((x1 - x0).hypot(y1 - y0) / (width / 4.0)).ceil().max(1.0) as usize;
        for s in 0..=steps {
            let t = s as f32 / steps as f32;
            let (cx, cy) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
            let r = width / 2.0;
            let (lo_x, hi_x) = ((cx - r).max(0.0) as u32, ((cx + r) as u32).min(side - 1));
            let (lo_y, hi_y) = ((cy - r).max(0.0) as u32, ((cy + r) as u32).min(side - 1));
            for y in lo_y..=hi_y {
                for x in lo_x..=hi_x {
                    if (x as f32 - cx).hypot(y as f32 - cy) <= r {
                        image.put_pixel(x, y, Rgb([20, 20, 20]));
                    }
                }
            }
        }
    }
    image
}

fn assert_picture(path: &Path) {
    let image = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_luma8();
    assert!(
        image.width() >= 100 && image.height() >= 100,
        "{} is tiny",
        path.display()
    );
    let pixels: Vec<f64> = image.pixels().map(|p| p.0[0] as f64).collect();
    let mean = pixels.iter().sum::<f64>() / pixels.len() as f64;
    let variance = pixels.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / pixels.len() as f64;
    assert!(variance > 0.0, "{} is blank", path.display());
}
