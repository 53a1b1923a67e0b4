//! A reference Matrix homeserver on top of matrix-serverlib: HTTP (axum and tokio) and
//! an embedded SQLite database, good enough for a real Matrix client. Every room event
//! is built, signed, authorised and (where the room forks) state-resolved by the
//! library; this example only adds the I/O: sockets, storage, clock and randomness.
//!
//! ```text
//! cargo run --release --example homeserver -- [--bind 127.0.0.1:8008] \
//!     [--server-name localhost:8008] [--data-dir ./data] [-v]
//! ```
//!
//! See `examples/homeserver/README.md` for what it implements.

mod app;
mod appservice;
mod client;
mod config;
mod error;
mod federation;
mod http;
mod keys;
mod limits;
mod password;
mod rooms;
mod serve;
mod storage;

#[cfg(test)]
mod hostile_tests;

use std::path::Path;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use rand::RngExt;
use rand::distr::Alphanumeric;

use matrix_serverlib::crypto::SigningKey;
use matrix_serverlib::id::ServerName;
use tracing_subscriber::EnvFilter;

use crate::app::App;
use crate::config::{Config, USAGE};
use crate::storage::Storage;

fn main() -> ExitCode {
    let config = match Config::from_args(std::env::args().skip(1)) {
        Ok(Some(config)) => config,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("homeserver: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    init_logging(config.verbosity);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!("cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to standard error: start, stop and faults by default; one line per request
/// with `-v`; everything with `-vv`. `RUST_LOG` replaces the default filter.
fn init_logging(verbosity: u8) {
    let default = match verbosity {
        0 => "warn,homeserver=info,homeserver::request=warn",
        1 => "warn,homeserver=info",
        2 => "info,homeserver=debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Opens the data directory and serves until SIGINT or SIGTERM.
async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let appservices = appservice::load(&config.appservice_files, &config.server_name)?;
    let (key, storage) = open_data_dir(&config.data_dir)?;
    appservice::init(&storage, &appservices).map_err(|e| format!("appservice queues: {e}"))?;
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.bind))?;
    let local = listener.local_addr()?;
    log_configuration(&config, &key, local);
    let peers = match &config.federation {
        Some(federation) => {
            let peers =
                federation::peers::Peers::new(federation, &config.server_name, key.clone())?;
            let own = ServerName::parse(&config.server_name)?;
            let stored = storage.server_key_entries().map_err(|e| e.to_string())?;
            let keys = federation::server_keys::ServerKeys::new(&own, &key, &stored);
            Some(federation::Federation {
                peers,
                keys,
                sender: federation::sender::Sender::default(),
            })
        }
        None => None,
    };
    let federation = match &config.federation {
        Some(federation) => {
            let tls = federation::tls::server_config(&federation.tls_cert, &federation.tls_key)?;
            let listener = tokio::net::TcpListener::bind(federation.bind)
                .await
                .map_err(|e| format!("cannot listen on {}: {e}", federation.bind))?;
            tracing::info!("federation listening on https://{}", listener.local_addr()?);
            if federation.insecure {
                tracing::warn!(
                    "--federation-insecure: outbound certificates are not checked; use it for \
                     tests only"
                );
            }
            Some((listener, tls))
        }
        None => None,
    };
    let mut config = config;
    config.http.max_connections = within_fd_limit(config.http.max_connections);
    let http = config.http;
    for service in appservices.iter() {
        tracing::info!(
            appservice = service.id(),
            sender = %service.sender(),
            url = service.registration().url().unwrap_or("none"),
            "application service registered"
        );
    }
    let app = App::new(config, key, storage, peers, appservices);
    resume_outbox(&app);
    appservice::start(&app);
    let client = serve::serve(listener, router(app.clone()), http, async {
        let signal = shutdown_signal().await;
        tracing::info!("{signal}: stopping, letting open requests finish");
    });
    match federation {
        Some((listener, tls)) => {
            let routes = federation_router(app);
            tokio::select! {
                () = client => {}
                () = federation::tls::serve(listener, tls, routes) => {}
            }
        }
        None => client.await,
    }
    tracing::info!("stopped");
    Ok(())
}

/// Creates the data directory if needed, checks that it is writable, and opens the
/// signing key and the database in it. Each error names the path and the cause.
fn open_data_dir(dir: &Path) -> Result<(SigningKey, Storage), String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the data directory {}: {e}", dir.display()))?;
    let probe = dir.join(format!(".write-test-{}", random_string(8)));
    std::fs::write(&probe, b"")
        .map_err(|e| format!("the data directory {} is not writable: {e}", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    let key_path = dir.join("signing.key");
    let key = keys::load_or_generate(dir)
        .map_err(|e| format!("signing key {}: {e}", key_path.display()))?;
    let db_path = dir.join("homeserver.db");
    let storage = Storage::open(dir).map_err(|e| format!("database {}: {e}", db_path.display()))?;
    Ok((key, storage))
}

/// The start-up line: where it listens and stores, and the limits in force.
fn log_configuration(config: &Config, key: &SigningKey, local: std::net::SocketAddr) {
    let limits = &config.rate_limits;
    let rate = |rate: Option<limits::Rate>| {
        rate.map_or_else(
            || "off".to_owned(),
            |rate| format!("{}/{}", rate.per_second, rate.burst),
        )
    };
    tracing::info!(
        server_name = %config.server_name,
        data_dir = %config.data_dir.display(),
        key = %key.key_id(),
        federation = config.federation.is_some(),
        "listening on http://{local}"
    );
    tracing::info!(
        rc_message = %rate(limits.message),
        rc_registration = %rate(limits.registration),
        rc_login_address = %rate(limits.login_address),
        rc_login_account = %rate(limits.login_account),
        rc_login_failed = %rate(limits.login_failed),
        rc_room_creation = %rate(limits.room_creation),
        header_timeout = ?config.http.header_timeout,
        body_timeout = ?config.http.body_timeout,
        max_connections = config.http.max_connections,
        "limits"
    );
}

/// File descriptors kept free of client connections: the database, the listeners,
/// federation's outbound connections.
const RESERVED_FDS: usize = 128;

/// `wanted` client connections, or fewer when the process's open-file limit (as Linux
/// reports it in `/proc/self/limits`) would run out first: past it, `accept` fails and
/// so does everything else that opens a file.
fn within_fd_limit(wanted: usize) -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            let line = limits
                .lines()
                .find(|line| line.starts_with("Max open files"))?
                .to_owned();
            line.split_whitespace().nth(3)?.parse::<usize>().ok()
        });
    match soft {
        Some(soft) if soft.saturating_sub(RESERVED_FDS) < wanted => {
            let allowed = soft.saturating_sub(RESERVED_FDS).max(16);
            tracing::warn!(
                "the open-file limit is {soft}: serving {allowed} client connections at once, \
                 not {wanted}"
            );
            allowed
        }
        _ => wanted,
    }
}

