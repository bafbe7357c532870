//! What `--backend` asks for, and `auto`: "the GPU if there is one, else the CPU", as the MXNet
//! and PyTorch tutorials pick their device. `auto` is the default when a GPU backend (wgpu,
//! cuda) is compiled in. It takes wgpu only on a hardware GPU: a software adapter (Mesa's
//! lavapipe or llvmpipe, SwiftShader, Windows' WARP) runs shaders on the CPU, slower than the
//! CPU backend, so `auto` passes it by (`--backend wgpu` still uses it).

use crate::backend::Backend;

/// `--backend auto` or a backend by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    Auto,
    Named(Backend),
}

impl Selection {
    /// Every selection this build can make: `auto` and each backend compiled in.
    pub const ALL: &[Selection] = &[
        Selection::Auto,
        #[cfg(feature = "flex")]
        Selection::Named(Backend::Flex),
        #[cfg(feature = "ndarray")]
        Selection::Named(Backend::Ndarray),
        #[cfg(feature = "wgpu-backend")]
        Selection::Named(Backend::Wgpu),
        #[cfg(feature = "cuda")]
        Selection::Named(Backend::Cuda),
    ];

    /// How `--backend` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Named(backend) => backend.name(),
        }
    }

    /// One line on what it takes, for `--help`.
    pub fn about(self) -> &'static str {
        match self {
            Self::Auto => "a hardware GPU if one answers (wgpu, cuda), else the CPU backend",
            Self::Named(backend) => backend.about(),
        }
    }
}

/// The backend a command runs on, and why (printed, and recorded in `run.json`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chosen {
    pub backend: Backend,
    pub why: String,
}

impl Selection {
    /// `auto` when a GPU backend is compiled in; else the one CPU backend there is.
    pub fn default_for_build() -> Self {
        if cfg!(any(feature = "wgpu-backend", feature = "cuda")) {
            Self::Auto
        } else {
            Self::Named(Backend::preferred())
        }
    }

    pub fn resolve(self) -> Chosen {
        match self {
            Self::Named(backend) => Chosen {
                backend,
                why: "asked for".into(),
            },
            Self::Auto => auto(),
        }
    }
}

/// What a graphics adapter is, as far as choosing goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterKind {
    Discrete,
    Integrated,
    Virtual,
    Software,
    Other,
}

/// One adapter wgpu can see: its name, kind and graphics API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Adapter {
    pub name: String,
    pub kind: AdapterKind,
    pub api: String,
}

impl std::fmt::Display for Adapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            AdapterKind::Discrete => "discrete GPU",
            AdapterKind::Integrated => "integrated GPU",
            AdapterKind::Virtual => "virtual GPU",
            AdapterKind::Software => "software renderer",
            AdapterKind::Other => "unknown kind",
        };
        write!(f, "{} ({kind}, {})", self.name, self.api)
    }
}

/// Names of software renderers, for drivers that report them as another kind.
const SOFTWARE: [&str; 5] = ["llvmpipe", "lavapipe", "softpipe", "swiftshader", "warp"];

impl Adapter {
    fn is_hardware_gpu(&self) -> bool {
        let name = self.name.to_lowercase();
        matches!(
            self.kind,
            AdapterKind::Discrete | AdapterKind::Integrated | AdapterKind::Virtual
        ) && !SOFTWARE.iter().any(|s| name.contains(s))
    }
}

/// The adapter `auto` trains on: a discrete GPU first, then an integrated, then a virtual one;
/// never a software renderer or one of unknown kind.
pub fn pick_gpu(adapters: &[Adapter]) -> Option<&Adapter> {
    let rank = |a: &Adapter| match a.kind {
        AdapterKind::Discrete => 0,
        AdapterKind::Integrated => 1,
        _ => 2,
    };
    adapters
        .iter()
        .filter(|a| a.is_hardware_gpu())
        .min_by_key(|a| rank(a))
}

