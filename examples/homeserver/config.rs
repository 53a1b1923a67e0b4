//! Command-line configuration: `--bind`, `--server-name`, `--data-dir`, the rate and
//! HTTP limits, `-v`, and the federation flags (all optional: without a certificate
//! federation is off).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use matrix_serverlib::id::ServerName;

use crate::limits::{HttpLimits, Rate, RateLimits};

/// How the server was started.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// The address to listen on (default `127.0.0.1:8008`).
    pub(crate) bind: SocketAddr,
    /// The server name in user IDs, aliases and signatures (default `localhost:8008`).
    pub(crate) server_name: String,
    /// Where the database and the signing key live (default `./data`).
    pub(crate) data_dir: PathBuf,
    /// Federation; `None` when no certificate was given.
    pub(crate) federation: Option<FederationConfig>,
    /// The rate limits (Synapse's defaults unless changed).
    pub(crate) rate_limits: RateLimits,
    /// Timeouts and the connection bound of the client listener.
    pub(crate) http: HttpLimits,
    /// How many `-v` were given: 0 logs start, stop and faults; 1 adds one line per
    /// request; 2 and more add everything (`RUST_LOG` overrides all of it).
    pub(crate) verbosity: u8,
    /// The `--appservice` registration files, in the order given.
    pub(crate) appservice_files: Vec<PathBuf>,
}

impl Config {
    /// The defaults, serving on `bind` as `server_name` from `data_dir`.
    pub(crate) fn new(bind: SocketAddr, server_name: &str, data_dir: PathBuf) -> Self {
        Self {
            bind,
            server_name: server_name.to_owned(),
            data_dir,
            federation: None,
            rate_limits: RateLimits::default(),
            http: HttpLimits::default(),
            verbosity: 0,
            appservice_files: Vec::new(),
        }
    }
}

/// The federation listener and client.
#[derive(Debug, Clone)]
pub(crate) struct FederationConfig {
    /// The address of the TLS listener for `/_matrix/federation/*` and `/_matrix/key/*`.
    pub(crate) bind: SocketAddr,
    /// The certificate chain (PEM) the listener presents.
    pub(crate) tls_cert: PathBuf,
    /// Its private key (PEM).
    pub(crate) tls_key: PathBuf,
    /// Certificates (PEM) trusted for outbound connections besides the system roots.
    pub(crate) ca: Option<PathBuf>,
    /// No certificate checks on outbound connections (tests only).
    pub(crate) insecure: bool,
    /// Address ranges outbound federation may reach despite the default deny list.
    pub(crate) allow_ip: Vec<String>,
}

/// The federation flags before they are checked for completeness.
#[derive(Debug, Default)]
struct FederationFlags {
    bind: Option<SocketAddr>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    ca: Option<PathBuf>,
    insecure: bool,
    allow_ip: Vec<String>,
}

impl FederationFlags {
    /// Federation is on when a certificate and key are given; the listener defaults to
    /// the port of the server name on 127.0.0.1.
    fn finish(self, server_name: &str) -> Result<Option<FederationConfig>, String> {
        let (tls_cert, tls_key) = match (self.tls_cert, self.tls_key) {
            (Some(cert), Some(key)) => (cert, key),
            (None, None) => {
                if self.bind.is_some() || self.ca.is_some() || self.insecure {
                    return Err("federation flags need --tls-cert and --tls-key".to_owned());
                }
                return Ok(None);
            }
            _ => return Err("--tls-cert and --tls-key go together".to_owned()),
        };
        let bind = match self.bind {
            Some(bind) => bind,
            None => {
                let port = ServerName::parse(server_name)
                    .ok()
                    .and_then(|name| name.port())
                    .unwrap_or(8448);
                SocketAddr::from(([127, 0, 0, 1], port))
            }
        };
        Ok(Some(FederationConfig {
            bind,
            tls_cert,
            tls_key,
            ca: self.ca,
            insecure: self.insecure,
            allow_ip: self.allow_ip,
        }))
    }
}

