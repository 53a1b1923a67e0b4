//! The federation queries other servers make of ours: a user's profile and a room
//! alias (<https://spec.matrix.org/v1.16/server-server-api/#query-types>). Both are
//! authenticated; both answer only for this server's own users and aliases.

use axum::Json;
use axum::extract::{OriginalUri, State};
use serde_json::{Value, json};

use matrix_serverlib::federation::path;
use matrix_serverlib::id::{RoomAliasId, UserId};

use super::inbound::{Origin, query_params, required};
use crate::app::App;
use crate::error::{ApiError, ApiResult};

/// `GET /_matrix/federation/v1/query/profile?user_id=...[&field=...]`.
pub(crate) async fn profile(
    State(app): State<App>,
    OriginalUri(uri): OriginalUri,
    _origin: Origin,
) -> ApiResult<Json<Value>> {
    let params = query_params(uri.query())?;
    let user_id = required(&params, "user_id")?;
    let user = UserId::parse(user_id)
        .map_err(|e| ApiError::invalid_param(format!("user_id {user_id}: {e}")))?;
    if user.server_name() != app.server_name() {
        return Err(ApiError::invalid_param(format!(
            "{user_id} is not a user of this server"
        )));
    }
    let field = path::first(&params, "field");
    if let Some(field) = field
        && field != "displayname"
        && field != "avatar_url"
    {
        return Err(ApiError::invalid_param(format!(
            "unknown profile field {field}"
        )));
    }
    let lookup = user_id.to_owned();
    let (displayname, avatar_url) = app
        .db(move |store| store.profile(&lookup))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("unknown user {user_id}")))?;
    let mut body = json!({});
    if field.is_none_or(|field| field == "displayname")
        && let Some(name) = displayname
    {
        body["displayname"] = json!(name);
    }
    if field.is_none_or(|field| field == "avatar_url")
        && let Some(url) = avatar_url
    {
        body["avatar_url"] = json!(url);
    }
    Ok(Json(body))
}

/// `GET /_matrix/federation/v1/query/directory?room_alias=...`: the room and the
/// servers in it (ours).
pub(crate) async fn directory(
    State(app): State<App>,
    OriginalUri(uri): OriginalUri,
    _origin: Origin,
) -> ApiResult<Json<Value>> {
    let params = query_params(uri.query())?;
    let alias = required(&params, "room_alias")?;
    let parsed = RoomAliasId::parse(alias)
        .map_err(|e| ApiError::invalid_param(format!("room_alias {alias}: {e}")))?;
    if parsed.server_name() != app.server_name() {
        return Err(ApiError::not_found(format!(
            "{alias} is not an alias of this server"
        )));
    }
    let lookup = alias.to_owned();
    let (room_id, _) = app
        .db(move |store| store.alias(&lookup))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("unknown alias {alias}")))?;
    Ok(Json(
        json!({ "room_id": room_id, "servers": [app.server_name()] }),
    ))
}
