//! Fully connected layer in Burn's layout, `y[b][o] = sum_i x[b][i] * w[i][o] + bias[o]`
//! (`x [batch, d_in]`, `w [d_in, d_out]`): the public function, its Burn backend extension,
//! and the kernels.
//!
//! Each product is one gemm split into as many column (or row) ranges as rayon has threads,
//! each range a single-threaded gemm writing its own part of the result: no reduction, no
//! transposed copies (the gemm crate takes the strides of `wᵀ`, `xᵀ` directly).

use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::{Backend, Dispatch, Flex, backend_extension, tensor::FloatTensor};
use burn::tensor::Tensor;
use burn::tensor::module::linear as burn_linear;
use burn_flex::FlexTensor;
use rayon::prelude::*;

use crate::flex::{dense, dims, f32s, on_flex_f32, tensor_from_vec};
use crate::util::gemm;

/// Multiply-adds (`batch * d_in * d_out`) below which [`linear`] leaves the layer to Burn: for
/// small layers Burn's own op is as fast or faster (measured 0.8-1.0x on LeNet-5's 400->120,
/// 120->84 and 84->10 and Caffe2's 500->10 at batch 64); the custom one wins on Caffe2's
/// 800->500 (25.6 M multiply-adds at batch 64).
pub const LINEAR_MIN_MACS: usize = 4 << 20;

/// Fully connected layer `x [batch, d_in]` · `weight [d_in, d_out]` + `bias [d_out]`, the
/// layout of `burn::nn::Linear` (call it with `fc.weight.val()` and `fc.bias`). Calls
/// `burn::tensor::module::linear` instead when a tensor is not f32 on Flex, without a bias,
/// and below [`LINEAR_MIN_MACS`].
pub fn linear(x: Tensor<2>, weight: Tensor<2>, bias: Option<Tensor<1>>) -> Tensor<2> {
    let [batch, d_in] = x.dims();
    let [_, d_out] = weight.dims();
    match bias {
        Some(b) if batch * d_in * d_out >= LINEAR_MIN_MACS => linear_custom(x, weight, b),
        bias => burn_linear(x, weight, bias),
    }
}

/// [`linear`] without the size policy: the custom kernel whenever the tensors are f32 on Flex
/// (for tests and benchmarks).
pub fn linear_custom(x: Tensor<2>, weight: Tensor<2>, bias: Tensor<1>) -> Tensor<2> {
    if !(on_flex_f32(&x) && on_flex_f32(&weight) && on_flex_f32(&bias)) {
        return burn_linear(x, weight, Some(bias));
    }
    Tensor::from_dispatch(<Dispatch as LinearOps>::kernels_linear(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
    ))
}

/// The linear kernel as a Burn backend extension (see `Conv2dOps` for how the dispatch works).
#[backend_extension(Flex, Autodiff)]
pub trait LinearOps: Backend {
    /// `x [batch, d_in]`, `weight [d_in, d_out]`, `bias [d_out]`.
    fn kernels_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

fn linear_dims(x: &FlexTensor, weight: &FlexTensor) -> LinearDims {
    let [batch, d_in] = dims::<2>(x);
    let [w_in, d_out] = dims::<2>(weight);
    assert_eq!(
        d_in, w_in,
        "linear: input has {d_in} features, weight expects {w_in}"
    );
    LinearDims { batch, d_in, d_out }
}

fn forward_tensor(x: &FlexTensor, weight: &FlexTensor, bias: &FlexTensor) -> FlexTensor {
    let d = linear_dims(x, weight);
    assert_eq!(dims::<1>(bias), [d.d_out], "linear: bias length");
    let y = forward(f32s(x), f32s(weight), f32s(bias), d);
    tensor_from_vec(y, [d.batch, d.d_out])
}

impl LinearOps for Flex {
    fn kernels_linear(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        forward_tensor(&dense(x), &dense(weight), &dense(bias))
    }
}

/// What the backward step needs: the dense forward input and weight.
#[derive(Clone, Debug)]
struct LinearState {
    x: FlexTensor,
    weight: FlexTensor,
}

#[derive(Debug)]
struct LinearBackward;

impl Backward<Flex, 3> for LinearBackward {
    type State = LinearState;

