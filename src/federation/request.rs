//! Signing outgoing federation requests and authenticating incoming ones
//! (<https://spec.matrix.org/v1.16/server-server-api/#request-authentication>).
//!
//! A request is authenticated by a signature over the JSON object
//! `{method, uri, origin, destination, content?}`, carried in one `X-Matrix`
//! `Authorization` header per signing key. `uri` is the request-target exactly as it is
//! sent (path and query, percent-encoded), and `content` the JSON body, present only
//! when there is one. Sending: [`sign_request`] (or
//! [`OutboundRequest::authorization`]). Receiving, in two steps so that the caller can
//! fetch keys in between: [`begin_authentication`] reads the headers and the body and
//! says which keys it needs ([`PendingAuth::key_need`]); [`PendingAuth::finish`] checks
//! the signatures with the keys supplied.
//!
//! ```
//! use matrix_serverlib::crypto::{PublicKeys, SigningKey};
//! use matrix_serverlib::federation::request::{
//!     IncomingRequest, RequestToSign, begin_authentication, sign_request,
//! };
//!
//! // a.example signs a request to b.example ...
//! let key = SigningKey::from_seed("ed25519:1", [7; 32]);
//! let uri = "/_matrix/federation/v1/version";
//! let signed = sign_request(&RequestToSign::new("GET", uri, "a.example", "b.example", None), &key)?;
//!
//! // ... and b.example authenticates it.
//! let headers = [signed.authorization.as_bytes()];
//! let incoming = IncomingRequest::new("GET", uri, b"", &headers);
//! let pending = begin_authentication(&incoming, &["b.example"])?;
//! let need = pending.key_need(1_700_000_000_000)?;
//! assert_eq!(need.server.as_str(), "a.example");
//! let mut keys = PublicKeys::new();
//! keys.insert("a.example", "ed25519:1", key.public_key());
//! let authenticated = pending.finish(&keys)?;
//! assert_eq!(authenticated.origin, "a.example");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeSet;

use super::error::{ErrorCode, MatrixError};
use super::keyring::KeyNeed;
use super::outbound::OutboundRequest;
use super::xmatrix::{Duplicates, XMatrix, XMatrixError};
use crate::crypto::{self, PublicKeys, SignatureError, SigningKey};
use crate::id::ServerName;
use crate::json::{self, CanonicalJsonError, Object, ParseOptions, Value};

/// The largest request body read (16 MiB, [`json::DEFAULT_MAX_LEN`]): far above a
/// full transaction of 50 PDUs and 100 EDUs.
pub const MAX_BODY_LEN: usize = json::DEFAULT_MAX_LEN;

/// Why an outgoing request cannot be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// A body on a method that sends none, or no body on `PUT` or `POST`: the receiver
    /// would read (and verify) something else than what was signed.
    #[error("a {method} request {}", if *has_body { "carries no body" } else { "cannot carry a body" })]
    BodyMismatch {
        /// The method.
        method: &'static str,
        /// Whether the method needs a body.
        has_body: bool,
    },
    /// The destination is empty.
    #[error("the destination is empty")]
    EmptyDestination,
    /// The header cannot be written: the origin is not a server name, or a value holds
    /// a character a quoted string cannot carry.
    #[error("cannot write the authorization header: {0}")]
    Header(#[from] XMatrixError),
    /// The method is empty or not ASCII.
    #[error("method {method:?} is not an ascii token")]
    InvalidMethod {
        /// The method.
        method: String,
    },
    /// The request-target is not what will be sent on the wire: it does not begin with
    /// `/`, is not ASCII, or carries a `#` fragment (never sent).
    #[error("uri {uri:?} is not an ascii path and query")]
    InvalidUri {
        /// The request-target.
        uri: String,
    },
    /// The destination is not ASCII.
    #[error("destination {destination:?} is not ascii")]
    NonAsciiDestination {
        /// The destination.
        destination: String,
    },
    /// Signing failed.
    #[error("cannot sign: {0}")]
    Signature(#[from] SignatureError),
}

/// What an outgoing request signs: the parts as they will be sent.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RequestToSign<'a> {
    /// The method (`GET`, `PUT`, ...).
    pub method: &'a str,
    /// The request-target exactly as sent: path and query, percent-encoded (build it
    /// with [`crate::federation::path`]).
    pub uri: &'a str,
    /// Our server name.
    pub origin: &'a str,
    /// The receiving server's name, before delegation and with its port, if any.
    pub destination: &'a str,
    /// The JSON body, when there is one.
    pub content: Option<&'a Object>,
}

