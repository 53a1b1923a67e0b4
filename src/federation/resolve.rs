//! Server-name resolution as a step machine
//! (<https://spec.matrix.org/v1.16/server-server-api/#resolving-server-names>).
//!
//! [`ServerResolver`] walks the spec's steps for one server name: it asks the caller to
//! fetch `/.well-known/matrix/server` and to look up SRV records ([`ResolveStep`]),
//! takes the answers back ([`ServerResolver::provide_well_known`],
//! [`ServerResolver::provide_srv`]) and ends with [`Resolved`]: where to connect, in
//! order, the `Host` header and the TLS server name to send, and until when the answer
//! may be cached. DNS address lookups, TLS, HTTP and the [`IpPolicy`] check of each
//! address stay with the caller.
//!
//! [`IpPolicy`]: super::net::IpPolicy
//!
//! ```
//! use matrix_serverlib::federation::resolve::{
//!     ConnectHost, ResolveStep, ServerResolver, SrvAnswer, SrvRecord, WellKnownFetch,
//!     WellKnownResponse,
//! };
//! use matrix_serverlib::id::ServerName;
//!
//! let server = ServerName::parse("example.org")?;
//! let mut resolver = ServerResolver::new(&server, 1_000);
//! loop {
//!     match resolver.poll() {
//!         ResolveStep::FetchWellKnown { url, .. } => {
//!             assert_eq!(url, "https://example.org/.well-known/matrix/server");
//!             let body = br#"{"m.server": "matrix.example.org"}"#.to_vec();
//!             let response = WellKnownResponse::new(200, body).with_cache_control("max-age=3600");
//!             resolver.provide_well_known(WellKnownFetch::Response(response))?;
//!         }
//!         ResolveStep::LookupSrv { name } => {
//!             assert_eq!(name, "_matrix-fed._tcp.matrix.example.org");
//!             let record = SrvRecord::new(10, 5, 443, "fed.example.net.");
//!             resolver.provide_srv(SrvAnswer::Records(vec![record]))?;
//!         }
//!         ResolveStep::Done(resolved) => {
//!             assert_eq!(resolved.candidates[0].host, ConnectHost::Name("fed.example.net".into()));
//!             assert_eq!(resolved.candidates[0].port, 443);
//!             // The certificate and Host are the delegated name's, not the SRV target's.
//!             assert_eq!(resolved.host_header, "matrix.example.org");
//!             assert_eq!(resolved.tls_server_name.as_deref(), Some("matrix.example.org"));
//!             assert_eq!(resolved.cache_until_ms, 1_000 + 3_600_000);
//!             break;
//!         }
//!         ResolveStep::Failed(error) => return Err(error.into()),
//!         _ => unreachable!(),
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::id::ServerName;
use crate::json::{self, CanonicalJsonError, ParseOptions, Value};

/// The port a server listens on for federation when nothing names another.
pub const DEFAULT_PORT: u16 = 8448;
/// The largest well-known body read: 50 KiB, as Synapse (`WELL_KNOWN_MAX_SIZE`).
pub const MAX_WELL_KNOWN_BODY: usize = 50 * 1024;
/// The deepest JSON nesting accepted in a well-known body (it needs one level).
pub const MAX_WELL_KNOWN_DEPTH: usize = 16;
/// The most redirects to follow for the well-known request: 20, the default of the
/// Twisted `RedirectAgent` Synapse uses.
pub const MAX_WELL_KNOWN_REDIRECTS: u8 = 20;
/// How long a well-known answer is cached when it has no cache headers: 24 hours
/// (the spec's recommendation; Synapse adds ±10 % jitter, which is the caller's).
pub const DEFAULT_CACHE_MS: i64 = 24 * 3_600_000;
/// The longest a well-known answer is cached: 48 hours (the spec's recommendation).
pub const MAX_CACHE_MS: i64 = 48 * 3_600_000;
/// The shortest a well-known answer with cache headers is cached: 5 minutes, as
/// Synapse (`WELL_KNOWN_MIN_CACHE_PERIOD`), so `max-age=0`, `no-store` or a past
/// `Expires` do not make every request fetch it again. The spec is silent.
pub const MIN_CACHE_MS: i64 = 5 * 60_000;
/// How long a failed or invalid well-known answer is cached: 1 hour (the spec's "up
/// to an hour"; Synapse's `WELL_KNOWN_INVALID_CACHE_PERIOD`).
pub const ERROR_CACHE_MS: i64 = 3_600_000;
/// The most SRV records read from one answer; the rest are ignored.
pub const MAX_SRV_RECORDS: usize = 64;

