//! Orderings of events: the reverse topological power ordering and the mainline
//! ordering of state resolution v2, and the topological order of `prev_events`.
//!
//! Every ordering is total and deterministic: ties end at the event ID.
//!
//! Vectors indexed by node number are sized to the graph when made, and only nodes
//! already numbered then index them (see `graph.rs` for the invariant).

use std::borrow::Borrow;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{DagError, EventSource};
use crate::auth::PowerLevel;
use crate::event::{EventKind, Pdu};
use crate::event_graph::graph::{Field, Graph, Loader, cycle_error};
use crate::event_graph::load::load;
use crate::id::EventId;

/// Orders `event_ids` so that each event comes after those of its `auth_events` that
/// are in the list, choosing at each step the ready event with the smallest
/// (−power level, `origin_server_ts`, event ID): Kahn's algorithm with a heap, the
/// "reverse topological power ordering" of state resolution v2
/// (<https://spec.matrix.org/v1.16/rooms/v2/#definitions>).
///
/// `power_level` gives the power of each event's sender; state resolution takes it from
/// the power-levels and create events among the event's own `auth_events`.
///
/// # Errors
///
/// [`DagError::MissingEvent`] when the source lacks one of the events,
/// [`DagError::DuplicateEvent`] when the list repeats one, [`DagError::Cycle`] when
/// their `auth_events` form a cycle, [`DagError::SelfReference`] and
/// [`DagError::DuplicateReference`].
pub fn reverse_topological_power_order<S, F>(
    source: &S,
    event_ids: &[EventId],
    mut power_level: F,
) -> Result<Vec<EventId>, DagError>
where
    S: EventSource + ?Sized,
    F: FnMut(&Pdu) -> PowerLevel,
{
    let Listed {
        graph,
        nodes,
        member,
    } = load_listed(source, event_ids, Field::AuthEvents)?;
    let ranks = id_ranks(&graph, &nodes);
    let mut keys = vec![(Reverse(PowerLevel::Finite(0)), 0i64, 0u32); graph.len()];
    for &node in &nodes {
        if let Some(pdu) = graph.event(node) {
            keys[node as usize] = (
                Reverse(power_level(pdu)),
                pdu.origin_server_ts(),
                ranks[node as usize],
            );
        }
    }
    let order = sort_referenced_first(&graph, &nodes, &member, |node| keys[node as usize])?;
    Ok(order
        .into_iter()
        .map(|node| graph.id(node).clone())
        .collect())
}

/// Orders `event_ids` by mainline, as state resolution v2 orders the events left after
/// the power events (<https://spec.matrix.org/v1.16/rooms/v2/#definitions>): the
/// mainline of `power_levels` is that event, the power-levels event among its
/// `auth_events`, and so on; an event's mainline position is that of the first event
/// on the mainline met by walking from the event itself through power-levels
/// `auth_events` (the oldest mainline event is 1; none met is 0). Sorted by (position,
/// `origin_server_ts`, event ID), so events based on older power levels come first.
///
/// # Errors
///
/// As [`reverse_topological_power_order`]; the walks need the power-levels events of
/// every chain.
pub fn mainline_order<S: EventSource + ?Sized>(
    source: &S,
    power_levels: Option<&EventId>,
    event_ids: &[EventId],
) -> Result<Vec<EventId>, DagError> {
    let mut graph = Graph::new(Field::AuthEvents, true);
    let mut loader = Loader::default();
    let mut nodes = Vec::with_capacity(event_ids.len());
    for id in event_ids {
        let node = graph.intern(id)?;
        loader.add(node, true);
        nodes.push(node);
    }
    check_unique(&graph, &nodes)?;
    let power_levels = match power_levels {
        Some(id) => {
            let node = graph.intern(id)?;
            loader.add(node, true);
            Some(node)
        }
        None => None,
    };
    load(&mut graph, &mut loader, source)?;
    let mut mainline = Mainline::new(&graph, power_levels)?;
    let ranks = id_ranks(&graph, &nodes);
    let mut keyed = Vec::with_capacity(nodes.len());
    for &node in &nodes {
        let position = mainline.position_of(&graph, node)?;
        let ts = graph.event(node).map_or(0, Pdu::origin_server_ts);
        keyed.push(((position, ts, ranks[node as usize]), node));
    }
    keyed.sort_unstable();
    Ok(keyed
        .into_iter()
        .map(|(_, node)| graph.id(node).clone())
        .collect())
}

