//! Writing weights files and reading them back checked: a wrong, damaged or hostile file is
//! an error naming the file and what differs, never a panic or an allocation of its size.

use std::path::Path;

use burn::tensor::{Bytes, DType, Device, Distribution, Tensor};
use model::{
    LenetConfig, LenetPreset, MlpConfig, ModelConfig, StoreError, load_weights, save_weights,
};

fn logits_bits(model: &model::Classifier, images: Tensor<4>) -> Vec<u32> {
    let data = model.forward(images).into_data();
    data.as_slice::<f32>()
        .unwrap()
        .iter()
        .map(|x| x.to_bits())
        .collect()
}

fn caffe2() -> ModelConfig {
    ModelConfig::Lenet(LenetConfig::preset(LenetPreset::Caffe2))
}

fn saved(dir: &Path, config: &ModelConfig) -> std::path::PathBuf {
    let path = dir.join("model.bpk");
    save_weights(&path, &config.init(&Device::flex()).unwrap()).unwrap();
    path
}

#[test]
fn save_then_load_gives_bit_identical_logits() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    for config in [
        ModelConfig::Lenet(LenetConfig::preset(LenetPreset::CnnDropout)),
        ModelConfig::Mlp(MlpConfig::default()),
    ] {
        let model = config.init(&device).unwrap();
        let path = dir.path().join("w.bpk");
        save_weights(&path, &model).unwrap();
        let loaded = load_weights(&config, &path, &device).unwrap();
        let images = Tensor::<4>::random([4, 1, 28, 28], Distribution::Default, &device);
        assert_eq!(
            logits_bits(&model, images.clone()),
            logits_bits(&loaded, images)
        );
        // Only the file itself: no temp file is left.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

#[test]
fn wrong_architecture_is_an_error_naming_the_tensor() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let weights = saved(dir.path(), &caffe2());

    let narrower = ModelConfig::Lenet(LenetConfig {
        conv_channels: vec![20, 40],
        ..LenetConfig::preset(LenetPreset::Caffe2)
    });
    let e = load_weights(&narrower, &weights, &device).unwrap_err();
    assert!(matches!(e, StoreError::Mismatch { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("model.bpk")
            && text.contains("convs.1.weight")
            && text.contains("[50, 20, 5, 5]"),
        "{text}"
    );

    let mlp = ModelConfig::Mlp(MlpConfig::default());
    let e = load_weights(&mlp, &weights, &device).unwrap_err();
    assert!(matches!(e, StoreError::Mismatch { .. }), "{e}");

    let deeper = ModelConfig::Lenet(LenetConfig {
        fc_hidden: vec![500, 100],
        ..LenetConfig::preset(LenetPreset::Caffe2)
    });
    let e = load_weights(&deeper, &weights, &device).unwrap_err();
    assert!(e.to_string().contains("missing"), "{e}");
}

/// Rewrites a burnpack file with `edit` applied to its tensor entries.
fn rewrite(path: &Path, edit: impl Fn(&mut Vec<burn_pack::Tensor>)) {
    let bytes = Bytes::from_bytes_vec(std::fs::read(path).unwrap());
    let mut tensors = burn_pack::Reader::from_bytes(bytes)
        .unwrap()
        .into_tensors()
        .unwrap();
    edit(&mut tensors);
    let out = burn_pack::Writer::new(tensors).into_bytes().unwrap();
    std::fs::write(path, &*out).unwrap();
}

#[test]
fn hostile_files_are_errors_before_burn_reads_them() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let config = caffe2();
    let weights = saved(dir.path(), &config);
    let good = std::fs::read(&weights).unwrap();

    // A tensor relabelled as another dtype of the same size.
    rewrite(&weights, |t| t[0].dtype = DType::I32);
    let e = load_weights(&config, &weights, &device).unwrap_err();
    assert!(e.to_string().contains("I32"), "{e}");

    // Not burnpack at all, truncated, empty.
    std::fs::write(&weights, b"definitely not burnpack").unwrap();
    let e = load_weights(&config, &weights, &device).unwrap_err();
    assert!(matches!(e, StoreError::DecodeWeights { .. }), "{e}");
    std::fs::write(&weights, &good[..good.len() / 2]).unwrap();
    let e = load_weights(&config, &weights, &device).unwrap_err();
    assert!(matches!(e, StoreError::DecodeWeights { .. }), "{e}");
    std::fs::write(&weights, b"").unwrap();
    assert!(load_weights(&config, &weights, &device).is_err());

    // Far larger than this network's weights can be: refused unread.
    let big = std::fs::File::create(&weights).unwrap();
    big.set_len(8 << 30).unwrap(); // sparse: 8 GiB that take no disk
    let e = load_weights(&config, &weights, &device).unwrap_err();
    assert!(matches!(e, StoreError::TooLarge { .. }), "{e}");

    // A directory where the file should be.
    let e = load_weights(&config, dir.path(), &device).unwrap_err();
    assert!(e.to_string().contains("directory"), "{e}");

    // NaN weights: a diverged run's file predicts nothing.
    std::fs::write(&weights, &good).unwrap();
    rewrite(&weights, |t| {
        let nan = f32::NAN.to_le_bytes().repeat(t[0].byte_len() / 4);
        let (name, dtype, shape, id, _) = t[0].clone().into_parts().unwrap();
        t[0] = burn_pack::Tensor::new(name, dtype, shape, id, Bytes::from_bytes_vec(nan));
    });
    let e = load_weights(&config, &weights, &device).unwrap_err();
    assert!(e.to_string().contains("NaN"), "{e}");
}
