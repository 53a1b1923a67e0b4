//! The `auth_types` and `auth` operations.

use super::fields;
use super::protocol::{ErrorWord, Failure};
use crate::auth::{self, AuthEvents, Rejection};
use crate::event::{Pdu, PduError};
use crate::json::{self, Object, Value};

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
    // Like Synapse, judge only events that parse as PDUs of the version (without the
    // size and number checks of receipt, which Synapse applies elsewhere); but a
    // room-version-12 create event carrying a `room_id` is the create rules' to refuse
    // (rule A.2), as the protocol's `auth` row says.
    let pdu = match Pdu::from_object_lenient(event.clone(), &version) {
        Ok(pdu) => pdu,
        Err(PduError::ForbiddenField {
            field: "room_id", ..
        }) => {
            let rejection = Rejection::CreateHasRoomId {
                room_id: event
                    .get("room_id")
                    .map(json::to_string)
                    .unwrap_or_default(),
            };
            return Ok(answer(
                false,
                &format!("{}: {rejection}", rejection.reason()),
            ));
        }
        Err(error) => return Err(Failure::new(ErrorWord::BadInput, format!("event: {error}"))),
    };
    let listed = fields::required(request, "auth_events")?
        .as_array()
        .ok_or_else(|| {
            Failure::new(
                ErrorWord::BadInput,
                "field 'auth_events' has the wrong kind",
            )
        })?;
    let mut entries = Vec::with_capacity(listed.len());
    for entry in listed {
        let entry = entry.as_object().ok_or_else(|| {
            Failure::new(
                ErrorWord::BadInput,
                "an entry of 'auth_events' is not an object",
            )
        })?;
        let entry = Pdu::from_object_lenient(entry.clone(), &version).map_err(|error| {
            Failure::new(ErrorWord::BadInput, format!("an auth event: {error}"))
        })?;
        entries.push(entry);
    }
    let state: AuthEvents<'_> = entries.iter().collect();
    // Judged under the version the request names, which the PDUs were parsed in.
    let (allowed, reason) = match auth::check(&pdu, &state) {
        Ok(()) => (true, "allowed".to_owned()),
        Err(rejection) => (false, format!("{}: {rejection}", rejection.reason())),
    };
    Ok(answer(allowed, &reason))
}

/// The `auth` op's answer.
fn answer(allowed: bool, reason: &str) -> Object {
    let mut answer = Object::new();
    answer.insert("allowed", Value::Bool(allowed));
    answer.insert("reason", Value::from(reason));
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::ParseOptions;

    fn request(text: &str) -> Object {
        let value = json::parse(text.as_bytes(), &ParseOptions::strict()).expect("request");
        value.as_object().cloned().expect("object")
    }

    #[test]
    fn a_v12_create_event_with_a_room_id_is_refused_not_bad_input() {
        let create = r#"{"type":"m.room.create","state_key":"","sender":"@a:a.example",
            "room_id":"!r:a.example","content":{"room_version":"12"},"depth":1,
            "origin_server_ts":1,"prev_events":[],"auth_events":[],
            "hashes":{"sha256":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},"signatures":{}}"#;
        let answer = auth(&request(&format!(
            r#"{{"room_version":"12","event":{create},"auth_events":[]}}"#
        )))
        .expect("answered");
        assert_eq!(answer.get("allowed"), Some(&Value::Bool(false)));
        let reason = answer
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(reason.starts_with("create_has_room_id"), "{reason}");
        // A v11 event carrying `event_id` cannot be represented: still bad input.
        let with_id = create.replace(
            r#""room_id":"!r:a.example","#,
            r#""room_id":"!r:a.example","event_id":"$x","#,
        );
        assert!(
            auth(&request(&format!(
                r#"{{"room_version":"11","event":{with_id},"auth_events":[]}}"#
            )))
            .is_err()
        );
    }
}
