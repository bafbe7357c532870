//! Burnpack files (`.bpk`, Burn's weights and checkpoint format) read once, with a size cap,
//! and checked against what a module expects before Burn builds a single tensor from them.
//!
//! Burn's own loader trusts a file's meaning: a tensor relabelled as another dtype, a state
//! tensor of the wrong rank or a missing parameter id reach a panic or a silent mis-load. Here
//! [`read`] parses only the header and metadata (with Burn's own `burn_pack::Reader`, so the
//! two can never disagree on the format), [`expected`] lists what a module holds, and
//! [`compare`] names every difference, so the bytes handed to Burn afterwards hold no surprise.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::{Bytes, DType, Tensor};
pub use burn_pack::Scalar;

use crate::error::StoreError;

/// One tensor entry of a burnpack file, from its metadata; `data` is a zero-copy view.
pub struct PackedTensor {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub param_id: Option<u64>,
    pub data: Bytes,
}

/// What a burnpack file declares: tensors by name, scalars and string metadata.
pub struct Pack {
    pub tensors: BTreeMap<String, PackedTensor>,
    pub scalars: BTreeMap<String, Scalar>,
    pub metadata: BTreeMap<String, String>,
}

/// Reads `path` whole, refusing it unread when it holds more than `limit` bytes, into one
/// 16-byte aligned buffer (Burn's tensors use it in place: the payload is read once and never
/// copied), then parses its header and metadata.
pub fn read(path: &Path, limit: u64) -> Result<(Bytes, Pack), StoreError> {
    let bytes = read_bytes(path, limit)?;
    let pack = parse(path, &bytes)?;
    Ok((bytes, pack))
}

/// The reading half of [`read`]: the whole file, capped, in one aligned buffer.
pub fn read_bytes(path: &Path, limit: u64) -> Result<Bytes, StoreError> {
    let io = |source| StoreError::Io {
        action: "reading",
        path: path.to_path_buf(),
        source,
    };
    let mut file = files::open_regular(path, files::Links::Follow).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    let len = meta.len();
    if len > limit {
        return Err(StoreError::TooLarge {
            path: path.to_path_buf(),
            size: len,
            limit,
        });
    }
    let len = len as usize;
    // u128 words give the 16-byte alignment Burn wants without the copy `from_bytes_vec` may make.
    let mut words = vec![0u128; len.div_ceil(16)];
    let buffer: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
    file.read_exact(&mut buffer[..len]).map_err(io)?;
    if file.read(&mut [0u8; 1]).map_err(io)? != 0 {
        return Err(io(std::io::Error::other("the file grew while being read")));
    }
    Bytes::from_elems(words)
        .shared()
        .view(0, len)
        .map_err(|e| StoreError::DecodeWeights {
            path: path.to_path_buf(),
            message: format!("{e:?}"),
        })
}

/// Parses the header and metadata of burnpack bytes already in memory; `path` names them in errors.
pub fn parse(path: &Path, bytes: &Bytes) -> Result<Pack, StoreError> {
    let not_burnpack = |e: burn_pack::Error| StoreError::DecodeWeights {
        path: path.to_path_buf(),
        message: format!("not a valid burnpack file: {e}"),
    };
    let reader = burn_pack::Reader::from_bytes(bytes.clone()).map_err(not_burnpack)?;
    let scalars = reader.scalars().clone();
    let metadata = reader.metadata().clone();
    let mut tensors = BTreeMap::new();
    for tensor in reader.into_tensors().map_err(not_burnpack)? {
        let (name, dtype, shape, param_id, data) = tensor.into_parts().map_err(not_burnpack)?;
        tensors.insert(
            name,
            PackedTensor {
                dtype,
                shape: shape.to_vec(),
                param_id,
                data,
            },
        );
    }
    Ok(Pack {
        tensors,
        scalars,
        metadata,
    })
}

/// A parameter a module holds: its record name (as Burn writes it, e.g.
/// `Lenet.convs.0.weight`), id and shape. Every parameter here is f32.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    pub name: String,
    pub id: ParamId,
    pub shape: Vec<usize>,
}

impl Expected {
    /// Bytes of the f32 payload.
    pub fn bytes(&self) -> u64 {
        self.shape.iter().map(|&d| d as u64).product::<u64>() * 4
    }
}

