//! [`Number`]: how the provider reads a Terraform number.
//!
//! Terraform numbers are arbitrary-precision decimals. On the wire a number travels as a
//! msgpack integer or float64 when one represents it exactly, and otherwise as its decimal text:
//! `0.1` typed in a configuration, or a price such as `0.0416` read back from a state file, is
//! not exactly any float64 and arrives as the string `"0.0416"`. A plain `f64` field would reject
//! it ("data did not match any variant"), so every number the provider reads is a `Number`.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A Terraform number as the nearest `f64`; reads integers, floats and decimal text.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Number(pub f64);

impl From<f64> for Number {
    fn from(x: f64) -> Self {
        Number(x)
    }
}

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.0)
    }
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NumberVisitor)
    }
}

struct NumberVisitor;

impl Visitor<'_> for NumberVisitor {
    type Value = Number;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number, or a number as decimal text")
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<Number, E> {
        Ok(Number(x))
    }

    fn visit_i64<E: de::Error>(self, x: i64) -> Result<Number, E> {
        Ok(Number(x as f64))
    }

    fn visit_u64<E: de::Error>(self, x: u64) -> Result<Number, E> {
        Ok(Number(x as f64))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Number, E> {
        text.trim()
            .parse()
            .map(Number)
            .map_err(|_| E::invalid_value(de::Unexpected::Str(text), &self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_form_terraform_sends() {
        let read = |json: &str| serde_json::from_str::<Number>(json).unwrap();
        assert_eq!(read("3"), Number(3.0));
        assert_eq!(read("0.5"), Number(0.5));
        assert_eq!(read("\"0.0416\""), Number(0.0416));
        assert!(serde_json::from_str::<Number>("\"cheap\"").is_err());
        // Inside tf-provider's `Value`, which tries its variants in turn.
        let value: tf_provider::value::Value<Number> = serde_json::from_str("\"0.1\"").unwrap();
        assert_eq!(value, tf_provider::value::Value::Value(Number(0.1)));
        assert_eq!(serde_json::to_string(&Number(0.25)).unwrap(), "0.25");
    }
}