impl<'a> RequestToSign<'a> {
    /// A request with the given parts.
    #[must_use]
    pub fn new(
        method: &'a str,
        uri: &'a str,
        origin: &'a str,
        destination: &'a str,
        content: Option<&'a Object>,
    ) -> Self {
        Self {
            method,
            uri,
            origin,
            destination,
            content,
        }
    }
}

/// A signed request: the signed object and its `Authorization` header.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SignedRequest {
    /// `{method, uri, origin, destination, content?, signatures}`.
    pub signed: Object,
    /// The header's parts.
    pub x_matrix: XMatrix,
    /// The `Authorization` header value to send.
    pub authorization: String,
}

/// Signs `request` with `key` as `request.origin`.
///
/// # Errors
///
/// [`RequestError`] when the method, URI, origin or destination cannot be sent as
/// given (see the variants), or the header cannot be written.
pub fn sign_request(
    request: &RequestToSign<'_>,
    key: &SigningKey,
) -> Result<SignedRequest, RequestError> {
    check_to_sign(request)?;
    let mut signed = request_object(
        request.method,
        request.uri,
        request.origin,
        request.destination,
        request.content.cloned(),
    );
    crypto::sign_json(&mut signed, request.origin, key)?;
    let signature = signed
        .get("signatures")
        .and_then(|signatures| signatures.get(request.origin))
        .and_then(|by_origin| by_origin.get(key.key_id()))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let x_matrix = XMatrix::new(
        request.origin,
        Some(request.destination.to_owned()),
        key.key_id(),
        signature,
    )?;
    let authorization = x_matrix.to_header_value()?;
    Ok(SignedRequest {
        signed,
        x_matrix,
        authorization,
    })
}

impl OutboundRequest {
    /// The `Authorization` header value for this request, signed by `key` as
    /// `origin`: [`sign_request`] over its method, URI, destination and body.
    ///
    /// # Errors
    ///
    /// [`RequestError::BodyMismatch`] when the request has a body and its method sends
    /// none, or is a `PUT` or `POST` without one; otherwise as [`sign_request`].
    pub fn authorization(&self, origin: &str, key: &SigningKey) -> Result<String, RequestError> {
        let has_body = self.method.has_body();
        if self.body.is_some() != has_body {
            return Err(RequestError::BodyMismatch {
                method: self.method.as_str(),
                has_body,
            });
        }
        let request = RequestToSign::new(
            self.method.as_str(),
            &self.uri,
            origin,
            self.destination.as_str(),
            self.body.as_ref(),
        );
        Ok(sign_request(&request, key)?.authorization)
    }
}

fn check_to_sign(request: &RequestToSign<'_>) -> Result<(), RequestError> {
    if request.method.is_empty() || !request.method.is_ascii() {
        return Err(RequestError::InvalidMethod {
            method: request.method.to_owned(),
        });
    }
    let uri = request.uri;
    if !uri.starts_with('/') || !uri.is_ascii() || uri.contains('#') {
        return Err(RequestError::InvalidUri {
            uri: uri.to_owned(),
        });
    }
    if request.destination.is_empty() {
        return Err(RequestError::EmptyDestination);
    }
    if !request.destination.is_ascii() {
        return Err(RequestError::NonAsciiDestination {
            destination: request.destination.to_owned(),
        });
    }
    Ok(())
}

/// The object a request signature covers.
fn request_object(
    method: &str,
    uri: &str,
    origin: &str,
    destination: &str,
    content: Option<Object>,
) -> Object {
    let mut object = Object::new();
    object.insert("method", Value::from(method));
    object.insert("uri", Value::from(uri));
    object.insert("origin", Value::from(origin));
    object.insert("destination", Value::from(destination));
    if let Some(content) = content {
        object.insert("content", Value::Object(content));
    }
    object
}

