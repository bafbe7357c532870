//! The hostile user: damaged, truncated, swapped and oversized inputs, folders the program did
//! not create, and commands that must not destroy anything. Every case asserts the exit code, a
//! one-line error naming the culprit, no panic text, and that every file present before the
//! command is still there byte for byte unless the command was meant to replace it.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::tensor::Bytes;
use common::{Fixture, assert_clean_failure, assert_success, assert_unchanged, snapshot};

/// A trained 2-epoch run (checkpoints 1 and 2 kept), on fixture data.
fn trained(extra_config: &str) -> Fixture {
    let fixture = Fixture::new(300, &format!("[checkpoint]\nkeep = 3\n{extra_config}"));
    assert_success(&fixture.train(&[]));
    fixture
}

fn checkpoint(fixture: &Fixture, part: &str, epoch: usize) -> PathBuf {
    fixture
        .artifacts()
        .join("checkpoint")
        .join(format!("{part}-{epoch}.bpk"))
}

/// Rewrites a burnpack file, letting `edit` change its tensors and scalars.
fn rewrite_pack(
    path: &Path,
    edit: impl FnOnce(&mut Vec<burn_pack::Tensor>, &mut BTreeMap<String, burn_pack::Scalar>),
) {
    let reader =
        burn_pack::Reader::from_bytes(Bytes::from_bytes_vec(std::fs::read(path).unwrap())).unwrap();
    let mut scalars = reader.scalars().clone();
    let metadata = reader.metadata().clone();
    let mut tensors = reader.into_tensors().unwrap();
    edit(&mut tensors, &mut scalars);
    let mut writer = burn_pack::Writer::new(tensors);
    for (key, value) in scalars {
        writer = writer.with_scalar(&key, value);
    }
    for (key, value) in metadata {
        writer = writer.with_metadata(&key, &value);
    }
    std::fs::write(path, &*writer.into_bytes().unwrap()).unwrap();
}

#[test]
fn resume_refuses_a_damaged_checkpoint_before_touching_anything() {
    let fixture = trained("");
    type Damage = Box<dyn Fn(&Fixture)>;
    let cases: Vec<(&str, &str, Damage)> = vec![
        (
            "truncated model",
            "model-2.bpk",
            Box::new(|f| {
                let path = checkpoint(f, "model", 2);
                let bytes = std::fs::read(&path).unwrap();
                std::fs::write(&path, &bytes[..bytes.len() / 3]).unwrap();
            }),
        ),
        (
            "empty optimizer state",
            "optim-2.bpk",
            Box::new(|f| std::fs::write(checkpoint(f, "optim", 2), b"").unwrap()),
        ),
        (
            "garbage schedule",
            "scheduler-2.bpk",
            Box::new(|f| {
                std::fs::write(checkpoint(f, "scheduler", 2), b"NRUB\x01\x00garbage").unwrap()
            }),
        ),
        (
            "momentum of the wrong shape",
            "optim-2.bpk",
            Box::new(|f| {
                rewrite_pack(&checkpoint(f, "optim", 2), |tensors, _| {
                    let (name, dtype, _, id, _) = tensors[0].clone().into_parts().unwrap();
                    tensors[0] = burn_pack::Tensor::new(
                        name,
                        dtype,
                        [2, 2],
                        id,
                        Bytes::from_bytes_vec(vec![0; 16]),
                    );
                })
            }),
        ),
        (
            "a schedule rewound to a negative iteration",
            "scheduler-2.bpk",
            Box::new(|f| {
                rewrite_pack(&checkpoint(f, "scheduler", 2), |_, scalars| {
                    scalars.insert("0.iter_idx".into(), burn_pack::Scalar::Int(-5));
                })
            }),
        ),
        (
            "a tensor relabelled as another dtype",
            "model-2.bpk",
            Box::new(|f| {
                rewrite_pack(&checkpoint(f, "model", 2), |tensors, _| {
                    tensors[0].dtype = burn::tensor::DType::I32;
                })
            }),
        ),
        (
            "another architecture's checkpoint",
            "model-2.bpk",
            Box::new(|f| {
                let other = trained("");
                let text = std::fs::read_to_string(&other.config)
                    .unwrap()
                    .replace("hidden = [32]", "hidden = [16]");
                std::fs::write(&other.config, text).unwrap();
                assert_success(&other.train(&["--overwrite"]));
                std::fs::copy(checkpoint(&other, "model", 2), checkpoint(f, "model", 2)).unwrap();
            }),
        ),
    ];
    let pristine = snapshot(&fixture.artifacts());
    for (what, file, damage) in cases {
        for (path, bytes) in &pristine {
            std::fs::write(path, bytes).unwrap();
        }
        damage(&fixture);
        let before = snapshot(&fixture.artifacts());
        let output = fixture.train(&["--resume", "--epochs", "3"]);
        assert_clean_failure(&output, &[file]);
        assert_unchanged(&before, &fixture.artifacts());
        eprintln!("ok: {what}");
    }
}