/// What the resolver needs next, or its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResolveStep {
    /// The server name is resolved.
    Done(Resolved),
    /// The server cannot be reached: an SRV lookup failed, or said the service is absent.
    Failed(ResolveError),
    /// `GET` this URL and give the outcome to
    /// [`ServerResolver::provide_well_known`]. Follow at most `max_redirects` 30x
    /// redirects, never a loop, and read at most `max_body` bytes of the body: more is
    /// a failure ([`WellKnownFetch::Failed`], or hand over `max_body + 1` bytes).
    FetchWellKnown {
        /// `https://<hostname>/.well-known/matrix/server`.
        url: String,
        /// [`MAX_WELL_KNOWN_BODY`].
        max_body: usize,
        /// [`MAX_WELL_KNOWN_REDIRECTS`].
        max_redirects: u8,
    },
    /// Look up the SRV records of `name` and give the outcome to
    /// [`ServerResolver::provide_srv`].
    LookupSrv {
        /// `_matrix-fed._tcp.<hostname>`, then the deprecated `_matrix._tcp.<hostname>`.
        name: String,
    },
}

/// The spec's steps of server-name resolution, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// 1: the hostname is an IP literal.
    IpLiteral,
    /// 2: the server name has an explicit port.
    ExplicitPort,
    /// 3: the well-known request.
    WellKnown,
    /// 3.1: the delegated hostname is an IP literal.
    DelegatedIpLiteral,
    /// 3.2: the delegated server name has an explicit port.
    DelegatedExplicitPort,
    /// 3.3: SRV `_matrix-fed._tcp.<delegated_hostname>`.
    DelegatedSrv,
    /// 3.4 (deprecated): SRV `_matrix._tcp.<delegated_hostname>`.
    DelegatedLegacySrv,
    /// 3.5: the delegated hostname at port 8448.
    DelegatedDefaultPort,
    /// 4: SRV `_matrix-fed._tcp.<hostname>` after a well-known error.
    Srv,
    /// 5 (deprecated): SRV `_matrix._tcp.<hostname>`.
    LegacySrv,
    /// 6: the hostname at port 8448.
    DefaultPort,
}

impl Step {
    /// The step's number in the spec, such as `"3.3"`.
    #[must_use]
    pub fn number(self) -> &'static str {
        match self {
            Self::IpLiteral => "1",
            Self::ExplicitPort => "2",
            Self::WellKnown => "3",
            Self::DelegatedIpLiteral => "3.1",
            Self::DelegatedExplicitPort => "3.2",
            Self::DelegatedSrv => "3.3",
            Self::DelegatedLegacySrv => "3.4",
            Self::DelegatedDefaultPort => "3.5",
            Self::Srv => "4",
            Self::LegacySrv => "5",
            Self::DefaultPort => "6",
        }
    }
}

/// The outcome of the well-known request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WellKnownFetch {
    /// No response: connection or TLS failure, timeout, a redirect loop or too many
    /// redirects, or a body over the limit.
    Failed,
    /// A response, after redirects.
    Response(WellKnownResponse),
}

/// A well-known response: its status, body and cache headers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WellKnownResponse {
    /// The HTTP status.
    pub status: u16,
    /// The body, at most [`MAX_WELL_KNOWN_BODY`] bytes for it to count.
    pub body: Vec<u8>,
    /// The `Cache-Control` header; several headers joined with `,`.
    pub cache_control: Option<String>,
    /// The last `Expires` header.
    pub expires: Option<String>,
}

impl WellKnownResponse {
    /// A response without cache headers.
    #[must_use]
    pub fn new(status: u16, body: Vec<u8>) -> Self {
        Self {
            status,
            body,
            cache_control: None,
            expires: None,
        }
    }

    /// With a `Cache-Control` header.
    #[must_use]
    pub fn with_cache_control(mut self, value: &str) -> Self {
        self.cache_control = Some(value.to_owned());
        self
    }

    /// With an `Expires` header.
    #[must_use]
    pub fn with_expires(mut self, value: &str) -> Self {
        self.expires = Some(value.to_owned());
        self
    }
}

