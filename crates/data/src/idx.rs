//! Reader for the IDX format the MNIST files use (big-endian header, then raw u8 data),
//! plain or gzip-compressed. Every defect is a typed error naming the file.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::{IMAGE_PIXELS, IMAGE_SIDE, NUM_CLASSES};

/// Magic number of an IDX file of unsigned bytes with 3 dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with 1 dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

const IMAGES_HEADER: usize = 16;
const LABELS_HEADER: usize = 8;

/// What can be wrong with an IDX file or a pair of them.
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The file starts with the gzip magic bytes but does not decompress.
    #[error("{path} looks gzip-compressed but does not decompress: {source}")]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        source: io::Error,
    },
    /// The file (after decompression) has no bytes at all, or declares zero items.
    #[error("{path} is empty (no {what})")]
    Empty {
        /// The file.
        path: PathBuf,
        /// "bytes" or "items".
        what: &'static str,
    },
    /// The first four bytes are not the expected magic number.
    #[error("{path}: bad magic number, expected {expected:#010x} found {found:#010x}")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The magic number for this kind of file.
        expected: u32,
        /// What the file has.
        found: u32,
    },
    /// Images are not 28x28.
    #[error("{path}: wrong image dimensions, expected {expected:?} (rows, cols) found {found:?}")]
    WrongDims {
        /// The file.
        path: PathBuf,
        /// (28, 28).
        expected: (u32, u32),
        /// The header's (rows, cols).
        found: (u32, u32),
    },
    /// Fewer bytes than the header promises (including a short header).
    #[error("{path} is truncated: expected {expected} bytes, found {found}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Byte length the header implies.
        expected: u64,
        /// Actual (decompressed) byte length.
        found: u64,
    },
    /// More bytes than the header promises.
    #[error("{path} has trailing bytes: expected {expected} bytes, found {found}")]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// Byte length the header implies.
        expected: u64,
        /// Actual (decompressed) byte length.
        found: u64,
    },
    /// A label outside 0..=9.
    #[error("{path}: label #{index} is {value}, expected 0-9")]
    BadLabel {
        /// The file.
        path: PathBuf,
        /// 0-based item index.
        index: usize,
        /// The value found.
        value: u8,
    },
    /// The images file and the labels file hold different numbers of items.
    #[error("{images} has {image_count} images but {labels} has {label_count} labels")]
    CountMismatch {
        /// The images file.
        images: PathBuf,
        /// The labels file.
        labels: PathBuf,
        /// Items in the images file.
        image_count: usize,
        /// Items in the labels file.
        label_count: usize,
    },
}

/// Reads a whole file, transparently gunzipping it when it starts with 1f 8b.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, IdxError> {
    let bytes = fs::read(path).map_err(|source| IdxError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        // MNIST gz files compress roughly 2-6x; a generous hint avoids repeated regrowth.
        let mut out = Vec::with_capacity(bytes.len().saturating_mul(4));
        flate2::read::MultiGzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .map_err(|source| IdxError::Gzip {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(out)
    } else {
        Ok(bytes)
    }
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    if let Some(s) = bytes.get(at..at + 4) {
        b.copy_from_slice(s);
    }
    u32::from_be_bytes(b)
}

/// Checks the magic, the header length and the item count; returns the payload after the header.
fn check_layout<'a>(
    path: &Path,
    bytes: &'a [u8],
    magic: u32,
    header: usize,
    item_size: usize,
) -> Result<(usize, &'a [u8]), IdxError> {
    let p = || path.to_path_buf();
    if bytes.is_empty() {
        return Err(IdxError::Empty {
            path: p(),
            what: "bytes",
        });
    }
    if bytes.len() < 4 {
        return Err(IdxError::Truncated {
            path: p(),
            expected: header as u64,
            found: bytes.len() as u64,
        });
    }
    let found = be_u32(bytes, 0);
    if found != magic {
        return Err(IdxError::BadMagic {
            path: p(),
            expected: magic,
            found,
        });
    }
    if bytes.len() < header {
        return Err(IdxError::Truncated {
            path: p(),
            expected: header as u64,
            found: bytes.len() as u64,
        });
    }
    if magic == IMAGES_MAGIC {
        let dims = (be_u32(bytes, 8), be_u32(bytes, 12));
        let want = (IMAGE_SIDE as u32, IMAGE_SIDE as u32);
        if dims != want {
            return Err(IdxError::WrongDims {
                path: p(),
                expected: want,
                found: dims,
            });
        }
    }
    let count = be_u32(bytes, 4) as u64;
    // u64 arithmetic cannot overflow here: count < 2^32 and item_size <= 784.
    let expected = header as u64 + count * item_size as u64;
    let found = bytes.len() as u64;
    if found < expected {
        return Err(IdxError::Truncated {
            path: p(),
            expected,
            found,
        });
    }
    if found > expected {
        return Err(IdxError::TrailingBytes {
            path: p(),
            expected,
            found,
        });
    }
    if count == 0 {
        return Err(IdxError::Empty {
            path: p(),
            what: "items",
        });
    }
    let payload = bytes.get(header..).unwrap_or_default();
    Ok((count as usize, payload))
}

