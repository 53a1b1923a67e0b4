//! What the passes of state resolution share: state keys numbered densely, the
//! authorization check of one event against a state, and senders' power levels.

use std::borrow::Borrow;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use crate::auth::{self, AuthEvents, PowerLevel, PowerLevels, Rejection};
use crate::event::{EventKind, Pdu};
use crate::event_graph::graph::Graph;
use crate::event_graph::hash_index::HashIndex;
use crate::json::{Object, Value};
use crate::room_version::RoomVersion;

/// `m.room.create`.
pub(super) const CREATE: &str = "m.room.create";
/// `m.room.power_levels`.
pub(super) const POWER_LEVELS: &str = "m.room.power_levels";
/// `m.room.join_rules`.
pub(super) const JOIN_RULES: &str = "m.room.join_rules";
/// `m.room.member`.
pub(super) const MEMBER: &str = "m.room.member";

/// No key, no node.
pub(super) const NONE: u32 = u32::MAX;

/// An empty object, standing in for a missing create event.
static EMPTY: Object = Object::new();

/// `(type, state_key)` pairs numbered densely, so that states are vectors indexed by
/// key number.
///
/// The pairs sit one after another in a single string, found through a
/// [`HashIndex`] of key numbers: numbering a key allocates nothing of its own, and
/// telling keys apart reads one compact buffer rather than scattered strings. The
/// hasher is keyed per process (std's `RandomState`), so crafted state keys cannot
/// force collisions.
#[derive(Debug, Default)]
pub(super) struct Keys {
    /// Every numbered key's type and state key, in order of number.
    text: String,
    /// Per key number: where its type and its state key start in `text` (it ends where
    /// the next key starts).
    spans: Vec<(usize, usize)>,
    index: HashIndex,
    hasher: RandomState,
}

impl Keys {
    /// The number of `(event_type, state_key)`, numbering it if new ([`NONE`] once
    /// `u32::MAX - 1` keys are numbered).
    pub(super) fn index(&mut self, event_type: &str, state_key: &str) -> u32 {
        let hash = self.hasher.hash_one((event_type, state_key));
        match self.find(event_type, state_key, hash) {
            Ok(number) => number,
            Err(slot) => {
                if self.spans.len() >= NONE as usize {
                    return NONE;
                }
                let start = self.text.len();
                self.text.push_str(event_type);
                self.spans.push((start, self.text.len()));
                self.text.push_str(state_key);
                self.index.insert(hash, slot)
            }
        }
    }

    /// The number of `(event_type, state_key)`, if it has one.
    pub(super) fn get(&self, event_type: &str, state_key: &str) -> Option<u32> {
        let hash = self.hasher.hash_one((event_type, state_key));
        self.find(event_type, state_key, hash).ok()
    }

    /// The `(type, state_key)` pair numbered `number`.
    pub(super) fn pair(&self, number: u32) -> Option<(&str, &str)> {
        let index = number as usize;
        let &(start, split) = self.spans.get(index)?;
        let end = self
            .spans
            .get(index + 1)
            .map_or(self.text.len(), |&(next, _)| next);
        Some((self.text.get(start..split)?, self.text.get(split..end)?))
    }

    /// Makes room for `additional` more keys of about `bytes` bytes in all (a hint: a
    /// count too large to reserve is ignored).
    pub(super) fn reserve(&mut self, additional: usize, bytes: usize) {
        if self.index.reserve(additional) {
            let _ = self.spans.try_reserve(additional);
            let _ = self.text.try_reserve(bytes);
        }
    }

    /// How many keys are numbered.
    pub(super) fn len(&self) -> usize {
        self.spans.len()
    }

    /// `Ok(number)` when numbered, else `Err(empty slot)` where it would go.
    fn find(&self, event_type: &str, state_key: &str, hash: u64) -> Result<u32, usize> {
        self.index.find(hash, |number| {
            self.pair(number) == Some((event_type, state_key))
        })
    }
}

/// Builds the state an event is checked against and runs the authorization rules.
pub(super) struct Checker<'g, E> {
    graph: &'g Graph<E>,
    version: RoomVersion,
}

impl<'g, E: Borrow<Pdu>> Checker<'g, E> {
    /// A checker for events of `graph` (the rules read the create event in the state
    /// each event is checked against).
    pub(super) fn new(graph: &'g Graph<E>, version: &RoomVersion) -> Self {
        Self {
            graph,
            version: *version,
        }
    }

    /// Checks `node` against the events `state` yields, in order (later ones win at the
    /// same key). A create event passes: the rules that depend on state do not apply to
    /// it (Synapse's `check_state_dependent_auth_rules`).
    pub(super) fn check(
        &self,
        node: u32,
        state: impl IntoIterator<Item = u32>,
    ) -> Result<(), Rejection> {
        let Some(pdu) = self.graph.event(node) else {
            return Err(Rejection::MalformedEvent { field: "event_id" });
        };
        if pdu.kind() == EventKind::Create {
            return Ok(());
        }
        let mut auth_events = AuthEvents::new();
        for member in state {
            if let Some(event) = self.graph.event(member) {
                auth_events.insert_pdu(event);
            }
        }
        auth::check_as(pdu, &auth_events, &self.version)
    }
}

