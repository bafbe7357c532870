//! Turning items into tensors: one u8 buffer per batch, then resize/pad/normalise on the device.

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::ops::PadMode;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::item::MnistItem;
use crate::normalization::Normalization;
use crate::{IMAGE_PIXELS, IMAGE_SIDE};

/// Optional resize to 32x32 for architectures that expect it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Resize {
    /// Keep 28x28.
    #[default]
    None,
    /// Bilinear upscale to 32x32, half-pixel centres (torchvision `Resize(32)`).
    Bilinear32,
    /// Zero-pad 2 pixels on each side (classic LeNet-5 input); padding equals background.
    Pad32,
}

/// A batch: images `[B, 1, H, W]` (float) and class targets `[B]` (int).
#[derive(Clone, Debug)]
pub struct MnistBatch {
    /// Normalised images.
    pub images: Tensor<4>,
    /// Labels 0-9.
    pub targets: Tensor<1, Int>,
}

/// Builds [`MnistBatch`]es; the same transform serves training, evaluation and prediction.
#[derive(Clone, Debug)]
pub struct MnistBatcher {
    normalization: Normalization,
    resize: Resize,
}

impl Default for MnistBatcher {
    fn default() -> Self {
        Self::new(Normalization::default(), Resize::default())
    }
}

impl MnistBatcher {
    /// A batcher with the given pixel mapping and size.
    pub fn new(normalization: Normalization, resize: Resize) -> Self {
        Self {
            normalization,
            resize,
        }
    }

    /// Side length of the produced images: 28, or 32 when resizing.
    pub fn output_size(&self) -> usize {
        match self.resize {
            Resize::None => IMAGE_SIDE,
            Resize::Bilinear32 | Resize::Pad32 => 32,
        }
    }

    /// The normalisation in use.
    pub fn normalization(&self) -> &Normalization {
        &self.normalization
    }

    /// The resize in use.
    pub fn resize(&self) -> Resize {
        self.resize
    }

    /// Images as a `[B, 1, S, S]` float tensor on `device` (S = [`Self::output_size`]).
    pub fn images(&self, images: &[[u8; IMAGE_PIXELS]], device: &Device) -> Tensor<4> {
        // One allocation for the whole batch; conversion to float happens once, on upload.
        let mut raw = Vec::with_capacity(images.len() * IMAGE_PIXELS);
        for image in images {
            raw.extend_from_slice(image);
        }
        let data = TensorData::new(raw, [images.len(), 1, IMAGE_SIDE, IMAGE_SIDE]);
        self.prepare(Tensor::<4>::from_data(data, device))
    }

    /// Raw pixel values `[B, 1, 28, 28]` (0-255, as floats) to the network's input: resized,
    /// then normalised. Tensor ops only, so an ONNX export traces it into the graph.
    pub fn prepare(&self, x: Tensor<4>) -> Tensor<4> {
        // Resize raw values first: bilinear is affine-invariant, and padding raw 0 then
        // normalising makes the border exactly the normalised background.
        let x = match self.resize {
            Resize::None => x,
            Resize::Pad32 => x.pad([(2, 2), (2, 2)], PadMode::Constant(0.0)),
            Resize::Bilinear32 => {
                let device = x.device();
                bilinear_32(x, &device)
            }
        };
        let (scale, offset) = self.normalization.scale_offset();
        if offset == 0.0 {
            x.mul_scalar(scale)
        } else {
            x.mul_scalar(scale).add_scalar(offset)
        }
    }

    /// Labels as a `[B]` int tensor.
    pub fn targets(&self, labels: &[u8], device: &Device) -> Tensor<1, Int> {
        let data = TensorData::new(
            labels.iter().map(|&l| i64::from(l)).collect::<Vec<_>>(),
            [labels.len()],
        );
        Tensor::<1, Int>::from_data(data, device)
    }
}

