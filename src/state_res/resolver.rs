//! The resumable state resolution: a step machine that asks for the events it needs
//! and answers once it has them.
//!
//! Vectors indexed by node number are sized to the graph when made, and only nodes
//! already numbered then index them (see `graph.rs` for the invariant).

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;

use super::passes::{Keys, NONE, POWER_LEVELS};
use super::resolved::Resolved;
use super::separate::{Separated, separate};
use super::v1::{self, Conflict};
use super::v2::{self, Plan};
use super::{ResolveError, ResolverMisuse};
use crate::auth::Rejection;
use crate::dag::{AuthChain, EventSource, difference_flags, subgraph_flags};
use crate::event::Pdu;
use crate::event::StateKey;
use crate::event_graph::graph::{Field, Graph, Loader, referrers_first};
use crate::id::{EventId, RoomId};
use crate::room_version::{RoomVersion, StateResAlgorithm};

/// What the resolver wants next.
#[must_use]
#[derive(Debug)]
// The protocol has exactly these two states; callers match both.
#[allow(clippy::exhaustive_enums)]
pub enum Poll<'s> {
    /// Events are needed: fetch [`Resolver::needed`] and hand them over with
    /// [`Resolver::provide_event`] (or say they do not exist with
    /// [`Resolver::provide_not_found`]), then poll again.
    NeedEvents,
    /// The resolved state.
    Done(Resolved<'s>),
}

/// State resolution as a step machine, for callers that fetch events asynchronously
/// (rustls' "needs input" style): [`Resolver::poll`] answers [`Poll::NeedEvents`]
/// until every event it needs has been provided, then [`Poll::Done`].
///
/// The algorithm is the room version's ([`RoomVersion::state_res`]): v1, v2 or v2.1.
/// State sets are maps from `(type, state_key)` to event ID, borrowed for the
/// resolver's life. Events are any `E: Borrow<Pdu>` (a `Pdu`, `&Pdu`, `Arc<Pdu>`).
/// [`resolve`](super::resolve) is this machine driven by an [`EventSource`].
///
/// What is fetched: v1 fetches the conflicted events and the unconflicted events their
/// rules read. v2 and v2.1 compute the auth difference by walking the auth chains of
/// every event of every state set, unless the caller supplies each state set's auth
/// chain ([`Resolver::with_auth_chains`]) or the difference itself
/// ([`Resolver::with_auth_difference`], e.g. from a chain-cover index as Synapse
/// keeps); then only the full conflicted set's auth chains and the unconflicted events
/// its rules read are fetched, so the work grows with the conflict, not the room
/// (splitting the state sets, one merge pass over their sorted keys, is all that
/// grows with the room).
///
/// ```
/// use std::collections::BTreeMap;
/// use matrix_serverlib::event::Pdu;
/// use matrix_serverlib::state_res::{Poll, Resolver};
/// use matrix_serverlib::room_version::RoomVersion;
///
/// let sets = [BTreeMap::new(), BTreeMap::new()];
/// let mut resolver: Resolver<'_, Pdu> = Resolver::new(&RoomVersion::V11, &sets);
/// loop {
///     match resolver.poll()? {
///         Poll::NeedEvents => {
///             let wanted: Vec<_> = resolver.needed().cloned().collect();
///             for id in &wanted {
///                 // Fetch each event (asynchronously, if you like) and provide it.
///                 resolver.provide_not_found(id);
///             }
///         }
///         Poll::Done(resolved) => {
///             assert!(resolved.is_empty());
///             break;
///         }
///     }
/// }
/// # Ok::<(), matrix_serverlib::state_res::ResolveError>(())
/// ```
#[derive(Debug)]
pub struct Resolver<'s, E> {
    version: RoomVersion,
    sets: &'s [BTreeMap<StateKey, EventId>],
    graph: Graph<E>,
    loader: Loader,
    keys: Keys,
    stage: Stage,
    separated: Separated<'s>,
    supplied: Supplied<'s>,
    /// v2 without a supplied difference: the unconflicted events (in every set) and
    /// each state set's other events, as nodes.
    in_all_sets: Vec<u32>,
    set_nodes: Vec<Vec<u32>>,
    /// The conflicted events (v2) as nodes.
    conflicted: Vec<u32>,
    /// v1: the conflicted keys and their candidates.
    conflicts: Vec<Conflict<'s>>,
    /// What the rules read of each event (noted as events arrive, in v2 and v2.1 given
    /// the chains or the difference), then the full conflicted set.
    plan: Plan,
    /// The state the passes start from, by key number.
    state: Vec<u32>,
    /// Per key number, what is known of it in the unconflicted state.
    key_status: Vec<KeyStatus>,
    room_id: Option<RoomId>,
    failure: Option<ResolveError>,
}

