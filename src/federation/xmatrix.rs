//! The `X-Matrix` authorization header
//! (<https://spec.matrix.org/v1.16/server-server-api/#request-authentication>): one
//! header value names the requesting server (`origin`), optionally the server it is
//! meant for (`destination`), the signing key (`key`) and the signature (`sig`).
//! Parsing is as lenient as Synapse's (the server every peer must interoperate with);
//! formatting is strict, so that every receiver reads back what was written.
//!
//! ```
//! use matrix_serverlib::federation::xmatrix::XMatrix;
//!
//! let header = XMatrix::new("a.example", Some("b.example".into()), "ed25519:1", "c2ln")?;
//! let text = header.to_header_value()?;
//! assert_eq!(
//!     text,
//!     r#"X-Matrix origin="a.example",key="ed25519:1",sig="c2ln",destination="b.example""#
//! );
//! let parsed: XMatrix = "X-Matrix  Origin=a.example , KEY=\"ed25519:1\",sig=c2ln".parse()?;
//! assert_eq!(parsed.origin(), "a.example");
//! assert_eq!(parsed.destination(), None);
//! # Ok::<(), matrix_serverlib::federation::xmatrix::XMatrixError>(())
//! ```

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::str::FromStr;

/// The authentication scheme, in the one case that Synapse accepts.
pub const SCHEME: &str = "X-Matrix";

/// The longest header value that is parsed (8 KiB); longer ones are refused before
/// any parsing. A real header is about 200 bytes.
pub const MAX_HEADER_LEN: usize = 8 * 1024;

/// What to do when a parameter name occurs twice in one header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Duplicates {
    /// Synapse's reading: the later occurrence wins (it collects the parameters into a
    /// dictionary). Use it where agreement with Synapse matters more than strictness.
    LastWins,
    /// RFC 9110 §11.2: each parameter name occurs once per credentials, so a repeated
    /// one makes the header broken. The default.
    #[default]
    Refuse,
}

/// Why a header value is not an acceptable `X-Matrix` header, or an [`XMatrix`] cannot
/// be built or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XMatrixError {
    /// A parameter name occurs twice (under [`Duplicates::Refuse`]).
    #[error("parameter {name:?} occurs more than once")]
    DuplicateParameter {
        /// The parameter name, lower-cased.
        name: String,
    },
    /// The origin is not a server name, even in Synapse's lenient reading.
    #[error("origin {origin:?} is not a valid server name")]
    InvalidOrigin {
        /// The origin as read.
        origin: String,
    },
    /// One of `origin`, `key` and `sig` is missing.
    #[error("missing parameter {name}")]
    MissingParameter {
        /// The parameter's name.
        name: &'static str,
    },
    /// A parameter has no `=` (such as the empty one after a trailing comma).
    #[error("parameter {parameter:?} has no '='")]
    NoEquals {
        /// The parameter text.
        parameter: String,
    },
    /// The scheme is not followed by at least one space (a tab or nothing is there).
    #[error("no space after the X-Matrix scheme")]
    NoSpaceAfterScheme,
    /// The header value is not UTF-8.
    #[error("authorization header is not utf-8")]
    NotUtf8,
    /// The value does not begin with `X-Matrix` (another scheme, or `x-matrix`).
    #[error("not an X-Matrix authorization header")]
    NotXMatrix,
    /// The header value is longer than [`MAX_HEADER_LEN`].
    #[error("authorization header of {len} bytes exceeds the limit of {max} bytes")]
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A value cannot be written inside a quoted string that every receiver reads back
    /// unchanged (it holds `"`, `\`, `,`, a control character or non-ASCII text).
    #[error("{name} value {value:?} cannot be written in the header")]
    UnsafeValue {
        /// The parameter's name.
        name: &'static str,
        /// The value.
        value: String,
    },
}

/// One `X-Matrix` authorization header: who signed a request, for whom, with which key.
///
/// The origin is always a valid server name in Synapse's lenient sense (see
/// [`is_valid_origin`]); it is kept as text because that reading is wider than
/// [`crate::id::ServerName`] (ports such as `:99999` or `:+443` pass).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct XMatrix {
    origin: String,
    destination: Option<String>,
    key_id: String,
    signature: String,
}

