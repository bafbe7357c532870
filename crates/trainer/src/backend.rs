//! Which Burn backend runs the work. Cargo features decide what is compiled in; `--backend`
//! picks among those at run time. The training code itself never names a backend.

use burn::tensor::Device;
use clap::ValueEnum;

#[cfg(not(any(
    feature = "flex",
    feature = "ndarray",
    feature = "wgpu",
    feature = "cuda"
)))]
compile_error!("enable at least one backend feature: flex, ndarray, wgpu or cuda");

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// Burn's fast CPU backend.
    #[cfg(feature = "flex")]
    Flex,
    /// The older ndarray CPU backend (deprecated by Burn 0.22).
    #[cfg(feature = "ndarray")]
    Ndarray,
    /// GPU through wgpu (Vulkan, Metal, DX12; lavapipe on a machine without a GPU).
    #[cfg(feature = "wgpu")]
    Wgpu,
    /// NVIDIA GPU through CUDA.
    #[cfg(feature = "cuda")]
    Cuda,
}

impl Backend {
    /// The default: flex when compiled in (it is the default feature), else the one backend
    /// the build has, in the order wgpu, cuda, ndarray. Pick another with `--backend`.
    pub fn preferred() -> Self {
        #[cfg(feature = "flex")]
        return Self::Flex;
        #[cfg(all(feature = "wgpu", not(feature = "flex")))]
        return Self::Wgpu;
        #[cfg(all(feature = "cuda", not(any(feature = "flex", feature = "wgpu"))))]
        return Self::Cuda;
        #[cfg(all(
            feature = "ndarray",
            not(any(feature = "flex", feature = "wgpu", feature = "cuda"))
        ))]
        return Self::Ndarray;
    }

    pub fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "flex")]
            Self::Flex => "flex",
            #[cfg(feature = "ndarray")]
            Self::Ndarray => "ndarray",
            #[cfg(feature = "wgpu")]
            Self::Wgpu => "wgpu",
            #[cfg(feature = "cuda")]
            Self::Cuda => "cuda",
        }
    }

    pub fn device(self) -> Device {
        match self {
            #[cfg(feature = "flex")]
            Self::Flex => Device::flex(),
            // Burn 0.22 deprecates ndarray in favour of flex; it stays here for comparison.
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            Self::Ndarray => Device::ndarray(),
            #[cfg(feature = "wgpu")]
            Self::Wgpu => Device::wgpu(Default::default()),
            #[cfg(feature = "cuda")]
            Self::Cuda => Device::cuda(burn::tensor::DeviceIndex::Default),
        }
    }
}
