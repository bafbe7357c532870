//! Images per second as a Burn metric, so Burn's terminal dashboard shows the training speed
//! (MXNet's Speedometer) next to the loss and accuracy.

use std::sync::Arc;
use std::time::Instant;

use burn::tensor::TensorReadError;
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes, NumericEntry,
    SerializedEntry,
};

/// Training images per second since the epoch's first batch.
#[derive(Clone)]
pub struct ImagesPerSecond {
    name: MetricName,
    state: NumericMetricState,
    /// When the first batch of the epoch was reported, and the images processed by then.
    since: Option<(Instant, usize)>,
}

impl ImagesPerSecond {
    /// Also the name of its log file in `train/epoch-N/` (so no slash).
    pub const NAME: &str = "Images per second";

    pub fn new() -> Self {
        Self {
            name: Arc::new(Self::NAME.to_string()),
            state: NumericMetricState::default(),
            since: None,
        }
    }

    fn format(&self) -> FormatOptions {
        FormatOptions::new(self.name.clone()).precision(0)
    }
}

impl Default for ImagesPerSecond {
    fn default() -> Self {
        Self::new()
    }
}

impl Metric for ImagesPerSecond {
    type Input = ();

    fn update(
        &mut self,
        _: &(),
        metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        let items = metadata.progress.items_processed;
        let rate = match self.since {
            Some((start, first)) => {
                items.saturating_sub(first) as f64 / start.elapsed().as_secs_f64().max(1e-9)
            }
            None => {
                self.since = Some((Instant::now(), items));
                0.0
            }
        };
        self.state.update(rate, 1);
        Ok(self.state.compute_update(self.format()))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self.state.compute_final(self.format()))
    }

    fn clear(&mut self) {
        self.since = None;
        self.state.reset();
    }

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: Some("images/s".into()),
            higher_is_better: true,
        }
        .into()
    }
}

impl Numeric for ImagesPerSecond {
    fn value(&self) -> Option<NumericEntry> {
        Some(self.state.current_value())
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(self.state.running_value())
    }

    fn final_value(&self) -> NumericEntry {
        self.state.final_value()
    }
}
