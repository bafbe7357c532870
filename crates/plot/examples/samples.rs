//! Renders one picture of each kind into a directory (default
//! `/tmp/plot-samples`) from synthetic data, to look at by eye:
//! `cargo run -p plot --release --example samples [DIR]`.

use std::path::PathBuf;

use plot::{Map, Series, Tile, confusion_heatmap, digit_grid, map_grid, training_curves};

/// A 28×28 "digit" drawn as thick anti-aliased strokes through `points`
/// (coordinates in 0..28), so the sample grid looks like handwriting.
fn stroke_digit(strokes: &[&[(f32, f32)]]) -> Vec<u8> {
    let mut px = vec![0u8; 28 * 28];
    for y in 0..28 {
        for x in 0..28 {
            let p = (x as f32 + 0.5, y as f32 + 0.5);
            let mut d = f32::INFINITY;
            for s in strokes {
                for w in s.windows(2) {
                    d = d.min(seg_dist(p, w[0], w[1]));
                }
            }
            px[y * 28 + x] = ((2.6 - d).clamp(0.0, 1.0) * 255.0) as u8;
        }
    }
    px
}

fn seg_dist(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (abx, aby) = (b.0 - a.0, b.1 - a.1);
    let t = (((p.0 - a.0) * abx + (p.1 - a.1) * aby) / (abx * abx + aby * aby).max(1e-6))
        .clamp(0.0, 1.0);
    let (dx, dy) = (p.0 - a.0 - t * abx, p.1 - a.1 - t * aby);
    (dx * dx + dy * dy).sqrt()
}

fn ellipse(cx: f32, cy: f32, rx: f32, ry: f32) -> Vec<(f32, f32)> {
    (0..=24)
        .map(|i| {
            let a = i as f32 / 24.0 * std::f32::consts::TAU;
            (cx + rx * a.cos(), cy + ry * a.sin())
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "/tmp/plot-samples".into()),
    );
    std::fs::create_dir_all(&dir)?;

    // Curves: 20 epochs, train and valid.
    let epochs = 1..=20;
    let curve = |f: &dyn Fn(f64) -> f64| epochs.clone().map(|e| (e as f64, f(e as f64))).collect();
    let loss = vec![
        Series::new("train", curve(&|e| 0.05 + 2.0 * (-e / 3.0).exp())),
        Series::new(
            "valid",
            curve(&|e| 0.08 + 1.9 * (-e / 3.5).exp() + 0.002 * e),
        ),
    ];
    let accuracy = vec![
        Series::new("train", curve(&|e| 0.99 - 0.8 * (-e / 2.5).exp())),
        Series::new("valid", curve(&|e| 0.98 - 0.8 * (-e / 2.8).exp())),
    ];
    training_curves(&dir.join("curves.png"), "epoch", &loss, &accuracy)?;
    training_curves(&dir.join("curves.svg"), "epoch", &loss, &accuracy)?;

    // Digit grid: a few synthetic shapes, some marked wrong.
    let zero = stroke_digit(&[&ellipse(14.0, 14.0, 6.0, 9.0)]);
    let one = stroke_digit(&[&[(12.0, 8.0), (15.0, 5.0), (15.0, 23.0)]]);
    let seven = stroke_digit(&[&[(7.0, 6.0), (21.0, 6.0), (12.0, 23.0)]]);
    let four = stroke_digit(&[&[(17.0, 23.0), (17.0, 5.0), (7.0, 17.0), (22.0, 17.0)]]);
    let shapes: [(&[u8], u8); 4] = [(&zero, 0), (&one, 1), (&seven, 7), (&four, 4)];
    let tiles: Vec<Tile> = (0..16)
        .map(|i| {
            let (pixels, label) = shapes[i % 4];
            let wrong = i % 5 == 3;
            let predicted = if wrong { (label + 2) % 10 } else { label };
            Tile {
                pixels,
                width: 28,
                height: 28,
                caption: format!("predicted: {predicted}"),
                wrong,
            }
        })
        .collect();
    digit_grid(&dir.join("digits.png"), &tiles, 8)?;

    // Confusion matrix: strong diagonal, a few typical confusions.
    let mut matrix = vec![vec![0u64; 10]; 10];
    for (i, row) in matrix.iter_mut().enumerate() {
        row[i] = 950 + (i as u64 * 17) % 60;
        row[(i + 3) % 10] = (i as u64 * 7) % 13;
        row[(i + 7) % 10] = (i as u64 * 5) % 9 + 1;
    }
    matrix[4][9] = 31;
    matrix[7][2] = 24;
    let labels = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    confusion_heatmap(
        &dir.join("confusion.png"),
        &matrix,
        &labels,
        "Confusion matrix (test set, 10 000 images)",
    )?;

    // Filters: 8 synthetic 5x5 kernels; feature maps: 6 of 12x12.
    let filters: Vec<Vec<f32>> = (0..8)
        .map(|k| {
            (0..25)
                .map(|j| {
                    let (x, y) = ((j % 5) as f32 - 2.0, (j / 5) as f32 - 2.0);
                    let a = k as f32 * 0.4;
                    (x * a.cos() + y * a.sin()) * 0.1 + if k == 7 { f32::NAN } else { 0.0 }
                })
                .collect()
        })
        .collect();
    let maps: Vec<Map> = filters
        .iter()
        .enumerate()
        .map(|(k, v)| Map {
            values: v,
            width: 5,
            height: 5,
            caption: format!("filter {k}"),
        })
        .collect();
    map_grid(&dir.join("filters.png"), "conv1 filters (5x5)", &maps, 4)?;

    let features: Vec<Vec<f32>> = (0..6)
        .map(|k| {
            (0..144)
                .map(|j| ((j % 12) as f32 * 0.5 + k as f32).sin() * ((j / 12) as f32 * 0.3).cos())
                .collect()
        })
        .collect();
    let fmaps: Vec<Map> = features
        .iter()
        .enumerate()
        .map(|(k, v)| Map {
            values: v,
            width: 12,
            height: 12,
            caption: format!("channel {k}"),
        })
        .collect();
    map_grid(
        &dir.join("features.png"),
        "conv1 feature maps of one digit",
        &fmaps,
        6,
    )?;

    // Long runs: per-iteration noisy curves with a NaN point (skipped).
    let noisy = |k: u64, base: f64, scale: f64, sign: f64| -> Vec<(f64, f64)> {
        (0..3000u64)
            .map(|i| {
                let jitter = ((i * 2654435761 + k) % 1000) as f64 / 1000.0 - 0.5;
                let y = base + sign * scale * (-(i as f64) / 600.0).exp() + 0.05 * jitter;
                (i as f64, if i == 1500 { f64::NAN } else { y })
            })
            .collect()
    };
    training_curves(
        &dir.join("curves-iterations.png"),
        "iteration",
        &[Series::new("train", noisy(1, 0.1, 2.2, 1.0))],
        &[Series::new("train", noisy(2, 0.95, 0.85, -1.0))],
    )?;

    // Word labels (a Fashion-MNIST-like set) and a grid with wide captions.
    let words = [
        "T-shirt",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ];
    confusion_heatmap(&dir.join("confusion-words.png"), &matrix, &words, "Fashion")?;
    let wide: Vec<Tile> = tiles
        .iter()
        .take(6)
        .map(|t| Tile {
            caption: format!("{} (true 9)", t.caption),
            ..t.clone()
        })
        .collect();
    digit_grid(&dir.join("digits-wide.png"), &wide, 3)?;
    Ok(())
}
