//! How pixel values 0-255 become floats ([`Normalization`]): its TOML forms and its one check.
//! The batcher applies it on the device.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How pixel values 0-255 become floats.
///
/// In TOML: `normalize = { mean = 0.1307, std = 0.3081 }`, `normalize = "unit"`, or
/// `normalize = { divide_by = 256 }` (Caffe2's tutorial scales by 1/256).
#[derive(Clone, Debug, PartialEq)]
pub enum Normalization {
    /// `(p / 255 - mean) / std`.
    MeanStd {
        /// Mean of the [0,1]-scaled training pixels.
        mean: f32,
        /// Their standard deviation.
        std: f32,
    },
    /// `p / 255`, i.e. [0, 1].
    Unit,
    /// `p / divisor`.
    Divide {
        /// A positive number, e.g. 256.
        divisor: f32,
    },
}

impl Default for Normalization {
    /// The usual MNIST training-set statistics.
    fn default() -> Self {
        Normalization::MeanStd {
            mean: 0.1307,
            std: 0.3081,
        }
    }
}

impl Normalization {
    /// Whether the numbers make sense: a finite mean and a positive std, or a positive divisor.
    /// The one check, made when a config or `input.toml` is read.
    pub fn check(&self) -> Result<(), String> {
        match *self {
            Normalization::MeanStd { mean, std }
                if !(std.is_finite() && std > 0.0 && mean.is_finite()) =>
            {
                Err(format!(
                    "normalization needs a finite mean and a positive std, found mean = {mean}, std = {std}"
                ))
            }
            Normalization::Divide { divisor } if !(divisor.is_finite() && divisor > 0.0) => Err(
                format!("divide_by must be a positive number, found {divisor}"),
            ),
            _ => Ok(()),
        }
    }

    /// The affine map `p * scale + offset` for raw pixel values p in 0..=255.
    pub fn scale_offset(&self) -> (f32, f32) {
        match *self {
            Normalization::MeanStd { mean, std } => (1.0 / (255.0 * std), -mean / std),
            Normalization::Unit => (1.0 / 255.0, 0.0),
            Normalization::Divide { divisor } => (1.0 / divisor, 0.0),
        }
    }
}

/// The table forms, `{ mean, std }` or `{ divide_by }`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableRepr {
    #[serde(skip_serializing_if = "Option::is_none")]
    mean: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    std: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    divide_by: Option<f32>,
}

impl Serialize for Normalization {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let table = |mean, std, divide_by| TableRepr {
            mean,
            std,
            divide_by,
        };
        match *self {
            Normalization::MeanStd { mean, std } => table(Some(mean), Some(std), None).serialize(s),
            Normalization::Unit => s.serialize_str("unit"),
            Normalization::Divide { divisor } => table(None, None, Some(divisor)).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Normalization {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Normalization;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "\"unit\", a table { mean = <float>, std = <float> } or { divide_by = <float> }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Normalization, E> {
                match v {
                    "unit" => Ok(Normalization::Unit),
                    other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Normalization, A::Error> {
                let r = TableRepr::deserialize(de::value::MapAccessDeserializer::new(map))?;
                match (r.mean, r.std, r.divide_by) {
                    (Some(mean), Some(std), None) => Ok(Normalization::MeanStd { mean, std }),
                    (None, None, Some(divisor)) => Ok(Normalization::Divide { divisor }),
                    _ => Err(de::Error::custom(
                        "give either mean and std, or divide_by alone",
                    )),
                }
                .and_then(|n| n.check().map(|()| n).map_err(de::Error::custom))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Resize;

    #[test]
    fn normalization_toml_forms() {
        #[derive(Serialize, Deserialize, Debug, PartialEq)]
        struct C {
            normalize: Normalization,
            resize: Resize,
        }
        let c: C = toml::from_str("normalize = \"unit\"\nresize = \"pad32\"").unwrap();
        assert_eq!(c.normalize, Normalization::Unit);
        assert_eq!(c.resize, Resize::Pad32);
        let c: C =
            toml::from_str("normalize = { mean = 0.5, std = 0.25 }\nresize = \"bilinear32\"")
                .unwrap();
        assert_eq!(
            c.normalize,
            Normalization::MeanStd {
                mean: 0.5,
                std: 0.25
            }
        );
        let back: C = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        assert!(
            toml::from_str::<C>("normalize = { mean = 0.5, std = 0.25, x = 1 }\nresize = \"none\"")
                .is_err()
        );
        assert!(toml::from_str::<C>("normalize = \"z\"\nresize = \"none\"").is_err());
        assert!(
            toml::from_str::<C>("normalize = { mean = 0.5, std = 0.0 }\nresize = \"none\"")
                .is_err()
        );
        let c: C = toml::from_str("normalize = { divide_by = 256 }\nresize = \"none\"").unwrap();
        assert_eq!(c.normalize, Normalization::Divide { divisor: 256.0 });
        assert_eq!(c.normalize.scale_offset(), (1.0 / 256.0, 0.0));
        let back: C = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        for bad in [
            "normalize = { divide_by = 0 }",
            "normalize = { divide_by = 256, mean = 0.5 }",
            "normalize = { mean = 0.5 }",
        ] {
            assert!(
                toml::from_str::<C>(&format!("{bad}\nresize = \"none\"")).is_err(),
                "{bad}"
            );
        }
    }
}
