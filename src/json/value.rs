//! The JSON value type.

use super::{Number, Object};

/// A JSON value that keeps exactly what Matrix signs.
///
/// Objects are always sorted ([`Object`]), numbers keep their exact integer value or
/// the float Synapse would sign ([`Number`]), strings are Unicode.
// JSON has exactly these six kinds of value; the enum will never grow.
#[allow(clippy::exhaustive_enums)]
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Value {
    /// `null`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Self>),
    /// An object.
    Object(Object),
}

impl Value {
    /// The canonical encoding of this value, appended to `out`.
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        super::encode::write_value(self, out);
    }

    /// The string, if this is a string.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(value) => Some(value),
            _ => None,
        }
    }

    /// The boolean, if this is a boolean.
    #[must_use]
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(value) => Some(*value),
            _ => None,
        }
    }

    /// The number, if this is a number.
    #[must_use]
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Self::Number(value) => Some(value),
            _ => None,
        }
    }

    /// The integer, if this is an integer that fits in `i64`.
    #[must_use]
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number().and_then(Number::as_i64)
    }

    /// The array, if this is an array.
    #[must_use]
    pub fn as_array(&self) -> Option<&[Self]> {
        match self {
            Self::Array(value) => Some(value),
            _ => None,
        }
    }

    /// The object, if this is an object.
    #[must_use]
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Self::Object(value) => Some(value),
            _ => None,
        }
    }

    /// The object, mutably, if this is an object.
    #[must_use]
    pub fn as_object_mut(&mut self) -> Option<&mut Object> {
        match self {
            Self::Object(value) => Some(value),
            _ => None,
        }
    }

    /// True for `null`.
    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// The value under `key`, if this is an object that has it.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Self> {
        self.as_object().and_then(|object| object.get(key))
    }

    /// True when this value, and everything inside it, is allowed by strict canonical
    /// JSON (no floats, integers within ±(2^53−1)).
    #[must_use]
    pub fn is_strict_canonical(&self) -> bool {
        // Iterative, so that a deeply nested value built in code cannot overflow the stack.
        let mut pending = vec![self];
        while let Some(value) = pending.pop() {
            match value {
                Self::Number(number) if !number.is_strict_canonical() => return false,
                Self::Array(items) => pending.extend(items),
                Self::Object(object) => pending.extend(object.values()),
                _ => {}
            }
        }
        true
    }

    /// A short name of the value's kind (`"null"`, `"boolean"`, `"number"`, `"string"`,
    /// `"array"`, `"object"`), for error messages.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "boolean",
            Self::Number(_) => "number",
            Self::String(_) => "string",
            Self::Array(_) => "array",
            Self::Object(_) => "object",
        }
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl From<i64> for Value {
    fn from(value: i64) -> Self {
        Self::Number(value.into())
    }
}

impl From<i32> for Value {
    fn from(value: i32) -> Self {
        Self::Number(value.into())
    }
}

impl From<u64> for Value {
    fn from(value: u64) -> Self {
        Self::Number(value.into())
    }
}

impl From<Number> for Value {
    fn from(value: Number) -> Self {
        Self::Number(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Self::String(value.to_owned())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Self::String(value)
    }
}

impl From<Vec<Self>> for Value {
    fn from(value: Vec<Self>) -> Self {
        Self::Array(value)
    }
}

impl From<Object> for Value {
    fn from(value: Object) -> Self {
        Self::Object(value)
    }
}

/// What indexing finds where there is nothing.
static NULL: Value = Value::Null;

impl std::ops::Index<&str> for Value {
    type Output = Self;

    /// The member `key` of an object, or `null` when this is not an object or has no
    /// such member (as `serde_json` indexes), so that lookups chain:
    /// `event["content"]["body"]`.
    fn index(&self, key: &str) -> &Self {
        self.as_object()
            .and_then(|object| object.get(key))
            .unwrap_or(&NULL)
    }
}

impl std::ops::Index<usize> for Value {
    type Output = Self;

    /// The item at `index` of an array, or `null` when this is not an array or is
    /// shorter.
    fn index(&self, index: usize) -> &Self {
        self.as_array()
            .and_then(|items| items.get(index))
            .unwrap_or(&NULL)
    }
}

impl std::ops::Index<&str> for Object {
    type Output = Value;

    /// The member `key`, or `null` when there is none.
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}
