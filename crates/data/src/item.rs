//! One item of a dataset: a digit and its class.

use crate::IMAGE_PIXELS;

/// One 28x28 greyscale picture and its class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MnistItem {
    /// Row-major pixels, 0 = background, 255 = full ink.
    pub image: [u8; IMAGE_PIXELS],
    /// Class index 0-9.
    pub label: u8,
}
