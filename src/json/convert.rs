//! Conversions between [`Value`] and serde / `serde_json`.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
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
        match (self.as_i64(), self.as_u64()) {
            (Some(value), _) => serializer.serialize_i64(value),
            (None, Some(value)) => serializer.serialize_u64(value),
            (None, None) => serializer.serialize_f64(self.as_f64()),
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
            Value::Number(number) => match (number.as_i64(), number.as_u64()) {
                (Some(value), _) => Self::from(value),
                (None, Some(value)) => Self::from(value),
                (None, None) => {
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

impl From<serde_json::Map<String, serde_json::Value>> for Object {
    /// Converts a `serde_json` object; numbers convert as in
    /// [`From<serde_json::Value>`](Value#impl-From<Value>-for-Value).
    fn from(map: serde_json::Map<String, serde_json::Value>) -> Self {
        map.into_iter()
            .map(|(key, value)| (key, Value::from(value)))
            .collect()
    }
}

impl From<&Object> for serde_json::Map<String, serde_json::Value> {
    /// Converts to a `serde_json` object. Integers beyond 64 bits become floats.
    fn from(object: &Object) -> Self {
        object
            .iter()
            .map(|(key, value)| (key.to_owned(), serde_json::Value::from(value)))
            .collect()
    }
}

impl From<&Object> for serde_json::Value {
    /// Converts to a `serde_json` object value.
    fn from(object: &Object) -> Self {
        Self::Object(object.into())
    }
}

impl From<Value> for serde_json::Value {
    /// Converts to a `serde_json` value. Integers beyond 64 bits become floats.
    fn from(value: Value) -> Self {
        Self::from(&value)
    }
}

impl<'de> Deserialize<'de> for Value {
    /// Reads any self-describing format (`serde_json`, YAML, ...). Integers keep their
    /// exact value up to 128 bits; a float must be finite; a repeated object key keeps
    /// the later value, as [`Object::from_entries`] does. The deserializer bounds the
    /// nesting (`serde_json` at 128 levels).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

impl<'de> Deserialize<'de> for Object {
    /// Reads a JSON object (see [`Value`'s `Deserialize`](Value#impl-Deserialize<'de>-for-Value)).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserializer.deserialize_map(ValueVisitor)? {
            Value::Object(object) => Ok(object),
            other => Err(de::Error::invalid_type(
                de::Unexpected::Other(kind(&other)),
                &"a JSON object",
            )),
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Builds a [`Value`] from serde's data model.
struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_i128<E: de::Error>(self, value: i128) -> Result<Value, E> {
        Ok(Value::Number(Number::from_big_digits(&value.to_string())))
    }

    fn visit_u128<E: de::Error>(self, value: u128) -> Result<Value, E> {
        Ok(Value::Number(Number::from_big_digits(&value.to_string())))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Value, E> {
        Number::from_f64(value)
            .map(Value::Number)
            .ok_or_else(|| E::invalid_value(de::Unexpected::Float(value), &"a finite number"))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Deserialize::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        // The size hint comes from the input: cap what it may reserve up front.
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        while let Some(entry) = map.next_entry::<String, Value>()? {
            entries.push(entry);
        }
        Ok(Value::Object(Object::from_entries(entries)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_json_round_trips_exactly_within_64_bits() {
        let text = r#"{"a":[1,-2,18446744073709551615,null,true,"é"],"b":{"c":1.5}}"#;
        let ours: Value = serde_json::from_str(text).expect("deserializes");
        assert_eq!(crate::json::to_string(&ours), text);
        let theirs: serde_json::Value = serde_json::from_str(text).expect("parses");
        assert_eq!(Value::from(theirs.clone()), ours);
        assert_eq!(serde_json::Value::from(&ours), theirs);
        let object: Object = serde_json::from_str(r#"{"b":1,"a":2,"b":3}"#).expect("object");
        assert_eq!(
            crate::json::to_string(&object.clone().into()),
            r#"{"a":2,"b":3}"#
        );
        let map = serde_json::Map::from(&object);
        assert_eq!(Object::from(map), object);
    }

    #[test]
    fn an_object_refuses_other_kinds() {
        assert!(serde_json::from_str::<Object>("[1]").is_err());
        assert!(serde_json::from_str::<Object>("\"x\"").is_err());
        // serde_json's own nesting limit holds.
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(serde_json::from_str::<Value>(&deep).is_err());
    }
}
