//! The data loader of a training run, on Burn's own `DataLoader` trait, built so that a run can
//! be replayed exactly: epoch k's order is drawn from (seed, k) alone, the way a distributed
//! sampler's `set_epoch` works, and the random state of every step (dropout) is seeded from
//! (seed, epoch, batch) just before the step runs. A run resumed at epoch k therefore sees the
//! same batches and the same dropout masks as an uninterrupted one.
//!
//! Burn's own loader seeds one RNG per process and advances it each epoch, so after a restart
//! epoch k would replay epoch 1's order; and with worker threads it delivers batches in arrival
//! order. This one batches on the training thread (MNIST batches cost microseconds next to a
//! step) and is the same with any number of CPU threads.
//!
//! On a GPU backend ([`EpochLoader::on_gpu`]) the training set is uploaded once, on the first
//! epoch, and each batch is gathered on the device from the same (seed, epoch) permutation, so
//! a step copies 64 indices to the device instead of 64 images; and the random state is seeded
//! once per epoch rather than before every step (a seed is a synchronisation point there, and
//! GPU reductions are not bit-for-bit repeatable anyway).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::transform::{PartialDataset, ShuffledDataset};
use burn::data::dataset::{Dataset, DatasetError, InMemDataset};
use burn::tensor::{Device, Int, Tensor, TensorData};
use data::MnistItem;
use model::ImageBatch;

use crate::dataset::{ModelBatcher, SharedDataset};
use crate::run_dir::position::Position;

/// Where the next epoch starts: shared by every copy of a loader (Burn moves loaders to the
/// device by copying them).
struct Next {
    /// The epoch the next `iter()` serves, 1-based.
    epoch: AtomicUsize,
    /// Batches the next `iter()` skips: those a mid-epoch checkpoint already covers.
    skip: AtomicUsize,
}

#[derive(Clone)]
pub struct EpochLoader {
    dataset: SharedDataset,
    batcher: ModelBatcher,
    batch_size: usize,
    device: Device,
    /// Seeds each epoch's order (when shuffling) and each step's random state (when training).
    seed: Option<u64>,
    shuffle: bool,
    next: Arc<Next>,
    /// Keep the data on the device and gather batches there (see the module docs).
    on_gpu: bool,
    /// The whole dataset on `device`, uploaded on first use when `on_gpu`.
    resident: OnceLock<ImageBatch>,
}

impl EpochLoader {
    /// The training loader of a run that starts where `start` stands (the beginning, or a
    /// checkpoint resumed from: its first `iter()` serves the epoch after `start.epochs`, from
    /// batch `start.batches`). Each epoch is shuffled from (seed, epoch) unless `shuffle` is off,
    /// and each step's random state is seeded from (seed, epoch, batch).
    pub fn training(
        dataset: SharedDataset,
        batcher: ModelBatcher,
        batch_size: usize,
        seed: u64,
        shuffle: bool,
        start: Position,
    ) -> Self {
        Self {
            dataset,
            batcher,
            batch_size,
            device: Device::default(),
            seed: Some(seed),
            shuffle,
            next: Arc::new(Next {
                epoch: AtomicUsize::new(start.epochs + 1),
                skip: AtomicUsize::new(start.batches),
            }),
            on_gpu: false,
            resident: OnceLock::new(),
        }
    }

    /// For a GPU backend: the data stays on the device, batches are gathered there, and the
    /// random state is seeded per epoch. The batches are the same as without it.
    pub fn on_gpu(self, on_gpu: bool) -> Self {
        Self { on_gpu, ..self }
    }

    /// The dataset as one batch on the device: uploaded once.
    fn resident(&self) -> &ImageBatch {
        self.resident.get_or_init(|| {
            let items = (0..self.dataset.len())
                .filter_map(|i| self.dataset.get(i).ok())
                .collect();
            self.batcher.batch(items, &self.device)
        })
    }

    /// A loader in file order that touches no random state (validation).
    pub fn evaluation(dataset: SharedDataset, batcher: ModelBatcher, batch_size: usize) -> Self {
        Self {
            seed: None,
            shuffle: false,
            ..Self::training(dataset, batcher, batch_size, 0, false, Position::end_of(0))
        }
    }

    pub fn batches_per_epoch(&self) -> usize {
        self.dataset.len().div_ceil(self.batch_size)
    }
}

