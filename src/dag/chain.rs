//! Auth chains, the auth difference of state sets, and the conflicted subgraph of
//! state resolution v2.1, by reachability over the `auth_events` graph.
//!
//! The walks are iterative (explicit stacks) and linear in the events and references
//! they reach. In room version 12 every event but the create event also reaches the
//! create event its room ID names, as Synapse counts it.
//!
//! Vectors indexed by node number are sized to the graph when made, and only nodes
//! already numbered then index them (see `graph.rs` for the invariant).

use std::borrow::Borrow;
use std::collections::BTreeSet;

use super::{DagError, EventSource};
use crate::event::Pdu;
use crate::event_graph::graph::{Field, Graph, Loader, referrers_first};
use crate::event_graph::load::load;
use crate::id::EventId;

/// The auth chain of an event: every event reachable through `auth_events` (the event
/// itself excluded), sorted by ID.
///
/// ```
/// # use matrix_serverlib::dag::{auth_chain, EventSource};
/// # use matrix_serverlib::event::Pdu;
/// # use matrix_serverlib::id::EventId;
/// # use std::collections::BTreeMap;
/// let events: BTreeMap<EventId, Pdu> = BTreeMap::new();
/// let error = auth_chain(&events, &"$absent:example.org".parse()?).unwrap_err();
/// assert!(error.to_string().contains("not available"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`DagError::MissingEvent`] when the source lacks an event of the chain,
/// [`DagError::Cycle`], [`DagError::SelfReference`] and
/// [`DagError::DuplicateReference`] for a malformed graph.
pub fn auth_chain<S: EventSource + ?Sized>(
    source: &S,
    event_id: &EventId,
) -> Result<BTreeSet<EventId>, DagError> {
    auth_chain_of_events(source, [event_id])
}

/// The union of the auth chains of `event_ids` (an event of the list appears only when
/// another's chain reaches it), sorted by ID.
///
/// # Errors
///
/// As [`auth_chain`].
pub fn auth_chain_of_events<'i, S: EventSource + ?Sized>(
    source: &S,
    event_ids: impl IntoIterator<Item = &'i EventId>,
) -> Result<BTreeSet<EventId>, DagError> {
    let mut graph = Graph::new(Field::AuthEvents, true);
    let roots = intern_all(&mut graph, event_ids)?;
    load_closure(&mut graph, &roots, source)?;
    referrers_first(&graph)?;
    let mut reached = vec![false; graph.len()];
    let mut stack: Vec<u32> = roots
        .iter()
        .flat_map(|&root| graph.refs(root))
        .copied()
        .collect();
    while let Some(node) = stack.pop() {
        if !reached[node as usize] {
            reached[node as usize] = true;
            stack.extend_from_slice(graph.refs(node));
        }
    }
    Ok(ids_where(&graph, &reached))
}

/// The auth difference of state sets, as state resolution v2 uses it: the events that
/// some but not all of the sets reach, where a set reaches its own events and their
/// auth chains (Synapse's reading: the spec's wording leaves a set's own events out of
/// its chain, which changes the result when one set's event is an auth ancestor of
/// another set's event).
///
/// # Errors
///
/// As [`auth_chain`].
pub fn auth_difference<'i, S, I>(source: &S, state_sets: I) -> Result<BTreeSet<EventId>, DagError>
where
    S: EventSource + ?Sized,
    I: IntoIterator,
    I::Item: IntoIterator<Item = &'i EventId>,
{
    let mut graph = Graph::new(Field::AuthEvents, true);
    let mut sets = Vec::new();
    for set in state_sets {
        sets.push(intern_all(&mut graph, set)?);
    }
    let roots: Vec<u32> = sets.iter().flatten().copied().collect();
    load_closure(&mut graph, &roots, source)?;
    let order = referrers_first(&graph)?;
    let in_difference = difference_flags(&graph, &order, &[], &sets);
    Ok(ids_where(&graph, &in_difference))
}