/// Why an incoming request is not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthenticationError {
    /// A `PUT` or `POST` body is missing or is not JSON.
    #[error("the body is not json: {reason}")]
    BodyNotJson {
        /// What the parser objected to.
        reason: String,
    },
    /// A `PUT` or `POST` body is JSON but not an object.
    #[error("the body is not a json object")]
    BodyNotObject,
    /// A `PUT` or `POST` body is longer than [`MAX_BODY_LEN`].
    #[error("the body of {len} bytes exceeds the limit of {max} bytes")]
    BodyTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Two headers name different destinations, both ours.
    #[error("the headers name different destinations: {first:?} and {second:?}")]
    ConflictingDestinations {
        /// One destination named.
        first: String,
        /// Another.
        second: String,
    },
    /// A header names a destination that is not one of our names.
    #[error("destination mismatch: {destination:?} is not this server")]
    DestinationMismatch {
        /// The destination the header names.
        destination: String,
    },
    /// An `X-Matrix` header is broken.
    #[error("malformed authorization header: {0}")]
    Malformed(#[from] XMatrixError),
    /// No `X-Matrix` header at all.
    #[error("missing authorization headers")]
    MissingAuthorization,
    /// Caller misuse: no server name of ours was given.
    #[error("no server name of this server was given")]
    NoServerName,
    /// The method or the request-target is not ASCII, so it cannot have been signed.
    #[error("the {what} is not ascii")]
    NotAscii {
        /// `"method"` or `"uri"`.
        what: &'static str,
    },
    /// The origin's headers carry no `ed25519:` key ID.
    #[error("not signed by {origin} with a supported algorithm")]
    NotSigned {
        /// The origin.
        origin: String,
    },
    /// The signatures do not verify with the keys supplied (none under a supplied key,
    /// or one that is wrong).
    #[error("signature check failed: {0}")]
    Signature(#[from] SignatureError),
    /// The origin passes Synapse's lenient check but is not a server name whose keys
    /// can be fetched (such as a port over 65535).
    #[error("keys of {origin:?} cannot be fetched: not a server name")]
    UnfetchableOrigin {
        /// The origin.
        origin: String,
    },
}

impl MatrixError for AuthenticationError {
    fn errcode(&self) -> ErrorCode {
        match self {
            Self::BodyNotJson { .. } => ErrorCode::NotJson,
            Self::BodyNotObject => ErrorCode::BadJson,
            Self::BodyTooLarge { .. } => ErrorCode::TooLarge,
            Self::NoServerName => ErrorCode::Unknown,
            _ => ErrorCode::Unauthorized,
        }
    }

    fn status(&self) -> u16 {
        match self {
            // Synapse answers a header it cannot parse with 400 (and M_UNAUTHORIZED).
            Self::Malformed(_) => 400,
            _ => self.errcode().default_status(),
        }
    }
}

/// An incoming request, as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct IncomingRequest<'a> {
    /// The method, as received.
    pub method: &'a str,
    /// The raw request-target as received: path and query, not decoded or normalized
    /// (with axum, `OriginalUri`'s path and query, not a nested router's `Uri`).
    pub raw_uri: &'a str,
    /// The raw body; empty when there is none. Read only for `PUT` and `POST`.
    pub body: &'a [u8],
    /// Every `Authorization` header value, in the order received, as bytes (values of
    /// other schemes are ignored; an `X-Matrix` one that is not UTF-8 is broken).
    pub authorization: &'a [&'a [u8]],
}

impl<'a> IncomingRequest<'a> {
    /// A request with the given parts.
    #[must_use]
    pub fn new(
        method: &'a str,
        raw_uri: &'a str,
        body: &'a [u8],
        authorization: &'a [&'a [u8]],
    ) -> Self {
        Self {
            method,
            raw_uri,
            body,
            authorization,
        }
    }
}

/// A request whose headers and body have been read, waiting for the origin's keys.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingAuth {
    origin: String,
    key_ids: BTreeSet<String>,
    /// The object the signatures cover, with every header's signature in it.
    object: Object,
}

