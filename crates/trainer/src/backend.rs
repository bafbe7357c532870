//! Which Burn backend runs the work. Cargo features decide what is compiled in; `--backend`
//! picks among those at run time. The training code itself never names a backend.

use burn::tensor::{Device, Tensor};

use crate::error::Error;

#[cfg(not(any(
    feature = "flex",
    feature = "ndarray",
    feature = "wgpu-backend",
    feature = "cuda"
)))]
compile_error!("enable at least one backend feature: flex, ndarray, wgpu or cuda");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Burn's fast CPU backend.
    #[cfg(feature = "flex")]
    Flex,
    /// The older ndarray CPU backend (deprecated by Burn 0.22).
    #[cfg(feature = "ndarray")]
    Ndarray,
    /// GPU through wgpu (Vulkan, Metal, DX12; lavapipe on a machine without a GPU).
    #[cfg(feature = "wgpu-backend")]
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
        #[cfg(all(feature = "wgpu-backend", not(feature = "flex")))]
        return Self::Wgpu;
        #[cfg(all(feature = "cuda", not(any(feature = "flex", feature = "wgpu-backend"))))]
        return Self::Cuda;
        #[cfg(all(
            feature = "ndarray",
            not(any(feature = "flex", feature = "wgpu-backend", feature = "cuda"))
        ))]
        return Self::Ndarray;
    }

    /// The CPU backend: flex, else ndarray; a build with neither has only a GPU backend.
    pub fn cpu() -> Self {
        #[cfg(feature = "flex")]
        return Self::Flex;
        #[cfg(all(feature = "ndarray", not(feature = "flex")))]
        return Self::Ndarray;
        #[cfg(not(any(feature = "flex", feature = "ndarray")))]
        return Self::preferred();
    }

    /// Whether it computes on a GPU (wgpu may also run on a software adapter, but is built for one).
    pub fn is_gpu(self) -> bool {
        match self {
            #[cfg(feature = "wgpu-backend")]
            Self::Wgpu => true,
            #[cfg(feature = "cuda")]
            Self::Cuda => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// One line on what it is, for `--help`.
    pub fn about(self) -> &'static str {
        match self {
            #[cfg(feature = "flex")]
            Self::Flex => "Burn's fast CPU backend",
            #[cfg(feature = "ndarray")]
            Self::Ndarray => "The older ndarray CPU backend (deprecated by Burn 0.22)",
            #[cfg(feature = "wgpu-backend")]
            Self::Wgpu => {
                "GPU through wgpu (Vulkan, Metal, DX12; lavapipe on a machine without a GPU)"
            }
            #[cfg(feature = "cuda")]
            Self::Cuda => "NVIDIA GPU through CUDA",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "flex")]
            Self::Flex => "flex",
            #[cfg(feature = "ndarray")]
            Self::Ndarray => "ndarray",
            #[cfg(feature = "wgpu-backend")]
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
            #[cfg(feature = "wgpu-backend")]
            Self::Wgpu => {
                keep_tuning_per_user();
                Device::wgpu(Default::default())
            }
            #[cfg(feature = "cuda")]
            Self::Cuda => {
                keep_tuning_per_user();
                Device::cuda(burn::tensor::DeviceIndex::Default)
            }
        }
    }

    /// Runs one tiny computation on `device`, so that a backend that cannot work here (no GPU
    /// adapter, no Vulkan driver) is one clear error before anything else happens, not a panic
    /// in the middle of training.
    pub fn probe(self, device: &Device) -> Result<(), Error> {
        let device = device.clone();
        let sum = crate::panics::quietly(move || {
            Tensor::<1>::from_floats([1.0, 2.0], &device)
                .sum()
                .into_scalar::<f32>()
        });
        match sum {
            Ok(3.0) => Ok(()),
            Ok(value) => Err(Error::Backend(
                self.name(),
                format!("a test computation gave {value} instead of 3"),
            )),
            Err(message) => Err(Error::Backend(
                self.name(),
                format!("{message}{}", self.hint()),
            )),
        }
    }

    fn hint(self) -> &'static str {
        match self {
            #[cfg(feature = "wgpu-backend")]
            Self::Wgpu => {
                " (wgpu needs a GPU driver: Vulkan, Metal, DX12 or OpenGL; on Linux without a GPU, install \
                 Mesa's CPU driver with `apt-get install mesa-vulkan-drivers`)"
            }
            #[allow(unreachable_patterns)]
            _ => "",
        }
    }
}

/// Keeps CubeCL's tuning results (autotune's choices, compiled kernels) in one cache per user,
/// `$XDG_CACHE_HOME/cubecl` or `~/.cache/cubecl`, beside the MNIST cache, so a second run tunes
/// nothing again wherever it starts. CubeCL's own default is the `target/` of the Cargo workspace
/// around the current directory, which gives every checkout, and every directory outside one,
/// a cache of its own. A `cubecl.toml` naming `local` or a `directory`, and `CUBECL_*` variables,
/// still decide. Must run before the first GPU device is made: CubeCL reads its configuration
/// once per process, and a configuration already read is kept.
#[cfg(any(feature = "wgpu-backend", feature = "cuda"))]
fn keep_tuning_per_user() {
    use burn::cubecl::config::{CubeClRuntimeConfig, RuntimeConfig, cache::CacheConfig};
    // Once per process: reading the configuration walks the directories above the current one.
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut config = CubeClRuntimeConfig::from_current_dir().override_from_env();
        if matches!(config.environment.path, CacheConfig::Target) {
            config.environment.path = CacheConfig::Global;
        }
        // false when CubeCL had read its configuration already; that one is kept.
        let _ = CubeClRuntimeConfig::try_set(config);
    });
}
