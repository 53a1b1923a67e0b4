//! Command-line configuration: `--bind`, `--server-name`, `--data-dir`, and the
//! federation flags (all optional: without a certificate federation is off).

use std::net::SocketAddr;
use std::path::PathBuf;

use matrix_serverlib::id::ServerName;

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
usage: homeserver [--bind ADDR] [--server-name NAME] [--data-dir DIR]
                  [--federation-bind ADDR --tls-cert FILE --tls-key FILE]
                  [--federation-ca FILE] [--federation-insecure]
                  [--federation-allow-ip CIDR ...]

  --bind ADDR                 client API address (default 127.0.0.1:8008)
  --server-name NAME          server name in user IDs and signatures (default localhost:8008);
                              with federation, name the federation port (localhost:8448)
  --data-dir DIR              SQLite database and signing key (default ./data)
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
        let mut config = Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8008)),
            server_name: "localhost:8008".to_owned(),
            data_dir: PathBuf::from("data"),
            federation: None,
        };
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
            if flag == "--federation-insecure" {
                federation.insecure = true;
                continue;
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
                "--federation-bind" => {
                    let bind = value.parse().map_err(|e| format!("{flag} {value}: {e}"))?;
                    federation.bind = Some(bind);
                }
                "--tls-cert" => federation.tls_cert = Some(PathBuf::from(value)),
                "--tls-key" => federation.tls_key = Some(PathBuf::from(value)),
                "--federation-ca" => federation.ca = Some(PathBuf::from(value)),
                "--federation-allow-ip" => federation.allow_ip.push(value),
                _ => return Err(format!("unknown argument {flag}")),
            }
        }
        config.federation = federation.finish(&config.server_name)?;
        Ok(Some(config))
    }
}
