//! Invites over federation, both sides: checking an invite a remote server sends us
//! (`PUT /v2/invite`, and the v1 fallback) and countersigning it; building the v2 body
//! of an invite we send and checking the invitee's signed copy
//! (<https://spec.matrix.org/v1.16/server-server-api/#put_matrixfederationv2inviteroomideventid>).
//!
//! `invite_room_state` comes in two forms: the legacy stripped events (`type`,
//! `state_key`, `sender`, `content`) and, since v1.16 (MSC4311), full PDUs including
//! the create event. Both are accepted on the way in; we send full PDUs.

use super::error::MembershipError;
use super::incoming::pdu_value;
use crate::crypto::{self, PublicKeys, SigningKey};
use crate::event::Pdu;
use crate::id::{EventId, RoomId, ServerName};
use crate::json::{self, Object, ParseOptions, Value};
use crate::room_version::RoomVersion;

/// The most entries of `invite_room_state` read; more is refused.
pub const MAX_INVITE_ROOM_STATE: usize = 1_000;

/// Which invite endpoint a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InviteApi {
    /// `PUT /v1/invite`: the body is the event, its room state in
    /// `unsigned.invite_room_state`, the room version 1 or 2 (taken as 1).
    V1,
    /// `PUT /v2/invite`: `{room_version, event, invite_room_state}`.
    V2,
}

/// One entry of `invite_room_state`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum InviteStateEvent {
    /// A full PDU of the room (v1.16 form).
    Pdu(Pdu),
    /// A stripped state event (legacy form).
    Stripped {
        /// `type`.
        event_type: String,
        /// `state_key`.
        state_key: String,
        /// `sender`.
        sender: String,
        /// `content`.
        content: Object,
    },
}

/// An incoming invite that passed [`check_incoming_invite`].
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingInvite {
    api: InviteApi,
    pdu: Pdu,
    room_state: Vec<InviteStateEvent>,
}

impl IncomingInvite {
    /// The invite event.
    #[must_use]
    pub fn pdu(&self) -> &Pdu {
        &self.pdu
    }

    /// The room state that came with it, in the order sent.
    #[must_use]
    pub fn room_state(&self) -> &[InviteStateEvent] {
        &self.room_state
    }

    /// The full PDUs of the room state whose signatures do not verify with `keys`
    /// (checked in one batch). Stripped entries carry no signatures.
    #[must_use]
    pub fn unverified_room_state(&self, keys: &PublicKeys) -> Vec<EventId> {
        let pdus: Vec<&Pdu> = self
            .room_state
            .iter()
            .filter_map(|entry| match entry {
                InviteStateEvent::Pdu(pdu) => Some(pdu),
                InviteStateEvent::Stripped { .. } => None,
            })
            .collect();
        let objects: Vec<&Object> = pdus.iter().map(|pdu| pdu.as_object()).collect();
        let results = crypto::verify_batch(&objects, self.pdu.room_version(), keys);
        pdus.iter()
            .zip(results)
            .filter(|(_, result)| result.is_err())
            .map(|(pdu, _)| pdu.event_id().clone())
            .collect()
    }
}

/// An incoming invite request: what the path and the authentication say.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct InviteRequest<'a> {
    /// The endpoint.
    pub api: InviteApi,
    /// The room ID in the path.
    pub room_id: &'a RoomId,
    /// The event ID in the path.
    pub event_id: &'a EventId,
    /// The authenticated requesting server.
    pub origin: &'a ServerName,
    /// This server's name.
    pub our_server: &'a ServerName,
}

impl<'a> InviteRequest<'a> {
    /// The request's parts.
    #[must_use]
    pub fn new(
        api: InviteApi,
        room_id: &'a RoomId,
        event_id: &'a EventId,
        origin: &'a ServerName,
        our_server: &'a ServerName,
    ) -> Self {
        Self {
            api,
            room_id,
            event_id,
            origin,
            our_server,
        }
    }
}

