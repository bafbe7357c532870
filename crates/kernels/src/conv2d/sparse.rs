//! Weight gradient of conv2d when the output gradient is mostly zeros.
//!
//! In LeNet every convolution feeds a 2x2 max-pool (Caffe2: directly; LeNet-5: through a
//! relu), whose backward passes a gradient to one cell of each window: at least 3/4 of the
//! convolution's output gradient is exactly 0. The dense weight gradient
//! `dw[co][kk] = sum_p g[co][p] * cols[kk][p]` then spends 3/4 of its multiplies on zeros.
//! Here each image's nonzero `(p, g)` pairs are listed per output channel and
//! `dw[co][:] += g * patch_p[:]` is accumulated over them only, with patches stored
//! position-major (`patches[p][kk]`, rows padded to whole vectors) so each term is a run of
//! contiguous vector FMAs into register accumulators.
//!
//! Used when at most [`MAX_DENSITY`] of the gradient is nonzero, the CPU has AVX2 + FMA and
//! `k <= 8`; otherwise [`backward_weight`] returns `None` and a dense path runs.

// Off x86-64 only the early `None` is reachable.
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

use rayon::prelude::*;

use super::shape::ConvDims;
#[cfg(target_arch = "x86_64")]
use super::shape::pad_image;
use crate::util::has_avx2_fma;
#[cfg(target_arch = "x86_64")]
use crate::util::{images_per_task, sum, sum_partials};

/// Largest nonzero fraction of the output gradient for which the sparse path runs. Measured
/// on LeNet's conv2 at 1/4 density the sparse path takes about a third of the dense time;
/// the crossover is near 1/2.
pub(crate) const MAX_DENSITY: f64 = 0.4;

/// Padded patch row length: `kk` plus room for the last row copy's 8-float store.
fn patch_row(d: &ConvDims) -> usize {
    (d.kk() + 8 - d.k).div_ceil(8) * 8
}

/// `patches[p][(ci * k + kh) * k + kw] = xp[ci][oy + kh][ox + kw]` for `p = (oy, ox)`.
///
/// Each `k`-long kernel row is copied as one 8-float store, in increasing address order, so
/// the next store overwrites the `8 - k` extra floats (and the last one lands in the row's
/// padding). `xp` must have at least 7 columns of padding.
fn fill_patches(xp: &[f32], wp: usize, d: &ConvDims, kkp: usize, patches: &mut [f32]) {
    let (k, h, oh, ow) = (d.k, d.h, d.oh(), d.ow());
    for oy in 0..oh {
        for ox in 0..ow {
            let row = &mut patches[(oy * ow + ox) * kkp..][..kkp];
            for ci in 0..d.c_in {
                for kh in 0..k {
                    let src: [f32; 8] = xp[(ci * h + oy + kh) * wp + ox..][..8].try_into().unwrap();
                    row[(ci * k + kh) * k..][..8].copy_from_slice(&src);
                }
            }
        }
    }
}

/// Appends the nonzeros of `row` to `entries[len..]` as `(position, value)`; returns the new
/// length.
///
/// Works on 8 values at a time: a bit mask of the nonzeros (vector compares) and a walk over
/// its set bits. (The one-at-a-time "always write, advance on nonzero" loop serialises on the
/// write index and cost more than the whole accumulation.)
fn compact(row: &[f32], entries: &mut [(u32, f32)], mut len: usize) -> usize {
    let mut chunks = row.chunks_exact(8);
    let mut base = 0u32;
    for c in &mut chunks {
        let mut mask = 0u32;
        for (l, v) in c.iter().enumerate() {
            mask |= ((*v != 0.0) as u32) << l;
        }
        while mask != 0 {
            let l = mask.trailing_zeros();
            entries[len] = (base + l, c[l as usize]);
            len += 1;
            mask &= mask - 1;
        }
        base += 8;
    }
    for (l, &v) in chunks.remainder().iter().enumerate() {
        if v != 0.0 {
            entries[len] = (base + l as u32, v);
            len += 1;
        }
    }
    len
}

/// Number of nonzeros, counted in 8 lanes so it vectorises.
fn count_nonzero(xs: &[f32]) -> usize {
    let mut lanes = [0u32; 8];
    let mut chunks = xs.chunks_exact(8);
    for c in &mut chunks {
        for (n, v) in lanes.iter_mut().zip(c) {
            *n += (*v != 0.0) as u32;
        }
    }
    lanes.iter().map(|&n| n as usize).sum::<usize>()
        + chunks.remainder().iter().filter(|v| **v != 0.0).count()
}

