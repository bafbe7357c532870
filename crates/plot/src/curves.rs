//! Loss and accuracy curves, two panels side by side.

use std::ops::Range;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::PlotError;
use crate::output::{self, FONT, Format};

/// Size of the whole figure in pixels; each panel gets half the width.
pub const CURVES_SIZE: (u32, u32) = (1200, 500);

/// One named line: `(x, y)` points in drawing order (e.g. `(epoch, loss)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
        }
    }
}

/// Line colours (the first four of matplotlib's "tab10"), chosen so "train"
/// and "valid" are blue and orange as in most papers.
const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Series with more points than this are drawn as bare lines; fewer also get
/// a dot per point so a one- or two-epoch run is still visible.
const MAX_DOTTED_POINTS: usize = 60;

/// Draws loss (left panel) and accuracy (right panel) against a shared x axis
/// labelled `x_label`, one line and legend entry per series, into a
/// [`CURVES_SIZE`] picture. PNG, or SVG when `path` ends in `.svg`.
///
/// Points with a non-finite coordinate are skipped. Each panel needs at least
/// one series with a finite point, otherwise [`PlotError::InvalidInput`].
/// The accuracy axis stays within `[0, 1]` when all values are fractions.
pub fn training_curves(
    path: &Path,
    x_label: &str,
    loss: &[Series],
    accuracy: &[Series],
) -> Result<(), PlotError> {
    let format = output::format_of(path, true)?;
    let loss = Panel::new(path, "Loss", "loss", loss)?;
    let accuracy = Panel::new(path, "Accuracy", "accuracy", accuracy)?;
    // Both panels share one x range so epochs line up left and right.
    let x = padded(span(loss.xs().chain(accuracy.xs())).unwrap_or((0.0, 1.0)));
    output::ensure_font(path)?;

    match format {
        Format::Png => {
            let mut canvas = output::Canvas::new(path, CURVES_SIZE.0, CURVES_SIZE.1)?;
            canvas.draw(path, |root| draw(root, x_label, &x, &loss, &accuracy))?;
            canvas.save_png(path)
        }
        Format::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, CURVES_SIZE).into_drawing_area();
                draw(&root, x_label, &x, &loss, &accuracy)
                    .and_then(|()| root.present())
                    .map_err(|e| PlotError::draw(path, e))?;
            }
            output::save_text(path, &svg)
        }
    }
}

/// A panel's validated data: finite points only, empty series dropped.
struct Panel<'a> {
    title: &'a str,
    y_label: &'a str,
    series: Vec<(&'a str, Vec<(f64, f64)>)>,
}

impl<'a> Panel<'a> {
    fn new(
        path: &Path,
        title: &'a str,
        y_label: &'a str,
        series: &'a [Series],
    ) -> Result<Self, PlotError> {
        let series: Vec<_> = series
            .iter()
            .map(|s| {
                let finite = s
                    .points
                    .iter()
                    .copied()
                    .filter(|(x, y)| x.is_finite() && y.is_finite())
                    .collect::<Vec<_>>();
                (s.name.as_str(), finite)
            })
            .filter(|(_, pts)| !pts.is_empty())
            .collect();
        if series.is_empty() {
            return Err(PlotError::invalid(
                path,
                format!("{y_label}: no series with a finite point"),
            ));
        }
        Ok(Self {
            title,
            y_label,
            series,
        })
    }

    fn xs(&self) -> impl Iterator<Item = f64> + '_ {
        self.series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0))
    }

    fn ys(&self) -> impl Iterator<Item = f64> + '_ {
        self.series.iter().flat_map(|(_, p)| p.iter().map(|q| q.1))
    }
}

fn span(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// Adds 5 % on each side, or ±0.5 around a single value, so lines do not
/// sit on the frame and a constant series still has a range.
fn padded((lo, hi): (f64, f64)) -> Range<f64> {
    let pad = if hi > lo { (hi - lo) * 0.05 } else { 0.5 };
    (lo - pad)..(hi + pad)
}

/// y range of a panel: padded data range, clamped to what the data allow
/// (losses are rarely negative; fractions stay in [0, 1]).
fn y_range(panel: &Panel<'_>) -> Range<f64> {
    let (lo, hi) = span(panel.ys()).unwrap_or((0.0, 1.0));
    let mut r = padded((lo, hi));
    if lo >= 0.0 {
        r.start = r.start.max(0.0);
    }
    if lo >= 0.0 && hi <= 1.0 && panel.y_label == "accuracy" {
        r.end = r.end.min(1.0);
    }
    if r.end <= r.start {
        r.end = r.start + 1.0;
    }
    r
}

/// Tick text without float noise: "5" rather than "5.0" for whole epochs,
/// at most four decimals otherwise.
fn tick(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 * v.abs().max(1.0) {
        format!("{:.0}", v.round())
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    x_label: &str,
    x: &Range<f64>,
    loss: &Panel<'_>,
    accuracy: &Panel<'_>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(CURVES_SIZE.0 / 2);
    draw_panel(&left, x_label, x, loss, SeriesLabelPosition::UpperRight)?;
    draw_panel(
        &right,
        x_label,
        x,
        accuracy,
        SeriesLabelPosition::LowerRight,
    )
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    x_label: &str,
    x: &Range<f64>,
    panel: &Panel<'_>,
    legend_at: SeriesLabelPosition,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let mut chart = ChartBuilder::on(area)
        .caption(panel.title, (FONT, 24))
        .margin(16)
        .x_label_area_size(52)
        .y_label_area_size(72)
        .build_cartesian_2d(x.clone(), y_range(panel))?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(panel.y_label)
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 17))
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(TRANSPARENT)
        .draw()?;
    for (i, (name, points)) in panel.series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let dots = if points.len() <= MAX_DOTTED_POINTS {
            3
        } else {
            0
        };
        let drawn = chart.draw_series(
            LineSeries::new(points.iter().copied(), color.stroke_width(2)).point_size(dots),
        )?;
        if !name.is_empty() {
            drawn.label(*name).legend(move |(lx, ly)| {
                PathElement::new(vec![(lx, ly), (lx + 24, ly)], color.stroke_width(3))
            });
        }
    }
    if panel.series.iter().any(|(name, _)| !name.is_empty()) {
        chart
            .configure_series_labels()
            .position(legend_at)
            .label_font((FONT, 15))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .draw()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_drop_float_noise() {
        assert_eq!(tick(&5.0), "5");
        assert_eq!(tick(&0.30000000000000004), "0.3");
        assert_eq!(tick(&-1.25), "-1.25");
        assert_eq!(tick(&12000.0), "12000");
    }

    #[test]
    fn accuracy_range_stays_within_unit_interval() {
        let s = [Series::new("a", vec![(0.0, 0.0), (1.0, 1.0)])];
        let panel = Panel::new(Path::new("x.png"), "Accuracy", "accuracy", &s).unwrap();
        assert_eq!(y_range(&panel), 0.0..1.0);
        // Close-up data keeps a close-up range (padded, still within [0, 1]).
        let s = [Series::new("a", vec![(0.0, 0.9), (1.0, 0.99)])];
        let panel = Panel::new(Path::new("x.png"), "Accuracy", "accuracy", &s).unwrap();
        let r = y_range(&panel);
        assert!(
            r.start > 0.85 && r.start < 0.9 && r.end > 0.99 && r.end <= 1.0,
            "{r:?}"
        );
    }
}
