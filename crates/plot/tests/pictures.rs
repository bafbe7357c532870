//! Each picture: written file decodes as a PNG of the documented size with
//! some contrast; bad input is a typed error that leaves no file; a missing
//! directory is an I/O error naming the path.

use std::path::{Path, PathBuf};

use plot::{
    Map, PlotError, Series, Tile, confusion_heatmap, digit_grid, map_grid, training_curves,
};

fn decode(path: &Path) -> image::RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8()
}

/// Variance of the luminance: zero for a blank picture.
fn variance(img: &image::RgbImage) -> f64 {
    let lum: Vec<f64> = img
        .pixels()
        .map(|p| (p[0] as f64 + p[1] as f64 + p[2] as f64) / 3.0)
        .collect();
    let mean = lum.iter().sum::<f64>() / lum.len() as f64;
    lum.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / lum.len() as f64
}

/// Files left in `dir` (to check failed calls leave neither picture nor temp).
fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

fn assert_invalid(result: Result<(), PlotError>, path: &Path) {
    match result {
        Err(PlotError::InvalidInput { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    assert!(
        entries(path.parent().unwrap()).is_empty(),
        "file left behind"
    );
}

fn series() -> (Vec<Series>, Vec<Series>) {
    let loss = vec![
        Series::new(
            "train",
            (0..10)
                .map(|e| (e as f64, 1.0 / (e as f64 + 1.0)))
                .collect(),
        ),
        Series::new("valid", vec![(0.0, 1.1), (f64::NAN, 0.5), (9.0, 0.2)]),
    ];
    let acc = vec![Series::new(
        "valid",
        (0..10).map(|e| (e as f64, 0.5 + e as f64 / 20.0)).collect(),
    )];
    (loss, acc)
}

#[test]
fn curves_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let (loss, acc) = series();
    let png = dir.path().join("curves.png");
    training_curves(&png, "epoch", &loss, &acc).unwrap();
    let img = decode(&png);
    assert_eq!(img.dimensions(), plot::CURVES_SIZE);
    assert!(variance(&img) > 0.0);

    let svg = dir.path().join("curves.SVG");
    training_curves(&svg, "iteration", &loss, &acc).unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.contains("iteration"));
    assert_eq!(entries(dir.path()).len(), 2, "no temp files left");
}

#[test]
fn curves_single_point_series_draws() {
    let dir = tempfile::tempdir().unwrap();
    let one = vec![Series::new("train", vec![(1.0, 0.3)])];
    let path = dir.path().join("one.png");
    training_curves(&path, "epoch", &one, &one).unwrap();
    assert!(variance(&decode(&path)) > 0.0);
}

#[test]
fn curves_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.png");
    let (loss, _) = series();
    assert_invalid(training_curves(&path, "epoch", &loss, &[]), &path);
    let nan = vec![Series::new(
        "train",
        vec![(f64::NAN, 1.0), (1.0, f64::INFINITY)],
    )];
    assert_invalid(training_curves(&path, "epoch", &nan, &loss), &path);
    let jpg = dir.path().join("c.jpg");
    assert!(matches!(
        training_curves(&jpg, "epoch", &loss, &loss),
        Err(PlotError::UnsupportedFormat { .. })
    ));
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn missing_directory_is_io_error_naming_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/c.png");
    let (loss, acc) = series();
    let err = training_curves(&path, "epoch", &loss, &acc).unwrap_err();
    assert!(
        matches!(&err, PlotError::Io { path: p, .. } if *p == path),
        "{err:?}"
    );
    assert!(err.to_string().contains("no/such/dir/c.png"), "{err}");
    assert!(!path.exists());
}

fn digit(seed: u8) -> Vec<u8> {
    (0..28 * 28)
        .map(|i| {
            if (i / 28 + seed as usize) % 7 < 3 {
                255
            } else {
                0
            }
        })
        .collect()
}

#[test]
fn digit_grid_size_and_contrast() {
    let dir = tempfile::tempdir().unwrap();
    let pixels: Vec<Vec<u8>> = (0..10).map(digit).collect();
    let tiles: Vec<Tile> = pixels
        .iter()
        .enumerate()
        .map(|(i, p)| Tile {
            pixels: p,
            width: 28,
            height: 28,
            caption: format!("predicted: {i}"),
            wrong: i % 3 == 0,
        })
        .collect();
    let path = dir.path().join("digits.png");
    digit_grid(&path, &tiles, 4).unwrap();
    let img = decode(&path);
    // 4 columns x 3 rows of (112 + gap) px plus the outer gap.
    assert_eq!(img.width(), 12 + 4 * (112 + 12));
    assert_eq!(img.height(), 12 + 3 * (112 + plot::CAPTION_BAND + 12));
    assert!(variance(&img) > 0.0);
    // Some pure-ish red (frame of a wrong tile) is present.
    assert!(img.pixels().any(|p| p[0] > 180 && p[1] < 80 && p[2] < 80));
}

