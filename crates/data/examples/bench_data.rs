//! Throughput check: loading full raw MNIST, and the batcher with each resize on the flex backend.
//!
//! Run with `cargo run -p data --release --example bench_data [DIR]`; DIR defaults to
//! `$MNIST_DATA_DIR`. (An example rather than a criterion bench keeps the build lean.)

use std::path::PathBuf;
use std::time::Instant;

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::Device;
use data::{MnistBatcher, MnistDataset, Normalization, Resize};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("MNIST_DATA_DIR").map(PathBuf::from))
        .ok_or("give the directory of the raw MNIST files as argument or MNIST_DATA_DIR")?;
    let names = data::MNIST_FILE_NAMES.map(|n| dir.join(n));

    let mut best = f64::MAX;
    let mut train = MnistDataset::default();
    for _ in 0..5 {
        let start = Instant::now();
        train = MnistDataset::from_idx(&names[0], &names[1])?;
        let test = MnistDataset::from_idx(&names[2], &names[3])?;
        best = best.min(start.elapsed().as_secs_f64());
        assert_eq!((train.items().len(), test.items().len()), (60_000, 10_000));
    }
    println!(
        "load raw train+test (70,000 images): best of 5 {:.3} s",
        best
    );

    let device = Device::flex();
    let batch_size = 64;
    for resize in [Resize::None, Resize::Pad32, Resize::Bilinear32] {
        let batcher = MnistBatcher::new(Normalization::default(), resize);
        // Warm-up, then time a full pass over the training set.
        for chunk in train.items().chunks(batch_size).take(20) {
            let _ = batcher.batch(chunk.to_vec(), &device).images.into_data();
        }
        let start = Instant::now();
        let mut n = 0usize;
        for chunk in train.items().chunks(batch_size) {
            let b = batcher.batch(chunk.to_vec(), &device);
            // Force the computation (the flex backend may be lazy).
            let _ = b.images.into_data();
            n += chunk.len();
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "batcher {resize:?}, batch {batch_size}: {n} images in {secs:.3} s = {:.0} images/s",
            n as f64 / secs
        );
    }
    Ok(())
}