/// Weight and bias gradients, or `None` when the gradient is too dense (or the CPU / `k`
/// unsupported) for this path. Same contract as `gemm::backward_weight`.
pub(crate) fn backward_weight(
    x: &[f32],
    grad: &[f32],
    d: ConvDims,
    with_bias: bool,
) -> Option<(Vec<f32>, Option<Vec<f32>>)> {
    if !has_avx2_fma() || d.k > 8 {
        return None;
    }
    let nonzero: usize = grad.par_chunks(1 << 16).map(count_nonzero).sum();
    if nonzero as f64 > MAX_DENSITY * grad.len() as f64 {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let (p, kk, kkp) = (d.p(), d.kk(), patch_row(&d));
        let (in_len, out_len) = (d.c_in * d.h * d.w, d.c_out * p);
        let wp = d.w + 8;
        let per_task = images_per_task(d.n);
        let partials: Vec<(Vec<f32>, Vec<f32>)> = x
            .par_chunks(per_task * in_len)
            .zip(grad.par_chunks(per_task * out_len))
            .map(|(x, g)| {
                let mut dw = vec![0.0f32; d.c_out * kkp];
                let mut db = vec![0.0f32; d.c_out];
                // Rewritten by pad_image for each image.
                let mut xp = vec![0.0f32; d.c_in * d.h * wp];
                // Zeroed once: the tail of each row past the last store is never written.
                let mut patches = vec![0.0f32; p * kkp];
                // Nonzero (position, gradient) pairs of one image, channel after channel.
                let mut entries = vec![(0u32, 0.0f32); out_len];
                let mut starts = vec![0usize; d.c_out + 1];
                for (x, g) in x.chunks(in_len).zip(g.chunks(out_len)) {
                    pad_image(x, &d, wp, &mut xp);
                    fill_patches(&xp, wp, &d, kkp, &mut patches);
                    let mut len = 0;
                    for (co, row) in g.chunks(p).enumerate() {
                        starts[co] = len;
                        len = compact(row, &mut entries, len);
                        db[co] += sum(row);
                    }
                    starts[d.c_out] = len;
                    // SAFETY: has_avx2_fma() checked at the top. kkp is a multiple of 8
                    // (patch_row). compact only lists indices of `row`, a chunk of at most p
                    // values, so every listed position is < p and its kkp-long row lies inside
                    // `patches` (p * kkp floats); dw has a kkp-long row per channel.
                    unsafe { avx2::accumulate(&patches, kkp, &entries, &starts, &mut dw) };
                }
                (dw, db)
            })
            .collect();
        let (dwp, db) = sum_partials(partials, d.c_out * kkp, d.c_out);
        let dw: Vec<f32> = dwp
            .chunks(kkp)
            .flat_map(|row| &row[..kk])
            .copied()
            .collect();
        Some((dw, with_bias.then_some(db)))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (x, with_bias);
        unreachable!("has_avx2_fma() is false off x86-64")
    }
}

#[cfg(target_arch = "x86_64")]
// Accumulator arrays are indexed by constant loop counters on purpose (one register each).
#[allow(clippy::needless_range_loop)]
mod avx2 {
    use std::arch::x86_64::*;

    /// `dw[co][b..b + 8V] += sum_{(p, g) in list} g * patches[p][b..b + 8V]`, accumulated in
    /// `V` registers.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA (this is only inlined into [`accumulate`]); `dw` must
    /// be valid for reads and writes of `8 * V` floats, and `patches + p * kkp` valid for reads
    /// of `8 * V` floats for every `(p, _)` in `list`; all of them initialised, and the `dw`
    /// floats not overlapping any patch row.
    #[inline(always)]
    unsafe fn block<const V: usize>(
        patches: *const f32,
        kkp: usize,
        list: &[(u32, f32)],
        dw: *mut f32,
    ) {
        // SAFETY: the loads and stores touch exactly the floats the caller guarantees (see
        // `# Safety`), and the caller guarantees AVX2 + FMA.
        unsafe {
            let mut acc: [__m256; V] = core::array::from_fn(|v| _mm256_loadu_ps(dw.add(8 * v)));
            for &(p, g) in list {
                let gv = _mm256_set1_ps(g);
                let row = patches.add(p as usize * kkp);
                for v in 0..V {
                    acc[v] = _mm256_fmadd_ps(gv, _mm256_loadu_ps(row.add(8 * v)), acc[v]);
                }
            }
            for v in 0..V {
                _mm256_storeu_ps(dw.add(8 * v), acc[v]);
            }
        }
    }

