//! Room aliases and the public room directory.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::format;
use super::room::{can_send_state, check_alias_namespace, parse_alias, room_version};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::{Auth, JsonBody, Params};
use crate::storage::Storage;

/// `GET /directory/room/{roomAlias}`.
pub(crate) async fn resolve_alias(
    State(app): State<App>,
    Path(alias): Path<String>,
) -> ApiResult<Json<Value>> {
    crate::appservice::ensure_alias(&app, &alias).await?;
    let lookup = alias.clone();
    let (room_id, _) = app
        .db(move |store| store.alias(&lookup))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("unknown alias {alias}")))?;
    Ok(Json(
        json!({ "room_id": room_id, "servers": [app.server_name()] }),
    ))
}

/// `PUT /directory/room/{roomAlias}`: any member of the room may add an alias.
pub(crate) async fn put_alias(
    State(app): State<App>,
    auth: Auth,
    Path(alias): Path<String>,
    body: JsonBody,
) -> ApiResult<Json<Value>> {
    let alias = parse_alias(&app, &alias)?;
    check_alias_namespace(&app, &auth, &alias)?;
    let room_id = body.str("room_id")?.to_owned();
    app.db(move |store| {
        room_version(store, &room_id)?;
        if store
            .membership(&room_id, &auth.user_id)?
            .map(|(m, _)| m)
            .as_deref()
            != Some("join")
        {
            return Err(ApiError::forbidden("only members can add aliases"));
        }
        if !store.insert_alias(&alias, &room_id, &auth.user_id)? {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "M_UNKNOWN",
                "alias already exists",
            ));
        }
        Ok(())
    })
    .await?;
    Ok(Json(json!({})))
}

/// `DELETE /directory/room/{roomAlias}`: by its creator, or by whoever may change the
/// room's canonical alias.
pub(crate) async fn delete_alias(
    State(app): State<App>,
    auth: Auth,
    Path(alias): Path<String>,
) -> ApiResult<Json<Value>> {
    check_alias_namespace(&app, &auth, &alias)?;
    app.db(move |store| {
        let (room_id, creator) = store
            .alias(&alias)?
            .ok_or_else(|| ApiError::not_found(format!("unknown alias {alias}")))?;
        if creator != auth.user_id
            && !can_send_state(store, &room_id, &auth.user_id, "m.room.canonical_alias")?
        {
            return Err(ApiError::forbidden("you may not delete this alias"));
        }
        store.delete_alias(&alias)
    })
    .await?;
    Ok(Json(json!({})))
}

