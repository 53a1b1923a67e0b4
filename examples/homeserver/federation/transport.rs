//! Outbound HTTPS to another server: one request on a fresh connection to an endpoint
//! that server-name resolution chose, with every address checked against the IP policy
//! before it is dialled, and a bound on every wait and on the size of the answer.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use matrix_serverlib::federation::net::IpPolicy;

/// How long one TCP connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The `User-Agent` of outbound requests.
const USER_AGENT: &str = concat!("matrix-serverlib-homeserver/", env!("CARGO_PKG_VERSION"));

/// Where to connect for one server, as server-name resolution decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// A hostname to look up, or an IP address (without brackets).
    pub(crate) host: String,
    /// The port.
    pub(crate) port: u16,
    /// The `Host` header.
    pub(crate) host_header: String,
    /// The name the certificate must be valid for; `None` for a certificate of the IP
    /// address connected to (no SNI is sent then).
    pub(crate) tls_name: Option<String>,
}

/// One request to send.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// `GET`, `PUT`, ...
    pub(crate) method: &'static str,
    /// The request-target, exactly as signed.
    pub(crate) uri: String,
    /// The `Authorization` header values (one `X-Matrix` per signing key).
    pub(crate) authorization: Vec<String>,
    /// The JSON body.
    pub(crate) body: Option<Vec<u8>>,
}

/// An answer: the status, the headers a caller may need, and the body.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// The HTTP status.
    pub(crate) status: u16,
    /// `Cache-Control`, several joined with `,`.
    pub(crate) cache_control: Option<String>,
    /// `Expires`.
    pub(crate) expires: Option<String>,
    /// `Location` (for redirects).
    pub(crate) location: Option<String>,
    /// At most the requested number of bytes of body.
    pub(crate) body: Vec<u8>,
}

/// Why a request got no answer.
#[derive(Debug)]
pub(crate) enum TransportError {
    /// The name did not resolve, or resolved only to addresses the policy forbids.
    NoAddress(String),
    /// Every address refused or timed out.
    Connect(String),
    /// The TLS handshake failed.
    Tls(String),
    /// The HTTP exchange failed, or the answer exceeded the size limit.
    Http(String),
    /// The whole request took too long.
    Timeout,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoAddress(why) => write!(f, "no address to connect to: {why}"),
            Self::Connect(why) => write!(f, "cannot connect: {why}"),
            Self::Tls(why) => write!(f, "TLS failed: {why}"),
            Self::Http(why) => write!(f, "HTTP failed: {why}"),
            Self::Timeout => f.write_str("timed out"),
        }
    }
}

/// Sends requests to other servers.
#[derive(Clone)]
pub(crate) struct Transport {
    tls: TlsConnector,
    policy: Arc<IpPolicy>,
}

impl Transport {
    /// A transport with `tls` that connects only where `policy` allows.
    pub(crate) fn new(tls: ClientConfig, policy: IpPolicy) -> Self {
        Self {
            tls: TlsConnector::from(Arc::new(tls)),
            policy: Arc::new(policy),
        }
    }

    /// Sends `request` to `endpoint` and returns the status and at most `limit` bytes
    /// of body, all within `timeout`.
    pub(crate) async fn send(
        &self,
        endpoint: &Endpoint,
        request: Request,
        limit: usize,
        timeout: Duration,
    ) -> Result<Answer, TransportError> {
        tokio::time::timeout(timeout, self.exchange(endpoint, request, limit))
            .await
            .map_err(|_| TransportError::Timeout)?
    }

    async fn exchange(
        &self,
        endpoint: &Endpoint,
        request: Request,
        limit: usize,
    ) -> Result<Answer, TransportError> {
        let (tcp, address) = self.connect(endpoint).await?;
        let name = match &endpoint.tls_name {
            Some(name) => ServerName::try_from(name.clone())
                .map_err(|e| TransportError::Tls(format!("{name}: {e}")))?,
            None => ServerName::IpAddress(address.ip().into()),
        };
        let tls = self
            .tls
            .connect(name, tcp)
            .await
            .map_err(|e| TransportError::Tls(e.to_string()))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| TransportError::Http(e.to_string()))?;
        // The connection is driven beside the request and ends with it.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut builder = hyper::Request::builder()
            .method(request.method)
            .uri(request.uri.as_str())
            .header("Host", endpoint.host_header.as_str())
            .header("User-Agent", USER_AGENT);
        for value in &request.authorization {
            builder = builder.header("Authorization", value.as_str());
        }
        if request.body.is_some() {
            builder = builder.header("Content-Type", "application/json");
        }
        let body = Full::new(Bytes::from(request.body.unwrap_or_default()));
        let http_request = builder
            .body(body)
            .map_err(|e| TransportError::Http(e.to_string()))?;
        let response = sender
            .send_request(http_request)
            .await
            .map_err(|e| TransportError::Http(e.to_string()))?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            let values: Vec<&str> = response
                .headers()
                .get_all(name)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .collect();
            (!values.is_empty()).then(|| values.join(","))
        };
        let (cache_control, expires, location) = (
            header("cache-control"),
            header("expires"),
            header("location"),
        );
        let collected = Limited::new(response.into_body(), limit)
            .collect()
            .await
            .map_err(|e| TransportError::Http(e.to_string()))?;
        Ok(Answer {
            status,
            cache_control,
            expires,
            location,
            body: collected.to_bytes().to_vec(),
        })
    }

    /// The first address of `endpoint` the policy allows that accepts a connection.
    async fn connect(
        &self,
        endpoint: &Endpoint,
    ) -> Result<(TcpStream, std::net::SocketAddr), TransportError> {
        let addresses: Vec<std::net::SocketAddr> = match endpoint.host.parse::<IpAddr>() {
            Ok(ip) => vec![(ip, endpoint.port).into()],
            Err(_) => tokio::net::lookup_host((endpoint.host.as_str(), endpoint.port))
                .await
                .map_err(|e| TransportError::NoAddress(format!("{}: {e}", endpoint.host)))?
                .collect(),
        };
        let allowed: Vec<_> = addresses
            .into_iter()
            .filter(|address| self.policy.allows(address.ip()))
            .collect();
        if allowed.is_empty() {
            return Err(TransportError::NoAddress(format!(
                "{} has no address the IP policy allows",
                endpoint.host
            )));
        }
        let mut last_error = String::new();
        for address in allowed {
            match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await {
                Ok(Ok(tcp)) => return Ok((tcp, address)),
                Ok(Err(error)) => last_error = format!("{address}: {error}"),
                Err(_) => last_error = format!("{address}: timed out"),
            }
        }
        Err(TransportError::Connect(last_error))
    }
}
