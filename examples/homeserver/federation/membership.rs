//! The resident side of the membership handshakes: another server's user joins or
//! leaves a room this server is in (`make_join`/`send_join` v2, `make_leave`/
//! `send_leave` v2). The templates, the checks of what comes back and the send_join
//! answer are the core's (`federation::membership`); this module reads the room from
//! SQLite, stores the accepted event and forwards it to the room's other servers.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use serde_json::Value;

use matrix_serverlib::event::Pdu;
use matrix_serverlib::event::StateKey;
use matrix_serverlib::federation::membership::{
    Membership, SendJoinAnswer, SendMembership, TemplateParams, check_send_membership,
    make_join_template, make_knock_template, make_leave_template, send_join_auth_chain,
    send_join_response,
};
use matrix_serverlib::federation::path;
use matrix_serverlib::id::{EventId, RoomId, ServerName, UserId};
use matrix_serverlib::json::{self, Object, Value as CanonicalValue};
use matrix_serverlib::room_version::RoomVersion;

use super::inbound::{Origin, matrix_error};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::rooms;
use crate::storage::{EventCache, RoomEvents, Storage};

/// `GET /_matrix/federation/v1/make_join/{roomId}/{userId}?ver=...`.
pub(crate) async fn make_join(
    State(app): State<App>,
    OriginalUri(uri): OriginalUri,
    Path((room_id, user_id)): Path<(String, String)>,
    origin: Origin,
) -> ApiResult<Json<Value>> {
    let params = super::inbound::query_params(uri.query())?;
    let versions: Vec<String> = path::values(&params, "ver")
        .into_iter()
        .map(str::to_owned)
        .collect();
    template(&app, &room_id, &user_id, &origin, versions, Kind::Join).await
}

/// `GET /_matrix/federation/v1/make_leave/{roomId}/{userId}`.
pub(crate) async fn make_leave(
    State(app): State<App>,
    Path((room_id, user_id)): Path<(String, String)>,
    origin: Origin,
) -> ApiResult<Json<Value>> {
    template(&app, &room_id, &user_id, &origin, Vec::new(), Kind::Leave).await
}

/// `PUT /_matrix/federation/v2/send_join/{roomId}/{eventId}`: the join is checked,
/// authorized and stored; the answer is the full state before it and its auth chain
/// (the example never answers with partial state).
pub(crate) async fn send_join(
    State(app): State<App>,
    Path((room_id, event_id)): Path<(String, String)>,
    origin: Origin,
) -> ApiResult<Json<Value>> {
    let pdu = accept_membership(&app, &room_id, &event_id, &origin, Membership::Join).await?;
    let answer = app.db(move |store| join_answer(store, &pdu)).await?;
    Ok(Json(Value::from(&CanonicalValue::Object(answer))))
}

/// `PUT /_matrix/federation/v2/send_leave/{roomId}/{eventId}`.
pub(crate) async fn send_leave(
    State(app): State<App>,
    Path((room_id, event_id)): Path<(String, String)>,
    origin: Origin,
) -> ApiResult<Json<Value>> {
    accept_membership(&app, &room_id, &event_id, &origin, Membership::Leave).await?;
    Ok(Json(serde_json::json!({})))
}

/// `GET /_matrix/federation/v1/make_knock/{roomId}/{userId}?ver=...`.
pub(crate) async fn make_knock(
    State(app): State<App>,
    OriginalUri(uri): OriginalUri,
    Path((room_id, user_id)): Path<(String, String)>,
    origin: Origin,
) -> ApiResult<Json<Value>> {
    let params = super::inbound::query_params(uri.query())?;
    let versions: Vec<String> = path::values(&params, "ver")
        .into_iter()
        .map(str::to_owned)
        .collect();
    template(&app, &room_id, &user_id, &origin, versions, Kind::Knock).await
}

/// `PUT /_matrix/federation/v1/send_knock/{roomId}/{eventId}`: the knock is checked,
/// authorized and stored; the answer is the room's stripped state for the knocker's
/// client.
pub(crate) async fn send_knock(
    State(app): State<App>,
    Path((room_id, event_id)): Path<(String, String)>,
    origin: Origin,
) -> ApiResult<Json<Value>> {
    let pdu = accept_membership(&app, &room_id, &event_id, &origin, Membership::Knock).await?;
    let room = pdu.room_id().as_str().to_owned();
    let state = app
        .db(move |store| {
            let mut events = Vec::new();
            for event_type in super::invite::INVITE_STATE {
                if let Some(event) = store.current_state_event(&room, event_type, "")? {
                    events.push(crate::client::format::stripped(&event)?);
                }
            }
            Ok(events)
        })
        .await?;
    Ok(Json(serde_json::json!({ "knock_room_state": state })))
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Join,
    Knock,
    Leave,
}

