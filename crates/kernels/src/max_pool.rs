//! Max-pool with a 2x2 window, stride 2, no padding (floor mode), NCHW f32: the public
//! function, its Burn backend extension, and the kernel.
//!
//! The forward pass keeps, per output element, which of the four window cells won (a `u8`
//! 0..=3 in row-major window order); the backward pass writes every input-gradient element
//! (the output gradient where that cell won, 0 elsewhere), so it needs no zeroed buffer and no
//! scatter. Both write into uninitialised memory (`MaybeUninit<f32>`), which becomes a
//! `Vec<f32>` only once every element is written. Both are branch-free (selects, not jumps):
//! on real activations the winning cell is unpredictable and branches mispredict half the time.
//!
//! Ties go to the first cell in window order, as in Burn's own max-pool. A NaN anywhere in
//! a window makes that output NaN.

use core::mem::MaybeUninit;
use std::sync::Arc;

use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::{Backend, Dispatch, Flex, backend_extension, tensor::FloatTensor};
use burn::tensor::Tensor;
use burn::tensor::module::max_pool2d as burn_max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn_flex::FlexTensor;
use rayon::prelude::*;

use crate::flex::{dense, dims, f32s, on_flex_f32, tensor_from_vec};
use crate::util::{multiversion, vec_written_by};

/// Max-pool with a 2x2 window and stride 2, no padding, floor mode: `[n, c, h, w]` ->
/// `[n, c, h/2, w/2]`. Same result as `burn::tensor::module::max_pool2d` with those options
/// (ties go to the first window cell; NaN propagates), which it calls instead when `x` is not
/// f32 on Flex.
pub fn max_pool_2x2(x: Tensor<4>) -> Tensor<4> {
    if !on_flex_f32(&x) {
        return burn_max_pool2d(x, MaxPoolOptions::new([2, 2]));
    }
    Tensor::from_dispatch(<Dispatch as MaxPoolOps>::kernels_max_pool_2x2(
        x.into_dispatch(),
    ))
}

/// The max-pool kernel as a Burn backend extension (see `Conv2dOps` for how the dispatch works).
#[backend_extension(Flex, Autodiff)]
pub trait MaxPoolOps: Backend {
    /// Max-pool 2x2, stride 2, floor mode.
    fn kernels_max_pool_2x2(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

fn forward_tensor(x: &FlexTensor) -> (FlexTensor, Vec<u8>) {
    let [n, c, h, w] = dims::<4>(x);
    let (out, idx) = forward(f32s(x), n * c, h, w);
    (tensor_from_vec(out, [n, c, h / 2, w / 2]), idx)
}

impl MaxPoolOps for Flex {
    fn kernels_max_pool_2x2(x: FlexTensor) -> FlexTensor {
        forward_tensor(&dense(x)).0
    }
}

/// The backward state: the winners and the input shape.
#[derive(Clone, Debug)]
struct PoolState {
    idx: Arc<Vec<u8>>,
    shape: [usize; 4],
}

#[derive(Debug)]
struct MaxPool2x2Backward;

impl Backward<Flex, 1> for MaxPool2x2Backward {
    type State = PoolState;

    fn backward(self, ops: Ops<PoolState, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = dense(grads.consume::<Flex>(&ops.node));
        let [parent] = ops.parents;
        if let Some(node) = parent {
            let [n, c, h, w] = ops.state.shape;
            let dx = backward(f32s(&grad), &ops.state.idx, n * c, h, w);
            grads.register::<Flex>(node.id, tensor_from_vec(dx, [n, c, h, w]));
        }
    }
}

impl<C: CheckpointStrategy> MaxPoolOps for Autodiff<Flex, C> {
    fn kernels_max_pool_2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match MaxPool2x2Backward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let x = dense(x.into_primitive());
                let shape = dims::<4>(&x);
                let (out, idx) = forward_tensor(&x);
                let state = PoolState {
                    idx: Arc::new(idx),
                    shape,
                };
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(<Flex as MaxPoolOps>::kernels_max_pool_2x2(
                x.into_primitive(),
            )),
        }
    }
}

/// Lanes per block: the main loops work on 8 outputs at a time on fixed-size arrays, which
/// LLVM turns into vector compares and bitwise selects (one AVX2 register, two SSE/NEON ones).
const L: usize = 8;

/// All-ones if `cond`, else zero: a mask for branch-free selects.
#[inline(always)]
fn mask(cond: bool) -> u32 {
    (cond as u32).wrapping_neg()
}