/// What the caller supplied towards the auth difference.
enum Supplied<'s> {
    /// Nothing: the resolver walks every state set's auth chain.
    Nothing,
    /// The auth difference itself.
    Difference(Vec<EventId>),
    /// Each state set's full auth chain.
    Chains(Vec<&'s dyn AuthChain>),
}

impl fmt::Debug for Supplied<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Nothing => f.write_str("Nothing"),
            Self::Difference(ids) => f.debug_tuple("Difference").field(ids).finish(),
            Self::Chains(chains) => f
                .debug_tuple("Chains")
                .field(&chains.iter().map(|chain| chain.len()).collect::<Vec<_>>())
                .finish(),
        }
    }
}

/// What is known of a key in the unconflicted state, so that each key is searched
/// for at most once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyStatus {
    /// Not searched for yet.
    Unknown,
    /// Conflicted.
    Conflicted,
    /// In the unconflicted state.
    Unconflicted,
    /// Neither conflicted nor unconflicted: no state set has it.
    Absent,
}

/// Records in `statuses` what is known of key `number`.
fn set_status(statuses: &mut Vec<KeyStatus>, number: u32, status: KeyStatus) {
    let index = number as usize;
    if statuses.len() <= index {
        statuses.resize(index + 1, KeyStatus::Unknown);
    }
    if let Some(slot) = statuses.get_mut(index) {
        *slot = status;
    }
}

/// Where the machine is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Nothing done yet.
    Start,
    /// Loading the conflicted events (and, for v2, the auth chains it walks).
    Conflicted,
    /// Loading the unconflicted events the rules read.
    Base,
    /// Answered, or failed.
    Finished,
}

impl<'s, E: Borrow<Pdu>> Resolver<'s, E> {
    /// A resolver of `state_sets` under `version`'s algorithm.
    pub fn new(version: &RoomVersion, state_sets: &'s [BTreeMap<StateKey, EventId>]) -> Self {
        Self {
            version: *version,
            sets: state_sets,
            graph: Graph::new(Field::AuthEvents, false),
            loader: Loader::default(),
            keys: Keys::default(),
            stage: Stage::Start,
            separated: Separated::default(),
            supplied: Supplied::Nothing,
            in_all_sets: Vec::new(),
            set_nodes: Vec::new(),
            conflicted: Vec::new(),
            conflicts: Vec::new(),
            plan: Plan::default(),
            state: Vec::new(),
            key_status: Vec::new(),
            room_id: None,
            failure: None,
        }
    }

    /// Supplies the auth difference of the state sets (v2 and v2.1; ignored by v1), so
    /// that the resolver does not walk every state set's auth chain to find it.
    ///
    /// It must be Synapse's auth difference: the events that some but not all state
    /// sets reach, where a set reaches its own events and everything in their auth
    /// chains ([`dag::auth_difference`](crate::dag::auth_difference) computes it).
    #[must_use]
    pub fn with_auth_difference(mut self, event_ids: impl IntoIterator<Item = EventId>) -> Self {
        self.supplied = Supplied::Difference(event_ids.into_iter().collect());
        self
    }

