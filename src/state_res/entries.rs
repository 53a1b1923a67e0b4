//! Borrowed state entries in key order, with a lookup that touches few keys.
//!
//! A large room's unconflicted state is tens of thousands of entries whose keys sit in
//! scattered allocations, so a plain binary search over them misses the cache at
//! nearly every step. Beside the entries this keeps where each event type's run
//! starts and ends, and the first sixteen bytes of every state key in one flat vector:
//! a search narrows the run on those in-cache numbers and compares whole keys only
//! among entries sharing the prefix.

use crate::event::StateKey;
use crate::id::EventId;

/// State entries sorted by key, each key once.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Entries<'s> {
    entries: Vec<(&'s StateKey, &'s EventId)>,
    /// Per entry, [`prefix`] of its state key.
    prefixes: Vec<u128>,
    /// Each event type with the range of its entries, in order.
    runs: Vec<(&'s str, usize, usize)>,
}

impl<'s> Entries<'s> {
    /// Makes room for `additional` more entries.
    pub(super) fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
        self.prefixes.reserve(additional);
    }

    /// Appends an entry; its key must sort after every key already in.
    pub(super) fn push(&mut self, key: &'s StateKey, id: &'s EventId) {
        let index = self.entries.len();
        match self.runs.last_mut() {
            Some((event_type, _, end)) if *event_type == key.event_type() => *end = index + 1,
            _ => self.runs.push((key.event_type(), index, index + 1)),
        }
        self.prefixes.push(prefix(key.state_key()));
        self.entries.push((key, id));
    }

    /// The event at `(event_type, state_key)`.
    pub(super) fn get(&self, event_type: &str, state_key: &str) -> Option<&'s EventId> {
        let run = self
            .runs
            .binary_search_by(|(known, _, _)| (*known).cmp(event_type))
            .ok()?;
        let &(_, start, end) = self.runs.get(run)?;
        let prefixes = self.prefixes.get(start..end)?;
        let wanted = prefix(state_key);
        // The entries whose state keys share the wanted prefix, then the key among them.
        let low = prefixes.partition_point(|&known| known < wanted);
        let high = prefixes.partition_point(|&known| known <= wanted);
        let candidates = self.entries.get(start + low..start + high)?;
        let index = candidates
            .binary_search_by(|(key, _)| key.state_key().cmp(state_key))
            .ok()?;
        candidates.get(index).map(|&(_, id)| id)
    }

    /// The entries in key order.
    pub(super) fn iter(&self) -> impl ExactSizeIterator<Item = (&'s StateKey, &'s EventId)> + '_ {
        self.entries.iter().copied()
    }

    /// Number of entries.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// The first sixteen bytes of `state_key` as a big-endian number, zero-padded:
/// ordering state keys by these never contradicts ordering them by their bytes. Sixteen
/// bytes tell apart user IDs that share a long prefix (`@user1234…`, bridged users).
fn prefix(state_key: &str) -> u128 {
    let mut bytes = [0u8; 16];
    for (slot, &byte) in bytes.iter_mut().zip(state_key.as_bytes()) {
        *slot = byte;
    }
    u128::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_entry_and_nothing_else() {
        let keys: Vec<StateKey> = [
            ("m.room.create", ""),
            ("m.room.member", ""),
            ("m.room.member", "@a:x"),
            ("m.room.member", "@abcdefgh:x"),
            ("m.room.member", "@abcdefgh:y"),
            ("m.room.member", "@abcdefgh\u{0}:y"),
            ("m.room.member", "@abcdefghi:x"),
            ("m.room.member", "@abcdefghijklmnop:x"),
            ("m.room.member", "@abcdefghijklmnop:y"),
            ("m.room.member", "@abcdefghijklmnop"),
            ("m.room.member", "@b:x"),
            ("m.room.name", ""),
            ("m.room.topic", "\u{0}"),
        ]
        .iter()
        .map(|&(event_type, state_key)| StateKey::new(event_type, state_key))
        .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        let ids: Vec<EventId> = (0..keys.len())
            .map(|index| format!("$e{index}:x").parse().unwrap())
            .collect();
        let mut entries = Entries::default();
        for (key, id) in sorted.iter().zip(&ids) {
            entries.push(key, id);
        }
        assert_eq!(entries.len(), keys.len());
        for (key, id) in sorted.iter().zip(&ids) {
            assert_eq!(
                entries.get(key.event_type(), key.state_key()),
                Some(id),
                "{key}"
            );
        }
        for (event_type, state_key) in [
            ("m.room.member", "@abcdefg"),
            ("m.room.member", "@abcdefgh"),
            ("m.room.member", "@abcdefgh:z"),
            ("m.room.member", "@abcdefghijklmno"),
            ("m.room.member", "@abcdefghijklmnop:z"),
            ("m.room.member", "@c:x"),
            ("m.room.topic", ""),
            ("m.room.aaa", ""),
            ("m.room.zzz", ""),
        ] {
            assert_eq!(
                entries.get(event_type, state_key),
                None,
                "{event_type} {state_key}"
            );
        }
        let order: Vec<(&str, &str)> = entries
            .iter()
            .map(|(key, _)| (key.event_type(), key.state_key()))
            .collect();
        assert!(order.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