/// Orders `event_ids` so that each event comes after those of its `prev_events` that
/// are in the list, choosing the smallest event ID among the ready events: a
/// lexicographic topological sort, oldest first.
///
/// # Errors
///
/// As [`reverse_topological_power_order`], for `prev_events`.
pub fn topological_order<S: EventSource + ?Sized>(
    source: &S,
    event_ids: &[EventId],
) -> Result<Vec<EventId>, DagError> {
    let Listed {
        graph,
        nodes,
        member,
    } = load_listed(source, event_ids, Field::PrevEvents)?;
    let ranks = id_ranks(&graph, &nodes);
    let order = sort_referenced_first(&graph, &nodes, &member, |node| ranks[node as usize])?;
    Ok(order
        .into_iter()
        .map(|node| graph.id(node).clone())
        .collect())
}

/// Sorts `nodes` (flagged in `member`) so that every node follows the members it
/// references, taking the ready node with the smallest `key` at each step (Kahn's
/// algorithm with a min-heap). Keys should be unique; ties fall back to node numbers.
///
/// # Errors
///
/// [`DagError::Cycle`] when the members' references form a cycle.
pub(crate) fn sort_referenced_first<E: Borrow<Pdu>, K: Ord + Copy>(
    graph: &Graph<E>,
    nodes: &[u32],
    member: &[bool],
    key: impl Fn(u32) -> K,
) -> Result<Vec<u32>, DagError> {
    let is_member = |node: u32| member.get(node as usize).copied().unwrap_or(false);
    // Per member: how many members it references not yet emitted, and the members
    // referencing it (flat, grouped by target).
    let len = graph.len();
    let mut outdegree = vec![0u32; len];
    let mut counts = vec![0u32; len + 1];
    for &node in nodes {
        for &target in graph.refs(node).iter().filter(|&&target| is_member(target)) {
            outdegree[node as usize] += 1;
            counts[target as usize + 1] += 1;
        }
    }
    for index in 1..counts.len() {
        counts[index] += counts[index - 1];
    }
    let mut fill = counts.clone();
    let mut referrers = vec![0u32; counts[len] as usize];
    for &node in nodes {
        for &target in graph.refs(node).iter().filter(|&&target| is_member(target)) {
            referrers[fill[target as usize] as usize] = node;
            fill[target as usize] += 1;
        }
    }
    let mut heap: BinaryHeap<Reverse<(K, u32)>> = nodes
        .iter()
        .filter(|&&node| outdegree[node as usize] == 0)
        .map(|&node| Reverse((key(node), node)))
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(Reverse((_, node))) = heap.pop() {
        order.push(node);
        let range = counts[node as usize] as usize..counts[node as usize + 1] as usize;
        for &referrer in &referrers[range] {
            outdegree[referrer as usize] -= 1;
            if outdegree[referrer as usize] == 0 {
                heap.push(Reverse((key(referrer), referrer)));
            }
        }
    }
    if order.len() < nodes.len() {
        let remaining: Vec<bool> = outdegree.iter().map(|&count| count > 0).collect();
        return Err(cycle_error(graph, &remaining, true));
    }
    Ok(order)
}

/// Per node, the rank of its ID among `nodes` sorted by ID (unlisted nodes: 0), so
/// that comparisons in sort keys are integer comparisons.
pub(crate) fn id_ranks<E: Borrow<Pdu>>(graph: &Graph<E>, nodes: &[u32]) -> Vec<u32> {
    let mut sorted = nodes.to_vec();
    sorted.sort_unstable_by(|&a, &b| graph.id(a).cmp(graph.id(b)));
    let mut ranks = vec![0u32; graph.len()];
    for (rank, node) in sorted.into_iter().enumerate() {
        ranks[node as usize] = rank as u32;
    }
    ranks
}

/// True when `node` is loaded and is a power-levels event.
pub(crate) fn is_power_levels<E: Borrow<Pdu>>(graph: &Graph<E>, node: u32) -> bool {
    graph
        .event(node)
        .is_some_and(|pdu| pdu.is_singleton(EventKind::PowerLevels))
}

/// The mainline of a power-levels event and the memo of positions found by walks.
#[derive(Debug, Clone)]
pub(crate) struct Mainline {
    /// Per node: its mainline position (1 = oldest), 0 when not on it, `u32::MAX`
    /// when not yet known; filled along walks.
    position: Vec<u32>,
}

/// Not yet known.
const UNKNOWN: u32 = u32::MAX;