/// The conflicted subgraph of state resolution v2.1: every event on an `auth_events`
/// path from one of `conflicted` down to another (the conflicted events included),
/// computed as the events both reachable from a conflicted event and reaching one.
///
/// # Errors
///
/// As [`auth_chain`].
pub fn conflicted_subgraph<'i, S: EventSource + ?Sized>(
    source: &S,
    conflicted: impl IntoIterator<Item = &'i EventId>,
) -> Result<BTreeSet<EventId>, DagError> {
    let mut graph = Graph::new(Field::AuthEvents, true);
    let roots = intern_all(&mut graph, conflicted)?;
    load_closure(&mut graph, &roots, source)?;
    let order = referrers_first(&graph)?;
    let flags = subgraph_flags(&graph, &order, &roots);
    Ok(ids_where(&graph, &flags))
}

/// Per node: true when some but not all of `sets` reach it (each set reaching its own
/// events and everything they reference). `in_all` lists events of every set, given
/// once rather than in each (the unconflicted state). `order` lists every node before
/// the nodes it references ([`referrers_first`]).
pub(crate) fn difference_flags<E: Borrow<Pdu>>(
    graph: &Graph<E>,
    order: &[u32],
    in_all: &[u32],
    sets: &[Vec<u32>],
) -> Vec<bool> {
    let len = graph.len();
    let words = sets.len().div_ceil(64).max(1);
    let mut masks = vec![0u64; len * words];
    let full: Vec<u64> = (0..words)
        .map(|word| {
            let bits = sets.len().saturating_sub(word * 64).min(64);
            if bits == 64 {
                u64::MAX
            } else {
                (1u64 << bits) - 1
            }
        })
        .collect();
    for &node in in_all {
        let at = node as usize * words;
        masks[at..at + words].copy_from_slice(&full);
    }
    for (index, set) in sets.iter().enumerate() {
        let (word, bit) = (index / 64, 1u64 << (index % 64));
        for &node in set {
            masks[node as usize * words + word] |= bit;
        }
    }
    // Referrers come first, so each node's mask is complete when it is pushed down.
    for &node in order {
        let from = node as usize * words;
        for &target in graph.refs(node) {
            let to = target as usize * words;
            for word in 0..words {
                let bits = masks[from + word];
                masks[to + word] |= bits;
            }
        }
    }
    (0..len)
        .map(|node| {
            let mask = &masks[node * words..(node + 1) * words];
            mask.iter().any(|&bits| bits != 0) && mask != full.as_slice()
        })
        .collect()
}

/// Per node: true when it lies on an `auth_events` path between two `conflicted`
/// events (endpoints included): reachable from a conflicted event (or one itself) and
/// reaching one (or one itself). `order` as for [`difference_flags`].
pub(crate) fn subgraph_flags<E: Borrow<Pdu>>(
    graph: &Graph<E>,
    order: &[u32],
    conflicted: &[u32],
) -> Vec<bool> {
    let len = graph.len();
    // Backwards: the conflicted events and their auth chains.
    let mut backward = vec![false; len];
    let mut stack = conflicted.to_vec();
    while let Some(node) = stack.pop() {
        if !backward[node as usize] {
            backward[node as usize] = true;
            stack.extend_from_slice(graph.refs(node));
        }
    }
    // Forwards, within the backward set (closed under references): events whose chain
    // holds a conflicted event. Referenced events first, so in reverse `order`.
    let mut flags = vec![false; len];
    for &node in conflicted {
        flags[node as usize] = true;
    }
    for &node in order.iter().rev() {
        if backward[node as usize]
            && !flags[node as usize]
            && graph
                .refs(node)
                .iter()
                .any(|&target| flags[target as usize])
        {
            flags[node as usize] = true;
        }
    }
    flags
}

fn intern_all<'i, E: Borrow<Pdu>>(
    graph: &mut Graph<E>,
    ids: impl IntoIterator<Item = &'i EventId>,
) -> Result<Vec<u32>, DagError> {
    ids.into_iter().map(|id| graph.intern(id)).collect()
}

fn load_closure<'a, S: EventSource + ?Sized>(
    graph: &mut Graph<&'a Pdu>,
    roots: &[u32],
    source: &'a S,
) -> Result<(), DagError> {
    let mut loader = Loader::default();
    for &root in roots {
        loader.add(root, true);
    }
    load(graph, &mut loader, source)
}

fn ids_where<E: Borrow<Pdu>>(graph: &Graph<E>, flags: &[bool]) -> BTreeSet<EventId> {
    flags
        .iter()
        .enumerate()
        .filter(|&(_, &flag)| flag)
        .map(|(node, _)| graph.id(node as u32).clone())
        .collect()
}
