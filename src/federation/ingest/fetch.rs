//! The requests the pipeline sends, and how it reads their replies (untrusted, with
//! limits).

use std::collections::BTreeSet;

use super::machine::{Ingest, MAX_STATE_IDS, MISSING_EVENTS_LIMIT, Role, StateIds, Want};
use super::outcome::Mode;
use super::view::RoomView;
use crate::federation::outbound::{Method, OutboundRequest, RequestId};
use crate::federation::path;
use crate::id::EventId;
use crate::json::{Object, Value};

/// Most events taken from one `/get_missing_events` reply (Synapse serves at most 20).
const MAX_MISSING_EVENTS: usize = 20;

impl Ingest {
    /// The request for `want`, to the origin.
    pub(super) fn request(
        &self,
        room: &dyn RoomView,
        id: RequestId,
        want: &Want,
    ) -> OutboundRequest {
        let (method, uri, body) = match want {
            Want::Event(event) => (Method::Get, path::event(event), None),
            Want::EventAuth(event) => (Method::Get, path::event_auth(&self.room_id, event), None),
            Want::StateIds(event) => (Method::Get, path::state_ids(&self.room_id, event), None),
            Want::MissingEvents(event) => (
                Method::Post,
                path::get_missing_events(&self.room_id),
                Some(self.missing_events_body(room, event)),
            ),
        };
        OutboundRequest::new(id, self.origin.clone(), method, uri, body)
    }

    /// `{earliest_events, latest_events, limit, min_depth}`: earliest are the forward
    /// extremities and the event's prev events already known (Synapse's choice).
    fn missing_events_body(&self, room: &dyn RoomView, event: &EventId) -> Object {
        let mut earliest: BTreeSet<&EventId> = self.extremities.iter().flatten().collect();
        if let Some(node) = self.nodes.get(event) {
            earliest.extend(
                node.pdu
                    .prev_events()
                    .iter()
                    .filter(|prev| self.nodes.contains_key(*prev) || room.event(prev).is_some()),
            );
        }
        let min_depth = room.min_depth().unwrap_or(0);
        let ids = |ids: Vec<&EventId>| {
            Value::Array(ids.into_iter().map(|id| Value::from(id.as_str())).collect())
        };
        let mut body = Object::new();
        body.insert("earliest_events", ids(earliest.into_iter().collect()));
        body.insert("latest_events", ids(vec![event]));
        body.insert("limit", Value::from(MISSING_EVENTS_LIMIT));
        body.insert("min_depth", Value::from(min_depth));
        body
    }

    /// Reads a 200 reply to `want`.
    pub(super) fn take_reply(&mut self, want: &Want, body: Object) {
        match want {
            Want::Event(wanted) => {
                // `{origin, origin_server_ts, pdus: [pdu]}`: only the event asked for.
                let found = events(&body, "pdus", 1).into_iter().find(|object| {
                    crate::event::Pdu::from_object(object.clone(), &self.version)
                        .is_ok_and(|pdu| pdu.event_id() == wanted)
                });
                if let Some(object) = found {
                    self.take_fetched(object, Role::Outlier { fetched: true });
                }
            }
            Want::EventAuth(_) => {
                for object in events(&body, "auth_chain", usize::MAX) {
                    self.take_fetched(object, Role::Outlier { fetched: true });
                }
            }
            Want::MissingEvents(_) => {
                for object in events(&body, "events", MAX_MISSING_EVENTS) {
                    self.take_fetched(object, Role::Timeline(Mode::Pulled));
                }
            }
            Want::StateIds(at) => {
                let mut budget = MAX_STATE_IDS.saturating_sub(self.state_id_count);
                let answer = StateIds {
                    pdu_ids: event_ids(&body, "pdu_ids", &mut budget),
                    auth_chain_ids: event_ids(&body, "auth_chain_ids", &mut budget),
                };
                self.state_id_count = MAX_STATE_IDS - budget;
                self.state_ids.insert(at.clone(), answer);
            }
        }
    }
}

/// The first `max` objects of the array `field`.
fn events(body: &Object, field: &str, max: usize) -> Vec<Object> {
    body.get(field)
        .and_then(Value::as_array)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_object)
        .take(max)
        .cloned()
        .collect()
}

/// The event IDs of the array `field`, at most `budget` of them (which shrinks by as
/// many); entries that are not event IDs are skipped.
fn event_ids(body: &Object, field: &str, budget: &mut usize) -> Vec<EventId> {
    let ids: Vec<EventId> = body
        .get(field)
        .and_then(Value::as_array)
        .unwrap_or_default()
        .iter()
        .filter_map(|value| EventId::parse(value.as_str()?).ok())
        .take(*budget)
        .collect();
    *budget -= ids.len();
    ids
}