/// A make_join or make_leave answer from the room's current state.
async fn template(
    app: &App,
    room_id: &str,
    user_id: &str,
    origin: &Origin,
    versions: Vec<String>,
    kind: Kind,
) -> ApiResult<Json<Value>> {
    let room = RoomId::parse(room_id).map_err(|e| ApiError::invalid_param(e.to_string()))?;
    let user = UserId::parse(user_id).map_err(|e| ApiError::invalid_param(e.to_string()))?;
    let origin_name =
        ServerName::parse(&origin.server).map_err(|e| ApiError::invalid_param(e.to_string()))?;
    let lookup = room_id.to_owned();
    let (version, state, extremities) = app.db(move |store| current_room(store, &lookup)).await?;
    let extremity_refs: Vec<&Pdu> = extremities.iter().collect();
    let params = TemplateParams::new(
        &version,
        &room,
        &user,
        &origin_name,
        &state,
        &extremity_refs,
        crate::now_ms(),
    )
    .with_remote_versions(&versions);
    let answer = match kind {
        Kind::Join => make_join_template(&params),
        Kind::Knock => make_knock_template(&params),
        Kind::Leave => make_leave_template(&params),
    }
    .map_err(|e| matrix_error(&e))?;
    Ok(Json(Value::from(&CanonicalValue::Object(answer))))
}

/// The room's version, current state and forward extremities, as PDUs.
fn current_room(
    store: &Storage,
    room_id: &str,
) -> ApiResult<(RoomVersion, BTreeMap<StateKey, Pdu>, Vec<Pdu>)> {
    let version = store
        .room_version(room_id)?
        .ok_or_else(|| ApiError::not_found(format!("unknown room {room_id}")))?;
    let mut state = BTreeMap::new();
    for (key, id) in store.current_state(room_id)? {
        state.insert(key, load(store, &id, &version)?);
    }
    let extremities = store
        .forward_extremities(room_id)?
        .iter()
        .map(|id| load(store, id, &version))
        .collect::<ApiResult<Vec<Pdu>>>()?;
    Ok((version, state, extremities))
}

/// Checks a send_join or send_leave body with the core, then authorizes and stores it.
async fn accept_membership(
    app: &App,
    room_id: &str,
    event_id: &str,
    origin: &Origin,
    membership: Membership,
) -> ApiResult<Pdu> {
    let room = RoomId::parse(room_id).map_err(|e| ApiError::invalid_param(e.to_string()))?;
    let event = EventId::parse(event_id).map_err(|e| ApiError::invalid_param(e.to_string()))?;
    let origin_name =
        ServerName::parse(&origin.server).map_err(|e| ApiError::invalid_param(e.to_string()))?;
    let our_name =
        ServerName::parse(app.server_name()).map_err(|e| ApiError::internal("name", e))?;
    let lookup = room_id.to_owned();
    let version = app
        .db(move |store| store.room_version(&lookup))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("unknown room {room_id}")))?;
    let body = origin
        .content
        .as_ref()
        .map(|content| json::to_vec(&CanonicalValue::Object(content.clone())))
        .ok_or_else(|| ApiError::not_json("send_join needs a body"))?;
    let keys = app
        .server_keys()?
        .for_events(app, std::slice::from_ref(&origin_name))
        .await?;
    let request = SendMembership::new(membership, &version, &room, &event, &origin_name, &our_name);
    let pdu = check_send_membership(&request, &body, &keys).map_err(|e| matrix_error(&e))?;
    let stored = pdu.clone();
    let skip = origin.server.clone();
    let worker = app.clone();
    app.db(move |store| rooms::accept_remote(store, &worker, &stored, None, Some(&skip)))
        .await?;
    Ok(pdu)
}

/// The send_join answer: the state before the join, its auth chain, and the event.
fn join_answer(store: &Storage, join: &Pdu) -> ApiResult<Object> {
    let version = *join.room_version();
    let state_before = rooms::state_before(store, &version, join.prev_events())?;
    let state: Vec<Pdu> = state_before
        .values()
        .map(|id| load(store, id, &version))
        .collect::<ApiResult<_>>()?;
    let ids: BTreeSet<EventId> = state_before.values().cloned().collect();
    let cache = EventCache::default();
    let source = RoomEvents::new(store, join.room_id().as_str(), version, &cache);
    let chain_ids = send_join_auth_chain(&source, &ids, join, false)
        .map_err(|e| ApiError::internal("auth chain", e))?;
    let chain: Vec<Pdu> = chain_ids
        .iter()
        .map(|id| load(store, id, &version))
        .collect::<ApiResult<_>>()?;
    let state_refs: Vec<&Pdu> = state.iter().collect();
    let chain_refs: Vec<&Pdu> = chain.iter().collect();
    let answer = SendJoinAnswer::new(&state_refs, &chain_refs).with_event(join);
    Ok(send_join_response(&answer))
}

fn load(store: &Storage, id: &EventId, version: &RoomVersion) -> ApiResult<Pdu> {
    store
        .pdu(id.as_str(), version)?
        .ok_or_else(|| ApiError::internal("load event", format!("missing {id}")))
}
