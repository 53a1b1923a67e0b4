//! The conversions and trait impls every identifier newtype shares.

/// Implements `as_str`, `Display`, `FromStr`, `TryFrom<&str>`, `TryFrom<String>`,
/// `AsRef<str>`, `Borrow<str>`, comparisons with `str`, `From<Self> for String` and
/// serde (as a string) for a `struct $name(Box<str>)` whose default validation is
/// `$check: fn(&str) -> Result<(), IdError>`.
macro_rules! string_id {
    ($name:ident, $check:path) => {
        impl $name {
            /// The identifier as text, exactly as it was parsed.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::id::IdError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::try_from(text)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = $crate::id::IdError;

            fn try_from(text: &str) -> Result<Self, Self::Error> {
                $check(text)?;
                Ok(Self(Box::from(text)))
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::id::IdError;

            fn try_from(text: String) -> Result<Self, Self::Error> {
                $check(&text)?;
                Ok(Self(text.into_boxed_str()))
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        // Hash, Eq and Ord are derived from the `Box<str>`, so they agree with `str`'s.
        impl ::std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                *self.0 == *other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                *self.0 == **other
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0.into()
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                let text = <String as ::serde::Deserialize<'de>>::deserialize(deserializer)?;
                Self::try_from(text).map_err(<D::Error as ::serde::de::Error>::custom)
            }
        }
    };
}

pub(super) use string_id;
