//! Keeps glibc's allocator from returning the big per-step tensor buffers to the kernel.
//!
//! By default glibc serves large blocks straight from the kernel and gives them back on free, so
//! every training step page-faults tens of megabytes of fresh zeroed memory: measured here, that
//! halves LeNet's step rate (937 against 1,750-1,790 images/s). glibc raises these thresholds by
//! itself after some frees, so without pinning them the speed depends on what happened to be
//! allocated before training. The values are the highest its own adjustment reaches.
//!
//! Called first in `main` by the trainer and by the step-rate example, so both measure the same
//! steady state.

/// Pins the thresholds; false if glibc refused them (only speed is lost). Call it first in
/// `main`, so that every allocation after it sees the same settings.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn pin_thresholds() -> bool {
    use std::ffi::c_int;
    // glibc's own declaration: `int mallopt(int param, int value)`.
    unsafe extern "C" {
        fn mallopt(param: c_int, value: c_int) -> c_int;
    }
    const M_TRIM_THRESHOLD: c_int = -1;
    const M_MMAP_THRESHOLD: c_int = -3;
    const MMAP_THRESHOLD: c_int = 32 << 20;
    // SAFETY: declared with glibc's signature; it takes plain integers and changes only malloc's
    // own settings, under malloc's lock, so a call from any thread at any time is sound.
    unsafe {
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
            && mallopt(M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD) == 1
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn pin_thresholds() -> bool {
    true
}
