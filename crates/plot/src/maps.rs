//! A grid of float maps (convolution filters, feature maps), each normalised
//! on its own and enlarged so 5×5 filters are visible.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::PlotError;
use crate::output::{self, Canvas, FONT};

/// Maps are enlarged by a whole factor so their longer side gets close to this
/// many pixels (5×5 → 95 px, 12×12 → 96 px, 28×28 → 84 px); larger maps stay 1:1.
pub const MAP_TARGET_PX: usize = 96;
const TITLE_PX: f64 = 20.0;
const CAPTION_PX: f64 = 14.0;
const GAP: u32 = 10;
/// Colour for NaN/infinite values, which do not take part in normalisation.
const NON_FINITE: [u8; 3] = [255, 0, 255];

/// One map: `values` row-major, `width * height` of them.
#[derive(Debug, Clone)]
pub struct Map<'a> {
    pub values: &'a [f32],
    pub width: usize,
    pub height: usize,
    /// Shown under the map; leave empty for none.
    pub caption: String,
}

/// Nearest-neighbour enlargement factor for a map (see [`MAP_TARGET_PX`]).
pub fn map_scale(width: usize, height: usize) -> usize {
    (MAP_TARGET_PX / width.max(height).max(1)).max(1)
}

/// Draws `maps`, `columns` per row, under `title` (no title band when empty).
/// Each map is min-max normalised on its own finite values to black (min) ..
/// white (max); a constant map is mid grey, and non-finite values are magenta.
/// A caption band (18 px) is added under every cell when any caption is set.
pub fn map_grid(
    path: &Path,
    title: &str,
    maps: &[Map<'_>],
    columns: usize,
) -> Result<(), PlotError> {
    output::format_of(path, false)?;
    if maps.is_empty() {
        return Err(PlotError::invalid(path, "no maps"));
    }
    if columns == 0 {
        return Err(PlotError::invalid(path, "columns must be at least 1"));
    }
    let max_side = output::MAX_SIDE as usize;
    for (i, m) in maps.iter().enumerate() {
        if m.width == 0 || m.height == 0 || m.values.len() != m.width * m.height {
            return Err(PlotError::invalid(
                path,
                format!(
                    "map {i}: {} values for {}x{} (need width*height > 0)",
                    m.values.len(),
                    m.width,
                    m.height
                ),
            ));
        }
        if m.width > max_side || m.height > max_side {
            return Err(PlotError::invalid(path, format!("map {i} is too large")));
        }
    }
    let scaled = |m: &Map<'_>| {
        let s = map_scale(m.width, m.height);
        ((m.width * s) as u32, (m.height * s) as u32, s)
    };
    let img_w = maps.iter().map(|m| scaled(m).0).max().unwrap_or(1);
    let img_h = maps.iter().map(|m| scaled(m).1).max().unwrap_or(1);
    let mut caption_w = 0;
    for m in maps {
        caption_w = caption_w.max(output::text_size(path, &m.caption, CAPTION_PX)?.0);
    }
    let band = if maps.iter().any(|m| !m.caption.is_empty()) {
        18
    } else {
        0
    };
    let title_band = if title.is_empty() { 0 } else { 36 };
    let title_w = output::text_size(path, title, TITLE_PX)?.0;
    let cell_w = img_w.max(caption_w + 6);
    let cell_h = img_h + band;
    let cols = columns.min(maps.len());
    let rows = maps.len().div_ceil(cols);
    let side = |n: usize, cell: u32| -> u32 {
        let n = n.min(max_side) as u32;
        GAP.saturating_add(n.saturating_mul(cell.saturating_add(GAP)))
    };
    let width = side(cols, cell_w).max(title_w + 2 * GAP);
    let height = side(rows, cell_h).saturating_add(title_band);
    let mut canvas = Canvas::new(path, width, height)?;
    // Centre the grid when the title is wider than it.
    let left = (width - side(cols, cell_w)) / 2;

    let origin = |i: usize| {
        let (r, c) = ((i / cols) as u32, (i % cols) as u32);
        (
            left + GAP + c * (cell_w + GAP),
            title_band + GAP + r * (cell_h + GAP),
        )
    };
    for (i, m) in maps.iter().enumerate() {
        let (x0, y0) = origin(i);
        let (w, h, s) = scaled(m);
        let (ox, oy) = (x0 + (cell_w - w) / 2, y0 + (img_h - h) / 2);
        let finite = m.values.iter().copied().filter(|v| v.is_finite());
        let (lo, hi) = finite.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        for (j, &v) in m.values.iter().enumerate() {
            let rgb = if !v.is_finite() {
                NON_FINITE
            } else if hi > lo {
                [(((v - lo) / (hi - lo)) * 255.0).round() as u8; 3]
            } else {
                [128; 3]
            };
            let (px, py) = ((j % m.width * s) as u32, (j / m.width * s) as u32);
            canvas.fill(ox + px, oy + py, s as u32, s as u32, rgb);
        }
    }
    canvas.draw(path, |root| {
        let centered = |px: f64| {
            TextStyle::from((FONT, px).into_font()).pos(Pos::new(HPos::Center, VPos::Center))
        };
        if !title.is_empty() {
            root.draw(&Text::new(
                title,
                (width as i32 / 2, (GAP + title_band / 2) as i32),
                centered(TITLE_PX),
            ))?;
        }
        for (i, m) in maps.iter().enumerate() {
            let (x0, y0) = origin(i);
            let (w, h, _) = scaled(m);
            let (ox, oy) = (
                (x0 + (cell_w - w) / 2) as i32,
                (y0 + (img_h - h) / 2) as i32,
            );
            // A frame keeps white map borders apart from the white page.
            root.draw(&Rectangle::new(
                [(ox - 1, oy - 1), (ox + w as i32, oy + h as i32)],
                RGBColor(150, 150, 150).stroke_width(1),
            ))?;
            if !m.caption.is_empty() {
                root.draw(&Text::new(
                    m.caption.as_str(),
                    ((x0 + cell_w / 2) as i32, (y0 + img_h + 2 + band / 2) as i32),
                    centered(CAPTION_PX),
                ))?;
            }
        }
        Ok(())
    })?;
    canvas.save_png(path)
}
