//! `F`: an `f64` that survives JSON. Finite values are JSON numbers (exact,
//! serde_json's `float_roundtrip`); NaN and the infinities, which JSON has no
//! numbers for, are the strings `"NaN"`, `"inf"` and `"-inf"`.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A fitted number in a saved pipeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct F(pub f64);

impl Serialize for F {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_finite() {
            s.serialize_f64(v)
        } else if v.is_nan() {
            s.serialize_str("NaN")
        } else if v > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }
}

struct FVisitor;

impl Visitor<'_> for FVisitor {
    type Value = F;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number, or \"NaN\", \"inf\" or \"-inf\"")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<F, E> {
        Ok(F(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<F, E> {
        Ok(F(v as f64))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<F, E> {
        Ok(F(v as f64))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<F, E> {
        match v {
            "NaN" => Ok(F(f64::NAN)),
            "inf" => Ok(F(f64::INFINITY)),
            "-inf" => Ok(F(f64::NEG_INFINITY)),
            _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
        }
    }
}

impl<'de> Deserialize<'de> for F {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<F, D::Error> {
        d.deserialize_any(FVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_f64_round_trips_bit_for_bit() {
        let values = [
            0.0,
            -0.0,
            1.0 / 3.0,
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            -1e300,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for v in values {
            let json = serde_json::to_string(&F(v)).unwrap();
            let back: F = serde_json::from_str(&json).unwrap();
            assert!(
                back.0.to_bits() == v.to_bits() || (v.is_nan() && back.0.is_nan()),
                "{v} -> {json}"
            );
        }
        assert_eq!(serde_json::to_string(&F(f64::NAN)).unwrap(), "\"NaN\"");
        assert_eq!(serde_json::from_str::<F>("3").unwrap(), F(3.0));
        assert!(serde_json::from_str::<F>("\"three\"").is_err());
    }
}