    /// Supplies the full auth chain of each state set, in the order of the state sets
    /// (v2 and v2.1; ignored by v1): what a server that caches auth chains holds, and
    /// what ruma-state-res takes. The resolver then walks only the auth chains of the
    /// conflicted events, where every event of the auth difference lies (an event that
    /// only unconflicted events reach is in every chain), and asks the chains about
    /// those events alone: the work grows with the conflict, not with the chains.
    ///
    /// A chain need not hold its state set's own events. As Synapse counts them, each
    /// state set also reaches its own events, so an event of the unconflicted state is
    /// never in the difference even when only some chains hold it.
    ///
    /// A number of chains other than the number of state sets makes the first poll
    /// fail with [`ResolverMisuse::ChainCount`].
    ///
    /// ```
    /// use std::collections::{BTreeMap, BTreeSet};
    /// use matrix_serverlib::event::Pdu;
    /// use matrix_serverlib::id::EventId;
    /// use matrix_serverlib::room_version::RoomVersion;
    /// use matrix_serverlib::state_res::Resolver;
    ///
    /// let sets = [BTreeMap::new(), BTreeMap::new()];
    /// let chains = [BTreeSet::<EventId>::new(), BTreeSet::new()];
    /// let events: BTreeMap<EventId, Pdu> = BTreeMap::new();
    /// let resolved = Resolver::new(&RoomVersion::V11, &sets)
    ///     .with_auth_chains(&chains)
    ///     .run(&events)?;
    /// assert!(resolved.is_empty());
    /// # Ok::<(), matrix_serverlib::state_res::ResolveError>(())
    /// ```
    #[must_use]
    pub fn with_auth_chains<C: AuthChain>(mut self, chains: &'s [C]) -> Self {
        self.supplied = Supplied::Chains(
            chains
                .iter()
                .map(|chain| chain as &'s dyn AuthChain)
                .collect(),
        );
        self
    }

    /// Advances as far as the provided events allow.
    ///
    /// # Errors
    ///
    /// [`ResolveError::MissingEvent`] when a needed event was answered as not found;
    /// [`ResolveError::Graph`] when the `auth_events` graph is malformed (cycles,
    /// self-references);
    /// [`ResolveError::WrongRoom`] when events of several rooms were provided;
    /// [`ResolverMisuse::AlreadyFinished`] when polled after [`Poll::Done`] or an error.
    pub fn poll(&mut self) -> Result<Poll<'s>, ResolveError> {
        let result = self.advance();
        if !matches!(result, Ok(Poll::NeedEvents)) {
            self.stage = Stage::Finished;
        }
        result
    }

