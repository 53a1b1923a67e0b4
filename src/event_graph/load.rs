//! Answering a graph's requests from a synchronous [`EventSource`].

use super::graph::{Graph, Loader};
use crate::dag::{DagError, EventSource};
use crate::event::Pdu;

/// Answers every pending request of `graph` from `source`.
///
/// # Errors
///
/// [`DagError::WrongEvent`] when the source answers with an event of another ID, and the
/// errors of loading an event (self-references, repeated references in a strict graph).
pub(crate) fn answer_pending<'a, S: EventSource + ?Sized>(
    graph: &mut Graph<&'a Pdu>,
    source: &'a S,
) -> Result<(), DagError> {
    let answers: Vec<(u32, Option<&'a Pdu>, bool)> = graph
        .pending()
        .iter()
        .map(|&node| {
            let id = graph.id(node);
            let event = source.event(id);
            (node, event, event.is_some() && source.is_rejected(id))
        })
        .collect();
    for (node, event, rejected) in answers {
        match event {
            Some(pdu) => {
                if pdu.event_id() != graph.id(node) {
                    return Err(DagError::WrongEvent {
                        requested: graph.id(node).clone(),
                        returned: pdu.event_id().clone(),
                    });
                }
                graph.provide_at(node, pdu, rejected)?;
            }
            None => graph.set_missing(node),
        }
    }
    graph.clean_pending();
    Ok(())
}

/// Runs `loader` to completion, answering requests from `source`.
///
/// # Errors
///
/// [`DagError::MissingEvent`] for a needed event the source lacks, and the errors of
/// [`answer_pending`].
pub(crate) fn load<'a, S: EventSource + ?Sized>(
    graph: &mut Graph<&'a Pdu>,
    loader: &mut Loader,
    source: &'a S,
) -> Result<(), DagError> {
    while !loader.run(graph)? {
        answer_pending(graph, source)?;
    }
    Ok(())
}
