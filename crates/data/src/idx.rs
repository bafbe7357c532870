//! Reader for the IDX format the MNIST files use (big-endian header, then raw u8 data),
//! plain or gzip-compressed. Every defect is a typed error naming the file.

use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::{IMAGE_PIXELS, IMAGE_SIDE, MAX_ITEMS, NUM_CLASSES};

/// Magic number of an IDX file of unsigned bytes with 3 dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with 1 dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

const IMAGES_HEADER: usize = 16;
const LABELS_HEADER: usize = 8;

/// What can be wrong with an IDX file or a pair of them.
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    /// The file could not be read (missing, a directory, unreadable).
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
    /// The header declares more items than this reader holds in memory.
    #[error("{path} declares {count} items; at most {limit} are accepted")]
    TooManyItems {
        /// The file.
        path: PathBuf,
        /// The header's item count.
        count: usize,
        /// [`crate::MAX_ITEMS`].
        limit: usize,
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

/// Opens `path` as a stream of IDX bytes, decompressing when it starts with the gzip magic.
fn open(path: &Path) -> Result<Stream<'static>, IdxError> {
    let io_error = |source| IdxError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = files::open_regular(path, files::Links::Follow).map_err(io_error)?;
    let mut reader = BufReader::new(file);
    let gz = reader
        .fill_buf()
        .map_err(io_error)?
        .starts_with(&GZIP_MAGIC);
    Ok(if gz {
        Stream::Gzip(Box::new(MultiGzDecoder::new(reader)))
    } else {
        Stream::Raw(Box::new(reader))
    })
}