/// The outcome of an SRV lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SrvAnswer {
    /// The lookup failed (a server failure or timeout, not "no such name").
    Failed,
    /// No records (NXDOMAIN, or an empty answer).
    NotFound,
    /// The records.
    Records(Vec<SrvRecord>),
}

/// One SRV record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SrvRecord {
    /// Lower is tried first.
    pub priority: u16,
    /// The share among records of the same priority.
    pub weight: u16,
    /// The port.
    pub port: u16,
    /// The target host, with or without its trailing dot; `.` means the service is
    /// absent.
    pub target: String,
}

impl SrvRecord {
    /// A record.
    #[must_use]
    pub fn new(priority: u16, weight: u16, port: u16, target: &str) -> Self {
        Self {
            priority,
            weight,
            port,
            target: target.to_owned(),
        }
    }
}

/// Where to connect: an IP address, or a hostname the caller resolves with AAAA/A
/// records (following CNAMEs, except for SRV targets).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectHost {
    /// An IP address.
    Ip(IpAddr),
    /// A hostname, without a trailing dot.
    Name(String),
}

/// One place to try, in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Candidate {
    /// The host.
    pub host: ConnectHost,
    /// The port.
    pub port: u16,
    /// The SRV priority it came with (0 when not from SRV).
    pub priority: u16,
    /// The SRV weight it came with (0 when not from SRV).
    pub weight: u16,
}

impl Candidate {
    fn direct(host: ConnectHost, port: u16) -> Self {
        Self {
            host,
            port,
            priority: 0,
            weight: 0,
        }
    }
}

/// A resolved server name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resolved {
    /// Where to connect, in the order to try them; never empty. SRV records come in
    /// RFC 2782 priority order, and within a priority by weight (see
    /// [`ServerResolver::with_srv_seed`]); targets of `.` are gone.
    pub candidates: Vec<Candidate>,
    /// The `Host` header to send.
    pub host_header: String,
    /// The TLS server name: sent as SNI and checked against the certificate. `None`
    /// when the certificate must be valid for the IP address connected to, and no SNI
    /// is sent.
    pub tls_server_name: Option<String>,
    /// Until when the answer may be cached, in milliseconds since the epoch: the
    /// well-known answer's period, [`ERROR_CACHE_MS`] after a well-known error, or
    /// [`DEFAULT_CACHE_MS`] when no well-known was fetched (steps 1 and 2). SRV and
    /// address records keep their own DNS TTLs, in the caller's resolver.
    pub cache_until_ms: i64,
    /// The spec's steps taken, in order.
    pub steps: Vec<Step>,
    /// The delegated server name from a valid well-known answer.
    pub delegated: Option<ServerName>,
    /// Why the well-known answer was not used, when it was fetched and was not.
    pub well_known_error: Option<WellKnownError>,
}

/// Why a well-known answer was not used (resolution goes on with SRV on the
/// original hostname).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WellKnownError {
    /// There was no response.
    #[error("the well-known request failed")]
    Failed,
    /// `m.server` is not a valid server name.
    #[error("m.server {value:?} is not a valid server name")]
    InvalidServer {
        /// The value given.
        value: String,
    },
    /// The body has no `m.server` string.
    #[error("the well-known body has no m.server string")]
    MissingServer,
    /// The body is not JSON (or is too deep).
    #[error("the well-known body is not JSON: {0}")]
    NotJson(CanonicalJsonError),
    /// The body is JSON but not an object.
    #[error("the well-known body is not a JSON object")]
    NotObject,
    /// The status is not 200.
    #[error("the well-known request answered {status}")]
    Status {
        /// The status.
        status: u16,
    },
    /// The body is over [`MAX_WELL_KNOWN_BODY`].
    #[error("the well-known body is {len} bytes, over {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Why resolution failed, or how the caller misused the resolver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// Caller misuse: an answer the resolver did not ask for (or gave after it ended).
    #[error("got a {given} answer while {state}")]
    NotAsked {
        /// `"well-known"` or `"SRV"`.
        given: &'static str,
        /// What the resolver was doing.
        state: &'static str,
    },
    /// The only SRV records have target `.`: the service is decidedly absent (RFC
    /// 2782). Synapse fails the connection then, without trying further steps.
    #[error("{service} says the service is not available")]
    ServiceUnavailable {
        /// The SRV name looked up.
        service: String,
    },
    /// An SRV lookup failed (not "no such name"). Synapse fails the connection then,
    /// unless it has cached records; the spec is silent.
    #[error("the SRV lookup of {service} failed")]
    SrvLookupFailed {
        /// The SRV name looked up.
        service: String,
    },
}