/// A 64-bit mix of two values (SplitMix64's finaliser): seeds for (seed, epoch) and
/// (seed, epoch, batch) that are unrelated to each other.
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b
        .wrapping_add(0x9E37_79B9_7F4A_7C15)
        .wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl DataLoader<ImageBatch> for EpochLoader {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<ImageBatch> + 'a> {
        let epoch = self.next.epoch.fetch_add(1, Ordering::SeqCst);
        let skip = self.next.skip.swap(0, Ordering::SeqCst);
        // The order as indices: shuffling 0..n with a seed permutes exactly as shuffling the
        // items with it would, so the host and the device paths see the same batches.
        let indices: Arc<dyn Dataset<usize>> =
            Arc::new(InMemDataset::new((0..self.dataset.len()).collect()));
        let order: Arc<dyn Dataset<usize>> = match self.seed {
            Some(seed) if self.shuffle => {
                Arc::new(ShuffledDataset::new(indices, mix(seed, epoch as u64)))
            }
            _ => indices,
        };
        if let (Some(seed), true) = (self.seed, self.on_gpu) {
            self.device.seed(mix(seed, epoch as u64));
        }
        Box::new(EpochIter {
            loader: self,
            order,
            epoch,
            batch: skip,
        })
    }

    fn num_items(&self) -> usize {
        self.dataset.len()
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<ImageBatch>> {
        Arc::new(Self {
            device: device.clone(),
            resident: OnceLock::new(),
            ..self.clone()
        })
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<ImageBatch>> {
        let end = end.min(self.dataset.len());
        Arc::new(Self {
            dataset: Arc::new(PartialDataset::new(
                self.dataset.clone(),
                start.min(end),
                end,
            )),
            resident: OnceLock::new(),
            ..self.clone()
        })
    }
}

struct EpochIter<'a> {
    loader: &'a EpochLoader,
    /// The epoch's order, as indices into the loader's dataset.
    order: Arc<dyn Dataset<usize>>,
    epoch: usize,
    batch: usize,
}

impl Iterator for EpochIter<'_> {
    type Item = Result<ImageBatch, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (len, size) = (self.order.len(), self.loader.batch_size);
        let start = self.batch * size;
        if start >= len {
            return None;
        }
        let indices: Result<Vec<usize>, DatasetError> = (start..(start + size).min(len))
            .map(|i| self.order.get(i))
            .collect();
        let indices = match indices {
            Ok(indices) => indices,
            Err(e) => return Some(Err(e)),
        };
        // The step that follows draws its random numbers (dropout) from here: Burn calls
        // `next()` on the training thread right before each step.
        if let (Some(seed), false) = (self.loader.seed, self.loader.on_gpu) {
            let step_seed = mix(mix(seed, self.epoch as u64), self.batch as u64);
            self.loader.device.seed(step_seed);
        }
        self.batch += 1;
        if self.loader.on_gpu {
            return Some(Ok(self.loader.gather(&indices)));
        }
        let items: Result<Vec<MnistItem>, DatasetError> = indices
            .iter()
            .map(|&i| self.loader.dataset.get(i))
            .collect();
        Some(items.map(|items| self.loader.batcher.batch(items, &self.loader.device)))
    }
}

impl EpochLoader {
    /// The batch of the given items, gathered from the resident copy on the device.
    fn gather(&self, indices: &[usize]) -> ImageBatch {
        let all = self.resident();
        let data = TensorData::new(
            indices.iter().map(|&i| i as i64).collect::<Vec<_>>(),
            [indices.len()],
        );
        let indices = Tensor::<1, Int>::from_data(data, &self.device);
        ImageBatch {
            images: all.images.clone().select(0, indices.clone()),
            targets: all.targets.clone().select(0, indices),
        }
    }
}

impl DataLoaderIterator<ImageBatch> for EpochIter<'_> {
    fn progress(&self) -> Progress {
        let total = self.order.len();
        Progress {
            items_processed: (self.batch * self.loader.batch_size).min(total),
            items_total: total,
            unit: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use data::{MnistBatcher, MnistDataset};

    fn loader(start: Position) -> Arc<dyn DataLoader<ImageBatch>> {
        loader_with(start, false)
    }

    fn loader_with(start: Position, on_gpu: bool) -> Arc<dyn DataLoader<ImageBatch>> {
        let items = (0..10u8)
            .map(|i| MnistItem {
                image: [i; 784],
                label: i,
            })
            .collect();
        EpochLoader::training(
            Arc::new(MnistDataset::from_items(items)),
            ModelBatcher(MnistBatcher::default()),
            4,
            7,
            true,
            start,
        )
        .on_gpu(on_gpu)
        .to_device(&Device::flex())
        .slice(0, 10)
    }

    fn labels(loader: &dyn DataLoader<ImageBatch>) -> Vec<i64> {
        loader
            .iter()
            .flat_map(|b| {
                b.unwrap()
                    .targets
                    .into_data()
                    .try_to_vec_as::<i64>()
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn epoch_k_has_the_same_order_however_the_run_got_there() {
        let straight = loader(Position::end_of(0));
        let orders: Vec<Vec<i64>> = (0..3).map(|_| labels(&*straight)).collect();
        assert_ne!(orders[0], orders[1], "each epoch is shuffled anew");
        let resumed = loader(Position::end_of(2));
        assert_eq!(labels(&*resumed), orders[2]);
        // Mid-epoch: after 2 batches of 4, epoch 3 goes on with its last 2 items.
        let mid = loader(Position {
            epochs: 2,
            batches: 2,
        });
        assert_eq!(labels(&*mid), orders[2][8..]);
        // ...and the epoch after it is a whole one.
        assert_eq!(labels(&*mid), labels(&*loader(Position::end_of(3))));
        // Gathered on the device from the resident copy: the same batches, image for image.
        let host = loader(Position::end_of(0));
        let device = loader_with(Position::end_of(0), true);
        for _ in 0..2 {
            for (a, b) in host.iter().zip(device.iter()) {
                let (a, b) = (a.unwrap(), b.unwrap());
                assert_eq!(a.targets.into_data(), b.targets.into_data());
                assert_eq!(a.images.into_data(), b.images.into_data());
            }
        }
        let mut sorted = orders[2].clone();
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>(), "every item once");
    }
}
