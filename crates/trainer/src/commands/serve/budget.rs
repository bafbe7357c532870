//! The memory that uploads to `POST /api/predict` may hold at once: their bodies, from before
//! they are read until they are answered, and what decoding an image allocates, worked out
//! from its header before anything is decoded. A request whose share is not free at once is
//! refused with 503 rather than queued, so neither memory nor waiting grows with the number
//! of clients.

use std::io::Cursor;
use std::sync::Arc;

use data::MAX_PICTURE_PIXELS;
use image::{ImageDecoder, ImageReader};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The memory, in MiB, that uploads in flight may hold together.
pub const BUDGET_MIB: u32 = 1024;

/// Bytes per pixel besides the decoded picture: its greyscale copy (with alpha, a grey+alpha
/// copy first), the crop to the ink, and slack.
const PREPARE_BYTES_PER_PIXEL: u64 = 4;

/// Bytes per pixel a JPEG decoder may keep besides its output: a progressive JPEG's
/// coefficients, 2 bytes for each of up to 4 full-size components.
const JPEG_BYTES_PER_PIXEL: u64 = 8;

const MIB: u64 = 1 << 20;

/// Shares of [`BUDGET_MIB`], one MiB a permit; cheap to clone.
#[derive(Clone)]
pub struct Budget {
    mib: Arc<Semaphore>,
}

impl Budget {
    pub fn new() -> Self {
        Self {
            mib: Arc::new(Semaphore::new(BUDGET_MIB as usize)),
        }
    }

    /// Room for a body of `bytes`, held until the permit is dropped; `None` when it is not
    /// free now. At least one MiB, so that the budget also caps how many uploads are in flight.
    pub fn try_body(&self, bytes: u64) -> Option<OwnedSemaphorePermit> {
        self.mib.clone().try_acquire_many_owned(mib(bytes)).ok()
    }

    /// Grows `room`, the body's, to hold decoding and preparing the image in `body` as well;
    /// false when that is not free now. An upload that needs more than the whole budget gets
    /// the whole budget: it has to have it to itself.
    pub fn try_decode(&self, body: &[u8], room: &mut OwnedSemaphorePermit) -> bool {
        let held = room.num_permits() as u64;
        let total = held * MIB + decode_bytes(body).unwrap_or(0);
        let more = mib(total).saturating_sub(held as u32);
        if more == 0 {
            return true;
        }
        match self.mib.clone().try_acquire_many_owned(more) {
            Ok(permit) => {
                room.merge(permit);
                true
            }
            Err(_) => false,
        }
    }
}

/// `bytes` in whole MiB: at least 1, at most the budget.
fn mib(bytes: u64) -> u32 {
    bytes.div_ceil(MIB).clamp(1, BUDGET_MIB.into()) as u32
}

/// An upper bound on what decoding and preparing `body` allocates, from its header; `None`
/// where the decoder refuses it before allocating anything (not an image, or more than
/// [`MAX_PICTURE_PIXELS`]).
fn decode_bytes(body: &[u8]) -> Option<u64> {
    let mut reader = ImageReader::new(Cursor::new(body))
        .with_guessed_format()
        .ok()?;
    let jpeg = reader.format() == Some(image::ImageFormat::Jpeg);
    // The header alone: a limit is not needed, and would refuse what decoding accepts.
    reader.no_limits();
    let decoder = reader.into_decoder().ok()?;
    let (width, height) = decoder.dimensions();
    let (width, height) = (u64::from(width), u64::from(height));
    if width * height > MAX_PICTURE_PIXELS {
        return None;
    }
    let mut per_pixel = u64::from(decoder.color_type().bytes_per_pixel()) + PREPARE_BYTES_PER_PIXEL;
    if jpeg {
        per_pixel += JPEG_BYTES_PER_PIXEL;
    }
    Some(picture_bytes(width, height, per_pixel))
}

/// `per_pixel` bytes for each pixel, plus what grows with the width or height alone: the
/// decoder's rows (the previous and the current, at most 8 bytes a pixel) and the resize's
/// scratch image, `crop width x (at most 20 rows)` pixels of 16 bytes, which for a picture one
/// pixel high is twice the size of the picture itself.
fn picture_bytes(width: u64, height: u64, per_pixel: u64) -> u64 {
    let rows = 2 * 8 * width;
    let resize = 16 * (width + 20 * height);
    width * height * per_pixel + rows + resize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The start of a `width`x`height` PNG (8-bit grey, or RGBA when `rgba`): its header and an
    /// empty first data chunk, all a decoder reads before it allocates the picture.
    fn png_header(width: u32, height: u32, rgba: bool) -> Vec<u8> {
        let mut ihdr = [width.to_be_bytes(), height.to_be_bytes()].concat();
        ihdr.extend_from_slice(&[8, if rgba { 6 } else { 0 }, 0, 0, 0]);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        for (kind, data) in [(b"IHDR", &ihdr[..]), (b"IDAT", &[][..])] {
            let mut crc = flate2::Crc::new();
            crc.update(kind);
            crc.update(data);
            png.extend_from_slice(&(data.len() as u32).to_be_bytes());
            png.extend_from_slice(kind);
            png.extend_from_slice(data);
            png.extend_from_slice(&crc.sum().to_be_bytes());
        }
        png
    }

    #[test]
    fn decoding_is_costed_from_the_header() {
        // Grey: 1 byte a pixel decoded, 4 to prepare it, the rows and the resize's scratch.
        let rows = |width: u64, height: u64| 16 * width + 16 * (width + 20 * height);
        assert_eq!(
            decode_bytes(&png_header(4000, 3000, false)),
            Some(4000 * 3000 * 5 + rows(4000, 3000))
        );
        assert_eq!(
            decode_bytes(&png_header(4000, 3000, true)),
            Some(4000 * 3000 * 8 + rows(4000, 3000))
        );
        // A strip one pixel high costs more than its pixels.
        let strip = decode_bytes(&png_header(1 << 26, 1, false)).unwrap();
        assert_eq!(strip, (1 << 26) * (5 + 32) + 320);
        // Refused from the header: nothing is allocated.
        assert_eq!(decode_bytes(b"hello"), None);
        assert_eq!(decode_bytes(&png_header(1 << 14, 1 << 13, false)), None);
    }

    #[test]
    fn shares_are_taken_and_given_back() {
        let budget = Budget::new();
        let decode = |body: &[u8]| {
            let mut room = budget.try_body(body.len() as u64)?;
            budget.try_decode(body, &mut room).then_some(room)
        };
        // A drawing: the body's MiB (the least a body takes) and 0.7 MiB to decode.
        let drawing = decode(&png_header(280, 280, true)).unwrap();
        assert_eq!(drawing.num_permits(), 2);
        let body = budget.try_body(5 << 20).unwrap();
        assert_eq!(body.num_permits(), 5);
        // 8192x8192 grey, 323 MiB and its body: three fit with the rest, a fourth does not.
        let big = png_header(1 << 13, 1 << 13, false);
        let held: Vec<_> = (0..3).map(|_| decode(&big).unwrap()).collect();
        assert_eq!(held[0].num_permits(), 324);
        assert!(decode(&big).is_none());
        drop(held);
        assert!(decode(&big).is_some());
        // More than the whole budget: it has to have the budget to itself.
        let strip = png_header(1 << 26, 1, false);
        assert!(decode(&strip).is_none());
        drop((drawing, body));
        assert_eq!(decode(&strip).unwrap().num_permits(), BUDGET_MIB as usize);
    }
}