    fn backward(self, ops: Ops<LinearState, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = dense(grads.consume::<Flex>(&ops.node));
        let LinearState { x, weight } = ops.state;
        let d = linear_dims(&x, &weight);
        let [x_node, w_node, b_node] = ops.parents;
        if let Some(node) = x_node {
            let dx = backward_input(f32s(&grad), f32s(&weight), d);
            grads.register::<Flex>(node.id, tensor_from_vec(dx, [d.batch, d.d_in]));
        }
        if w_node.is_some() || b_node.is_some() {
            let (dw, db) = backward_weight(f32s(&x), f32s(&grad), d, b_node.is_some());
            if let Some(node) = w_node {
                grads.register::<Flex>(node.id, tensor_from_vec(dw, [d.d_in, d.d_out]));
            }
            if let (Some(node), Some(db)) = (b_node, db) {
                grads.register::<Flex>(node.id, tensor_from_vec(db, [d.d_out]));
            }
        }
    }
}

impl<C: CheckpointStrategy> LinearOps for Autodiff<Flex, C> {
    fn kernels_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        match LinearBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let x = dense(x.into_primitive());
                let weight = dense(weight.into_primitive());
                let out = forward_tensor(&x, &weight, &dense(bias.into_primitive()));
                prep.finish(LinearState { x, weight }, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(<Flex as LinearOps>::kernels_linear(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
            )),
        }
    }
}

/// Sizes: `x [batch, d_in]`, `w [d_in, d_out]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LinearDims {
    batch: usize,
    d_in: usize,
    d_out: usize,
}

/// Splits `0..n` into one range per rayon thread, in multiples of 16 (the gemm's tile
/// width), so threads never share a tile.
fn ranges(n: usize) -> Vec<(usize, usize)> {
    let parts = rayon::current_num_threads().max(1);
    let step = n.div_ceil(parts).div_ceil(16) * 16;
    (0..n)
        .step_by(step.max(16))
        .map(|s| (s, (s + step).min(n)))
        .collect()
}

/// Raw pointer that may cross threads; each task writes a disjoint column / row range.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: a SendPtr only carries the result buffer's pointer into the tasks of one rayon
// `for_each`, which returns before the buffer is used again; each task writes a range of the
// buffer no other task touches (`ranges` are disjoint).
unsafe impl Send for SendPtr {}
// SAFETY: as for Send: shared only within that `for_each`, for disjoint writes.
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// The pointer. (A method, so closures capture the whole `SendPtr`, not its field.)
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// Forward: `y = x · w + bias`.
fn forward(x: &[f32], w: &[f32], bias: &[f32], d: LinearDims) -> Vec<f32> {
    let LinearDims { batch, d_in, d_out } = d;
    assert_eq!(x.len(), batch * d_in);
    assert_eq!(w.len(), d_in * d_out);
    assert_eq!(bias.len(), d_out);
    // The bias rows, which the gemms accumulate onto.
    let mut y = bias.repeat(batch);
    if y.is_empty() || d_in == 0 {
        return y; // nothing to multiply (and no in-bounds pointer offsets to take below)
    }
    let out = SendPtr(y.as_mut_ptr());
    ranges(d_out).into_par_iter().for_each(|(c0, c1)| {
        // SAFETY: all sizes are nonzero and c0 < c1 <= d_out, so the offsets stay inside
        // their buffers. dst: columns c0..c1 of y [batch × d_out]; rhs: columns c0..c1 of
        // w [d_in × d_out]; lhs: x [batch × d_in] (lengths asserted above). y is this fn's own
        // buffer, not otherwise used during the for_each, and the tasks' column ranges are
        // disjoint.
        unsafe {
            gemm(
                batch,
                c1 - c0,
                d_in,
                out.get().add(c0),
                d_out,
                1,
                true,
                x.as_ptr(),
                d_in,
                1,
                w.as_ptr().add(c0),
                d_out,
                1,
            );
        }
    });
    y
}

