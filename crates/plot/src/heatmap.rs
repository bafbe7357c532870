//! Confusion-matrix heatmap with the count written in each cell.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::FontTransform;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::PlotError;
use crate::output::{self, Canvas, FONT};

const TITLE_PX: f64 = 22.0;
const LABEL_PX: f64 = 16.0;
const AXIS_PX: f64 = 17.0;
const MARGIN: u32 = 16;
/// Light and dark ends of the colour ramp (matplotlib "Blues").
const LIGHT: [f64; 3] = [247.0, 251.0, 255.0];
const DARK: [f64; 3] = [8.0, 48.0, 107.0];

/// Side of one cell in pixels: 56 up to 12 classes, then shrinking so the
/// matrix stays near 700 px (never below 20).
pub fn cell_size(classes: usize) -> u32 {
    if classes <= 12 {
        56
    } else {
        (700 / classes as u32).max(20)
    }
}

/// Draws `matrix[true][predicted]` as a grid of cells, `labels[i]` naming row
/// `i` (left, "true") and column `i` (bottom, "predicted"; turned vertical
/// when a label is wider than a cell), `title` on top.
///
/// Colour is the square root of count / largest count, so the few errors off
/// the diagonal are visible next to the large diagonal; the count itself is
/// written in every cell (white on dark cells). Size: [`cell_size`] per cell
/// plus room for labels and title; 10 digit classes make 647×681 px.
pub fn confusion_heatmap(
    path: &Path,
    matrix: &[Vec<u64>],
    labels: &[&str],
    title: &str,
) -> Result<(), PlotError> {
    output::format_of(path, false)?;
    let n = labels.len();
    if n == 0 {
        return Err(PlotError::invalid(path, "no class labels"));
    }
    if matrix.len() != n {
        return Err(PlotError::invalid(
            path,
            format!("{} rows for {n} labels", matrix.len()),
        ));
    }
    if let Some((i, row)) = matrix.iter().enumerate().find(|(_, r)| r.len() != n) {
        return Err(PlotError::invalid(
            path,
            format!("row {i} has {} columns, expected {n}", row.len()),
        ));
    }
    if n > output::MAX_SIDE as usize / 20 {
        return Err(PlotError::invalid(path, format!("{n} classes is too many")));
    }

    let cell = cell_size(n);
    let count_px = (cell as f64 * 0.3).clamp(9.0, 16.0);
    let mut label_w = 0;
    for l in labels {
        label_w = label_w.max(output::text_size(path, l, LABEL_PX)?.0);
    }
    let axis_h = output::text_size(path, "predicted", AXIS_PX)?.1;
    let title_w = output::text_size(path, title, TITLE_PX)?.0;
    // Left: rotated "true" title, row labels. Bottom: column labels, "predicted".
    let left = MARGIN + axis_h + 10 + label_w + 8;
    let top = MARGIN + TITLE_PX as u32 + 18;
    let grid = cell * n as u32;
    // Column labels wider than a cell would overlap: stand them on end.
    let vertical = label_w + 6 > cell;
    let col_label_h = if vertical { label_w } else { LABEL_PX as u32 };
    let bottom = 8 + col_label_h + 12 + axis_h + MARGIN;
    let width = (left + grid + MARGIN * 2).max(title_w + MARGIN * 2);
    let mut canvas = Canvas::new(path, width, top + grid + bottom)?;

    let max = matrix.iter().flatten().copied().max().unwrap_or(0);
    let shade = |count: u64| -> f64 {
        if max == 0 {
            0.0
        } else {
            (count as f64 / max as f64).sqrt()
        }
    };
    for (r, row) in matrix.iter().enumerate() {
        for (c, &count) in row.iter().enumerate() {
            let t = shade(count);
            let rgb = std::array::from_fn(|k| (LIGHT[k] + (DARK[k] - LIGHT[k]) * t).round() as u8);
            canvas.fill(
                left + c as u32 * cell,
                top + r as u32 * cell,
                cell,
                cell,
                rgb,
            );
        }
    }

    canvas.draw(path, |root| {
        let (left, top, cell, grid, n32) =
            (left as i32, top as i32, cell as i32, grid as i32, n as i32);
        let centered = |px: f64| {
            TextStyle::from((FONT, px).into_font()).pos(Pos::new(HPos::Center, VPos::Center))
        };
        root.draw(&Text::new(
            title,
            (width as i32 / 2, MARGIN as i32 + TITLE_PX as i32 / 2),
            centered(TITLE_PX),
        ))?;
        // Thin white lines separate equal-coloured neighbours.
        for k in 1..n32 {
            let at = k * cell;
            root.draw(&PathElement::new(
                vec![(left + at, top), (left + at, top + grid)],
                WHITE.stroke_width(1),
            ))?;
            root.draw(&PathElement::new(
                vec![(left, top + at), (left + grid, top + at)],
                WHITE.stroke_width(1),
            ))?;
        }
        root.draw(&Rectangle::new(
            [(left, top), (left + grid, top + grid)],
            BLACK.mix(0.5).stroke_width(1),
        ))?;
        for (r, row) in matrix.iter().enumerate() {
            for (c, &count) in row.iter().enumerate() {
                let ink = if shade(count) > 0.55 { &WHITE } else { &BLACK };
                root.draw(&Text::new(
                    count.to_string(),
                    (
                        left + c as i32 * cell + cell / 2,
                        top + r as i32 * cell + cell / 2,
                    ),
                    centered(count_px).color(ink),
                ))?;
            }
        }
        for (i, l) in labels.iter().enumerate() {
            let mid = i as i32 * cell + cell / 2;
            root.draw(&Text::new(
                *l,
                (left - 8, top + mid),
                TextStyle::from((FONT, LABEL_PX).into_font())
                    .pos(Pos::new(HPos::Right, VPos::Center)),
            ))?;
            let style = if vertical {
                // Rotated text anchors in its own frame: its end touches the grid.
                TextStyle::from(
                    (FONT, LABEL_PX)
                        .into_font()
                        .transform(FontTransform::Rotate270),
                )
                .pos(Pos::new(HPos::Right, VPos::Center))
            } else {
                TextStyle::from((FONT, LABEL_PX).into_font()).pos(Pos::new(HPos::Center, VPos::Top))
            };
            root.draw(&Text::new(*l, (left + mid, top + grid + 8), style))?;
        }
        let axis_y = top + grid + 8 + col_label_h as i32 + 12;
        root.draw(&Text::new(
            "predicted",
            (left + grid / 2, axis_y),
            TextStyle::from((FONT, AXIS_PX).into_font()).pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
        root.draw(&Text::new(
            "true",
            (MARGIN as i32, top + grid / 2),
            TextStyle::from(
                (FONT, AXIS_PX)
                    .into_font()
                    .transform(FontTransform::Rotate270),
            )
            .pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
        Ok(())
    })?;
    canvas.save_png(path)
}
