//! A reference Matrix homeserver on top of matrix-serverlib: HTTP (axum and tokio) and
//! an embedded SQLite database, good enough for a real Matrix client. Every room event
//! is built, signed, authorised and (where the room forks) state-resolved by the
//! library; this example only adds the I/O: sockets, storage, clock and randomness.
//!
//! ```text
//! cargo run --release --example homeserver -- [--bind 127.0.0.1:8008] \
//!     [--server-name localhost:8008] [--data-dir ./data]
//! ```
//!
//! See `examples/homeserver/README.md` for what it implements.

mod app;
mod client;
mod config;
mod error;
mod federation;
mod http;
mod keys;
mod password;
mod rooms;
mod storage;

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use rand::RngExt;
use rand::distr::Alphanumeric;

use matrix_serverlib::id::ServerName;

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
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("homeserver: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("homeserver: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Opens the data directory and serves until Ctrl-C.
async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(&config.data_dir)?;
    let key = keys::load_or_generate(&config.data_dir)?;
    let storage = Storage::open(&config.data_dir)?;
    let listener = tokio::net::TcpListener::bind(config.bind).await?;
    let local = listener.local_addr()?;
    eprintln!(
        "homeserver: {} listening on http://{local} (data in {}, key {})",
        config.server_name,
        config.data_dir.display(),
        key.key_id()
    );
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
            let listener = tokio::net::TcpListener::bind(federation.bind).await?;
            eprintln!(
                "homeserver: federation listening on https://{}",
                listener.local_addr()?
            );
            if federation.insecure {
                eprintln!(
                    "homeserver: WARNING: --federation-insecure: outbound certificates are not \
                     checked; use it for tests only"
                );
            }
            Some((listener, tls))
        }
        None => None,
    };
    let app = App::new(config, key, storage, peers);
    resume_outbox(&app);
    let client = axum::serve(listener, router(app.clone())).with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    match federation {
        Some((listener, tls)) => {
            let routes = federation_router(app);
            tokio::select! {
                result = client => result?,
                () = federation::tls::serve(listener, tls, routes) => {}
            }
        }
        None => client.await?,
    }
    eprintln!("homeserver: stopped");
    Ok(())
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
            Err(error) => eprintln!("homeserver: outbox: {error:?}"),
        }
    });
}

/// The federation listener's routes.
fn federation_router(app: App) -> Router {
    federation::router()
        .fallback(client::unrecognized)
        .method_not_allowed_fallback(client::method_not_allowed)
        .layer(DefaultBodyLimit::max(http::MAX_BODY))
        .with_state(app)
}

/// The whole HTTP surface.
fn router(app: App) -> Router {
    Router::new()
        .merge(client::router())
        .route("/_matrix/key/v2/server", get(federation::server_keys))
        .route("/_matrix/federation/v1/version", get(federation::version))
        .fallback(client::unrecognized)
        .method_not_allowed_fallback(client::method_not_allowed)
        .layer(DefaultBodyLimit::max(http::MAX_BODY))
        .with_state(app)
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
