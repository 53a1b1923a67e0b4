//! Rule A: `m.room.create` events, which are judged without state.

use crate::auth::fields::server_of;
use crate::auth::rejection::{AdditionalCreatorsProblem, Rejection};
use crate::event::Pdu;
use crate::id::UserId;
use crate::json::{self, Value};
use crate::room_version::RoomVersion;

/// Rule A for the create event `event`, under `version`'s rules.
pub(in crate::auth) fn check(event: &Pdu, version: &RoomVersion) -> Result<(), Rejection> {
    // Rule A.1: no prev_events.
    let count = event.prev_events().len();
    if count > 0 {
        return Err(Rejection::CreateHasPrevEvents { count });
    }
    // Rule A.2: v12 no room_id at all (a PDU of room version 12 cannot carry one: its
    // parser refuses it, `PduError::ForbiddenField`); before, the room ID is on the
    // sender's server.
    if !version.room_id_from_create_event {
        let (room_id, sender) = (event.room_id().as_str(), event.sender().as_str());
        let room_server = server_of(room_id);
        if room_server.is_none() || room_server != server_of(sender) {
            return Err(Rejection::CreateRoomIdServerMismatch {
                room_id: Some(room_id.to_owned()),
                sender: sender.to_owned(),
            });
        }
    }
    let content = event.content();
    // Rule A.3: content.room_version, if present, must be a supported version.
    if let Some(room_version) = content.get("room_version") {
        let supported = room_version
            .as_str()
            .is_some_and(|id| RoomVersion::from_id(id).is_ok());
        if !supported {
            return Err(Rejection::CreateUnsupportedRoomVersion {
                room_version: json::to_string(room_version),
            });
        }
    }
    // Rule A.4 (v1–10): content.creator is required (of any type, as in Synapse).
    if version.auth.creator_in_content && !content.contains_key("creator") {
        return Err(Rejection::CreateMissingCreator);
    }
    // Rule A.5 (v12): additional_creators, if present, is a list of user IDs.
    if version.auth.creators_infinite_power
        && let Some(creators) = content.get("additional_creators")
    {
        check_additional_creators(creators)
            .map_err(|problem| Rejection::CreateInvalidAdditionalCreators { problem })?;
    }
    // Rule A.6: allow.
    Ok(())
}

/// Rule A.5: an array of strings that each parse as a user ID (the historical
/// grammar applied to senders: Synapse checks the sigil, a `:`, the server name and
/// the 255-byte limit).
fn check_additional_creators(creators: &Value) -> Result<(), AdditionalCreatorsProblem> {
    let list = creators
        .as_array()
        .ok_or(AdditionalCreatorsProblem::NotArray)?;
    for (index, entry) in list.iter().enumerate() {
        let text = entry
            .as_str()
            .ok_or(AdditionalCreatorsProblem::NotString { index })?;
        if UserId::parse(text).is_err() {
            return Err(AdditionalCreatorsProblem::InvalidUserId {
                index,
                value: text.to_owned(),
            });
        }
    }
    Ok(())
}
