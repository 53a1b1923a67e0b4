//! Typing notifications, presence, read receipts and read markers, and sync filters.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use matrix_serverlib::appservice;
use matrix_serverlib::federation::edu::{Edu, PresenceUpdate, UserReceipt};
use matrix_serverlib::id::{EventId, RoomId, UserId};
use matrix_serverlib::json::{Object, Value as CanonicalValue};

use crate::app::{App, Presence};
use crate::error::{ApiError, ApiResult};
use crate::federation::sender::broadcast_edu;
use crate::http::{Auth, JsonBody};
use crate::rooms::object;
use crate::storage::{Receipt, Storage};

/// The longest typing notification a client may ask for.
const MAX_TYPING_MS: u64 = 120_000;

/// `PUT /rooms/{roomId}/typing/{userId}`.
pub(crate) async fn typing(
    State(app): State<App>,
    auth: Auth,
    Path((room_id, user_id)): Path<(String, String)>,
    body: JsonBody,
) -> ApiResult<Json<Value>> {
    if user_id != auth.user_id {
        return Err(ApiError::forbidden(
            "cannot set another user's typing state",
        ));
    }
    let typing = body
        .opt_bool("typing")?
        .ok_or_else(|| ApiError::missing_param("typing"))?;
    let timeout = body
        .0
        .get("timeout")
        .and_then(Value::as_u64)
        .unwrap_or(30_000);
    let room = room_id.clone();
    app.db(move |store| require_joined(store, &room, &user_id))
        .await?;
    let timeout = typing.then(|| Duration::from_millis(timeout.min(MAX_TYPING_MS)));
    app.set_typing(&room_id, &auth.user_id, timeout);
    if !app.appservices().is_empty()
        && let Ok(room) = RoomId::parse(&room_id)
    {
        let typing: Vec<UserId> = app
            .typing_since(&room_id, 0)
            .unwrap_or_default()
            .iter()
            .filter_map(|user| UserId::parse(user).ok())
            .collect();
        let handle = app.clone();
        app.db(move |store| {
            let targets = crate::appservice::ephemeral_targets(store, &handle, room.as_str());
            let event = appservice::typing_event(&room, &typing);
            crate::appservice::push_ephemeral(store, &handle, &targets, &event);
            Ok(())
        })
        .await?;
    }
    if let (Ok(room), Ok(user)) = (RoomId::parse(&room_id), UserId::parse(&auth.user_id)) {
        broadcast_edu(&app, &room_id, Edu::typing(room, user, typing)).await;
    }
    Ok(Json(json!({})))
}

/// `PUT /presence/{userId}/status`: a user sets their own presence, which goes to every
/// server sharing a room with them.
pub(crate) async fn set_presence(
    State(app): State<App>,
    auth: Auth,
    Path(user_id): Path<String>,
    body: JsonBody,
) -> ApiResult<Json<Value>> {
    if user_id != auth.user_id {
        return Err(ApiError::forbidden("cannot set another user's presence"));
    }
    let state = body
        .opt_str("presence")?
        .ok_or_else(|| ApiError::missing_param("presence"))?;
    if !matches!(state, "online" | "unavailable" | "offline") {
        return Err(ApiError::invalid_param(format!(
            "unknown presence {state:?}"
        )));
    }
    let status_msg = body.opt_str("status_msg")?.map(str::to_owned);
    let presence = Presence {
        presence: state.to_owned(),
        status_msg: status_msg.clone(),
        currently_active: state == "online",
        last_active_ts: crate::now_ms(),
    };
    app.set_presence(&user_id, presence);
    if let (Some(sender), Ok(user)) = (app.sender().cloned(), UserId::parse(&user_id)) {
        let lookup = user_id.clone();
        let ours = app.server_name().to_owned();
        let users = app
            .db(move |store| store.users_sharing_a_room(&lookup))
            .await?;
        let mut servers: Vec<String> = users
            .iter()
            .filter_map(|user| UserId::parse(user).ok())
            .map(|user| user.server_name().to_owned())
            .filter(|server| *server != ours)
            .collect();
        servers.sort();
        servers.dedup();
        let mut update = PresenceUpdate::new(user, state);
        update.status_msg = status_msg;
        update.currently_active = Some(state == "online");
        update.last_active_ago = Some(0);
        let edu = Edu::presence(vec![update]);
        for server in servers {
            sender.push_edu(&app, &server, edu.clone());
        }
    }
    Ok(Json(json!({})))
}

