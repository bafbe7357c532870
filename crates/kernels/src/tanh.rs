//! tanh, element-wise, f32 of any shape: the public function, its Burn backend extension, and
//! the kernel.
//!
//! Why: flex computes tanh with the scalar `f32::tanh` on one thread, and Burn's autodiff
//! backward computes it a second time from the input before four more passes for
//! `grad * (1 - tanh(x)^2)`. In the MXNet LeNet (tanh after every layer) that cost more than
//! every convolution and pool together. Here the forward pass is a rational approximation that
//! vectorises (the one Eigen uses for `float`, within a few ulp of `tanh`), split over the
//! threads, and the backward pass is one pass over the saved output: `dy * (1 - y * y)`.

use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::{Backend, Dispatch, Flex, backend_extension, tensor::FloatTensor};
use burn::tensor::{Tensor, activation};
use burn_flex::{FlexTensor, Layout};
use rayon::prelude::*;

use crate::flex::{dense, f32s, on_flex_f32};
use crate::util::{multiversion, uninit_vec};

/// `tanh(x)` element-wise. Agrees with `burn::tensor::activation::tanh` to within 1e-6, which it
/// calls instead when `x` is not f32 on Flex.
pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !on_flex_f32(&x) {
        return activation::tanh(x);
    }
    Tensor::from_dispatch(<Dispatch as TanhOps>::kernels_tanh(x.into_dispatch()))
}

/// The tanh kernel as a Burn backend extension (see `Conv2dOps` for how the dispatch works).
#[backend_extension(Flex, Autodiff)]
pub trait TanhOps: Backend {
    /// tanh, element-wise.
    fn kernels_tanh(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// Elements per parallel task: large enough that a task outweighs its scheduling.
const CHUNK: usize = 1 << 14;

/// A dense tensor of `x`'s shape holding `data`.
fn like(x: &FlexTensor, data: Vec<f32>) -> FlexTensor {
    FlexTensor::new(
        burn::backend::Bytes::from_elems(data),
        Layout::contiguous(x.layout().shape().clone()),
        burn::backend::DType::F32,
    )
}

fn forward_tensor(x: &FlexTensor) -> FlexTensor {
    let x_data = f32s(x);
    let mut out = uninit_vec(x_data.len());
    out.par_chunks_mut(CHUNK)
        .zip(x_data.par_chunks(CHUNK))
        .for_each(|(out, x)| forward(x, out));
    like(x, out)
}

impl TanhOps for Flex {
    fn kernels_tanh(x: FlexTensor) -> FlexTensor {
        forward_tensor(&dense(x))
    }
}

#[derive(Debug)]
struct TanhBackward;

impl Backward<Flex, 1> for TanhBackward {
    /// The forward pass's output.
    type State = FlexTensor;

    fn backward(self, ops: Ops<FlexTensor, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = dense(grads.consume::<Flex>(&ops.node));
        let [parent] = ops.parents;
        if let Some(node) = parent {
            let y = f32s(&ops.state);
            let mut dx = uninit_vec(y.len());
            dx.par_chunks_mut(CHUNK)
                .zip(f32s(&grad).par_chunks(CHUNK))
                .zip(y.par_chunks(CHUNK))
                .for_each(|((dx, dy), y)| backward(dy, y, dx));
            grads.register::<Flex>(node.id, like(&ops.state, dx));
        }
    }
}

impl<C: CheckpointStrategy> TanhOps for Autodiff<Flex, C> {
    fn kernels_tanh(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match TanhBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let out = forward_tensor(&dense(x.into_primitive()));
                prep.finish(out.clone(), out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(<Flex as TanhOps>::kernels_tanh(x.into_primitive()))
            }
        }
    }
}

/// Beyond this, tanh(x) rounds to +-1 in f32 (Eigen's clamp).
const CLAMP: f32 = 7.905_311;

multiversion! {
    /// `out[i] = tanh(x[i])`: Eigen's `float` approximation, a degree-13 odd polynomial over a
    /// degree-6 even one on the clamped input; NaN stays NaN.
    fn forward(x: &[f32], out: &mut [f32]) {
        const A1: f32 = 4.893_524_6e-3;
        const A3: f32 = 6.372_619_3e-4;
        const A5: f32 = 1.485_722_4e-5;
        const A7: f32 = 5.122_297e-8;
        const A9: f32 = -8.604_672e-11;
        const A11: f32 = 2.000_188e-13;
        const A13: f32 = -2.760_768_5e-16;
        const B0: f32 = 4.893_525e-3;
        const B2: f32 = 2.268_434_7e-3;
        const B4: f32 = 1.185_347_1e-4;
        const B6: f32 = 1.198_258_4e-6;
        for (o, &v) in out.iter_mut().zip(x) {
            // `clamp` keeps NaN (`max`/`min` would turn it into a bound).
            let c = v.clamp(-CLAMP, CLAMP);
            let c2 = c * c;
            let p = c2.mul_add(A13, A11);
            let p = c2.mul_add(p, A9);
            let p = c2.mul_add(p, A7);
            let p = c2.mul_add(p, A5);
            let p = c2.mul_add(p, A3);
            let p = c2.mul_add(p, A1);
            let q = c2.mul_add(B6, B4);
            let q = c2.mul_add(q, B2);
            let q = c2.mul_add(q, B0);
            // Tiny inputs: tanh(x) = x to f32 precision, and x keeps its sign (-0.0 too).
            *o = if c.abs() < 4e-4 { c } else { c * p / q };
        }
    }
}

multiversion! {
    /// `dx[i] = dy[i] * (1 - y[i]^2)`, with `y = tanh(x)` from the forward pass.
    fn backward(dy: &[f32], y: &[f32], dx: &mut [f32]) {
        for ((d, &g), &t) in dx.iter_mut().zip(dy).zip(y) {
            *d = g * (1.0 - t * t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_std_tanh_across_the_range() {
        let x: Vec<f32> = (-200_000..=200_000)
            .map(|i| i as f32 * 1e-4)
            .chain([1e-8, -1e-8, 0.0, -0.0, 30.0, -30.0, f32::MAX, f32::MIN])
            .collect();
        let mut out = vec![0.0; x.len()];
        forward(&x, &mut out);
        for (&v, &t) in x.iter().zip(&out) {
            let want = v.tanh();
            assert!((t - want).abs() <= 1e-6, "tanh({v}) = {t}, want {want}");
            assert!(t.abs() <= 1.0, "tanh({v}) = {t}");
            assert_eq!(
                t.is_sign_negative(),
                want.is_sign_negative(),
                "sign of tanh({v})"
            );
        }
        forward(&[f32::NAN], &mut out[..1]);
        assert!(out[0].is_nan());
    }
}
