//! TOML forms, presets, overrides and validation messages.

use model::{
    Activation, Kernels, LenetConfig, LenetPreset, MlpConfig, MlpPreset, ModelConfig,
    ModelConfigError, PoolKind,
};
use serde::Deserialize;

/// Mirrors how a training config embeds the model: a `[model]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wrapper {
    model: ModelConfig,
}

fn parse(toml_text: &str) -> Result<ModelConfig, String> {
    toml::from_str::<Wrapper>(toml_text)
        .map(|w| w.model)
        .map_err(|e| e.to_string())
}

fn invalid(config: &ModelConfig) -> ModelConfigError {
    config.validate().expect_err("config should be invalid")
}

#[test]
fn preset_forms_parse() {
    let c = parse("[model]\nkind = \"lenet\"\npreset = \"caffe2\"\n").unwrap();
    assert_eq!(
        c,
        ModelConfig::Lenet(LenetConfig::preset(LenetPreset::Caffe2))
    );
    assert_eq!(c.describe(), "lenet (caffe2)");
    assert_eq!(c.input_size(), 28);

    let c = parse("[model]\nkind = \"lenet\"\npreset = \"lenet5\"\n").unwrap();
    assert_eq!(c.input_size(), 32);
    c.validate().unwrap();

    let c = parse("[model]\nkind = \"mlp\"\npreset = \"caffe2\"\n").unwrap();
    assert_eq!(c, ModelConfig::Mlp(MlpConfig::preset(MlpPreset::Caffe2)));
    assert_eq!(c.describe(), "mlp (caffe2)");

    // No preset: the family's default preset.
    assert_eq!(
        parse("[model]\nkind = \"mlp\"\n").unwrap().describe(),
        "mlp (mxnet)"
    );
    assert_eq!(
        parse("[model]\nkind = \"lenet\"\n").unwrap(),
        ModelConfig::default()
    );
}

#[test]
fn explicit_fields_override_the_preset() {
    let c = parse(
        r#"
        [model]
        kind = "lenet"
        preset = "caffe2"
        pool = "avg"
        conv_channels = [8, 16]
        conv_dropout = [0.1, 0]
        "#,
    )
    .unwrap();
    let ModelConfig::Lenet(l) = &c else {
        panic!("expected lenet")
    };
    assert_eq!(l.pool, PoolKind::Avg);
    assert_eq!(l.conv_channels, vec![8, 16]);
    assert_eq!(l.conv_dropout, vec![0.1, 0.0]);
    assert_eq!(
        l.fc_hidden,
        vec![500],
        "untouched fields keep the preset value"
    );
    assert_eq!(l.flatten_size().unwrap(), 16 * 4 * 4);
    assert_eq!(c.describe(), "lenet (caffe2, customized)");
    c.validate().unwrap();

    let c =
        parse("[model]\nkind = \"mlp\"\nhidden = [32]\nactivation = \"sigmoid\"\ndropout = 0.2\n")
            .unwrap();
    let ModelConfig::Mlp(m) = &c else {
        panic!("expected mlp")
    };
    assert_eq!(
        (m.hidden.clone(), m.activation, m.dropout),
        (vec![32], Activation::Sigmoid, 0.2)
    );
}

#[test]
fn unknown_keys_are_errors_naming_the_key() {
    let e = parse("[model]\nkind = \"lenet\"\nconv_chanels = [4, 8]\n").unwrap_err();
    assert!(e.contains("conv_chanels"), "{e}");
    let e = parse("[model]\nkind = \"mlp\"\nhiden = [4]\n").unwrap_err();
    assert!(e.contains("hiden"), "{e}");
    // A LeNet key in an MLP table is unknown too.
    let e = parse("[model]\nkind = \"mlp\"\nkernel_size = 3\n").unwrap_err();
    assert!(e.contains("kernel_size"), "{e}");
    let e = parse("[model]\nkind = \"resnet\"\n").unwrap_err();
    assert!(e.contains("resnet"), "{e}");
    let e = parse("[model]\nkind = \"lenet\"\npreset = \"alexnet\"\n").unwrap_err();
    assert!(e.contains("alexnet"), "{e}");
    let e = parse("[model]\nkind = \"lenet\"\nactivation = \"gelu\"\n").unwrap_err();
    assert!(e.contains("gelu"), "{e}");
    let e = parse("[model]\npreset = \"caffe2\"\n").unwrap_err();
    assert!(e.contains("kind"), "{e}");
}

