//! A picture file (PNG, JPEG, BMP, PGM) in, an MNIST-style 28x28 digit out, with the size
//! checked before anything large is allocated.

use std::io::Cursor;
use std::path::Path;

use image::{ImageReader, Limits};

use crate::preprocess::{PreprocessError, mnist_style};
use crate::{IMAGE_PIXELS, IMAGE_SIDE};

/// The largest picture accepted, in pixels (64 megapixels: a 8000x8000 scan). Checked from the
/// header, before decoding.
pub const MAX_PICTURE_PIXELS: u64 = 64 << 20;

/// The largest picture file read, in bytes.
pub const MAX_PICTURE_BYTES: u64 = 256 << 20;

/// Why a picture cannot be read as a digit. Messages leave out the file name: callers add it.
#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    /// The file could not be read, or is too large to be a picture.
    #[error("cannot read the file: {0}")]
    Read(#[from] files::ReadError),
    /// Not a picture in a format this crate decodes, or a damaged one.
    #[error("not a readable PNG, JPEG, BMP or PGM image: {0}")]
    Decode(String),
    /// More pixels than [`MAX_PICTURE_PIXELS`].
    #[error("the image is {width}x{height} ({} megapixels); at most {} megapixels are accepted", (.width * .height) >> 20, MAX_PICTURE_PIXELS >> 20)]
    TooLarge {
        /// Width in pixels, from the header.
        width: u64,
        /// Height in pixels, from the header.
        height: u64,
    },
    /// A raw picture (see [`read_raw_picture`]) that is not 28x28.
    #[error(
        "the image is {width}x{height}; a raw digit must be 28x28 (leave out --raw to scale and centre it)"
    )]
    NotDigitSized {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// Decoded, but holds no digit.
    #[error(transparent)]
    Preprocess(#[from] PreprocessError),
}

/// Reads a picture file and prepares it as [`mnist_style`] does.
pub fn read_picture(path: &Path) -> Result<[u8; IMAGE_PIXELS], PictureError> {
    decode_picture(&files::read_capped(path, MAX_PICTURE_BYTES)?)
}

/// [`read_picture`] on bytes already in memory (an upload, a fuzz input).
pub fn decode_picture(bytes: &[u8]) -> Result<[u8; IMAGE_PIXELS], PictureError> {
    Ok(mnist_style(&decode(bytes)?)?)
}

/// Reads a picture that already is an MNIST digit (28x28, light ink on a dark background) and
/// takes its grey levels as they are: no inversion, cropping or centring.
pub fn read_raw_picture(path: &Path) -> Result<[u8; IMAGE_PIXELS], PictureError> {
    decode_raw_picture(&files::read_capped(path, MAX_PICTURE_BYTES)?)
}

/// [`read_raw_picture`] on bytes already in memory.
pub fn decode_raw_picture(bytes: &[u8]) -> Result<[u8; IMAGE_PIXELS], PictureError> {
    let grey = decode(bytes)?.to_luma8();
    let (width, height) = grey.dimensions();
    if (width, height) != (IMAGE_SIDE as u32, IMAGE_SIDE as u32) {
        return Err(PictureError::NotDigitSized { width, height });
    }
    let mut out = [0u8; IMAGE_PIXELS];
    out.copy_from_slice(grey.as_raw());
    Ok(out)
}

/// Decodes a picture, refusing one of more than [`MAX_PICTURE_PIXELS`] from its header.
fn decode(bytes: &[u8]) -> Result<image::DynamicImage, PictureError> {
    let reader = || {
        ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| PictureError::Decode(e.to_string()))
    };
    let (width, height) = reader()?
        .into_dimensions()
        .map_err(|e| PictureError::Decode(e.to_string()))?;
    let (width, height) = (u64::from(width), u64::from(height));
    if width * height > MAX_PICTURE_PIXELS {
        return Err(PictureError::TooLarge { width, height });
    }
    let mut reader = reader()?;
    let mut limits = Limits::default();
    // Room for the largest accepted picture at 16 bits per RGBA channel, and no more.
    limits.max_alloc = Some(MAX_PICTURE_PIXELS * 8);
    reader.limits(limits);
    reader
        .decode()
        .map_err(|e| PictureError::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut img = image::GrayImage::from_pixel(width, height, image::Luma([255]));
        for y in height / 4..height * 3 / 4 {
            img.put_pixel(width / 2, y, image::Luma([0]));
        }
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn a_drawn_stroke_decodes_to_a_digit() {
        let digit = decode_picture(&png(40, 40)).unwrap();
        assert!(digit.iter().any(|&p| p > 200));
    }

    #[test]
    fn huge_pictures_are_refused_from_the_header() {
        // A BMP header for 20000x20000 pixels (1.2 GB of pixels, none present): refused from
        // the header, before anything is decoded. (tests/hostile.rs does the same with a PNG
        // through `trainer predict`.)
        let mut bytes = b"BM".to_vec();
        bytes.extend_from_slice(&1_000u32.to_le_bytes()); // file size
        bytes.extend_from_slice(&0u32.to_le_bytes()); // reserved
        bytes.extend_from_slice(&54u32.to_le_bytes()); // pixel data offset
        bytes.extend_from_slice(&40u32.to_le_bytes()); // info header size
        bytes.extend_from_slice(&20_000i32.to_le_bytes());
        bytes.extend_from_slice(&20_000i32.to_le_bytes());
        bytes.extend_from_slice(&1u16.to_le_bytes()); // planes
        bytes.extend_from_slice(&24u16.to_le_bytes()); // bits per pixel
        bytes.extend_from_slice(&[0; 24]); // no compression, sizes, palette
        match decode_picture(&bytes) {
            Err(PictureError::TooLarge { width, height }) => {
                assert_eq!((width, height), (20_000, 20_000))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn raw_digits_are_taken_as_they_are() {
        let mut img = image::GrayImage::new(28, 28);
        img.put_pixel(3, 5, image::Luma([200]));
        let mut bytes = Vec::new();
        img.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        let digit = decode_raw_picture(&bytes).unwrap();
        assert_eq!(digit[5 * 28 + 3], 200);
        assert_eq!(digit.iter().filter(|&&p| p > 0).count(), 1);
        assert!(matches!(
            decode_raw_picture(&png(40, 40)),
            Err(PictureError::NotDigitSized {
                width: 40,
                height: 40
            })
        ));
    }

    #[test]
    fn garbage_and_blank_pictures_are_errors() {
        assert!(matches!(
            decode_picture(b"\x89PNG\r\n\x1a\n not really"),
            Err(PictureError::Decode(_))
        ));
        assert!(matches!(decode_picture(b""), Err(PictureError::Decode(_))));
        let blank = {
            let img = image::GrayImage::from_pixel(9, 9, image::Luma([255]));
            let mut out = Vec::new();
            img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
                .unwrap();
            out
        };
        assert!(matches!(
            decode_picture(&blank),
            Err(PictureError::Preprocess(_))
        ));
    }
}
