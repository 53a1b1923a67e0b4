//! Room endpoints: `createRoom`, joining (by room ID or alias), invite, leave, kick,
//! ban, unban, sending with transaction IDs, reading and writing state, single events,
//! members, and `/messages` pagination in both directions.

use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use matrix_serverlib::appservice::NamespaceKind;
use matrix_serverlib::auth::PowerLevels;
use matrix_serverlib::federation::path;
use matrix_serverlib::id::{RoomAliasId, RoomId, ServerName, UserId};
use matrix_serverlib::room_version::RoomVersion;

use super::format::{self, StreamToken, Viewer, visible_range};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::federation::{self, invite::invite_remote};
use crate::http::{Auth, JsonBody, Params, event_content};
use crate::rooms::{self, CreateRoom, Draft, Preset, Txn};
use crate::storage::Storage;

/// The room version of rooms created without one.
const DEFAULT_ROOM_VERSION: &str = "12";

/// `POST /createRoom`.
pub(crate) async fn create_room(
    State(app): State<App>,
    auth: Auth,
    body: JsonBody,
) -> ApiResult<Json<Value>> {
    if app.is_rate_limited(&auth.user_id) {
        app.limiters().room_creation.take(&auth.user_id)?;
    }
    let version_id = body
        .opt_str("room_version")?
        .unwrap_or(DEFAULT_ROOM_VERSION);
    let version = RoomVersion::from_id(version_id).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "M_UNSUPPORTED_ROOM_VERSION",
            format!("room version {version_id:?} is not supported"),
        )
    })?;
    let public = match body.opt_str("visibility")? {
        None | Some("private") => false,
        Some("public") => true,
        Some(other) => return Err(ApiError::bad_json(format!("unknown visibility {other:?}"))),
    };
    let preset = match body.opt_str("preset")? {
        None if public => Preset::PublicChat,
        None | Some("private_chat") => Preset::PrivateChat,
        Some("public_chat") => Preset::PublicChat,
        Some("trusted_private_chat") => Preset::TrustedPrivateChat,
        Some(other) => return Err(ApiError::bad_json(format!("unknown preset {other:?}"))),
    };
    let invite = string_list(body.opt_array("invite")?, "invite")?;
    for user in &invite {
        UserId::parse(user)
            .map_err(|e| ApiError::invalid_param(format!("invite {user:?}: {e}")))?;
    }
    let alias = match body.opt_str("room_alias_name")? {
        Some(name) => Some(parse_alias(
            &app,
            &format!("#{name}:{}", app.server_name()),
        )?),
        None => None,
    };
    if let Some(alias) = &alias {
        check_alias_namespace(&app, &auth, alias)?;
    }
    for user in &invite {
        crate::appservice::ensure_user(&app, user).await?;
    }
    let object_field = |name: &str| -> ApiResult<_> {
        event_content(
            body.opt_object(name)?.cloned().unwrap_or_default(),
            &version,
        )
    };
    let request = CreateRoom {
        version,
        preset,
        name: body.opt_str("name")?.map(str::to_owned),
        topic: body.opt_str("topic")?.map(str::to_owned),
        invite,
        creation_content: object_field("creation_content")?,
        power_level_content_override: object_field("power_level_content_override")?,
        initial_state: initial_state(body.opt_array("initial_state")?, &version)?,
        is_direct: body.opt_bool("is_direct")?.unwrap_or(false),
        alias: alias.clone(),
    };
    let handle = app.clone();
    let room_id = app
        .db(move |store| {
            for user in &request.invite {
                if !store.account_exists(user)? {
                    return Err(ApiError::not_found(format!("unknown user {user}")));
                }
            }
            if let Some(alias) = &alias
                && store.alias(alias)?.is_some()
            {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "M_ROOM_IN_USE",
                    "alias already taken",
                ));
            }
            let creator = auth.user_id.clone();
            let room_id = rooms::set_up_room(store, &handle, &creator, request)?;
            if let Some(alias) = &alias {
                store.insert_alias(alias, &room_id, &creator)?;
            }
            store.set_public(&room_id, public)?;
            Ok(room_id)
        })
        .await?;
    Ok(Json(json!({ "room_id": room_id })))
}