/// Checks an incoming invite: a known room version, a PDU of it with the path's room
/// and event IDs, a member event with membership `invite`, the sender on the
/// requesting server, the invitee (`state_key`) one of our users, the required
/// signatures and content hash, and `invite_room_state` in either form. Full PDUs
/// must be in the invite's room; from room version 12 (whose room ID names the create
/// event, and where the spec says the state SHOULD be checked) the create event must
/// be among them and malformed entries are refused; before, they are skipped.
///
/// # Errors
///
/// [`MembershipError::NotJson`], [`MembershipError::BadJson`],
/// [`MembershipError::UnsupportedRoomVersion`], [`MembershipError::Malformed`],
/// [`MembershipError::Mismatch`], [`MembershipError::UserNotOnOrigin`],
/// [`MembershipError::NotLocalUser`], [`MembershipError::BadSignature`],
/// [`MembershipError::InvalidRoomStateEvent`].
pub fn check_incoming_invite(
    request: &InviteRequest<'_>,
    body: &[u8],
    keys: &PublicKeys,
) -> Result<IncomingInvite, MembershipError> {
    let Value::Object(mut body) = parse(body)? else {
        return Err(bad_json("the body is not an object"));
    };
    let (version, event, state) = match request.api {
        InviteApi::V1 => {
            let state = body
                .get("unsigned")
                .and_then(|unsigned| unsigned.get("invite_room_state"))
                .cloned();
            (RoomVersion::V1, body, state)
        }
        InviteApi::V2 => {
            let id = body.get("room_version").and_then(Value::as_str);
            let id = id.ok_or_else(|| bad_json("no room_version"))?;
            let version =
                RoomVersion::from_id(id).map_err(|_| MembershipError::UnsupportedRoomVersion {
                    room_version: id.to_owned(),
                })?;
            let Some(Value::Object(event)) = body.remove("event") else {
                return Err(bad_json("no event object"));
            };
            (version, event, body.remove("invite_room_state"))
        }
    };
    let pdu = Pdu::from_object(event, &version)?;
    check_invite_event(request, &pdu, keys)?;
    let room_state = room_state(&pdu, state)?;
    Ok(IncomingInvite {
        api: request.api,
        pdu,
        room_state,
    })
}

fn check_invite_event(
    request: &InviteRequest<'_>,
    pdu: &Pdu,
    keys: &PublicKeys,
) -> Result<(), MembershipError> {
    mismatch("room_id", request.room_id.as_str(), pdu.room_id().as_str())?;
    mismatch(
        "event_id",
        request.event_id.as_str(),
        pdu.event_id().as_str(),
    )?;
    if pdu.event_type() != "m.room.member" || pdu.membership() != Some("invite") {
        return Err(bad_json("not an invite member event"));
    }
    if pdu.sender().server_name() != request.origin.as_str() {
        return Err(MembershipError::UserNotOnOrigin {
            user_id: pdu.sender().as_str().to_owned(),
            origin: request.origin.as_str().to_owned(),
        });
    }
    let invitee = pdu.state_key().unwrap_or_default();
    if invitee.split_once(':').map(|(_, server)| server) != Some(request.our_server.as_str()) {
        return Err(MembershipError::NotLocalUser {
            user_id: invitee.to_owned(),
        });
    }
    let bad = |reason: String| MembershipError::BadSignature { reason };
    crypto::verify_event_signatures(pdu.as_object(), pdu.room_version(), keys)
        .map_err(|error| bad(error.to_string()))?;
    if !pdu.content_hash_ok() {
        return Err(bad("content hash mismatch".to_owned()));
    }
    Ok(())
}

/// Reads `invite_room_state` in either form and checks it against the invite.
fn room_state(
    invite: &Pdu,
    state: Option<Value>,
) -> Result<Vec<InviteStateEvent>, MembershipError> {
    let version = invite.room_version();
    let strict = version.room_id_from_create_event;
    let entries = match state {
        None => Vec::new(),
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err(room_state_error("invite_room_state is not a list")),
    };
    if entries.len() > MAX_INVITE_ROOM_STATE {
        return Err(room_state_error("too many invite_room_state entries"));
    }
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        match state_entry(entry, version) {
            Ok(InviteStateEvent::Pdu(pdu)) if pdu.room_id() != invite.room_id() => {
                return Err(room_state_error(format!(
                    "{} is in room {}",
                    pdu.event_id(),
                    pdu.room_id()
                )));
            }
            Ok(entry) => out.push(entry),
            Err(error) if strict => return Err(error),
            // Room versions 1 to 11: checking the state is optional (MAY); a bad
            // entry is left out rather than failing the invite.
            Err(_) => {}
        }
    }
    let has_create = out.iter().any(|entry| {
        matches!(entry, InviteStateEvent::Pdu(pdu) if pdu.event_type() == "m.room.create"
            && pdu.state_key() == Some(""))
    });
    if strict && !has_create {
        return Err(room_state_error("no create event"));
    }
    Ok(out)
}