/// IDX bytes as they come: read errors inside a gzip stream mean a damaged file.
enum Stream<'a> {
    Raw(Box<dyn Read + 'a>),
    Gzip(Box<dyn Read + 'a>),
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// What one kind of IDX file looks like.
struct Layout {
    magic: u32,
    header: usize,
    item_size: usize,
}

const IMAGES: Layout = Layout {
    magic: IMAGES_MAGIC,
    header: IMAGES_HEADER,
    item_size: IMAGE_PIXELS,
};

const LABELS: Layout = Layout {
    magic: LABELS_MAGIC,
    header: LABELS_HEADER,
    item_size: 1,
};

/// Reads and checks the header, then exactly the payload it declares, from a stream: memory
/// is bounded by the declared size (itself capped by [`MAX_ITEMS`]), never by the input, so
/// a gzip bomb or a huge file costs only the time to notice it is too long.
fn read_checked(path: &Path, input: Stream, layout: &Layout) -> Result<(usize, Vec<u8>), IdxError> {
    let p = || path.to_path_buf();
    let (mut input, gz) = match input {
        Stream::Raw(r) => (r, false),
        Stream::Gzip(r) => (r, true),
    };
    let read_error = |source: io::Error| {
        if gz {
            IdxError::Gzip { path: p(), source }
        } else {
            IdxError::Io { path: p(), source }
        }
    };
    let mut header = Vec::with_capacity(layout.header);
    (&mut input)
        .take(layout.header as u64)
        .read_to_end(&mut header)
        .map_err(read_error)?;
    if header.is_empty() {
        return Err(IdxError::Empty {
            path: p(),
            what: "bytes",
        });
    }
    if header.len() < 4 {
        return Err(IdxError::Truncated {
            path: p(),
            expected: layout.header as u64,
            found: header.len() as u64,
        });
    }
    let found = be_u32(&header, 0);
    if found != layout.magic {
        return Err(IdxError::BadMagic {
            path: p(),
            expected: layout.magic,
            found,
        });
    }
    if header.len() < layout.header {
        return Err(IdxError::Truncated {
            path: p(),
            expected: layout.header as u64,
            found: header.len() as u64,
        });
    }
    if layout.magic == IMAGES_MAGIC {
        let dims = (be_u32(&header, 8), be_u32(&header, 12));
        let want = (IMAGE_SIDE as u32, IMAGE_SIDE as u32);
        if dims != want {
            return Err(IdxError::WrongDims {
                path: p(),
                expected: want,
                found: dims,
            });
        }
    }
    let count = be_u32(&header, 4) as usize;
    if count > MAX_ITEMS {
        return Err(IdxError::TooManyItems {
            path: p(),
            count,
            limit: MAX_ITEMS,
        });
    }
    // No overflow: count <= MAX_ITEMS and item_size <= 784.
    let payload_len = count * layout.item_size;
    let expected = (layout.header + payload_len) as u64;
    // Grown as bytes arrive rather than reserved up front: a header may promise more than
    // the file holds.
    let mut payload = Vec::new();
    (&mut input)
        .take(payload_len as u64)
        .read_to_end(&mut payload)
        .map_err(read_error)?;
    if payload.len() < payload_len {
        return Err(IdxError::Truncated {
            path: p(),
            expected,
            found: (layout.header + payload.len()) as u64,
        });
    }
    // Count what follows without keeping it (bounded time: at most 1 GiB is looked at).
    let extra = io::copy(&mut input.take(1 << 30), &mut io::sink()).map_err(read_error)?;
    if extra > 0 {
        return Err(IdxError::TrailingBytes {
            path: p(),
            expected,
            found: expected + extra,
        });
    }
    if count == 0 {
        return Err(IdxError::Empty {
            path: p(),
            what: "items",
        });
    }
    Ok((count, payload))
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    if let Some(s) = bytes.get(at..at + 4) {
        b.copy_from_slice(s);
    }
    u32::from_be_bytes(b)
}

fn images_of(payload: &[u8]) -> Vec<[u8; IMAGE_PIXELS]> {
    payload
        .chunks_exact(IMAGE_PIXELS)
        .map(|chunk| {
            let mut image = [0u8; IMAGE_PIXELS];
            image.copy_from_slice(chunk);
            image
        })
        .collect()
}

fn labels_of(path: &Path, payload: Vec<u8>) -> Result<Vec<u8>, IdxError> {
    if let Some(index) = payload.iter().position(|&v| v as usize >= NUM_CLASSES) {
        return Err(IdxError::BadLabel {
            path: path.to_path_buf(),
            index,
            value: payload.get(index).copied().unwrap_or_default(),
        });
    }
    Ok(payload)
}

/// Reads an images file (magic 0x803, 28x28, raw or gzip) into one 784-byte array per image.
pub fn read_idx_images(path: &Path) -> Result<Vec<[u8; IMAGE_PIXELS]>, IdxError> {
    let (_, payload) = read_checked(path, open(path)?, &IMAGES)?;
    Ok(images_of(&payload))
}

/// Reads a labels file (magic 0x801, raw or gzip), rejecting labels outside 0..=9.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, IdxError> {
    let (_, payload) = read_checked(path, open(path)?, &LABELS)?;
    labels_of(path, payload)
}

/// [`read_idx_images`] on bytes already in memory (raw or gzip); `name` is used in errors.
/// The fuzz targets call this.
pub fn decode_idx_images(name: &Path, bytes: &[u8]) -> Result<Vec<[u8; IMAGE_PIXELS]>, IdxError> {
    let (_, payload) = read_checked(name, stream(bytes), &IMAGES)?;
    Ok(images_of(&payload))
}

/// [`read_idx_labels`] on bytes already in memory (raw or gzip); `name` is used in errors.
pub fn decode_idx_labels(name: &Path, bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    let (_, payload) = read_checked(name, stream(bytes), &LABELS)?;
    labels_of(name, payload)
}

fn stream(bytes: &[u8]) -> Stream<'_> {
    if bytes.starts_with(&GZIP_MAGIC) {
        Stream::Gzip(Box::new(MultiGzDecoder::new(bytes)))
    } else {
        Stream::Raw(Box::new(bytes))
    }
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
    use std::fs;

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

        // A directory where the file should be is named as such, not "missing".
        let folder = d.join("folder");
        fs::create_dir(&folder).unwrap();
        let err = read_idx_images(&folder).unwrap_err();
        assert!(err.to_string().contains("directory"), "{err}");

        let missing = d.join("missing");
        let err = read_idx_images(&missing).unwrap_err();
        assert!(matches!(err, IdxError::Io { .. }));
        assert!(err.to_string().contains("missing"));
    }

    #[test]
    fn absurd_headers_cost_no_memory() {
        let dir = tempfile::tempdir().unwrap();
        // A header promising a billion images, with three real ones behind it.
        let mut raw = encode_idx_images(&images3());
        raw[4..8].copy_from_slice(&1_000_000_000u32.to_be_bytes());
        let p = write(dir.path(), "huge", &raw);
        match read_idx_images(&p) {
            Err(IdxError::TooManyItems { count, limit, .. }) => {
                assert_eq!((count, limit), (1_000_000_000, MAX_ITEMS))
            }
            other => panic!("{other:?}"),
        }
        // A small gzip that inflates to 64 MiB past a 3-image header: refused as trailing
        // bytes after reading only what the header declares.
        let mut bomb = encode_idx_images(&images3());
        bomb.resize(bomb.len() + (64 << 20), 0);
        let packed = gz(&bomb);
        assert!(packed.len() < 1 << 20);
        match decode_idx_images(Path::new("bomb.gz"), &packed) {
            Err(IdxError::TrailingBytes {
                expected, found, ..
            }) => assert_eq!(found - expected, 64 << 20),
            other => panic!("{other:?}"),
        }
        // A header promising 999,999 images with none behind it is truncated, not allocated.
        let mut short = encode_idx_images(&[]);
        short[4..8].copy_from_slice(&999_999u32.to_be_bytes());
        assert!(matches!(
            decode_idx_images(Path::new("short"), &short),
            Err(IdxError::Truncated { found: 16, .. })
        ));
    }

    #[test]
    fn decoding_bytes_matches_reading_files() {
        let imgs = images3();
        let raw = encode_idx_images(&imgs);
        assert_eq!(decode_idx_images(Path::new("x"), &raw).unwrap(), imgs);
        assert_eq!(decode_idx_images(Path::new("x"), &gz(&raw)).unwrap(), imgs);
        let labels = encode_idx_labels(&[3, 1, 4]);
        assert_eq!(
            decode_idx_labels(Path::new("y"), &gz(&labels)).unwrap(),
            vec![3, 1, 4]
        );
        let err = decode_idx_labels(Path::new("named.idx"), &raw).unwrap_err();
        assert!(err.to_string().contains("named.idx"), "{err}");
    }
}
