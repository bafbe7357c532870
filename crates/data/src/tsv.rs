//! The seed tutorial's text format: one image per line, 784 tab-separated pixel values
//! (0-255, row-major) then the label (0-9). `#` lines are comments; blank lines are ignored.

use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::item::MnistItem;
use crate::{IMAGE_PIXELS, MAX_ITEMS, NUM_CLASSES};

/// Columns per data line: the pixels and the label.
const COLUMNS: usize = IMAGE_PIXELS + 1;

/// What can be wrong with a TSV file. Line and column numbers are 1-based.
#[derive(Debug, thiserror::Error)]
pub enum TsvError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A data line without exactly 785 fields.
    #[error("{path}:{line}: expected {expected} tab-separated values, found {found}")]
    ColumnCount {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 785.
        expected: usize,
        /// Fields on the line.
        found: usize,
    },
    /// A pixel that is not an integer 0-255.
    #[error("{path}:{line}: column {column}: pixel value {value:?} is not an integer 0-255")]
    BadPixel {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The text found.
        value: String,
    },
    /// A label that is not an integer 0-9.
    #[error("{path}:{line}: column {column}: label {value:?} is not an integer 0-9")]
    BadLabel {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based column (always 785).
        column: usize,
        /// The text found.
        value: String,
    },
    /// A line longer than [`MAX_LINE_BYTES`] (not a TSV file, or one without line breaks).
    #[error("{path}:{line}: line longer than {limit} bytes; this is not the tutorial's TSV format")]
    LineTooLong {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// [`MAX_LINE_BYTES`].
        limit: usize,
    },
    /// More data lines than the reader holds in memory.
    #[error("{path}:{line}: more than {limit} images; this reader accepts at most {limit}")]
    TooManyItems {
        /// The file.
        path: PathBuf,
        /// 1-based line number of the first image past the limit.
        line: usize,
        /// [`crate::MAX_ITEMS`].
        limit: usize,
    },
    /// No data lines at all.
    #[error("{path} holds no images (only comments or blank lines)")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// Strict decimal parse; rejects signs, spaces and anything above `max`.
fn parse_small(text: &[u8], max: u16) -> Option<u8> {
    if text.is_empty() || text.len() > 3 {
        return None;
    }
    let mut v: u16 = 0;
    for &c in text {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u16::from(c - b'0');
    }
    if v <= max { u8::try_from(v).ok() } else { None }
}

/// The longest line accepted: a data line is at most 3,140 bytes (785 fields of three digits
/// and a tab); comments get room too, but a file without line breaks is refused early.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Reads every data line of a TSV file, streaming: memory holds the items and one line.
pub fn read_tsv(path: &Path) -> Result<Vec<MnistItem>, TsvError> {
    let io_error = |source| TsvError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = files::open_regular(path, files::Links::Follow).map_err(io_error)?;
    parse(path, BufReader::new(file))
}

/// [`read_tsv`] on bytes already in memory; `name` is used in errors. The fuzz targets call this.
pub fn decode_tsv(name: &Path, bytes: &[u8]) -> Result<Vec<MnistItem>, TsvError> {
    parse(name, bytes)
}

