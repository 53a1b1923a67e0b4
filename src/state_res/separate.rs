//! Splitting state sets into unconflicted and conflicted state, in one merge pass over
//! the sorted maps.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::collections::btree_map;
use std::iter::Peekable;

use super::entries::Entries;
use crate::event::StateKey;
use crate::id::EventId;

/// The state sets split by key.
#[derive(Debug, Clone, Default)]
pub(super) struct Separated<'s> {
    /// Keys every set agrees on (see [`separate`]), sorted by key.
    pub(super) unconflicted: Entries<'s>,
    /// The other keys, sorted, each with where its distinct event IDs (sorted) are in
    /// `ids`: one vector for all, not one per key.
    conflicted: Vec<(&'s StateKey, usize, usize)>,
    ids: Vec<&'s EventId>,
}

impl<'s> Separated<'s> {
    /// Number of conflicted keys.
    pub(super) fn conflicted_len(&self) -> usize {
        self.conflicted.len()
    }

    /// Number of event IDs over all conflicted keys.
    pub(super) fn conflicted_ids_len(&self) -> usize {
        self.ids.len()
    }

    /// The conflicted key at `index` (in key order) and its distinct event IDs, sorted.
    pub(super) fn conflicted_at(&self, index: usize) -> Option<(&'s StateKey, &[&'s EventId])> {
        let &(key, start, end) = self.conflicted.get(index)?;
        Some((key, self.ids.get(start..end)?))
    }

    /// Each conflicted key with its distinct event IDs, in key order.
    pub(super) fn conflicted(&self) -> impl Iterator<Item = (&'s StateKey, &[&'s EventId])> + '_ {
        (0..self.conflicted.len()).filter_map(|index| self.conflicted_at(index))
    }

    /// Adds a conflicted key with its distinct event IDs, sorted.
    fn push_conflicted(&mut self, key: &'s StateKey, ids: &[&'s EventId]) {
        let start = self.ids.len();
        self.ids.extend_from_slice(ids);
        self.conflicted.push((key, start, self.ids.len()));
    }
}

/// Splits `sets` by key. A key is unconflicted when the sets that have it agree on its
/// event and, with `absent_conflicts` (state resolution v2), every set has it; every
/// other key is conflicted. State resolution v1 (Synapse; the spec says nothing) does not
/// count a key missing from some sets as a conflict.
pub(super) fn separate<'s>(
    sets: &'s [BTreeMap<StateKey, EventId>],
    absent_conflicts: bool,
) -> Separated<'s> {
    if let [first, second] = sets {
        return separate_two(first, second, absent_conflicts);
    }
    let mut heads: Vec<Peekable<btree_map::Iter<'s, StateKey, EventId>>> =
        sets.iter().map(|set| set.iter().peekable()).collect();
    let mut separated = Separated::default();
    let mut ids: Vec<&'s EventId> = Vec::with_capacity(sets.len());
    // The smallest key at the head of any set, while any is left.
    while let Some(key) = heads
        .iter_mut()
        .filter_map(|head| head.peek().map(|&(key, _)| key))
        .min()
    {
        ids.clear();
        for head in &mut heads {
            if let Some(&(head_key, id)) = head.peek()
                && head_key == key
            {
                ids.push(id);
                head.next();
            }
        }
        // `ids` is not empty: the key came from the head of some set.
        let present = ids.len();
        let agree = ids.iter().all(|&id| id == ids[0]);
        if agree && (present == sets.len() || !absent_conflicts) {
            separated.unconflicted.push(key, ids[0]);
        } else {
            ids.sort_unstable();
            ids.dedup();
            separated.push_conflicted(key, &ids);
        }
    }
    separated
}

/// [`separate`] for the common case of two state sets: one key comparison a step.
fn separate_two<'s>(
    first: &'s BTreeMap<StateKey, EventId>,
    second: &'s BTreeMap<StateKey, EventId>,
    absent_conflicts: bool,
) -> Separated<'s> {
    let mut separated = Separated::default();
    // Forks share most of their state: about the smaller set's size is unconflicted.
    separated
        .unconflicted
        .reserve(first.len().min(second.len()));
    let mut left = first.iter().peekable();
    let mut right = second.iter().peekable();
    let one_sided = |separated: &mut Separated<'s>, key: &'s StateKey, id: &'s EventId| {
        if absent_conflicts {
            separated.push_conflicted(key, &[id]);
        } else {
            separated.unconflicted.push(key, id);
        }
    };
    loop {
        match (left.peek(), right.peek()) {
            (Some(&(left_key, left_id)), Some(&(right_key, right_id))) => {
                match left_key.cmp(right_key) {
                    Ordering::Equal => {
                        if left_id == right_id {
                            separated.unconflicted.push(left_key, left_id);
                        } else {
                            let ids = if left_id < right_id {
                                [left_id, right_id]
                            } else {
                                [right_id, left_id]
                            };
                            separated.push_conflicted(left_key, &ids);
                        }
                        left.next();
                        right.next();
                    }
                    Ordering::Less => {
                        one_sided(&mut separated, left_key, left_id);
                        left.next();
                    }
                    Ordering::Greater => {
                        one_sided(&mut separated, right_key, right_id);
                        right.next();
                    }
                }
            }
            (Some(&(key, id)), None) => {
                one_sided(&mut separated, key, id);
                left.next();
            }
            (None, Some(&(key, id))) => {
                one_sided(&mut separated, key, id);
                right.next();
            }
            (None, None) => break,
        }
    }
    separated
}
