//! Server-name resolution for outbound requests: the core's step machine
//! (`federation::resolve`) decides every step; this module only fetches the
//! well-known document over HTTPS, looks up SRV records with hickory, and caches each
//! answer until the core says it expires.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use matrix_serverlib::federation::resolve::{
    ResolveStep, Resolved, ServerResolver, SrvAnswer, SrvRecord, WellKnownFetch, WellKnownResponse,
};
use matrix_serverlib::id::ServerName;

use super::transport::{Endpoint, Request, Transport};

/// How long the well-known request may take (Synapse allows about as long).
const WELL_KNOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// Resolution answers kept at most; the oldest is dropped beyond that.
const MAX_CACHED: usize = 10_000;

/// Resolves server names and remembers the answers.
#[derive(Clone)]
pub(crate) struct Resolver {
    dns: Option<Arc<TokioResolver>>,
    cache: Arc<Mutex<HashMap<ServerName, Resolved>>>,
}

impl Resolver {
    /// A resolver using the system's DNS configuration for SRV lookups (none when it
    /// cannot be read: SRV lookups then count as failed).
    pub(crate) fn new() -> Self {
        let dns = TokioResolver::builder_tokio()
            .and_then(|builder| builder.build())
            .map(Arc::new)
            .map_err(|error| tracing::warn!("no DNS resolver for SRV lookups: {error}"))
            .ok();
        Self {
            dns,
            cache: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Where to connect for `server`, in order.
    ///
    /// # Errors
    ///
    /// The core's reason when the server cannot be reached.
    pub(crate) async fn resolve(
        &self,
        transport: &Transport,
        server: &ServerName,
    ) -> Result<Resolved, String> {
        let now = crate::now_ms();
        if let Some(cached) = self.lock().get(server)
            && cached.cache_until_ms > now
        {
            return Ok(cached.clone());
        }
        let mut machine = ServerResolver::new(server, now).with_srv_seed(now.unsigned_abs());
        // Each step either finishes or moves the machine on; a bound keeps a confused
        // machine from looping.
        for _ in 0..8 {
            match machine.poll() {
                ResolveStep::Done(resolved) => {
                    let mut cache = self.lock();
                    if cache.len() >= MAX_CACHED {
                        cache.clear();
                    }
                    cache.insert(server.clone(), resolved.clone());
                    return Ok(resolved);
                }
                ResolveStep::Failed(error) => return Err(error.to_string()),
                ResolveStep::FetchWellKnown {
                    url,
                    max_body,
                    max_redirects,
                } => {
                    let fetch = fetch_well_known(transport, &url, max_body, max_redirects).await;
                    machine
                        .provide_well_known(fetch)
                        .map_err(|e| e.to_string())?;
                }
                ResolveStep::LookupSrv { name } => {
                    let answer = self.srv(&name).await;
                    machine.provide_srv(answer).map_err(|e| e.to_string())?;
                }
                _ => return Err("unexpected resolution step".to_owned()),
            }
        }
        Err(format!("resolving {server} did not finish"))
    }

    async fn srv(&self, name: &str) -> SrvAnswer {
        let Some(dns) = &self.dns else {
            return SrvAnswer::Failed;
        };
        match dns.srv_lookup(name).await {
            Ok(lookup) => SrvAnswer::Records(
                lookup
                    .answers()
                    .iter()
                    .filter_map(|record| match &record.data {
                        hickory_resolver::proto::rr::RData::SRV(srv) => Some(SrvRecord::new(
                            srv.priority,
                            srv.weight,
                            srv.port,
                            &srv.target.to_string(),
                        )),
                        _ => None,
                    })
                    .collect(),
            ),
            Err(error) if error.is_no_records_found() || error.is_nx_domain() => {
                SrvAnswer::NotFound
            }
            Err(_) => SrvAnswer::Failed,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ServerName, Resolved>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `GET url` (an `https://host/...` URL), following at most `max_redirects`
/// redirects to other `https` URLs, never the same one twice.
async fn fetch_well_known(
    transport: &Transport,
    url: &str,
    max_body: usize,
    max_redirects: u8,
) -> WellKnownFetch {
    let mut seen = Vec::new();
    let mut url = url.to_owned();
    for _ in 0..=max_redirects {
        if seen.contains(&url) {
            return WellKnownFetch::Failed;
        }
        seen.push(url.clone());
        let Some((host, port, path)) = split_https_url(&url) else {
            return WellKnownFetch::Failed;
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let endpoint = Endpoint {
            host: bare.to_owned(),
            port,
            host_header: host.to_owned(),
            // No SNI for an IP address: its certificate names the address.
            tls_name: bare
                .parse::<std::net::IpAddr>()
                .is_err()
                .then(|| bare.to_owned()),
        };
        let request = Request {
            method: "GET",
            uri: path.to_owned(),
            authorization: Vec::new(),
            body: None,
        };
        // One byte over the limit tells the core the body was too long.
        let Ok(answer) = transport
            .send(&endpoint, request, max_body + 1, WELL_KNOWN_TIMEOUT)
            .await
        else {
            return WellKnownFetch::Failed;
        };
        if (300..400).contains(&answer.status)
            && let Some(location) = answer.location
        {
            url = location;
            continue;
        }
        let mut response = WellKnownResponse::new(answer.status, answer.body);
        if let Some(value) = &answer.cache_control {
            response = response.with_cache_control(value);
        }
        if let Some(value) = &answer.expires {
            response = response.with_expires(value);
        }
        return WellKnownFetch::Response(response);
    }
    WellKnownFetch::Failed
}

/// `https://host[:port]/path` as (host, port, path); `None` for anything else.
fn split_https_url(url: &str) -> Option<(&str, u16, &str)> {
    let rest = url.strip_prefix("https://")?;
    let slash = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(slash);
    let path = if path.is_empty() { "/" } else { path };
    let host_end = if authority.starts_with('[') {
        authority.find(']')? + 1
    } else {
        authority.find(':').unwrap_or(authority.len())
    };
    let (host, port) = authority.split_at(host_end);
    let port = match port.strip_prefix(':') {
        Some(port) => port.parse().ok()?,
        None if port.is_empty() => 443,
        None => return None,
    };
    (!host.is_empty()).then_some((host, port, path))
}
