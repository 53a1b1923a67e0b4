//! Federation: the TLS listener and its router, the outbound transport, the server's
//! self-signed key document
//! (<https://spec.matrix.org/v1.16/server-server-api/#get_matrixkeyv2server>) and the
//! server version.

pub(crate) mod backfill;
pub(crate) mod history;
pub(crate) mod inbound;
pub(crate) mod invite;
pub(crate) mod join;
pub(crate) mod membership;
pub(crate) mod peers;
pub(crate) mod query;
pub(crate) mod receive;
pub(crate) mod resolver;
pub(crate) mod sender;
pub(crate) mod server_keys;
pub(crate) mod tls;
pub(crate) mod transport;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use matrix_serverlib::id::ServerName;
use matrix_serverlib::json::Value as CanonicalValue;

use crate::app::App;
use crate::error::{ApiError, ApiResult};

/// What federation needs at run time: the client, the keyring and the sender.
pub(crate) struct Federation {
    /// Requests to other servers.
    pub(crate) peers: peers::Peers,
    /// Other servers' keys.
    pub(crate) keys: server_keys::ServerKeys,
    /// Outbound transactions.
    pub(crate) sender: sender::Sender,
}

/// `GET /_matrix/key/v2/server`: our key document, built and signed by the core.
pub(crate) async fn server_keys(State(app): State<App>) -> ApiResult<Json<Value>> {
    let name =
        ServerName::parse(app.server_name()).map_err(|e| ApiError::internal("server name", e))?;
    let document = server_keys::own_document(&name, app.key(), crate::now_ms())?;
    Ok(Json(Value::from(&CanonicalValue::Object(document))))
}

/// `GET /_matrix/federation/v1/version`.
pub(crate) async fn version() -> Json<Value> {
    Json(json!({
        "server": { "name": "matrix-serverlib example homeserver", "version": env!("CARGO_PKG_VERSION") }
    }))
}

/// The routes of the federation listener.
pub(crate) fn router() -> axum::Router<App> {
    use axum::routing::{get, put};
    axum::Router::new()
        .route("/_matrix/key/v2/server", get(server_keys))
        .route("/_matrix/federation/v1/version", get(version))
        .route("/_matrix/federation/v1/query/profile", get(query::profile))
        .route(
            "/_matrix/federation/v1/query/directory",
            get(query::directory),
        )
        .route("/_matrix/federation/v1/send/{txn_id}", put(receive::send))
        .route(
            "/_matrix/federation/v1/event/{event_id}",
            get(history::event),
        )
        .route(
            "/_matrix/federation/v1/state_ids/{room_id}",
            get(history::state_ids),
        )
        .route(
            "/_matrix/federation/v1/state/{room_id}",
            get(history::state),
        )
        .route(
            "/_matrix/federation/v1/event_auth/{room_id}/{event_id}",
            get(history::event_auth),
        )
        .route(
            "/_matrix/federation/v1/backfill/{room_id}",
            get(history::backfill),
        )
        .route(
            "/_matrix/federation/v1/get_missing_events/{room_id}",
            axum::routing::post(history::get_missing_events),
        )
        .route(
            "/_matrix/federation/v1/make_join/{room_id}/{user_id}",
            get(membership::make_join),
        )
        .route(
            "/_matrix/federation/v1/make_leave/{room_id}/{user_id}",
            get(membership::make_leave),
        )
        .route(
            "/_matrix/federation/v1/make_knock/{room_id}/{user_id}",
            get(membership::make_knock),
        )
        .route(
            "/_matrix/federation/v1/send_knock/{room_id}/{event_id}",
            put(membership::send_knock),
        )
        .route(
            "/_matrix/federation/v2/invite/{room_id}/{event_id}",
            put(invite::incoming_v2),
        )
        .route(
            "/_matrix/federation/v1/invite/{room_id}/{event_id}",
            put(invite::incoming_v1),
        )
        .route(
            "/_matrix/federation/v2/send_join/{room_id}/{event_id}",
            put(membership::send_join),
        )
        .route(
            "/_matrix/federation/v2/send_leave/{room_id}/{event_id}",
            put(membership::send_leave),
        )
}
