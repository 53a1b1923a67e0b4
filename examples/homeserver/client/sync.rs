//! `GET /sync`: initial and incremental sync with `since` tokens, long-polling up to
//! `timeout`, an inline JSON filter or a stored filter ID (timeline `limit` and
//! `include_leave`), joined, invited and left rooms, timelines with `limited` and
//! `prev_batch`, state, typing and receipts
//! (<https://spec.matrix.org/v1.16/client-server-api/#get_matrixclientv3sync>).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value, json};

use super::format::{self, StreamToken, Viewer};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::{Auth, Params};
use crate::storage::{StateMap, Storage, StoredEvent};

/// The timeline length without a filter.
const DEFAULT_TIMELINE_LIMIT: usize = 10;
/// The longest a client may ask the server to wait.
const MAX_TIMEOUT_MS: i64 = 60_000;
/// State types an invitee sees (the spec's recommended stripped state).
const INVITE_STATE_TYPES: [&str; 7] = [
    "m.room.avatar",
    "m.room.canonical_alias",
    "m.room.create",
    "m.room.encryption",
    "m.room.join_rules",
    "m.room.name",
    "m.room.topic",
];

/// What one `/sync` request asks for.
#[derive(Debug, Clone)]
struct Request {
    user_id: String,
    device_id: String,
    since: Option<StreamToken>,
    full_state: bool,
    timeline_limit: usize,
    include_leave: bool,
}

/// `GET /sync`.
pub(crate) async fn sync(
    State(app): State<App>,
    auth: Auth,
    params: Params,
) -> ApiResult<Json<Value>> {
    let _open = app.enter_sync(&auth.user_id)?;
    let since = params.get("since").map(StreamToken::parse).transpose()?;
    let timeout = Duration::from_millis(
        u64::try_from(params.int("timeout", 0)?.clamp(0, MAX_TIMEOUT_MS)).unwrap_or(0),
    );
    let filter = match params.get("filter") {
        None => Value::Null,
        Some(text) if text.trim_start().starts_with('{') => serde_json::from_str(text)
            .map_err(|e| ApiError::invalid_param(format!("filter is not JSON: {e}")))?,
        Some(id) => stored_filter(&app, &auth.user_id, id).await?,
    };
    let room_filter = &filter["room"];
    let request = Request {
        user_id: auth.user_id,
        device_id: auth.device_id,
        since,
        full_state: params.get("full_state") == Some("true"),
        timeline_limit: room_filter["timeline"]["limit"]
            .as_u64()
            .and_then(|limit| usize::try_from(limit).ok())
            .unwrap_or(DEFAULT_TIMELINE_LIMIT)
            .clamp(1, 1000),
        include_leave: room_filter["include_leave"].as_bool().unwrap_or(false),
    };
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        // Subscribe before looking, so that a change made meanwhile still wakes us.
        let mut changes = app.subscribe();
        let (handle, current) = (app.clone(), request.clone());
        let (body, has_updates) = app
            .db(move |store| compute(store, &handle, &current))
            .await?;
        if has_updates || request.since.is_none() || request.full_state {
            return Ok(Json(body));
        }
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => continue,
            // Timed out (or the server is shutting down): answer with no news.
            _ => return Ok(Json(body)),
        }
    }
}

async fn stored_filter(app: &App, user_id: &str, id: &str) -> ApiResult<Value> {
    let filter_id: i64 = id
        .parse()
        .map_err(|_| ApiError::invalid_param(format!("unknown filter {id:?}")))?;
    let user = user_id.to_owned();
    let text = app
        .db(move |store| store.filter(&user, filter_id))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("unknown filter {filter_id}")))?;
    serde_json::from_str(&text).map_err(|e| ApiError::internal("stored filter", e))
}