fn string_list(items: Option<&[Value]>, name: &str) -> ApiResult<Vec<String>> {
    items
        .unwrap_or_default()
        .iter()
        .map(|item| {
            item.as_str()
                .map(str::to_owned)
                .ok_or_else(|| ApiError::bad_json(format!("{name} must list strings")))
        })
        .collect()
}

fn initial_state(items: Option<&[Value]>, version: &RoomVersion) -> ApiResult<Vec<Draft>> {
    items
        .unwrap_or_default()
        .iter()
        .map(|item| {
            let bad =
                || ApiError::bad_json("initial_state entries need type, state_key and content");
            let event_type = item.get("type").and_then(Value::as_str).ok_or_else(bad)?;
            let state_key = item
                .get("state_key")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let content = item
                .get("content")
                .and_then(Value::as_object)
                .ok_or_else(bad)?;
            Ok(Draft::state(
                event_type,
                state_key,
                event_content(content.clone(), version)?,
            ))
        })
        .collect()
}

/// Parses an alias and checks that this server owns it.
pub(crate) fn parse_alias(app: &App, alias: &str) -> ApiResult<String> {
    let parsed = RoomAliasId::parse(alias)
        .map_err(|e| ApiError::invalid_param(format!("alias {alias:?}: {e}")))?;
    if parsed.server_name() != app.server_name() {
        return Err(ApiError::invalid_param("aliases must be on this server"));
    }
    Ok(alias.to_owned())
}

/// Refuses (400 `M_EXCLUSIVE`) an alias an application service holds to anyone but
/// that service: a request with an `as_token` may take aliases in the service's
/// namespace; any other goes by the core's `may_modify_alias`.
pub(crate) fn check_alias_namespace(app: &App, auth: &Auth, alias: &str) -> ApiResult<()> {
    let services = app.appservices();
    if let Some(service) = auth.appservice.as_deref().and_then(|id| services.get(id))
        && service
            .registration()
            .is_in_namespace(NamespaceKind::Aliases, alias)
    {
        return Ok(());
    }
    let parsed = RoomAliasId::parse(alias)
        .map_err(|e| ApiError::invalid_param(format!("alias {alias:?}: {e}")))?;
    if services.may_modify_alias(&parsed, &auth.user_id) {
        Ok(())
    } else {
        Err(super::account::exclusive(format!(
            "{alias} is reserved by an application service"
        )))
    }
}

/// `POST /join/{roomIdOrAlias}`, with `server_name` or `via` naming servers to join
/// through when the room lives on other servers.
pub(crate) async fn join_by_id_or_alias(
    State(app): State<App>,
    auth: Auth,
    Path(target): Path<String>,
    OriginalUri(uri): OriginalUri,
    body: JsonBody,
) -> ApiResult<Json<Value>> {
    let hints = server_hints(uri.query());
    if let Some(remote) =
        federation::join::remote_target(&app, &auth.user_id, &target, hints).await?
    {
        let room_id = remote.room_id.as_str().to_owned();
        let reason = body.opt_str("reason")?.map(str::to_owned);
        federation::join::join_remote(&app, &auth.user_id, remote, reason).await?;
        return Ok(Json(json!({ "room_id": room_id })));
    }
    join(app, auth, target, body).await
}

/// `POST /knock/{roomIdOrAlias}`, with `server_name` or `via` as for joins.
pub(crate) async fn knock(
    State(app): State<App>,
    auth: Auth,
    Path(target): Path<String>,
    OriginalUri(uri): OriginalUri,
    body: JsonBody,
) -> ApiResult<Json<Value>> {
    let reason = body.opt_str("reason")?.map(str::to_owned);
    let hints = server_hints(uri.query());
    if let Some(remote) =
        federation::join::remote_target(&app, &auth.user_id, &target, hints).await?
    {
        let room_id = remote.room_id.as_str().to_owned();
        federation::join::knock_remote(&app, &auth.user_id, remote, reason).await?;
        return Ok(Json(json!({ "room_id": room_id })));
    }
    let handle = app.clone();
    let room_id = app
        .db(move |store| {
            let room_id = local_room(store, target)?;
            let user = &auth.user_id;
            rooms::set_membership(
                store,
                &handle,
                &room_id,
                user,
                user,
                "knock",
                reason.as_deref(),
            )?;
            Ok(room_id)
        })
        .await?;
    Ok(Json(json!({ "room_id": room_id })))
}

