use std::fmt;

use crate::activation::Activation;
use crate::config::ModelConfig;
use crate::error::ModelConfigError;
use crate::lenet::{LenetConfig, PoolKind};
use crate::mlp::MlpConfig;

/// One row of a [`ModelSummary`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerSummary {
    /// Layer description, e.g. `conv 1->20 k5`.
    pub layer: String,
    /// Output shape per example (batch dimension left out), e.g. `[20, 24, 24]`.
    pub output_shape: Vec<usize>,
    /// Trainable scalars in this layer.
    pub params: usize,
    /// Floats of working memory per example while the layer runs (a convolution's unfolded
    /// input, as im2col lays it out); 0 for other layers.
    pub scratch: usize,
}

/// One-screen description of a network: layers, output shape per layer, parameter counts.
/// Computed from the configuration alone (no tensors are allocated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelSummary {
    /// `ModelConfig::describe()`.
    pub name: String,
    /// Layers from input to logits.
    pub layers: Vec<LayerSummary>,
}

impl ModelSummary {
    /// Sum of the per-layer parameter counts (equals `Classifier::num_params`).
    pub fn total_params(&self) -> usize {
        self.layers.iter().map(|l| l.params).sum()
    }

    /// Floats one example occupies during a training step: each layer's output twice (kept for
    /// the backward pass, and its gradient) and each convolution's scratch. An estimate for
    /// sizing batches against memory, not an exact count.
    pub fn training_floats_per_example(&self) -> usize {
        self.layers
            .iter()
            .map(|l| 2 * l.output_shape.iter().product::<usize>() + l.scratch)
            .sum()
    }
}

/// Summarises `config`'s network; fails where `config.validate()` would.
pub fn summary(config: &ModelConfig) -> Result<ModelSummary, ModelConfigError> {
    config.validate()?;
    let layers = match config {
        ModelConfig::Mlp(c) => mlp_layers(c),
        ModelConfig::Lenet(c) => lenet_layers(c)?,
    };
    Ok(ModelSummary {
        name: config.describe(),
        layers,
    })
}

fn row(layer: String, output_shape: Vec<usize>, params: usize) -> LayerSummary {
    LayerSummary {
        layer,
        output_shape,
        params,
        scratch: 0,
    }
}

/// `" + relu"`, or nothing for the identity.
fn act(a: Activation) -> String {
    match a {
        Activation::None => String::new(),
        a => format!(" + {}", a.name()),
    }
}

/// Dense layer row, with the activation and dropout that follow it folded in.
fn dense(rows: &mut Vec<LayerSummary>, name: &str, w: &[usize], a: Option<Activation>, p: f64) {
    let mut layer = format!("{name} {}->{}", w[0], w[1]);
    if let Some(a) = a {
        layer += &act(a);
    }
    if p > 0.0 {
        layer += &format!(" + dropout {p}");
    }
    rows.push(row(layer, vec![w[1]], w[0] * w[1] + w[1]));
}

fn mlp_layers(c: &MlpConfig) -> Vec<LayerSummary> {
    let s = c.input_size;
    let mut rows = vec![
        row("input".into(), vec![1, s, s], 0),
        row("flatten".into(), vec![s * s], 0),
    ];
    let widths = c.widths();
    let last = widths.len() - 2;
    for (i, w) in widths.windows(2).enumerate() {
        let hidden = i < last;
        let p = if hidden { c.dropout } else { 0.0 };
        let activation = if hidden {
            Some(c.activation)
        } else {
            Some(c.output_activation)
        };
        dense(&mut rows, "linear", w, activation, p);
    }
    rows
}

fn lenet_layers(c: &LenetConfig) -> Result<Vec<LayerSummary>, ModelConfigError> {
    let sides = c.feature_sides()?;
    let k = c.kernel_size;
    let pool = match c.pool {
        PoolKind::Max => "max-pool",
        PoolKind::Avg => "avg-pool",
    };
    let mut rows = vec![row("input".into(), vec![1, c.input_size, c.input_size], 0)];
    let mut in_ch = 1;
    for (i, &out) in c.conv_channels.iter().enumerate() {
        let conv_side = sides[i] - k + 1;
        rows.push(LayerSummary {
            scratch: conv_side * conv_side * in_ch * k * k,
            ..row(
                format!("conv {in_ch}->{out} k{k}{}", act(c.conv_activation)),
                vec![out, conv_side, conv_side],
                in_ch * out * k * k + out,
            )
        });
        let mut layer = format!("{pool} {}", c.pool_size);
        if let Some(&p) = c.conv_dropout.get(i).filter(|&&p| p > 0.0) {
            layer += &format!(" + dropout {p}");
        }
        rows.push(row(layer, vec![out, sides[i + 1], sides[i + 1]], 0));
        in_ch = out;
    }
    let widths = c.fc_widths()?;
    rows.push(row("flatten".into(), vec![widths[0]], 0));
    let last = widths.len() - 2;
    for (i, w) in widths.windows(2).enumerate() {
        let hidden = i < last;
        let p = c
            .fc_dropout
            .get(i)
            .copied()
            .filter(|_| hidden)
            .unwrap_or(0.0);
        dense(&mut rows, "fc", w, hidden.then_some(c.activation), p);
    }
    Ok(rows)
}

impl fmt::Display for ModelSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shapes: Vec<String> = self
            .layers
            .iter()
            .map(|l| format!("{:?}", l.output_shape))
            .collect();
        let name_w = self
            .layers
            .iter()
            .map(|l| l.layer.len())
            .max()
            .unwrap_or(0)
            .max(5);
        let shape_w = shapes.iter().map(String::len).max().unwrap_or(0).max(12);
        writeln!(f, "{}", self.name)?;
        writeln!(
            f,
            "{:<name_w$}  {:<shape_w$}  {:>10}",
            "layer", "output shape", "params"
        )?;
        for (l, shape) in self.layers.iter().zip(&shapes) {
            writeln!(
                f,
                "{:<name_w$}  {:<shape_w$}  {:>10}",
                l.layer,
                shape,
                group(l.params)
            )?;
        }
        write!(f, "total parameters: {}", group(self.total_params()))
    }
}

/// `431080` -> `431,080`: counts are easier to compare with the papers that way.
fn group(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
