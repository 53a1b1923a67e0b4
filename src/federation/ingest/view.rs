//! What the pipeline reads of the room: the caller's cache, behind a small synchronous
//! trait, and an in-memory implementation that applies the pipeline's outcomes.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::outcome::{Outcome, StateBefore, Verdict};
use crate::dag::EventSource;
use crate::event::Pdu;
use crate::event::StateKey;
use crate::id::EventId;
use crate::room_version::RoomVersion;
use crate::state_res;

/// How the caller stored an event it already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Status {
    /// Stored without state (an auth or state event pulled in along the way); processed
    /// again when it arrives as a timeline event.
    Outlier,
    /// Failed the authorization rules: it taints events that list it as an auth event.
    Rejected,
    /// Passed checks 1 to 5 but failed against the current state.
    SoftFailed,
    /// An accepted timeline event.
    Timeline,
}

/// An event the caller has, and how it stored it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Known<'a> {
    /// The event.
    pub pdu: &'a Pdu,
    /// How it was stored.
    pub status: Status,
}

impl<'a> Known<'a> {
    /// `pdu`, stored as `status`.
    #[must_use]
    pub fn new(pdu: &'a Pdu, status: Status) -> Self {
        Self { pdu, status }
    }
}

/// Synchronous look-ups over the caller's cache of one room. A miss is fine: the
/// pipeline fetches what it lacks from the origin, within its bounds.
pub trait RoomView {
    /// The event with this ID and its status, if the caller has it.
    fn event(&self, event_id: &EventId) -> Option<Known<'_>>;

    /// The room state after the event (its state before, plus the event itself when it
    /// is a state event that was not rejected), if the caller has it. Outliers have
    /// none.
    fn state_after(&self, event_id: &EventId) -> Option<&BTreeMap<StateKey, EventId>>;

    /// The room's forward extremities (the accepted events nothing references yet).
    fn forward_extremities(&self) -> &[EventId];

    /// The room's current state (resolved across the forward extremities).
    fn current_state(&self) -> &BTreeMap<StateKey, EventId>;

    /// The smallest depth of the room's timeline events, `None` for a room with none.
    fn min_depth(&self) -> Option<i64>;

    /// True while the room has partial state (a join with `omit_members` not yet
    /// completed): no soft-failure then, as in Synapse.
    fn is_partial_state(&self) -> bool;
}

/// A [`RoomView`] held in memory, for tests, tools and small servers: events with their
/// status, the state after each timeline event (shared between events that do not
/// change it), the forward extremities and the current state.
///
/// ```
/// use matrix_serverlib::federation::ingest::{MemoryRoom, RoomView};
/// use matrix_serverlib::room_version::RoomVersion;
///
/// let room = MemoryRoom::new(RoomVersion::V11);
/// assert!(room.forward_extremities().is_empty());
/// assert_eq!(room.min_depth(), None);
/// ```
#[derive(Debug, Clone)]
pub struct MemoryRoom {
    version: RoomVersion,
    events: BTreeMap<EventId, (Pdu, Status)>,
    states: BTreeMap<EventId, Arc<BTreeMap<StateKey, EventId>>>,
    extremities: Vec<EventId>,
    current: Arc<BTreeMap<StateKey, EventId>>,
    min_depth: Option<i64>,
    partial: bool,
}

impl MemoryRoom {
    /// An empty room of `version`.
    #[must_use]
    pub fn new(version: RoomVersion) -> Self {
        Self {
            version,
            events: BTreeMap::new(),
            states: BTreeMap::new(),
            extremities: Vec::new(),
            current: Arc::new(BTreeMap::new()),
            min_depth: None,
            partial: false,
        }
    }

    /// Marks the room as having partial state, or not.
    pub fn set_partial_state(&mut self, partial: bool) {
        self.partial = partial;
    }

    /// Stores `pdu` as an outlier (no state).
    pub fn insert_outlier(&mut self, pdu: Pdu, status: Status) {
        self.events.insert(pdu.event_id().clone(), (pdu, status));
    }

