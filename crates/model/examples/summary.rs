//! Prints the one-screen summary of every preset: `cargo run -p model --release --example summary`.

use model::{LenetConfig, LenetPreset, MlpConfig, MlpPreset, ModelConfig, summary};

fn main() {
    let lenets = [
        LenetPreset::Caffe2,
        LenetPreset::MxnetTanh,
        LenetPreset::Lenet5,
        LenetPreset::CnnDropout,
    ]
    .map(|p| ModelConfig::Lenet(LenetConfig::preset(p)));
    let mlps =
        [MlpPreset::Mxnet, MlpPreset::Caffe2].map(|p| ModelConfig::Mlp(MlpConfig::preset(p)));
    for config in lenets.iter().chain(&mlps) {
        match summary(config) {
            Ok(s) => println!("{s}\n"),
            Err(e) => eprintln!("{}: {e}", config.describe()),
        }
    }
}