impl Mainline {
    /// The mainline of `power_levels` (none: empty): the event, then the first
    /// power-levels event among its `auth_events`, and so on.
    ///
    /// # Errors
    ///
    /// [`DagError::Cycle`] when the chain of power-levels events loops.
    pub(crate) fn new<E: Borrow<Pdu>>(
        graph: &Graph<E>,
        power_levels: Option<u32>,
    ) -> Result<Self, DagError> {
        Self::new_by(graph, power_levels, |node| is_power_levels(graph, node))
    }

    /// [`Mainline::new`] with `is_power_levels` telling power-levels events apart (a
    /// caller that has numbered the events' keys answers without reading them).
    pub(crate) fn new_by<E: Borrow<Pdu>>(
        graph: &Graph<E>,
        power_levels: Option<u32>,
        is_power_levels: impl Fn(u32) -> bool,
    ) -> Result<Self, DagError> {
        let mut chain = Vec::new();
        let mut on_chain = vec![false; graph.len()];
        let mut next = power_levels;
        while let Some(node) = next {
            if on_chain[node as usize] {
                return Err(DagError::Cycle {
                    event_id: graph.id(node).clone(),
                    field: "auth_events",
                });
            }
            on_chain[node as usize] = true;
            chain.push(node);
            next = graph
                .refs(node)
                .iter()
                .copied()
                .find(|&target| is_power_levels(target));
        }
        let mut position = vec![UNKNOWN; graph.len()];
        for (index, &node) in chain.iter().rev().enumerate() {
            position[node as usize] = index as u32 + 1;
        }
        Ok(Self { position })
    }

    /// The mainline position of `node`: that of the first mainline event met walking
    /// from `node` itself through first power-levels `auth_events`, else 0. Remembers
    /// the answer for every event on the walk.
    ///
    /// # Errors
    ///
    /// [`DagError::Cycle`] when the walk loops.
    pub(crate) fn position_of<E: Borrow<Pdu>>(
        &mut self,
        graph: &Graph<E>,
        node: u32,
    ) -> Result<u32, DagError> {
        self.position_of_by(graph, node, |target| is_power_levels(graph, target))
    }

    /// [`Mainline::position_of`] with `is_power_levels` as in [`Mainline::new_by`].
    ///
    /// # Errors
    ///
    /// As [`Mainline::position_of`].
    pub(crate) fn position_of_by<E: Borrow<Pdu>>(
        &mut self,
        graph: &Graph<E>,
        node: u32,
        is_power_levels: impl Fn(u32) -> bool,
    ) -> Result<u32, DagError> {
        if self.position.len() < graph.len() {
            self.position.resize(graph.len(), UNKNOWN);
        }
        let mut path = Vec::new();
        let mut current = Some(node);
        let answer = loop {
            let Some(at) = current else { break 0 };
            let known = self.position[at as usize];
            if known != UNKNOWN {
                break known;
            }
            if path.len() > graph.len() {
                return Err(DagError::Cycle {
                    event_id: graph.id(at).clone(),
                    field: "auth_events",
                });
            }
            path.push(at);
            current = graph
                .refs(at)
                .iter()
                .copied()
                .find(|&target| is_power_levels(target));
        };
        for at in path {
            self.position[at as usize] = answer;
        }
        Ok(answer)
    }
}

/// Loads the listed events (not their references) into a strict graph of `field`.
fn load_listed<'a, S: EventSource + ?Sized>(
    source: &'a S,
    event_ids: &[EventId],
    field: Field,
) -> Result<Listed<'a>, DagError> {
    let mut graph = Graph::new(field, true);
    let mut loader = Loader::default();
    let mut nodes = Vec::with_capacity(event_ids.len());
    for id in event_ids {
        let node = graph.intern(id)?;
        loader.add(node, false);
        nodes.push(node);
    }
    check_unique(&graph, &nodes)?;
    load(&mut graph, &mut loader, source)?;
    let mut member = vec![false; graph.len()];
    for &node in &nodes {
        member[node as usize] = true;
    }
    Ok(Listed {
        graph,
        nodes,
        member,
    })
}

/// Listed events loaded into a graph: the nodes in list order and a membership vector.
struct Listed<'a> {
    graph: Graph<&'a Pdu>,
    nodes: Vec<u32>,
    member: Vec<bool>,
}

fn check_unique<E: Borrow<Pdu>>(graph: &Graph<E>, nodes: &[u32]) -> Result<(), DagError> {
    let mut seen = vec![false; graph.len()];
    for &node in nodes {
        if std::mem::replace(&mut seen[node as usize], true) {
            return Err(DagError::DuplicateEvent {
                event_id: graph.id(node).clone(),
            });
        }
    }
    Ok(())
}