/// An authenticated request: who sent it and its body (`PUT` and `POST` only).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Authenticated {
    /// The requesting server (valid in Synapse's lenient sense,
    /// [`crate::federation::xmatrix::is_valid_origin`]).
    pub origin: String,
    /// The parsed body of a `PUT` or `POST`; `None` for other methods.
    pub content: Option<Object>,
}

/// Step 1 of authenticating `request` for a server called `our_server_names` (the
/// first is used as the destination when no header names one): reads the body and the
/// headers, with duplicate header parameters refused.
///
/// # Errors
///
/// See [`begin_authentication_with`].
pub fn begin_authentication(
    request: &IncomingRequest<'_>,
    our_server_names: &[&str],
) -> Result<PendingAuth, AuthenticationError> {
    begin_authentication_with(request, our_server_names, Duplicates::Refuse)
}

/// Step 1 of authenticating `request`, reading repeated header parameters as
/// `duplicates` says ([`Duplicates::LastWins`] is Synapse's reading).
///
/// In Synapse's order: the body of a `PUT` or `POST` must be a JSON object (other
/// methods' bodies are ignored); every `X-Matrix` header must parse and any
/// `destination` it names must be one of `our_server_names` exactly; at least one such
/// header is needed. Every header adds its signature under its own origin, and the
/// origin of the **last** one is the request's origin (as in Synapse). The object to
/// verify carries the destination the headers name, else the first of our names.
/// (Synapse verifies against its one name; for a server with several, headers that
/// name two different ones of ours are refused.)
///
/// # Errors
///
/// [`AuthenticationError::BodyNotJson`], [`AuthenticationError::BodyNotObject`] or
/// [`AuthenticationError::BodyTooLarge`] for the body;
/// [`AuthenticationError::NotAscii`] for the method or URI;
/// [`AuthenticationError::MissingAuthorization`],
/// [`AuthenticationError::Malformed`],
/// [`AuthenticationError::DestinationMismatch`],
/// [`AuthenticationError::ConflictingDestinations`] or
/// [`AuthenticationError::NotSigned`] for the headers;
/// [`AuthenticationError::NoServerName`] when `our_server_names` is empty.
pub fn begin_authentication_with(
    request: &IncomingRequest<'_>,
    our_server_names: &[&str],
    duplicates: Duplicates,
) -> Result<PendingAuth, AuthenticationError> {
    let first_name = our_server_names
        .first()
        .ok_or(AuthenticationError::NoServerName)?;
    // Synapse compares the method bytes with `PUT` and `POST` exactly.
    let content = match request.method {
        "PUT" | "POST" => Some(parse_body(request.body)?),
        _ => None,
    };
    for (what, text) in [("method", request.method), ("uri", request.raw_uri)] {
        if !text.is_ascii() {
            return Err(AuthenticationError::NotAscii { what });
        }
    }
    let headers = read_headers(request.authorization, our_server_names, duplicates)?;
    let destination = headers.destination.unwrap_or(first_name);
    let mut object = request_object(
        request.method,
        request.raw_uri,
        &headers.origin,
        destination,
        content,
    );
    object.insert("signatures", Value::Object(headers.signatures));
    let key_ids: BTreeSet<String> = object
        .get("signatures")
        .and_then(|signatures| signatures.get(&headers.origin))
        .and_then(Value::as_object)
        .map(|by_key| {
            by_key
                .keys()
                .filter(|key_id| key_id.starts_with("ed25519:"))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if key_ids.is_empty() {
        return Err(AuthenticationError::NotSigned {
            origin: headers.origin,
        });
    }
    Ok(PendingAuth {
        origin: headers.origin,
        key_ids,
        object,
    })
}

impl PendingAuth {
    /// The origin the request claims (that of its last `X-Matrix` header).
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The `ed25519:` key IDs the origin signed with.
    #[must_use]
    pub fn key_ids(&self) -> &BTreeSet<String> {
        &self.key_ids
    }

    /// The keys needed: the origin's key IDs, valid at least until `now_ms` (keys that
    /// expired before the request arrived do not authenticate it).
    ///
    /// # Errors
    ///
    /// [`AuthenticationError::UnfetchableOrigin`] when the origin is not a
    /// [`ServerName`] (Synapse's check lets ports such as `:99999` through): its keys
    /// cannot be fetched, so only keys the caller already holds under that exact name
    /// can authenticate the request.
    pub fn key_need(&self, now_ms: i64) -> Result<KeyNeed, AuthenticationError> {
        let server = ServerName::parse(&self.origin).map_err(|_| {
            AuthenticationError::UnfetchableOrigin {
                origin: self.origin.clone(),
            }
        })?;
        Ok(KeyNeed::new(server, self.key_ids.clone(), now_ms))
    }

    /// Step 2: checks the origin's signatures with `keys` (those of its keys that are
    /// valid now). At least one signature must be under a key ID that `keys` holds for
    /// the origin, and every such signature must be correct; signatures under other key
    /// IDs are ignored. Signatures are read as standard or URL-safe base64, padded or
    /// not.
    ///
    /// # Errors
    ///
    /// [`AuthenticationError::Signature`] when no signature is under a supplied key or
    /// one does not verify.
    pub fn finish(mut self, keys: &PublicKeys) -> Result<Authenticated, AuthenticationError> {
        crypto::verify_json(&self.object, &self.origin, keys)?;
        let content = match self.object.remove("content") {
            Some(Value::Object(content)) => Some(content),
            _ => None,
        };
        Ok(Authenticated {
            origin: self.origin,
            content,
        })
    }
}

/// What the headers of a request say.
struct Headers<'n> {
    origin: String,
    /// The destination the headers name (one of ours), if any.
    destination: Option<&'n str>,
    /// `origin → key ID → signature` over every header.
    signatures: Object,
}

fn read_headers<'n>(
    values: &[&[u8]],
    our_server_names: &[&'n str],
    duplicates: Duplicates,
) -> Result<Headers<'n>, AuthenticationError> {
    let mut origin = None;
    let mut destination: Option<&'n str> = None;
    let mut signatures = Object::new();
    for value in values.iter().filter(|value| XMatrix::is_x_matrix(value)) {
        let header = XMatrix::parse(value, duplicates)?;
        if let Some(named) = header.destination() {
            let ours = our_server_names
                .iter()
                .find(|name| **name == named)
                .ok_or_else(|| AuthenticationError::DestinationMismatch {
                    destination: named.to_owned(),
                })?;
            match destination {
                Some(earlier) if earlier != *ours => {
                    return Err(AuthenticationError::ConflictingDestinations {
                        first: earlier.to_owned(),
                        second: (*ours).to_owned(),
                    });
                }
                _ => destination = Some(ours),
            }
        }
        add_signature(&mut signatures, &header);
        origin = Some(header.origin().to_owned());
    }
    let origin = origin.ok_or(AuthenticationError::MissingAuthorization)?;
    Ok(Headers {
        origin,
        destination,
        signatures,
    })
}

/// `signatures[origin][key] = sig`, a later header replacing an earlier one's.
fn add_signature(signatures: &mut Object, header: &XMatrix) {
    let mut by_key = match signatures.remove(header.origin()) {
        Some(Value::Object(by_key)) => by_key,
        _ => Object::new(),
    };
    by_key.insert(header.key_id(), Value::from(header.signature()));
    signatures.insert(header.origin(), Value::Object(by_key));
}

/// The body of a `PUT` or `POST`, which must be a JSON object. Parsed leniently, as
/// Synapse's JSON reader takes floats and large integers.
fn parse_body(body: &[u8]) -> Result<Object, AuthenticationError> {
    let options = ParseOptions::lenient().with_max_len(MAX_BODY_LEN);
    match json::parse(body, &options) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(AuthenticationError::BodyNotObject),
        Err(CanonicalJsonError::TooLarge { len, max_len }) => {
            Err(AuthenticationError::BodyTooLarge { len, max: max_len })
        }
        Err(error) => Err(AuthenticationError::BodyNotJson {
            reason: error.to_string(),
        }),
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
