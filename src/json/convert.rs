//! Conversions between [`Value`] and serde / `serde_json`.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::{Number, Object, Value};

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Null => serializer.serialize_unit(),
            Self::Bool(value) => serializer.serialize_bool(*value),
            Self::Number(number) => number.serialize(serializer),
            Self::String(text) => serializer.serialize_str(text),
            Self::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Self::Object(object) => object.serialize(serializer),
        }
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (key, value) in self {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl Serialize for Number {
    /// Integers beyond 64 bits are serialized as `f64`, since serde has no exact type
    /// for them; use [`crate::json::to_vec`] for exact output.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.as_i64() {
            Some(value) => serializer.serialize_i64(value),
            None => serializer.serialize_f64(self.as_f64()),
        }
    }
}

impl From<serde_json::Value> for Value {
    /// Converts a `serde_json` value. Numbers convert exactly when `serde_json` holds
    /// them exactly (integers of up to 64 bits, finite floats).
    fn from(value: serde_json::Value) -> Self {
        match value {
            serde_json::Value::Null => Self::Null,
            serde_json::Value::Bool(value) => Self::Bool(value),
            serde_json::Value::Number(number) => {
                if let Some(small) = number.as_i64() {
                    Self::from(small)
                } else if let Some(large) = number.as_u64() {
                    Self::from(large)
                } else {
                    number
                        .as_f64()
                        .and_then(Number::from_f64)
                        .map_or(Self::Null, Self::Number)
                }
            }
            serde_json::Value::String(text) => Self::String(text),
            serde_json::Value::Array(items) => {
                Self::Array(items.into_iter().map(Self::from).collect())
            }
            serde_json::Value::Object(map) => Self::Object(
                map.into_iter()
                    .map(|(key, value)| (key, Self::from(value)))
                    .collect(),
            ),
        }
    }
}

impl From<&Value> for serde_json::Value {
    /// Converts to a `serde_json` value. Integers beyond 64 bits become floats.
    fn from(value: &Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(value) => Self::Bool(*value),
            Value::Number(number) => match number.as_i64() {
                Some(value) => Self::from(value),
                None => {
                    serde_json::Number::from_f64(number.as_f64()).map_or(Self::Null, Self::Number)
                }
            },
            Value::String(text) => Self::String(text.clone()),
            Value::Array(items) => Self::Array(items.iter().map(Self::from).collect()),
            Value::Object(object) => Self::Object(
                object
                    .iter()
                    .map(|(key, value)| (key.to_owned(), Self::from(value)))
                    .collect(),
            ),
        }
    }
}