/// One sync response, and whether it reports anything new.
fn compute(store: &Storage, app: &App, request: &Request) -> ApiResult<(Value, bool)> {
    // Read the positions first: anything that lands while we look is sent again next
    // time rather than lost.
    let now = StreamToken {
        events: store.max_stream()?,
        receipts: store.max_receipt_stream()?,
        typing: app.typing_serial(),
    };
    let mut join = Map::new();
    let mut invite = Map::new();
    let mut knock = Map::new();
    let mut leave = Map::new();
    for (room_id, membership, member_stream) in store.memberships(&request.user_id)? {
        // Memberships that changed after `now` belong to the next sync.
        if member_stream > now.events {
            continue;
        }
        let changed = request
            .since
            .is_none_or(|since| member_stream > since.events);
        match membership.as_str() {
            "join" => {
                if let Some(room) = joined_room(store, app, request, &room_id, member_stream, now)?
                {
                    join.insert(room_id, room);
                }
            }
            "invite" if changed => {
                invite.insert(
                    room_id.clone(),
                    invited_room(store, &room_id, &request.user_id)?,
                );
            }
            "knock" if changed => {
                let events = stripped_state(store, &room_id, &request.user_id)?;
                knock.insert(
                    room_id.clone(),
                    json!({ "knock_state": { "events": events } }),
                );
            }
            "leave" | "ban" if changed && (request.since.is_some() || request.include_leave) => {
                leave.insert(
                    room_id.clone(),
                    left_room(store, request, &room_id, member_stream)?,
                );
            }
            _ => {}
        }
    }
    let presence = presence_events(store, app, request)?;
    let has_updates = !(join.is_empty()
        && invite.is_empty()
        && knock.is_empty()
        && leave.is_empty()
        && presence.is_empty());
    let body = json!({
        "next_batch": now.to_string(),
        "rooms": { "join": join, "invite": invite, "knock": knock, "leave": leave },
        "presence": { "events": presence },
        "account_data": { "events": [] },
        "to_device": { "events": [] },
        "device_lists": { "changed": [], "left": [] },
        "device_one_time_keys_count": {},
    });
    Ok((body, has_updates))
}

/// Presence changes since the last sync of the users sharing a room with the user.
fn presence_events(store: &Storage, app: &App, request: &Request) -> ApiResult<Vec<Value>> {
    let since = request.since.map_or(0, |since| since.typing);
    let changed = app.presence_since(since);
    if changed.is_empty() {
        return Ok(Vec::new());
    }
    let visible: std::collections::BTreeSet<String> = store
        .users_sharing_a_room(&request.user_id)?
        .into_iter()
        .collect();
    Ok(changed
        .iter()
        .filter(|(user, _)| *user == request.user_id || visible.contains(user))
        .map(|(user, presence)| {
            json!({
                "type": "m.presence",
                "sender": user,
                "content": super::ephemeral::presence_content(presence),
            })
        })
        .collect())
}

/// A joined room's section, or `None` when nothing changed since the last sync.
fn joined_room(
    store: &Storage,
    app: &App,
    request: &Request,
    room_id: &str,
    member_stream: i64,
    now: StreamToken,
) -> ApiResult<Option<Value>> {
    let since = request.since;
    let after = since.map_or(0, |since| since.events);
    let newly_joined = since.is_none_or(|since| member_stream > since.events);
    let (events, limited) = timeline(store, room_id, after, now.events, request.timeline_limit)?;
    let ephemeral = ephemeral(store, app, request, room_id)?;
    if events.is_empty() && ephemeral.is_empty() && !newly_joined && !request.full_state {
        return Ok(None);
    }
    let timeline_start = events
        .first()
        .map_or(now.events + 1, |event| event.stream_ordering);
    let state_at_start = store.state_before_stream(room_id, timeline_start)?;
    let state = if newly_joined || request.full_state {
        state_at_start
    } else if limited {
        // The state changes that fell in the gap between `since` and the timeline.
        let before = store.state_before_stream(room_id, after + 1)?;
        state_at_start
            .into_iter()
            .filter(|(key, id)| before.get(key) != Some(id))
            .collect()
    } else {
        StateMap::new()
    };
    let viewer = Viewer {
        user_id: &request.user_id,
        device_id: &request.device_id,
    };
    let prev_batch = now.at_event(timeline_start - 1);
    Ok(Some(json!({
        "timeline": {
            "events": format::client_events(&events, Some(viewer))?,
            "limited": limited,
            "prev_batch": prev_batch.to_string(),
        },
        "state": { "events": state_events(store, &state)? },
        "ephemeral": { "events": ephemeral },
        "account_data": { "events": [] },
        "summary": summary(store, room_id)?,
        "unread_notifications": {},
    })))
}

/// The newest `limit` events in `(after, until]`, and whether older ones were left out.
fn timeline(
    store: &Storage,
    room_id: &str,
    after: i64,
    until: i64,
    limit: usize,
) -> ApiResult<(Vec<StoredEvent>, bool)> {
    let mut events = store.room_events(room_id, after, until, limit + 1, true)?;
    let limited = events.len() > limit;
    if limited {
        events.remove(0);
    }
    Ok((events, limited))
}