    /// For every output channel, adds its listed terms into its padded `dw` row, in column
    /// blocks of up to 64 floats (8 accumulators).
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA, and `patches` must hold a whole `kkp`-long row for
    /// every position listed in `entries[starts[0]..starts[last]]`
    /// (`(p + 1) * kkp <= patches.len()`). (`kkp` being a multiple of 8 is asserted, and `dw`
    /// is sliced with bounds checks.)
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn accumulate(
        patches: &[f32],
        kkp: usize,
        entries: &[(u32, f32)],
        starts: &[usize],
        dw: &mut [f32],
    ) {
        assert!(kkp.is_multiple_of(8));
        debug_assert!(
            entries[starts[0]..starts[starts.len() - 1]]
                .iter()
                .all(|&(p, _)| (p as usize + 1) * kkp <= patches.len())
        );
        for (co, se) in starts.windows(2).enumerate() {
            let list = &entries[se[0]..se[1]];
            if list.is_empty() {
                continue;
            }
            let row = dw[co * kkp..][..kkp].as_mut_ptr();
            let mut b = 0;
            while b < kkp {
                let vectors = ((kkp - b) / 8).min(8);
                // SAFETY: AVX2 + FMA per this fn's contract. vectors >= 1 (b < kkp, both
                // multiples of 8) and b + 8 * vectors <= kkp: the floats read and written lie
                // inside the dw row `row` (a kkp-long slice of dw, exclusive) and inside the
                // kkp-long patch row of each listed position (this fn's contract).
                unsafe {
                    let (pt, dst) = (patches.as_ptr().add(b), row.add(b));
                    match vectors {
                        8 => block::<8>(pt, kkp, list, dst),
                        7 => block::<7>(pt, kkp, list, dst),
                        6 => block::<6>(pt, kkp, list, dst),
                        5 => block::<5>(pt, kkp, list, dst),
                        4 => block::<4>(pt, kkp, list, dst),
                        3 => block::<3>(pt, kkp, list, dst),
                        2 => block::<2>(pt, kkp, list, dst),
                        _ => block::<1>(pt, kkp, list, dst),
                    }
                }
                b += 8 * vectors;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::gemm;
    use super::*;

    fn values(n: usize, seed: u64, density: f64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (s >> 40) as f32 / (1u64 << 24) as f32;
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let keep = ((s >> 40) as f64 / (1u64 << 24) as f64) < density;
                if keep { u - 0.5 } else { 0.0 }
            })
            .collect()
    }

    /// On gradients with 1/4 nonzeros the sparse path agrees with the dense gemm path.
    #[test]
    fn sparse_matches_dense() {
        if !has_avx2_fma() {
            return;
        }
        let mut seed = 7;
        for (c_in, c_out, h, w, k) in [
            (20, 50, 12, 12, 5),
            (6, 16, 14, 14, 5),
            (9, 5, 9, 11, 3),
            (4, 9, 10, 10, 8),
            (5, 3, 13, 9, 7),
        ] {
            let d = ConvDims {
                n: 5,
                c_in,
                h,
                w,
                c_out,
                k,
            };
            seed += 1;
            let x = values(d.n * c_in * h * w, seed, 1.0);
            let g = values(d.n * c_out * d.p(), seed + 50, 0.25);
            let (dw, db) = backward_weight(&x, &g, d, true).expect("sparse path taken");
            let (dw2, db2) = gemm::backward_weight(&x, &g, d, true);
            for (a, b) in dw
                .iter()
                .zip(&dw2)
                .chain(db.unwrap().iter().zip(&db2.unwrap()))
            {
                assert!(
                    (a - b).abs() <= 1e-4 * b.abs().max(1.0),
                    "{d:?}: {a} vs {b}"
                );
            }
        }
        // Dense gradients are declined.
        let d = ConvDims {
            n: 2,
            c_in: 12,
            h: 6,
            w: 6,
            c_out: 3,
            k: 3,
        };
        let x = values(2 * 12 * 36, 1, 1.0);
        assert!(backward_weight(&x, &values(2 * 3 * 16, 2, 1.0), d, true).is_none());
    }
}