/// The servers named by `server_name` and `via` query parameters.
fn server_hints(query: Option<&str>) -> Vec<ServerName> {
    let params = path::parse_query(query.unwrap_or_default()).unwrap_or_default();
    let mut names = path::values(&params, "via");
    names.extend(path::values(&params, "server_name"));
    names
        .into_iter()
        .filter_map(|name| ServerName::parse(name).ok())
        .collect()
}

/// The room a local alias names, or the room ID itself.
fn local_room(store: &Storage, target: String) -> ApiResult<String> {
    if target.starts_with('#') {
        store
            .alias(&target)?
            .map(|(room_id, _)| room_id)
            .ok_or_else(|| ApiError::not_found(format!("unknown alias {target}")))
    } else {
        Ok(target)
    }
}

/// `POST /rooms/{roomId}/join`.
pub(crate) async fn join_room(
    State(app): State<App>,
    auth: Auth,
    Path(room_id): Path<String>,
    body: JsonBody,
) -> ApiResult<Json<Value>> {
    join(app, auth, room_id, body).await
}

async fn join(app: App, auth: Auth, target: String, body: JsonBody) -> ApiResult<Json<Value>> {
    if target.starts_with('#') {
        crate::appservice::ensure_alias(&app, &target).await?;
    }
    let reason = body.opt_str("reason")?.map(str::to_owned);
    let handle = app.clone();
    let room_id = app
        .db(move |store| {
            let room_id = local_room(store, target)?;
            let user = &auth.user_id;
            rooms::set_membership(
                store,
                &handle,
                &room_id,
                user,
                user,
                "join",
                reason.as_deref(),
            )?;
            Ok(room_id)
        })
        .await?;
    Ok(Json(json!({ "room_id": room_id })))
}

/// `POST /rooms/{roomId}/{invite|leave|kick|ban|unban|forget}`.
pub(crate) async fn membership(
    State(app): State<App>,
    auth: Auth,
    Path((room_id, action)): Path<(String, String)>,
    body: JsonBody,
) -> ApiResult<Json<Value>> {
    let reason = body.opt_str("reason")?.map(str::to_owned);
    let (membership, target) = match action.as_str() {
        "leave" => ("leave", auth.user_id.clone()),
        "invite" => ("invite", body.str("user_id")?.to_owned()),
        "kick" | "unban" => ("leave", body.str("user_id")?.to_owned()),
        "ban" => ("ban", body.str("user_id")?.to_owned()),
        "forget" => return Ok(Json(json!({}))),
        _ => return Err(ApiError::unrecognized()),
    };
    if action == "invite" {
        crate::appservice::ensure_user(&app, &target).await?;
    }
    if action == "invite"
        && let Ok(user) = UserId::parse(&target)
        && user.server_name() != app.server_name()
    {
        invite_remote(&app, &room_id, &auth.user_id, &user, reason).await?;
        return Ok(Json(json!({})));
    }
    if action == "leave"
        && let Some(servers) = remote_pending(&app, &room_id, &auth.user_id).await?
    {
        let room = RoomId::parse(&room_id).map_err(|e| ApiError::invalid_param(e.to_string()))?;
        federation::join::leave_remote(&app, &auth.user_id, room, servers).await?;
        return Ok(Json(json!({})));
    }
    let handle = app.clone();
    app.db(move |store| {
        if action == "unban" {
            let current = store.membership(&room_id, &target)?.map(|(m, _)| m);
            if current.as_deref() != Some("ban") {
                return Err(ApiError::forbidden(format!("{target} is not banned")));
            }
        }
        if action == "kick" {
            let current = store.membership(&room_id, &target)?.map(|(m, _)| m);
            if !matches!(current.as_deref(), Some("join" | "invite" | "knock")) {
                return Err(ApiError::forbidden(format!("{target} is not in the room")));
            }
        }
        rooms::set_membership(
            store,
            &handle,
            &room_id,
            &auth.user_id,
            &target,
            membership,
            reason.as_deref(),
        )
    })
    .await?;
    Ok(Json(json!({})))
}