/// Typing and receipts since the last sync.
fn ephemeral(
    store: &Storage,
    app: &App,
    request: &Request,
    room_id: &str,
) -> ApiResult<Vec<Value>> {
    let mut events = Vec::new();
    let typing_since = request.since.map_or(0, |since| since.typing);
    if let Some(users) = app.typing_since(room_id, typing_since) {
        events.push(json!({ "type": "m.typing", "content": { "user_ids": users } }));
    }
    let receipts_since = request.since.map_or(0, |since| since.receipts);
    let mut content: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for receipt in store.receipts_since(room_id, receipts_since)? {
        // Private receipts are for their owner's eyes only.
        if receipt.receipt_type == "m.read.private" && receipt.user_id != request.user_id {
            continue;
        }
        let by_type = content.entry(receipt.event_id).or_default();
        let users = by_type
            .entry(receipt.receipt_type)
            .or_insert_with(|| json!({}));
        users[receipt.user_id.as_str()] = json!({ "ts": receipt.ts });
    }
    if !content.is_empty() {
        events.push(json!({ "type": "m.receipt", "content": content }));
    }
    Ok(events)
}

/// An invited room: the stripped state the invitee may see, with the invite itself.
fn invited_room(store: &Storage, room_id: &str, user_id: &str) -> ApiResult<Value> {
    Ok(json!({ "invite_state": { "events": stripped_state(store, room_id, user_id)? } }))
}

/// The stripped state of a room for an invitee or a knocker, their own member event
/// last: what another server sent along (an invite from it, or the answer to a knock
/// on it), else the room's current state here.
fn stripped_state(store: &Storage, room_id: &str, user_id: &str) -> ApiResult<Vec<Value>> {
    let mut events = Vec::new();
    if let Some(remote) = store.remote_membership(room_id, user_id)? {
        events = serde_json::from_str(&remote.stripped_state)
            .map_err(|e| ApiError::internal("stripped state", e))?;
    }
    let types = if events.is_empty() {
        INVITE_STATE_TYPES.as_slice()
    } else {
        &[]
    };
    for event_type in types {
        if let Some(event) = store.current_state_event(room_id, event_type, "")? {
            events.push(format::stripped(&event)?);
        }
    }
    if let Some(event) = store.current_state_event(room_id, "m.room.member", user_id)? {
        events.push(format::stripped(&event)?);
    }
    Ok(events)
}

/// A room the user left (or was kicked or banned from): the timeline up to that point.
fn left_room(
    store: &Storage,
    request: &Request,
    room_id: &str,
    member_stream: i64,
) -> ApiResult<Value> {
    let after = request.since.map_or(0, |since| since.events);
    let (events, limited) = timeline(store, room_id, after, member_stream, request.timeline_limit)?;
    let timeline_start = events
        .first()
        .map_or(member_stream, |event| event.stream_ordering);
    let state = store.state_before_stream(room_id, timeline_start)?;
    let viewer = Viewer {
        user_id: &request.user_id,
        device_id: &request.device_id,
    };
    Ok(json!({
        "timeline": {
            "events": format::client_events(&events, Some(viewer))?,
            "limited": limited,
            "prev_batch": StreamToken::default().at_event(timeline_start - 1).to_string(),
        },
        "state": { "events": state_events(store, &state)? },
        "account_data": { "events": [] },
    }))
}

fn state_events(store: &Storage, state: &StateMap) -> ApiResult<Vec<Value>> {
    let mut events = Vec::with_capacity(state.len());
    for event_id in state.values() {
        if let Some(event) = store.event(event_id.as_str())? {
            events.push(format::client_event(&event, None)?);
        }
    }
    Ok(events)
}

/// Member counts and heroes.
fn summary(store: &Storage, room_id: &str) -> ApiResult<Value> {
    let joined = store.members_with(room_id, "join")?;
    let invited = store.members_with(room_id, "invite")?;
    let heroes: Vec<&String> = joined.iter().chain(&invited).take(5).collect();
    Ok(json!({
        "m.joined_member_count": joined.len(),
        "m.invited_member_count": invited.len(),
        "m.heroes": heroes,
    }))
}
