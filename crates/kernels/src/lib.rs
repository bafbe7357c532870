//! Custom CPU training kernels for LeNet-shaped layers on Burn's `flex` backend: conv2d (stride
//! 1, no padding), 2x2 max-pool (stride 2) and the fully connected layer, each with a
//! handwritten backward pass, as Burn backend extensions on `Flex` and `Autodiff<Flex>`.
//!
//! The public functions take and return ordinary backend-erased [`Tensor`](burn::tensor::Tensor)s.
//! When every input is f32 on a Flex device (plain or autodiff) they run this crate's kernels;
//! otherwise (wgpu, cuda, ndarray, f64, ...) they call Burn's standard op, so a caller never needs
//! to know which backend it runs on, and the results agree with Burn's ops to f32 rounding
//! (`tests/numerics.rs`).
//!
//! - [`conv2d`]: stride 1, no padding, no dilation, one group, square kernel, optional bias.
//! - [`max_pool_2x2`]: 2x2 window, stride 2, no padding, floor mode.
//! - [`linear`]: fully connected layer with bias, Burn's `[d_in, d_out]` weight layout.
//!
//! Why: on a 2-core x86-64 CPU, Burn 0.22's flex ops spent most of a LeNet training step in
//! conv2d and max-pool (per-op times: the model crate's `train_step_rate` example). These
//! kernels call the same `gemm` crate flex uses, single-threaded per slice of the batch, with
//! AVX2 register-tiled paths for LeNet's first convolution and a sparse weight gradient behind
//! max-pools (see each op's file). The AVX2 paths are chosen at run time (no `-C target-cpu`);
//! other CPUs run the portable gemm paths.
//!
//! Not for: other convolution or pooling settings (stride, padding, dilation, groups, other
//! windows: use Burn's ops), other dtypes, GPU backends, or inference-only speed (the forward
//! passes are fast, but the point is the training step). Nothing here prints or picks a backend.

mod conv2d;
mod flex;
mod linear;
mod max_pool;
mod util;

pub use conv2d::conv2d;
pub use flex::{on_flex_f32, runs_on};
pub use linear::{LINEAR_MIN_MACS, linear, linear_custom};
pub use max_pool::max_pool_2x2;