impl XMatrix {
    /// A header for `origin`, optionally addressed to `destination`, carrying
    /// `signature` (unpadded base64) by the key `key_id`.
    ///
    /// # Errors
    ///
    /// [`XMatrixError::InvalidOrigin`] when `origin` is not a valid server name.
    pub fn new(
        origin: impl Into<String>,
        destination: Option<String>,
        key_id: impl Into<String>,
        signature: impl Into<String>,
    ) -> Result<Self, XMatrixError> {
        let origin = origin.into();
        if !is_valid_origin(&origin) {
            return Err(XMatrixError::InvalidOrigin { origin });
        }
        Ok(Self {
            origin,
            destination,
            key_id: key_id.into(),
            signature: signature.into(),
        })
    }

    /// Parses one `Authorization` header value as Synapse does (the spec's grammar,
    /// read leniently):
    ///
    /// * the value begins with `X-Matrix` in that case, then one or more spaces;
    /// * parameters are separated by commas, with optional spaces or tabs around them;
    ///   each is `name=value`, split at the first `=`, with nothing around it;
    /// * names are case-insensitive, unknown names are ignored, and a repeated name is
    ///   handled as `duplicates` says;
    /// * a value that begins with `"` is the text between its first and last
    ///   character, where a backslash and the character after it stand for that
    ///   character; any other value is taken as it is (so it may contain `:`);
    /// * `origin`, `key` and `sig` are required and `origin` must be a valid server
    ///   name ([`is_valid_origin`]).
    ///
    /// As in Synapse, commas separate parameters even inside quotes, so no value
    /// read here ever contains one.
    ///
    /// # Errors
    ///
    /// [`XMatrixError::TooLong`] before anything else, [`XMatrixError::NotXMatrix`]
    /// for other schemes, and the other variants for a broken header.
    pub fn parse(value: &[u8], duplicates: Duplicates) -> Result<Self, XMatrixError> {
        if value.len() > MAX_HEADER_LEN {
            return Err(XMatrixError::TooLong {
                len: value.len(),
                max: MAX_HEADER_LEN,
            });
        }
        let rest = value
            .strip_prefix(SCHEME.as_bytes())
            .ok_or(XMatrixError::NotXMatrix)?;
        let rest = std::str::from_utf8(rest).map_err(|_| XMatrixError::NotUtf8)?;
        let params = rest.trim_start_matches(' ');
        if params.len() == rest.len() {
            return Err(XMatrixError::NoSpaceAfterScheme);
        }
        let mut by_name = parameters(params, duplicates)?;
        let mut take = |name: &'static str| by_name.remove(name).map(unquote);
        let missing = |name| XMatrixError::MissingParameter { name };
        let origin = take("origin").ok_or_else(|| missing("origin"))?;
        if !is_valid_origin(&origin) {
            return Err(XMatrixError::InvalidOrigin { origin });
        }
        let key_id = take("key").ok_or_else(|| missing("key"))?;
        let signature = take("sig").ok_or_else(|| missing("sig"))?;
        let destination = take("destination");
        Ok(Self {
            origin,
            destination,
            key_id,
            signature,
        })
    }

    /// True when `value` is an `X-Matrix` header (begins with `X-Matrix`, in that case),
    /// whether or not it is well formed: the values a receiver must read.
    #[must_use]
    pub fn is_x_matrix(value: &[u8]) -> bool {
        value.starts_with(SCHEME.as_bytes())
    }

    /// The requesting server.
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The server the request is meant for, when the header names it.
    #[must_use]
    pub fn destination(&self) -> Option<&str> {
        self.destination.as_deref()
    }

    /// The ID of the signing key (`ed25519:...`).
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The signature, as written in the header (base64).
    #[must_use]
    pub fn signature(&self) -> &str {
        &self.signature
    }

    /// The header value as the spec recommends it be sent:
    /// `X-Matrix origin="…",key="…",sig="…",destination="…"` (one space, lower-case
    /// names, every value quoted, no escapes, no whitespace around commas).
    ///
    /// # Errors
    ///
    /// [`XMatrixError::UnsafeValue`] when a value holds a character that cannot be
    /// written so that every receiver reads it back: `"` or `\` (they would need
    /// escapes, which the spec asks senders not to use), `,` (Synapse splits on commas
    /// even inside quotes), control characters or non-ASCII text.
    pub fn to_header_value(&self) -> Result<String, XMatrixError> {
        let mut out = String::with_capacity(SCHEME.len() + 48 + self.signature.len());
        out.push_str(SCHEME);
        out.push(' ');
        push_param(&mut out, "origin", &self.origin)?;
        out.push(',');
        push_param(&mut out, "key", &self.key_id)?;
        out.push(',');
        push_param(&mut out, "sig", &self.signature)?;
        if let Some(destination) = &self.destination {
            out.push(',');
            push_param(&mut out, "destination", destination)?;
        }
        Ok(out)
    }
}