/// `GET /presence/{userId}/status`.
pub(crate) async fn get_presence(
    State(app): State<App>,
    _auth: Auth,
    Path(user_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let presence = app
        .presence(&user_id)
        .ok_or_else(|| ApiError::not_found(format!("no presence known for {user_id}")))?;
    Ok(Json(presence_content(&presence)))
}

/// The content of an `m.presence` event.
pub(crate) fn presence_content(presence: &Presence) -> Value {
    let mut content = json!({
        "presence": presence.presence,
        "last_active_ago": (crate::now_ms() - presence.last_active_ts).max(0),
        "currently_active": presence.currently_active,
    });
    if let Some(message) = &presence.status_msg {
        content["status_msg"] = json!(message);
    }
    content
}

/// `POST /rooms/{roomId}/receipt/{receiptType}/{eventId}`.
pub(crate) async fn receipt(
    State(app): State<App>,
    auth: Auth,
    Path((room_id, receipt_type, event_id)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    if !matches!(
        receipt_type.as_str(),
        "m.read" | "m.read.private" | "m.fully_read"
    ) {
        return Err(ApiError::invalid_param(format!(
            "unknown receipt type {receipt_type:?}"
        )));
    }
    put_receipts(
        &app,
        auth.user_id.clone(),
        room_id.clone(),
        vec![(receipt_type.clone(), event_id.clone())],
    )
    .await?;
    // Only public read receipts leave the server.
    if receipt_type == "m.read"
        && let (Ok(room), Ok(user), Ok(event)) = (
            RoomId::parse(&room_id),
            UserId::parse(&auth.user_id),
            EventId::parse(&event_id),
        )
    {
        let mut data = Object::new();
        data.insert("ts", CanonicalValue::from(crate::now_ms()));
        let receipt = UserReceipt::new(vec![event], data);
        broadcast_edu(&app, &room_id, Edu::receipt(room, "m.read", user, receipt)).await;
    }
    Ok(Json(json!({})))
}

/// `POST /rooms/{roomId}/read_markers`.
pub(crate) async fn read_markers(
    State(app): State<App>,
    auth: Auth,
    Path(room_id): Path<String>,
    body: JsonBody,
) -> ApiResult<Json<Value>> {
    let mut receipts = Vec::new();
    for receipt_type in ["m.fully_read", "m.read", "m.read.private"] {
        if let Some(event_id) = body.opt_str(receipt_type)? {
            receipts.push((receipt_type.to_owned(), event_id.to_owned()));
        }
    }
    put_receipts(&app, auth.user_id, room_id, receipts).await?;
    Ok(Json(json!({})))
}

/// Stores read receipts (the fully-read marker is room account data, which this server
/// does not keep: it is accepted and checked, then dropped).
async fn put_receipts(
    app: &App,
    user_id: String,
    room_id: String,
    receipts: Vec<(String, String)>,
) -> ApiResult<()> {
    let handle = app.clone();
    app.db(move |store| {
        require_joined(store, &room_id, &user_id)?;
        for (receipt_type, event_id) in receipts {
            let event = store.event(&event_id)?;
            if event.is_none_or(|event| event.room_id != room_id) {
                return Err(ApiError::not_found(format!("unknown event {event_id}")));
            }
            if receipt_type == "m.fully_read" {
                continue;
            }
            let ts = crate::now_ms();
            receipt_to_appservices(
                store,
                &handle,
                &room_id,
                &user_id,
                &receipt_type,
                &event_id,
                ts,
            );
            store.put_receipt(&Receipt {
                room_id: room_id.clone(),
                user_id: user_id.clone(),
                receipt_type,
                event_id,
                ts,
            })?;
        }
        Ok(())
    })
    .await?;
    app.notify();
    Ok(())
}

/// Queues a receipt for the application services that get the room's ephemeral
/// events, each with the content the core lets it see (`receipt_content`).
fn receipt_to_appservices(
    store: &mut Storage,
    app: &App,
    room_id: &str,
    user_id: &str,
    receipt_type: &str,
    event_id: &str,
    ts: i64,
) {
    let Ok(room) = RoomId::parse(room_id) else {
        return;
    };
    let targets = crate::appservice::ephemeral_targets(store, app, room_id);
    if targets.is_empty() {
        return;
    }
    let receipt = object([("ts", CanonicalValue::from(ts))]);
    let by_user = object([(user_id, CanonicalValue::Object(receipt))]);
    let by_type = object([(receipt_type, CanonicalValue::Object(by_user))]);
    let content = object([(event_id, CanonicalValue::Object(by_type))]);
    for id in targets {
        let Some(service) = app.appservices().get(&id) else {
            continue;
        };
        if let Some(visible) = service.receipt_content(&content) {
            let event = appservice::receipt_event(&room, visible);
            crate::appservice::push_ephemeral(store, app, &[id], &event);
        }
    }
}

fn require_joined(store: &Storage, room_id: &str, user_id: &str) -> ApiResult<()> {
    if store.room_version(room_id)?.is_none() {
        return Err(ApiError::not_found(format!("unknown room {room_id}")));
    }
    match store.membership(room_id, user_id)? {
        Some((membership, _)) if membership == "join" => Ok(()),
        _ => Err(ApiError::forbidden(format!(
            "{user_id} is not in room {room_id}"
        ))),
    }
}

/// `POST /user/{userId}/filter`.
pub(crate) async fn create_filter(
    State(app): State<App>,
    auth: Auth,
    Path(user_id): Path<String>,
    JsonBody(filter): JsonBody,
) -> ApiResult<Json<Value>> {
    if user_id != auth.user_id {
        return Err(ApiError::forbidden(
            "cannot create filters for another user",
        ));
    }
    let text = Value::Object(filter).to_string();
    let filter_id = app
        .db(move |store| store.insert_filter(&user_id, &text))
        .await?;
    Ok(Json(json!({ "filter_id": filter_id.to_string() })))
}

/// `GET /user/{userId}/filter/{filterId}`.
pub(crate) async fn get_filter(
    State(app): State<App>,
    auth: Auth,
    Path((user_id, filter_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let not_found = || ApiError::not_found(format!("unknown filter {filter_id}"));
    if user_id != auth.user_id {
        return Err(ApiError::forbidden("cannot read another user's filters"));
    }
    let id: i64 = filter_id.parse().map_err(|_| not_found())?;
    let text = app
        .db(move |store| store.filter(&user_id, id))
        .await?
        .ok_or_else(not_found)?;
    serde_json::from_str(&text)
        .map(Json)
        .map_err(|e| ApiError::internal("stored filter", e))
}