fn auto() -> Chosen {
    #[cfg(not(feature = "wgpu-backend"))]
    #[allow(unused_mut)]
    let mut passed = String::from("no GPU backend is compiled in");
    #[cfg(feature = "wgpu-backend")]
    #[allow(unused_mut)]
    let mut passed = {
        let adapters = wgpu_adapters();
        if let Some(gpu) = pick_gpu(&adapters) {
            return Chosen {
                backend: Backend::Wgpu,
                why: format!("auto: {gpu}"),
            };
        }
        if adapters.is_empty() {
            "wgpu sees no adapter".to_string()
        } else {
            let names: Vec<String> = adapters.iter().map(ToString::to_string).collect();
            format!("no hardware GPU among {}", names.join(", "))
        }
    };
    #[cfg(feature = "cuda")]
    {
        let device = Backend::Cuda.device();
        if Backend::Cuda.probe(&device).is_ok() {
            return Chosen {
                backend: Backend::Cuda,
                why: "auto: a CUDA device answered".into(),
            };
        }
        passed += "; no CUDA device answered";
    }
    Chosen {
        backend: Backend::cpu(),
        why: format!("auto: {passed}"),
    }
}

/// The adapters wgpu can see on the graphics APIs Burn trains on (Vulkan, Metal, DX12; not
/// OpenGL, whose probe also prints driver noise).
#[cfg(feature = "wgpu-backend")]
fn wgpu_adapters() -> Vec<Adapter> {
    use wgpu::DeviceType;
    let instance = wgpu::Instance::default();
    // On native platforms the enumeration is ready at once; the future only wraps it.
    let adapters =
        futures_lite::future::block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY));
    adapters
        .iter()
        .map(|adapter| {
            let info = adapter.get_info();
            Adapter {
                name: info.name,
                kind: match info.device_type {
                    DeviceType::DiscreteGpu => AdapterKind::Discrete,
                    DeviceType::IntegratedGpu => AdapterKind::Integrated,
                    DeviceType::VirtualGpu => AdapterKind::Virtual,
                    DeviceType::Cpu => AdapterKind::Software,
                    DeviceType::Other => AdapterKind::Other,
                },
                api: format!("{:?}", info.backend),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(name: &str, kind: AdapterKind) -> Adapter {
        Adapter {
            name: name.into(),
            kind,
            api: "Vulkan".into(),
        }
    }

    #[test]
    fn auto_takes_a_hardware_gpu_and_passes_software_renderers_by() {
        let lavapipe = adapter("llvmpipe (LLVM 19.1.7, 256 bits)", AdapterKind::Software);
        assert_eq!(pick_gpu(std::slice::from_ref(&lavapipe)), None);
        // A software renderer that calls itself a GPU is still passed by.
        let warp = adapter(
            "Microsoft Basic Render Driver (WARP)",
            AdapterKind::Integrated,
        );
        assert_eq!(pick_gpu(std::slice::from_ref(&warp)), None);
        assert_eq!(pick_gpu(&[adapter("?", AdapterKind::Other)]), None);
        assert_eq!(pick_gpu(&[]), None);

        let igpu = adapter("Intel(R) Graphics", AdapterKind::Integrated);
        let h100 = adapter("NVIDIA H100 80GB HBM3", AdapterKind::Discrete);
        let all = [lavapipe, igpu.clone(), warp, h100.clone()];
        assert_eq!(pick_gpu(&all), Some(&h100));
        assert_eq!(pick_gpu(&all[..3]), Some(&igpu));
        assert_eq!(
            h100.to_string(),
            "NVIDIA H100 80GB HBM3 (discrete GPU, Vulkan)"
        );
    }

    #[test]
    fn auto_is_a_value_of_backend_and_the_default_with_a_gpu_backend() {
        let auto = Selection::ALL.iter().find(|s| s.name() == "auto");
        assert_eq!(auto, Some(&Selection::Auto));
        let expected = if cfg!(any(feature = "wgpu-backend", feature = "cuda")) {
            Selection::Auto
        } else {
            Selection::Named(Backend::preferred())
        };
        assert_eq!(Selection::default_for_build(), expected);
    }
}
