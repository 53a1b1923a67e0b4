//! A table of dense numbers found by hash: the index behind the event-ID interner and
//! state resolution's numbering of state keys. What each number stands for is kept by
//! the caller, which tells candidates apart itself; the table keeps each number's hash,
//! so that it grows without hashing again.

/// The number of an empty slot.
const EMPTY: u32 = u32::MAX;

/// One slot: a number and the high half of its hash, so that a probe rejects most
/// other entries without the caller comparing them.
#[derive(Debug, Clone, Copy)]
struct Slot {
    number: u32,
    tag: u32,
}

/// An empty slot.
const FREE: Slot = Slot {
    number: EMPTY,
    tag: 0,
};

/// The part of a hash kept in a slot (the low bits pick the slot).
fn tag(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// Open addressing with linear probing, at most half full. Numbers are handed out in
/// order from 0; callers stop before `u32::MAX`.
#[derive(Debug, Clone)]
pub(crate) struct HashIndex {
    slots: Vec<Slot>,
    /// Per number, its hash.
    hashes: Vec<u64>,
}

impl Default for HashIndex {
    fn default() -> Self {
        Self {
            slots: vec![FREE; 16],
            hashes: Vec::new(),
        }
    }
}

impl HashIndex {
    /// `Ok(number)` of the entry with `hash` for which `is` holds, else `Err(slot)`
    /// where a new entry with that hash goes.
    pub(crate) fn find(&self, hash: u64, mut is: impl FnMut(u32) -> bool) -> Result<u32, usize> {
        let mask = self.slots.len() - 1;
        let mut slot = (hash as usize) & mask;
        let wanted = tag(hash);
        loop {
            // Index: `slot` is masked to the table's power-of-two length.
            let Slot { number, tag } = self.slots[slot];
            if number == EMPTY {
                return Err(slot);
            }
            if tag == wanted && is(number) {
                return Ok(number);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Hands the next number to a new entry with `hash`, placed at `slot` (returned by
    /// [`HashIndex::find`] since the last change).
    pub(crate) fn insert(&mut self, hash: u64, slot: usize) -> u32 {
        let number = self.hashes.len() as u32;
        self.hashes.push(hash);
        // Index: `find` returned an empty slot of the current table.
        self.slots[slot] = Slot {
            number,
            tag: tag(hash),
        };
        if self.hashes.len() * 2 > self.slots.len() {
            self.grow_to(self.slots.len() * 2);
        }
        number
    }

    /// Makes room for `additional` more entries without growing the table on the way.
    /// A hint: `false`, and nothing reserved, when that many cannot be.
    pub(crate) fn reserve(&mut self, additional: usize) -> bool {
        if self.hashes.try_reserve(additional).is_err() {
            return false;
        }
        let wanted = self
            .hashes
            .len()
            .saturating_add(additional)
            .saturating_mul(2)
            .checked_next_power_of_two();
        match wanted {
            Some(len) if len > self.slots.len() => self.grow_to(len),
            Some(_) => {}
            None => return false,
        }
        true
    }

    /// Rebuilds the table with `len` slots (a power of two, above twice the entries).
    fn grow_to(&mut self, len: usize) {
        let mask = len - 1;
        let mut slots = vec![FREE; len];
        for (number, &hash) in (0..).zip(&self.hashes) {
            let mut slot = (hash as usize) & mask;
            while slots[slot].number != EMPTY {
                slot = (slot + 1) & mask;
            }
            slots[slot] = Slot {
                number,
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
    fn colliding_hashes_get_their_own_numbers() {
        let mut index = HashIndex::default();
        // Every entry hashes alike: the caller's comparison tells them apart.
        let values: Vec<u32> = (0..100).map(|value| value * 7).collect();
        for (number, value) in (0..).zip(&values) {
            let slot = index
                .find(42, |known| values[known as usize] == *value)
                .unwrap_err();
            assert_eq!(index.insert(42, slot), number);
        }
        assert!(index.reserve(1_000));
        assert!(!index.reserve(usize::MAX));
        for (number, value) in (0..).zip(&values) {
            assert_eq!(
                index.find(42, |known| values[known as usize] == *value),
                Ok(number)
            );
        }
        assert!(index.find(42, |_| false).is_err());
    }
}
