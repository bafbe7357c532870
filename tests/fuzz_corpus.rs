//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`, found and minimised by cargo-fuzz)
//! through the entry points the fuzz targets call, so every finding stays covered in the
//! ordinary test run, without a nightly toolchain. Any panic fails the test.

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut inputs: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 3, "{} holds too few inputs", dir.display());
    inputs
}

/// Runs `f` on every input of `target`, and checks that some inputs were accepted and some
/// refused, so the corpus reaches both sides of the parser.
fn replay(target: &str, f: impl Fn(&[u8]) -> bool) {
    let (mut accepted, mut refused) = (0, 0);
    for (path, bytes) in corpus(target) {
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&bytes)))
            .unwrap_or_else(|_| panic!("{} panics the parser", path.display()));
        if ok {
            accepted += 1;
        } else {
            refused += 1;
        }
    }
    assert!(
        accepted > 0 && refused > 0,
        "{target}: {accepted} accepted, {refused} refused"
    );
}

#[test]
fn idx() {
    let name = Path::new("corpus.idx");
    replay("idx", |bytes| {
        let images = data::decode_idx_images(name, bytes).is_ok();
        let labels = data::decode_idx_labels(name, bytes).is_ok();
        images || labels
    });
}

#[test]
fn tsv() {
    replay("tsv", |bytes| {
        data::decode_tsv(Path::new("corpus.tsv"), bytes).is_ok()
    });
}

#[test]
fn config() {
    replay("config", |bytes| {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return false;
        };
        match trainer::config::TrainConfig::parse(Path::new("corpus.toml"), text) {
            Ok(config) => {
                let _ = trainer::memory::check(&config, Some(1 << 30));
                true
            }
            Err(_) => false,
        }
    });
}

#[test]
fn weights() {
    let config = model::ModelConfig::Mlp(model::MlpConfig {
        hidden: vec![3],
        ..model::MlpConfig::default()
    });
    let device = burn::tensor::Device::flex();
    replay("weights", |bytes| {
        model::load_weights_from_bytes(
            &config,
            Path::new("corpus.bpk"),
            burn::tensor::Bytes::from_bytes_vec(bytes.to_vec()),
            &device,
        )
        .is_ok()
    });
}

#[test]
fn picture() {
    replay("picture", |bytes| data::decode_picture(bytes).is_ok());
}
