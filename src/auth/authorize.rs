//! One call that authorizes an event completely: rule B, rule C and the
//! state-dependent rules, in the order every room version applies them
//! (<https://spec.matrix.org/v1.16/server-server-api/#checks-performed-on-receipt-of-a-pdu>).

use super::check::check;
use super::rejection::Rejection;
use super::rules::auth_events::{check_auth_events, check_room_create_event};
use super::state::{AuthEvents, CREATE};
use crate::event::{EventKind, Pdu};

/// Authorizes `pdu` against `state_before`, the room state before it.
///
/// Applies, in order:
/// * rule B (room version 12): the `room_id` names the room's create event, taken from
///   `state_before` (which, in room version 12, must hold it although events do not list
///   it);
/// * rule C: `auth_events`, the events `pdu` lists in its `auth_events` as the caller
///   fetched them by ID, are in the room, distinct, each one the selection picks, and
///   (v1–11) include the create event;
/// * rule A for a create event, rules D to M for any other, against `state_before`.
///
/// On receipt this is check 5 (`state_before` resolved over the prev events); check 4 is
/// [`authorize_by_auth_events`]. For an event being built, pass the state before it.
/// Whether a listed auth event was itself rejected is the caller's knowledge: an event
/// that lists a rejected event must be rejected too.
///
/// # Errors
///
/// The first rule that fails, as a [`Rejection`].
pub fn authorize(
    pdu: &Pdu,
    auth_events: &[&Pdu],
    state_before: &AuthEvents<'_>,
) -> Result<(), Rejection> {
    if pdu.kind() == EventKind::Create {
        return check(pdu, state_before);
    }
    check_room_create_event(pdu, state_before.get(CREATE, ""))?;
    check_auth_events(pdu, auth_events)?;
    check(pdu, state_before)
}

/// Check 4 on receipt of a PDU: [`authorize`] with the event's own `auth_events` as the
/// room state. In room version 12 pass the create event its room ID names as `create`
/// (events of that version do not list it); in other versions it is found among
/// `auth_events` and `create` is ignored unless none is listed.
///
/// # Errors
///
/// The first rule that fails, as a [`Rejection`].
pub fn authorize_by_auth_events(
    pdu: &Pdu,
    auth_events: &[&Pdu],
    create: Option<&Pdu>,
) -> Result<(), Rejection> {
    let mut state = AuthEvents::new();
    if let Some(create) = create {
        state.insert_pdu(create);
    }
    for event in auth_events {
        state.insert_pdu(event);
    }
    authorize(pdu, auth_events, &state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SigningKey;
    use crate::event::EventBuilder;
    use crate::json::{Object, Value};
    use crate::room_version::RoomVersion;

    fn key() -> SigningKey {
        SigningKey::from_seed("ed25519:1", [7; 32])
    }

    fn content(pairs: &[(&str, &str)]) -> Object {
        Object::from_entries(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
                .collect(),
        )
    }

    /// Create and the creator's join, in `version`.
    fn room(version: &RoomVersion) -> (Pdu, Pdu) {
        let mut create_content = content(&[("room_version", version.id)]);
        if !version.room_id_from_create_event {
            create_content.insert("creator", Value::from("@a:x.example"));
        }
        let mut create = EventBuilder::new(version, "@a:x.example", "m.room.create")
            .state_key("")
            .content(create_content)
            .depth(1)
            .origin_server_ts(1);
        if !version.room_id_from_create_event {
            create = create.room_id("!r:x.example");
        }
        let create = create.build("x.example", &key()).unwrap();
        let room_id = create.room_id().as_str().to_owned();
        let mut join = EventBuilder::new(version, "@a:x.example", "m.room.member")
            .room_id(&room_id)
            .state_key("@a:x.example")
            .content(content(&[("membership", "join")]))
            .prev_event(create.event_id().as_str())
            .depth(2)
            .origin_server_ts(2);
        if !version.room_id_from_create_event {
            join = join.auth_event(create.event_id().as_str());
        }
        let join = join.build("x.example", &key()).unwrap();
        (create, join)
    }

    #[test]
    fn creator_join_is_authorized_in_every_format() {
        for version in [RoomVersion::V10, RoomVersion::V11, RoomVersion::V12] {
            let (create, join) = room(&version);
            let listed: Vec<&Pdu> = if version.room_id_from_create_event {
                vec![]
            } else {
                vec![&create]
            };
            authorize_by_auth_events(&join, &listed, Some(&create)).unwrap();
            authorize(&create, &[], &AuthEvents::new()).unwrap();
        }
    }

    #[test]
    fn v12_without_the_create_event_is_rejected_by_rule_b() {
        let (_, join) = room(&RoomVersion::V12);
        assert_eq!(
            authorize_by_auth_events(&join, &[], None),
            Err(Rejection::MissingCreateEvent)
        );
    }

    #[test]
    fn v12_listing_the_create_event_is_rejected_by_rule_c() {
        let (create, join) = room(&RoomVersion::V12);
        let result = authorize_by_auth_events(&join, &[&create], Some(&create));
        assert!(matches!(result, Err(Rejection::UnexpectedAuthEvent { .. })));
    }

    #[test]
    fn v11_without_the_create_listed_is_rejected() {
        let (create, join) = room(&RoomVersion::V11);
        assert_eq!(
            authorize_by_auth_events(&join, &[], Some(&create)),
            Err(Rejection::CreateEventNotListed)
        );
    }
}