/// The usage text.
pub(crate) const USAGE: &str = "\
usage: homeserver [--bind ADDR] [--server-name NAME] [--data-dir DIR] [-v]
                  [--rc-* RATE/BURST ...] [--no-rate-limits]
                  [--header-timeout SECS] [--body-timeout SECS] [--max-connections N]
                  [--federation-bind ADDR --tls-cert FILE --tls-key FILE]
                  [--federation-ca FILE] [--federation-insecure]
                  [--federation-allow-ip CIDR ...] [--appservice FILE ...]

  --bind ADDR                 client API address (default 127.0.0.1:8008)
  --server-name NAME          server name in user IDs and signatures (default localhost:8008);
                              with federation, name the federation port (localhost:8448)
  --data-dir DIR              SQLite database and signing key (default ./data)
  --appservice FILE           an application-service registration (YAML); repeatable
  -v, --verbose               one log line per request; twice for everything (or RUST_LOG)
  --rc-message RATE/BURST     events sent per user: per second and at once (default 0.2/10)
  --rc-registration R/B       registrations per client address (default 0.17/3)
  --rc-login-address R/B      login attempts per client address (default 0.003/5)
  --rc-login-account R/B      login attempts per account (default 0.003/5)
  --rc-login-failed R/B       failed login attempts per account (default 0.17/3)
  --rc-room-creation R/B      rooms created per user (default 0.016/10)
                              (each also takes `off`; the defaults are Synapse's)
  --no-rate-limits            every rate limit off (load tests)
  --header-timeout SECS       time for a request's headers, and idle keep-alive (default 10)
  --body-timeout SECS         time for a request's body (default 30)
  --max-connections N         client connections served at once (default 1024)
  --federation-bind ADDR      federation TLS listener (default 127.0.0.1:<port of the name>)
  --tls-cert FILE             certificate chain (PEM) of the federation listener
  --tls-key FILE              its private key (PEM); federation is off without both
  --federation-ca FILE        extra PEM certificates trusted for outbound federation
  --federation-insecure       no certificate checks on outbound federation (tests only)
  --federation-allow-ip CIDR  an address range outbound federation may reach although the
                              default deny list (loopback, private ranges) blocks it; repeatable
";

impl Config {
    /// Parses the arguments after the program name; `Ok(None)` for `--help`.
    ///
    /// # Errors
    ///
    /// A message naming the bad or unknown argument.
    pub(crate) fn from_args(
        args: impl IntoIterator<Item = String>,
    ) -> Result<Option<Self>, String> {
        let mut config = Self::new(
            SocketAddr::from(([127, 0, 0, 1], 8008)),
            "localhost:8008",
            PathBuf::from("data"),
        );
        let mut federation = FederationFlags::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
                None => (arg, None),
            };
            if flag == "--help" || flag == "-h" {
                return Ok(None);
            }
            match flag.as_str() {
                "--federation-insecure" => {
                    federation.insecure = true;
                    continue;
                }
                "--no-rate-limits" => {
                    config.rate_limits = RateLimits::OFF;
                    continue;
                }
                "-v" | "--verbose" => {
                    config.verbosity = config.verbosity.saturating_add(1);
                    continue;
                }
                "-vv" => {
                    config.verbosity = config.verbosity.saturating_add(2);
                    continue;
                }
                _ => {}
            }
            let value = inline
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--bind" => {
                    config.bind = value.parse().map_err(|e| format!("--bind {value}: {e}"))?;
                }
                "--server-name" => {
                    ServerName::parse(&value).map_err(|e| format!("--server-name {value}: {e}"))?;
                    config.server_name = value;
                }
                "--data-dir" => config.data_dir = PathBuf::from(value),
                "--appservice" => config.appservice_files.push(PathBuf::from(value)),
                "--federation-bind" => {
                    let bind = value.parse().map_err(|e| format!("{flag} {value}: {e}"))?;
                    federation.bind = Some(bind);
                }
                "--tls-cert" => federation.tls_cert = Some(PathBuf::from(value)),
                "--tls-key" => federation.tls_key = Some(PathBuf::from(value)),
                "--federation-ca" => federation.ca = Some(PathBuf::from(value)),
                "--federation-allow-ip" => federation.allow_ip.push(value),
                "--header-timeout" => config.http.header_timeout = seconds(&flag, &value)?,
                "--body-timeout" => config.http.body_timeout = seconds(&flag, &value)?,
                "--max-connections" => {
                    config.http.max_connections =
                        value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                            format!("{flag} {value}: expected a positive integer")
                        })?;
                }
                _ => {
                    let limits = &mut config.rate_limits;
                    let slot = match flag.as_str() {
                        "--rc-message" => &mut limits.message,
                        "--rc-registration" => &mut limits.registration,
                        "--rc-login-address" => &mut limits.login_address,
                        "--rc-login-account" => &mut limits.login_account,
                        "--rc-login-failed" => &mut limits.login_failed,
                        "--rc-room-creation" => &mut limits.room_creation,
                        _ => return Err(format!("unknown argument {flag}")),
                    };
                    *slot = Rate::parse(&value).map_err(|e| format!("{flag} {e}"))?;
                }
            }
        }
        config.federation = federation.finish(&config.server_name)?;
        Ok(Some(config))
    }
}

/// A positive number of seconds.
fn seconds(flag: &str, value: &str) -> Result<Duration, String> {
    value
        .parse::<f64>()
        .ok()
        .filter(|secs| secs.is_finite() && *secs > 0.0 && *secs < 1e9)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{flag} {value}: expected a positive number of seconds"))
}