#[test]
fn resume_checks_the_data_and_the_chosen_checkpoint_before_deleting_later_ones() {
    let fixture = trained("");
    assert_success(&fixture.train(&["--resume", "--epochs", "3"]));
    // Resuming from 1 would discard 2 and 3, but checkpoint 1 is damaged: nothing goes.
    std::fs::write(checkpoint(&fixture, "model", 1), b"damaged").unwrap();
    let before = snapshot(&fixture.artifacts());
    assert_clean_failure(
        &fixture.train(&["--resume", "1", "--epochs", "3"]),
        &["model-1.bpk"],
    );
    assert_unchanged(&before, &fixture.artifacts());

    // A typo in the data path: the data is opened before anything is deleted.
    let text = std::fs::read_to_string(&fixture.config)
        .unwrap()
        .replace("train.tsv", "trian.tsv");
    std::fs::write(&fixture.config, text).unwrap();
    assert_clean_failure(
        &fixture.train(&["--resume", "2", "--epochs", "3"]),
        &["trian.tsv"],
    );
    assert_unchanged(&before, &fixture.artifacts());
}

#[test]
fn overwrite_removes_only_what_this_program_wrote() {
    let fixture = trained("");
    let artifacts = fixture.artifacts();
    let mine = [
        artifacts.join("notes.txt"),
        artifacts.join("checkpoint/README.md"),
        artifacts.join("plots/keep.png"),
    ];
    for path in &mine {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"the user's").unwrap();
    }

    // A typo costs nothing: config and data are checked before anything is removed.
    let good = std::fs::read_to_string(&fixture.config).unwrap();
    std::fs::write(&fixture.config, good.replace("test.tsv", "tset.tsv")).unwrap();
    let before = snapshot(&artifacts);
    assert_clean_failure(&fixture.train(&["--overwrite"]), &["tset.tsv"]);
    assert_unchanged(&before, &artifacts);

    std::fs::write(&fixture.config, good).unwrap();
    let output = fixture.train(&["--overwrite", "--epochs", "1"]);
    assert_success(&output);
    for path in &mine {
        assert_eq!(
            std::fs::read(path).unwrap(),
            b"the user's",
            "{}",
            path.display()
        );
    }
    assert!(
        !checkpoint(&fixture, "model", 2).exists(),
        "the old run's checkpoints are gone"
    );
    assert!(checkpoint(&fixture, "model", 1).exists());
    assert!(
        common::stderr(&output).contains("README.md"),
        "the user is told what was left"
    );
}

#[test]
fn a_directory_holding_the_users_files_is_not_written_into() {
    let fixture = Fixture::new(200, "");
    let artifacts = fixture.artifacts();
    std::fs::create_dir_all(artifacts.join("train")).unwrap();
    std::fs::write(artifacts.join("config.toml"), b"# my own config").unwrap();
    std::fs::write(artifacts.join("train/data.csv"), b"1,2,3").unwrap();
    let before = snapshot(&artifacts);
    for flags in [&[][..], &["--overwrite"][..]] {
        let output = fixture.train(flags);
        assert_clean_failure(&output, &["did not write", "config.toml"]);
        assert_unchanged(&before, &artifacts);
    }
}

#[test]
fn artifacts_that_are_a_file_or_an_empty_path_are_named() {
    let fixture = Fixture::new(200, "");
    let file = fixture.dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let output = common::run(&[
        "--config",
        fixture.config.to_str().unwrap(),
        "--artifacts",
        file.to_str().unwrap(),
    ]);
    assert_clean_failure(&output, &["a-file", "not a directory"]);
    assert_eq!(std::fs::read(&file).unwrap(), b"x");

    let empty = Fixture::new(200, "[output]\ndir = \"\"\n");
    let output = common::run(&["--config", empty.config.to_str().unwrap()]);
    assert_clean_failure(&output, &["output.dir"]);
}

