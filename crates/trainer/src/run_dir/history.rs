//! The per-epoch (and, for short runs, per-iteration) numbers of a run: what `history.json`
//! holds, what the curves are drawn from, and what `metrics.json` repeats.
//!
//! JSON has no NaN or infinity, and serde_json writes them as `null`, which would read back as
//! "no value": a diverged epoch would vanish on resume. Every float here is written as a number
//! when finite and as the string `"NaN"`, `"inf"` or `"-inf"` otherwise, and read back the same.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The largest `history.json` read back: a run of 10,000 epochs and the per-iteration points
/// of a short one fit in a few MiB.
const MAX_HISTORY_BYTES: u64 = 64 << 20;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    #[serde(with = "float::option", default)]
    pub train_loss: Option<f64>,
    /// Fraction 0-1.
    #[serde(with = "float::option", default)]
    pub train_accuracy: Option<f64>,
    #[serde(with = "float::option", default)]
    pub valid_loss: Option<f64>,
    #[serde(with = "float::option", default)]
    pub valid_accuracy: Option<f64>,
    /// The learning rate of the epoch's last iteration.
    #[serde(with = "float::option", default)]
    pub lr: Option<f64>,
    #[serde(with = "float::option", default)]
    pub train_seconds: Option<f64>,
    pub train_images: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IterationRecord {
    pub epoch: usize,
    pub iteration: usize,
    #[serde(with = "float::plain")]
    pub loss: f64,
    #[serde(with = "float::plain")]
    pub accuracy: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub epochs: Vec<EpochRecord>,
    pub iterations: Vec<IterationRecord>,
}

impl History {
    /// The record of `epoch`, created (in epoch order) if it is new.
    pub fn epoch_mut(&mut self, epoch: usize) -> &mut EpochRecord {
        let i = match self.epochs.binary_search_by_key(&epoch, |e| e.epoch) {
            Ok(i) => i,
            Err(i) => {
                self.epochs.insert(
                    i,
                    EpochRecord {
                        epoch,
                        ..Default::default()
                    },
                );
                i
            }
        };
        &mut self.epochs[i]
    }

    /// Drops what came after `epoch`, so a resumed run rewrites only the epochs it trains.
    pub fn truncate_after(&mut self, epoch: usize) {
        self.epochs.retain(|e| e.epoch <= epoch);
        self.iterations.retain(|i| i.epoch <= epoch);
    }

    /// Reads a history file; a missing file is an empty history, a damaged one an error
    /// naming it (resuming must not silently forget earlier epochs).
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = match files::read_capped_string_no_links(path, MAX_HISTORY_BYTES) {
            Ok(text) => text,
            Err(files::ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self::default());
            }
            Err(e) => return Err(Error::read(path, e)),
        };
        let mut history: Self = serde_json::from_str(&text).map_err(|e| Error::Json {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        history.epochs.sort_by_key(|e| e.epoch);
        history.epochs.dedup_by_key(|e| e.epoch);
        Ok(history)
    }

    pub fn save(&self, path: &Path) -> Result<(), Error> {
        crate::run_dir::write::write_json(path, self)
    }
}

/// serde adapters that keep non-finite floats.
pub mod float {
    use serde::{Deserialize, Deserializer, Serializer};

    fn to_text(v: f64) -> &'static str {
        if v.is_nan() {
            "NaN"
        } else if v > 0.0 {
            "inf"
        } else {
            "-inf"
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Number(f64),
        Text(String),
    }

    fn from_repr<E: serde::de::Error>(repr: Repr) -> Result<f64, E> {
        match repr {
            Repr::Number(v) => Ok(v),
            Repr::Text(t) => match t.as_str() {
                "NaN" => Ok(f64::NAN),
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                other => Err(E::custom(format!(
                    "expected a number, \"NaN\", \"inf\" or \"-inf\", found \"{other}\""
                ))),
            },
        }
    }

    /// For `f64` fields.
    pub mod plain {
        use super::*;

        pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
            if v.is_finite() {
                s.serialize_f64(*v)
            } else {
                s.serialize_str(to_text(*v))
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
            from_repr(Repr::deserialize(d)?)
        }
    }

    /// For `Option<f64>` fields (`null` is `None`).
    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => plain::serialize(v, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
            Option::<Repr>::deserialize(d)?.map(from_repr).transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_values_survive_a_round_trip() {
        let mut history = History::default();
        let e = history.epoch_mut(2);
        e.train_loss = Some(f64::NAN);
        e.valid_loss = Some(f64::INFINITY);
        e.lr = Some(0.01);
        history.epoch_mut(1).train_loss = Some(0.5);
        history.iterations.push(IterationRecord {
            epoch: 2,
            iteration: 1,
            loss: f64::NEG_INFINITY,
            accuracy: 0.1,
        });
        let text = serde_json::to_string(&history).unwrap();
        assert!(
            text.contains("\"NaN\"") && text.contains("\"-inf\""),
            "{text}"
        );
        let back: History = serde_json::from_str(&text).unwrap();
        assert_eq!(back.epochs.len(), 2);
        assert_eq!(back.epochs[0].epoch, 1, "kept in epoch order");
        assert!(back.epochs[1].train_loss.unwrap().is_nan());
        assert_eq!(back.epochs[1].valid_loss, Some(f64::INFINITY));
        assert_eq!(back.epochs[1].train_accuracy, None);
        assert_eq!(back.iterations[0].loss, f64::NEG_INFINITY);
    }

    #[test]
    fn every_value_reads_back_bit_for_bit() {
        // Without serde_json's `float_roundtrip` about one value in ten comes back a unit in the
        // last place off (0.9517636654224801 read back as 0.95176366542248), and a resumed
        // run's history would then differ from an uninterrupted one's.
        let mut draw = 0x9E37_79B9_7F4A_7C15_u64;
        let mut values = vec![0.9517636654224801, 1e-300, 123456.789e10];
        for _ in 0..2000 {
            draw = draw
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            values.push((draw >> 11) as f64 / (1u64 << 53) as f64);
        }
        let mut history = History::default();
        for (i, &v) in values.iter().enumerate() {
            history.iterations.push(IterationRecord {
                epoch: 1,
                iteration: i + 1,
                loss: v,
                accuracy: 1.0 - v,
            });
            history.epoch_mut(i + 1).train_loss = Some(v * 3.0);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.json");
        history.save(&path).unwrap();
        let back = History::load(&path).unwrap();
        let bits = |h: &History| -> Vec<u64> {
            h.iterations
                .iter()
                .flat_map(|r| [r.loss.to_bits(), r.accuracy.to_bits()])
                .chain(h.epochs.iter().map(|e| e.train_loss.unwrap().to_bits()))
                .collect()
        };
        assert_eq!(bits(&back), bits(&history));
    }

    #[test]
    fn a_damaged_history_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.json");
        assert_eq!(History::load(&path).unwrap(), History::default());
        std::fs::write(
            &path,
            "{\"epochs\": [{\"epoch\": 1, \"train_loss\": \"lots\"",
        )
        .unwrap();
        let err = History::load(&path).unwrap_err().to_string();
        assert!(err.contains("history.json"), "{err}");
    }
}