/// Gradient with respect to the input: `dx = g · wᵀ`.
fn backward_input(grad: &[f32], w: &[f32], d: LinearDims) -> Vec<f32> {
    let LinearDims { batch, d_in, d_out } = d;
    assert_eq!(grad.len(), batch * d_out);
    assert_eq!(w.len(), d_in * d_out);
    // Overwritten by the gemms.
    let mut dx = vec![0.0f32; batch * d_in];
    if dx.is_empty() || d_out == 0 {
        return dx; // zero (and no in-bounds pointer offsets to take below)
    }
    let out = SendPtr(dx.as_mut_ptr());
    ranges(d_in).into_par_iter().for_each(|(c0, c1)| {
        // SAFETY: all sizes are nonzero and c0 < c1 <= d_in, so the offsets stay inside
        // their buffers. dst: columns c0..c1 of dx [batch × d_in]; rhs: wᵀ[o][i] =
        // w[i * d_out + o] for rows i in c0..c1 of w [d_in × d_out]; lhs: grad [batch × d_out]
        // (lengths asserted above). dx is this fn's own buffer, not otherwise used during the
        // for_each, and the tasks' column ranges are disjoint.
        unsafe {
            gemm(
                batch,
                c1 - c0,
                d_out,
                out.get().add(c0),
                d_in,
                1,
                false,
                grad.as_ptr(),
                d_out,
                1,
                w.as_ptr().add(c0 * d_out),
                1,
                d_out,
            );
        }
    });
    dx
}

/// Gradients with respect to weight and (optionally) bias: `dw = xᵀ · g`,
/// `db[o] = sum_b g[b][o]`.
fn backward_weight(
    x: &[f32],
    grad: &[f32],
    d: LinearDims,
    with_bias: bool,
) -> (Vec<f32>, Option<Vec<f32>>) {
    let LinearDims { batch, d_in, d_out } = d;
    assert_eq!(x.len(), batch * d_in);
    assert_eq!(grad.len(), batch * d_out);
    // Overwritten by the gemms.
    let mut dw = vec![0.0f32; d_in * d_out];
    let out = SendPtr(dw.as_mut_ptr());
    // With a zero size dw is empty or stays zero (and there are no in-bounds pointer offsets
    // to take).
    let parts = if batch > 0 && d_out > 0 {
        ranges(d_in)
    } else {
        Vec::new()
    };
    parts.into_par_iter().for_each(|(r0, r1)| {
        // SAFETY: all sizes are nonzero and r0 < r1 <= d_in, so the offsets stay inside
        // their buffers. dst: rows r0..r1 of dw [d_in × d_out]; lhs: xᵀ[i][b] =
        // x[b * d_in + i] for columns i in r0..r1 of x [batch × d_in]; rhs: grad
        // [batch × d_out] (lengths asserted above). dw is this fn's own buffer, not otherwise
        // used during the for_each, and the tasks' row ranges are disjoint.
        unsafe {
            gemm(
                r1 - r0,
                d_out,
                batch,
                out.get().add(r0 * d_out),
                d_out,
                1,
                false,
                x.as_ptr().add(r0),
                1,
                d_in,
                grad.as_ptr(),
                d_out,
                1,
            );
        }
    });
    let db = with_bias.then(|| {
        let mut db = vec![0.0f32; d_out];
        for row in grad.chunks(d_out.max(1)) {
            db.iter_mut().zip(row).for_each(|(a, g)| *a += g);
        }
        db
    });
    (dw, db)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Zero sizes take the early returns: no gemm, no pointer offsets into empty buffers.
    /// (`d_out = 40` and `d_in = 40` give two ranges with two threads, so with a size of 0
    /// elsewhere a second range would start past the end of an empty operand.)
    #[test]
    fn zero_sizes() {
        for (batch, d_in, d_out) in [(0, 40, 40), (3, 0, 40), (3, 40, 0), (0, 0, 0)] {
            let d = LinearDims { batch, d_in, d_out };
            let x = vec![1.0f32; batch * d_in];
            let w = vec![1.0f32; d_in * d_out];
            let b = vec![0.5f32; d_out];
            let g = vec![1.0f32; batch * d_out];
            assert_eq!(forward(&x, &w, &b, d), vec![0.5; batch * d_out], "{d:?}");
            assert_eq!(backward_input(&g, &w, d), vec![0.0; batch * d_in], "{d:?}");
            let (dw, db) = backward_weight(&x, &g, d, true);
            assert_eq!(dw, vec![0.0; d_in * d_out], "{d:?}");
            assert_eq!(db.unwrap(), vec![batch as f32; d_out], "{d:?}");
        }
    }
}
