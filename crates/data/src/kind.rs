//! Which dataset (MNIST or Fashion-MNIST) and which split.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The two 28x28 greyscale ten-class datasets this crate handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetKind {
    /// Handwritten digits.
    #[default]
    Mnist,
    /// Zalando's clothing pictures, same format as MNIST.
    FashionMnist,
}

impl DatasetKind {
    /// Human-readable class names, indexed by label.
    pub fn class_names(self) -> [&'static str; 10] {
        match self {
            DatasetKind::Mnist => ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            DatasetKind::FashionMnist => [
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ],
        }
    }

    /// Stable lower-case name, used on the command line, in config files and in cache paths.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "mnist",
            DatasetKind::FashionMnist => "fashion-mnist",
        }
    }
}

impl fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A string that names no known dataset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown dataset {found:?}: expected \"mnist\" or \"fashion-mnist\"")]
pub struct ParseDatasetKindError {
    /// What was given.
    pub found: String,
}

impl FromStr for DatasetKind {
    type Err = ParseDatasetKindError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Accept the underscore spelling too, since people type both.
        match s.trim().to_ascii_lowercase().as_str() {
            "mnist" => Ok(DatasetKind::Mnist),
            "fashion-mnist" | "fashion_mnist" => Ok(DatasetKind::FashionMnist),
            _ => Err(ParseDatasetKindError {
                found: s.to_string(),
            }),
        }
    }
}

/// The official train/test partition of the files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// 60,000 training images.
    Train,
    /// 10,000 test images.
    Test,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str_and_serde() {
        for kind in [DatasetKind::Mnist, DatasetKind::FashionMnist] {
            assert_eq!(kind.name().parse::<DatasetKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.name());
            #[derive(Serialize, Deserialize)]
            struct W {
                dataset: DatasetKind,
            }
            let text = toml::to_string(&W { dataset: kind }).unwrap();
            assert_eq!(text.trim(), format!("dataset = \"{}\"", kind.name()));
            assert_eq!(toml::from_str::<W>(&text).unwrap().dataset, kind);
        }
        assert!("cifar".parse::<DatasetKind>().is_err());
        assert_eq!(DatasetKind::FashionMnist.class_names()[9], "Ankle boot");
    }
}