/// `max` with NaN propagation and the winner's window cell, without branches: `b` wins if it
/// is larger or NaN. (Plain `if`s, and even bit-mask selects, compiled to jumps here, which
/// mispredict on real data and made this 4x slower; `f32::max` would drop NaNs.)
#[inline(always)]
fn pick(a: f32, ia: u8, b: f32, ib: u8) -> (f32, u8) {
    let take_b = (b > a) | b.is_nan(); // `|`, not `||`: no short-circuit jump
    (
        core::hint::select_unpredictable(take_b, b, a),
        core::hint::select_unpredictable(take_b, ib, ia),
    )
}

/// One output: the 2x2 window whose top-left cell is `r0[2j]`.
#[inline(always)]
fn window(r0: &[f32], r1: &[f32], j: usize) -> (f32, u8) {
    let top = pick(r0[2 * j], 0, r0[2 * j + 1], 1);
    let bottom = pick(r1[2 * j], 2, r1[2 * j + 1], 3);
    // Top first, so ties keep the earlier (top) cell.
    pick(top.0, top.1, bottom.0, bottom.1)
}

/// L consecutive windows: `r0` / `r1` are 2L cells of the window's top / bottom rows.
#[inline(always)]
fn window_block(r0: &[f32], r1: &[f32]) -> ([f32; L], [u8; L]) {
    let mut m = [0.0f32; L];
    let mut i = [0u8; L];
    for l in 0..L {
        (m[l], i[l]) = window(r0, r1, l);
    }
    (m, i)
}

/// Planes per parallel task (a plane is one `[h, w]` image channel).
fn planes_per_task(planes: usize) -> usize {
    // A few tasks per thread: planes are small and the work is memory bound.
    planes
        .div_ceil(4 * rayon::current_num_threads().max(1))
        .max(1)
}

/// Block starts covering `0..ow` with whole blocks of `L`: `0, L, 2L, ...` and, when `L`
/// does not divide `ow`, a last block ending at `ow` that overlaps the one before (its
/// windows are simply computed twice). Requires `ow >= L`.
fn block_starts(ow: usize) -> impl Iterator<Item = usize> {
    let full = (0..=ow - L).step_by(L);
    let last = (!ow.is_multiple_of(L)).then_some(ow - L);
    full.chain(last)
}

multiversion! {
    /// Forward over whole planes: `x` is `[planes, h, w]`, `out` / `idx` `[planes, h/2, w/2]`.
    /// Writes every element of `out` that has a plane of `x`.
    fn forward_planes(
        x: &[f32],
        out: &mut [MaybeUninit<f32>],
        idx: &mut [u8],
        h: usize,
        w: usize,
    ) {
        let (oh, ow) = (h / 2, w / 2);
        let out_plane = oh * ow;
        for ((out, idx), x) in out
            .chunks_mut(out_plane)
            .zip(idx.chunks_mut(out_plane))
            .zip(x.chunks(h * w))
        {
            for y in 0..oh {
                let r0 = &x[2 * y * w..][..2 * ow];
                let r1 = &x[(2 * y + 1) * w..][..2 * ow];
                let o = &mut out[y * ow..][..ow];
                let id = &mut idx[y * ow..][..ow];
                if ow < L {
                    // Rows shorter than a block (LeNet's second pool): one zero-padded block.
                    // (Measured faster than one window at a time, which compiles to jumps,
                    // and than gathering windows across rows into a block.)
                    let mut p0 = [0.0f32; 2 * L];
                    let mut p1 = [0.0f32; 2 * L];
                    p0[..2 * ow].copy_from_slice(r0);
                    p1[..2 * ow].copy_from_slice(r1);
                    let (m, i) = window_block(&p0, &p1);
                    o.copy_from_slice(&m.map(MaybeUninit::new)[..ow]);
                    id.copy_from_slice(&i[..ow]);
                    continue;
                }
                for j0 in block_starts(ow) {
                    let (m, i) = window_block(&r0[2 * j0..][..2 * L], &r1[2 * j0..][..2 * L]);
                    o[j0..j0 + L].copy_from_slice(&m.map(MaybeUninit::new));
                    id[j0..j0 + L].copy_from_slice(&i);
                }
            }
        }
    }
}

