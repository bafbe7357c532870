//! `trainer export`: every network the configs can build goes to ONNX and to PyTorch-named
//! safetensors with its `FILE.toml`; the ONNX file gives this program's probabilities in
//! onnxruntime (`python/check_export.py`), and the safetensors file in PyTorch where it is
//! installed; nothing is replaced without `--force`.
//!
//! onnxruntime comes from PyPI (`.ci/run` installs it). Without it the ONNX check is skipped
//! with a note, unless MNIST_BURN_REQUIRE_ONNXRUNTIME=1 (as in CI), which makes it a failure.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Fixture, assert_clean_failure, assert_success, run, stdout, toy_items};

/// The fixture's MLP, and LeNets covering both activations, both pools, dropout and both
/// resizes.
const NETWORKS: [(&str, &str, &str); 3] = [
    ("mlp", "kind = \"mlp\"\nhidden = [32]", ""),
    (
        "lenet-pad",
        "kind = \"lenet\"\ninput_size = 32\nconv_channels = [4, 8]\nfc_hidden = [16]\nconv_activation = \"relu\"",
        "resize = \"pad32\"\n",
    ),
    (
        "lenet-tanh",
        "kind = \"lenet\"\npreset = \"mxnet-tanh\"\ninput_size = 32\nconv_channels = [4, 6]\nfc_hidden = [12]\npool = \"avg\"\nconv_dropout = [0.25, 0.0]\nfc_dropout = [0.5]",
        "resize = \"bilinear32\"\n",
    ),
];

/// Trains `network` on the fixture and returns it with its artifact directory.
fn trained(model: &str, data: &str) -> Fixture {
    let fixture = Fixture::new(300, "");
    let text = std::fs::read_to_string(&fixture.config).unwrap();
    let text = text
        .replace("kind = \"mlp\"\nhidden = [32]", model)
        .replace("[data]\n", &format!("[data]\n{data}"));
    std::fs::write(&fixture.config, text).unwrap();
    assert_success(&fixture.train(&["--backend", "flex"]));
    fixture
}

