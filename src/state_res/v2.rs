//! State resolution v2 (room versions 2–11) and v2.1 (room version 12) over the full
//! conflicted set (<https://spec.matrix.org/v1.16/rooms/v2/#algorithm>,
//! <https://spec.matrix.org/v1.16/rooms/v12/#state-resolution>).
//!
//! The full conflicted set itself (conflicted events, auth difference, v2.1 conflicted
//! subgraph) is worked out by the resolver; this file orders and replays it.
//!
//! Vectors indexed by node number are sized to the graph when made, and only nodes
//! already numbered then index them (see `graph.rs` for the invariant).

use std::borrow::Borrow;
use std::cmp::Reverse;

use super::passes::{
    AuthKey, CREATE, Checker, JOIN_RULES, Keys, NONE, POWER_LEVELS, for_each_auth_key, is_power,
    sender_power,
};
use crate::auth::{self, Rejection};
use crate::dag::DagError;
use crate::dag::order::{Mainline, id_ranks, is_power_levels, sort_referenced_first};
use crate::event::{EventKind, Pdu};
use crate::event_graph::graph::Graph;
use crate::room_version::RoomVersion;

/// The full conflicted set with what the passes read of each event.
#[derive(Debug, Default)]
pub(super) struct Plan {
    /// The full conflicted set, by node number.
    pub(super) events: Vec<u32>,
    /// Per node: in the full conflicted set.
    in_set: Vec<bool>,
    /// Per node noted: a power event.
    power: Vec<bool>,
    /// Per node noted and per event they reference: the number of its `(type,
    /// state_key)`, or [`NONE`].
    event_key: Vec<u32>,
    /// Per node: where its auth keys are in `auth_keys`, once noted.
    auth_ranges: Vec<Option<(u32, u32)>>,
    auth_keys: Vec<u32>,
    /// The numbers of the create, power-levels and join-rules keys, once numbered.
    fixed: Option<[u32; 3]>,
}

impl Plan {
    /// Notes what the rules read of the loaded event `node`, once: the number of its
    /// key, the numbers of the keys its check reads, and whether it is a power event.
    /// Called as events arrive (while their fields are in the cache) or by
    /// [`Plan::complete`] for those not noted then.
    pub(super) fn note<E: Borrow<Pdu>>(
        &mut self,
        graph: &Graph<E>,
        version: &RoomVersion,
        keys: &mut Keys,
        node: u32,
    ) {
        let index = node as usize;
        if self.auth_ranges.len() <= index {
            self.fit(graph.len().max(index + 1));
        }
        if self.auth_ranges[index].is_some() {
            return;
        }
        let Some(pdu) = graph.event(node) else {
            return;
        };
        // Numbered already when an earlier event referenced it.
        let own = match self.event_key[index] {
            NONE => pdu
                .state_key()
                .map(|state_key| keys.index(pdu.event_type(), state_key)),
            known => Some(known),
        };
        if let Some(own) = own {
            self.event_key[index] = own;
        }
        let fixed = *self.fixed.get_or_insert_with(|| {
            [
                keys.index(CREATE, ""),
                keys.index(POWER_LEVELS, ""),
                keys.index(JOIN_RULES, ""),
            ]
        });
        let start = self.auth_keys.len() as u32;
        let auth_keys = &mut self.auth_keys;
        let membership = for_each_auth_key(pdu, version, |key| {
            let number = match key {
                AuthKey::Create => fixed[0],
                AuthKey::PowerLevels => fixed[1],
                AuthKey::JoinRules => fixed[2],
                // A member event's own key is numbered already.
                AuthKey::Member(user)
                    if pdu.kind() == EventKind::Member && pdu.state_key() == Some(user) =>
                {
                    own.unwrap_or(NONE)
                }
                other => {
                    let (event_type, state_key) = other.pair();
                    keys.index(event_type, state_key)
                }
            };
            if !auth_keys[start as usize..].contains(&number) {
                auth_keys.push(number);
            }
        });
        self.auth_ranges[index] = Some((start, self.auth_keys.len() as u32));
        self.power[index] = is_power(pdu, membership);
    }

