//! Direct (no im2col, no gemm) conv2d forward and weight gradient for layers whose reduction
//! `c_in * k * k` is too short for gemm to pay off: LeNet's first layer (1 -> 20 or 6
//! channels, 5x5, reduction 25). Same conventions and results as `gemm.rs`.
//!
//! Written with AVX2 + FMA intrinsics: register tiles of 8-lane vectors (12 accumulators in
//! the forward, 2k in the weight gradient). A portable version of the same loops on
//! fixed-size arrays was 3-5x slower (LLVM spilled the accumulators to the stack), so on CPUs
//! without AVX2 + FMA, and on other architectures, [`suits`] says no and the im2col + gemm
//! path (the gemm crate dispatches its own SIMD at run time) runs instead.
//!
//! The input image is first copied into a zero-padded scratch plane so that every block,
//! including a short last block of a row, reads whole vectors without bounds checks.

// Off x86-64 only `suits` (always false) is reachable; the tiling helpers are unused there.
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

use core::mem::MaybeUninit;

use rayon::prelude::*;

use super::shape::{ConvDims, pad_image};
use crate::util::{copy_short, has_avx2_fma, images_per_task, sum, sum_partials, vec_written_by};

/// Lanes per vector.
const B: usize = 8;
/// Output channels per forward register tile. With `NB` (2 or 3) vectors of columns that is
/// at most 9 accumulators + 3 input vectors + 1 weight broadcast = 13 of the 16 AVX2
/// registers. (4 x 3 tiles need all 16 and LLVM spills an accumulator: 3x slower.)
const CO: usize = 3;

/// Vectors per forward row tile: 3 (24 columns) or 2 (16), whichever pads the output row
/// less (24 -> 3 x 8 for caffe2, 28 -> 2 x 16 for LeNet-5); ties go to 3.
fn forward_tile_vectors(ow: usize) -> usize {
    let pad = |nb: usize| ow.div_ceil(nb * B) * nb * B;
    if pad(3) <= pad(2) { 3 } else { 2 }
}
/// Output channels per weight-gradient tile: CG x k accumulators (10 for k = 5).
const CG: usize = 2;

/// Whether the direct kernels should run for these sizes: small reduction, kernel size the
/// register tiles are instantiated for.
pub(crate) fn suits(d: &ConvDims) -> bool {
    d.kk() <= 75 && matches!(d.k, 1 | 3 | 5) && has_avx2_fma()
}

/// Width of the padded scratch rows: output columns rounded up to whole tiles, plus the
/// kernel's reach.
fn padded_width(d: &ConvDims, tile: usize) -> usize {
    d.ow().div_ceil(tile) * tile + d.k - 1
}

#[cfg(target_arch = "x86_64")]
// Register tiles are indexed by constant loop counters on purpose: fully unrolled, each
// `acc[c][j]` becomes one named register.
#[allow(clippy::needless_range_loop)]
mod avx2 {
    use super::{B, CG, CO, ConvDims};
    use crate::util::copy_short;
    use core::mem::MaybeUninit;
    use std::arch::x86_64::*;

