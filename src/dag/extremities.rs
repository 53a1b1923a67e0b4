//! Forward extremities and missing events.

use std::collections::BTreeSet;

use super::{DagError, EventSource};
use crate::event::Pdu;
use crate::event_graph::graph::{Field, Graph};
use crate::event_graph::load::answer_pending;
use crate::id::EventId;

/// The forward extremities of a set of events: those no other event of the set lists
/// in its `prev_events`, sorted by ID.
///
/// # Errors
///
/// [`DagError::MissingEvent`] when the source lacks one of the events,
/// [`DagError::DuplicateEvent`], [`DagError::SelfReference`] and
/// [`DagError::DuplicateReference`].
pub fn forward_extremities<S: EventSource + ?Sized>(
    source: &S,
    event_ids: &[EventId],
) -> Result<BTreeSet<EventId>, DagError> {
    let (graph, nodes) = load_events(source, event_ids)?;
    let mut member = vec![false; graph.len()];
    for &node in &nodes {
        member[node as usize] = true;
    }
    let mut referenced = vec![false; graph.len()];
    for &node in &nodes {
        for &target in graph.refs(node) {
            referenced[target as usize] = true;
        }
    }
    Ok(nodes
        .into_iter()
        .filter(|&node| !referenced[node as usize])
        .map(|node| graph.id(node).clone())
        .collect())
}

/// The `prev_events` of `event_ids` that the source does not have: the gaps to fill
/// (with backfill or `get_missing_events`) before the events can be placed in the
/// room's graph. Sorted by ID.
///
/// # Errors
///
/// As [`forward_extremities`].
pub fn missing_prev_events<S: EventSource + ?Sized>(
    source: &S,
    event_ids: &[EventId],
) -> Result<BTreeSet<EventId>, DagError> {
    let (mut graph, nodes) = load_events(source, event_ids)?;
    let references: Vec<u32> = nodes
        .iter()
        .flat_map(|&node| graph.refs(node))
        .copied()
        .collect();
    for &target in &references {
        graph.request(target);
    }
    answer_pending(&mut graph, source)?;
    Ok(references
        .into_iter()
        .filter(|&node| graph.is_missing(node))
        .map(|node| graph.id(node).clone())
        .collect())
}

/// The events that the auth chains of `event_ids` reference and the source does not
/// have: what to fetch (with `/event_auth` or `/event`) before the chains can be
/// walked. The walk goes on through every event the source has. Sorted by ID.
///
/// # Errors
///
/// [`DagError::MissingEvent`] when the source lacks one of `event_ids` themselves,
/// [`DagError::SelfReference`] and [`DagError::DuplicateReference`].
pub fn missing_auth_events<S: EventSource + ?Sized>(
    source: &S,
    event_ids: &[EventId],
) -> Result<BTreeSet<EventId>, DagError> {
    let mut graph: Graph<&Pdu> = Graph::new(Field::AuthEvents, true);
    let mut roots = Vec::with_capacity(event_ids.len());
    for id in event_ids {
        let node = graph.intern(id)?;
        graph.request(node);
        roots.push(node);
    }
    answer_pending(&mut graph, source)?;
    if let Some(&root) = roots.iter().find(|&&root| graph.is_missing(root)) {
        return Err(graph.missing_error(root));
    }
    let mut seen = vec![false; graph.len()];
    let mut stack = roots;
    let mut missing = BTreeSet::new();
    while !stack.is_empty() {
        // Expand every loaded event on the stack, then answer the new requests at once.
        let mut requested = Vec::new();
        while let Some(node) = stack.pop() {
            if seen.len() < graph.len() {
                seen.resize(graph.len(), false);
            }
            if std::mem::replace(&mut seen[node as usize], true) {
                continue;
            }
            if graph.is_missing(node) {
                missing.insert(graph.id(node).clone());
            } else if graph.is_loaded(node) {
                stack.extend_from_slice(graph.refs(node));
            } else {
                graph.request(node);
                requested.push(node);
            }
        }
        answer_pending(&mut graph, source)?;
        for node in requested {
            seen[node as usize] = false;
            stack.push(node);
        }
    }
    Ok(missing)
}

/// Loads the listed events into a strict `prev_events` graph.
fn load_events<'a, S: EventSource + ?Sized>(
    source: &'a S,
    event_ids: &[EventId],
) -> Result<(Graph<&'a Pdu>, Vec<u32>), DagError> {
    let mut graph = Graph::new(Field::PrevEvents, true);
    let mut nodes = Vec::with_capacity(event_ids.len());
    for id in event_ids {
        nodes.push(graph.intern(id)?);
    }
    let mut seen = vec![false; graph.len()];
    for &node in &nodes {
        if std::mem::replace(&mut seen[node as usize], true) {
            return Err(DagError::DuplicateEvent {
                event_id: graph.id(node).clone(),
            });
        }
        graph.request(node);
    }
    answer_pending(&mut graph, source)?;
    if let Some(&node) = nodes.iter().find(|&&node| !graph.is_loaded(node)) {
        return Err(graph.missing_error(node));
    }
    Ok((graph, nodes))
}
