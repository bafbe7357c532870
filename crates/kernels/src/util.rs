//! Helpers the CPU kernels share: partial-sum reduction, the single-threaded gemm call, work
//! splitting, short copies and sums, run-time CPU feature dispatch. Plain slices only; nothing
//! here knows about tensors.
//!
//! Buffers: scratch buffers and most outputs are zeroed `vec![0.0; n]`. The multi-megabyte
//! outputs that safe Rust code writes element by element (the direct conv forward, max-pool
//! forward and backward) are built by [`vec_written_by`] instead, which hands the kernel the
//! uninitialised memory as `MaybeUninit<f32>` and sets the length only once every element is
//! written: with every buffer zeroed, LeNet training steps measured 6-11 % slower
//! (`train_step_rate`, quiet 2-core x86-64), with these three it is within noise. Buffers gemm
//! writes stay zeroed: the gemm crate does not document that it never reads `dst` when told
//! not to accumulate. (A `&mut [f32]` over uninitialised memory is undefined behaviour even if
//! it is only ever written.)

use core::mem::MaybeUninit;

/// A `Vec<f32>` of length `n` whose elements `write_all` writes: it gets the `n` elements as
/// uninitialised memory and initialises every one of them. If it panics, the buffer is freed
/// with length 0.
///
/// # Safety
/// When `write_all` returns, it must have initialised every element of the slice it was given.
pub(crate) unsafe fn vec_written_by(
    n: usize,
    write_all: impl FnOnce(&mut [MaybeUninit<f32>]),
) -> Vec<f32> {
    let mut v = Vec::with_capacity(n);
    write_all(&mut v.spare_capacity_mut()[..n]);
    // SAFETY: the capacity is at least n, and the caller guarantees that write_all initialised
    // elements 0..n.
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
/// For every `i < m`, `j < n`, `l < k`: `dst + i * dst_rs + j * dst_cs` must be valid for
/// reads and writes, `lhs + i * lhs_rs + l * lhs_cs` and `rhs + l * rhs_rs + j * rhs_cs` valid
/// for reads, all of them initialised `f32`s inside one live allocation each, and every offset
/// must fit in `isize`. The `dst` elements must not overlap `lhs` or `rhs`, and no other thread
/// may access them during the call. (With `m`, `n` or `k` zero, the pointers of the empty
/// operands are never dereferenced.)
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
    // SAFETY: the caller guarantees exactly what gemm::gemm requires of its operands (see
    // `# Safety`); gemm 0.19 takes the column stride before the row stride, hence the swap.
    // alpha = 0 with read_dst = false overwrites dst, alpha = 1 adds to it.
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
/// Generic so that it also writes `MaybeUninit<f32>` outputs.
#[inline(always)]
pub(crate) fn copy_short<T: Copy>(dst: &mut [T], src: &[T]) {
    let n = dst.len();
    let src = &src[..n];
    if n < 8 {
        dst.copy_from_slice(src);
        return;
    }
    let mut i = 0;
    while i + 8 <= n {
        let block: [T; 8] = src[i..i + 8].try_into().unwrap();
        dst[i..i + 8].copy_from_slice(&block);
        i += 8;
    }
    if i < n {
        let block: [T; 8] = src[n - 8..].try_into().unwrap();
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
                /// `body` compiled with AVX2 and FMA enabled.
                ///
                /// # Safety
                /// The CPU must support AVX2 and FMA.
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                if $crate::util::has_avx2_fma() {
                    // SAFETY: has_avx2_fma() just checked that the CPU has both features.
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
