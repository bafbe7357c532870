//! conv2d with stride 1, no padding, no dilation, one group, square kernel, NCHW f32: the public
//! function, its Burn backend extension (forward on Flex, forward plus a handwritten backward on
//! `Autodiff<Flex>`), and the choice among three CPU implementations:
//!
//! - `direct.rs`: AVX2 register tiles, for short reductions (`c_in * k * k <= 75`, LeNet's
//!   first layer), where im2col + gemm spends more time copying than multiplying;
//! - `sparse.rs`: the weight gradient over the nonzeros only, when at most 40% of the output
//!   gradient is nonzero (behind a max-pool at least 3/4 of it is exactly 0);
//! - `gemm.rs`: im2col + gemm for everything else (and on CPUs without AVX2 + FMA).

mod direct;
mod gemm;
mod shape;
mod sparse;

use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::{Backend, Dispatch, Flex, backend_extension, tensor::FloatTensor};
use burn::tensor::Tensor;
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;
use burn_flex::FlexTensor;

use crate::flex::{dense, dims, f32s, on_flex_f32, tensor_from_vec};
use shape::ConvDims;

/// 2-D convolution with stride 1, no padding, no dilation and one group:
/// `x [n, c_in, h, w]`, `weight [c_out, c_in, k, k]`, `bias [c_out]` -> `[n, c_out, h-k+1, w-k+1]`.
///
/// Same result as `burn::tensor::module::conv2d(x, weight, bias, ConvOptions::new([1, 1],
/// [0, 0], [1, 1], 1))`, which it calls instead when a tensor is not f32 on Flex, and for
/// non-square kernels.
pub fn conv2d(x: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>) -> Tensor<4> {
    let [_, _, kh, kw] = weight.dims();
    let custom = kh == kw
        && on_flex_f32(&x)
        && on_flex_f32(&weight)
        && bias.as_ref().is_none_or(on_flex_f32);
    if !custom {
        return burn_conv2d(x, weight, bias, ConvOptions::new([1, 1], [0, 0], [1, 1], 1));
    }
    let out = match bias {
        Some(b) => <Dispatch as Conv2dOps>::kernels_conv2d(
            x.into_dispatch(),
            weight.into_dispatch(),
            b.into_dispatch(),
        ),
        None => <Dispatch as Conv2dOps>::kernels_conv2d_no_bias(
            x.into_dispatch(),
            weight.into_dispatch(),
        ),
    };
    Tensor::from_dispatch(out)
}

/// The conv2d kernels as a Burn backend extension.
///
/// `#[backend_extension]` generates `impl Conv2dOps for Dispatch`, which routes a call to the
/// `Flex` or the `Autodiff<Flex, C>` impl from the tensors' runtime backend, and panics for any
/// other backend: [`conv2d`] only calls it for Flex f32 tensors.
#[backend_extension(Flex, Autodiff)]
pub trait Conv2dOps: Backend {
    /// With bias: `x [n,c_in,h,w]`, `weight [c_out,c_in,k,k]`, `bias [c_out]`.
    fn kernels_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
    /// Without bias.
    fn kernels_conv2d_no_bias(x: FloatTensor<Self>, weight: FloatTensor<Self>)
    -> FloatTensor<Self>;
}

/// Forward: the direct kernel for short reductions, else im2col + gemm.
fn forward(x: &[f32], weight: &[f32], bias: Option<&[f32]>, d: ConvDims) -> Vec<f32> {
    if direct::suits(&d) {
        direct::forward(x, weight, bias, d)
    } else {
        gemm::forward(x, weight, bias, d)
    }
}

/// Weight and (optionally) bias gradients. Short reductions take the direct kernel even when
/// the gradient is sparse: with only 25 products per term, listing the nonzeros and copying
/// patches costs more than the skipped multiplies save.
fn backward_weight(
    x: &[f32],
    grad: &[f32],
    d: ConvDims,
    with_bias: bool,
) -> (Vec<f32>, Option<Vec<f32>>) {
    if direct::suits(&d) {
        return direct::backward_weight(x, grad, d, with_bias);
    }
    if let Some(grads) = sparse::backward_weight(x, grad, d, with_bias) {
        return grads;
    }
    gemm::backward_weight(x, grad, d, with_bias)
}