    /// The IDs of the events needed now, in the order they were first needed.
    pub fn needed(&self) -> impl ExactSizeIterator<Item = &EventId> + '_ {
        self.graph.pending().iter().map(|&node| self.graph.id(node))
    }

    /// Hands over an event (needed or not; one nobody asked for is ignored).
    pub fn provide_event(&mut self, event: E) {
        self.accept(event, false);
    }

    /// Hands over an event the server rejected when it received it: it is never
    /// admitted into state nor used to authorise another (as Synapse does).
    pub fn provide_rejected_event(&mut self, event: E) {
        self.accept(event, true);
    }

    /// Says that the caller does not have `event_id`; the next poll fails with
    /// [`ResolveError::MissingEvent`] if it is needed.
    pub fn provide_not_found(&mut self, event_id: &EventId) {
        if let Some(node) = self.graph.node(event_id.as_str()) {
            self.graph.set_missing(node);
        }
    }

    fn accept(&mut self, event: E, rejected: bool) {
        let Some(node) = self.graph.node(event.borrow().event_id().as_str()) else {
            return;
        };
        self.accept_at(node, event, rejected);
    }

    /// Loads `event` as `node` after checking its room.
    fn accept_at(&mut self, node: u32, event: E, rejected: bool) {
        if self.failure.is_some() {
            return;
        }
        let pdu = event.borrow();
        match &self.room_id {
            None => self.room_id = Some(pdu.room_id().clone()),
            Some(expected) if expected != pdu.room_id() => {
                self.failure = Some(ResolveError::WrongRoom {
                    event_id: pdu.event_id().clone(),
                    room_id: pdu.room_id().clone(),
                    expected: expected.clone(),
                });
                return;
            }
            Some(_) => {}
        }
        match self.graph.provide_at(node, event, rejected) {
            Ok(true) if self.note_on_arrival() => {
                self.plan
                    .note(&self.graph, &self.version, &mut self.keys, node);
            }
            Ok(_) => {}
            Err(error) => self.failure = Some(error.into()),
        }
    }

    /// True when what the rules read of each event is noted as the event arrives,
    /// while its fields are fresh in the cache: state resolution v2 and v2.1 given the
    /// auth chains or the auth difference, where nearly every event fetched is in the
    /// full conflicted set. (Walking every state set's auth chain fetches the whole
    /// room, most of which planning never reads.)
    fn note_on_arrival(&self) -> bool {
        self.version.state_res != StateResAlgorithm::V1
            && !matches!(self.supplied, Supplied::Nothing)
    }

    fn advance(&mut self) -> Result<Poll<'s>, ResolveError> {
        if let Some(failure) = self.failure.take() {
            return Err(failure);
        }
        loop {
            match self.stage {
                Stage::Start => {
                    if let Some(done) = self.start()? {
                        return Ok(Poll::Done(done));
                    }
                    self.stage = Stage::Conflicted;
                }
                Stage::Conflicted => {
                    if !self.load()? {
                        return Ok(Poll::NeedEvents);
                    }
                    self.plan_conflicted()?;
                    self.stage = Stage::Base;
                }
                Stage::Base => {
                    if !self.load()? {
                        return Ok(Poll::NeedEvents);
                    }
                    return self.finish().map(Poll::Done);
                }
                Stage::Finished => return Err(ResolverMisuse::AlreadyFinished.into()),
            }
        }
    }

    /// Runs the loader; `Ok(false)` while events are pending.
    fn load(&mut self) -> Result<bool, ResolveError> {
        let done = self.loader.run(&mut self.graph)?;
        self.graph.clean_pending();
        Ok(done)
    }

    /// Splits the state sets and asks for the first events; answers at once when
    /// nothing conflicts.
    fn start(&mut self) -> Result<Option<Resolved<'s>>, ResolveError> {
        let v1 = self.version.state_res == StateResAlgorithm::V1;
        if let Supplied::Chains(chains) = &self.supplied
            && !v1
            && chains.len() != self.sets.len()
        {
            return Err(ResolveError::Misuse(ResolverMisuse::ChainCount {
                chains: chains.len(),
                sets: self.sets.len(),
            }));
        }
        // v1 (Synapse): a key missing from some sets is not a conflict; v2: it is.
        self.separated = separate(self.sets, !v1);
        if self.separated.conflicted_len() == 0 {
            return Ok(Some(self.answer(BTreeMap::new(), Vec::new())));
        }
        if v1 {
            // v1 needs only the conflicted events themselves.
            for index in 0..self.separated.conflicted_len() {
                let Some((key, ids)) = self.separated.conflicted_at(index) else {
                    continue;
                };
                let mut candidates = Vec::with_capacity(ids.len());
                for &id in ids {
                    let node = self.graph.intern(id)?;
                    self.loader.add(node, false);
                    candidates.push(node);
                }
                let number = self.keys.index(key.event_type(), key.state_key());
                set_status(&mut self.key_status, number, KeyStatus::Conflicted);
                self.conflicts.push(Conflict {
                    key: number,
                    event_type: key.event_type(),
                    state_key: key.state_key(),
                    candidates,
                });
            }
            return Ok(None);
        }
        // Given the chains or the difference, the conflicted events and their auth
        // chains make about as many nodes as conflicted events, reading about twice as
        // many keys as are conflicted, of some 40 bytes each (a user ID and a type).
        // (Walking every state set's chains fetches the whole room, which no count
        // here foretells.)
        let ids = self.separated.conflicted_ids_len();
        self.conflicted.reserve(ids);
        if self.note_on_arrival() {
            let nodes = ids.saturating_add(ids / 4);
            self.graph.reserve(nodes);
            self.loader.reserve(nodes);
            self.plan.reserve(nodes);
        }
        let conflicted_keys = self.separated.conflicted_len();
        self.keys.reserve(
            conflicted_keys.saturating_mul(2),
            conflicted_keys.saturating_mul(80),
        );
        for index in 0..self.separated.conflicted_len() {
            let Some((key, ids)) = self.separated.conflicted_at(index) else {
                continue;
            };
            // Numbered now, while the key is fresh from the split.
            let number = self.keys.index(key.event_type(), key.state_key());
            set_status(&mut self.key_status, number, KeyStatus::Conflicted);
            for &id in ids {
                let node = self.graph.intern(id)?;
                self.conflicted.push(node);
                self.loader.add(node, true);
            }
        }
        match &self.supplied {
            Supplied::Difference(difference) => {
                for id in difference {
                    let node = self.graph.intern(id)?;
                    self.loader.add(node, true);
                }
            }
            // The conflicted events' auth chains, loaded already, hold the difference.
            Supplied::Chains(_) => {}
            Supplied::Nothing => {
                // The auth difference needs every set's auth chain. The unconflicted
                // events are in every set: number them once.
                for (_, id) in self.separated.unconflicted.iter() {
                    let node = self.graph.intern(id)?;
                    self.loader.add(node, true);
                    self.in_all_sets.push(node);
                }
                for set in self.sets {
                    let mut nodes = Vec::new();
                    for (key, _) in self.separated.conflicted() {
                        if let Some(id) = set.get(key) {
                            let node = self.graph.intern(id)?;
                            self.loader.add(node, true);
                            nodes.push(node);
                        }
                    }
                    self.set_nodes.push(nodes);
                }
            }
        }
        Ok(None)
    }

    /// With the conflicted events loaded: works out the full conflicted set (v2) and
    /// asks for the unconflicted events the rules read.
    fn plan_conflicted(&mut self) -> Result<(), ResolveError> {
        let events = if self.version.state_res == StateResAlgorithm::V1 {
            self.conflicts
                .iter()
                .flat_map(|conflict| conflict.candidates.iter().copied())
                .collect()
        } else {
            self.full_conflicted_set()?
        };
        // v2.1 starts from the empty state; v1 and v2 from the unconflicted entries the
        // rules read (and, for v2's mainline, the power levels), found as planning meets
        // each key.
        let from_unconflicted = self.version.state_res != StateResAlgorithm::V2_1;
        let unconflicted = &self.separated.unconflicted;
        let statuses = &mut self.key_status;
        let mut wanted: Vec<(u32, &'s EventId)> = Vec::new();
        self.plan = std::mem::take(&mut self.plan).complete(
            &self.graph,
            &self.version,
            events,
            &mut self.keys,
            |number, event_type, state_key| {
                if !from_unconflicted
                    || statuses.get(number as usize) == Some(&KeyStatus::Conflicted)
                {
                    return;
                }
                let status = match unconflicted.get(event_type, state_key) {
                    Some(id) => {
                        wanted.push((number, id));
                        KeyStatus::Unconflicted
                    }
                    None => KeyStatus::Absent,
                };
                set_status(statuses, number, status);
            },
        );
        if !from_unconflicted {
            return Ok(());
        }
        let deep = self.version.state_res == StateResAlgorithm::V2;
        self.key_status.resize(self.keys.len(), KeyStatus::Unknown);
        if deep && let Some(id) = self.separated.unconflicted.get(POWER_LEVELS, "") {
            wanted.push((self.keys.index(POWER_LEVELS, ""), id));
        }
        self.state = vec![NONE; self.keys.len()];
        for (key, id) in wanted {
            let node = self.graph.intern(id)?;
            self.loader.add(node, deep);
            self.state[key as usize] = node;
        }
        Ok(())
    }

    /// v2: the conflicted events, the auth difference and (v2.1) the conflicted
    /// subgraph, sorted by node number.
    fn full_conflicted_set(&self) -> Result<Vec<u32>, ResolveError> {
        let order = referrers_first(&self.graph)?;
        // The conflicted events first: the supplied chains need not be asked about them.
        let mut flags = vec![false; self.graph.len()];
        for &node in &self.conflicted {
            flags[node as usize] = true;
        }
        match &self.supplied {
            Supplied::Difference(difference) => {
                for id in difference {
                    if let Some(node) = self.graph.node(id.as_str()) {
                        flags[node as usize] = true;
                    }
                }
            }
            Supplied::Chains(chains) => {
                // In some chains but not all, and not reached by every set as its own
                // unconflicted state.
                for (node, flag) in (0..).zip(flags.iter_mut()) {
                    if *flag {
                        continue;
                    }
                    let id = self.graph.id(node);
                    let holding = chains.iter().filter(|chain| chain.contains(id)).count();
                    *flag =
                        holding > 0 && holding < chains.len() && !self.is_unconflicted_event(node);
                }
            }
            Supplied::Nothing => {
                let difference =
                    difference_flags(&self.graph, &order, &self.in_all_sets, &self.set_nodes);
                for (flag, in_difference) in flags.iter_mut().zip(difference) {
                    *flag |= in_difference;
                }
            }
        }
        if self.version.state_res == StateResAlgorithm::V2_1 {
            let subgraph = subgraph_flags(&self.graph, &order, &self.conflicted);
            for (flag, in_subgraph) in flags.iter_mut().zip(subgraph) {
                *flag |= in_subgraph;
            }
        }
        Ok(flags
            .iter()
            .enumerate()
            .filter(|&(_, &flag)| flag)
            .map(|(node, _)| node as u32)
            .collect())
    }

    /// True when `node` is the unconflicted state's event at its key: every state set
    /// holds it.
    fn is_unconflicted_event(&self, node: u32) -> bool {
        self.graph.event(node).is_some_and(|pdu| {
            pdu.state_key().is_some_and(|state_key| {
                self.separated
                    .unconflicted
                    .get(pdu.event_type(), state_key)
                    .is_some_and(|id| id == pdu.event_id())
            })
        })
    }

    /// Runs the passes and assembles the answer.
    fn finish(&mut self) -> Result<Resolved<'s>, ResolveError> {
        if self.state.len() < self.keys.len() {
            self.state.resize(self.keys.len(), NONE);
        }
        let (entries, rejected) = if self.version.state_res == StateResAlgorithm::V1 {
            let outcome = v1::resolve(
                &self.graph,
                &self.version,
                &self.plan,
                &self.conflicts,
                &mut self.state,
            );
            (outcome.winners, outcome.rejected)
        } else {
            let rejected = v2::replay(
                &self.graph,
                &self.version,
                &self.plan,
                &mut self.state,
                &self.keys,
            )?;
            let entries = self
                .state
                .iter()
                .enumerate()
                .filter(|&(_, &node)| node != NONE)
                .map(|(key, &node)| (key as u32, node))
                .collect();
            (entries, rejected)
        };
        // Keys known to be conflicted (numbered at the split), or found (or not) in the
        // unconflicted state while planning, need no search of it.
        self.key_status.resize(self.keys.len(), KeyStatus::Unknown);
        // Collected, then built as a tree at once: the keys come nearly sorted (the
        // conflicted keys were numbered in key order), which the build's sort takes in
        // one pass, where inserting one by one would compare keys down the tree.
        let mut conflicted = Vec::new();
        for (key, node) in entries {
            // Step 5 (v2): the unconflicted state wins (known without reading the event
            // for the keys planning looked up).
            let status = self.key_status.get(key as usize).copied();
            if status == Some(KeyStatus::Unconflicted) {
                continue;
            }
            let Some(pdu) = self.graph.event(node) else {
                continue;
            };
            let Some(state_key) = pdu.state_key() else {
                continue;
            };
            let decided = match status {
                Some(KeyStatus::Conflicted | KeyStatus::Absent) => true,
                _ => self
                    .separated
                    .unconflicted
                    .get(pdu.event_type(), state_key)
                    .is_none(),
            };
            if decided {
                conflicted.push((
                    StateKey::new(pdu.event_type(), state_key),
                    self.graph.id(node).clone(),
                ));
            }
        }
        Ok(self.answer(conflicted.into_iter().collect(), rejected))
    }

    fn answer(
        &mut self,
        conflicted: BTreeMap<StateKey, EventId>,
        rejected: Vec<(u32, Rejection)>,
    ) -> Resolved<'s> {
        let rejected = rejected
            .into_iter()
            .map(|(node, rejection)| (self.graph.id(node).clone(), rejection))
            .collect();
        Resolved::new(
            std::mem::take(&mut self.separated.unconflicted),
            conflicted,
            rejected,
        )
    }
}

