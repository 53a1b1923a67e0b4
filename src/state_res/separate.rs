//! Splitting state sets into unconflicted and conflicted state, in one merge pass over
//! the sorted maps.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::collections::btree_map;
use std::iter::Peekable;

use super::entries::Entries;
use crate::auth::StateKey;
use crate::id::EventId;

/// The state sets split by key.
#[derive(Debug, Clone, Default)]
pub(super) struct Separated<'s> {
    /// Keys every set agrees on (see [`separate`]), sorted by key.
    pub(super) unconflicted: Entries<'s>,
    /// The other keys, sorted, each with its distinct event IDs (sorted).
    pub(super) conflicted: Vec<(&'s StateKey, Vec<&'s EventId>)>,
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
            let mut distinct = ids.clone();
            distinct.sort_unstable();
            distinct.dedup();
            separated.conflicted.push((key, distinct));
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
    let mut left = first.iter().peekable();
    let mut right = second.iter().peekable();
    let one_sided = |separated: &mut Separated<'s>, key: &'s StateKey, id: &'s EventId| {
        if absent_conflicts {
            separated.conflicted.push((key, vec![id]));
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
                            let mut ids = vec![left_id, right_id];
                            ids.sort_unstable();
                            separated.conflicted.push((left_key, ids));
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