    /// Makes room for about `nodes` events noted (a hint: a count too large to reserve
    /// is ignored).
    pub(super) fn reserve(&mut self, nodes: usize) {
        let _ = self.in_set.try_reserve(nodes);
        let _ = self.power.try_reserve(nodes);
        let _ = self.event_key.try_reserve(nodes);
        let _ = self.auth_ranges.try_reserve(nodes);
        // Most events read the create, power-levels and sender's member keys, and
        // member events one or two more.
        let _ = self.auth_keys.try_reserve(nodes.saturating_mul(4));
    }

    /// Grows the per-node vectors to `len` nodes.
    fn fit(&mut self, len: usize) {
        if self.in_set.len() < len {
            self.in_set.resize(len, false);
            self.power.resize(len, false);
            self.event_key.resize(len, NONE);
            self.auth_ranges.resize(len, None);
        }
    }

    /// Records the full conflicted set `events` (each loaded), notes those not noted
    /// yet and numbers the keys of the events they reference, then calls `on_read`
    /// with the number and pair of each key the rules read, once per key.
    pub(super) fn complete<E: Borrow<Pdu>>(
        mut self,
        graph: &Graph<E>,
        version: &RoomVersion,
        events: Vec<u32>,
        keys: &mut Keys,
        mut on_read: impl FnMut(u32, &str, &str),
    ) -> Self {
        self.fit(graph.len());
        let mut read = vec![false; 0];
        for &node in &events {
            self.in_set[node as usize] = true;
            self.note(graph, version, keys, node);
            // The keys of its auth events, so that the replay inserts each key once.
            for &target in graph.refs(node) {
                if self.event_key[target as usize] == NONE
                    && let Some(event) = graph.event(target)
                    && let Some(state_key) = event.state_key()
                {
                    self.event_key[target as usize] = keys.index(event.event_type(), state_key);
                }
            }
            for &number in self.auth_keys_of(node) {
                if read.len() <= number as usize {
                    read.resize(number as usize + 1, false);
                }
                if !std::mem::replace(&mut read[number as usize], true)
                    && let Some((event_type, state_key)) = keys.pair(number)
                {
                    on_read(number, event_type, state_key);
                }
            }
        }
        self.events = events;
        self
    }

    /// The numbers of the keys the rules read for `node`.
    pub(super) fn auth_keys_of(&self, node: u32) -> &[u32] {
        match self.auth_ranges.get(node as usize) {
            Some(&Some((start, end))) => &self.auth_keys[start as usize..end as usize],
            _ => &[],
        }
    }
}

