//! Event IDs numbered densely, so that the walks index flat vectors instead of hashing
//! strings.
//!
//! Every `u32` node number in this module and in the graph is one this interner handed
//! out, so it is below [`Interner::len`]; vectors indexed by node numbers are grown to
//! that length before they are read.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use super::hash_index::HashIndex;
use crate::dag::DagError;
use crate::id::EventId;

/// No node.
const EMPTY: u32 = u32::MAX;

/// The most events one walk can number (node numbers stay below [`EMPTY`]).
pub(crate) const MAX_NODES: usize = (u32::MAX - 1) as usize;

/// Event IDs ↔ dense node numbers, in order of first sight.
///
/// A [`HashIndex`] of node numbers keyed by the IDs' hashes, so each ID is stored once.
/// The hasher is keyed per process (std's `RandomState`), so crafted IDs cannot force
/// collisions; hash order never reaches an output.
#[derive(Debug, Clone)]
pub(crate) struct Interner {
    ids: Vec<EventId>,
    index: HashIndex,
    hasher: RandomState,
    /// Nodes met recently, placed by the last bytes of their IDs: the events every
    /// event references (create, power levels, join rules) are found by one comparison
    /// instead of a hash. A wrong guess costs that comparison and nothing else.
    recent: [u32; RECENT],
}

/// Entries of [`Interner::recent`] (a power of two).
const RECENT: usize = 64;

/// Where `id` would sit in [`Interner::recent`].
fn recent_slot(id: &str) -> usize {
    let bytes = id.as_bytes();
    let last = |back: usize| {
        bytes
            .len()
            .checked_sub(back)
            .and_then(|index| bytes.get(index))
            .map_or(0, |&byte| usize::from(byte))
    };
    (last(1) ^ (last(2) << 3)) & (RECENT - 1)
}

impl Default for Interner {
    fn default() -> Self {
        Self {
            ids: Vec::new(),
            index: HashIndex::default(),
            hasher: RandomState::new(),
            recent: [EMPTY; RECENT],
        }
    }
}

impl Interner {
    /// Makes room for `additional` more IDs without growing the table on the way (a
    /// hint: a count too large to reserve is ignored).
    pub(crate) fn reserve(&mut self, additional: usize) {
        if self.index.reserve(additional) {
            let _ = self.ids.try_reserve(additional);
        }
    }

    /// Number of IDs.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// The ID of `node`.
    pub(crate) fn id(&self, node: u32) -> &EventId {
        // Index: node numbers come from this interner (module invariant).
        &self.ids[node as usize]
    }

    /// The node of `id`, if it has one.
    pub(crate) fn get(&self, id: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(id);
        self.find(id, hash).ok()
    }

    /// The node of `id`, numbering it if new.
    pub(crate) fn intern(&mut self, id: &EventId) -> Result<u32, DagError> {
        let place = recent_slot(id.as_str());
        let guess = self.recent[place];
        if guess != EMPTY && self.ids[guess as usize] == *id {
            return Ok(guess);
        }
        let hash = self.hasher.hash_one(id.as_str());
        let node = match self.find(id.as_str(), hash) {
            Ok(node) => node,
            Err(slot) => self.insert(id.clone(), hash, slot)?,
        };
        self.recent[place] = node;
        Ok(node)
    }

    /// Like [`Interner::intern`], taking ownership of a new ID.
    pub(crate) fn intern_owned(&mut self, id: EventId) -> Result<u32, DagError> {
        let hash = self.hasher.hash_one(id.as_str());
        match self.find(id.as_str(), hash) {
            Ok(node) => Ok(node),
            Err(slot) => self.insert(id, hash, slot),
        }
    }

    /// `Ok(node)` when present, else `Err(empty slot)` where it would go.
    fn find(&self, id: &str, hash: u64) -> Result<u32, usize> {
        let ids = &self.ids;
        self.index
            .find(hash, |node| ids[node as usize].as_str() == id)
    }

    fn insert(&mut self, id: EventId, hash: u64, slot: usize) -> Result<u32, DagError> {
        if self.ids.len() >= MAX_NODES {
            return Err(DagError::TooManyEvents { max: MAX_NODES });
        }
        self.ids.push(id);
        Ok(self.index.insert(hash, slot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_order_of_first_sight_through_reserves() {
        let mut interner = Interner::default();
        let ids: Vec<EventId> = (0..1000)
            .map(|i| format!("$e{i}:example.org").parse().unwrap())
            .collect();
        for (i, id) in ids.iter().enumerate() {
            if i % 400 == 200 {
                // Rebuilds the table around the IDs already in.
                interner.reserve(1_000);
            }
            assert_eq!(interner.intern(id).unwrap(), i as u32);
        }
        // Too many to reserve: a hint ignored.
        interner.reserve(usize::MAX);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(interner.intern(id).unwrap(), i as u32);
            assert_eq!(interner.get(id.as_str()), Some(i as u32));
            assert_eq!(interner.id(i as u32), id);
        }
        assert_eq!(interner.get("$nope:example.org"), None);
        assert_eq!(interner.len(), 1000);
    }
}