/// For a leave that rejects an invite from another server (or withdraws a knock on
/// one) in a room this server is not in: the servers to leave through.
async fn remote_pending(
    app: &App,
    room_id: &str,
    user_id: &str,
) -> ApiResult<Option<Vec<ServerName>>> {
    let Ok(room) = RoomId::parse(room_id) else {
        return Ok(None);
    };
    match federation::join::remote_target(app, user_id, room_id, Vec::new()).await? {
        Some(target) if target.room_id == room => {
            let (room, user) = (room_id.to_owned(), user_id.to_owned());
            let pending = app
                .db(move |store| store.remote_membership(&room, &user))
                .await?;
            Ok(pending.map(|_| target.servers))
        }
        _ => Ok(None),
    }
}

/// `PUT /rooms/{roomId}/send/{eventType}/{txnId}`.
pub(crate) async fn send(
    State(app): State<App>,
    auth: Auth,
    Path((room_id, event_type, txn_id)): Path<(String, String, String)>,
    JsonBody(content): JsonBody,
) -> ApiResult<Json<Value>> {
    let handle = app.clone();
    let event_id = app
        .db(move |store| {
            let version = room_version(store, &room_id)?;
            let content = event_content(content, &version)?;
            let path = format!("send/{room_id}/{event_type}");
            let txn = Txn {
                device_id: &auth.device_id,
                txn_id: &txn_id,
                path: &path,
            };
            let draft = Draft::message(&event_type, content);
            rooms::send(store, &handle, &room_id, &auth.user_id, draft, Some(txn))
        })
        .await?;
    Ok(Json(json!({ "event_id": event_id.as_str() })))
}

/// `PUT /rooms/{roomId}/redact/{eventId}/{txnId}`: an `m.room.redaction` of the event,
/// with the body's optional `reason`, under the rules of [`rooms::send`] (the core's
/// `may_redact` for a local client).
pub(crate) async fn redact(
    State(app): State<App>,
    auth: Auth,
    Path((room_id, event_id, txn_id)): Path<(String, String, String)>,
    body: JsonBody,
) -> ApiResult<Json<Value>> {
    let reason = body.opt_str("reason")?.map(str::to_owned);
    let handle = app.clone();
    let event_id = app
        .db(move |store| {
            room_version(store, &room_id)?;
            let mut content = matrix_serverlib::json::Object::new();
            if let Some(reason) = reason {
                content.insert("reason", matrix_serverlib::json::Value::from(reason));
            }
            let path = format!("redact/{room_id}/{event_id}");
            let txn = Txn {
                device_id: &auth.device_id,
                txn_id: &txn_id,
                path: &path,
            };
            let draft = Draft::redaction(&event_id, content);
            rooms::send(store, &handle, &room_id, &auth.user_id, draft, Some(txn))
        })
        .await?;
    Ok(Json(json!({ "event_id": event_id.as_str() })))
}

/// `PUT /rooms/{roomId}/state/{eventType}/{stateKey}`.
pub(crate) async fn put_state(
    State(app): State<App>,
    auth: Auth,
    Path((room_id, event_type, state_key)): Path<(String, String, String)>,
    JsonBody(content): JsonBody,
) -> ApiResult<Json<Value>> {
    if app.is_rate_limited(&auth.user_id) {
        app.limiters().message.take(&auth.user_id)?;
    }
    let handle = app.clone();
    let event_id = app
        .db(move |store| {
            let version = room_version(store, &room_id)?;
            let content = event_content(content, &version)?;
            let draft = Draft::state(&event_type, &state_key, content);
            rooms::send(store, &handle, &room_id, &auth.user_id, draft, None)
        })
        .await?;
    Ok(Json(json!({ "event_id": event_id.as_str() })))
}

/// `PUT /rooms/{roomId}/state/{eventType}` (empty state key).
pub(crate) async fn put_state_empty_key(
    state: State<App>,
    auth: Auth,
    Path((room_id, event_type)): Path<(String, String)>,
    body: JsonBody,
) -> ApiResult<Json<Value>> {
    put_state(
        state,
        auth,
        Path((room_id, event_type, String::new())),
        body,
    )
    .await
}

