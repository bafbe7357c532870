//! Output shapes, parameter counts and summaries for every preset.

use burn::tensor::{Device, Distribution, Tensor};
use model::{LenetConfig, LenetPreset, MlpConfig, MlpPreset, ModelConfig, summary};

fn lenet(p: LenetPreset, input_size: usize) -> ModelConfig {
    let mut c = LenetConfig::preset(p);
    c.input_size = input_size;
    ModelConfig::Lenet(c)
}

fn mlp(p: MlpPreset, input_size: usize) -> ModelConfig {
    let mut c = MlpConfig::preset(p);
    c.input_size = input_size;
    ModelConfig::Mlp(c)
}

fn logits_shape(config: &ModelConfig, batch: usize) -> [usize; 2] {
    let device = Device::flex();
    let model = config.init(&device).unwrap();
    let s = config.input_size();
    let images = Tensor::<4>::random([batch, 1, s, s], Distribution::Default, &device);
    model.forward(images).dims()
}

#[test]
fn every_preset_gives_10_logits_at_every_allowed_size() {
    for size in [28, 32] {
        for p in [
            LenetPreset::Caffe2,
            LenetPreset::MxnetTanh,
            LenetPreset::CnnDropout,
        ] {
            assert_eq!(logits_shape(&lenet(p, size), 3), [3, 10], "{p:?} at {size}");
        }
        for p in [MlpPreset::Mxnet, MlpPreset::Caffe2] {
            assert_eq!(logits_shape(&mlp(p, size), 3), [3, 10], "{p:?} at {size}");
        }
    }
    assert_eq!(logits_shape(&lenet(LenetPreset::Lenet5, 32), 2), [2, 10]);
    assert!(lenet(LenetPreset::Lenet5, 28).validate().is_err());
}

#[test]
fn exact_parameter_counts() {
    let device = Device::flex();
    let cases = [
        // conv1 20*1*5*5+20 = 520; conv2 50*20*5*5+50 = 25,050; fc 800*500+500 = 400,500;
        // fc 500*10+10 = 5,010.
        (lenet(LenetPreset::Caffe2, 28), 431_080),
        // Same layers, only activations differ.
        (lenet(LenetPreset::MxnetTanh, 28), 431_080),
        // 6*25+6 = 156; 16*6*25+16 = 2,416; 400*120+120 = 48,120; 120*84+84 = 10,164;
        // 84*10+10 = 850.
        (lenet(LenetPreset::Lenet5, 32), 61_706),
        // 32*25+32 = 832; 64*32*25+64 = 51,264; 1024*512+512 = 524,800;
        // 512*256+256 = 131,328; 256*10+10 = 2,570.
        (lenet(LenetPreset::CnnDropout, 28), 710_794),
        // 784*128+128 = 100,480; 128*64+64 = 8,256; 64*10+10 = 650.
        (mlp(MlpPreset::Mxnet, 28), 109_386),
        // 784*1568+1568 = 1,230,880; 1568*1568+1568 = 2,460,192; 1568*10+10 = 15,690.
        (mlp(MlpPreset::Caffe2, 28), 3_706_762),
        // caffe2 on 32x32: sides 32->28->14->10->5, flatten 50*5*5 = 1,250;
        // 520 + 25,050 + (1250*500+500 = 625,500) + 5,010.
        (lenet(LenetPreset::Caffe2, 32), 656_080),
    ];
    for (config, expected) in cases {
        let model = config.init(&device).unwrap();
        assert_eq!(model.num_params(), expected, "{}", config.describe());
        let s = summary(&config).unwrap();
        assert_eq!(
            s.total_params(),
            expected,
            "summary of {}",
            config.describe()
        );
    }
}

#[test]
fn flatten_size_is_computed() {
    let f = |p, s| match lenet(p, s) {
        ModelConfig::Lenet(c) => c.flatten_size().unwrap(),
        ModelConfig::Mlp(_) => unreachable!(),
    };
    assert_eq!(f(LenetPreset::Caffe2, 28), 800);
    assert_eq!(f(LenetPreset::Lenet5, 32), 400);
    assert_eq!(f(LenetPreset::CnnDropout, 28), 1024);
    assert_eq!(f(LenetPreset::CnnDropout, 32), 64 * 5 * 5);
}

#[test]
fn summary_lists_layers_and_shapes() {
    let s = summary(&lenet(LenetPreset::Caffe2, 28)).unwrap();
    let text = s.to_string();
    assert!(text.starts_with("lenet (caffe2)"), "{text}");
    assert!(
        text.contains("[20, 24, 24]") && text.contains("[50, 4, 4]"),
        "{text}"
    );
    assert!(text.contains("[800]") && text.contains("431,080"), "{text}");
    assert!(text.lines().count() <= 24, "fits one screen:\n{text}");
    let last = s.layers.last().unwrap();
    assert_eq!(last.output_shape, vec![10]);
}

#[test]
fn visualisation_hooks() {
    let device = Device::flex();
    let config = lenet(LenetPreset::Caffe2, 28);
    let model = config.init(&device).unwrap();
    assert_eq!(model.first_conv_weights().unwrap().dims(), [20, 1, 5, 5]);
    let images = Tensor::<4>::random([2, 1, 28, 28], Distribution::Default, &device);
    assert_eq!(
        model.feature_maps(images.clone()).unwrap().dims(),
        [2, 20, 24, 24]
    );

    let model = mlp(MlpPreset::Mxnet, 28).init(&device).unwrap();
    assert!(model.first_conv_weights().is_none());
    assert!(model.feature_maps(images).is_none());
}
