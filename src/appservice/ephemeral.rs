//! The ephemeral events of an application-service transaction, in the shapes Synapse
//! sends (<https://spec.matrix.org/v1.16/application-service-api/#pushing-ephemeral-data>):
//! typing and receipts carry the room ID, presence the user as `sender`.

use crate::id::{RoomId, UserId};
use crate::json::{Object, Value};

/// `{"type": "m.typing", "room_id": ..., "content": {"user_ids": [...]}}`: who is
/// typing in the room now.
#[must_use]
pub fn typing_event(room_id: &RoomId, typing: &[UserId]) -> Object {
    let users = typing
        .iter()
        .map(|user| Value::from(user.as_str()))
        .collect();
    let mut content = Object::new();
    content.insert("user_ids", Value::Array(users));
    event("m.typing", "room_id", room_id.as_str(), content)
}

/// `{"type": "m.receipt", "room_id": ..., "content": ...}` with the receipt content
/// (event ID → receipt type → user ID → receipt); give each service its own view from
/// [`ApplicationService::receipt_content`](super::ApplicationService::receipt_content).
#[must_use]
pub fn receipt_event(room_id: &RoomId, content: Object) -> Object {
    event("m.receipt", "room_id", room_id.as_str(), content)
}

/// `{"type": "m.presence", "sender": ..., "content": ...}`: a user's presence
/// (`presence`, `last_active_ago`, `status_msg`, `currently_active`).
#[must_use]
pub fn presence_event(user_id: &UserId, content: Object) -> Object {
    event("m.presence", "sender", user_id.as_str(), content)
}

fn event(event_type: &str, key: &str, id: &str, content: Object) -> Object {
    let mut out = Object::new();
    out.insert("type", Value::from(event_type));
    out.insert(key, Value::from(id));
    out.insert("content", Value::Object(content));
    out
}
