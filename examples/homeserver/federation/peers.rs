//! Talking to other servers: resolve a server name to an endpoint, sign the request
//! with X-Matrix, send it over the transport, and read the answer as JSON, with a
//! bound on every wait and on the size of every answer.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use matrix_serverlib::crypto::SigningKey;
use matrix_serverlib::federation::outbound::Method;
use matrix_serverlib::federation::request::{RequestToSign, sign_request};
use matrix_serverlib::id::ServerName;
use matrix_serverlib::json::{self, Object, ParseOptions, Value};

use super::transport::{Endpoint, Request, Transport, TransportError};
use crate::config::FederationConfig;

/// The longest answer read from another server for an ordinary request.
pub(crate) const MAX_ANSWER: usize = 4 * 1024 * 1024;
/// How long an ordinary request may take, connection included.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a request to another server failed.
#[derive(Debug)]
pub(crate) enum PeerError {
    /// The destination is not a server name.
    BadName(String),
    /// No answer.
    Transport(TransportError),
    /// An answer that is not a JSON object.
    NotJson(u16),
    /// The request could not be signed.
    Signing(String),
}

impl std::fmt::Display for PeerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadName(name) => write!(f, "{name} is not a server name"),
            Self::Transport(error) => error.fmt(f),
            Self::NotJson(status) => write!(f, "answer ({status}) is not a JSON object"),
            Self::Signing(why) => write!(f, "cannot sign the request: {why}"),
        }
    }
}

/// What we need to talk to other servers.
#[derive(Clone)]
pub(crate) struct Peers {
    transport: Transport,
    origin: String,
    key: SigningKey,
}

impl Peers {
    /// The client for `origin`, signing with `key`, with the TLS and IP policy of
    /// `config`.
    ///
    /// # Errors
    ///
    /// When the extra CA file cannot be read or an allowed range does not parse.
    pub(crate) fn new(
        config: &FederationConfig,
        origin: &str,
        key: SigningKey,
    ) -> Result<Self, String> {
        let tls = super::tls::client_config(config.ca.as_deref(), config.insecure)
            .map_err(|e| e.to_string())?;
        let allow_ip = ip_policy(&config.allow_ip)?;
        Ok(Self {
            transport: Transport::new(tls, allow_ip),
            origin: origin.to_owned(),
            key,
        })
    }

    /// Sends a signed request to `destination` and returns the status and the JSON
    /// object it answered.
    ///
    /// # Errors
    ///
    /// A [`PeerError`] when there was no answer or it was not a JSON object.
    pub(crate) async fn request(
        &self,
        destination: &str,
        method: Method,
        uri: &str,
        body: Option<&Object>,
    ) -> Result<(u16, Object), PeerError> {
        let (status, bytes) = self.request_raw(destination, method, uri, body).await?;
        match json::parse(&bytes, &ParseOptions::lenient()) {
            Ok(Value::Object(object)) => Ok((status, object)),
            _ => Err(PeerError::NotJson(status)),
        }
    }

    /// Sends a signed request to `destination` and returns the status and raw body.
    ///
    /// # Errors
    ///
    /// A [`PeerError`] when there was no answer.
    pub(crate) async fn request_raw(
        &self,
        destination: &str,
        method: Method,
        uri: &str,
        body: Option<&Object>,
    ) -> Result<(u16, Vec<u8>), PeerError> {
        let name =
            ServerName::parse(destination).map_err(|_| PeerError::BadName(destination.into()))?;
        let endpoint = endpoint(&name);
        let authorization = self.authorization(destination, method, uri, body)?;
        let request = Request {
            method: method.as_str(),
            uri: uri.to_owned(),
            authorization: vec![authorization],
            body: body.map(|body| json::to_vec(&Value::Object(body.clone()))),
        };
        self.transport
            .send(&endpoint, request, MAX_ANSWER, REQUEST_TIMEOUT)
            .await
            .map_err(PeerError::Transport)
    }

    /// The `X-Matrix` header for the request, signed by the core.
    fn authorization(
        &self,
        destination: &str,
        method: Method,
        uri: &str,
        body: Option<&Object>,
    ) -> Result<String, PeerError> {
        let request = RequestToSign::new(method.as_str(), uri, &self.origin, destination, body);
        sign_request(&request, &self.key)
            .map(|signed| signed.authorization)
            .map_err(|e| PeerError::Signing(e.to_string()))
    }
}

/// Where to connect for `name`: its IP or hostname at its port, or 8448.
fn endpoint(name: &ServerName) -> Endpoint {
    let host = name.host().trim_start_matches('[').trim_end_matches(']');
    Endpoint {
        host: host.to_owned(),
        port: name.port().unwrap_or(8448),
        host_header: name.as_str().to_owned(),
        tls_name: host.to_owned(),
    }
}

/// The IP policy: loopback, private and link-local ranges refused unless allowed.
fn ip_policy(allow: &[String]) -> Result<Arc<dyn Fn(IpAddr) -> bool + Send + Sync>, String> {
    let mut allowed = Vec::new();
    for cidr in allow {
        let (address, bits) = cidr
            .split_once('/')
            .ok_or_else(|| format!("--federation-allow-ip {cidr}: not a CIDR range"))?;
        let address: IpAddr = address
            .parse()
            .map_err(|e| format!("--federation-allow-ip {cidr}: {e}"))?;
        let bits: u8 = bits
            .parse()
            .map_err(|e| format!("--federation-allow-ip {cidr}: {e}"))?;
        allowed.push((address, bits));
    }
    Ok(Arc::new(move |ip: IpAddr| {
        allowed.iter().any(|&(net, bits)| in_range(ip, net, bits)) || !denied(ip)
    }))
}

fn denied(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
        }
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xfe00) == 0xfc00
        }
    }
}

fn in_range(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(bits.min(32)))
                .unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(bits.min(128)))
                .unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}