/// The power level of `node`'s sender as state resolution v2 orders power events:
/// read from the power-levels and create events among the event's own `auth_events`
/// (the last of each, as Synapse reads them). Without a power-levels event the creator
/// has 100 and everyone else 0; in room version 12 creators are infinitely powerful.
/// A level that cannot be read counts as 0 (Synapse would fail the whole resolution).
pub(super) fn sender_power<E: Borrow<Pdu>>(
    graph: &Graph<E>,
    node: u32,
    version: &RoomVersion,
) -> PowerLevel {
    let Some(pdu) = graph.event(node) else {
        return PowerLevel::Finite(0);
    };
    let mut power_levels = None;
    let mut create = None;
    for &target in graph.refs(node) {
        if let Some(event) = graph.event(target) {
            if event.is_singleton(EventKind::PowerLevels) {
                power_levels = Some(event.as_object());
            } else if event.is_singleton(EventKind::Create) {
                create = Some(event.as_object());
            }
        }
    }
    PowerLevels::new(version, create.unwrap_or(&EMPTY), power_levels)
        .user_level(pdu.sender().as_str())
        .unwrap_or(PowerLevel::Finite(0))
}

/// True for the power events of state resolution v2: power levels, join rules, the
/// create event (Synapse and ruma count it; the spec does not list it) and member
/// events that kick or ban (`leave` or `ban` with the sender not the target), given
/// the event's `content.membership`, read already.
pub(super) fn is_power(pdu: &Pdu, membership: Option<&str>) -> bool {
    if [
        EventKind::PowerLevels,
        EventKind::JoinRules,
        EventKind::Create,
    ]
    .into_iter()
    .any(|kind| pdu.is_singleton(kind))
    {
        return true;
    }
    pdu.kind() == EventKind::Member
        && matches!(membership, Some("leave" | "ban"))
        && pdu.state_key() != Some(pdu.sender().as_str())
}

/// One key the authorization rules read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AuthKey<'a> {
    /// `m.room.create`, empty state key.
    Create,
    /// `m.room.power_levels`, empty state key.
    PowerLevels,
    /// `m.room.join_rules`, empty state key.
    JoinRules,
    /// The member event of this user.
    Member(&'a str),
    /// Any other key.
    Other(&'a str, &'a str),
}

impl AuthKey<'_> {
    /// The `(type, state_key)` pair.
    pub(super) fn pair(&self) -> (&str, &str) {
        match *self {
            Self::Create => (CREATE, ""),
            Self::PowerLevels => (POWER_LEVELS, ""),
            Self::JoinRules => (JOIN_RULES, ""),
            Self::Member(user) => (MEMBER, user),
            Self::Other(event_type, state_key) => (event_type, state_key),
        }
    }
}

/// Calls `key` with each key the authorization rules read for `pdu`: the entries of
/// [`auth::auth_types`], without allocating (state resolution asks this of every event
/// it replays). Duplicates may repeat. Returns the `content.membership` of a member
/// event, which it reads on the way.
pub(super) fn for_each_auth_key<'a>(
    pdu: &'a Pdu,
    version: &RoomVersion,
    mut key: impl FnMut(AuthKey<'a>),
) -> Option<&'a str> {
    let kind = pdu.kind();
    if kind == EventKind::Create {
        return None;
    }
    key(AuthKey::Create);
    key(AuthKey::PowerLevels);
    key(AuthKey::Member(pdu.sender().as_str()));
    if kind != EventKind::Member {
        return None;
    }
    let membership = pdu.membership();
    if matches!(membership, Some("join" | "invite" | "knock")) {
        key(AuthKey::JoinRules);
    }
    if let Some(target) = pdu.state_key() {
        key(AuthKey::Member(target));
    }
    if membership == Some("invite")
        && pdu.has_third_party_invite()
        && let Some(token) = pdu
            .content()
            .get("third_party_invite")
            .and_then(|invite| invite.get("signed"))
            .and_then(|signed| signed.get("token"))
            .and_then(Value::as_str)
    {
        key(AuthKey::Other("m.room.third_party_invite", token));
    }
    if version.auth.restricted_join_rule
        && membership == Some("join")
        && pdu.has_join_authoriser()
        && let Some(authoriser) = pdu
            .content()
            .get("join_authorised_via_users_server")
            .and_then(Value::as_str)
    {
        key(AuthKey::Member(authoriser));
    }
    membership
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_numbered_once_in_order_and_read_back() {
        let mut keys = Keys::default();
        // Pairs whose concatenations coincide must stay apart.
        let pairs: Vec<(String, String)> = (0..2_000)
            .map(|i| (format!("t{}", i % 7), format!("{i}")))
            .chain([
                ("ab".to_owned(), "c".to_owned()),
                ("a".to_owned(), "bc".to_owned()),
                ("abc".to_owned(), String::new()),
                (String::new(), "abc".to_owned()),
            ])
            .collect();
        for (number, (event_type, state_key)) in (0..).zip(&pairs) {
            if number % 500 == 250 {
                // Rebuilds the table around the keys already in.
                keys.reserve(2_000, 20_000);
            }
            assert_eq!(keys.get(event_type, state_key), None);
            assert_eq!(keys.index(event_type, state_key), number);
        }
        assert_eq!(keys.len(), pairs.len());
        for (number, (event_type, state_key)) in (0..).zip(&pairs) {
            assert_eq!(keys.index(event_type, state_key), number);
            assert_eq!(keys.get(event_type, state_key), Some(number));
            assert_eq!(
                keys.pair(number),
                Some((event_type.as_str(), state_key.as_str()))
            );
        }
        keys.reserve(usize::MAX, 0);
        assert_eq!(keys.get("ab", "c"), Some(2_000));
        assert_eq!(keys.pair(pairs.len() as u32), None);
        assert_eq!(keys.get("t0", "x"), None);
    }
}
