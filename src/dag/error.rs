//! Why a walk over the event graph failed.

use crate::id::EventId;

/// Why a walk over the `auth_events` or `prev_events` graph failed.
///
/// Every variant names the events involved, so a caller can log, fetch or drop them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DagError {
    /// The references form a cycle; `event_id` lies on it (the smallest such ID).
    #[error("the {field} of {event_id} lead back to it (a cycle)")]
    Cycle {
        /// An event on the cycle.
        event_id: EventId,
        /// `auth_events` or `prev_events`.
        field: &'static str,
    },
    /// The same event was given twice in a list of events to order.
    #[error("{event_id} is given more than once")]
    DuplicateEvent {
        /// The repeated event.
        event_id: EventId,
    },
    /// An event lists the same reference twice.
    #[error("{event_id} lists {reference} twice in its {field}")]
    DuplicateReference {
        /// The event whose list repeats an entry.
        event_id: EventId,
        /// The repeated entry.
        reference: EventId,
        /// `auth_events` or `prev_events`.
        field: &'static str,
    },
    /// An event the walk needs is not available from the source.
    #[error("{event_id} is not available{}", referenced_by.as_ref().map(|by| format!(" (referenced by {by})")).unwrap_or_default())]
    MissingEvent {
        /// The missing event.
        event_id: EventId,
        /// An event that references it, when the walk reached it through a reference.
        referenced_by: Option<EventId>,
    },
    /// An event lists itself.
    #[error("{event_id} lists itself in its {field}")]
    SelfReference {
        /// The event.
        event_id: EventId,
        /// `auth_events` or `prev_events`.
        field: &'static str,
    },
    /// More distinct events than the walk can number (2^32 − 1).
    #[error("more than {max} distinct events")]
    TooManyEvents {
        /// The limit.
        max: usize,
    },
    /// The source answered a request for one event with another.
    #[error("asked for {requested}, the source answered {returned}")]
    WrongEvent {
        /// The ID asked for.
        requested: EventId,
        /// The ID of the event returned.
        returned: EventId,
    },
}
