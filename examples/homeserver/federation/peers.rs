//! Talking to other servers: resolve a server name to an endpoint, sign the request
//! with X-Matrix, send it over the transport, and read the answer as JSON, with a
//! bound on every wait and on the size of every answer.

use std::time::Duration;

use matrix_serverlib::crypto::SigningKey;
use matrix_serverlib::federation::outbound::Method;
use matrix_serverlib::federation::request::{RequestToSign, sign_request};
use matrix_serverlib::id::ServerName;
use matrix_serverlib::json::{self, Object, ParseOptions, Value};

use matrix_serverlib::federation::net::{Cidr, IpPolicy};
use matrix_serverlib::federation::resolve::ConnectHost;

use super::resolver::Resolver;
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
    /// Server-name resolution failed.
    Unresolvable(String),
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
            Self::Unresolvable(why) => write!(f, "cannot resolve: {why}"),
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
    resolver: Resolver,
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
        let mut policy = IpPolicy::default();
        for range in &config.allow_ip {
            let cidr: Cidr = range
                .parse()
                .map_err(|e| format!("--federation-allow-ip {range}: {e}"))?;
            policy.allow.push(cidr);
        }
        Ok(Self {
            transport: Transport::new(tls, policy),
            resolver: Resolver::new(),
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
        self.request_limited(destination, method, uri, body, MAX_ANSWER)
            .await
    }

    /// As [`Self::request_raw`], reading at most `max_answer` bytes of the answer.
    ///
    /// # Errors
    ///
    /// A [`PeerError`] when there was no answer (or a longer one).
    pub(crate) async fn request_limited(
        &self,
        destination: &str,
        method: Method,
        uri: &str,
        body: Option<&Object>,
        max_answer: usize,
    ) -> Result<(u16, Vec<u8>), PeerError> {
        let name =
            ServerName::parse(destination).map_err(|_| PeerError::BadName(destination.into()))?;
        let resolved = self
            .resolver
            .resolve(&self.transport, &name)
            .await
            .map_err(PeerError::Unresolvable)?;
        let authorization = self.authorization(destination, method, uri, body)?;
        let request = Request {
            method: method.as_str(),
            uri: uri.to_owned(),
            authorization: vec![authorization],
            body: body.map(|body| json::to_vec(&Value::Object(body.clone()))),
        };
        // Candidates in the core's order; the next one only when a connection fails.
        let mut last = PeerError::Unresolvable(format!("{destination}: no candidate"));
        for candidate in &resolved.candidates {
            let host = match &candidate.host {
                ConnectHost::Ip(ip) => ip.to_string(),
                ConnectHost::Name(name) => name.clone(),
                _ => continue,
            };
            let endpoint = Endpoint {
                host,
                port: candidate.port,
                host_header: resolved.host_header.clone(),
                tls_name: resolved.tls_server_name.clone(),
            };
            match self
                .transport
                .send(&endpoint, request.clone(), max_answer, REQUEST_TIMEOUT)
                .await
            {
                Ok(answer) => return Ok((answer.status, answer.body)),
                Err(error @ (TransportError::NoAddress(_) | TransportError::Connect(_))) => {
                    last = PeerError::Transport(error);
                }
                Err(error) => return Err(PeerError::Transport(error)),
            }
        }
        Err(last)
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
