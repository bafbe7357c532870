//! What every picture shares: the embedded font, the RGB canvas, and the
//! atomic PNG/SVG writers.

use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

use image::ImageEncoder;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::PlotError;

/// Family name every picture asks plotters for; the embedded font is
/// registered under it.
pub(crate) const FONT: &str = "sans-serif";

/// DejaVu Sans cut down to ASCII (see `assets/README.md`); embedded so text
/// renders the same everywhere without fontconfig/freetype.
static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans-subset.ttf");

/// Largest side of any picture, so a caller's mistake (a million columns)
/// is an error instead of a multi-gigabyte allocation.
pub(crate) const MAX_SIDE: u32 = 16_384;

/// Registers the font once per process; plotters keeps a global table.
pub(crate) fn ensure_font(path: &Path) -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(PlotError::draw(path, "embedded font could not be parsed"))
    }
}

/// Pixel width and height of `text` at `size` px in the embedded font.
pub(crate) fn text_size(path: &Path, text: &str, size: f64) -> Result<(u32, u32), PlotError> {
    ensure_font(path)?;
    (FONT, size)
        .into_font()
        .box_size(text)
        .map_err(|e| PlotError::draw(path, format!("{e:?}")))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Png,
    Svg,
}

/// Picks the format from the extension; `allow_svg` is false for pictures
/// made of raster images, which the SVG backend cannot embed without extra
/// dependencies.
pub(crate) fn format_of(path: &Path, allow_svg: bool) -> Result<Format, PlotError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("png") => Ok(Format::Png),
        Some("svg") if allow_svg => Ok(Format::Svg),
        _ => Err(PlotError::UnsupportedFormat {
            path: path.to_path_buf(),
            expected: if allow_svg { ".png or .svg" } else { ".png" },
        }),
    }
}

/// An RGB8 canvas, white to start with. Raster content (digits, maps, cells)
/// is written straight into it; text and frames are drawn on top through a
/// plotters bitmap backend borrowing the same buffer.
pub(crate) struct Canvas {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl Canvas {
    pub fn new(path: &Path, width: u32, height: u32) -> Result<Self, PlotError> {
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(PlotError::invalid(
                path,
                format!("picture would be {width}x{height} px (each side must be 1..={MAX_SIDE})"),
            ));
        }
        Ok(Self {
            width,
            height,
            rgb: vec![255; width as usize * height as usize * 3],
        })
    }

    /// Fills a rectangle, clipped to the canvas.
    pub fn fill(&mut self, x: u32, y: u32, w: u32, h: u32, color: [u8; 3]) {
        let x1 = (x + w).min(self.width);
        let y1 = (y + h).min(self.height);
        for yy in y.min(y1)..y1 {
            let row = yy as usize * self.width as usize;
            for xx in x.min(x1)..x1 {
                let i = (row + xx as usize) * 3;
                self.rgb[i..i + 3].copy_from_slice(&color);
            }
        }
    }

    /// Runs `draw` with a plotters drawing area over this canvas.
    pub fn draw<F>(&mut self, path: &Path, draw: F) -> Result<(), PlotError>
    where
        F: for<'b> FnOnce(
            &DrawingArea<BitMapBackend<'b>, plotters::coord::Shift>,
        ) -> Result<
            (),
            DrawingAreaErrorKind<<BitMapBackend<'b> as DrawingBackend>::ErrorType>,
        >,
    {
        ensure_font(path)?;
        let root = BitMapBackend::with_buffer(&mut self.rgb, (self.width, self.height))
            .into_drawing_area();
        draw(&root).map_err(|e| PlotError::draw(path, e))?;
        root.present().map_err(|e| PlotError::draw(path, e))
    }

    pub fn save_png(&self, path: &Path) -> Result<(), PlotError> {
        write_atomically(path, |out| {
            image::codecs::png::PngEncoder::new(out)
                .write_image(
                    &self.rgb,
                    self.width,
                    self.height,
                    image::ExtendedColorType::Rgb8,
                )
                .map_err(|source| PlotError::Encode {
                    path: path.to_path_buf(),
                    source,
                })
        })
    }
}

/// Writes `text` (an SVG document) atomically.
pub(crate) fn save_text(path: &Path, text: &str) -> Result<(), PlotError> {
    write_atomically(path, |out| {
        out.write_all(text.as_bytes())
            .map_err(|source| PlotError::Io {
                path: path.to_path_buf(),
                source,
            })
    })
}

/// Writes through the workspace's one atomic writer: no file, or the whole picture.
fn write_atomically<F>(path: &Path, write: F) -> Result<(), PlotError>
where
    F: FnOnce(&mut dyn Write) -> Result<(), PlotError>,
{
    // The closure's own error is kept aside so that it, not a generic I/O error, is returned.
    let mut failure = None;
    let result = files::write_atomic_with(path, |out| {
        write(out).map_err(|e| {
            failure = Some(e);
            std::io::Error::other("picture not written")
        })
    });
    match (result, failure) {
        (_, Some(e)) => Err(e),
        (Err(source), None) => Err(PlotError::Io {
            path: path.to_path_buf(),
            source,
        }),
        (Ok(()), None) => Ok(()),
    }
}
