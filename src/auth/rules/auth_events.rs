//! Rule C: the event's own `auth_events` listing, which needs no state.

use std::collections::BTreeSet;

use crate::auth::fields::{state_key, str_field};
use crate::auth::rejection::Rejection;
use crate::auth::state::{CREATE, auth_types};
use crate::event::StateKey;
use crate::json::Object;
use crate::room_version::RoomVersion;

/// Checks the events `event` lists in its `auth_events` (rule C): each in the same
/// room, no two with the same type and state key, each one the auth-event selection
/// picks for `event`, and (v1–11) the create event among them. In room version 12 the
/// selection never picks the create event, so listing it is rejected.
///
/// Pass the listed events themselves, fetched by ID. Whether a listed event was itself
/// rejected is the caller's knowledge: an event that lists a rejected event must be
/// rejected too. A create event lists nothing and passes.
///
/// # Errors
///
/// The first problem found, as a [`Rejection`] ([`Rejection::MalformedEvent`] when
/// `event` has no `type` or `sender`).
pub fn check_auth_events(
    event: &Object,
    auth_events: &[&Object],
    version: &RoomVersion,
) -> Result<(), Rejection> {
    let event_type = str_field(event, "type").ok_or(Rejection::MalformedEvent { field: "type" })?;
    if event_type == CREATE {
        return Ok(());
    }
    let mut expected: BTreeSet<StateKey> = auth_types(event, version)?.into_iter().collect();
    if version.room_id_from_create_event {
        expected.remove(&StateKey::new(CREATE, ""));
    }
    let room_id = str_field(event, "room_id");
    let mut seen = BTreeSet::new();
    for listed in auth_events {
        let key = StateKey::new(
            str_field(listed, "type").unwrap_or_default(),
            state_key(listed).unwrap_or_default(),
        );
        // Rule C: every listed event is in this room.
        // Rule C.2 (v12): the selection never picks the create event. Said before the
        // room check, which a v12 create event (it carries no `room_id`) would fail with
        // a misleading reason.
        if version.room_id_from_create_event && key.is(CREATE, "") {
            return Err(Rejection::UnexpectedAuthEvent { key });
        }
        let listed_room = str_field(listed, "room_id");
        if listed_room != room_id {
            return Err(Rejection::AuthEventWrongRoom {
                key,
                room_id: listed_room.map(str::to_owned),
            });
        }
        // Rule C.1: no duplicate (type, state_key).
        if seen.contains(&key) {
            return Err(Rejection::DuplicateAuthEvent { key });
        }
        // Rule C.2: only entries the selection picks (events without a state key never
        // are).
        if state_key(listed).is_none() || !expected.contains(&key) {
            return Err(Rejection::UnexpectedAuthEvent { key });
        }
        seen.insert(key);
    }
    // Rule C.4 (v1–11): the create event must be listed.
    if !version.room_id_from_create_event && !seen.contains(&StateKey::new(CREATE, "")) {
        return Err(Rejection::CreateEventNotListed);
    }
    Ok(())
}

/// Rule B (room version 12): the event's `room_id` must name `create`, the room's
/// accepted create event, which the caller fetched by the event ID the room ID gives
/// ([`RoomId::create_event_id`](crate::id::RoomId::create_event_id)); `None` when it
/// is unknown or was rejected. Other room versions, and create events, pass.
///
/// Like rule C this reads no room state: Synapse applies it with the event's own auth
/// events (it counts the create event named by the room ID among them), not in the
/// state-dependent rules of [`check`](crate::auth::check).
///
/// # Errors
///
/// [`Rejection::MissingCreateEvent`] without a create event,
/// [`Rejection::CreateEventNotRoomId`] when the room ID names another event.
pub fn check_room_create_event(
    event: &Object,
    create: Option<&Object>,
    version: &RoomVersion,
) -> Result<(), Rejection> {
    if !version.room_id_from_create_event || str_field(event, "type") == Some(CREATE) {
        return Ok(());
    }
    let create = create.ok_or(Rejection::MissingCreateEvent)?;
    let room_id = str_field(event, "room_id");
    let create_event_id = crate::crypto::event_id(create, version).ok();
    let create_hash = create_event_id
        .as_ref()
        .and_then(|id| id.as_str().strip_prefix('$'))
        .unwrap_or_default();
    if room_id.and_then(|id| id.strip_prefix('!')) == Some(create_hash) {
        return Ok(());
    }
    Err(Rejection::CreateEventNotRoomId {
        room_id: room_id.map(str::to_owned),
        create_room_id: format!("!{create_hash}"),
    })
}