#[test]
fn a_diverging_run_says_so_and_its_history_survives_a_resume() {
    let diverging = Fixture::new(300, "");
    let text = std::fs::read_to_string(&diverging.config)
        .unwrap()
        .replace("lr = 0.1", "lr = 1e12");
    std::fs::write(&diverging.config, text).unwrap();
    assert_clean_failure(&diverging.train(&[]), &["diverged in epoch 1"]);

    // A NaN recorded in an earlier epoch reads back after a resume, as NaN.
    let fixture = trained("");
    let history = fixture.artifacts().join("history.json");
    let text = std::fs::read_to_string(&history).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["epochs"][0]["valid_loss"] = "NaN".into();
    std::fs::write(&history, value.to_string()).unwrap();
    assert_success(&fixture.train(&["--resume", "--epochs", "3"]));
    let metrics = common::read_json(&fixture.artifacts().join("metrics.json"));
    let epochs = metrics["history"]["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 3);
    assert_eq!(epochs[0]["valid_loss"], "NaN");
}

#[test]
fn training_on_nan_goes_on_when_asked_and_the_history_keeps_it() {
    let fixture = Fixture::new(300, "");
    let text = std::fs::read_to_string(&fixture.config)
        .unwrap()
        .replace("lr = 0.1", "lr = 1e12")
        .replace("[training]", "[training]\nstop_on_nan = false");
    std::fs::write(&fixture.config, text).unwrap();
    assert_success(&fixture.train(&[]));
    let history = std::fs::read_to_string(fixture.artifacts().join("history.json")).unwrap();
    assert!(history.contains("\"NaN\""), "{history}");
}

#[test]
fn sizes_that_cannot_fit_are_refused_from_the_config() {
    let cases: [(&[(&str, &str)], &str); 3] = [
        (
            &[("batch_size = 32", "batch_size = 1000000000")],
            "training.batch_size",
        ),
        (&[("hidden = [32]", "hidden = [1000000000]")], "hidden[0]"),
        // Within the hard cap, but a LeNet step on a million images needs hundreds of GiB.
        (
            &[
                ("kind = \"mlp\"\nhidden = [32]", "kind = \"lenet\""),
                ("batch_size = 32", "batch_size = 1000000"),
            ],
            "batches of up to",
        ),
    ];
    for (edits, needle) in cases {
        let fixture = Fixture::new(200, "");
        let mut text = std::fs::read_to_string(&fixture.config).unwrap();
        for (from, to) in edits {
            text = text.replace(from, to);
        }
        std::fs::write(&fixture.config, text).unwrap();
        assert_clean_failure(&fixture.train(&[]), &[needle]);
        assert!(!fixture.artifacts().exists(), "{edits:?}: nothing written");
    }
}

/// A trained model directory to predict with.
fn model_dir() -> Fixture {
    let fixture = Fixture::new(300, "");
    assert_success(&fixture.train(&["--epochs", "1"]));
    fixture
}

fn predict(model: &Path, images: &[&Path]) -> std::process::Output {
    let mut command = common::trainer();
    command.args(["predict", "--model"]).arg(model).args(images);
    command.output().unwrap()
}

fn digit_png(path: &Path) {
    let mut img = image::GrayImage::from_pixel(40, 40, image::Luma([255]));
    for y in 8..32 {
        img.put_pixel(20, y, image::Luma([0]));
    }
    img.save(path).unwrap();
}

#[test]
fn damaged_or_mismatched_model_directories_are_named() {
    let fixture = model_dir();
    let model = fixture.artifacts();
    let digit = fixture.dir.path().join("digit.png");
    digit_png(&digit);
    let pristine = snapshot(&model);
    let restore = || {
        for (path, bytes) in &pristine {
            std::fs::write(path, bytes).unwrap();
        }
    };

    // input.toml asks for 32x32 images; model.toml is a 28x28 network.
    let input = model.join("input.toml");
    let text = std::fs::read_to_string(&input)
        .unwrap()
        .replace("resize = \"none\"", "resize = \"pad32\"");
    std::fs::write(&input, text).unwrap();
    assert_clean_failure(&predict(&model, &[&digit]), &["input.toml", "model.toml"]);
    restore();

    // A hidden width of 10^9 in an edited model.toml.
    let config = model.join("model.toml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("hidden = [32]", "hidden = [1000000000]");
    std::fs::write(&config, text).unwrap();
    assert_clean_failure(&predict(&model, &[&digit]), &["model.toml", "hidden[0]"]);
    restore();

    // A tensor relabelled as another dtype.
    rewrite_pack(&model.join("model.bpk"), |tensors, _| {
        tensors[1].dtype = burn::tensor::DType::I32;
    });
    assert_clean_failure(&predict(&model, &[&digit]), &["model.bpk", "I32"]);
    restore();

    // A multi-GiB file where the weights belong: refused unread (it is sparse: no disk used).
    let weights = std::fs::File::create(model.join("model.bpk")).unwrap();
    weights.set_len(6 << 30).unwrap();
    drop(weights);
    assert_clean_failure(&predict(&model, &[&digit]), &["model.bpk", "6.0 GiB"]);
    restore();

    let output = predict(&model, &[&digit]);
    assert_success(&output);
}

#[test]
fn a_huge_picture_is_refused_from_its_header() {
    let fixture = model_dir();
    // A real PNG for 20000x20000 pixels, with valid checksums: a header and one small chunk of
    // compressed rows (decoding would need 400 MB; the header alone says no).
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
        out
    };
    let mut header = 20_000u32.to_be_bytes().to_vec();
    header.extend_from_slice(&20_000u32.to_be_bytes());
    header.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut rows = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    rows.write_all(&vec![0u8; 20_001 * 4]).unwrap();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &header));
    png.extend(chunk(b"IDAT", &rows.finish().unwrap()));
    png.extend(chunk(b"IEND", &[]));
    let huge = fixture.dir.path().join("huge.png");
    std::fs::write(&huge, &png).unwrap();
    let output = predict(&fixture.artifacts(), &[&huge]);
    assert_eq!(output.status.code(), Some(1));
    let err = common::stderr(&output);
    assert!(
        err.contains("huge.png") && err.contains("20000x20000") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn a_closed_stdout_ends_predict_quietly() {
    let fixture = model_dir();
    let digit = fixture.dir.path().join("digit.png");
    digit_png(&digit);
    let images: Vec<&Path> = std::iter::repeat_n(digit.as_path(), 200).collect();
    let mut child = common::trainer()
        .args(["predict", "--model"])
        .arg(fixture.artifacts())
        .args(&images)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // `| head -0`: the reader goes away before the first line.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let err = common::stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Writes IDX fixtures and a config that trains on them through `[data] idx`.
fn idx_fixture(edit: impl FnOnce(&mut [Vec<u8>; 4])) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let train = common::toy_items(200, 0);
    let test = common::toy_items(50, 99);
    let images = |items: &[data::MnistItem]| {
        data::encode_idx_images(&items.iter().map(|i| i.image).collect::<Vec<_>>())
    };
    let labels = |items: &[data::MnistItem]| {
        data::encode_idx_labels(&items.iter().map(|i| i.label).collect::<Vec<_>>())
    };
    let mut files = [images(&train), labels(&train), images(&test), labels(&test)];
    edit(&mut files);
    let names = ["train-images", "train-labels", "test-images", "test-labels"];
    for (name, bytes) in names.iter().zip(&files) {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let p = |n: &str| dir.path().join(n).display().to_string();
    let config = dir.path().join("idx.toml");
    std::fs::write(
        &config,
        format!(
            "[model]\nkind = \"mlp\"\nhidden = [8]\n[data]\nvalidation = 50\nidx = {{ train_images = \"{}\", train_labels = \"{}\", test_images = \"{}\", test_labels = \"{}\" }}\n[training]\nepochs = 1\n",
            p("train-images"),
            p("train-labels"),
            p("test-images"),
            p("test-labels")
        ),
    )
    .unwrap();
    (dir, config)
}

#[test]
fn real_looking_idx_files_with_structural_damage_are_named() {
    type Edit = fn(&mut [Vec<u8>; 4]);
    let cases: [(Edit, &[&str]); 5] = [
        (
            |f| f[0].truncate(f[0].len() - 10),
            &["train-images", "truncated"],
        ),
        (|f| f[2][3] = 0x01, &["test-images", "bad magic"]),
        (|f| f[1].push(7), &["train-labels", "trailing bytes"]),
        (|f| f[3][8] = 10, &["test-labels", "label #0 is 10"]),
        (
            |f| {
                f[1].truncate(f[1].len() - 1);
                f[1][7] -= 1;
            },
            &["train-images", "train-labels", "199 labels"],
        ),
    ];
    for (edit, needles) in cases {
        let (dir, config) = idx_fixture(edit);
        let artifacts = dir.path().join("out");
        let output = common::run(&[
            "--config",
            config.to_str().unwrap(),
            "--artifacts",
            artifacts.to_str().unwrap(),
        ]);
        assert_clean_failure(&output, needles);
        assert!(!artifacts.exists());
    }
    let (dir, config) = idx_fixture(|_| {});
    let artifacts = dir.path().join("out");
    assert_success(&common::run(&[
        "--config",
        config.to_str().unwrap(),
        "--artifacts",
        artifacts.to_str().unwrap(),
    ]));
}

#[test]
fn a_folder_where_a_data_file_belongs_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("train-images-idx3-ubyte")).unwrap();
    let config = dir.path().join("mnist.toml");
    std::fs::write(&config, "[model]\nkind = \"mlp\"\n").unwrap();
    let output = common::run(&[
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--artifacts",
        dir.path().join("out").to_str().unwrap(),
    ]);
    assert_clean_failure(&output, &["train-images-idx3-ubyte", "is a directory"]);
}

#[test]
fn a_huge_config_file_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("huge.toml");
    let mut file = std::fs::File::create(&config).unwrap();
    file.write_all(b"[model]\nkind = \"mlp\"\n").unwrap();
    file.set_len(4 << 30).unwrap();
    assert_clean_failure(
        &common::run(&["--config", config.to_str().unwrap()]),
        &["huge.toml", "at most"],
    );
}
