//! The `resolve` operation.

use std::collections::{BTreeMap, HashMap};

use super::fields;
use super::protocol::{ErrorWord, Failure};
use crate::event::Pdu;
use crate::event::StateKey;
use crate::id::EventId;
use crate::json::{Object, Value};
use crate::state_res::{self, ResolveError};

/// `resolve`: `room_version`, `state_sets` (lists of event IDs), `events` (every event
/// the sets and their auth chains name) → `{"state": [sorted event IDs]}`.
pub(crate) fn resolve(request: &Object) -> Result<Object, Failure> {
    let version = fields::room_version(request)?;
    let sets = fields::required(request, "state_sets")?
        .as_array()
        .ok_or_else(|| wrong_kind("state_sets"))?;
    let listed = fields::required(request, "events")?
        .as_array()
        .ok_or_else(|| wrong_kind("events"))?;
    let mut events: HashMap<EventId, Pdu> = HashMap::with_capacity(listed.len());
    for entry in listed {
        let object = entry
            .as_object()
            .ok_or_else(|| bad_input("an entry of 'events' is not an object"))?;
        let pdu = Pdu::from_object(object.clone(), &version)
            .map_err(|error| bad_input(format!("an event does not parse: {error}")))?;
        events.insert(pdu.event_id().clone(), pdu);
    }
    let mut state_sets = Vec::with_capacity(sets.len());
    for set in sets {
        let ids = set.as_array().ok_or_else(|| wrong_kind("state_sets"))?;
        let mut map = BTreeMap::new();
        for id in ids {
            let id = id.as_str().ok_or_else(|| wrong_kind("state_sets"))?;
            let pdu = events
                .get(id)
                .ok_or_else(|| bad_input(format!("state set names unknown event {id}")))?;
            let state_key = pdu
                .state_key()
                .ok_or_else(|| bad_input(format!("state set names non-state event {id}")))?;
            map.insert(
                StateKey::new(pdu.event_type(), state_key),
                pdu.event_id().clone(),
            );
        }
        state_sets.push(map);
    }
    let resolved = state_res::resolve(&version, &state_sets, &events).map_err(|error| {
        // Missing events, malformed graphs and mixed rooms are faults of the input.
        let word = match error {
            ResolveError::MissingEvent { .. }
            | ResolveError::Graph(_)
            | ResolveError::WrongRoom { .. } => ErrorWord::BadInput,
            _ => ErrorWord::Internal,
        };
        Failure::new(word, error.to_string())
    })?;
    let mut ids: Vec<&EventId> = resolved.iter().map(|(_, id)| id).collect();
    ids.sort_unstable();
    let mut answer = Object::new();
    answer.insert(
        "state",
        Value::Array(ids.into_iter().map(|id| Value::from(id.as_str())).collect()),
    );
    Ok(answer)
}

fn wrong_kind(name: &str) -> Failure {
    bad_input(format!("field '{name}' has the wrong kind"))
}

fn bad_input(message: impl Into<String>) -> Failure {
    Failure::new(ErrorWord::BadInput, message)
}
