//! The synchronous event lookup the graph walks and state resolution use.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::marker::PhantomData;

use crate::event::Pdu;
use crate::id::EventId;

/// Where the walks find events: an event by its ID, or `None` when the caller does not
/// have it.
///
/// Implemented for `BTreeMap<EventId, Pdu>`, `HashMap<EventId, Pdu, S>`, references to
/// sources, and closures through [`from_fn`]. The algorithms turn `None` into a typed
/// missing-data error naming the event, so the caller can fetch it and try again (or
/// use the resumable [`Resolver`](crate::state_res::Resolver), which asks first).
///
/// ```
/// use std::collections::BTreeMap;
/// use matrix_serverlib::dag::EventSource;
/// use matrix_serverlib::event::Pdu;
/// use matrix_serverlib::id::EventId;
///
/// let events: BTreeMap<EventId, Pdu> = BTreeMap::new();
/// assert!(events.event(&"$missing:example.org".parse()?).is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait EventSource {
    /// The event with ID `event_id`, or `None` when it is not available.
    fn event(&self, event_id: &EventId) -> Option<&Pdu>;

    /// True when the server rejected the event (it failed the authorization rules when
    /// received). State resolution never admits a rejected event into state nor uses
    /// it to authorise another, as Synapse does. The default: nothing is rejected.
    fn is_rejected(&self, event_id: &EventId) -> bool {
        let _ = event_id;
        false
    }
}

impl<T: EventSource + ?Sized> EventSource for &T {
    fn event(&self, event_id: &EventId) -> Option<&Pdu> {
        (**self).event(event_id)
    }

    fn is_rejected(&self, event_id: &EventId) -> bool {
        (**self).is_rejected(event_id)
    }
}

impl EventSource for BTreeMap<EventId, Pdu> {
    fn event(&self, event_id: &EventId) -> Option<&Pdu> {
        self.get(event_id)
    }
}

impl<S: BuildHasher> EventSource for HashMap<EventId, Pdu, S> {
    fn event(&self, event_id: &EventId) -> Option<&Pdu> {
        self.get(event_id)
    }
}

/// An [`EventSource`] backed by a closure; made by [`from_fn`].
#[derive(Debug, Clone, Copy)]
pub struct FnSource<'a, F> {
    lookup: F,
    events: PhantomData<&'a Pdu>,
}

/// Adapts a closure from event ID to event into an [`EventSource`] (nothing rejected).
///
/// ```
/// use matrix_serverlib::dag::{EventSource, from_fn};
///
/// let source = from_fn(|_id| None);
/// assert!(source.event(&"$e:example.org".parse()?).is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn from_fn<'a, F>(lookup: F) -> FnSource<'a, F>
where
    F: Fn(&EventId) -> Option<&'a Pdu>,
{
    FnSource {
        lookup,
        events: PhantomData,
    }
}

impl<'a, F> EventSource for FnSource<'a, F>
where
    F: Fn(&EventId) -> Option<&'a Pdu>,
{
    fn event(&self, event_id: &EventId) -> Option<&Pdu> {
        (self.lookup)(event_id)
    }
}
