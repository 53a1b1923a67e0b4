//! What the pipeline answers: its steps, and one verdict per event.

use std::collections::BTreeMap;

use super::view::Status;
use crate::auth::Rejection;
use crate::event::StateKey;
use crate::event::{Pdu, ReceiveError};
use crate::federation::keyring::KeyNeed;
use crate::federation::outbound::{OutboundRequest, RequestId};
use crate::id::{EventId, RoomId};
use crate::state_res::ResolveError;

/// The error string Synapse answers in `/send` for a pushed event whose prev events it
/// could not obtain through `/get_missing_events`.
pub const NOT_DIVULGING: &str =
    "Your server isn't divulging details about prev_events referenced in this event.";

/// How the batch's events reached us, which decides the checks they get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Mode {
    /// From `/backfill`: old timeline events; no soft-failure, and missing prev events
    /// are filled with `/state_ids`.
    Backfilled,
    /// Auth and state events (`send_join`, `/state`, `/event_auth`): check 4 only.
    Outliers,
    /// From `/get_missing_events`: timeline events; missing prev events are filled with
    /// `/state_ids`.
    Pulled,
    /// From `/send`: missing prev events are asked with `/get_missing_events`, never
    /// taken on the sender's word.
    Pushed,
}

/// What the pipeline wants next.
#[must_use]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum IngestStep {
    /// Every event has its verdict, in an order the caller can persist (each event
    /// after its auth and prev events): one per added event, plus the events pulled in.
    Done(Vec<Outcome>),
    /// Send these requests (to the origin) and hand each reply back with
    /// [`Ingest::provide_reply`](super::Ingest::provide_reply).
    Fetch(Vec<OutboundRequest>),
    /// Hand over these servers' keys with
    /// [`Ingest::provide_keys`](super::Ingest::provide_keys).
    NeedKeys(Vec<KeyNeed>),
    /// Replies to these requests are still to come.
    Waiting(Vec<RequestId>),
}

/// The verdict on one event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Outcome {
    /// The event's position among those [added](super::Ingest::add) (from 0), or
    /// `None` for an event the pipeline pulled in.
    pub added: Option<usize>,
    /// The event's ID, when it parsed.
    pub event_id: Option<EventId>,
    /// The event as it passed checks 1 to 3 (redacted when its content hash did not
    /// match); `None` when it was dropped or skipped.
    pub pdu: Option<Pdu>,
    /// What became of it.
    pub verdict: Verdict,
}

/// What became of an event. In the spec's order of checks: dropped (1–2), rejected
/// (4–5), soft-failed (6), accepted; then the outcomes that leave the event undecided.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Verdict {
    /// Passed every check: store it as a timeline event with this state before it.
    Accepted {
        /// The state before the event.
        state_before: StateBefore,
        /// True when its content hash did not match and it was redacted.
        redacted: bool,
    },
    /// Checks 1–2, or the sanity limits: not stored.
    Dropped(DropReason),
    /// Some auth events could not be obtained: not stored, and not rejected (Synapse).
    MissingAuth {
        /// The auth events (or, in room version 12, the create event) still missing.
        missing: Vec<EventId>,
    },
    /// Events of the state before could not be obtained.
    MissingState {
        /// The events still missing.
        missing: Vec<EventId>,
    },
    /// An auth or state event pulled in along the way, checked against its own auth
    /// events only: store it as an outlier.
    Outlier {
        /// Why it was rejected, if it was: it then taints events that list it.
        rejection: Option<RejectReason>,
        /// True when it was redacted for a content hash mismatch.
        redacted: bool,
    },
    /// Check 4 or 5 failed: store it as rejected.
    Rejected {
        /// Why.
        reason: RejectReason,
        /// Which check.
        at: Check,
        /// The state before it, when check 5 computed it.
        state_before: Option<StateBefore>,
        /// True when it was redacted for a content hash mismatch.
        redacted: bool,
    },
    /// Already stored with this status: nothing to do.
    Skipped(Status),
    /// Check 6 failed: store it, but not as a forward extremity, and do not send it to
    /// clients.
    SoftFailed {
        /// The rule the current state fails.
        rejection: Rejection,
        /// The state before the event.
        state_before: StateBefore,
        /// True when it was redacted for a content hash mismatch.
        redacted: bool,
    },
    /// State resolution over the prev events' states failed on a malformed graph.
    StateUnresolvable(ResolveError),
    /// A pushed event whose prev events could not be obtained: not stored; the `/send`
    /// answer for it is [`NOT_DIVULGING`]. (Pulled and backfilled events get this when
    /// `/state_ids` at the missing prev events failed.)
    Unresolved {
        /// The prev events still missing.
        missing_prevs: Vec<EventId>,
    },
}

impl Verdict {
    /// The error for this event in a `/send` response (`{"error": ...}`), where
    /// Synapse gives one: [`NOT_DIVULGING`] for an unresolved event.
    #[must_use]
    pub fn send_error(&self) -> Option<&'static str> {
        match self {
            Self::Unresolved { .. } => Some(NOT_DIVULGING),
            _ => None,
        }
    }
}

/// The state before an accepted, soft-failed or rejected event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateBefore {
    /// The state after its one prev event, which the caller has (or persists first).
    AfterPrev(EventId),
    /// Resolved over several prev events, or built from `/state_ids`; empty for a
    /// create event.
    Resolved(BTreeMap<StateKey, EventId>),
}

/// Which check rejected an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Check {
    /// Check 4: against its own auth events.
    AuthEvents,
    /// Check 5: against the state before it.
    StateBefore,
}

/// Why an event was rejected.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RejectReason {
    /// It lists an auth event that was itself rejected.
    AuthEventRejected {
        /// That auth event.
        event_id: EventId,
    },
    /// An authorization rule failed.
    Rule(Rejection),
}

/// Why an event was dropped (checks 1–2 and the sanity limits).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DropReason {
    /// More events were added than the batch takes.
    #[error("more than {max} events in one batch")]
    BatchFull {
        /// [`MAX_ADDED_EVENTS`](super::MAX_ADDED_EVENTS).
        max: usize,
    },
    /// It references itself through its auth or prev events.
    #[error("the event's references form a cycle")]
    Cycle,
    /// The same event was added twice; the first one is processed.
    #[error("the event was added twice")]
    Duplicate,
    /// Check 1 or 2: malformed, or a required signature is missing or does not verify.
    #[error(transparent)]
    Received(#[from] ReceiveError),
    /// More than [`MAX_AUTH_EVENTS`](super::MAX_AUTH_EVENTS) auth events (Synapse's
    /// sanity check).
    #[error("{count} auth events")]
    TooManyAuthEvents {
        /// How many it lists.
        count: usize,
    },
    /// More than [`MAX_PREV_EVENTS`](super::MAX_PREV_EVENTS) prev events (Synapse's
    /// sanity check).
    #[error("{count} prev events")]
    TooManyPrevEvents {
        /// How many it lists.
        count: usize,
    },
    /// It belongs to another room.
    #[error("the event is in room {room_id}")]
    WrongRoom {
        /// Its room.
        room_id: RoomId,
    },
}
