//! The requests the federation step machines ask the caller to send, and the replies
//! the caller hands back. A step machine never does I/O: it returns an
//! [`OutboundRequest`] (destination, method, request-target, body), the caller signs it
//! (see [`crate::federation::request`]), sends it with its own HTTP client and timeouts,
//! and gives the outcome back as a [`Reply`] under the same [`RequestId`].

use crate::id::ServerName;
use crate::json::Object;

/// Names one outbound request of a step machine, so that replies can come back in any
/// order. Unique within the step machine that issued it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u64);

impl RequestId {
    /// The request ID numbered `number`.
    #[must_use]
    pub fn new(number: u64) -> Self {
        Self(number)
    }

    /// Its number.
    #[must_use]
    pub fn number(self) -> u64 {
        self.0
    }
}

/// An HTTP method of the federation API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `DELETE`.
    Delete,
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
}

impl Method {
    /// The method as it is written on the wire and signed: `"GET"`, `"PUT"`, ...
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delete => "DELETE",
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
        }
    }

    /// True for the methods whose requests carry a JSON body (`PUT` and `POST`).
    #[must_use]
    pub fn has_body(self) -> bool {
        matches!(self, Self::Post | Self::Put)
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request for the caller to send to another server.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OutboundRequest {
    /// Names the request; the reply goes back under it.
    pub id: RequestId,
    /// The server to send it to (its name before delegation: resolve it with
    /// [`crate::federation::resolve`]).
    pub destination: ServerName,
    /// The method.
    pub method: Method,
    /// The request-target exactly as it must be sent and signed: path and query,
    /// percent-encoded (built by [`crate::federation::path`]).
    pub uri: String,
    /// The JSON body, for `PUT` and `POST`.
    pub body: Option<Object>,
}

impl OutboundRequest {
    /// A request with the given parts.
    #[must_use]
    pub fn new(
        id: RequestId,
        destination: ServerName,
        method: Method,
        uri: String,
        body: Option<Object>,
    ) -> Self {
        Self {
            id,
            destination,
            method,
            uri,
            body,
        }
    }
}

/// What became of an [`OutboundRequest`], as the caller hands it back.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply {
    /// The server answered: the HTTP status and the raw body (untrusted bytes; the step
    /// machine parses them with its own limits). Pass the body cut at a bound of the
    /// caller's choosing (a few MiB for most endpoints; `send_join` responses of large
    /// rooms are far larger).
    Response {
        /// The HTTP status code.
        status: u16,
        /// The response body.
        body: Vec<u8>,
    },
    /// No answer: the server name did not resolve, the connection failed or timed out,
    /// TLS failed, or the body exceeded the caller's bound.
    Failed,
}

impl Reply {
    /// A response with `status` and `body`.
    #[must_use]
    pub fn response(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self::Response {
            status,
            body: body.into(),
        }
    }
}
