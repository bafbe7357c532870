//! The sizes of one convolution, and the zero-padded image copy the AVX2 kernels read from.

use crate::util::copy_short;

/// Sizes of one convolution: input `[n, c_in, h, w]`, weight `[c_out, c_in, k, k]`, stride 1,
/// no padding, so the output is `[n, c_out, h - k + 1, w - k + 1]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConvDims {
    pub n: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub k: usize,
}

impl ConvDims {
    pub fn oh(&self) -> usize {
        self.h - self.k + 1
    }

    pub fn ow(&self) -> usize {
        self.w - self.k + 1
    }

    /// Output positions per image and channel.
    pub fn p(&self) -> usize {
        self.oh() * self.ow()
    }

    /// Reduction length: `c_in * k * k`.
    pub fn kk(&self) -> usize {
        self.c_in * self.k * self.k
    }

    /// Floats per input image.
    pub fn in_len(&self) -> usize {
        self.c_in * self.h * self.w
    }

    /// Floats per output image.
    pub fn out_len(&self) -> usize {
        self.c_out * self.p()
    }
}

/// Copies one image `[c_in, h, w]` into `xp` `[c_in, h, wp]`, zero-filling columns `w..wp`,
/// so vector loads that run past the last column read zeros instead of the next row.
pub(crate) fn pad_image(x: &[f32], d: &ConvDims, wp: usize, xp: &mut [f32]) {
    for (src, dst) in x.chunks(d.w).zip(xp.chunks_mut(wp)) {
        copy_short(&mut dst[..d.w], src);
        dst[d.w..].iter_mut().for_each(|v| *v = 0.0);
    }
}
