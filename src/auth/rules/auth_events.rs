//! Rule C: the event's own `auth_events` listing, which needs no state.

use std::collections::BTreeSet;

use crate::auth::rejection::Rejection;
use crate::auth::state::{CREATE, auth_types_pdu};
use crate::event::{EventKind, Pdu, StateKey};

/// Checks the events `event` lists in its `auth_events` (rule C), under its room
/// version: each in the same room, no two with the same type and state key, each one
/// the auth-event selection picks for `event`, and (v1–11) the create event among
/// them. In room version 12 the selection never picks the create event, so listing it
/// is rejected.
///
/// Pass the listed events themselves, fetched by ID. Whether a listed event was itself
/// rejected is the caller's knowledge: an event that lists a rejected event must be
/// rejected too. A create event lists nothing and passes.
///
/// # Errors
///
/// The first problem found, as a [`Rejection`] ([`Rejection::MalformedEvent`] when
/// `event` is a member event its selection cannot be read for).
pub fn check_auth_events(event: &Pdu, auth_events: &[&Pdu]) -> Result<(), Rejection> {
    if event.kind() == EventKind::Create {
        return Ok(());
    }
    let version = event.room_version();
    let mut expected: BTreeSet<StateKey> = auth_types_pdu(event)?.into_iter().collect();
    if version.room_id_from_create_event {
        expected.remove(&StateKey::new(CREATE, ""));
    }
    let room_id = event.room_id();
    let mut seen = BTreeSet::new();
    for listed in auth_events {
        let key = StateKey::new(listed.event_type(), listed.state_key().unwrap_or_default());
        // Rule C: every listed event is in this room.
        // Rule C.2 (v12): the selection never picks the create event. Said before the
        // room check, which a v12 create event (it carries no `room_id`) would fail with
        // a misleading reason.
        if version.room_id_from_create_event && key.is(CREATE, "") {
            return Err(Rejection::UnexpectedAuthEvent { key });
        }
        if listed.room_id() != room_id {
            return Err(Rejection::AuthEventWrongRoom {
                key,
                room_id: Some(listed.room_id().as_str().to_owned()),
            });
        }
        // Rule C.1: no duplicate (type, state_key).
        if seen.contains(&key) {
            return Err(Rejection::DuplicateAuthEvent { key });
        }
        // Rule C.2: only entries the selection picks (events without a state key never
        // are).
        if listed.state_key().is_none() || !expected.contains(&key) {
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
pub fn check_room_create_event(event: &Pdu, create: Option<&Pdu>) -> Result<(), Rejection> {
    if !event.room_version().room_id_from_create_event || event.kind() == EventKind::Create {
        return Ok(());
    }
    let create = create.ok_or(Rejection::MissingCreateEvent)?;
    let room_id = event.room_id().as_str();
    let create_id = create.event_id().as_str();
    let create_hash = create_id.strip_prefix('$').unwrap_or(create_id);
    if room_id.strip_prefix('!') == Some(create_hash) {
        return Ok(());
    }
    Err(Rejection::CreateEventNotRoomId {
        room_id: Some(room_id.to_owned()),
        create_room_id: format!("!{create_hash}"),
    })
}