/// Replays the full conflicted set over `state` (indexed by key number; the
/// unconflicted state's entries that the rules read in v2, empty in v2.1), returning
/// the events the rules rejected.
///
/// 1. The power events of the set and the events of their auth chains within the set,
///    in reverse topological power order, are checked one by one against the state.
/// 2. The other events, in mainline order of the power-levels event that step 1
///    resolved, are checked the same way.
///
/// # Errors
///
/// [`DagError::Cycle`] when the events' `auth_events` loop.
pub(super) fn replay<E: Borrow<Pdu>>(
    graph: &Graph<E>,
    version: &RoomVersion,
    plan: &Plan,
    state: &mut Vec<u32>,
    keys: &Keys,
) -> Result<Vec<(u32, Rejection)>, DagError> {
    let checker = Checker::new(graph, version);
    let mut rejected = Vec::new();
    // Step 1: the power events, with their auth chains inside the full conflicted set.
    let power = power_closure(graph, plan);
    let ranks = id_ranks(graph, &power.0);
    let mut sort_keys = vec![(Reverse(auth::PowerLevel::Finite(0)), 0i64, 0u32); graph.len()];
    for &node in &power.0 {
        let ts = graph.event(node).map_or(0, Pdu::origin_server_ts);
        sort_keys[node as usize] = (
            Reverse(sender_power(graph, node, version)),
            ts,
            ranks[node as usize],
        );
    }
    let sorted = sort_referenced_first(graph, &power.0, &power.1, |node| sort_keys[node as usize])?;
    iterate(&checker, graph, plan, &sorted, state, &mut rejected);
    // Step 2: the rest, by mainline of the resolved power levels.
    let leftover: Vec<u32> = plan
        .events
        .iter()
        .copied()
        .filter(|&node| !power.1[node as usize])
        .collect();
    let power_levels_key = keys.get(POWER_LEVELS, "");
    let power_levels = power_levels_key
        .and_then(|key| state.get(key as usize).copied())
        .filter(|&node| node != NONE);
    // A numbered key says whether an event is a power-levels event without reading it.
    let power_levels_event = |node: u32| match plan.event_key.get(node as usize) {
        Some(&key) if key != NONE => Some(key) == power_levels_key,
        _ => is_power_levels(graph, node),
    };
    let mut mainline = Mainline::new_by(graph, power_levels, power_levels_event)?;
    let mut keyed = Vec::with_capacity(leftover.len());
    for &node in &leftover {
        let position = mainline.position_of_by(graph, node, power_levels_event)?;
        let ts = graph.event(node).map_or(0, Pdu::origin_server_ts);
        keyed.push(((position, ts), node));
    }
    // Event IDs break ties only: most events differ in position or time, and their
    // IDs are never read.
    keyed.sort_unstable_by(|(left, left_node), (right, right_node)| {
        left.cmp(right)
            .then_with(|| graph.id(*left_node).cmp(graph.id(*right_node)))
    });
    let sorted: Vec<u32> = keyed.into_iter().map(|(_, node)| node).collect();
    iterate(&checker, graph, plan, &sorted, state, &mut rejected);
    Ok(rejected)
}

/// The power events of the set and, transitively, the `auth_events` within the set of
/// each (as Synapse builds the graph it sorts): the nodes and a membership vector.
fn power_closure<E: Borrow<Pdu>>(graph: &Graph<E>, plan: &Plan) -> (Vec<u32>, Vec<bool>) {
    let mut member = vec![false; graph.len()];
    let mut nodes = Vec::new();
    let mut stack: Vec<u32> = plan
        .events
        .iter()
        .copied()
        .filter(|&node| plan.power[node as usize])
        .collect();
    while let Some(node) = stack.pop() {
        if std::mem::replace(&mut member[node as usize], true) {
            continue;
        }
        nodes.push(node);
        for &target in graph.refs(node) {
            if plan.in_set[target as usize] && !member[target as usize] {
                stack.push(target);
            }
        }
    }
    nodes.sort_unstable();
    (nodes, member)
}

/// Iterative auth checks: each event in turn is checked against its own non-rejected
/// `auth_events`, overridden by the state's entries at the keys the rules read; an
/// event that passes takes its key in the state. Events the caller marked rejected are
/// skipped (Synapse keeps them out; the spec would let those rejected only against the
/// state at the event back in).
fn iterate<E: Borrow<Pdu>>(
    checker: &Checker<'_, E>,
    graph: &Graph<E>,
    plan: &Plan,
    order: &[u32],
    state: &mut Vec<u32>,
    rejected: &mut Vec<(u32, Rejection)>,
) {
    for &node in order {
        if graph.is_rejected(node) {
            continue;
        }
        let read = plan.auth_keys_of(node);
        let usable = |target: u32| target != NONE && !graph.is_rejected(target);
        let from_state = |key: u32| state.get(key as usize).copied().filter(|&t| usable(t));
        // Its own auth events, except those a state entry replaces (fewer inserts; the
        // same state as inserting all, later ones winning).
        let own = graph.refs(node).iter().copied().filter(|&target| {
            let key = plan.event_key[target as usize];
            usable(target) && !(key != NONE && read.contains(&key) && from_state(key).is_some())
        });
        let current = read.iter().filter_map(|&key| from_state(key));
        match checker.check(node, own.chain(current)) {
            Ok(()) => {
                let key = plan.event_key[node as usize];
                if key != NONE {
                    if state.len() <= key as usize {
                        state.resize(key as usize + 1, NONE);
                    }
                    state[key as usize] = node;
                }
            }
            Err(rejection) => rejected.push((node, rejection)),
        }
    }
}
