//! Command-line configuration: `--bind`, `--server-name` and `--data-dir`.

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
}

/// The usage text.
pub(crate) const USAGE: &str = "\
usage: homeserver [--bind ADDR] [--server-name NAME] [--data-dir DIR]

  --bind ADDR         address to listen on (default 127.0.0.1:8008)
  --server-name NAME  server name used in user IDs and signatures (default localhost:8008)
  --data-dir DIR      directory for the SQLite database and signing key (default ./data)
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
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
                None => (arg, None),
            };
            if flag == "--help" || flag == "-h" {
                return Ok(None);
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
                _ => return Err(format!("unknown argument {flag}")),
            }
        }
        Ok(Some(config))
    }
}
