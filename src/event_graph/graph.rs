//! The event graph as the walks hold it: dense node numbers, events loaded on demand,
//! and each event's references in one flat vector.
//!
//! Node numbers come from the [`Interner`]; `slots` and `ranges` are grown to the
//! interner's length whenever it hands out a number, so indexing them with a node
//! number is in bounds (the module invariant every `[node as usize]` relies on).

use std::borrow::Borrow;

use super::intern::Interner;
use crate::dag::DagError;
use crate::event::Pdu;
use crate::id::{EventId, RoomId};

/// `m.room.create`.
pub(crate) const CREATE: &str = "m.room.create";

/// Which references the graph follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// `auth_events`, plus the implicit create event of room version 12.
    AuthEvents,
    /// `prev_events`.
    PrevEvents,
}

impl Field {
    /// The field's name, for errors.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::AuthEvents => "auth_events",
            Self::PrevEvents => "prev_events",
        }
    }
}

/// What the graph knows of one node.
#[derive(Debug, Clone)]
enum Slot<E> {
    /// Referenced, not yet asked for.
    Unknown,
    /// Asked for, no answer yet.
    Requested,
    /// The caller does not have it.
    Missing,
    /// Available; `true` when the server rejected it.
    Loaded(E, bool),
}

/// Events by node number with their references as node numbers.
#[derive(Debug, Clone)]
pub(crate) struct Graph<E> {
    ids: Interner,
    slots: Vec<Slot<E>>,
    /// Per node, the `start..end` of its references in `edges` (empty until loaded).
    ranges: Vec<(u32, u32)>,
    edges: Vec<u32>,
    /// Nodes asked for and not answered yet (may hold answered ones until cleaned).
    pending: Vec<u32>,
    field: Field,
    /// Whether a repeated reference is an error (else it is dropped).
    strict: bool,
    /// Room version 12: the last room ID seen and the node of the create event it
    /// names (`None` when it names none), so that the ID is worked out once a room.
    room_create: Option<(RoomId, Option<u32>)>,
}

impl<E: Borrow<Pdu>> Graph<E> {
    /// An empty graph following `field`; `strict` makes repeated references an error.
    pub(crate) fn new(field: Field, strict: bool) -> Self {
        Self {
            ids: Interner::default(),
            slots: Vec::new(),
            ranges: Vec::new(),
            edges: Vec::new(),
            pending: Vec::new(),
            field,
            strict,
            room_create: None,
        }
    }