/// Reads an images file (magic 0x803, 28x28) into one 784-byte array per image.
pub fn read_idx_images(path: &Path) -> Result<Vec<[u8; IMAGE_PIXELS]>, IdxError> {
    let bytes = read_maybe_gz(path)?;
    let (count, payload) = check_layout(path, &bytes, IMAGES_MAGIC, IMAGES_HEADER, IMAGE_PIXELS)?;
    let mut images = Vec::with_capacity(count);
    for chunk in payload.chunks_exact(IMAGE_PIXELS) {
        let mut image = [0u8; IMAGE_PIXELS];
        image.copy_from_slice(chunk);
        images.push(image);
    }
    Ok(images)
}

/// Reads a labels file (magic 0x801), rejecting labels outside 0..=9.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, IdxError> {
    let bytes = read_maybe_gz(path)?;
    let (_, payload) = check_layout(path, &bytes, LABELS_MAGIC, LABELS_HEADER, 1)?;
    if let Some(index) = payload.iter().position(|&v| v as usize >= NUM_CLASSES) {
        return Err(IdxError::BadLabel {
            path: path.to_path_buf(),
            index,
            value: payload.get(index).copied().unwrap_or_default(),
        });
    }
    Ok(payload.to_vec())
}

/// Encodes images as an IDX images file (used by tests and by tools that export subsets).
pub fn encode_idx_images(images: &[[u8; IMAGE_PIXELS]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(IMAGES_HEADER + images.len() * IMAGE_PIXELS);
    out.extend_from_slice(&IMAGES_MAGIC.to_be_bytes());
    out.extend_from_slice(&(images.len() as u32).to_be_bytes());
    out.extend_from_slice(&(IMAGE_SIDE as u32).to_be_bytes());
    out.extend_from_slice(&(IMAGE_SIDE as u32).to_be_bytes());
    for image in images {
        out.extend_from_slice(image);
    }
    out
}

/// Encodes labels as an IDX labels file.
pub fn encode_idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(LABELS_HEADER + labels.len());
    out.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn images3() -> Vec<[u8; IMAGE_PIXELS]> {
        (0..3u8)
            .map(|i| std::array::from_fn(|p| (p as u8).wrapping_mul(i + 1)))
            .collect()
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn raw_and_gz_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let imgs = images3();
        let raw = encode_idx_images(&imgs);
        for (name, bytes) in [("i", raw.clone()), ("i.gz", gz(&raw))] {
            let p = write(dir.path(), name, &bytes);
            assert_eq!(read_idx_images(&p).unwrap(), imgs);
        }
        let labels = encode_idx_labels(&[7, 0, 9]);
        let p = write(dir.path(), "l.gz", &gz(&labels));
        assert_eq!(read_idx_labels(&p).unwrap(), vec![7, 0, 9]);
    }

    #[test]
    fn corrupt_files_give_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let raw = encode_idx_images(&images3());

        let p = write(d, "empty", &[]);
        assert!(matches!(
            read_idx_images(&p),
            Err(IdxError::Empty { what: "bytes", .. })
        ));

        let p = write(d, "zero", &encode_idx_images(&[]));
        assert!(matches!(
            read_idx_images(&p),
            Err(IdxError::Empty { what: "items", .. })
        ));

        let p = write(d, "magic", &encode_idx_labels(&[1]));
        match read_idx_images(&p) {
            Err(IdxError::BadMagic {
                expected, found, ..
            }) => assert_eq!((expected, found), (0x803, 0x801)),
            other => panic!("{other:?}"),
        }

        let mut dims = raw.clone();
        dims[11] = 27;
        let p = write(d, "dims", &dims);
        match read_idx_images(&p) {
            Err(IdxError::WrongDims { found, .. }) => assert_eq!(found, (27, 28)),
            other => panic!("{other:?}"),
        }

        let p = write(d, "trunc", &raw[..raw.len() - 1]);
        match read_idx_images(&p) {
            Err(IdxError::Truncated {
                path,
                expected,
                found,
            }) => {
                assert_eq!(path, p);
                assert_eq!((expected, found), (16 + 3 * 784, 16 + 3 * 784 - 1));
            }
            other => panic!("{other:?}"),
        }
        let p = write(d, "short-header", &raw[..10]);
        assert!(matches!(
            read_idx_images(&p),
            Err(IdxError::Truncated {
                expected: 16,
                found: 10,
                ..
            })
        ));

        let mut padded = raw.clone();
        padded.push(0);
        let p = write(d, "pad", &padded);
        assert!(
            matches!(read_idx_images(&p), Err(IdxError::TrailingBytes { found, .. }) if found == raw.len() as u64 + 1)
        );

        let mut garbage = vec![0x1f, 0x8b];
        garbage.extend_from_slice(b"definitely not deflate data");
        let p = write(d, "garbage.gz", &garbage);
        assert!(matches!(read_idx_images(&p), Err(IdxError::Gzip { .. })));

        let p = write(d, "label10", &encode_idx_labels(&[1, 10]));
        assert!(matches!(
            read_idx_labels(&p),
            Err(IdxError::BadLabel {
                index: 1,
                value: 10,
                ..
            })
        ));

        let missing = d.join("missing");
        let err = read_idx_images(&missing).unwrap_err();
        assert!(matches!(err, IdxError::Io { .. }));
        assert!(err.to_string().contains("missing"));
    }
}