/// Interpolation matrix `[out, in]` of 1-D linear resampling with half-pixel centres and
/// edge clamping, i.e. PyTorch's `interpolate(mode="bilinear", align_corners=False)` per axis.
fn linear_resize_matrix(input: usize, output: usize) -> Vec<f32> {
    let mut m = vec![0f32; output * input];
    let scale = input as f32 / output as f32;
    let last = input.saturating_sub(1);
    for o in 0..output {
        let src = ((o as f32 + 0.5) * scale - 0.5).max(0.0);
        let i0 = (src.floor() as usize).min(last);
        let i1 = (i0 + 1).min(last);
        let frac = src - i0 as f32;
        if let Some(w) = m.get_mut(o * input + i0) {
            *w += 1.0 - frac;
        }
        if let Some(w) = m.get_mut(o * input + i1) {
            *w += frac;
        }
    }
    m
}

/// Bilinear 28 -> 32 as two matmuls (`Ry X Rx^T`): bilinear is separable, and matmul is
/// much faster than the generic `interpolate` kernel on CPU backends (measured ~5x on flex).
/// Same numbers as `burn::tensor::module::interpolate` with `Bilinear`, `align_corners = false`.
fn bilinear_32(x: Tensor<4>, device: &Device) -> Tensor<4> {
    let batch = x.dims()[0];
    if batch == 0 {
        // burn-flex 0.22.1 segfaults on a matmul with a zero-sized batch; nothing to compute anyway.
        return Tensor::<4>::from_data(TensorData::new(Vec::<f32>::new(), [0, 1, 32, 32]), device);
    }
    let m = linear_resize_matrix(IMAGE_SIDE, 32);
    // The transpose is made here rather than by `swap_dims`, which burn-onnx 0.22's exporter
    // cannot lower: the ONNX export traces this function.
    let m_t: Vec<f32> = (0..IMAGE_SIDE * 32)
        .map(|i| m[(i % 32) * IMAGE_SIDE + i / 32])
        .collect();
    let ry = Tensor::<4>::from_data(TensorData::new(m, [1, 1, 32, IMAGE_SIDE]), device);
    let rx_t = Tensor::<4>::from_data(TensorData::new(m_t, [1, 1, IMAGE_SIDE, 32]), device);
    ry.matmul(x).matmul(rx_t)
}

