//! Parameter bookkeeping, as the Caffe2 seed prints it: per tensor, the mean, std, min and max of
//! the weights and of their gradients on one batch.

use std::fmt::Write;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::Gradients;
use model::{Classifier, ImageBatch};

#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub mean: f64,
    pub std: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(values: &[f32]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = values
            .iter()
            .map(|&v| (v as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        let (min, max) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v as f64), hi.max(v as f64))
            });
        Some(Self {
            mean,
            std: var.sqrt(),
            min,
            max,
        })
    }
}

#[derive(Clone, Debug)]
pub struct TensorStats {
    pub name: String,
    pub shape: Vec<usize>,
    pub weights: Summary,
    pub grads: Option<Summary>,
}

struct Collector<'a> {
    path: Vec<String>,
    grads: Option<&'a Gradients>,
    out: Vec<TensorStats>,
}

impl ModuleVisitor for Collector<'_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let tensor = param.val();
        let shape = tensor.dims().to_vec();
        let grads = self
            .grads
            .and_then(|g| tensor.grad(g))
            .and_then(|g| g.into_data().try_into_vec::<f32>().ok())
            .and_then(|v| Summary::of(&v));
        let Some(weights) = tensor
            .into_data()
            .try_into_vec::<f32>()
            .ok()
            .and_then(|v| Summary::of(&v))
        else {
            return;
        };
        self.out.push(TensorStats {
            name: self.path.join("."),
            shape,
            weights,
            grads,
        });
    }
}

/// Statistics of every parameter tensor; with `batch`, also of its gradient on that batch.
/// The model must live on an autodiff device for gradients to exist.
pub fn collect(model: &Classifier, batch: Option<ImageBatch>) -> Vec<TensorStats> {
    let grads = batch.map(|b| {
        model
            .forward_classification(b.images, b.targets)
            .loss
            .backward()
    });
    let mut collector = Collector {
        path: Vec::new(),
        grads: grads.as_ref(),
        out: Vec::new(),
    };
    model.visit(&mut collector);
    collector.out
}

/// A fixed-width table, one row per tensor.
pub fn table(stats: &[TensorStats]) -> String {
    let mut out = format!(
        "{:<28} {:>16} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
        "tensor", "shape", "mean", "std", "min", "max", "grad mean", "grad std"
    );
    for s in stats {
        let shape = format!("{:?}", s.shape);
        let _ = write!(
            out,
            "{:<28} {:>16} {:>10.4} {:>10.4} {:>10.4} {:>10.4}",
            s.name, shape, s.weights.mean, s.weights.std, s.weights.min, s.weights.max
        );
        match &s.grads {
            Some(g) => {
                let _ = writeln!(out, " {:>10.2e} {:>10.2e}", g.mean, g.std);
            }
            None => out.push_str("          -          -\n"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_values() {
        let s = Summary::of(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!((s.mean, s.min, s.max), (2.5, 1.0, 4.0));
        assert!((s.std - 1.25f64.sqrt()).abs() < 1e-12);
        assert_eq!(Summary::of(&[]), None);
    }
}