multiversion! {
    /// Backward over whole planes: `grad` / `idx` `[planes, h/2, w/2]`, `dx` `[planes, h, w]`.
    /// Writes every element of `dx` that has a plane of `grad` (`h / 2 * w / 2 > 0`).
    fn backward_planes(
        grad: &[f32],
        idx: &[u8],
        dx: &mut [MaybeUninit<f32>],
        h: usize,
        w: usize,
    ) {
        let (oh, ow) = (h / 2, w / 2);
        let out_plane = oh * ow;
        for ((dx, g), id) in dx
            .chunks_mut(h * w)
            .zip(grad.chunks(out_plane))
            .zip(idx.chunks(out_plane))
        {
            for y in 0..oh {
                let (r0, r1) = dx[2 * y * w..][..2 * w].split_at_mut(w);
                let (g, id) = (&g[y * ow..][..ow], &id[y * ow..][..ow]);
                if ow < L {
                    for j in 0..ow {
                        let c = scatter(g[j], id[j]).map(MaybeUninit::new);
                        (r0[2 * j], r0[2 * j + 1]) = (c[0], c[1]);
                        (r1[2 * j], r1[2 * j + 1]) = (c[2], c[3]);
                    }
                } else {
                    for j0 in block_starts(ow) {
                        let gb: [f32; L] = g[j0..j0 + L].try_into().unwrap();
                        let ib: [u8; L] = id[j0..j0 + L].try_into().unwrap();
                        let mut top = [0.0f32; 2 * L];
                        let mut bottom = [0.0f32; 2 * L];
                        for l in 0..L {
                            let c = scatter(gb[l], ib[l]);
                            (top[2 * l], top[2 * l + 1]) = (c[0], c[1]);
                            (bottom[2 * l], bottom[2 * l + 1]) = (c[2], c[3]);
                        }
                        r0[2 * j0..][..2 * L].copy_from_slice(&top.map(MaybeUninit::new));
                        r1[2 * j0..][..2 * L].copy_from_slice(&bottom.map(MaybeUninit::new));
                    }
                }
            }
            zero_uncovered(dx, h, w);
        }
    }
}

/// Zeroes the input-gradient cells no window covers: the last column if `w` is odd, the last
/// row if `h` is odd.
fn zero_uncovered(dx: &mut [MaybeUninit<f32>], h: usize, w: usize) {
    if w % 2 == 1 {
        for r in 0..h {
            dx[r * w + w - 1] = MaybeUninit::new(0.0);
        }
    }
    if h % 2 == 1 {
        dx[(h - 1) * w..].fill(MaybeUninit::new(0.0));
    }
}

/// Forward. `x` is `[planes, h, w]`; returns the `[planes, h/2, w/2]` maxima and the winning
/// window cell (0..=3, row-major) of each.
fn forward(x: &[f32], planes: usize, h: usize, w: usize) -> (Vec<f32>, Vec<u8>) {
    assert_eq!(x.len(), planes * h * w);
    let out_plane = (h / 2) * (w / 2);
    let mut idx = vec![0u8; planes * out_plane];
    if out_plane == 0 {
        return (Vec::new(), idx);
    }
    let per_task = planes_per_task(planes);
    // SAFETY: out_plane > 0, so h * w > 0 and, with x.len() == planes * h * w (asserted), the
    // chunks of out, idx and x pair up one to one, plane for plane; forward_planes writes every
    // output row of each plane whole (one padded block when ow < L, else blocks from
    // block_starts, which cover 0..ow).
    let out = unsafe {
        vec_written_by(planes * out_plane, |out| {
            out.par_chunks_mut(per_task * out_plane)
                .zip(idx.par_chunks_mut(per_task * out_plane))
                .zip(x.par_chunks(per_task * h * w))
                .for_each(|((out, idx), x)| forward_planes(x, out, idx, h, w));
        })
    };
    (out, idx)
}

/// The four input-gradient cells of one window: `g` in the winner, 0 elsewhere.
#[inline(always)]
fn scatter(g: f32, i: u8) -> [f32; 4] {
    core::array::from_fn(|cell| f32::from_bits(g.to_bits() & mask(i == cell as u8)))
}

/// Backward. `grad` is the `[planes, h/2, w/2]` output gradient and `idx` the forward's
/// winners; returns the `[planes, h, w]` input gradient.
fn backward(grad: &[f32], idx: &[u8], planes: usize, h: usize, w: usize) -> Vec<f32> {
    let out_plane = (h / 2) * (w / 2);
    assert_eq!(grad.len(), planes * out_plane);
    assert_eq!(idx.len(), planes * out_plane);
    if out_plane == 0 {
        return vec![0.0; planes * h * w]; // no window: no gradient
    }
    let per_task = planes_per_task(planes);
    // SAFETY: out_plane > 0, so h * w > 0 and, with grad.len() == idx.len() ==
    // planes * out_plane (asserted), the chunks of dx, grad and idx pair up one to one, plane
    // for plane; backward_planes writes rows 2y and 2y + 1 (y < h / 2), columns 0..2 * (w / 2),
    // of each plane, and zero_uncovered the rest (last column if w is odd, last row if h is).
    unsafe {
        vec_written_by(planes * h * w, |dx| {
            dx.par_chunks_mut(per_task * h * w)
                .zip(grad.par_chunks(per_task * out_plane))
                .zip(idx.par_chunks(per_task * out_plane))
                .for_each(|((dx, g), id)| backward_planes(g, id, dx, h, w));
        })
    }
}
