//! Pictures for the MNIST reference project: training curves, grids of digits,
//! confusion-matrix heatmaps and grids of convolution filters / feature maps.
//!
//! What it is for: turning plain Rust data (slices of `f32`/`u8`/`u64`,
//! strings) into PNG files (and SVG for curves) that a person looks at after a
//! run. Every function validates its input, draws with an embedded font (so no
//! system font libraries are needed) and writes its file atomically: it renders
//! to a temporary file in the target directory and renames it into place, so a
//! failed call leaves no file behind and a reader never sees half a picture.
//!
//! What it is not for: it knows nothing of Burn, tensors, datasets, models or
//! command lines, it never prints and never exits, and it does not create
//! directories: writing into a missing directory is a [`PlotError::Io`] naming
//! the path. It is not a general plotting library either; sizes and styles are
//! fixed (see each function) so pictures from different runs compare at a
//! glance.
//!
//! Output format follows the extension of `path` (case-insensitive): `.png`
//! everywhere, `.svg` for [`training_curves`] only; anything else is
//! [`PlotError::UnsupportedFormat`].

mod curves;
mod error;
mod grid;
mod heatmap;
mod maps;
mod output;

pub use curves::{CURVES_SIZE, Series, training_curves};
pub use error::PlotError;
pub use grid::{CAPTION_BAND, DIGIT_SCALE, Tile, digit_grid};
pub use heatmap::{cell_size, confusion_heatmap};
pub use maps::{MAP_TARGET_PX, Map, map_grid, map_scale};