/// Every parameter of `module`, named as Burn's record writer names them. Shapes are read
/// without initialising lazy parameters.
pub fn expected<M: Module>(module: &M) -> Vec<Expected> {
    let mut visitor = Lister::default();
    module.visit(&mut visitor);
    visitor.out
}

/// The size cap for a file meant to hold `expected` tensors: twice their payload and 64 MiB
/// more. Loose enough that another network's file of similar size is read and its differences
/// named tensor by tensor; tight enough that no file can make the reader allocate gigabytes.
pub fn size_limit(expected: &[Expected]) -> u64 {
    let payload: u64 = expected
        .iter()
        .map(|e| e.bytes().next_multiple_of(256))
        .sum();
    2 * payload + (64 << 20)
}

#[derive(Default)]
struct Lister {
    path: Vec<String>,
    out: Vec<Expected>,
}

impl ModuleVisitor for Lister {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.out.push(Expected {
            name: self.path.join("."),
            id: param.id,
            shape: param.lazy_shape().to_vec(),
        });
    }
}

/// Differences between a file and what was expected, collected so one message names them all
/// (the first ten).
#[derive(Default)]
pub struct Problems(Vec<String>);

impl Problems {
    pub fn push(&mut self, problem: String) {
        self.0.push(problem);
    }

    /// One f32 tensor entry against the shape it must have.
    pub fn check_tensor(&mut self, what: &str, tensor: &PackedTensor, shape: &[usize]) {
        if tensor.dtype != DType::F32 {
            self.push(format!(
                "{what} is stored as {:?}, expected F32",
                tensor.dtype
            ));
        } else if tensor.shape != shape {
            self.push(format!(
                "{what} has shape {:?} in the file, expected {shape:?}",
                tensor.shape
            ));
        } else if has_non_finite(&tensor.data) {
            self.push(format!(
                "{what} holds NaN or infinite values (the run that saved it diverged)"
            ));
        }
    }

    /// Scalars that must be exactly `want`, no more and no fewer.
    pub fn check_scalars(
        &mut self,
        want: &BTreeMap<String, Scalar>,
        got: &BTreeMap<String, Scalar>,
    ) {
        for (key, value) in want {
            match got.get(key) {
                None => self.push(format!("scalar {key} is missing")),
                Some(found) if found != value => {
                    self.push(format!("scalar {key} is {found:?}, expected {value:?}"))
                }
                Some(_) => {}
            }
        }
        for key in got.keys().filter(|k| !want.contains_key(k.as_str())) {
            self.push(format!("unexpected scalar {key}"));
        }
    }

    /// `Ok` when nothing was found, else the mismatch error naming `path`.
    pub fn into_result(self, path: &Path, what: &str) -> Result<(), StoreError> {
        if self.0.is_empty() {
            return Ok(());
        }
        let shown = self.0.len().min(10);
        let more = match self.0.len() - shown {
            0 => String::new(),
            n => format!(" (and {n} more)"),
        };
        Err(StoreError::Mismatch {
            path: PathBuf::from(path),
            model: what.to_string(),
            message: format!("{}{more}", self.0[..shown].join("; ")),
        })
    }
}

fn has_non_finite(data: &Bytes) -> bool {
    data.chunks_exact(4)
        .any(|c| !f32::from_le_bytes([c[0], c[1], c[2], c[3]]).is_finite())
}

/// Checks a weights file against a module's parameters: every tensor present, f32, of the
/// right shape, finite, with a parameter id, no id used twice, nothing extra.
pub fn compare(
    path: &Path,
    pack: &Pack,
    expected: &[Expected],
    model: &str,
) -> Result<(), StoreError> {
    let mut problems = Problems::default();
    let mut ids = BTreeSet::new();
    for e in expected {
        let Some(tensor) = pack.tensors.get(&e.name) else {
            problems.push(format!("tensor {} is missing", e.name));
            continue;
        };
        problems.check_tensor(&format!("tensor {}", e.name), tensor, &e.shape);
        match tensor.param_id {
            None => problems.push(format!("tensor {} has no parameter id", e.name)),
            Some(id) if !ids.insert(id) => {
                problems.push(format!("tensor {} reuses parameter id {id}", e.name))
            }
            Some(_) => {}
        }
    }
    for name in pack
        .tensors
        .keys()
        .filter(|n| !expected.iter().any(|e| &e.name == *n))
    {
        problems.push(format!("tensor {name} is not part of the network"));
    }
    problems.into_result(path, model)
}
