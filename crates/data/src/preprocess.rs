//! Making an arbitrary picture look like an MNIST digit: light ink on a dark background,
//! cropped to the ink, longer side 20 px, centre of mass at the centre of a 28x28 field
//! (the procedure LeCun et al. used to build MNIST).

use image::imageops::{self, FilterType};
use image::{DynamicImage, GrayImage, Luma};

use crate::{IMAGE_PIXELS, IMAGE_SIDE};

/// Longer side of the digit's box inside the 28x28 field, as in MNIST.
const DIGIT_BOX: u32 = 20;
/// Ink must exceed the background by this much (of 255) to count for the bounding box;
/// keeps paper texture and JPEG noise from inflating the crop.
const INK_THRESHOLD: u8 = 32;

/// Why a picture cannot be turned into an MNIST-style image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreprocessError {
    /// The picture has zero width or height.
    #[error("image is empty ({width}x{height})")]
    Empty {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// No pixel stands out from the background, so there is nothing to classify
    /// (an error rather than an all-zero image, so callers never predict on nothing).
    #[error("image is blank: no ink stands out from the background ({width}x{height})")]
    Blank {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
}

/// Greyscale with transparency composited onto white paper (transparent PNGs are common for drawings).
fn to_grey(image: &DynamicImage) -> GrayImage {
    if image.color().has_alpha() {
        let la = image.to_luma_alpha8();
        GrayImage::from_fn(la.width(), la.height(), |x, y| {
            let [l, a] = la.get_pixel(x, y).0;
            let (l, a) = (u32::from(l), u32::from(a));
            Luma([((l * a + 255 * (255 - a)) / 255) as u8])
        })
    } else {
        image.to_luma8()
    }
}

/// Converts a picture to a row-major 28x28 MNIST-style image (0 = background, 255 = ink).
///
/// Dark ink on light paper is detected (mean brightness above one half, or most border
/// pixels light) and inverted. A picture with no ink, including any 1x1 picture, is
/// [`PreprocessError::Blank`].
pub fn mnist_style(image: &DynamicImage) -> Result<[u8; IMAGE_PIXELS], PreprocessError> {
    let (width, height) = (image.width(), image.height());
    if width == 0 || height == 0 {
        return Err(PreprocessError::Empty { width, height });
    }
    let grey = to_grey(image);
    let pixels = grey.as_raw();
    let n = pixels.len() as u64;
    let mean = pixels.iter().map(|&p| u64::from(p)).sum::<u64>() / n.max(1);
    let mut border: Vec<u8> = (0..width)
        .flat_map(|x| [(x, 0), (x, height - 1)])
        .chain((0..height).flat_map(|y| [(0, y), (width - 1, y)]))
        .map(|(x, y)| grey.get_pixel(x, y).0[0])
        .collect();
    let light_border = border.iter().filter(|&&p| p > 127).count() * 2 > border.len();
    let invert = mean > 127 || light_border;
    let ink_of = |p: u8| if invert { 255 - p } else { p };

    // Background level: the median border pixel, in ink terms.
    border.sort_unstable();
    let background = ink_of(border.get(border.len() / 2).copied().unwrap_or(0));
    let threshold = background.saturating_add(INK_THRESHOLD);

    // Bounding box of ink and the brightest ink (for contrast stretching).
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    let mut peak = 0u8;
    for (x, y, p) in grey.enumerate_pixels() {
        let ink = ink_of(p.0[0]);
        if ink > threshold {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
            peak = peak.max(ink);
        }
    }
    if x0 > x1 || y0 > y1 {
        return Err(PreprocessError::Blank { width, height });
    }
    let (cw, ch) = (x1 - x0 + 1, y1 - y0 + 1);
    // Background maps to 0 and the strongest stroke to 255, like MNIST's scanned digits.
    let range = f32::from(peak.saturating_sub(background).max(1));
    let crop = GrayImage::from_fn(cw, ch, |x, y| {
        let ink = ink_of(grey.get_pixel(x0 + x, y0 + y).0[0]);
        let v = f32::from(ink.saturating_sub(background)) * 255.0 / range;
        Luma([v.round().clamp(0.0, 255.0) as u8])
    });

    let long = cw.max(ch);
    let nw = ((cw * DIGIT_BOX) as f32 / long as f32).round().max(1.0) as u32;
    let nh = ((ch * DIGIT_BOX) as f32 / long as f32).round().max(1.0) as u32;
    let digit = imageops::resize(&crop, nw, nh, FilterType::Triangle);

    // Centre of mass in continuous coordinates (pixel centres at +0.5).
    let (mut sum, mut sx, mut sy) = (0f64, 0f64, 0f64);
    for (x, y, p) in digit.enumerate_pixels() {
        let w = f64::from(p.0[0]);
        sum += w;
        sx += w * (f64::from(x) + 0.5);
        sy += w * (f64::from(y) + 0.5);
    }
    if sum == 0.0 {
        return Err(PreprocessError::Blank { width, height });
    }
    let half = IMAGE_SIDE as f64 / 2.0;
    let ox = (half - sx / sum).round() as i64;
    let oy = (half - sy / sum).round() as i64;

    let mut out = [0u8; IMAGE_PIXELS];
    for (x, y, p) in digit.enumerate_pixels() {
        let (tx, ty) = (i64::from(x) + ox, i64::from(y) + oy);
        // Clip what a lopsided digit pushes off the field, as MNIST's shift did.
        if (0..IMAGE_SIDE as i64).contains(&tx)
            && (0..IMAGE_SIDE as i64).contains(&ty)
            && let Some(slot) = out.get_mut(ty as usize * IMAGE_SIDE + tx as usize)
        {
            *slot = p.0[0];
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn centre_of_mass(img: &[u8; IMAGE_PIXELS]) -> (f64, f64) {
        let (mut s, mut sx, mut sy) = (0.0, 0.0, 0.0);
        for (i, &p) in img.iter().enumerate() {
            let w = f64::from(p);
            s += w;
            sx += w * ((i % 28) as f64 + 0.5);
            sy += w * ((i / 28) as f64 + 0.5);
        }
        (sx / s, sy / s)
    }

    /// A "7"-ish stroke drawn in dark ink on white paper, off-centre.
    fn paper_digit(w: u32, h: u32) -> DynamicImage {
        let img = GrayImage::from_fn(w, h, |x, y| {
            let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
            let top_bar = (0.10..0.16).contains(&fy) && (0.15..0.55).contains(&fx);
            let diagonal =
                (0.10..0.80).contains(&fy) && ((0.55 - (fy - 0.10) * 0.4) - fx).abs() < 0.03;
            Luma([if top_bar || diagonal { 20 } else { 235 }])
        });
        DynamicImage::ImageLuma8(img)
    }

    #[test]
    fn dark_on_light_is_inverted_cropped_and_centred() {
        let out = mnist_style(&paper_digit(200, 150)).unwrap();
        // Inverted: background 0, strokes bright.
        assert_eq!(out[0], 0);
        assert!(out.iter().copied().max().unwrap() > 200);
        let (cx, cy) = centre_of_mass(&out);
        assert!(
            (cx - 14.0).abs() < 1.0 && (cy - 14.0).abs() < 1.0,
            "({cx}, {cy})"
        );
        // Longer side scaled to 20 px: ink spans at most 20 rows and columns (+1 for filter spill).
        let rows = (0..28)
            .filter(|y| (0..28).any(|x| out[y * 28 + x] > 0))
            .count();
        assert!((18..=21).contains(&rows), "{rows}");
    }

    #[test]
    fn light_on_dark_is_not_inverted() {
        let paper = paper_digit(60, 60).to_luma8();
        let inverted = GrayImage::from_fn(60, 60, |x, y| Luma([255 - paper.get_pixel(x, y).0[0]]));
        let a = mnist_style(&DynamicImage::ImageLuma8(inverted)).unwrap();
        let b = mnist_style(&DynamicImage::ImageLuma8(paper)).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn tiny_huge_blank_and_transparent_inputs() {
        let one = DynamicImage::ImageLuma8(GrayImage::from_pixel(1, 1, Luma([255])));
        assert!(matches!(
            mnist_style(&one),
            Err(PreprocessError::Blank {
                width: 1,
                height: 1
            })
        ));
        let empty = DynamicImage::ImageLuma8(GrayImage::new(0, 5));
        assert!(matches!(
            mnist_style(&empty),
            Err(PreprocessError::Empty { .. })
        ));
        let blank = DynamicImage::ImageLuma8(GrayImage::from_pixel(50, 40, Luma([200])));
        assert!(matches!(
            mnist_style(&blank),
            Err(PreprocessError::Blank { .. })
        ));

        let huge = mnist_style(&paper_digit(4000, 4000)).unwrap();
        let (cx, cy) = centre_of_mass(&huge);
        assert!(
            (cx - 14.0).abs() < 1.0 && (cy - 14.0).abs() < 1.0,
            "({cx}, {cy})"
        );

        // A single ink pixel in a 3x3 field still yields a centred blob.
        let mut dot = GrayImage::from_pixel(3, 3, Luma([0]));
        dot.put_pixel(0, 0, Luma([255]));
        let out = mnist_style(&DynamicImage::ImageLuma8(dot)).unwrap();
        let (cx, cy) = centre_of_mass(&out);
        assert!(
            (cx - 14.0).abs() < 1.0 && (cy - 14.0).abs() < 1.0,
            "({cx}, {cy})"
        );

        // Black strokes on a transparent background count as dark ink on white paper.
        let rgba = image::RgbaImage::from_fn(40, 40, |x, y| {
            if (10..30).contains(&x) && (18..22).contains(&y) {
                image::Rgba([0, 0, 0, 255])
            } else {
                image::Rgba([0, 0, 0, 0])
            }
        });
        let out = mnist_style(&DynamicImage::ImageRgba8(rgba)).unwrap();
        assert_eq!(out[0], 0);
        assert!(out[14 * 28 + 14] > 200);
    }
}