    /// Makes room for `additional` more nodes and about as many references (a hint:
    /// a count too large to reserve is ignored).
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.ids.reserve(additional);
        let _ = self.slots.try_reserve(additional);
        let _ = self.ranges.try_reserve(additional);
        let _ = self.edges.try_reserve(additional);
        let _ = self.pending.try_reserve(additional);
    }

    /// Number of nodes.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// The ID of `node`.
    pub(crate) fn id(&self, node: u32) -> &EventId {
        self.ids.id(node)
    }

    /// The node of `id`, if known.
    pub(crate) fn node(&self, id: &str) -> Option<u32> {
        self.ids.get(id)
    }

    /// The node of `id`, numbering it if new.
    pub(crate) fn intern(&mut self, id: &EventId) -> Result<u32, DagError> {
        let node = self.ids.intern(id)?;
        self.sync_len();
        Ok(node)
    }

    /// Like [`Graph::intern`] for an owned ID.
    pub(crate) fn intern_owned(&mut self, id: EventId) -> Result<u32, DagError> {
        let node = self.ids.intern_owned(id)?;
        self.sync_len();
        Ok(node)
    }

    fn sync_len(&mut self) {
        let len = self.ids.len();
        if self.slots.len() < len {
            self.slots.resize_with(len, || Slot::Unknown);
            self.ranges.resize(len, (0, 0));
        }
    }

    /// The event at `node`, when loaded.
    pub(crate) fn event(&self, node: u32) -> Option<&Pdu> {
        match &self.slots[node as usize] {
            Slot::Loaded(event, _) => Some(event.borrow()),
            _ => None,
        }
    }

    /// True when `node` is loaded and was rejected by the server.
    pub(crate) fn is_rejected(&self, node: u32) -> bool {
        matches!(self.slots[node as usize], Slot::Loaded(_, true))
    }

    /// The references of `node` (empty until it is loaded).
    pub(crate) fn refs(&self, node: u32) -> &[u32] {
        let (start, end) = self.ranges[node as usize];
        // Index: ranges are written from `edges` positions when a node is loaded.
        &self.edges[start as usize..end as usize]
    }

    /// Marks `node` as needed, if nobody asked for it yet.
    pub(crate) fn request(&mut self, node: u32) {
        if let Slot::Unknown = self.slots[node as usize] {
            self.slots[node as usize] = Slot::Requested;
            self.pending.push(node);
        }
    }

    /// Drops answered nodes from the pending list; true when some remain.
    pub(crate) fn clean_pending(&mut self) -> bool {
        let slots = &self.slots;
        self.pending
            .retain(|&node| matches!(slots[node as usize], Slot::Requested));
        !self.pending.is_empty()
    }

    /// The nodes asked for and not answered, in the order they were asked for.
    pub(crate) fn pending(&self) -> &[u32] {
        &self.pending
    }

    /// Records that the caller does not have `node`.
    pub(crate) fn set_missing(&mut self, node: u32) {
        if !matches!(self.slots[node as usize], Slot::Loaded(..)) {
            self.slots[node as usize] = Slot::Missing;
        }
    }

    /// True when the caller said it does not have `node`.
    pub(crate) fn is_missing(&self, node: u32) -> bool {
        matches!(self.slots[node as usize], Slot::Missing)
    }

    /// True when `node` is loaded.
    pub(crate) fn is_loaded(&self, node: u32) -> bool {
        matches!(self.slots[node as usize], Slot::Loaded(..))
    }

    /// Adds the event of `node` (the caller checked that the IDs match).
    pub(crate) fn provide_at(
        &mut self,
        node: u32,
        event: E,
        rejected: bool,
    ) -> Result<bool, DagError> {
        if matches!(self.slots[node as usize], Slot::Loaded(..)) {
            return Ok(false);
        }
        let start = self.edges.len();
        if let Err(error) = self.push_refs(node, event.borrow()) {
            self.edges.truncate(start);
            return Err(error);
        }
        let end = self.edges.len();
        let too_many = || DagError::TooManyEvents {
            max: super::intern::MAX_NODES,
        };
        let range = (
            u32::try_from(start).map_err(|_| too_many())?,
            u32::try_from(end).map_err(|_| too_many())?,
        );
        self.ranges[node as usize] = range;
        self.slots[node as usize] = Slot::Loaded(event, rejected);
        Ok(true)
    }

    /// Records the references of `pdu`, the event of `node` (so a reference to `node`
    /// is one to itself: compared as numbers, not strings).
    fn push_refs(&mut self, node: u32, pdu: &Pdu) -> Result<(), DagError> {
        let start = self.edges.len();
        let own_id = pdu.event_id();
        let refs = match self.field {
            Field::AuthEvents => pdu.auth_events(),
            Field::PrevEvents => pdu.prev_events(),
        };
        for reference in refs {
            let target = self.intern(reference)?;
            if target == node {
                return Err(DagError::SelfReference {
                    event_id: own_id.clone(),
                    field: self.field.name(),
                });
            }
            if self.edges[start..].contains(&target) {
                if self.strict {
                    return Err(DagError::DuplicateReference {
                        event_id: own_id.clone(),
                        reference: reference.clone(),
                        field: self.field.name(),
                    });
                }
                continue;
            }
            self.edges.push(target);
        }
        // Room version 12: every event but the create event is authorised by the create
        // event its room ID names, although it does not list it (Synapse appends it to
        // `auth_event_ids()`).
        if self.field == Field::AuthEvents
            && pdu.room_version().room_id_from_create_event
            && !(pdu.event_type() == CREATE && pdu.state_key() == Some(""))
            && let Some(target) = self.room_create_node(pdu.room_id())?
            && target != node
            && !self.edges[start..].contains(&target)
        {
            self.edges.push(target);
        }
        Ok(())
    }

    /// The node of the create event `room_id` names (room version 12), if it names one.
    fn room_create_node(&mut self, room_id: &RoomId) -> Result<Option<u32>, DagError> {
        if let Some((room, node)) = &self.room_create
            && room == room_id
        {
            return Ok(*node);
        }
        let node = match room_id.create_event_id() {
            Some(create) => Some(self.intern_owned(create)?),
            None => None,
        };
        self.room_create = Some((room_id.clone(), node));
        Ok(node)
    }

    /// A loaded node that references `node` (the smallest such number), for errors.
    pub(crate) fn referrer(&self, node: u32) -> Option<u32> {
        (0..self.len() as u32).find(|&other| self.refs(other).contains(&node))
    }

    /// The missing-event error for `node`, with a referrer as evidence.
    pub(crate) fn missing_error(&self, node: u32) -> DagError {
        DagError::MissingEvent {
            event_id: self.id(node).clone(),
            referenced_by: self.referrer(node).map(|by| self.id(by).clone()),
        }
    }

    /// The field the graph follows.
    pub(crate) fn field(&self) -> Field {
        self.field
    }
}

/// Loads the events a walk needs: the roots, and for "deep" roots everything they
/// reference transitively. Resumable: [`Loader::run`] stops when it must wait for
/// events the graph has asked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct Loader {
    stack: Vec<(u32, bool)>,
    waiting: Vec<(u32, bool)>,
    /// Per node: 0 unseen, 1 seen (shallow), 2 seen with everything it references.
    seen: Vec<u8>,
}