    /// The forward for one padded image of `K x K` kernels: writes every element of
    /// `y [c_out, oh, ow]` (and reads none). `xp` is the
    /// image `[c_in, h, wp]` with rows zero-padded to `wp >= ceil(ow / (NB * B)) * NB * B + K - 1`
    /// (asserted, as are `K == d.k` and the length of `xp`: the unchecked loads rely on them).
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn forward_image<const K: usize, const NB: usize>(
        xp: &[f32],
        wp: usize,
        weight: &[f32],
        bias: Option<&[f32]>,
        d: &ConvDims,
        y: &mut [MaybeUninit<f32>],
    ) {
        const { assert!(NB >= 1 && NB <= 3) };
        let (oh, ow, kk) = (d.oh(), d.ow(), d.kk());
        let plane = d.h * wp;
        assert_eq!(K, d.k);
        assert!(wp >= ow.div_ceil(NB * B) * NB * B + K - 1);
        assert!(xp.len() >= d.c_in * plane);
        let mut wt = vec![0.0f32; kk * CO];
        for co0 in (0..d.c_out).step_by(CO) {
            let nco = CO.min(d.c_out - co0);
            // wt[tap][c]: this tile's weights, tap-major; zero for missing channels.
            for tap in 0..kk {
                for c in 0..CO {
                    wt[tap * CO + c] = if c < nco {
                        weight[(co0 + c) * kk + tap]
                    } else {
                        0.0
                    };
                }
            }
            let b: [f32; CO] = core::array::from_fn(|c| {
                if c < nco {
                    bias.map_or(0.0, |b| b[co0 + c])
                } else {
                    0.0
                }
            });
            for oy in 0..oh {
                for ox0 in (0..ow).step_by(NB * B) {
                    // SAFETY: the CPU has AVX2 + FMA (this fn's contract). Loads from xp: channel
                    // ci < c_in, row oy + kh <= oh - 1 + K - 1 = h - 1 (K == d.k), columns
                    // ox0 + kw + j * B + 7 <= ceil(ow / (NB * B)) * NB * B + K - 2 < wp, so every
                    // index is below c_in * h * wp <= xp.len() (all asserted above). Loads from
                    // wt: (ci * K + kh) * K * CO + kw * CO + c < c_in * K * K * CO = wt.len().
                    let acc = unsafe {
                        let mut acc = [[_mm256_setzero_ps(); NB]; CO];
                        for c in 0..CO {
                            acc[c] = [_mm256_set1_ps(b[c]); NB];
                        }
                        for ci in 0..d.c_in {
                            for kh in 0..K {
                                let row = xp.as_ptr().add(ci * plane + (oy + kh) * wp + ox0);
                                let wrow = wt.as_ptr().add((ci * K + kh) * K * CO);
                                for kw in 0..K {
                                    let xs: [__m256; NB] = core::array::from_fn(|j| {
                                        _mm256_loadu_ps(row.add(kw + j * B))
                                    });
                                    for c in 0..CO {
                                        let wv = _mm256_broadcast_ss(&*wrow.add(kw * CO + c));
                                        for j in 0..NB {
                                            acc[c][j] = _mm256_fmadd_ps(wv, xs[j], acc[c][j]);
                                        }
                                    }
                                }
                            }
                        }
                        acc
                    };
                    let n = (NB * B).min(ow - ox0);
                    for (c, acc) in acc.iter().enumerate().take(nco) {
                        let mut lanes = [0.0f32; 3 * B];
                        for j in 0..NB {
                            // SAFETY: lanes holds 3 * B >= NB * B floats; AVX2 as above.
                            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr().add(j * B), acc[j]) };
                        }
                        let lanes = lanes.map(MaybeUninit::new);
                        copy_short(&mut y[(co0 + c) * oh * ow + oy * ow + ox0..][..n], &lanes);
                    }
                }
            }
        }
    }

    /// Adds one padded image's weight gradient for `K x K` kernels into `dw`:
    /// `dw[co][ci][kh][kw] += sum_{oy, ox} g[co][oy][ox] * x[ci][oy + kh][ox + kw]`.
    /// `gp` is the output gradient `[c_out, oh, gw]` with rows zero-padded to `gw` (a multiple
    /// of `B`, at least `ow`), `xp` the image `[c_in, h, wp]` with `wp >= gw + K - 1` (all
    /// asserted, as is `K == d.k`: the unchecked loads rely on them).
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn weight_grad_image<const K: usize>(
        xp: &[f32],
        wp: usize,
        gp: &[f32],
        gw: usize,
        d: &ConvDims,
        dw: &mut [f32],
    ) {
        let oh = d.oh();
        let plane = d.h * wp;
        assert_eq!(K, d.k);
        assert!(gw.is_multiple_of(B) && gw >= d.ow() && wp >= gw + K - 1);
        assert!(xp.len() >= d.c_in * plane && gp.len() >= d.c_out * oh * gw);
        for co0 in (0..d.c_out).step_by(CG) {
            let nco = CG.min(d.c_out - co0);
            for ci in 0..d.c_in {
                for kh in 0..K {
                    // SAFETY: the CPU has AVX2 + FMA (this fn's contract). Loads from xp: channel
                    // ci < c_in, row oy + kh <= h - 1 (K == d.k), columns
                    // ox0 + kw + 7 <= gw - B + K - 1 + 7 < wp, so below c_in * h * wp <= xp.len().
                    // Loads from gp: channel co0 + min(c, nco - 1) < c_out, row oy < oh, columns
                    // ox0 + 7 < gw, so below c_out * oh * gw <= gp.len() (all asserted above).
                    let acc = unsafe {
                        let mut acc = [[_mm256_setzero_ps(); K]; CG];
                        for oy in 0..oh {
                            let xrow = xp.as_ptr().add(ci * plane + (oy + kh) * wp);
                            let grows: [*const f32; CG] = core::array::from_fn(|c| {
                                gp.as_ptr().add((co0 + c.min(nco - 1)) * oh * gw + oy * gw)
                            });
                            for ox0 in (0..gw).step_by(B) {
                                let gs: [__m256; CG] =
                                    core::array::from_fn(|c| _mm256_loadu_ps(grows[c].add(ox0)));
                                for kw in 0..K {
                                    let xv = _mm256_loadu_ps(xrow.add(ox0 + kw));
                                    for c in 0..CG {
                                        acc[c][kw] = _mm256_fmadd_ps(gs[c], xv, acc[c][kw]);
                                    }
                                }
                            }
                        }
                        acc
                    };
                    for (c, acc) in acc.iter().enumerate().take(nco) {
                        for (kw, v) in acc.iter().enumerate() {
                            let mut lanes = [0.0f32; B];
                            // SAFETY: lanes holds B floats; AVX2 as above.
                            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), *v) };
                            dw[(((co0 + c) * d.c_in + ci) * K + kh) * K + kw] +=
                                lanes.iter().sum::<f32>();
                        }
                    }
                }
            }
        }
    }
}