fn conv_dims(x: &FlexTensor, weight: &FlexTensor) -> ConvDims {
    let [n, c_in, h, w] = dims::<4>(x);
    let [c_out, wc_in, kh, kw] = dims::<4>(weight);
    assert_eq!(
        c_in, wc_in,
        "conv2d: input has {c_in} channels, weight expects {wc_in}"
    );
    assert_eq!(kh, kw, "conv2d: only square kernels");
    assert!(kh <= h && kw <= w, "conv2d: kernel larger than input");
    ConvDims {
        n,
        c_in,
        h,
        w,
        c_out,
        k: kh,
    }
}

/// Forward on dense tensors.
fn forward_tensor(x: &FlexTensor, weight: &FlexTensor, bias: Option<&FlexTensor>) -> FlexTensor {
    let d = conv_dims(x, weight);
    if let Some(b) = bias {
        assert_eq!(dims::<1>(b), [d.c_out], "conv2d: bias length");
    }
    let out = forward(f32s(x), f32s(weight), bias.map(f32s), d);
    tensor_from_vec(out, [d.n, d.c_out, d.oh(), d.ow()])
}

impl Conv2dOps for Flex {
    fn kernels_conv2d(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        forward_tensor(&dense(x), &dense(weight), Some(&dense(bias)))
    }

    fn kernels_conv2d_no_bias(x: FlexTensor, weight: FlexTensor) -> FlexTensor {
        forward_tensor(&dense(x), &dense(weight), None)
    }
}

/// What the backward step needs: the dense forward input and weight (shared buffers, not
/// copies).
#[derive(Clone, Debug)]
struct ConvState {
    x: FlexTensor,
    weight: FlexTensor,
}

/// Computes and registers the gradients of a conv node. `parents` is `[x, weight]` or
/// `[x, weight, bias]`; untracked parents (`None`) are skipped, so the first layer never
/// computes the gradient of the images.
fn backward<const N: usize>(ops: Ops<ConvState, N>, grads: &mut Gradients) {
    let grad = dense(grads.consume::<Flex>(&ops.node));
    let ConvState { x, weight } = ops.state;
    let d = conv_dims(&x, &weight);
    let parents = ops.parents;
    let (x_node, w_node) = (&parents[0], &parents[1]);
    let b_node = if N == 3 { parents[2].as_ref() } else { None };

    if let Some(node) = x_node {
        let dx = gemm::backward_input(f32s(&grad), f32s(&weight), d);
        grads.register::<Flex>(node.id, tensor_from_vec(dx, [d.n, d.c_in, d.h, d.w]));
    }
    if w_node.is_some() || b_node.is_some() {
        let (dw, db) = backward_weight(f32s(&x), f32s(&grad), d, b_node.is_some());
        if let Some(node) = w_node {
            grads.register::<Flex>(node.id, tensor_from_vec(dw, [d.c_out, d.c_in, d.k, d.k]));
        }
        if let (Some(node), Some(db)) = (b_node, db) {
            grads.register::<Flex>(node.id, tensor_from_vec(db, [d.c_out]));
        }
    }
}

#[derive(Debug)]
struct Conv2dBiasBackward;

impl Backward<Flex, 3> for Conv2dBiasBackward {
    type State = ConvState;

    fn backward(self, ops: Ops<ConvState, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        backward(ops, grads);
    }
}

#[derive(Debug)]
struct Conv2dBackward;

impl Backward<Flex, 2> for Conv2dBackward {
    type State = ConvState;

    fn backward(self, ops: Ops<ConvState, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        backward(ops, grads);
    }
}

impl<C: CheckpointStrategy> Conv2dOps for Autodiff<Flex, C> {
    fn kernels_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        match Conv2dBiasBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let x = dense(x.into_primitive());
                let weight = dense(weight.into_primitive());
                let out = forward_tensor(&x, &weight, Some(&dense(bias.into_primitive())));
                prep.finish(ConvState { x, weight }, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(<Flex as Conv2dOps>::kernels_conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
            )),
        }
    }

    fn kernels_conv2d_no_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        match Conv2dBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let x = dense(x.into_primitive());
                let weight = dense(weight.into_primitive());
                let out = forward_tensor(&x, &weight, None);
                prep.finish(ConvState { x, weight }, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(<Flex as Conv2dOps>::kernels_conv2d_no_bias(
                x.into_primitive(),
                weight.into_primitive(),
            )),
        }
    }
}