#[test]
fn invalid_values_name_the_key() {
    let lenet = |f: &dyn Fn(&mut LenetConfig)| {
        let mut c = LenetConfig::default();
        f(&mut c);
        ModelConfig::Lenet(c)
    };
    let e = invalid(&lenet(&|c| c.conv_channels[1] = 0));
    assert_eq!(e.key(), "conv_channels[1]");
    let e = invalid(&lenet(&|c| c.kernel_size = 13));
    assert_eq!(e.key(), "kernel_size");
    assert!(
        e.to_string()
            .contains("8x8 feature map entering convolution 2"),
        "{e}"
    );
    let e = invalid(&lenet(&|c| c.kernel_size = 29));
    assert_eq!(e.key(), "kernel_size");
    let e = invalid(&lenet(&|c| c.pool_size = 0));
    assert_eq!(e.key(), "pool_size");
    let e = invalid(&lenet(&|c| c.input_size = 30));
    assert_eq!(e.key(), "input_size");
    let e = invalid(&lenet(&|c| c.conv_dropout = vec![0.5]));
    assert_eq!(e.key(), "conv_dropout");
    let e = invalid(&lenet(&|c| c.fc_dropout = vec![1.0]));
    assert_eq!(e.key(), "fc_dropout[0]");
    let e = invalid(&lenet(&|c| c.fc_hidden = vec![0]));
    assert_eq!(e.key(), "fc_hidden[0]");

    let mlp = |dropout, hidden| {
        ModelConfig::Mlp(MlpConfig {
            dropout,
            hidden,
            ..MlpConfig::default()
        })
    };
    assert_eq!(invalid(&mlp(-0.1, vec![8])).key(), "dropout");
    assert_eq!(invalid(&mlp(f64::NAN, vec![8])).key(), "dropout");
    assert_eq!(invalid(&mlp(0.0, vec![10, 0])).key(), "hidden[1]");

    // Sizes that would exhaust memory are refused from the config, before any allocation.
    let e = invalid(&mlp(0.0, vec![1_000_000_000]));
    assert_eq!(e.key(), "hidden[0]");
    assert!(e.to_string().contains("65536"), "{e}");
    let e = invalid(&mlp(0.0, vec![60_000, 60_000]));
    assert_eq!(e.key(), "hidden");
    assert!(e.to_string().contains("100000000"), "{e}");
    let e = invalid(&lenet(&|c| c.conv_channels = vec![usize::MAX, 4]));
    assert_eq!(e.key(), "conv_channels[0]");
    let e = invalid(&lenet(&|c| c.fc_hidden = vec![8; 65]));
    assert_eq!(e.key(), "fc_hidden");
    let e = invalid(&lenet(&|c| c.kernel_size = usize::MAX));
    assert_eq!(e.key(), "kernel_size");

    // init validates first instead of letting Burn panic.
    let device = burn::tensor::Device::flex();
    assert!(lenet(&|c| c.kernel_size = 40).init(&device).is_err());
}

#[test]
fn parameter_counts_from_the_config_match_the_built_network() {
    let device = burn::tensor::Device::flex();
    for config in [
        ModelConfig::Lenet(LenetConfig::preset(LenetPreset::Caffe2)),
        ModelConfig::Lenet(LenetConfig::preset(LenetPreset::CnnDropout)),
        ModelConfig::Mlp(MlpConfig::preset(MlpPreset::Caffe2)),
    ] {
        let counted = match &config {
            ModelConfig::Lenet(c) => c.parameter_count().unwrap(),
            ModelConfig::Mlp(c) => c.parameter_count(),
        };
        let built = config.init(&device).unwrap().num_params();
        assert_eq!(counted, built as u128, "{}", config.describe());
    }
}

#[test]
fn lenet5_refuses_28_pixel_input() {
    let c = parse("[model]\nkind = \"lenet\"\npreset = \"lenet5\"\ninput_size = 28\n").unwrap();
    let e = invalid(&c);
    assert_eq!(e.key(), "input_size");
    let msg = e.to_string();
    assert!(
        msg.contains("lenet5") && msg.contains("32") && msg.contains("28"),
        "{msg}"
    );
}

#[test]
fn serialized_config_round_trips() {
    let mut configs: Vec<ModelConfig> = [
        LenetPreset::Caffe2,
        LenetPreset::MxnetTanh,
        LenetPreset::Lenet5,
        LenetPreset::CnnDropout,
    ]
    .into_iter()
    .map(|p| ModelConfig::Lenet(LenetConfig::preset(p)))
    .collect();
    configs.extend(
        [MlpPreset::Mxnet, MlpPreset::Caffe2].map(|p| ModelConfig::Mlp(MlpConfig::preset(p))),
    );
    configs.push(ModelConfig::Mlp(MlpConfig {
        hidden: vec![7],
        ..MlpConfig::default()
    }));
    for config in configs {
        let text = toml::to_string(&config).unwrap();
        let back: ModelConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, config, "{text}");
    }
}

/// `kernels` says how a LeNet's layers are computed, not what the network is: it defaults to
/// `custom`, does not mark a preset as customized, is left out of a written config when it is
/// the default (so model.toml files stay readable by builds that predate it), and two configs
/// that differ only in it are the same network. The MLP has no such key.
#[test]
fn kernels_is_not_part_of_the_architecture() {
    let default = parse("[model]\nkind = \"lenet\"\n").unwrap();
    let burn = parse("[model]\nkind = \"lenet\"\nkernels = \"burn\"\n").unwrap();
    assert_eq!(default.kernels(), Kernels::Custom);
    assert_eq!(burn.kernels(), Kernels::Burn);
    assert_eq!(burn.describe(), "lenet (caffe2)");
    assert_ne!(burn, default);
    assert!(burn.same_network(&default));
    let wider =
        parse("[model]\nkind = \"lenet\"\nkernels = \"burn\"\nfc_hidden = [100]\n").unwrap();
    assert!(!wider.same_network(&default));

    assert!(!toml::to_string(&default).unwrap().contains("kernels"));
    let text = toml::to_string(&burn).unwrap();
    assert!(text.contains("kernels = \"burn\""), "{text}");
    assert_eq!(toml::from_str::<ModelConfig>(&text).unwrap(), burn);

    let err = parse("[model]\nkind = \"lenet\"\nkernels = \"fast\"\n").unwrap_err();
    assert!(err.contains("fast") && err.contains("custom"), "{err}");
    let err = parse("[model]\nkind = \"mlp\"\nkernels = \"custom\"\n").unwrap_err();
    assert!(err.contains("kernels"), "{err}");
    assert_eq!(
        ModelConfig::Mlp(MlpConfig::default()).kernels(),
        Kernels::Burn
    );
}