/// The step machine resolving one server name; see the [module docs](self).
///
/// At most three answers are asked for (one well-known, two SRV), so any caller loop
/// ends.
#[derive(Debug, Clone)]
pub struct ServerResolver {
    server: ServerName,
    now_ms: i64,
    seed: Option<u64>,
    state: State,
    steps: Vec<Step>,
    delegated: Option<ServerName>,
    well_known_error: Option<WellKnownError>,
    cache_until_ms: i64,
}

#[derive(Debug, Clone)]
enum State {
    WellKnown,
    /// SRV of `host` (the original or the delegated hostname); `legacy` for
    /// `_matrix._tcp`.
    Srv {
        host: String,
        legacy: bool,
    },
    Done(Resolved),
    Failed(ResolveError),
}

impl ServerResolver {
    /// Starts resolving `server` at `now_ms` (milliseconds since the epoch). An IP
    /// literal or an explicit port resolves at once (steps 1 and 2: no well-known, no
    /// SRV).
    #[must_use]
    pub fn new(server: &ServerName, now_ms: i64) -> Self {
        let mut resolver = Self {
            server: server.clone(),
            now_ms,
            seed: None,
            state: State::WellKnown,
            steps: Vec::new(),
            delegated: None,
            well_known_error: None,
            cache_until_ms: now_ms.saturating_add(DEFAULT_CACHE_MS),
        };
        let host = server.host();
        if let Some(ip) = ip_literal(host) {
            resolver.steps.push(Step::IpLiteral);
            let port = server.port().unwrap_or(DEFAULT_PORT);
            resolver.finish(ConnectHost::Ip(ip), port, server.as_str(), None);
        } else if let Some(port) = server.port() {
            resolver.steps.push(Step::ExplicitPort);
            let name = ConnectHost::Name(host.to_owned());
            resolver.finish(name, port, server.as_str(), Some(host));
        } else {
            resolver.steps.push(Step::WellKnown);
        }
        resolver
    }

    /// Orders SRV records of equal priority by RFC 2782's weighted random selection,
    /// drawn from `seed` (the same seed, the same order). Without a seed they are
    /// ordered by weight, highest first, then as given: the caller may shuffle each
    /// priority group itself from [`Candidate::priority`] and [`Candidate::weight`].
    #[must_use]
    pub fn with_srv_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// What the resolver needs next, or its answer (asked again, it says the same).
    #[must_use]
    pub fn poll(&self) -> ResolveStep {
        match &self.state {
            State::WellKnown => ResolveStep::FetchWellKnown {
                url: format!("https://{}/.well-known/matrix/server", self.server.host()),
                max_body: MAX_WELL_KNOWN_BODY,
                max_redirects: MAX_WELL_KNOWN_REDIRECTS,
            },
            State::Srv { host, legacy } => ResolveStep::LookupSrv {
                name: srv_name(host, *legacy),
            },
            State::Done(resolved) => ResolveStep::Done(resolved.clone()),
            State::Failed(error) => ResolveStep::Failed(error.clone()),
        }
    }

    /// Takes the outcome of the well-known request (step 3). A valid answer delegates
    /// (steps 3.1 to 3.5); anything else (no response, a status other than 200, a body
    /// over the limit, bad JSON, no `m.server`, an invalid server name) goes on to SRV
    /// on the original hostname (step 4), and is cached for [`ERROR_CACHE_MS`].
    ///
    /// # Errors
    ///
    /// [`ResolveError::NotAsked`] when the resolver did not ask for it.
    pub fn provide_well_known(&mut self, fetch: WellKnownFetch) -> Result<(), ResolveError> {
        if !matches!(self.state, State::WellKnown) {
            return Err(self.not_asked("well-known"));
        }
        match parse_well_known(&fetch, self.now_ms) {
            Ok((delegated, cache_ms)) => {
                self.cache_until_ms = self.now_ms.saturating_add(cache_ms);
                self.delegate(delegated);
            }
            Err(error) => {
                self.cache_until_ms = self.now_ms.saturating_add(ERROR_CACHE_MS);
                self.well_known_error = Some(error);
                self.steps.push(Step::Srv);
                self.state = State::Srv {
                    host: self.server.host().to_owned(),
                    legacy: false,
                };
            }
        }
        Ok(())
    }

