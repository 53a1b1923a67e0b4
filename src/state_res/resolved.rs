//! The answer of state resolution.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::iter::Peekable;

use super::entries::Entries;
use crate::auth::Rejection;
use crate::event::StateKey;
use crate::id::EventId;

/// The resolved state, and the events the authorization rules kept out of it.
///
/// The unconflicted entries are borrowed from the input state sets (no copy of a
/// large room's state); the entries of conflicted keys are owned. Iteration is in key
/// order.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved<'s> {
    unconflicted: Entries<'s>,
    conflicted: BTreeMap<StateKey, EventId>,
    rejected: BTreeMap<EventId, Rejection>,
}

impl<'s> Resolved<'s> {
    /// Assembles an answer; `conflicted` must not share keys with `unconflicted`.
    pub(super) fn new(
        unconflicted: Entries<'s>,
        conflicted: BTreeMap<StateKey, EventId>,
        rejected: BTreeMap<EventId, Rejection>,
    ) -> Self {
        Self {
            unconflicted,
            conflicted,
            rejected,
        }
    }

    /// The event at `(event_type, state_key)`.
    #[must_use]
    pub fn get(&self, event_type: &str, state_key: &str) -> Option<&EventId> {
        if let Some(id) = self.unconflicted.get(event_type, state_key) {
            return Some(id);
        }
        self.conflicted.get(&StateKey::new(event_type, state_key))
    }

    /// Every entry of the resolved state, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&StateKey, &EventId)> + '_ {
        Merge {
            left: self.unconflicted.iter().peekable(),
            right: self.conflicted.iter().peekable(),
        }
    }

    /// Number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.unconflicted.len() + self.conflicted.len()
    }

    /// True when the state is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries of keys that were conflicted (or new, from the auth chains), as
    /// resolved: the part of the state that the resolution decided. A conflicted key
    /// absent here was resolved to nothing.
    #[must_use]
    pub fn conflicted(&self) -> &BTreeMap<StateKey, EventId> {
        &self.conflicted
    }

    /// The events that failed the authorization rules during resolution, with why.
    /// (Events the caller marked rejected are skipped, not listed.)
    #[must_use]
    pub fn rejected(&self) -> &BTreeMap<EventId, Rejection> {
        &self.rejected
    }

    /// The resolved state as an owned map.
    #[must_use]
    pub fn to_state_map(&self) -> BTreeMap<StateKey, EventId> {
        self.iter()
            .map(|(key, id)| (key.clone(), id.clone()))
            .collect()
    }
}

/// Merges two key-sorted iterators with disjoint keys.
struct Merge<
    'a,
    L: Iterator<Item = (&'a StateKey, &'a EventId)>,
    R: Iterator<Item = (&'a StateKey, &'a EventId)>,
> {
    left: Peekable<L>,
    right: Peekable<R>,
}

impl<'a, L, R> Iterator for Merge<'a, L, R>
where
    L: Iterator<Item = (&'a StateKey, &'a EventId)>,
    R: Iterator<Item = (&'a StateKey, &'a EventId)>,
{
    type Item = (&'a StateKey, &'a EventId);

    fn next(&mut self) -> Option<Self::Item> {
        let order = match (self.left.peek(), self.right.peek()) {
            (Some((left, _)), Some((right, _))) => left.cmp(right),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => return None,
        };
        if order == Ordering::Greater {
            self.right.next()
        } else {
            self.left.next()
        }
    }
}