/// Forward of a run of images (only called when [`suits`]): writes every element of `y`, one
/// image per `in_len` floats of `x`.
fn forward_images(
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    d: &ConvDims,
    y: &mut [MaybeUninit<f32>],
) {
    #[cfg(target_arch = "x86_64")]
    {
        let nb = forward_tile_vectors(d.ow());
        let wp = padded_width(d, nb * B);
        // Rewritten by pad_image for each image.
        let mut xp = vec![0.0f32; d.c_in * d.h * wp];
        let in_len = d.c_in * d.h * d.w;
        let out_len = d.c_out * d.p();
        for (x, y) in x.chunks(in_len).zip(y.chunks_mut(out_len)) {
            pad_image(x, d, wp, &mut xp);
            // SAFETY: the CPU has AVX2 + FMA: forward() asserts suits(), which checks
            // has_avx2_fma(). (The kernel asserts the padding it relies on.)
            unsafe {
                match (d.k, nb) {
                    (1, 2) => avx2::forward_image::<1, 2>(&xp, wp, weight, bias, d, y),
                    (1, _) => avx2::forward_image::<1, 3>(&xp, wp, weight, bias, d, y),
                    (3, 2) => avx2::forward_image::<3, 2>(&xp, wp, weight, bias, d, y),
                    (3, _) => avx2::forward_image::<3, 3>(&xp, wp, weight, bias, d, y),
                    (5, 2) => avx2::forward_image::<5, 2>(&xp, wp, weight, bias, d, y),
                    (5, _) => avx2::forward_image::<5, 3>(&xp, wp, weight, bias, d, y),
                    (k, _) => unreachable!("direct conv not instantiated for k = {k}"),
                }
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (x, weight, bias, d, y);
        unreachable!("suits() is false off x86-64");
    }
}

/// Forward: same contract as `gemm::forward`; requires [`suits`].
pub(crate) fn forward(x: &[f32], weight: &[f32], bias: Option<&[f32]>, d: ConvDims) -> Vec<f32> {
    assert!(suits(&d));
    let (in_len, out_len) = (d.c_in * d.h * d.w, d.c_out * d.p());
    assert_eq!(x.len(), d.n * in_len);
    let per_task = images_per_task(d.n);
    // SAFETY: with x.len() == n * in_len (asserted), the chunks of y and x pair up one to one,
    // image for image, and forward_image writes every element of each image's output: every
    // output channel (tiles of CO, the last one nco wide), every row, and columns 0..ow
    // (tiles of NB * B, the last one n wide).
    unsafe {
        vec_written_by(d.n * out_len, |y| {
            y.par_chunks_mut(per_task * out_len)
                .zip(x.par_chunks(per_task * in_len))
                .for_each(|(y, x)| forward_images(x, weight, bias, &d, y));
        })
    }
}

/// Weight (and bias) gradient of a run of images, added into `dw` / `db` (only called when
/// [`suits`]).
fn weight_grad_images(x: &[f32], g: &[f32], d: &ConvDims, dw: &mut [f32], db: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        let gw = d.ow().div_ceil(B) * B;
        let wp = padded_width(d, B);
        let (oh, ow) = (d.oh(), d.ow());
        // Rewritten by pad_image / the padding loop below, per image.
        let mut xp = vec![0.0f32; d.c_in * d.h * wp];
        let mut gp = vec![0.0f32; d.c_out * oh * gw];
        let in_len = d.c_in * d.h * d.w;
        let out_len = d.c_out * d.p();
        for (x, g) in x.chunks(in_len).zip(g.chunks(out_len)) {
            pad_image(x, d, wp, &mut xp);
            for (src, dst) in g.chunks(ow).zip(gp.chunks_mut(gw)) {
                copy_short(&mut dst[..ow], src);
                dst[ow..].iter_mut().for_each(|v| *v = 0.0);
            }
            // SAFETY: the CPU has AVX2 + FMA: backward_weight() asserts suits(), which checks
            // has_avx2_fma(). (The kernel asserts the padding it relies on.)
            unsafe {
                match d.k {
                    1 => avx2::weight_grad_image::<1>(&xp, wp, &gp, gw, d, dw),
                    3 => avx2::weight_grad_image::<3>(&xp, wp, &gp, gw, d, dw),
                    5 => avx2::weight_grad_image::<5>(&xp, wp, &gp, gw, d, dw),
                    k => unreachable!("direct conv not instantiated for k = {k}"),
                }
            }
            for (acc, plane) in db.iter_mut().zip(gp.chunks(oh * gw)) {
                *acc += sum(plane);
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (x, g, d, dw, db);
        unreachable!("suits() is false off x86-64");
    }
}

/// Weight and bias gradients: same contract as `gemm::backward_weight`; requires [`suits`].
pub(crate) fn backward_weight(
    x: &[f32],
    grad: &[f32],
    d: ConvDims,
    with_bias: bool,
) -> (Vec<f32>, Option<Vec<f32>>) {
    assert!(suits(&d));
    let (in_len, out_len) = (d.c_in * d.h * d.w, d.c_out * d.p());
    let per_task = images_per_task(d.n);
    let partials: Vec<(Vec<f32>, Vec<f32>)> = x
        .par_chunks(per_task * in_len)
        .zip(grad.par_chunks(per_task * out_len))
        .map(|(x, g)| {
            let mut dw = vec![0.0f32; d.c_out * d.kk()];
            let mut db = vec![0.0f32; d.c_out];
            weight_grad_images(x, g, &d, &mut dw, &mut db);
            (dw, db)
        })
        .collect();
    let (dw, db) = sum_partials(partials, d.c_out * d.kk(), d.c_out);
    (dw, with_bias.then_some(db))
}

#[cfg(test)]
mod tests {
    use super::super::gemm;
    use super::*;

    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect()
    }

    fn close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= 1e-4 * y.abs().max(1.0), "[{i}] {x} vs {y}");
        }
    }

    /// The direct kernels agree with the im2col + gemm path on every tile remainder: channel
    /// counts around the register tiles, widths around 8 / 16 / 24 columns.
    #[test]
    fn direct_matches_gemm() {
        if !has_avx2_fma() {
            return;
        }
        let mut seed = 1;
        for k in [1, 3, 5] {
            for c_in in [1, 2, 3] {
                for c_out in [1, 2, 3, 4, 5, 7] {
                    for w in [k, k + 3, k + 7, k + 8, k + 15, k + 16, k + 23, k + 27] {
                        let d = ConvDims {
                            n: 3,
                            c_in,
                            h: k + 2,
                            w,
                            c_out,
                            k,
                        };
                        assert!(suits(&d));
                        seed += 1;
                        let x = values(d.n * c_in * d.h * d.w, seed);
                        let wt = values(c_out * d.kk(), seed + 100);
                        let b = values(c_out, seed + 200);
                        let g = values(d.n * c_out * d.p(), seed + 300);
                        close(
                            &forward(&x, &wt, Some(&b), d),
                            &gemm::forward(&x, &wt, Some(&b), d),
                        );
                        let (dw, db) = backward_weight(&x, &g, d, true);
                        let (dw2, db2) = gemm::backward_weight(&x, &g, d, true);
                        close(&dw, &dw2);
                        close(&db.unwrap(), &db2.unwrap());
                    }
                }
            }
        }
    }
}
