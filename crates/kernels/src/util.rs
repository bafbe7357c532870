//! Helpers the CPU kernels share: scratch buffers, the single-threaded gemm call, work
//! splitting, short copies and sums, run-time CPU feature dispatch. Plain slices only; nothing
//! here knows about tensors.

/// A `Vec<f32>` of length `n` whose contents are unspecified.
///
/// Every kernel that uses it writes each element before anything reads it; skipping the zero
/// fill saves a full pass over multi-megabyte activation and gradient buffers.
#[allow(clippy::uninit_vec)]
pub(crate) fn uninit_vec(n: usize) -> Vec<f32> {
    let mut v = Vec::with_capacity(n);
    // SAFETY: f32 has no invalid bit patterns and the callers overwrite the whole buffer
    // before reading it (see each call site).
    unsafe { v.set_len(n) };
    v
}

/// Adds up per-task partial (weight, bias) gradients; zeros of the given lengths when there
/// were no tasks (an empty batch).
pub(crate) fn sum_partials(
    partials: Vec<(Vec<f32>, Vec<f32>)>,
    w_len: usize,
    b_len: usize,
) -> (Vec<f32>, Vec<f32>) {
    let mut iter = partials.into_iter();
    let Some((mut dw, mut db)) = iter.next() else {
        return (vec![0.0; w_len], vec![0.0; b_len]);
    };
    for (pw, pb) in iter {
        dw.iter_mut().zip(&pw).for_each(|(a, b)| *a += b);
        db.iter_mut().zip(&pb).for_each(|(a, b)| *a += b);
    }
    (dw, db)
}

/// Images per parallel task: one contiguous slice of the batch per rayon thread, so per-task
/// scratch buffers and partial sums stay few.
pub(crate) fn images_per_task(batch: usize) -> usize {
    batch.div_ceil(rayon::current_num_threads().max(1)).max(1)
}

/// `dst[m×n] = (accumulate ? dst : 0) + lhs[m×k] · rhs[k×n]` on one thread.
///
/// Each matrix is a pointer plus row stride and column stride, in elements.
///
/// # Safety
/// Every pointer must be valid for the elements its strides and sizes address, and `dst` must
/// not overlap `lhs` or `rhs`.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) unsafe fn gemm(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: usize,
    dst_cs: usize,
    accumulate: bool,
    lhs: *const f32,
    lhs_rs: usize,
    lhs_cs: usize,
    rhs: *const f32,
    rhs_rs: usize,
    rhs_cs: usize,
) {
    // SAFETY: forwarded from the caller. Argument order of gemm 0.19: column stride first.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            dst_cs as isize,
            dst_rs as isize,
            accumulate,
            lhs,
            lhs_cs as isize,
            lhs_rs as isize,
            rhs,
            rhs_cs as isize,
            rhs_rs as isize,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// `dst = src` for short rows (im2col rows, padded image rows: often 8 to 64 floats).
///
/// `copy_from_slice` calls `memcpy` for a runtime length, which costs more than the copy at
/// these sizes; whole 8-float blocks (the last one overlapping) compile to single vector moves.
#[inline(always)]
pub(crate) fn copy_short(dst: &mut [f32], src: &[f32]) {
    let n = dst.len();
    let src = &src[..n];
    if n < 8 {
        dst.copy_from_slice(src);
        return;
    }
    let mut i = 0;
    while i + 8 <= n {
        let block: [f32; 8] = src[i..i + 8].try_into().unwrap();
        dst[i..i + 8].copy_from_slice(&block);
        i += 8;
    }
    if i < n {
        let block: [f32; 8] = src[n - 8..].try_into().unwrap();
        dst[n - 8..].copy_from_slice(&block);
    }
}

/// Sum of a slice with eight independent partial sums, so it vectorises and is not bound by
/// the latency of one serial chain of additions.
pub(crate) fn sum(xs: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let mut chunks = xs.chunks_exact(8);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    let tail: f32 = chunks.remainder().iter().sum();
    acc.iter().sum::<f32>() + tail
}

/// Defines `fn $name(args) -> ret` whose body is compiled twice: for the baseline target and,
/// on x86-64, with AVX2 + FMA enabled; the AVX2 copy runs when the CPU has both features
/// (checked at run time, the result is cached by std). No `-C target-cpu` needed, and other
/// architectures (aarch64 has NEON in its baseline) just use the first copy.
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body($($arg: $ty),*) $(-> $ret)? $body

            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU has the features `avx2` was compiled for.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}
pub(crate) use multiversion;

/// Whether the CPU runs AVX2 and FMA, which the hand-vectorised conv kernels need.
pub(crate) fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