fn parse(path: &Path, mut input: impl BufRead) -> Result<Vec<MnistItem>, TsvError> {
    let mut items = Vec::new();
    let mut raw_line = Vec::new();
    for line in 1.. {
        raw_line.clear();
        let read = (&mut input)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut raw_line)
            .map_err(|source| TsvError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        if read == 0 {
            break;
        }
        let text = raw_line.strip_suffix(b"\n").unwrap_or(&raw_line);
        if text.len() > MAX_LINE_BYTES {
            return Err(TsvError::LineTooLong {
                path: path.to_path_buf(),
                line,
                limit: MAX_LINE_BYTES,
            });
        }
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.first() == Some(&b'#') || text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if items.len() == MAX_ITEMS {
            return Err(TsvError::TooManyItems {
                path: path.to_path_buf(),
                line,
                limit: MAX_ITEMS,
            });
        }
        items.push(parse_line(path, line, text)?);
    }
    if items.is_empty() {
        return Err(TsvError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(items)
}

fn parse_line(path: &Path, line: usize, text: &[u8]) -> Result<MnistItem, TsvError> {
    let mut item = MnistItem {
        image: [0; IMAGE_PIXELS],
        label: 0,
    };
    let mut found = 0;
    for (col, field) in text.split(|&b| b == b'\t').enumerate() {
        found += 1;
        let shown = || String::from_utf8_lossy(field).into_owned();
        if let Some(slot) = item.image.get_mut(col) {
            *slot = parse_small(field, 255).ok_or_else(|| TsvError::BadPixel {
                path: path.to_path_buf(),
                line,
                column: col + 1,
                value: shown(),
            })?;
        } else if col == IMAGE_PIXELS {
            item.label =
                parse_small(field, NUM_CLASSES as u16 - 1).ok_or_else(|| TsvError::BadLabel {
                    path: path.to_path_buf(),
                    line,
                    column: col + 1,
                    value: shown(),
                })?;
        }
    }
    if found != COLUMNS {
        return Err(TsvError::ColumnCount {
            path: path.to_path_buf(),
            line,
            expected: COLUMNS,
            found,
        });
    }
    Ok(item)
}

/// Writes items in the format [`read_tsv`] reads, atomically (temp file + rename).
///
/// A header comment explains the layout. Writing zero items produces a file that
/// `read_tsv` rejects as [`TsvError::Empty`].
pub fn write_tsv(path: &Path, items: &[MnistItem]) -> Result<(), TsvError> {
    files::write_atomic_with(path, |w| {
        writeln!(
            w,
            "# {} images: 784 pixel values (row-major 28x28, 0-255) then the label (0-9), tab-separated",
            items.len()
        )?;
        let mut line = String::with_capacity(COLUMNS * 4);
        for item in items {
            line.clear();
            for p in item.image {
                line.push_str(itoa3(p).as_str());
                line.push('\t');
            }
            line.push_str(itoa3(item.label).as_str());
            line.push('\n');
            w.write_all(line.as_bytes())?;
        }
        Ok(())
    })
    .map_err(|source| TsvError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Decimal text of a byte without going through the formatting machinery (784 per line adds up).
fn itoa3(v: u8) -> SmallStr {
    let mut buf = [0u8; 3];
    let mut n = 0;
    if v >= 100 {
        buf[n] = b'0' + v / 100;
        n += 1;
    }
    if v >= 10 {
        buf[n] = b'0' + (v / 10) % 10;
        n += 1;
    }
    buf[n] = b'0' + v % 10;
    SmallStr { buf, len: n + 1 }
}

struct SmallStr {
    buf: [u8; 3],
    len: usize,
}

impl SmallStr {
    fn as_str(&self) -> &str {
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn sample() -> Vec<MnistItem> {
        (0..3u8)
            .map(|i| MnistItem {
                image: std::array::from_fn(|p| ((p * 7 + i as usize * 31) % 256) as u8),
                label: i * 4,
            })
            .collect()
    }

    fn line_of(item: &MnistItem) -> Vec<String> {
        let mut v: Vec<String> = item.image.iter().map(|p| p.to_string()).collect();
        v.push(item.label.to_string());
        v
    }

    #[test]
    fn round_trip_with_comments_and_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.tsv");
        let items = sample();
        write_tsv(&path, &items).unwrap();
        assert_eq!(read_tsv(&path).unwrap(), items);
        // Only the final file remains (no temp files).
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

        let mut text = String::from("# header\n\n");
        text.push_str(&line_of(&items[0]).join("\t"));
        text.push_str("\r\n# middle comment\n   \n");
        text.push_str(&line_of(&items[1]).join("\t"));
        fs::write(&path, text).unwrap();
        assert_eq!(read_tsv(&path).unwrap(), items[..2].to_vec());
    }

    fn expect_err(body: &str) -> TsvError {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.tsv");
        fs::write(&path, body).unwrap();
        let err = read_tsv(&path).unwrap_err();
        assert!(err.to_string().contains("bad.tsv"), "{err}");
        err
    }

    #[test]
    fn errors_name_line_and_column() {
        let good = line_of(&sample()[0]);
        let mut bad = good.clone();
        bad[5] = "256".into();
        let body = format!("# c\n{}\n{}\n", good.join("\t"), bad.join("\t"));
        match expect_err(&body) {
            TsvError::BadPixel {
                line,
                column,
                value,
                ..
            } => assert_eq!((line, column, value.as_str()), (3, 6, "256")),
            e => panic!("{e:?}"),
        }

        let short = good[..784].join("\t");
        match expect_err(&short) {
            TsvError::ColumnCount {
                line,
                expected,
                found,
                ..
            } => assert_eq!((line, expected, found), (1, 785, 784)),
            e => panic!("{e:?}"),
        }
        let long = format!("{}\t1", good.join("\t"));
        assert!(matches!(
            expect_err(&long),
            TsvError::ColumnCount { found: 786, .. }
        ));

        let mut label = good.clone();
        label[784] = "10".into();
        match expect_err(&format!("\n{}", label.join("\t"))) {
            TsvError::BadLabel {
                line,
                column,
                value,
                ..
            } => assert_eq!((line, column, value.as_str()), (2, 785, "10")),
            e => panic!("{e:?}"),
        }
        let mut neg = good.clone();
        neg[0] = "-1".into();
        assert!(matches!(
            expect_err(&neg.join("\t")),
            TsvError::BadPixel { column: 1, .. }
        ));

        assert!(matches!(
            expect_err("# only a comment\n\n"),
            TsvError::Empty { .. }
        ));
    }

    #[test]
    fn itoa_matches_to_string() {
        for v in 0..=255u8 {
            assert_eq!(itoa3(v).as_str(), v.to_string());
        }
    }

    #[test]
    fn files_without_line_breaks_and_folders_are_refused_early() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("one-line.tsv");
        fs::write(&path, vec![b'1'; MAX_LINE_BYTES + 10]).unwrap();
        match read_tsv(&path).unwrap_err() {
            TsvError::LineTooLong { line: 1, .. } => {}
            e => panic!("{e:?}"),
        }
        let err = read_tsv(dir.path()).unwrap_err();
        assert!(err.to_string().contains("directory"), "{err}");
        let good = line_of(&sample()[0]).join("\t");
        assert_eq!(
            decode_tsv(Path::new("mem.tsv"), good.as_bytes()).unwrap(),
            sample()[..1].to_vec()
        );
    }
}
