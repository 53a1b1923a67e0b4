//! The key of a room state entry: an event type and a state key, as every state map
//! (the state before an event, resolved state, the auth events) is keyed.

use std::cmp::Ordering;
use std::fmt;

/// A state entry's key: its event type and state key.
///
/// Ordered by type, then state key. Both live in one allocation, so that comparing
/// two keys (what sorted state maps and their merges do most) reads one buffer each.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct StateKey {
    /// The event type followed by the state key.
    text: Box<str>,
    /// Where the state key starts in `text`.
    split: usize,
}

impl StateKey {
    /// The key of the state event of `event_type` with `state_key`.
    #[must_use]
    pub fn new(event_type: impl AsRef<str>, state_key: impl AsRef<str>) -> Self {
        let (event_type, state_key) = (event_type.as_ref(), state_key.as_ref());
        let mut text = String::with_capacity(event_type.len() + state_key.len());
        text.push_str(event_type);
        text.push_str(state_key);
        Self {
            text: text.into_boxed_str(),
            split: event_type.len(),
        }
    }

    /// The event type.
    #[must_use]
    pub fn event_type(&self) -> &str {
        self.text.get(..self.split).unwrap_or_default()
    }

    /// The state key.
    #[must_use]
    pub fn state_key(&self) -> &str {
        self.text.get(self.split..).unwrap_or_default()
    }

    /// True when this is the key of `(event_type, state_key)`, compared without
    /// building a key.
    #[must_use]
    pub fn is(&self, event_type: &str, state_key: &str) -> bool {
        self.split == event_type.len()
            && self.text.len() == event_type.len() + state_key.len()
            && self.event_type() == event_type
            && self.state_key() == state_key
    }

    /// The order of this key against `(event_type, state_key)`, as [`Ord`] would order
    /// `StateKey::new(event_type, state_key)`.
    #[must_use]
    pub fn cmp_pair(&self, event_type: &str, state_key: &str) -> Ordering {
        if self.split == event_type.len() {
            // Types of equal length: the type bytes decide first, then the state keys,
            // which is the order of the concatenations.
            self.event_type()
                .as_bytes()
                .cmp(event_type.as_bytes())
                .then_with(|| self.state_key().as_bytes().cmp(state_key.as_bytes()))
        } else {
            self.event_type().cmp(event_type)
        }
    }
}

impl Ord for StateKey {
    fn cmp(&self, other: &Self) -> Ordering {
        if self.split == other.split {
            // Same type length: lexicographic order of the concatenations is the order
            // of (type, state key), in one comparison.
            self.text.as_bytes().cmp(other.text.as_bytes())
        } else {
            // Types of different lengths never compare equal.
            self.event_type().cmp(other.event_type())
        }
    }
}

impl PartialOrd for StateKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for StateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateKey")
            .field("event_type", &self.event_type())
            .field("state_key", &self.state_key())
            .finish()
    }
}

impl fmt::Display for StateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {:?})", self.event_type(), self.state_key())
    }
}