impl Batcher<MnistItem, MnistBatch> for MnistBatcher {
    fn batch(&self, items: Vec<MnistItem>, device: &Device) -> MnistBatch {
        let images: Vec<[u8; IMAGE_PIXELS]> = items.iter().map(|i| i.image).collect();
        let labels: Vec<u8> = items.iter().map(|i| i.label).collect();
        MnistBatch {
            images: self.images(&images, device),
            targets: self.targets(&labels, device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Device {
        Device::flex()
    }

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_to_vec_as::<f32>().unwrap()
    }

    fn item(label: u8) -> MnistItem {
        let mut image = [0u8; IMAGE_PIXELS];
        image[0] = 255;
        image[14 * 28 + 14] = 100;
        MnistItem { image, label }
    }

    #[test]
    fn mean_std_and_unit_values() {
        let b = MnistBatcher::default();
        let batch = b.batch(vec![item(3), item(7)], &device());
        assert_eq!(batch.images.dims(), [2, 1, 28, 28]);
        let v = values(batch.images);
        let expect = |p: f32| (p / 255.0 - 0.1307) / 0.3081;
        assert!((v[14 * 28 + 14] - expect(100.0)).abs() < 1e-5);
        assert!((v[784 + 1] - expect(0.0)).abs() < 1e-5);
        assert_eq!(
            batch.targets.into_data().try_to_vec_as::<i64>().unwrap(),
            vec![3, 7]
        );

        let u = MnistBatcher::new(Normalization::Unit, Resize::None);
        let v = values(u.images(&[item(0).image], &device()));
        assert!((v[0] - 1.0).abs() < 1e-6);
        assert_eq!(v[1], 0.0);
    }

    #[test]
    fn pad_centres_image_with_normalised_background_border() {
        let b = MnistBatcher::new(Normalization::default(), Resize::Pad32);
        assert_eq!(b.output_size(), 32);
        let img: [u8; IMAGE_PIXELS] = std::array::from_fn(|p| (p % 251) as u8 + 1);
        let t = b.images(&[img], &device());
        assert_eq!(t.dims(), [1, 1, 32, 32]);
        let v = values(t);
        let bg = (0.0 - 0.1307) / 0.3081;
        for y in 0..32 {
            for x in 0..32 {
                let got = v[y * 32 + x];
                if (2..30).contains(&y) && (2..30).contains(&x) {
                    let p = img[(y - 2) * 28 + (x - 2)] as f32;
                    assert!(
                        (got - (p / 255.0 - 0.1307) / 0.3081).abs() < 1e-5,
                        "({y},{x})"
                    );
                } else {
                    assert!((got - bg).abs() < 1e-6, "border ({y},{x}) = {got}");
                }
            }
        }
    }

    /// torchvision / PyTorch `interpolate(bilinear, align_corners=False)` reference.
    fn reference_bilinear(img: &[u8; IMAGE_PIXELS], out: usize) -> Vec<f32> {
        let scale = 28.0 / out as f32;
        let src = |o: usize| {
            let s = ((o as f32 + 0.5) * scale - 0.5).max(0.0);
            let i0 = (s.floor() as usize).min(27);
            let i1 = (i0 + 1).min(27);
            (i0, i1, s - i0 as f32)
        };
        let mut v = Vec::new();
        for oy in 0..out {
            let (y0, y1, fy) = src(oy);
            for ox in 0..out {
                let (x0, x1, fx) = src(ox);
                let p = |y: usize, x: usize| img[y * 28 + x] as f32;
                let top = p(y0, x0) * (1.0 - fx) + p(y0, x1) * fx;
                let bot = p(y1, x0) * (1.0 - fx) + p(y1, x1) * fx;
                v.push(top * (1.0 - fy) + bot * fy);
            }
        }
        v
    }

    #[test]
    fn bilinear_matches_half_pixel_reference() {
        let b = MnistBatcher::new(Normalization::Unit, Resize::Bilinear32);
        let img: [u8; IMAGE_PIXELS] = std::array::from_fn(|p| ((p * 37) % 256) as u8);
        let t = b.images(&[img, img], &device());
        assert_eq!(t.dims(), [2, 1, 32, 32]);
        let v = values(t);
        let r = reference_bilinear(&img, 32);
        for (i, (got, want)) in v.iter().zip(r.iter().chain(r.iter())).enumerate() {
            assert!(
                (got - want / 255.0).abs() < 1e-4,
                "pixel {i}: {got} vs {}",
                want / 255.0
            );
        }
    }

    #[test]
    fn empty_batch_has_zero_rows() {
        for resize in [Resize::None, Resize::Pad32, Resize::Bilinear32] {
            let b = MnistBatcher::new(Normalization::default(), resize);
            let batch = b.batch(vec![], &device());
            let s = b.output_size();
            assert_eq!(batch.images.dims(), [0, 1, s, s]);
            assert_eq!(batch.targets.dims(), [0]);
        }
    }

    #[test]
    fn matmul_bilinear_equals_burn_interpolate() {
        use burn::tensor::module::interpolate;
        use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
        let img: [u8; IMAGE_PIXELS] = std::array::from_fn(|p| ((p * 91) % 256) as u8);
        let x = MnistBatcher::new(Normalization::Unit, Resize::None).images(&[img], &device());
        let want = values(interpolate(
            x,
            InterpolateOptions::new(InterpolateMode::Bilinear)
                .with_align_corners(false)
                .with_output_size([32, 32]),
        ));
        let got = values(
            MnistBatcher::new(Normalization::Unit, Resize::Bilinear32).images(&[img], &device()),
        );
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-5, "{g} vs {w}");
        }
    }
}