/// One entry: a full PDU when it has the fields only PDUs have, else a stripped event.
pub(super) fn state_entry(
    entry: Value,
    version: &RoomVersion,
) -> Result<InviteStateEvent, MembershipError> {
    let Value::Object(object) = entry else {
        return Err(room_state_error("an entry is not an object"));
    };
    if object.contains_key("signatures") || object.contains_key("auth_events") {
        let pdu = Pdu::from_object(object, version)
            .map_err(|error| room_state_error(error.to_string()))?;
        if !pdu.is_state() {
            return Err(room_state_error("an entry is not a state event"));
        }
        return Ok(InviteStateEvent::Pdu(pdu));
    }
    let text = |field: &str| object.get(field).and_then(Value::as_str).map(str::to_owned);
    let (Some(event_type), Some(state_key), Some(sender), Some(Value::Object(content))) = (
        text("type"),
        text("state_key"),
        text("sender"),
        object.get("content").cloned(),
    ) else {
        return Err(room_state_error("a stripped entry lacks a field"));
    };
    Ok(InviteStateEvent::Stripped {
        event_type,
        state_key,
        sender,
        content,
    })
}

/// The answer to an invite: the event with our signature added, as `{"event": ...}`
/// (v2) or `[200, {"event": ...}]` (v1).
///
/// # Errors
///
/// [`MembershipError::Signing`] when signing fails.
pub fn invite_response(
    invite: &IncomingInvite,
    our_server: &ServerName,
    key: &SigningKey,
) -> Result<Value, MembershipError> {
    let version = invite.pdu.room_version();
    let mut event = invite.pdu.as_object().clone();
    crypto::sign_event(&mut event, version, our_server.as_str(), key)
        .map_err(MembershipError::Signing)?;
    let mut body = Object::new();
    body.insert("event", Value::Object(event));
    Ok(match invite.api {
        InviteApi::V1 => Value::Array(vec![Value::from(200), Value::Object(body)]),
        InviteApi::V2 => Value::Object(body),
    })
}

/// The body of an invite we send (`PUT /v2/invite`): the room version, the signed
/// invite, and the room state as full PDUs (pass the create event among them, as
/// v1.16 requires).
#[must_use]
pub fn invite_v2_body(pdu: &Pdu, room_state: &[&Pdu]) -> Object {
    let mut body = Object::new();
    body.insert("room_version", Value::from(pdu.room_version().id));
    body.insert("event", pdu_value(pdu));
    let state = room_state.iter().map(|pdu| pdu_value(pdu)).collect();
    body.insert("invite_room_state", Value::Array(state));
    body
}

/// Checks the invitee's answer to an invite we sent (v2 `{"event"}` or v1 `[200,
/// {"event"}]`): the same event (same event ID) with a signature of `invitee_server`
/// that verifies with `keys`. Returns the countersigned invite.
///
/// # Errors
///
/// [`MembershipError::NotJson`], [`MembershipError::BadJson`],
/// [`MembershipError::Malformed`], [`MembershipError::Mismatch`] (another event),
/// [`MembershipError::BadSignature`].
pub fn check_invite_response(
    body: &[u8],
    sent: &Pdu,
    invitee_server: &ServerName,
    keys: &PublicKeys,
) -> Result<Pdu, MembershipError> {
    let value = parse(body)?;
    let holder = match &value {
        Value::Array(items) => items.get(1),
        other => Some(other),
    };
    let event = holder
        .and_then(|holder| holder.get("event"))
        .and_then(Value::as_object)
        .ok_or_else(|| bad_json("no event object"))?;
    let pdu = Pdu::from_object(event.clone(), sent.room_version())?;
    mismatch(
        "event_id",
        sent.event_id().as_str(),
        pdu.event_id().as_str(),
    )?;
    crypto::verify_json(pdu.redacted().as_object(), invitee_server.as_str(), keys).map_err(
        |error| MembershipError::BadSignature {
            reason: error.to_string(),
        },
    )?;
    Ok(pdu)
}

fn parse(body: &[u8]) -> Result<Value, MembershipError> {
    json::parse(body, &ParseOptions::lenient()).map_err(|error| MembershipError::NotJson {
        reason: error.to_string(),
    })
}

fn mismatch(field: &'static str, expected: &str, actual: &str) -> Result<(), MembershipError> {
    if expected == actual {
        return Ok(());
    }
    Err(MembershipError::Mismatch {
        field,
        expected: expected.to_owned(),
        actual: actual.to_owned(),
    })
}

fn bad_json(reason: &str) -> MembershipError {
    MembershipError::BadJson {
        reason: reason.to_owned(),
    }
}

fn room_state_error(reason: impl Into<String>) -> MembershipError {
    MembershipError::InvalidRoomStateEvent {
        reason: reason.into(),
    }
}