    /// Takes the outcome of the SRV lookup asked for (steps 3.3, 3.4, 4 and 5).
    /// Records end resolution with their targets; none go on to the deprecated name,
    /// then to port 8448 (steps 3.5 and 6). The certificate and `Host` stay the
    /// hostname looked up, never the SRV target: DNS is not secure, TLS proves the
    /// delegation.
    ///
    /// # Errors
    ///
    /// [`ResolveError::NotAsked`] when the resolver did not ask for it.
    pub fn provide_srv(&mut self, answer: SrvAnswer) -> Result<(), ResolveError> {
        let State::Srv { host, legacy } = &self.state else {
            return Err(self.not_asked("SRV"));
        };
        let (host, legacy) = (host.clone(), *legacy);
        let service = srv_name(&host, legacy);
        match answer {
            SrvAnswer::Failed => {
                self.state = State::Failed(ResolveError::SrvLookupFailed { service });
            }
            SrvAnswer::Records(records) if !records.is_empty() => {
                let usable = usable_records(&records);
                if usable.is_empty() && records.iter().any(|r| is_no_service(&r.target)) {
                    self.state = State::Failed(ResolveError::ServiceUnavailable { service });
                } else if usable.is_empty() {
                    self.next_after_srv(host, legacy);
                } else {
                    self.finish_srv(&host, order_srv(&usable, self.seed));
                }
            }
            SrvAnswer::NotFound | SrvAnswer::Records(_) => self.next_after_srv(host, legacy),
        }
        Ok(())
    }

    fn delegate(&mut self, delegated: ServerName) {
        let host = delegated.host().to_owned();
        self.delegated = Some(delegated.clone());
        if let Some(ip) = ip_literal(&host) {
            self.steps.push(Step::DelegatedIpLiteral);
            let port = delegated.port().unwrap_or(DEFAULT_PORT);
            self.finish(ConnectHost::Ip(ip), port, delegated.as_str(), None);
        } else if let Some(port) = delegated.port() {
            self.steps.push(Step::DelegatedExplicitPort);
            let name = ConnectHost::Name(host.clone());
            self.finish(name, port, delegated.as_str(), Some(&host));
        } else {
            self.steps.push(Step::DelegatedSrv);
            self.state = State::Srv {
                host,
                legacy: false,
            };
        }
    }

    fn next_after_srv(&mut self, host: String, legacy: bool) {
        let delegated = self.delegated.is_some();
        if legacy {
            self.steps.push(if delegated {
                Step::DelegatedDefaultPort
            } else {
                Step::DefaultPort
            });
            let name = ConnectHost::Name(host.clone());
            self.finish(name, DEFAULT_PORT, &host, Some(&host));
        } else {
            self.steps.push(if delegated {
                Step::DelegatedLegacySrv
            } else {
                Step::LegacySrv
            });
            self.state = State::Srv { host, legacy: true };
        }
    }

    fn finish_srv(&mut self, host: &str, records: Vec<SrvRecord>) {
        let candidates = records
            .into_iter()
            .map(|record| Candidate {
                host: ConnectHost::Name(strip_root(&record.target).to_owned()),
                port: record.port,
                priority: record.priority,
                weight: record.weight,
            })
            .collect();
        self.done(candidates, host, Some(host));
    }

    fn finish(&mut self, host: ConnectHost, port: u16, header: &str, tls: Option<&str>) {
        self.done(vec![Candidate::direct(host, port)], header, tls);
    }

    fn done(&mut self, candidates: Vec<Candidate>, header: &str, tls: Option<&str>) {
        self.state = State::Done(Resolved {
            candidates,
            host_header: header.to_owned(),
            tls_server_name: tls.map(str::to_owned),
            cache_until_ms: self.cache_until_ms,
            steps: self.steps.clone(),
            delegated: self.delegated.clone(),
            well_known_error: self.well_known_error.clone(),
        });
    }

