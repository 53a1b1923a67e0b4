//! The `auth_types` and `auth` operations.

use super::fields;
use super::protocol::{ErrorWord, Failure};
use crate::auth::{self, AuthEvents};
use crate::event::Pdu;
use crate::json::{Object, Value};

/// `auth_types`: `room_version`, `event` → `{"types": [[type, state_key], ...]}`,
/// sorted, the create event included (also in room version 12).
pub(crate) fn auth_types(request: &Object) -> Result<Object, Failure> {
    let version = fields::room_version(request)?;
    let event = fields::object(request, "event")?;
    let types = auth::auth_types(event, &version)
        .map_err(|error| Failure::new(ErrorWord::BadInput, error.to_string()))?;
    let types = types
        .iter()
        .map(|key| {
            Value::Array(vec![
                Value::from(key.event_type()),
                Value::from(key.state_key()),
            ])
        })
        .collect();
    let mut answer = Object::new();
    answer.insert("types", Value::Array(types));
    Ok(answer)
}

/// `auth`: `room_version`, `event`, `auth_events` → `{"allowed", "reason"}`: the
/// event judged by the rules that do not read its own `auth_events` listing, with
/// `auth_events` as the room state (later entries win).
pub(crate) fn auth(request: &Object) -> Result<Object, Failure> {
    let version = fields::room_version(request)?;
    let event = fields::object(request, "event")?;
    // Like Synapse, judge only events that parse as PDUs of the version.
    let pdu = Pdu::checked(event.clone(), &version)
        .map_err(|error| Failure::new(ErrorWord::BadInput, format!("event: {error}")))?;
    let listed = fields::required(request, "auth_events")?
        .as_array()
        .ok_or_else(|| {
            Failure::new(
                ErrorWord::BadInput,
                "field 'auth_events' has the wrong kind",
            )
        })?;
    let mut state = AuthEvents::new();
    for entry in listed {
        let entry = entry.as_object().ok_or_else(|| {
            Failure::new(
                ErrorWord::BadInput,
                "an entry of 'auth_events' is not an object",
            )
        })?;
        state.insert(entry);
    }
    // The parsed PDU's fields, as state resolution and servers judge events; the
    // object-based `auth::check` must agree, which the vector tests also check.
    let (allowed, reason) = match auth::check_pdu_as(&pdu, &state, &version) {
        Ok(()) => (true, "allowed".to_owned()),
        Err(rejection) => (false, format!("{}: {rejection}", rejection.reason())),
    };
    let mut answer = Object::new();
    answer.insert("allowed", Value::Bool(allowed));
    answer.insert("reason", Value::String(reason));
    Ok(answer)
}