/// `GET /rooms/{roomId}/aliases`.
pub(crate) async fn room_aliases(
    State(app): State<App>,
    auth: Auth,
    Path(room_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let aliases = app
        .db(move |store| {
            format::current_member_or_world_readable(store, &room_id, &auth.user_id, false)?;
            store.room_aliases(&room_id)
        })
        .await?;
    Ok(Json(json!({ "aliases": aliases })))
}

/// `GET /directory/list/room/{roomId}`.
pub(crate) async fn get_visibility(
    State(app): State<App>,
    Path(room_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let public = app
        .db(move |store| {
            room_version(store, &room_id)?;
            store.is_public(&room_id)
        })
        .await?;
    Ok(Json(
        json!({ "visibility": if public { "public" } else { "private" } }),
    ))
}

/// `PUT /directory/list/room/{roomId}`: whoever may change the canonical alias may
/// publish the room.
pub(crate) async fn set_visibility(
    State(app): State<App>,
    auth: Auth,
    Path(room_id): Path<String>,
    body: JsonBody,
) -> ApiResult<Json<Value>> {
    let public = match body.opt_str("visibility")?.unwrap_or("public") {
        "public" => true,
        "private" => false,
        other => {
            return Err(ApiError::invalid_param(format!(
                "unknown visibility {other:?}"
            )));
        }
    };
    app.db(move |store| {
        room_version(store, &room_id)?;
        if !can_send_state(store, &room_id, &auth.user_id, "m.room.canonical_alias")? {
            return Err(ApiError::forbidden(
                "you may not change the room's visibility",
            ));
        }
        store.set_public(&room_id, public)
    })
    .await?;
    Ok(Json(json!({})))
}

/// `GET /publicRooms`.
pub(crate) async fn public_rooms(State(app): State<App>, params: Params) -> ApiResult<Json<Value>> {
    let limit = params.int("limit", 100)?;
    let since = params.get("since").map(str::to_owned);
    list_public_rooms(app, limit, since, None).await
}

/// `POST /publicRooms`, with a `generic_search_term` filter.
pub(crate) async fn search_public_rooms(
    State(app): State<App>,
    _auth: Auth,
    body: JsonBody,
) -> ApiResult<Json<Value>> {
    let limit = body.0.get("limit").and_then(Value::as_i64).unwrap_or(100);
    let since = body.opt_str("since")?.map(str::to_owned);
    let term = body
        .opt_object("filter")?
        .and_then(|filter| filter.get("generic_search_term"))
        .and_then(Value::as_str)
        .map(str::to_lowercase);
    list_public_rooms(app, limit, since, term).await
}

async fn list_public_rooms(
    app: App,
    limit: i64,
    since: Option<String>,
    term: Option<String>,
) -> ApiResult<Json<Value>> {
    let offset: usize = match since.as_deref() {
        None => 0,
        Some(token) => token
            .strip_prefix('p')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| ApiError::invalid_param("unknown pagination token"))?,
    };
    let limit = usize::try_from(limit.clamp(1, 500)).unwrap_or(100);
    let entries = app
        .db(move |store| {
            let mut entries = Vec::new();
            for room in store.public_rooms()? {
                let entry = directory_entry(store, &room.room_id)?;
                let matches = term.as_deref().is_none_or(|term| {
                    ["name", "topic", "canonical_alias"].iter().any(|field| {
                        entry[field]
                            .as_str()
                            .is_some_and(|text| text.to_lowercase().contains(term))
                    })
                });
                if matches {
                    entries.push(entry);
                }
            }
            Ok(entries)
        })
        .await?;
    let total = entries.len();
    let chunk: Vec<Value> = entries.into_iter().skip(offset).take(limit).collect();
    let mut body = json!({ "chunk": chunk, "total_room_count_estimate": total });
    // The offset comes from the client: no arithmetic on it may overflow.
    if let Some(end) = offset.checked_add(limit)
        && end < total
    {
        body["next_batch"] = json!(format!("p{end}"));
    }
    if offset > 0 {
        body["prev_batch"] = json!(format!("p{}", offset.saturating_sub(limit)));
    }
    Ok(Json(body))
}

/// One room as the directory lists it.
fn directory_entry(store: &Storage, room_id: &str) -> ApiResult<Value> {
    let read = |event_type: &str, field: &str| -> ApiResult<Option<String>> {
        Ok(store
            .current_state_event(room_id, event_type, "")?
            .and_then(|event| format::content_str(&event, field)))
    };
    let mut entry = json!({
        "room_id": room_id,
        "num_joined_members": store.members_with(room_id, "join")?.len(),
        "world_readable": read("m.room.history_visibility", "history_visibility")?.as_deref() == Some("world_readable"),
        "guest_can_join": read("m.room.guest_access", "guest_access")?.as_deref() == Some("can_join"),
        "join_rule": read("m.room.join_rules", "join_rule")?.unwrap_or_else(|| "invite".to_owned()),
    });
    for (event_type, field, key) in [
        ("m.room.name", "name", "name"),
        ("m.room.topic", "topic", "topic"),
        ("m.room.canonical_alias", "alias", "canonical_alias"),
        ("m.room.avatar", "url", "avatar_url"),
    ] {
        if let Some(value) = read(event_type, field)? {
            entry[key] = json!(value);
        }
    }
    Ok(entry)
}
