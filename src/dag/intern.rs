//! Event IDs numbered densely, so that the walks index flat vectors instead of hashing
//! strings.
//!
//! Every `u32` node number in this module and in the graph is one this interner handed
//! out, so it is below [`Interner::len`]; vectors indexed by node numbers are grown to
//! that length before they are read.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use super::DagError;
use crate::id::EventId;

/// Marks an empty slot in the open-addressing table.
const EMPTY: u32 = u32::MAX;

/// An empty slot.
const FREE: Slot = Slot {
    node: EMPTY,
    tag: 0,
};

/// One slot of the table: a node and the high half of its ID's hash, so that a probe
/// rejects most other IDs without reading them.
#[derive(Debug, Clone, Copy)]
struct Slot {
    node: u32,
    tag: u32,
}

/// The part of a hash kept in a slot (the low bits pick the slot).
fn tag(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// The most events one walk can number (node numbers stay below [`EMPTY`]).
pub(crate) const MAX_NODES: usize = (u32::MAX - 1) as usize;

/// Event IDs ↔ dense node numbers, in order of first sight.
///
/// An open-addressing table of node numbers keyed by the IDs' hashes, so each ID is
/// stored once. The hasher is keyed per process (std's `RandomState`), so crafted IDs
/// cannot force collisions; hash order never reaches an output.
#[derive(Debug, Clone)]
pub(crate) struct Interner {
    ids: Vec<EventId>,
    hashes: Vec<u64>,
    slots: Vec<Slot>,
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
            hashes: Vec::new(),
            slots: vec![FREE; 16],
            hasher: RandomState::new(),
            recent: [EMPTY; RECENT],
        }
    }
}

impl Interner {
    /// Makes room for `additional` more IDs without growing the table on the way.
    pub(crate) fn reserve(&mut self, additional: usize) {
        // A hint: a count too large to reserve is ignored, and the table grows only
        // for IDs that found room.
        if self.ids.try_reserve(additional).is_err() || self.hashes.try_reserve(additional).is_err()
        {
            return;
        }
        let wanted = self
            .ids
            .len()
            .saturating_add(additional)
            .saturating_mul(2)
            .checked_next_power_of_two()
            .unwrap_or(self.slots.len());
        if wanted > self.slots.len() {
            self.grow_to(wanted);
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
        let mask = self.slots.len() - 1;
        let mut slot = (hash as usize) & mask;
        let wanted = tag(hash);
        loop {
            // Index: `slot` is masked to the table's power-of-two length.
            let Slot { node, tag } = self.slots[slot];
            if node == EMPTY {
                return Err(slot);
            }
            if tag == wanted && self.ids[node as usize].as_str() == id {
                return Ok(node);
            }
            slot = (slot + 1) & mask;
        }
    }

    fn insert(&mut self, id: EventId, hash: u64, slot: usize) -> Result<u32, DagError> {
        let node = self.ids.len();
        if node >= MAX_NODES {
            return Err(DagError::TooManyEvents { max: MAX_NODES });
        }
        let node = node as u32;
        self.ids.push(id);
        self.hashes.push(hash);
        // Index: `find` returned an empty slot of the current table.
        self.slots[slot] = Slot {
            node,
            tag: tag(hash),
        };
        // Keep the load factor at most one half.
        if self.ids.len() * 2 > self.slots.len() {
            self.grow();
        }
        Ok(node)
    }

    fn grow(&mut self) {
        self.grow_to(self.slots.len() * 2);
    }

    /// Rebuilds the table with `len` slots (a power of two, above twice the IDs).
    fn grow_to(&mut self, len: usize) {
        let mask = len - 1;
        let mut slots = vec![FREE; len];
        for (node, &hash) in self.hashes.iter().enumerate() {
            let mut slot = (hash as usize) & mask;
            while slots[slot].node != EMPTY {
                slot = (slot + 1) & mask;
            }
            slots[slot] = Slot {
                node: node as u32,
                tag: tag(hash),
            };
        }
        self.slots = slots;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserving_keeps_every_number() {
        let mut interner = Interner::default();
        let ids: Vec<EventId> = (0..300)
            .map(|i| format!("$r{i}:example.org").parse().unwrap())
            .collect();
        for (i, id) in ids.iter().enumerate() {
            if i % 100 == 50 {
                // Rebuilds the table around the IDs already in.
                interner.reserve(1_000);
            }
            assert_eq!(interner.intern(id).unwrap(), i as u32);
        }
        interner.reserve(usize::MAX);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(interner.get(id.as_str()), Some(i as u32));
        }
    }

    #[test]
    fn numbers_in_order_of_first_sight() {
        let mut interner = Interner::default();
        let ids: Vec<EventId> = (0..1000)
            .map(|i| format!("$e{i}:example.org").parse().unwrap())
            .collect();
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(interner.intern(id).unwrap(), i as u32);
        }
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(interner.intern(id).unwrap(), i as u32);
            assert_eq!(interner.get(id.as_str()), Some(i as u32));
            assert_eq!(interner.id(i as u32), id);
        }
        assert_eq!(interner.get("$nope:example.org"), None);
        assert_eq!(interner.len(), 1000);
    }
}