/// Waits for SIGINT (Ctrl-C) or SIGTERM and names it.
async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = terminate.recv() => "SIGTERM",
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// Wakes the sender of every destination with events still queued from before a stop.
fn resume_outbox(app: &App) {
    let Some(sender) = app.sender().cloned() else {
        return;
    };
    let app = app.clone();
    tokio::spawn(async move {
        match app.db(|store| store.outbox_destinations()).await {
            Ok(destinations) => {
                for destination in destinations {
                    sender.wake(&app, &destination);
                }
            }
            Err(error) => tracing::warn!("outbox: {error:?}"),
        }
    });
}

/// The federation listener's routes.
fn federation_router(app: App) -> Router {
    let limits = app.config().http;
    let routes = federation::router()
        .fallback(client::unrecognized)
        .method_not_allowed_fallback(client::method_not_allowed)
        .layer(DefaultBodyLimit::max(http::MAX_BODY))
        .with_state(app);
    serve::layers(routes, limits)
}

/// The whole HTTP surface.
pub(crate) fn router(app: App) -> Router {
    let limits = app.config().http;
    let routes = Router::new()
        .merge(client::router())
        .route(
            "/_matrix/client/v1/appservice/{appservice_id}/ping",
            axum::routing::post(appservice::ping),
        )
        .route("/_matrix/key/v2/server", get(federation::server_keys))
        .route("/_matrix/federation/v1/version", get(federation::version))
        .fallback(client::unrecognized)
        .method_not_allowed_fallback(client::method_not_allowed)
        .layer(DefaultBodyLimit::max(http::MAX_BODY))
        .with_state(app);
    serve::layers(routes, limits)
}

/// Milliseconds since the Unix epoch: the only clock the server reads.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

/// A random alphanumeric string (tokens, device IDs, room and event IDs, sessions),
/// from the thread-local cryptographic generator.
pub(crate) fn random_string(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}
