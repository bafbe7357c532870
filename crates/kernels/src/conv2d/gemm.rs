//! conv2d by im2col + gemm, for any size: forward, and the gradients with respect to input,
//! weight and bias. The fallback behind the faster special cases in `direct.rs` and `sparse.rs`.
//!
//! The batch is cut into one contiguous slice per rayon thread; each thread walks its images
//! with a private im2col buffer and single-threaded `gemm` calls, so the two cores never
//! contend for one matrix product and partial weight gradients are summed once at the end.
//!
//! im2col layout: `cols[kk][p]`, `kk = (ci, kh, kw)` in the weight's own order, `p = (oh, ow)`.
//! Filling it copies whole output rows (`ow` contiguous) and `col2im` adds whole rows back, so
//! both stay vectorised; the gemm crate takes any strides, so no transposes are materialised.

use rayon::prelude::*;

use super::shape::ConvDims;
use crate::util::{copy_short, gemm, images_per_task, multiversion, sum, sum_partials};

/// `dst += src` on a short row: whole 8-float blocks (one vector add each; left to itself LLVM
/// picks 4-wide adds with a runtime trip count here), then the rest one by one.
#[inline(always)]
fn add_row(dst: &mut [f32], src: &[f32]) {
    let n = dst.len();
    let src = &src[..n];
    let blocks = n / 8 * 8;
    for i in (0..blocks).step_by(8) {
        let a: [f32; 8] = dst[i..i + 8].try_into().unwrap();
        let b: [f32; 8] = src[i..i + 8].try_into().unwrap();
        dst[i..i + 8].copy_from_slice(&core::array::from_fn::<f32, 8, _>(|l| a[l] + b[l]));
    }
    for i in blocks..n {
        dst[i] += src[i];
    }
}

multiversion! {
    /// im2col of `nb` consecutive images: `cols[kk][i * p + q] = x_i[ci][oh + kh][ow + kw]`
    /// (`q = (oh, ow)`), so row `kk` holds position `q` of every image, image after image.
    fn im2col(x: &[f32], nb: usize, d: &ConvDims, cols: &mut [f32]) {
        let (k, h, w, oh, ow, p) = (d.k, d.h, d.w, d.oh(), d.ow(), d.p());
        let row_len = nb * p;
        for (i, x) in x.chunks(d.in_len()).take(nb).enumerate() {
            for ci in 0..d.c_in {
                let plane = &x[ci * h * w..][..h * w];
                for kh in 0..k {
                    for kw in 0..k {
                        let row = &mut cols[((ci * k + kh) * k + kw) * row_len + i * p..][..p];
                        for y in 0..oh {
                            copy_short(&mut row[y * ow..][..ow], &plane[(y + kh) * w + kw..]);
                        }
                    }
                }
            }
        }
    }
}

multiversion! {
    /// Inverse of [`im2col`]: `dx_i[ci][oh + kh][ow + kw] += dcols[kk][i * p + q]`
    /// (`dx` must be zeroed first).
    fn col2im(dcols: &[f32], nb: usize, d: &ConvDims, dx: &mut [f32]) {
        let (k, h, w, oh, ow, p) = (d.k, d.h, d.w, d.oh(), d.ow(), d.p());
        let row_len = nb * p;
        // kw outermost: the rows one kw adds to are re-read only after a whole sweep of the
        // image. (With kw innermost, each add read a row the previous kw had just stored one
        // float to the side, and store-to-load forwarding failed on every such overlap.)
        for (i, dx) in dx.chunks_mut(d.in_len()).take(nb).enumerate() {
            for kw in 0..k {
                for ci in 0..d.c_in {
                    let plane = &mut dx[ci * h * w..][..h * w];
                    for kh in 0..k {
                        let row = &dcols[((ci * k + kh) * k + kw) * row_len + i * p..][..p];
                        for y in 0..oh {
                            add_row(&mut plane[(y + kh) * w + kw..][..ow], &row[y * ow..]);
                        }
                    }
                }
            }
        }
    }
}

/// `gt[co][i * p + q] = g_i[co][q]`: the output gradient of `nb` images with channels
/// outermost, so one gemm can contract over every position of every image.
fn gather_channels(g: &[f32], nb: usize, d: &ConvDims, gt: &mut [f32]) {
    let p = d.p();
    for (i, g) in g.chunks(d.out_len()).take(nb).enumerate() {
        for (co, row) in g.chunks(p).enumerate() {
            copy_short(&mut gt[co * nb * p + i * p..][..p], row);
        }
    }
}

/// Images per gemm in the backward passes: enough that the contraction over positions is
/// about one gemm k-block (512) long, so weights are packed and the weight gradient is
/// read and written once per ~512 positions instead of once per image.
fn sub_batch(d: &ConvDims, per_task: usize) -> usize {
    (512 / d.p()).clamp(1, per_task)
}