/// `GET /rooms/{roomId}/state`: the state the user may see (the current state, or the
/// state when they left).
pub(crate) async fn get_state(
    State(app): State<App>,
    auth: Auth,
    Path(room_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let events = app
        .db(move |store| {
            let state = visible_state(store, &room_id, &auth.user_id)?;
            let mut events = Vec::with_capacity(state.len());
            for event_id in state.values() {
                if let Some(event) = store.event(event_id.as_str())? {
                    events.push(format::client_event(&event, None)?);
                }
            }
            Ok(events)
        })
        .await?;
    Ok(Json(Value::Array(events)))
}

/// `GET /rooms/{roomId}/state/{eventType}/{stateKey}`: the content, or with
/// `format=event` the whole event.
pub(crate) async fn get_state_event(
    State(app): State<App>,
    auth: Auth,
    Path((room_id, event_type, state_key)): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let whole = params.get("format") == Some("event");
    let value = app
        .db(move |store| {
            let state = visible_state(store, &room_id, &auth.user_id)?;
            let key =
                matrix_serverlib::event::StateKey::new(event_type.as_str(), state_key.as_str());
            let not_found =
                || ApiError::not_found(format!("no {event_type} state with key {state_key:?}"));
            let event_id = state.get(&key).ok_or_else(not_found)?;
            let event = store.event(event_id.as_str())?.ok_or_else(not_found)?;
            if whole {
                format::client_event(&event, None)
            } else {
                format::content(&event)
            }
        })
        .await?;
    Ok(Json(value))
}

/// `GET /rooms/{roomId}/state/{eventType}` (empty state key).
pub(crate) async fn get_state_event_empty_key(
    state: State<App>,
    auth: Auth,
    Path((room_id, event_type)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    get_state_event(
        state,
        auth,
        Path((room_id, event_type, String::new())),
        params,
    )
    .await
}

/// The room state `user` may read: current while joined, else as of when they left.
fn visible_state(
    store: &Storage,
    room_id: &str,
    user: &str,
) -> ApiResult<crate::storage::StateMap> {
    let (_, until) = visible_range(store, room_id, user)?;
    if until == i64::MAX {
        return store.current_state(room_id);
    }
    store.state_before_stream(room_id, until + 1)
}

/// `GET /rooms/{roomId}/event/{eventId}`.
pub(crate) async fn get_event(
    State(app): State<App>,
    auth: Auth,
    Path((room_id, event_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let event = app
        .db(move |store| {
            let (after, until) = visible_range(store, &room_id, &auth.user_id)?;
            let not_found = || ApiError::not_found(format!("unknown event {event_id}"));
            let event = store.event(&event_id)?.ok_or_else(not_found)?;
            if event.room_id != room_id
                || event.stream_ordering <= after
                || event.stream_ordering > until
            {
                return Err(not_found());
            }
            let viewer = Viewer {
                user_id: &auth.user_id,
                device_id: &auth.device_id,
            };
            format::client_event(&event, Some(viewer))
        })
        .await?;
    Ok(Json(event))
}

/// `GET /joined_rooms`.
pub(crate) async fn joined_rooms(State(app): State<App>, auth: Auth) -> ApiResult<Json<Value>> {
    let rooms = app
        .db(move |store| rooms::joined_rooms(store, &auth.user_id))
        .await?;
    Ok(Json(json!({ "joined_rooms": rooms })))
}

/// `GET /rooms/{roomId}/joined_members`.
pub(crate) async fn joined_members(
    State(app): State<App>,
    auth: Auth,
    Path(room_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let joined = app
        .db(move |store| {
            format::current_member_or_world_readable(store, &room_id, &auth.user_id, true)?;
            let mut joined = Map::new();
            for user in store.members_with(&room_id, "join")? {
                let event = store.current_state_event(&room_id, "m.room.member", &user)?;
                let content = event
                    .as_ref()
                    .map(format::content)
                    .transpose()?
                    .unwrap_or_default();
                joined.insert(
                    user,
                    json!({
                        "display_name": content.get("displayname"),
                        "avatar_url": content.get("avatar_url"),
                    }),
                );
            }
            Ok(joined)
        })
        .await?;
    Ok(Json(json!({ "joined": joined })))
}

/// `GET /rooms/{roomId}/members`: the member events of the state the user may see.
pub(crate) async fn members(
    State(app): State<App>,
    auth: Auth,
    Path(room_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let chunk = app
        .db(move |store| {
            let state = visible_state(store, &room_id, &auth.user_id)?;
            let mut chunk = Vec::new();
            for (key, event_id) in &state {
                if key.event_type() == "m.room.member"
                    && let Some(event) = store.event(event_id.as_str())?
                {
                    chunk.push(format::client_event(&event, None)?);
                }
            }
            Ok(chunk)
        })
        .await?;
    Ok(Json(json!({ "chunk": chunk })))
}

/// `GET /rooms/{roomId}/messages`: pages of the room's timeline, backwards (`dir=b`,
/// newest first) or forwards (`dir=f`), from a sync or pagination token.
pub(crate) async fn messages(
    State(app): State<App>,
    auth: Auth,
    Path(room_id): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let backwards = match params.get("dir").unwrap_or("b") {
        "b" => true,
        "f" => false,
        other => {
            return Err(ApiError::invalid_param(format!(
                "dir must be b or f, not {other:?}"
            )));
        }
    };
    let limit = usize::try_from(params.int("limit", 10)?.clamp(1, 1000)).unwrap_or(10);
    let from = params.get("from").map(StreamToken::parse).transpose()?;
    let to = params.get("to").map(StreamToken::parse).transpose()?;
    if backwards {
        // Paging back past the oldest event here asks the room's other servers.
        let until = from.map_or(i64::MAX, |from| from.events);
        federation::backfill::before_paging_back(&app, &room_id, until, limit).await?;
    }
    let body = app
        .db(move |store| {
            let (mut after, mut until) = visible_range(store, &room_id, &auth.user_id)?;
            let now = StreamToken {
                events: store.max_stream()?,
                ..StreamToken::default()
            };
            let start = from.unwrap_or(if backwards {
                now
            } else {
                StreamToken::default().at_event(i64::MIN)
            });
            if backwards {
                until = until.min(start.events);
                after = after.max(to.map_or(i64::MIN, |to| to.events));
            } else {
                after = after.max(start.events);
                until = until.min(to.map_or(now.events, |to| to.events));
            }
            let mut events = store.room_events(&room_id, after, until, limit, backwards)?;
            if backwards {
                events.reverse();
            }
            let viewer = Viewer {
                user_id: &auth.user_id,
                device_id: &auth.device_id,
            };
            let mut body = json!({
                "chunk": format::client_events(&events, Some(viewer))?,
                "start": start.to_string(),
            });
            if events.len() == limit
                && let Some(last) = events.last()
            {
                let end = if backwards {
                    last.stream_ordering - 1
                } else {
                    last.stream_ordering
                };
                body["end"] = json!(start.at_event(end).to_string());
            }
            Ok(body)
        })
        .await?;
    Ok(Json(body))
}

/// The room's version; `M_NOT_FOUND` for a room this server does not know.
pub(crate) fn room_version(store: &Storage, room_id: &str) -> ApiResult<RoomVersion> {
    store
        .room_version(room_id)?
        .ok_or_else(|| ApiError::not_found(format!("unknown room {room_id}")))
}

/// True when `user` may send a state event of `event_type` in the room, by the power
/// levels as the library reads them.
pub(crate) fn can_send_state(
    store: &Storage,
    room_id: &str,
    user: &str,
    event_type: &str,
) -> ApiResult<bool> {
    let version = room_version(store, room_id)?;
    let load = |event_type: &str| -> ApiResult<Option<matrix_serverlib::event::Pdu>> {
        match store.current_state_event(room_id, event_type, "")? {
            Some(event) => Ok(Some(crate::storage::parse_pdu(&event.json, &version)?)),
            None => Ok(None),
        }
    };
    let create = load("m.room.create")?
        .ok_or_else(|| ApiError::internal("state", "room without create event"))?;
    let power_levels = load("m.room.power_levels")?;
    let levels = PowerLevels::new(
        &version,
        create.as_object(),
        power_levels.as_ref().map(|p| p.as_object()),
    );
    let (Ok(level), Ok(needed)) = (
        levels.user_level(user),
        levels.required_level(event_type, true),
    ) else {
        return Ok(false);
    };
    Ok(level >= needed)
}