impl Loader {
    /// Makes room for about `nodes` nodes (a hint: a count too large to reserve is
    /// ignored).
    pub(crate) fn reserve(&mut self, nodes: usize) {
        let _ = self.stack.try_reserve(nodes);
        let _ = self.seen.try_reserve(nodes);
    }

    /// Adds a root; `deep` loads everything it references too.
    pub(crate) fn add(&mut self, node: u32, deep: bool) {
        let level = if deep { 2 } else { 1 };
        if self.seen.len() <= node as usize {
            self.seen.resize(node as usize + 1, 0);
        }
        if self.seen[node as usize] < level {
            self.seen[node as usize] = level;
            self.stack.push((node, deep));
        }
    }

    /// Walks as far as the loaded events allow: `Ok(true)` when everything asked for
    /// is loaded, `Ok(false)` when the graph has pending requests to answer first.
    ///
    /// # Errors
    ///
    /// [`DagError::MissingEvent`] when a needed event was answered as missing.
    pub(crate) fn run<E: Borrow<Pdu>>(&mut self, graph: &mut Graph<E>) -> Result<bool, DagError> {
        while let Some((node, deep)) = self.stack.pop() {
            if graph.is_loaded(node) {
                if deep {
                    if self.seen.len() < graph.len() {
                        self.seen.resize(graph.len(), 0);
                    }
                    for &target in graph.refs(node) {
                        if self.seen[target as usize] < 2 {
                            self.seen[target as usize] = 2;
                            self.stack.push((target, true));
                        }
                    }
                }
            } else if graph.is_missing(node) {
                return Err(graph.missing_error(node));
            } else {
                graph.request(node);
                self.waiting.push((node, deep));
            }
        }
        if self.waiting.is_empty() {
            return Ok(true);
        }
        self.stack.append(&mut self.waiting);
        Ok(false)
    }
}

/// The nodes of `graph` in an order where each event comes before the events it
/// references (Kahn's algorithm over all nodes; unloaded nodes reference nothing).
///
/// # Errors
///
/// [`DagError::Cycle`] when the references form a cycle.
pub(crate) fn referrers_first<E: Borrow<Pdu>>(graph: &Graph<E>) -> Result<Vec<u32>, DagError> {
    let len = graph.len();
    let mut indegree = vec![0u32; len];
    for node in 0..len as u32 {
        for &target in graph.refs(node) {
            indegree[target as usize] += 1;
        }
    }
    let mut ready: Vec<u32> = (0..len as u32)
        .filter(|&node| indegree[node as usize] == 0)
        .collect();
    let mut order = Vec::with_capacity(len);
    while let Some(node) = ready.pop() {
        order.push(node);
        for &target in graph.refs(node) {
            indegree[target as usize] -= 1;
            if indegree[target as usize] == 0 {
                ready.push(target);
            }
        }
    }
    if order.len() < len {
        let remaining: Vec<bool> = indegree.iter().map(|&count| count > 0).collect();
        return Err(cycle_error(graph, &remaining, false));
    }
    Ok(order)
}

/// The error for a cycle among the nodes flagged in `remaining`, each of which has a
/// flagged neighbour in the direction walked (`along_refs`: a flagged reference; else a
/// flagged referrer). Walks from the smallest-ID flagged node until a node repeats;
/// that node lies on a cycle.
pub(crate) fn cycle_error<E: Borrow<Pdu>>(
    graph: &Graph<E>,
    remaining: &[bool],
    along_refs: bool,
) -> DagError {
    let field = graph.field().name();
    let len = graph.len();
    let flagged = |node: u32| remaining.get(node as usize).copied().unwrap_or(false);
    // Neighbours among the flagged nodes, built only on this error path.
    let mut next = vec![u32::MAX; len];
    for node in (0..len as u32).filter(|&node| flagged(node)) {
        for &target in graph.refs(node).iter().filter(|&&target| flagged(target)) {
            if along_refs {
                if next[node as usize] == u32::MAX {
                    next[node as usize] = target;
                }
            } else if next[target as usize] == u32::MAX {
                next[target as usize] = node;
            }
        }
    }
    let start = (0..len as u32)
        .filter(|&node| flagged(node))
        .min_by(|&a, &b| graph.id(a).cmp(graph.id(b)));
    let mut node = start.unwrap_or(0);
    let mut visited = vec![false; len];
    while let Some(seen) = visited.get_mut(node as usize) {
        if *seen {
            break;
        }
        *seen = true;
        match next.get(node as usize) {
            Some(&following) if following != u32::MAX => node = following,
            _ => break,
        }
    }
    DagError::Cycle {
        event_id: graph.id(node).clone(),
        field,
    }
}
