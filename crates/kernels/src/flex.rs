//! Between Burn's tensors and the kernels' slices: which tensors the kernels can take, and
//! Flex tensors made dense, read as `&[f32]` and built back from a `Vec<f32>` without copies.

use burn::backend::{Bytes, DType, DispatchDevice, Shape};
use burn::tensor::{Device, Tensor};
use burn_flex::{FlexTensor, Layout};

/// Whether the custom kernels run on this device: Flex, with or without autodiff. (They also
/// need f32 tensors; see [`on_flex_f32`].)
pub fn runs_on(device: &Device) -> bool {
    match device.as_dispatch() {
        DispatchDevice::Flex(_) => true,
        DispatchDevice::Autodiff(inner) => matches!(**inner, DispatchDevice::Flex(_)),
        // The other variants exist only when their backend features are compiled in.
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// Whether the custom kernels can take this tensor: f32 on a Flex device, with or without
/// autodiff. Everything else (other backends, other dtypes) goes to Burn's standard ops.
pub fn on_flex_f32<const D: usize>(t: &Tensor<D>) -> bool {
    t.dtype() == DType::F32 && runs_on(&t.device())
}

/// Makes `t` a dense row-major f32 tensor starting at offset 0 (copying only when it is a
/// strided, broadcast or offset view, as incoming gradients often are).
pub(crate) fn dense(t: FlexTensor) -> FlexTensor {
    assert_eq!(t.dtype(), DType::F32, "custom kernels are f32 only");
    if t.is_contiguous() && t.layout().start_offset() == 0 {
        t
    } else {
        t.to_contiguous()
    }
}

/// The f32 elements of a tensor made by [`dense`].
pub(crate) fn f32s(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("dense f32 tensor")
}

/// Shape of a Flex tensor as `[usize; D]`.
pub(crate) fn dims<const D: usize>(t: &FlexTensor) -> [usize; D] {
    let shape = t.layout().shape();
    assert_eq!(shape.num_dims(), D, "expected a rank-{D} tensor");
    core::array::from_fn(|i| shape[i])
}

/// Wraps a row-major buffer as a Flex f32 tensor (no copy).
pub(crate) fn tensor_from_vec<const D: usize>(data: Vec<f32>, shape: [usize; D]) -> FlexTensor {
    debug_assert_eq!(data.len(), shape.iter().product::<usize>());
    FlexTensor::new(
        Bytes::from_elems(data),
        Layout::contiguous(Shape::from(shape.to_vec())),
        DType::F32,
    )
}
