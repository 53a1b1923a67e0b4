//! Events as clients see them (the spec's `ClientEvent`), stream tokens, and what part
//! of a room's history a user may read.

use serde_json::{Map, Value, json};

use matrix_serverlib::event::ClientEvent;
use matrix_serverlib::room_version::RoomVersion;

use crate::error::{ApiError, ApiResult};
use crate::storage::{Storage, StoredEvent, parse_pdu};

/// Who is looking: the user and the device of their access token.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Viewer<'a> {
    /// The user.
    pub(crate) user_id: &'a str,
    /// Their device.
    pub(crate) device_id: &'a str,
}

/// A stored event in the client format (the library's [`ClientEvent`]), with
/// `unsigned.age`, `unsigned.transaction_id` when the viewer's own device sent it, and
/// `unsigned.redacted_because` when it was redacted.
pub(crate) fn client_event(event: &StoredEvent, viewer: Option<Viewer<'_>>) -> ApiResult<Value> {
    let version = event
        .room_version
        .as_deref()
        .and_then(|id| RoomVersion::from_id(id).ok())
        .ok_or_else(|| ApiError::internal("stored event", "room of unknown version"))?;
    let pdu = parse_pdu(&event.json, &version)?;
    let mut client = ClientEvent::new(&pdu).now(crate::now_ms());
    if let (Some(viewer), Some((device, txn_id))) = (viewer, &event.txn)
        && pdu.sender().as_str() == viewer.user_id
        && device == viewer.device_id
    {
        client = client.transaction_id(txn_id);
    }
    Ok(Value::from(&client.to_object()))
}

/// Several events in the client format.
pub(crate) fn client_events(
    events: &[StoredEvent],
    viewer: Option<Viewer<'_>>,
) -> ApiResult<Vec<Value>> {
    events
        .iter()
        .map(|event| client_event(event, viewer))
        .collect()
}

/// A stripped state event (for invites): type, state key, sender and content.
pub(crate) fn stripped(event: &StoredEvent) -> ApiResult<Value> {
    let pdu: Map<String, Value> =
        serde_json::from_str(&event.json).map_err(|e| ApiError::internal("stored event", e))?;
    Ok(json!({
        "type": pdu.get("type"),
        "state_key": pdu.get("state_key"),
        "sender": pdu.get("sender"),
        "content": pdu.get("content"),
    }))
}

/// A position in the server's streams: events, receipts and typing. Written
/// `s{events}_{receipts}_{typing}`; `/messages` reads only the event part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StreamToken {
    /// The last event stream ordering included.
    pub(crate) events: i64,
    /// The last receipt stream ID included.
    pub(crate) receipts: i64,
    /// The typing serial included.
    pub(crate) typing: u64,
}

impl StreamToken {
    /// Parses a token this server issued.
    ///
    /// # Errors
    ///
    /// `M_INVALID_PARAM` for anything else.
    pub(crate) fn parse(text: &str) -> ApiResult<Self> {
        let invalid = || ApiError::invalid_param(format!("unknown stream token {text:?}"));
        let rest = text.strip_prefix('s').ok_or_else(invalid)?;
        let mut parts = rest.split('_');
        let mut next = || parts.next().ok_or_else(invalid);
        let events = next()?.parse().map_err(|_| invalid())?;
        let receipts = next()?.parse().map_err(|_| invalid())?;
        let typing = next()?.parse().map_err(|_| invalid())?;
        Ok(Self {
            events,
            receipts,
            typing,
        })
    }

    /// The token with another event position.
    pub(crate) fn at_event(self, events: i64) -> Self {
        Self { events, ..self }
    }
}

impl std::fmt::Display for StreamToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s{}_{}_{}", self.events, self.receipts, self.typing)
    }
}

/// The part of a room's event stream a user may read: `(after, until]`. (History
/// backfilled from other servers sits at negative stream orderings, before everything
/// this server saw live.)
///
/// Joined users see everything; users who left or were banned see up to the event that
/// ended their membership, if they ever joined. Rooms whose history visibility is
/// `joined` or `invited` hide what came before the user's first join or invite;
/// `world_readable` rooms are open to all. (This reads the current history visibility,
/// not the one at each event: a simplification of the spec's rules.)
///
/// # Errors
///
/// `M_NOT_FOUND` for an unknown room, `M_FORBIDDEN` when the user may read nothing.
pub(crate) fn visible_range(
    store: &Storage,
    room_id: &str,
    user_id: &str,
) -> ApiResult<(i64, i64)> {
    if store.room_version(room_id)?.is_none() {
        return Err(ApiError::not_found(format!("unknown room {room_id}")));
    }
    let visibility = store
        .current_state_event(room_id, "m.room.history_visibility", "")?
        .and_then(|event| content_str(&event, "history_visibility"))
        .unwrap_or_else(|| "shared".to_owned());
    let after = match visibility.as_str() {
        "joined" => store
            .first_membership(room_id, user_id, &["join"])?
            .map(|s| s - 1),
        "invited" => store
            .first_membership(room_id, user_id, &["join", "invite"])?
            .map(|s| s - 1),
        // Everything, including history backfilled from before the room came here.
        _ => Some(i64::MIN),
    };
    let until = match store.membership(room_id, user_id)? {
        Some((membership, _)) if membership == "join" => Some(i64::MAX),
        Some((membership, stream)) if membership == "leave" || membership == "ban" => store
            .first_membership(room_id, user_id, &["join"])?
            .map(|_| stream),
        _ => None,
    };
    if visibility == "world_readable" {
        return Ok((i64::MIN, until.unwrap_or(i64::MAX)));
    }
    match (after, until) {
        (Some(after), Some(until)) => Ok((after, until)),
        _ => Err(ApiError::forbidden(format!(
            "{user_id} is not in room {room_id}"
        ))),
    }
}

/// Who may read what a room is now (its joined members, its aliases), as Synapse
/// gates it: current members, and anyone when the history is `world_readable`, except
/// that with `departed_refused` (`/joined_members`) a user who was a member and no
/// longer is gets `M_FORBIDDEN` even then.
///
/// # Errors
///
/// `M_NOT_FOUND` for an unknown room, `M_FORBIDDEN` for anyone else.
pub(crate) fn current_member_or_world_readable(
    store: &Storage,
    room_id: &str,
    user_id: &str,
    departed_refused: bool,
) -> ApiResult<()> {
    if store.room_version(room_id)?.is_none() {
        return Err(ApiError::not_found(format!("unknown room {room_id}")));
    }
    let membership = store.membership(room_id, user_id)?;
    if matches!(&membership, Some((m, _)) if m == "join") {
        return Ok(());
    }
    let world_readable = store
        .current_state_event(room_id, "m.room.history_visibility", "")?
        .and_then(|event| content_str(&event, "history_visibility"))
        .is_some_and(|visibility| visibility == "world_readable");
    let departed = matches!(&membership, Some((m, _)) if m == "leave" || m == "ban");
    if world_readable && !(departed_refused && departed) {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "{user_id} is not a member of room {room_id}"
    )))
}

/// A string in a stored event's content.
pub(crate) fn content_str(event: &StoredEvent, field: &str) -> Option<String> {
    let pdu: Value = serde_json::from_str(&event.json).ok()?;
    pdu.get("content")?.get(field)?.as_str().map(str::to_owned)
}

/// A stored event's content.
pub(crate) fn content(event: &StoredEvent) -> ApiResult<Value> {
    let mut pdu: Map<String, Value> =
        serde_json::from_str(&event.json).map_err(|e| ApiError::internal("stored event", e))?;
    Ok(pdu.remove("content").unwrap_or_else(|| json!({})))
}