    fn not_asked(&self, given: &'static str) -> ResolveError {
        let state = match self.state {
            State::WellKnown => "waiting for the well-known answer",
            State::Srv { .. } => "waiting for an SRV answer",
            State::Done(_) => "done",
            State::Failed(_) => "failed",
        };
        ResolveError::NotAsked { given, state }
    }
}

/// Reads a well-known answer: the delegated server name, and how long to cache it in
/// milliseconds (from `Cache-Control: max-age` or `no-store`, else `Expires`, clamped
/// to [`MIN_CACHE_MS`]..=[`MAX_CACHE_MS`]; [`DEFAULT_CACHE_MS`] without them).
///
/// # Errors
///
/// A [`WellKnownError`] saying why the answer is not usable.
pub fn parse_well_known(
    fetch: &WellKnownFetch,
    now_ms: i64,
) -> Result<(ServerName, i64), WellKnownError> {
    let WellKnownFetch::Response(response) = fetch else {
        return Err(WellKnownError::Failed);
    };
    if response.status != 200 {
        return Err(WellKnownError::Status {
            status: response.status,
        });
    }
    if response.body.len() > MAX_WELL_KNOWN_BODY {
        return Err(WellKnownError::TooLarge {
            len: response.body.len(),
            max: MAX_WELL_KNOWN_BODY,
        });
    }
    let options = ParseOptions::lenient()
        .with_max_len(MAX_WELL_KNOWN_BODY)
        .with_max_depth(MAX_WELL_KNOWN_DEPTH);
    let body = json::parse(&response.body, &options).map_err(WellKnownError::NotJson)?;
    let Value::Object(body) = body else {
        return Err(WellKnownError::NotObject);
    };
    let value = body
        .get("m.server")
        .and_then(Value::as_str)
        .ok_or(WellKnownError::MissingServer)?;
    let delegated = ServerName::parse(value).map_err(|_| WellKnownError::InvalidServer {
        value: value.to_owned(),
    })?;
    let cache_ms = cache_period_ms(
        response.cache_control.as_deref(),
        response.expires.as_deref(),
        now_ms,
    )
    .map_or(DEFAULT_CACHE_MS, |period| {
        period.clamp(MIN_CACHE_MS, MAX_CACHE_MS)
    });
    Ok((delegated, cache_ms))
}

/// The cache period the headers give, in milliseconds, before clamping, as Synapse
/// reads them (`_cache_period_from_headers`): `no-store` is 0; else a `max-age` with
/// an integer value; else `Expires` minus `now_ms`, an unreadable date counting as
/// already expired (0, RFC 7234). `None` without any of them.
#[must_use]
pub fn cache_period_ms(
    cache_control: Option<&str>,
    expires: Option<&str>,
    now_ms: i64,
) -> Option<i64> {
    let mut no_store = false;
    let mut max_age: Option<&str> = None;
    for directive in cache_control.unwrap_or_default().split(',') {
        let (key, value) = match directive.split_once('=') {
            Some((key, value)) => (key.trim(), Some(value.trim())),
            None => (directive.trim(), None),
        };
        if key.eq_ignore_ascii_case("no-store") {
            no_store = true;
        } else if key.eq_ignore_ascii_case("max-age") {
            // A later directive replaces an earlier one, as in Synapse's dict.
            max_age = value;
        }
    }
    if no_store {
        return Some(0);
    }
    if let Some(seconds) = max_age.and_then(|value| value.parse::<i64>().ok()) {
        return Some(seconds.saturating_mul(1000));
    }
    let expires = expires?;
    Some(parse_http_date_ms(expires).map_or(0, |at| at.saturating_sub(now_ms)))
}

/// Orders SRV records: by priority, lowest first; within a priority by RFC 2782's
/// weighted selection drawn from `seed`, or without one by weight, highest first,
/// then as given.
#[must_use]
pub fn order_srv(records: &[SrvRecord], seed: Option<u64>) -> Vec<SrvRecord> {
    let mut sorted = records.to_vec();
    match seed {
        None => sorted.sort_by_key(|r| (r.priority, std::cmp::Reverse(r.weight))),
        Some(seed) => {
            sorted.sort_by_key(|r| r.priority);
            let mut rng = SplitMix64(seed);
            let mut out = Vec::with_capacity(sorted.len());
            for group in sorted.chunk_by(|a, b| a.priority == b.priority) {
                weighted_order(group, &mut rng, &mut out);
            }
            sorted = out;
        }
    }
    sorted
}

