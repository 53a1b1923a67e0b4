//! The entry point of the state-dependent rules, and the rules for events of no
//! special type (D, G, I, J).

use super::fields::server_of;
use super::power_levels_reader::PowerLevels;
use super::rejection::Rejection;
use super::rules::{aliases, create, member, power_levels, redaction, third_party_invite};
use super::state::AuthEvents;
use crate::event::{EventKind, Pdu};
use crate::json::{Object, Value};
use crate::room_version::RoomVersion;

/// Checks `pdu` against the authorization rules of its room version, with `state` as
/// the room state before it.
///
/// A create event is judged by the create rules (rule A) alone. Every other event by
/// the rules that read state, D to M. The rules that read only the event's own auth
/// events are apart: C, its `auth_events` listing, is
/// [`check_auth_events`](super::check_auth_events), and B (v12: the room ID names
/// the create event) is [`check_room_create_event`](super::check_room_create_event);
/// [`authorize`](super::authorize) applies all of them. Sizes, signatures
/// (including rule F.2, the authorising server's signature of a restricted join) and
/// hashes are checked when the PDU is received.
///
/// `state` must hold the entries [`auth_types`](super::auth_types) lists (more do no
/// harm); in room version 12 that includes the create event.
///
/// ```
/// use matrix_serverlib::auth::{AuthEvents, check};
/// use matrix_serverlib::event::Pdu;
/// use matrix_serverlib::room_version::RoomVersion;
///
/// let pdu = |text: &str| Pdu::from_bytes(text.as_bytes(), &RoomVersion::V2);
/// let create = pdu(r#"{"event_id":"$c:x.org","type":"m.room.create","state_key":"",
///     "sender":"@a:x.org","room_id":"!r:x.org","content":{"creator":"@a:x.org"},
///     "prev_events":[],"auth_events":[],"depth":1,"origin_server_ts":1,"hashes":{},
///     "signatures":{}}"#)?;
/// let join = pdu(r#"{"event_id":"$j:x.org","type":"m.room.member","state_key":"@a:x.org",
///     "sender":"@a:x.org","room_id":"!r:x.org","content":{"membership":"join"},
///     "prev_events":[],"auth_events":[],"depth":2,"origin_server_ts":2,"hashes":{},
///     "signatures":{}}"#)?;
/// let message = pdu(r#"{"event_id":"$m:x.org","type":"m.room.message","sender":"@a:x.org",
///     "room_id":"!r:x.org","content":{"body":"hi"},"prev_events":[],
///     "auth_events":[],"depth":3,"origin_server_ts":3,"hashes":{},"signatures":{}}"#)?;
/// let state: AuthEvents<'_> = [&create, &join].into_iter().collect();
/// check(&message, &state)?;
///
/// let stranger = pdu(r#"{"event_id":"$s:y.org","type":"m.room.message","sender":"@b:y.org",
///     "room_id":"!r:x.org","content":{"body":"hi"},"prev_events":[],
///     "auth_events":[],"depth":3,"origin_server_ts":3,"hashes":{},"signatures":{}}"#)?;
/// let result = check(&stranger, &state);
/// assert_eq!(result.map_err(|rejection| rejection.reason()), Err("sender_not_joined"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// The first rule the event fails, as a [`Rejection`].
pub fn check(pdu: &Pdu, state: &AuthEvents<'_>) -> Result<(), Rejection> {
    check_as(pdu, state, pdu.room_version())
}