#[test]
fn digit_grid_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.png");
    let short = vec![0u8; 27 * 28];
    let tile = |pixels| Tile {
        pixels,
        width: 28,
        height: 28,
        caption: String::new(),
        wrong: false,
    };
    assert_invalid(digit_grid(&path, &[tile(&short)], 4), &path);
    let ok = digit(0);
    assert_invalid(digit_grid(&path, &[tile(&ok)], 0), &path);
    assert_invalid(digit_grid(&path, &[], 4), &path);
    let svg = dir.path().join("d.svg");
    assert!(matches!(
        digit_grid(&svg, &[tile(&ok)], 1),
        Err(PlotError::UnsupportedFormat { .. })
    ));
}

#[test]
fn confusion_heatmap_size_and_contrast() {
    let dir = tempfile::tempdir().unwrap();
    let matrix: Vec<Vec<u64>> = (0..10)
        .map(|r| {
            (0..10)
                .map(|c| if r == c { 980 } else { (r * c % 5) as u64 })
                .collect()
        })
        .collect();
    let labels = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    let path = dir.path().join("cm.png");
    confusion_heatmap(&path, &matrix, &labels, "Confusion").unwrap();
    let img = decode(&path);
    let grid = 10 * plot::cell_size(10);
    assert!(
        img.width() > grid && img.height() > grid,
        "{:?}",
        img.dimensions()
    );
    assert!(
        img.width() < grid + 200 && img.height() < grid + 200,
        "{:?}",
        img.dimensions()
    );
    assert!(variance(&img) > 0.0);

    // All-zero matrix still draws (no division by zero).
    let zeros = vec![vec![0u64; 2]; 2];
    confusion_heatmap(&path, &zeros, &["a", "b"], "").unwrap();
    assert!(variance(&decode(&path)) > 0.0);
}

#[test]
fn confusion_heatmap_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cm.png");
    let square = vec![vec![1u64; 3]; 3];
    assert_invalid(confusion_heatmap(&path, &square, &["a", "b"], "t"), &path);
    let ragged = vec![vec![1u64; 2], vec![1u64; 3]];
    assert_invalid(confusion_heatmap(&path, &ragged, &["a", "b"], "t"), &path);
    assert_invalid(confusion_heatmap(&path, &[], &[], "t"), &path);
}

#[test]
fn map_grid_size_and_contrast() {
    let dir = tempfile::tempdir().unwrap();
    let filters: Vec<Vec<f32>> = (0..6)
        .map(|k| (0..25).map(|i| (i * (k + 1)) as f32 % 7.0 - 3.0).collect())
        .collect();
    let mut maps: Vec<Map> = filters
        .iter()
        .map(|v| Map {
            values: v,
            width: 5,
            height: 5,
            caption: String::new(),
        })
        .collect();
    let path = dir.path().join("filters.png");
    map_grid(&path, "", &maps, 3).unwrap();
    let img = decode(&path);
    // No title, no captions: 3x2 cells of 5*19 = 95 px with 10 px gaps.
    assert_eq!(plot::map_scale(5, 5), 19);
    assert_eq!(img.dimensions(), (10 + 3 * (95 + 10), 10 + 2 * (95 + 10)));
    assert!(variance(&img) > 0.0);

    // Constant and non-finite maps draw; title and captions add bands.
    let constant = [1.0f32; 4];
    let holes = [0.0, f32::NAN, 1.0, f32::INFINITY];
    maps.push(Map {
        values: &constant,
        width: 2,
        height: 2,
        caption: "flat".into(),
    });
    maps.push(Map {
        values: &holes,
        width: 2,
        height: 2,
        caption: "holes".into(),
    });
    map_grid(&path, "filters", &maps, 4).unwrap();
    let img = decode(&path);
    assert!(img.height() > 10 + 2 * (96 + 10), "{:?}", img.dimensions());
    assert!(
        img.pixels().any(|p| p.0 == [255, 0, 255]),
        "non-finite marker"
    );
}

#[test]
fn map_grid_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.png");
    let values = [0.0f32; 24];
    let map = Map {
        values: &values,
        width: 5,
        height: 5,
        caption: String::new(),
    };
    assert_invalid(map_grid(&path, "t", std::slice::from_ref(&map), 2), &path);
    let zero = Map {
        values: &[],
        width: 0,
        height: 0,
        caption: String::new(),
    };
    assert_invalid(map_grid(&path, "t", &[zero], 2), &path);
    assert_invalid(map_grid(&path, "t", &[], 2), &path);
}