fn python_has(modules: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `python/check_export.py` on `file` against `trainer eval --probabilities`.
fn check_with_python(fixture: &Fixture, file: &Path) {
    let dir = fixture.dir.path();
    let images: Vec<[u8; 784]> = toy_items(200, 1_000_000).iter().map(|i| i.image).collect();
    let idx = dir.join("test-images-idx3-ubyte");
    std::fs::write(&idx, data::encode_idx_images(&images)).unwrap();
    let probabilities = dir.join("probabilities.csv");
    if !probabilities.exists() {
        let artifacts = fixture.artifacts();
        assert_success(&run(&[
            "eval",
            "--model",
            artifacts.to_str().unwrap(),
            "--output",
            dir.join("eval").to_str().unwrap(),
            "--probabilities",
            probabilities.to_str().unwrap(),
            "--backend",
            "flex",
        ]));
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../python/check_export.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(file)
        .arg("--images")
        .arg(&idx)
        .arg("--probabilities")
        .arg(&probabilities)
        .output()
        .expect("python3 runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{}: {said}", file.display());
    assert!(
        said.contains("200 images") && said.contains(", 0 predictions differ"),
        "{said}"
    );
}

/// Tensor names and shapes in a safetensors file's header.
fn safetensors_shapes(path: &Path) -> Vec<(String, Vec<u64>)> {
    let bytes = std::fs::read(path).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    let mut out: Vec<(String, Vec<u64>)> = header
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| *name != "__metadata__")
        .map(|(name, t)| {
            assert_eq!(t["dtype"], "F32", "{name}");
            let shape = t["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap());
            (name.clone(), shape.collect())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_network_exports_and_matches_in_other_runtimes() {
    let onnxruntime = python_has("onnxruntime, numpy");
    let torch = python_has("torch, safetensors, numpy");
    if !onnxruntime {
        assert!(
            std::env::var_os("MNIST_BURN_REQUIRE_ONNXRUNTIME").is_none(),
            "MNIST_BURN_REQUIRE_ONNXRUNTIME is set but python3 cannot import onnxruntime and numpy"
        );
        eprintln!("note: python3 cannot import onnxruntime; the ONNX files are not run");
    }
    for (name, model, data) in NETWORKS {
        let fixture = trained(model, data);
        let artifacts = fixture.artifacts();
        for format in ["onnx", "safetensors"] {
            let file = fixture.dir.path().join(format!("{name}.{format}"));
            let output = run(&[
                "export",
                "--model",
                artifacts.to_str().unwrap(),
                "--format",
                format,
                "--output",
                file.to_str().unwrap(),
            ]);
            assert_success(&output);
            assert!(stdout(&output).contains(&format!("{name}.{format}.toml")));
            let contract = std::fs::read_to_string(format!("{}.toml", file.display())).unwrap();
            assert!(
                contract.contains(&format!("format = \"{format}\"")),
                "{contract}"
            );
            if format == "onnx" && onnxruntime || format == "safetensors" && torch {
                check_with_python(&fixture, &file);
            }
        }
        // PyTorch's names and layouts: Linear weights [out, in].
        let shapes = safetensors_shapes(&fixture.dir.path().join(format!("{name}.safetensors")));
        let expected: Vec<(String, Vec<u64>)> = match name {
            "mlp" => vec![
                ("layers.0.bias".into(), vec![32]),
                ("layers.0.weight".into(), vec![32, 784]),
                ("layers.1.bias".into(), vec![10]),
                ("layers.1.weight".into(), vec![10, 32]),
            ],
            "lenet-pad" => vec![
                ("convs.0.bias".into(), vec![4]),
                ("convs.0.weight".into(), vec![4, 1, 5, 5]),
                ("convs.1.bias".into(), vec![8]),
                ("convs.1.weight".into(), vec![8, 4, 5, 5]),
                ("fcs.0.bias".into(), vec![16]),
                ("fcs.0.weight".into(), vec![16, 200]),
                ("fcs.1.bias".into(), vec![10]),
                ("fcs.1.weight".into(), vec![10, 16]),
            ],
            _ => continue,
        };
        assert_eq!(shapes, expected, "{name}");
    }
}

#[test]
fn an_export_never_replaces_a_file_without_force() {
    let fixture = trained(NETWORKS[0].1, NETWORKS[0].2);
    let artifacts = fixture.artifacts();
    let file = fixture.dir.path().join("mine.onnx");
    std::fs::write(&file, "a file of the user's").unwrap();
    let export = |extra: &[&str]| {
        let mut args = vec![
            "export",
            "--model",
            artifacts.to_str().unwrap(),
            "--format",
            "onnx",
            "--output",
            file.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    assert_clean_failure(&export(&[]), &["mine.onnx", "--force"]);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "a file of the user's"
    );
    assert!(!fixture.dir.path().join("mine.onnx.toml").exists());

    // Its FILE.toml counts too.
    std::fs::remove_file(&file).unwrap();
    std::fs::write(fixture.dir.path().join("mine.onnx.toml"), "mine").unwrap();
    assert_clean_failure(&export(&[]), &["mine.onnx.toml", "--force"]);
    assert!(!file.exists());

    assert_success(&export(&["--force"]));
    assert!(std::fs::read(&file).unwrap().len() > 1000);

    // A directory is never replaced, --force or not.
    let dir_output = fixture.dir.path().join("folder");
    std::fs::create_dir(&dir_output).unwrap();
    let output = run(&[
        "export",
        "--model",
        artifacts.to_str().unwrap(),
        "--format",
        "safetensors",
        "--output",
        dir_output.to_str().unwrap(),
        "--force",
    ]);
    assert_clean_failure(&output, &["folder", "is a directory"]);
}

#[test]
fn a_broken_model_directory_is_named() {
    let fixture = trained(NETWORKS[0].1, NETWORKS[0].2);
    let artifacts = fixture.artifacts();
    let weights = artifacts.join("model.bpk");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let file = fixture.dir.path().join("m.onnx");
    let output = run(&[
        "export",
        "--model",
        artifacts.to_str().unwrap(),
        "--format",
        "onnx",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert_clean_failure(&output, &["model.bpk"]);
    assert!(!file.exists());
}

/// The network of `tests/fixtures/torch-lenet.*` (`python/make_init_fixture.py`).
const TORCH_LENET: &str =
    "kind = \"lenet\"\nconv_channels = [4, 8]\nfc_hidden = [16]\nconv_activation = \"relu\"";

/// Trains one epoch of `model` from `init` and exports the result to safetensors.
fn continue_from(model: &str, init: &Path) -> Result<(), std::process::Output> {
    let fixture = Fixture::new(300, "");
    let text = std::fs::read_to_string(&fixture.config)
        .unwrap()
        .replace("kind = \"mlp\"\nhidden = [32]", model);
    std::fs::write(&fixture.config, text).unwrap();
    let output = fixture.train(&[
        "--backend",
        "flex",
        "--epochs",
        "1",
        "--init-from",
        init.to_str().unwrap(),
    ]);
    if !output.status.success() {
        return Err(output);
    }
    let file = fixture.dir.path().join("out.safetensors");
    let artifacts = fixture.artifacts();
    assert_success(&run(&[
        "export",
        "--model",
        artifacts.to_str().unwrap(),
        "--format",
        "safetensors",
        "--output",
        file.to_str().unwrap(),
    ]));
    assert!(std::fs::metadata(file).unwrap().len() > 1000);
    Ok(())
}

#[test]
fn training_continues_from_weights_pytorch_saved() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let pth = fixtures.join("torch-lenet.pth");
    // The mapping itself is checked tensor by tensor in crates/model/tests/pytorch.rs.
    for init in [&pth, &fixtures.join("torch-lenet.safetensors")] {
        continue_from(TORCH_LENET, init).unwrap_or_else(|o| panic!("{}", common::stderr(&o)));
    }

    // Another network: every mis-shaped tensor named, nothing trained.
    let other = TORCH_LENET.replace("[4, 8]", "[4, 6]");
    let output = continue_from(&other, &pth).expect_err("a .pth of another network is refused");
    assert_clean_failure(
        &output,
        &["torch-lenet.pth", "convs.1.weight", "fcs.0.weight"],
    );

    // Damaged and oversized files are named, and the oversized one is not read.
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(&pth).unwrap();
    let truncated = dir.path().join("truncated.pth");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let output = continue_from(TORCH_LENET, &truncated).expect_err("a truncated .pth is refused");
    assert_clean_failure(&output, &["truncated.pth"]);
    let huge = dir.path().join("huge.safetensors");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(1 << 40)
        .unwrap();
    let output = continue_from(TORCH_LENET, &huge).expect_err("a 1 TiB file is refused");
    assert_clean_failure(&output, &["huge.safetensors", "more than any weights file"]);
}