impl<'s, 'a> Resolver<'s, &'a Pdu> {
    /// Drives the resolver to the end, taking events from `source`.
    ///
    /// # Errors
    ///
    /// As [`Resolver::poll`]; an event the source lacks is
    /// [`ResolveError::MissingEvent`], and a source
    /// answering with an event of another ID is
    /// [`DagError::WrongEvent`](crate::dag::DagError::WrongEvent).
    pub fn run<S: EventSource + ?Sized>(
        mut self,
        source: &'a S,
    ) -> Result<Resolved<'s>, ResolveError> {
        loop {
            match self.poll()? {
                Poll::Done(resolved) => return Ok(resolved),
                Poll::NeedEvents => self.answer_from(source)?,
            }
        }
    }

    fn answer_from<S: EventSource + ?Sized>(&mut self, source: &'a S) -> Result<(), ResolveError> {
        let answers: Vec<(u32, Option<&'a Pdu>)> = self
            .graph
            .pending()
            .iter()
            .map(|&node| (node, source.event(self.graph.id(node))))
            .collect();
        for (node, event) in answers {
            match event {
                Some(pdu) => {
                    let requested = self.graph.id(node);
                    if pdu.event_id() != requested {
                        return Err(crate::dag::DagError::WrongEvent {
                            requested: requested.clone(),
                            returned: pdu.event_id().clone(),
                        }
                        .into());
                    }
                    let rejected = source.is_rejected(requested);
                    self.accept_at(node, pdu, rejected);
                }
                None => self.graph.set_missing(node),
            }
        }
        Ok(())
    }
}