/// Forward by im2col + gemm, one image per gemm: `y_n = w · cols_n` (+ bias).
pub(crate) fn forward(x: &[f32], weight: &[f32], bias: Option<&[f32]>, d: ConvDims) -> Vec<f32> {
    assert_eq!(x.len(), d.n * d.in_len());
    assert_eq!(weight.len(), d.c_out * d.kk());
    let (p, kk) = (d.p(), d.kk());
    // Every element is overwritten: by the bias fill, or by the gemm with accumulate = false.
    let mut out = vec![0.0f32; d.n * d.out_len()];
    let per_task = images_per_task(d.n);
    out.par_chunks_mut(per_task * d.out_len())
        .zip(x.par_chunks(per_task * d.in_len()))
        .for_each(|(out, x)| {
            let mut cols = vec![0.0f32; kk * p]; // rewritten by im2col per image
            for (y, x) in out.chunks_mut(d.out_len()).zip(x.chunks(d.in_len())) {
                im2col(x, 1, &d, &mut cols);
                if let Some(b) = bias {
                    for (row, &bv) in y.chunks_mut(p).zip(b) {
                        row.fill(bv);
                    }
                }
                // SAFETY: y (one whole image of `out`) is [c_out × p], weight [c_out × kk]
                // (length asserted above), cols [kk × p], all row-major slices of exactly
                // those lengths; y is a &mut borrow, so it overlaps nothing else.
                unsafe {
                    gemm(
                        d.c_out,
                        p,
                        kk,
                        y.as_mut_ptr(),
                        p,
                        1,
                        bias.is_some(),
                        weight.as_ptr(),
                        kk,
                        1,
                        cols.as_ptr(),
                        p,
                        1,
                    );
                }
            }
        });
    out
}

/// Gradient with respect to the input: `dcols = wᵀ · g` over a sub-batch of images, then
/// `col2im`.
pub(crate) fn backward_input(grad: &[f32], weight: &[f32], d: ConvDims) -> Vec<f32> {
    assert_eq!(grad.len(), d.n * d.out_len());
    assert_eq!(weight.len(), d.c_out * d.kk());
    let (p, kk) = (d.p(), d.kk());
    let mut dx = vec![0.0f32; d.n * d.in_len()];
    let per_task = images_per_task(d.n);
    let nb = sub_batch(&d, per_task);
    dx.par_chunks_mut(per_task * d.in_len())
        .zip(grad.par_chunks(per_task * d.out_len()))
        .for_each(|(dx, g)| {
            // Rewritten for the first `len` images by gather_channels / the gemm.
            let mut gt = vec![0.0f32; d.c_out * nb * p];
            let mut dcols = vec![0.0f32; kk * nb * p];
            for (dx, g) in dx
                .chunks_mut(nb * d.in_len())
                .zip(g.chunks(nb * d.out_len()))
            {
                let len = g.len() / d.out_len();
                let q = len * p;
                gather_channels(g, len, &d, &mut gt);
                // SAFETY: len <= nb, so q <= nb * p: dcols [kk × q] and gt [c_out × q] (row
                // stride q) lie inside their kk * nb * p and c_out * nb * p floats; wᵀ[i][co] =
                // weight[co * kk + i] < c_out * kk = weight.len() (asserted). dcols is a local
                // buffer, distinct from weight and gt.
                unsafe {
                    gemm(
                        kk,
                        q,
                        d.c_out,
                        dcols.as_mut_ptr(),
                        q,
                        1,
                        false,
                        weight.as_ptr(),
                        1,
                        kk,
                        gt.as_ptr(),
                        q,
                        1,
                    );
                }
                col2im(&dcols, len, &d, dx);
            }
        });
    dx
}

/// Weight and bias gradients by im2col + gemm over sub-batches:
/// `dw[co][kk] = sum_n sum_p g_n[co][p] * cols_n[kk][p]`, `db[co] = sum_n sum_p g_n[co][p]`.
pub(crate) fn backward_weight(
    x: &[f32],
    grad: &[f32],
    d: ConvDims,
    with_bias: bool,
) -> (Vec<f32>, Option<Vec<f32>>) {
    assert_eq!(x.len(), d.n * d.in_len());
    assert_eq!(grad.len(), d.n * d.out_len());
    let (p, kk) = (d.p(), d.kk());
    let per_task = images_per_task(d.n);
    let nb = sub_batch(&d, per_task);
    let partials: Vec<(Vec<f32>, Vec<f32>)> = x
        .par_chunks(per_task * d.in_len())
        .zip(grad.par_chunks(per_task * d.out_len()))
        .map(|(x, g)| {
            let mut dw = vec![0.0f32; d.c_out * kk];
            let mut db = vec![0.0f32; if with_bias { d.c_out } else { 0 }];
            // Rewritten for the first `len` images by im2col / gather_channels.
            let mut cols = vec![0.0f32; kk * nb * p];
            let mut gt = vec![0.0f32; d.c_out * nb * p];
            for (x, g) in x.chunks(nb * d.in_len()).zip(g.chunks(nb * d.out_len())) {
                let len = g.len() / d.out_len();
                let q = len * p;
                im2col(x, len, &d, &mut cols);
                gather_channels(g, len, &d, &mut gt);
                // SAFETY: dw is [c_out × kk]; len <= nb, so q <= nb * p: gt [c_out × q] (row
                // stride q) lies inside its c_out * nb * p floats, and colsᵀ[j][i] =
                // cols[i * q + j] < kk * q <= cols.len(). dw is a local buffer, distinct from gt
                // and cols.
                unsafe {
                    gemm(
                        d.c_out,
                        kk,
                        q,
                        dw.as_mut_ptr(),
                        kk,
                        1,
                        true,
                        gt.as_ptr(),
                        q,
                        1,
                        cols.as_ptr(),
                        1,
                        q,
                    );
                }
                for (acc, row) in db.iter_mut().zip(gt.chunks(q)) {
                    *acc += sum(row);
                }
            }
            (dw, db)
        })
        .collect();
    let (dw, db) = sum_partials(partials, d.c_out * d.kk(), d.c_out);
    (dw, with_bias.then_some(db))
}