impl FromStr for XMatrix {
    type Err = XMatrixError;

    /// [`XMatrix::parse`] with duplicate parameters refused.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value.as_bytes(), Duplicates::Refuse)
    }
}

/// True when `name` is a valid server name in Synapse's lenient sense (its
/// `parse_and_validate_server_name`): a hostname of dot-separated, non-empty labels of
/// ASCII letters, digits and `-` (which covers IPv4 literals), or an IPv6 literal in
/// brackets; then, for a hostname or a bracketed literal, optionally `:` and a port that
/// only needs to read as a Python integer (`:0`, `:99999`, `:+443`, `:-1`, `:8_448`,
/// `: 443` all pass).
///
/// Python's `int` also reads non-ASCII decimal digits (`:٤٤٣`); those are refused here,
/// the one known difference.
#[must_use]
pub fn is_valid_origin(name: &str) -> bool {
    // Synapse takes a name that ends in `]` to be a bare IPv6 literal; otherwise the
    // text after the last `:` is the port.
    let host = if name.ends_with(']') {
        name
    } else {
        match name.rsplit_once(':') {
            Some((host, port)) if reads_as_python_int(port) => host,
            Some(_) => return false,
            None => name,
        }
    };
    match host.strip_prefix('[') {
        Some(literal) => literal
            .strip_suffix(']')
            .is_some_and(|address| address.parse::<Ipv6Addr>().is_ok()),
        None => host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
        }),
    }
}

/// The parameters of `params` by lower-cased name, split as Synapse splits them
/// (`[ \t]*,[ \t]*`, then at the first `=`).
fn parameters(
    params: &str,
    duplicates: Duplicates,
) -> Result<BTreeMap<String, &str>, XMatrixError> {
    let pieces: Vec<&str> = params.split(',').collect();
    let last = pieces.len().saturating_sub(1);
    let mut by_name = BTreeMap::new();
    for (index, piece) in pieces.into_iter().enumerate() {
        // Spaces and tabs around a comma belong to the separator: trim them only on
        // the sides of a piece that touch a comma.
        let piece = if index > 0 {
            piece.trim_start_matches(is_space_or_tab)
        } else {
            piece
        };
        let piece = if index < last {
            piece.trim_end_matches(is_space_or_tab)
        } else {
            piece
        };
        let (name, value) = piece
            .split_once('=')
            .ok_or_else(|| XMatrixError::NoEquals {
                parameter: piece.to_owned(),
            })?;
        // Synapse lower-cases names with Python's Unicode-aware `str.lower`.
        let name = name.to_lowercase();
        if by_name.insert(name.clone(), value).is_some() && duplicates == Duplicates::Refuse {
            return Err(XMatrixError::DuplicateParameter { name });
        }
    }
    Ok(by_name)
}

fn is_space_or_tab(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// A parameter value as Synapse reads it: a value beginning with `"` loses its first
/// and last characters (whatever the last is), and each backslash followed by any
/// character but a newline stands for that character (Python's `\\(.)`).
fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"') else {
        return value.to_owned();
    };
    let mut chars = inner.chars();
    chars.next_back();
    let mut out = String::with_capacity(inner.len());
    let mut chars = chars.peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some(&next)) if next != '\n' => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// True when Python's `int(text)` reads `text`: optional whitespace, an optional sign,
/// then ASCII digits in groups joined by single underscores, then optional whitespace.
fn reads_as_python_int(text: &str) -> bool {
    let text = text.trim_matches(is_python_space);
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    !digits.is_empty()
        && digits
            .split('_')
            .all(|group| !group.is_empty() && group.bytes().all(|byte| byte.is_ascii_digit()))
}

/// Python's `str.isspace`: Unicode white space plus the four ASCII separators
/// U+001C to U+001F.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Appends `name="value"`, or refuses a value that is not safe in a quoted string.
fn push_param(out: &mut String, name: &'static str, value: &str) -> Result<(), XMatrixError> {
    let safe = |byte: u8| (b' '..=b'~').contains(&byte) && !matches!(byte, b'"' | b'\\' | b',');
    if !value.bytes().all(safe) {
        return Err(XMatrixError::UnsafeValue {
            name,
            value: value.to_owned(),
        });
    }
    out.push_str(name);
    out.push_str("=\"");
    out.push_str(value);
    out.push('"');
    Ok(())
}

#[cfg(test)]
#[path = "xmatrix_tests.rs"]
mod tests;
