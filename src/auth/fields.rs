//! Reading the event fields the rules use, tolerating absent and mistyped fields.

use crate::json::{Object, Value};

/// An empty object, standing in for absent `content`.
static EMPTY_OBJECT: Object = Object::new();

/// The string field `key` of `event`.
pub(super) fn str_field<'a>(event: &'a Object, key: &str) -> Option<&'a str> {
    event.get(key).and_then(Value::as_str)
}

/// The event's `content`, or an empty object when it is absent or not an object.
pub(super) fn content(event: &Object) -> &Object {
    event
        .get("content")
        .and_then(Value::as_object)
        .unwrap_or(&EMPTY_OBJECT)
}

/// The event's `state_key`, when it is a state event.
pub(super) fn state_key(event: &Object) -> Option<&str> {
    str_field(event, "state_key")
}

/// The server name of a user, room or legacy event ID: everything after the first
/// `:` (Synapse's `get_domain_from_id`).
pub(super) fn server_of(id: &str) -> Option<&str> {
    id.split_once(':').map(|(_, server)| server)
}
