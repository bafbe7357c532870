//! A grid of small greyscale images (MNIST digits) with a caption under each.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::PlotError;
use crate::output::{self, Canvas, FONT};

/// Each image pixel becomes a `DIGIT_SCALE`×`DIGIT_SCALE` block: a 28×28 digit
/// is drawn 112×112 px.
pub const DIGIT_SCALE: u32 = 4;
/// Height of the caption band under each image, in pixels.
pub const CAPTION_BAND: u32 = 26;
const CAPTION_PX: f64 = 16.0;
/// Space between tiles and around the grid.
const GAP: u32 = 12;
const RED: RGBColor = RGBColor(214, 39, 40);

/// One image of the grid: `pixels` row-major, `width * height` bytes, 0 =
/// background (as MNIST stores them).
#[derive(Debug, Clone)]
pub struct Tile<'a> {
    pub pixels: &'a [u8],
    pub width: usize,
    pub height: usize,
    pub caption: String,
    /// Drawn with a red frame and a red caption (e.g. a misclassified digit).
    pub wrong: bool,
}

/// Draws `tiles` row by row, `columns` per row (fewer if there are fewer
/// tiles), as dark ink on white so they read like handwriting, each framed
/// (grey, or red and thicker when `wrong`) with its caption centred below.
///
/// Cell size: the largest image times [`DIGIT_SCALE`], widened to fit the
/// longest caption, plus [`CAPTION_BAND`]; 12 px between cells and around the
/// grid. 16 tiles of 28×28 in 4 columns make a 508×612 px PNG.
pub fn digit_grid(path: &Path, tiles: &[Tile<'_>], columns: usize) -> Result<(), PlotError> {
    output::format_of(path, false)?;
    if tiles.is_empty() {
        return Err(PlotError::invalid(path, "no tiles"));
    }
    if columns == 0 {
        return Err(PlotError::invalid(path, "columns must be at least 1"));
    }
    for (i, t) in tiles.iter().enumerate() {
        if t.width == 0 || t.height == 0 || t.pixels.len() != t.width * t.height {
            return Err(PlotError::invalid(
                path,
                format!(
                    "tile {i}: {} pixels for {}x{} (need width*height > 0)",
                    t.pixels.len(),
                    t.width,
                    t.height
                ),
            ));
        }
    }
    let max_side = output::MAX_SIDE as usize;
    let img_w = tiles
        .iter()
        .map(|t| t.width)
        .max()
        .unwrap_or(1)
        .min(max_side) as u32;
    let img_h = tiles
        .iter()
        .map(|t| t.height)
        .max()
        .unwrap_or(1)
        .min(max_side) as u32;
    let mut caption_w = 0;
    for t in tiles {
        caption_w = caption_w.max(output::text_size(path, &t.caption, CAPTION_PX)?.0);
    }
    let cell_w = (img_w * DIGIT_SCALE).max(caption_w + 8);
    let cell_h = img_h * DIGIT_SCALE + CAPTION_BAND;
    let cols = columns.min(tiles.len());
    let rows = tiles.len().div_ceil(cols);
    let side = |n: usize, cell: u32| -> u32 {
        let n = n.min(max_side) as u32;
        GAP.saturating_add(n.saturating_mul(cell.saturating_add(GAP)))
    };
    let mut canvas = Canvas::new(path, side(cols, cell_w), side(rows, cell_h))?;

    // Pixels go straight into the buffer; plotters draws frames and text after.
    let origin = |i: usize| {
        let (r, c) = ((i / cols) as u32, (i % cols) as u32);
        (GAP + c * (cell_w + GAP), GAP + r * (cell_h + GAP))
    };
    for (i, t) in tiles.iter().enumerate() {
        let (x0, y0) = origin(i);
        // Centre images narrower than the cell (wide captions, mixed sizes).
        let ox = x0 + (cell_w - t.width as u32 * DIGIT_SCALE) / 2;
        let oy = y0 + (img_h - t.height as u32) * DIGIT_SCALE / 2;
        for (j, &p) in t.pixels.iter().enumerate() {
            let (px, py) = ((j % t.width) as u32, (j / t.width) as u32);
            let ink = 255 - p;
            canvas.fill(
                ox + px * DIGIT_SCALE,
                oy + py * DIGIT_SCALE,
                DIGIT_SCALE,
                DIGIT_SCALE,
                [ink; 3],
            );
        }
    }
    canvas.draw(path, |root| {
        for (i, t) in tiles.iter().enumerate() {
            let (x0, y0) = (origin(i).0 as i32, origin(i).1 as i32);
            let img_bottom = y0 + (img_h * DIGIT_SCALE) as i32;
            let (color, width) = if t.wrong {
                (RED, 3)
            } else {
                (RGBColor(170, 170, 170), 1)
            };
            // The frame encloses image and caption so a red tile stands out whole.
            let (x1, y1) = (x0 + cell_w as i32 - 1, y0 + cell_h as i32 - 1);
            for k in 0..width {
                root.draw(&Rectangle::new(
                    [(x0 - k, y0 - k), (x1 + k, y1 + k)],
                    color.stroke_width(1),
                ))?;
            }
            let style = TextStyle::from((FONT, CAPTION_PX).into_font())
                .color(if t.wrong { &RED } else { &BLACK })
                .pos(Pos::new(HPos::Center, VPos::Center));
            root.draw(&Text::new(
                t.caption.as_str(),
                (x0 + cell_w as i32 / 2, img_bottom + CAPTION_BAND as i32 / 2),
                style,
            ))?;
        }
        Ok(())
    })?;
    canvas.save_png(path)
}