/// RFC 2782's selection within one priority: zero weights first, then repeatedly a
/// number in 0..=sum picks the first record whose running weight sum reaches it.
fn weighted_order(group: &[SrvRecord], rng: &mut SplitMix64, out: &mut Vec<SrvRecord>) {
    let mut left: Vec<&SrvRecord> = group.iter().filter(|r| r.weight == 0).collect();
    left.extend(group.iter().filter(|r| r.weight != 0));
    while !left.is_empty() {
        let sum: u64 = left.iter().map(|r| u64::from(r.weight)).sum();
        let pick = rng.next() % (sum + 1);
        let mut running = 0;
        let index = left
            .iter()
            .position(|r| {
                running += u64::from(r.weight);
                running >= pick
            })
            .unwrap_or(0);
        out.push(left.remove(index).clone());
    }
}

/// A small deterministic generator (SplitMix64) for the weighted SRV order.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The first [`MAX_SRV_RECORDS`] records whose target is a usable hostname.
fn usable_records(records: &[SrvRecord]) -> Vec<SrvRecord> {
    records
        .iter()
        .take(MAX_SRV_RECORDS)
        .filter(|record| is_hostname(strip_root(&record.target)))
        .cloned()
        .collect()
}

/// True for the target `.` (or empty): no service.
fn is_no_service(target: &str) -> bool {
    target.is_empty() || target == "."
}

fn strip_root(target: &str) -> &str {
    target.strip_suffix('.').unwrap_or(target)
}

/// True for a DNS hostname of 1 to 255 letters, digits, `-`, `_` and `.`.
fn is_hostname(name: &str) -> bool {
    (1..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn srv_name(host: &str, legacy: bool) -> String {
    if legacy {
        format!("_matrix._tcp.{host}")
    } else {
        format!("_matrix-fed._tcp.{host}")
    }
}

/// The address of a server-name hostname that is an IP literal: a bracketed IPv6
/// address, or four dot-separated groups of 1 to 3 decimal digits (leading zeros are
/// decimal, as the grammar reads them; `std`'s parser refuses them).
pub(crate) fn ip_literal(host: &str) -> Option<IpAddr> {
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']')?;
        return inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    let mut octets = [0u8; 4];
    let mut groups = host.split('.');
    for octet in &mut octets {
        let group = groups.next()?;
        if !(1..=3).contains(&group.len()) || !group.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = group.parse().ok()?;
    }
    if groups.next().is_some() {
        return None;
    }
    Some(IpAddr::V4(Ipv4Addr::from(octets)))
}

/// Reads an HTTP date (RFC 9110 §5.6.7) as milliseconds since the epoch: the
/// IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, the obsolete RFC 850
/// `Sunday, 06-Nov-94 08:49:37 GMT` and asctime `Sun Nov  6 08:49:37 1994` forms. The
/// weekday is not checked; a two-digit year is 19xx from 70, else 20xx.
fn parse_http_date_ms(text: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let (mut day, mut month, mut year, mut time) = (None, None, None, None);
    let tokens = text
        .split([' ', ',', '-'])
        .filter(|token| !token.is_empty());
    for token in tokens.take(8) {
        let lower = token.to_ascii_lowercase();
        if let Some(index) = MONTHS.iter().position(|name| *name == lower) {
            month = Some(index as i64 + 1);
        } else if token.contains(':') {
            time = parse_time(token);
        } else if token.bytes().all(|b| b.is_ascii_digit()) {
            let value: i64 = token.parse().ok()?;
            match token.len() {
                1 | 2 if day.is_none() => day = Some(value),
                2 => {
                    year = Some(if value >= 70 {
                        1900 + value
                    } else {
                        2000 + value
                    })
                }
                4 => year = Some(value),
                _ => return None,
            }
        }
    }
    let (day, month, year, seconds) = (day?, month?, year?, time?);
    if !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 + seconds) * 1000)
}

/// `HH:MM:SS` as seconds into the day.
fn parse_time(token: &str) -> Option<i64> {
    let mut parts = token.split(':');
    let mut seconds = 0;
    for limit in [24, 60, 61] {
        let part = parts.next()?;
        if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let value: i64 = part.parse().ok()?;
        if value >= limit {
            return None;
        }
        seconds = seconds * 60 + value;
    }
    parts.next().is_none().then_some(seconds)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