/// [`check`] under the rules of `version` (state resolution applies the room's).
pub(crate) fn check_as(
    pdu: &Pdu,
    state: &AuthEvents<'_>,
    version: &RoomVersion,
) -> Result<(), Rejection> {
    let sender = pdu.sender().as_str();
    let kind = pdu.kind();
    // Every rule that compares servers reads the sender's (Synapse rejects a sender
    // without one).
    if server_of(sender).is_none() {
        return Err(Rejection::MalformedEvent { field: "sender" });
    }
    // Rule A: create events.
    if kind == EventKind::Create {
        return create::check(pdu, version);
    }
    // Synapse: "missing a create event in auth_events". Nothing can be judged without it.
    let create = state.create().ok_or(Rejection::MissingCreateEvent)?;
    let event = Event {
        pdu,
        sender,
        state_key: pdu.state_key(),
        membership: pdu.membership(),
        state,
        version,
        create,
        levels: PowerLevels::new(
            version,
            create.as_object(),
            state.power_levels().map(Pdu::as_object),
        ),
    };
    // Rule D: m.federate.
    event.check_federation(sender)?;
    // Rule E (v1–5): m.room.aliases.
    if version.auth.aliases_rule && kind == EventKind::Aliases {
        return aliases::check(&event);
    }
    // Rule F: m.room.member.
    if kind == EventKind::Member {
        return member::check(&event);
    }
    check_other(&event, pdu.event_type(), kind)
}

/// Rules G to M, for events of any type but create, aliases (v1–5) and member.
fn check_other(event: &Event<'_>, event_type: &str, kind: EventKind) -> Result<(), Rejection> {
    let sender = event.sender;
    // Rule G: the sender must be joined.
    let membership = event.state.membership_of(sender);
    if membership != Some("join") {
        return Err(Rejection::SenderNotJoined {
            sender: sender.to_owned(),
            membership: membership.map(str::to_owned),
        });
    }
    // Rule H: m.room.third_party_invite needs the invite level.
    if kind == EventKind::ThirdPartyInvite {
        return third_party_invite::check_event(event);
    }
    // Rule I: the sender needs the level the event type requires.
    let state_key = event.state_key;
    let needed = event
        .levels
        .required_level(event_type, state_key.is_some())?;
    let level = event.levels.user_level(sender)?;
    if level < needed {
        return Err(Rejection::InsufficientPower {
            event_type: event_type.to_owned(),
            level,
            needed,
        });
    }
    // Rule J: state keys starting with `@` belong to their user.
    if let Some(state_key) = state_key
        && state_key.starts_with('@')
        && state_key != sender
    {
        return Err(Rejection::StateKeyNotSender {
            state_key: state_key.to_owned(),
            sender: sender.to_owned(),
        });
    }
    // Rule K: m.room.power_levels.
    if kind == EventKind::PowerLevels {
        return power_levels::check(event);
    }
    // Rule L (v1–2): m.room.redaction.
    if event.version.auth.redaction_rule && kind == EventKind::Redaction {
        return redaction::check(event);
    }
    // Rule M: allow.
    Ok(())
}

/// The event under judgement and what every rule reads.
pub(super) struct Event<'a> {
    /// The PDU.
    pub(super) pdu: &'a Pdu,
    /// Its sender.
    pub(super) sender: &'a str,
    /// Its state key, for state events.
    pub(super) state_key: Option<&'a str>,
    /// Its `content.membership`, when a string.
    pub(super) membership: Option<&'a str>,
    /// The state it is checked against.
    pub(super) state: &'a AuthEvents<'a>,
    /// The room version.
    pub(super) version: &'a RoomVersion,
    /// The state's create event.
    pub(super) create: &'a Pdu,
    /// Power levels from the state.
    pub(super) levels: PowerLevels<'a>,
}

impl Event<'_> {
    /// The event's content.
    pub(super) fn content(&self) -> &Object {
        self.pdu.content()
    }

    /// Rule D: if the room does not federate, `user` must be on the creator's server.
    ///
    /// The spec blocks only when `m.federate` is `false`; Synapse federates only when it
    /// is absent or exactly `true`, so any other value blocks too. Synapse compares the
    /// servers of the create event's sender (not the room ID) and the user.
    pub(super) fn check_federation(&self, user: &str) -> Result<(), Rejection> {
        // A federating room (the usual case) needs no server compared.
        if matches!(
            self.create.content().get("m.federate"),
            None | Some(Value::Bool(true))
        ) {
            return Ok(());
        }
        let create_server = server_of(self.create.sender().as_str());
        if create_server == server_of(user) {
            return Ok(());
        }
        Err(Rejection::NotFederated {
            user: user.to_owned(),
            create_server: create_server.unwrap_or_default().to_owned(),
        })
    }
}
