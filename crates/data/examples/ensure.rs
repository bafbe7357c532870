//! Manual check of the real sources: `cargo run -p data --release --example ensure -- <mnist|fashion-mnist> [DIR]`.
//! Prints each progress line, then the item counts of both splits.

use std::path::PathBuf;

use burn::data::dataset::Dataset;
use data::{DatasetKind, MnistDataset, Split};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let kind: DatasetKind = args.next().as_deref().unwrap_or("mnist").parse()?;
    let dir = args.next().map(PathBuf::from);
    let start = std::time::Instant::now();
    let files = data::ensure(kind, dir.as_deref(), &mut |line| println!("{line}"))?;
    println!("ensure took {:.2} s", start.elapsed().as_secs_f64());
    for split in [Split::Train, Split::Test] {
        let ds = MnistDataset::open(&files, split)?;
        println!("{kind} {split:?}: {} items", ds.len());
    }
    Ok(())
}
