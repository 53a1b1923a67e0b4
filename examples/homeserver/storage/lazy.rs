//! A room's events read from SQLite on demand: the first time an event is asked for it
//! is read and parsed, then kept (as is its absence) for the rest of the request. The
//! core's walks (`dag::EventSource`) and the receipt pipeline (`ingest::RoomView`)
//! read rooms this way, so a request costs what it touches, not the room's size.

use elsa::FrozenBTreeMap;

use matrix_serverlib::dag::EventSource;
use matrix_serverlib::event::Pdu;
use matrix_serverlib::id::EventId;
use matrix_serverlib::room_version::RoomVersion;

use super::{EventStatus, StateMap, Storage};

/// What one request has read; it outlives the borrows of the database that fill it,
/// so the pipeline can keep it between its polls.
#[derive(Default)]
pub(crate) struct EventCache {
    events: FrozenBTreeMap<EventId, Box<Option<(Pdu, EventStatus)>>>,
    states: FrozenBTreeMap<EventId, Box<Option<StateMap>>>,
}

/// The events of one room, through a cache.
pub(crate) struct RoomEvents<'s> {
    store: &'s Storage,
    room_id: &'s str,
    version: RoomVersion,
    cache: &'s EventCache,
}

impl<'s> RoomEvents<'s> {
    /// The events of `room_id` (of `version`) in `store`, cached in `cache`.
    pub(crate) fn new(
        store: &'s Storage,
        room_id: &'s str,
        version: RoomVersion,
        cache: &'s EventCache,
    ) -> Self {
        Self {
            store,
            room_id,
            version,
            cache,
        }
    }

    /// The event and how it is kept, when it is an event of this room. A read error
    /// counts as unknown, and is logged.
    pub(crate) fn get(&self, event_id: &EventId) -> Option<(&'s Pdu, EventStatus)> {
        let entry = match self.cache.events.get(event_id) {
            Some(entry) => entry,
            None => self
                .cache
                .events
                .insert(event_id.clone(), Box::new(self.read(event_id))),
        };
        entry.as_ref().map(|(pdu, status)| (pdu, *status))
    }

    /// The state after a timeline event of this room.
    pub(crate) fn state_after(&self, event_id: &EventId) -> Option<&'s StateMap> {
        let entry = match self.cache.states.get(event_id) {
            Some(entry) => entry,
            None => {
                let timeline = matches!(self.get(event_id), Some((_, EventStatus::Timeline)));
                let state = timeline
                    .then(|| self.store.state_after(event_id.as_str()).ok())
                    .flatten();
                self.cache.states.insert(event_id.clone(), Box::new(state))
            }
        };
        entry.as_ref()
    }

    fn read(&self, event_id: &EventId) -> Option<(Pdu, EventStatus)> {
        let stored = match self.store.event(event_id.as_str()) {
            Ok(stored) => stored?,
            Err(error) => {
                tracing::warn!("reading {event_id}: {error:?}");
                return None;
            }
        };
        if stored.room_id != self.room_id {
            return None;
        }
        let pdu = super::parse_pdu(&stored.json, &self.version).ok()?;
        Some((pdu, stored.status))
    }
}

impl EventSource for RoomEvents<'_> {
    fn event(&self, event_id: &EventId) -> Option<&Pdu> {
        self.get(event_id).map(|(pdu, _)| pdu)
    }

    fn is_rejected(&self, event_id: &EventId) -> bool {
        matches!(self.get(event_id), Some((_, EventStatus::Rejected)))
    }
}
