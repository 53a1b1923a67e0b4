//! The Client-Server API (<https://spec.matrix.org/v1.16/client-server-api/>): the
//! routes, served under both `/_matrix/client/v3` and the older `/r0`, plus
//! `/versions`, `/capabilities` and discovery. Anything else answers `M_UNRECOGNIZED`.

mod account;
mod directory;
mod ephemeral;
pub(crate) mod format;
mod room;
mod sync;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use serde_json::{Map, Value, json};

use matrix_serverlib::room_version::RoomVersion;

use crate::app::App;
use crate::error::ApiError;

/// Every Client-Server route.
pub(crate) fn router() -> Router<App> {
    let api = Router::new()
        .route("/register", post(account::register))
        .route("/register/available", get(account::register_available))
        .route("/login", get(account::login_flows).post(account::login))
        .route("/logout", post(account::logout))
        .route("/logout/all", post(account::logout_all))
        .route("/account/whoami", get(account::whoami))
        .route("/capabilities", get(capabilities))
        .route("/profile/{user_id}", get(account::profile))
        .route(
            "/profile/{user_id}/{field}",
            get(account::profile_field).put(account::set_profile_field),
        )
        .route("/user/{user_id}/filter", post(ephemeral::create_filter))
        .route(
            "/user/{user_id}/filter/{filter_id}",
            get(ephemeral::get_filter),
        )
        .route("/createRoom", post(room::create_room))
        .route("/join/{room_id_or_alias}", post(room::join_by_id_or_alias))
        .route("/joined_rooms", get(room::joined_rooms))
        .route("/knock/{room_id_or_alias}", post(room::knock))
        .route("/rooms/{room_id}/join", post(room::join_room))
        .route("/rooms/{room_id}/{action}", post(room::membership))
        .route(
            "/rooms/{room_id}/send/{event_type}/{txn_id}",
            put(room::send),
        )
        .route(
            "/rooms/{room_id}/redact/{event_id}/{txn_id}",
            put(room::redact),
        )
        .route("/rooms/{room_id}/state", get(room::get_state))
        .route(
            "/rooms/{room_id}/state/{event_type}",
            get(room::get_state_event_empty_key).put(room::put_state_empty_key),
        )
        .route(
            "/rooms/{room_id}/state/{event_type}/",
            get(room::get_state_event_empty_key).put(room::put_state_empty_key),
        )
        .route(
            "/rooms/{room_id}/state/{event_type}/{state_key}",
            get(room::get_state_event).put(room::put_state),
        )
        .route("/rooms/{room_id}/event/{event_id}", get(room::get_event))
        .route("/rooms/{room_id}/joined_members", get(room::joined_members))
        .route("/rooms/{room_id}/members", get(room::members))
        .route("/rooms/{room_id}/messages", get(room::messages))
        .route("/rooms/{room_id}/aliases", get(directory::room_aliases))
        .route("/rooms/{room_id}/typing/{user_id}", put(ephemeral::typing))
        .route(
            "/rooms/{room_id}/receipt/{receipt_type}/{event_id}",
            post(ephemeral::receipt),
        )
        .route(
            "/rooms/{room_id}/read_markers",
            post(ephemeral::read_markers),
        )
        .route(
            "/directory/room/{alias}",
            get(directory::resolve_alias)
                .put(directory::put_alias)
                .delete(directory::delete_alias),
        )
        .route(
            "/directory/list/room/{room_id}",
            get(directory::get_visibility).put(directory::set_visibility),
        )
        .route(
            "/publicRooms",
            get(directory::public_rooms).post(directory::search_public_rooms),
        )
        .route(
            "/presence/{user_id}/status",
            get(ephemeral::get_presence).put(ephemeral::set_presence),
        )
        .route("/sync", get(sync::sync));
    Router::new()
        .route("/_matrix/client/versions", get(versions))
        .route("/.well-known/matrix/client", get(well_known))
        .nest("/_matrix/client/v3", api.clone())
        .nest("/_matrix/client/r0", api)
}

/// `GET /_matrix/client/versions`.
async fn versions() -> Json<Value> {
    Json(json!({
        "versions": ["r0.6.1", "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6"],
        "unstable_features": {},
    }))
}

/// `GET /.well-known/matrix/client`: this server is its own homeserver.
async fn well_known(axum::extract::State(app): axum::extract::State<App>) -> Json<Value> {
    let base_url = format!("http://{}", app.config().bind);
    Json(json!({ "m.homeserver": { "base_url": base_url } }))
}

/// `GET /capabilities`: the room versions (1 to 12, default 12).
async fn capabilities() -> Json<Value> {
    let available: Map<String, Value> = RoomVersion::ALL
        .iter()
        .map(|version| (version.id.to_owned(), json!("stable")))
        .collect();
    Json(json!({
        "capabilities": {
            "m.room_versions": { "default": RoomVersion::DEFAULT.id, "available": available },
            "m.change_password": { "enabled": false },
            "m.set_displayname": { "enabled": true },
            "m.set_avatar_url": { "enabled": true },
        }
    }))
}

/// Any path the server does not implement.
pub(crate) async fn unrecognized() -> ApiError {
    ApiError::unrecognized()
}

/// A known path with a method it does not take.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "M_UNRECOGNIZED",
        "method not allowed",
    )
}
