//! Requests to an application service over plain HTTP/1.1 (a bridge listens on
//! loopback or a private network; `https` URLs are refused with a clear error): one
//! fresh connection per request, driven by hand as federation's transport does, with
//! a bound on the connection, on the whole exchange and on the size of the answer.

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use matrix_serverlib::appservice::AsRequest;

/// How long the TCP connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer read.
const MAX_ANSWER: usize = 64 * 1024;

/// A service's answer: status and body.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// The HTTP status.
    pub(crate) status: u16,
    /// The body (at most 64 KiB).
    pub(crate) body: Vec<u8>,
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OutboundError {
    /// The connection failed.
    Connect(String),
    /// The exchange failed.
    Http(String),
    /// The registration has `url: null`: nothing is sent.
    NoUrl,
    /// The whole request took longer than its bound.
    Timeout,
}

impl std::fmt::Display for OutboundError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connect(why) => write!(f, "cannot connect: {why}"),
            Self::Http(why) => write!(f, "HTTP failed: {why}"),
            Self::NoUrl => f.write_str("the registration has no url"),
            Self::Timeout => f.write_str("timed out"),
        }
    }
}

/// Sends `request` (with `body`, the bytes to send, when given instead of the
/// request's own) and waits at most `timeout` for the whole answer.
pub(crate) async fn send(
    request: &AsRequest,
    body: Option<Vec<u8>>,
    timeout: Duration,
) -> Result<Answer, OutboundError> {
    let url = request.url.as_deref().ok_or(OutboundError::NoUrl)?;
    let body = body.or_else(|| request.body_bytes());
    tokio::time::timeout(timeout, exchange(url, request, body))
        .await
        .map_err(|_| OutboundError::Timeout)?
}

async fn exchange(
    url: &str,
    request: &AsRequest,
    body: Option<Vec<u8>>,
) -> Result<Answer, OutboundError> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| OutboundError::Http(format!("url {url:?}: {e}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(OutboundError::Connect(format!(
            "only http:// application-service URLs are supported, not {url:?}"
        )));
    }
    let authority = uri
        .authority()
        .ok_or_else(|| OutboundError::Http(format!("url {url:?} has no host")))?;
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = authority.port_u16().unwrap_or(80);
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port)))
        .await
        .map_err(|_| OutboundError::Connect(format!("{authority}: timed out")))?
        .map_err(|e| OutboundError::Connect(format!("{authority}: {e}")))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| OutboundError::Http(e.to_string()))?;
    // The connection is driven beside the request and ends with it.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let target = uri
        .path_and_query()
        .map_or("/", hyper::http::uri::PathAndQuery::as_str);
    let mut builder = hyper::Request::builder()
        .method(request.method.as_str())
        .uri(target)
        .header("Host", authority.as_str())
        .header("Authorization", request.authorization.as_str());
    if body.is_some() {
        builder = builder.header("Content-Type", "application/json");
    }
    let http_request = builder
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| OutboundError::Http(e.to_string()))?;
    let response = sender
        .send_request(http_request)
        .await
        .map_err(|e| OutboundError::Http(e.to_string()))?;
    let status = response.status().as_u16();
    let collected = Limited::new(response.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| OutboundError::Http(e.to_string()))?;
    Ok(Answer {
        status,
        body: collected.to_bytes().to_vec(),
    })
}