    /// Stores `pdu` as a timeline event whose state before is `state_before`, and, when
    /// `status` is not [`Status::Rejected`] or [`Status::SoftFailed`], makes it a forward
    /// extremity in place of its prev events and recomputes the current state.
    pub fn insert_timeline(
        &mut self,
        pdu: Pdu,
        status: Status,
        state_before: Arc<BTreeMap<StateKey, EventId>>,
    ) {
        let id = pdu.event_id().clone();
        let after = match (status, pdu.state_key()) {
            (Status::Rejected, _) | (_, None) => state_before,
            (_, Some(state_key)) => {
                let mut map = (*state_before).clone();
                map.insert(StateKey::new(pdu.event_type(), state_key), id.clone());
                Arc::new(map)
            }
        };
        self.states.insert(id.clone(), after);
        self.min_depth = Some(self.min_depth.map_or(pdu.depth(), |d| d.min(pdu.depth())));
        let advances = status == Status::Timeline;
        if advances {
            self.extremities.retain(|e| !pdu.prev_events().contains(e));
            self.extremities.push(id.clone());
            self.extremities.sort();
        }
        self.events.insert(id, (pdu, status));
        if advances {
            self.recompute_current();
        }
    }

    /// Stores what [`Ingest`](super::Ingest) decided: accepted, soft-failed and
    /// rejected events (with their state), outliers; nothing else. Outcomes come in an
    /// order where every event follows its auth and prev events, so applying them in
    /// order finds each state before.
    pub fn apply(&mut self, outcomes: Vec<Outcome>) {
        for outcome in outcomes {
            let Some(pdu) = outcome.pdu else { continue };
            let (status, state_before) = match outcome.verdict {
                Verdict::Accepted { state_before, .. } => (Status::Timeline, Some(state_before)),
                Verdict::SoftFailed { state_before, .. } => {
                    (Status::SoftFailed, Some(state_before))
                }
                Verdict::Rejected { state_before, .. } => (Status::Rejected, state_before),
                Verdict::Outlier {
                    rejection: None, ..
                } => (Status::Outlier, None),
                Verdict::Outlier { .. } => (Status::Rejected, None),
                _ => continue,
            };
            let before = state_before.and_then(|before| match before {
                StateBefore::AfterPrev(prev) => self.states.get(&prev).cloned(),
                StateBefore::Resolved(map) => Some(Arc::new(map)),
            });
            match before {
                Some(before) => self.insert_timeline(pdu, status, before),
                None => self.insert_outlier(pdu, status),
            }
        }
    }

    /// The current state: the state after the one extremity, or the resolution of the
    /// extremities' states (kept as it was when resolution fails).
    fn recompute_current(&mut self) {
        if let [only] = self.extremities.as_slice()
            && let Some(state) = self.states.get(only)
        {
            self.current = Arc::clone(state);
            return;
        }
        let sets: Vec<BTreeMap<StateKey, EventId>> = self
            .extremities
            .iter()
            .filter_map(|e| self.states.get(e).map(|s| (**s).clone()))
            .collect();
        if let Ok(resolved) = state_res::resolve(&self.version, &sets, &*self) {
            self.current = Arc::new(resolved.to_state_map());
        }
    }
}

impl EventSource for MemoryRoom {
    fn event(&self, event_id: &EventId) -> Option<&Pdu> {
        self.events.get(event_id).map(|(pdu, _)| pdu)
    }

    fn is_rejected(&self, event_id: &EventId) -> bool {
        self.events
            .get(event_id)
            .is_some_and(|(_, status)| *status == Status::Rejected)
    }
}

impl RoomView for MemoryRoom {
    fn event(&self, event_id: &EventId) -> Option<Known<'_>> {
        self.events
            .get(event_id)
            .map(|(pdu, status)| Known::new(pdu, *status))
    }

    fn state_after(&self, event_id: &EventId) -> Option<&BTreeMap<StateKey, EventId>> {
        self.states.get(event_id).map(|state| &**state)
    }

    fn forward_extremities(&self) -> &[EventId] {
        &self.extremities
    }

    fn current_state(&self) -> &BTreeMap<StateKey, EventId> {
        &self.current
    }

    fn min_depth(&self) -> Option<i64> {
        self.min_depth
    }

    fn is_partial_state(&self) -> bool {
        self.partial
    }
}
