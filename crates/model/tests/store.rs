//! Saving and loading model directories and weights files.

use burn::tensor::{Device, Distribution, Tensor};
use model::{
    CONFIG_FILE, LenetConfig, LenetPreset, MlpConfig, ModelConfig, StoreError, WEIGHTS_FILE, load,
    load_weights, save,
};

fn logits_bits(model: &model::Classifier, images: Tensor<4>) -> Vec<u32> {
    let data = model.forward(images).into_data();
    data.as_slice::<f32>()
        .unwrap()
        .iter()
        .map(|x| x.to_bits())
        .collect()
}

#[test]
fn save_then_load_gives_bit_identical_logits() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    for (i, config) in [
        ModelConfig::Lenet(LenetConfig::preset(LenetPreset::CnnDropout)),
        ModelConfig::Mlp(MlpConfig::default()),
    ]
    .into_iter()
    .enumerate()
    {
        let model = config.init(&device).unwrap();
        let model_dir = dir.path().join(format!("m{i}"));
        save(&model_dir, &config, &model).unwrap();
        assert!(model_dir.join(CONFIG_FILE).is_file() && model_dir.join(WEIGHTS_FILE).is_file());

        let (loaded_config, loaded) = load(&model_dir, &device).unwrap();
        assert_eq!(loaded_config, config);
        let images = Tensor::<4>::random([4, 1, 28, 28], Distribution::Default, &device);
        assert_eq!(
            logits_bits(&model, images.clone()),
            logits_bits(&loaded, images)
        );
    }
}

#[test]
fn model_toml_is_a_model_table() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let config = ModelConfig::default();
    save(dir.path(), &config, &config.init(&device).unwrap()).unwrap();
    let text = std::fs::read_to_string(dir.path().join(CONFIG_FILE)).unwrap();
    assert!(
        text.contains("[model]") && text.contains("kind = \"lenet\""),
        "{text}"
    );
    // Only the two files: the temp files were renamed away.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn wrong_architecture_is_an_error_not_a_panic() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let caffe2 = ModelConfig::Lenet(LenetConfig::preset(LenetPreset::Caffe2));
    save(dir.path(), &caffe2, &caffe2.init(&device).unwrap()).unwrap();
    let weights = dir.path().join(WEIGHTS_FILE);

    // Same family, different shapes.
    let tanh = ModelConfig::Lenet(LenetConfig {
        conv_channels: vec![20, 40],
        ..LenetConfig::preset(LenetPreset::Caffe2)
    });
    let e = load_weights(&tanh, &weights, &device).unwrap_err();
    assert!(matches!(e, StoreError::Mismatch { .. }), "{e}");
    assert!(e.to_string().contains("shape"), "{e}");

    // Different family: every tensor is missing or unused.
    let mlp = ModelConfig::Mlp(MlpConfig::default());
    let e = load_weights(&mlp, &weights, &device).unwrap_err();
    assert!(matches!(e, StoreError::Mismatch { .. }), "{e}");

    // Extra layer.
    let deeper = ModelConfig::Lenet(LenetConfig {
        fc_hidden: vec![500, 100],
        ..LenetConfig::preset(LenetPreset::Caffe2)
    });
    assert!(matches!(
        load_weights(&deeper, &weights, &device),
        Err(StoreError::Mismatch { .. })
    ));
}

#[test]
fn broken_files_are_errors() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let config = ModelConfig::default();

    let e = load(dir.path(), &device).unwrap_err();
    assert!(
        matches!(e, StoreError::Io { .. }) && e.to_string().contains(CONFIG_FILE),
        "{e}"
    );

    let garbage = dir.path().join("garbage.bpk");
    std::fs::write(&garbage, b"definitely not burnpack").unwrap();
    let e = load_weights(&config, &garbage, &device).unwrap_err();
    assert!(matches!(e, StoreError::DecodeWeights { .. }), "{e}");

    std::fs::write(
        dir.path().join(CONFIG_FILE),
        "[model]\nkind = \"lenet\"\nbogus = 1\n",
    )
    .unwrap();
    let e = load(dir.path(), &device).unwrap_err();
    assert!(
        matches!(e, StoreError::ParseConfig { .. }) && e.to_string().contains("bogus"),
        "{e}"
    );

    std::fs::write(
        dir.path().join(CONFIG_FILE),
        "[model]\nkind = \"lenet\"\nkernel_size = 0\n",
    )
    .unwrap();
    let e = load(dir.path(), &device).unwrap_err();
    assert!(matches!(e, StoreError::InvalidConfig { .. }) && e.to_string().contains("kernel_size"));
}
