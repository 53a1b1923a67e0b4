//! Checks 4 to 6 for one event, given what the batch and the room hold: its auth
//! events, the state before it (resolved over its prev events), and the current state.

use std::collections::{BTreeMap, BTreeSet};

use super::machine::{Current, Ingest, Node, Role, Want};
use super::outcome::{Check, DropReason, Mode, RejectReason, StateBefore, Verdict};
use super::view::{RoomView, Status};
use crate::auth::{self, AuthEvents, Rejection};
use crate::dag::EventSource;
use crate::event::Pdu;
use crate::event::StateKey;
use crate::id::EventId;
use crate::state_res::{self, ResolveError};

/// `m.room.create`.
const CREATE: &str = "m.room.create";

/// A decision on one event; [`Verdict`] without the state and the redaction flag.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Decision {
    Accepted,
    Dropped(DropReason),
    MissingAuth(Vec<EventId>),
    MissingState(Vec<EventId>),
    Outlier(Option<RejectReason>),
    Rejected(RejectReason, Check),
    SoftFailed(Rejection),
    StateUnresolvable(ResolveError),
    Unresolved(Vec<EventId>),
}

impl Decision {
    /// The public verdict. Accepted and soft-failed events always have a state before
    /// (set with the decision); the empty state stands in only if that ever broke.
    pub(super) fn into_verdict(self, state_before: Option<StateBefore>, redacted: bool) -> Verdict {
        let state = |before: Option<StateBefore>| {
            before.unwrap_or_else(|| StateBefore::Resolved(BTreeMap::new()))
        };
        match self {
            Self::Accepted => Verdict::Accepted {
                state_before: state(state_before),
                redacted,
            },
            Self::Dropped(reason) => Verdict::Dropped(reason),
            Self::MissingAuth(missing) => Verdict::MissingAuth { missing },
            Self::MissingState(missing) => Verdict::MissingState { missing },
            Self::Outlier(rejection) => Verdict::Outlier {
                rejection,
                redacted,
            },
            Self::Rejected(reason, at) => Verdict::Rejected {
                reason,
                at,
                state_before,
                redacted,
            },
            Self::SoftFailed(rejection) => Verdict::SoftFailed {
                rejection,
                state_before: state(state_before),
                redacted,
            },
            Self::StateUnresolvable(error) => Verdict::StateUnresolvable(error),
            Self::Unresolved(missing_prevs) => Verdict::Unresolved { missing_prevs },
        }
    }
}

/// What one look at an event gives.
#[derive(Debug)]
pub(super) enum Step {
    /// Its decision, and the state before it when computed.
    Decide(Decision, Option<StateBefore>),
    /// It waits: on these new fetches, on requests in flight, or on batch events not
    /// yet decided.
    Wait(Vec<Want>),
}

/// An auth event as the checks see it.
enum AuthEvent<'a> {
    Usable(&'a Pdu),
    Rejected,
    Pending,
    Missing,
}

/// The prev events of an event: those with a known state, those without, and the
/// states `/state_ids` gave for the latter.
struct Prevs<'a> {
    known: Vec<&'a EventId>,
    missing: Vec<&'a EventId>,
    fetched: Vec<BTreeMap<StateKey, EventId>>,
}

/// A state: batch events (newest first) over a base map.
pub(super) struct Layered<'a> {
    own: Vec<&'a Pdu>,
    base: &'a BTreeMap<StateKey, EventId>,
}

impl<'a> Layered<'a> {
    fn over(base: &'a BTreeMap<StateKey, EventId>) -> Self {
        Self {
            own: Vec::new(),
            base,
        }
    }

    fn get(&self, key: &StateKey) -> Option<&'a EventId> {
        self.own
            .iter()
            .find(|pdu| {
                pdu.state_key() == Some(key.state_key()) && pdu.event_type() == key.event_type()
            })
            .map(|pdu| pdu.event_id())
            .or_else(|| self.base.get(key))
    }

    pub(super) fn materialize(&self) -> BTreeMap<StateKey, EventId> {
        let mut map = self.base.clone();
        for pdu in self.own.iter().rev() {
            let key = StateKey::new(pdu.event_type(), pdu.state_key().unwrap_or_default());
            map.insert(key, pdu.event_id().clone());
        }
        map
    }
}

/// The batch's events over the room's, for state resolution.
struct Source<'a> {
    ingest: &'a Ingest,
    room: &'a dyn RoomView,
}

impl EventSource for Source<'_> {
    fn event(&self, event_id: &EventId) -> Option<&Pdu> {
        self.ingest.pdu(self.room, event_id)
    }

    fn is_rejected(&self, event_id: &EventId) -> bool {
        match self.ingest.nodes.get(event_id) {
            Some(node) => matches!(
                node.decision,
                Some(Decision::Rejected(..) | Decision::Outlier(Some(_)))
            ),
            None => self
                .room
                .event(event_id)
                .is_some_and(|known| known.status == Status::Rejected),
        }
    }
}

impl Ingest {
    /// Checks 4 to 6 for the batch event `id`, as far as the data allows.
    pub(super) fn step(&self, room: &dyn RoomView, id: &EventId) -> Step {
        let Some(node) = self.nodes.get(id) else {
            return Step::Decide(Decision::Dropped(DropReason::Duplicate), None);
        };
        let checked = match self.check_auth_events(room, node) {
            Ok(checked) => checked,
            Err(step) => return step,
        };
        let Role::Timeline(mode) = node.role else {
            return Step::Decide(Decision::Outlier(checked.err()), None);
        };
        let listed = match checked {
            Ok(listed) => listed,
            Err(reason) => {
                return Step::Decide(Decision::Rejected(reason, Check::AuthEvents), None);
            }
        };
        let prevs = match self.prev_states(room, node, mode) {
            Ok(prevs) => prevs,
            Err(step) => return step,
        };
        self.check_state(room, &node.pdu, mode, &listed, prevs)
    }

    /// Check 4: the event against its own auth events (and, in room version 12, the
    /// create event its room ID names). A rejected auth event taints the event; missing
    /// ones are asked with `/event_auth` once.
    fn check_auth_events<'a>(
        &'a self,
        room: &'a dyn RoomView,
        node: &'a Node,
    ) -> Result<Result<Vec<&'a Pdu>, RejectReason>, Step> {
        let pdu = &node.pdu;
        let mut listed = Vec::new();
        let mut missing = Vec::new();
        let mut tainted = None;
        let create_id = (self.version.room_id_from_create_event && pdu.event_type() != CREATE)
            .then(|| pdu.room_id().create_event_id())
            .flatten();
        let mut create = None;
        for id in pdu.auth_events().iter().chain(create_id.as_ref()) {
            match self.auth_event(room, id) {
                AuthEvent::Usable(event) if Some(id) == create_id.as_ref() => create = Some(event),
                AuthEvent::Usable(event) => listed.push(event),
                AuthEvent::Rejected => {
                    tainted.get_or_insert_with(|| id.clone());
                }
                AuthEvent::Pending => return Err(Step::Wait(Vec::new())),
                AuthEvent::Missing => missing.push(id.clone()),
            }
        }
        if let Some(event_id) = tainted {
            return Ok(Err(RejectReason::AuthEventRejected { event_id }));
        }
        if !missing.is_empty() {
            let may_fetch = node.role != Role::Outlier { fetched: true };
            if may_fetch && let Some(step) = self.wait_for(Want::EventAuth(pdu.event_id().clone()))
            {
                return Err(step);
            }
            return Err(Step::Decide(Decision::MissingAuth(missing), None));
        }
        Ok(auth::authorize_by_auth_events(pdu, &listed, create)
            .map(|()| listed)
            .map_err(RejectReason::Rule))
    }

    fn auth_event<'a>(&'a self, room: &'a dyn RoomView, id: &EventId) -> AuthEvent<'a> {
        if let Some(node) = self.nodes.get(id) {
            return match &node.decision {
                None => AuthEvent::Pending,
                Some(Decision::Accepted | Decision::SoftFailed(_) | Decision::Outlier(None)) => {
                    AuthEvent::Usable(&node.pdu)
                }
                Some(Decision::Rejected(..) | Decision::Outlier(Some(_))) => AuthEvent::Rejected,
                Some(_) => AuthEvent::Missing,
            };
        }
        match room.event(id) {
            Some(known) if known.status == Status::Rejected => AuthEvent::Rejected,
            Some(known) => AuthEvent::Usable(known.pdu),
            None => AuthEvent::Missing,
        }
    }

    /// The prev events: known, or missing (pushed: `/get_missing_events` once, then
    /// unresolved; pulled and backfilled: `/state_ids` at each, then `/event`).
    fn prev_states<'a>(
        &'a self,
        room: &'a dyn RoomView,
        node: &'a Node,
        mode: Mode,
    ) -> Result<Prevs<'a>, Step> {
        let mut known = Vec::new();
        let mut missing = Vec::new();
        for prev in node.pdu.prev_events() {
            match self.nodes.get(prev) {
                Some(prev_node) if prev_node.decision.is_none() => {
                    return Err(Step::Wait(Vec::new()));
                }
                Some(prev_node) if has_state(prev_node) => known.push(prev),
                Some(_) => missing.push(prev),
                None if room.state_after(prev).is_some() => known.push(prev),
                None => missing.push(prev),
            }
        }
        if missing.is_empty() {
            return Ok(Prevs {
                known,
                missing,
                fetched: Vec::new(),
            });
        }
        if mode == Mode::Pushed {
            // Synapse asks only when the event is deeper than the room's oldest event.
            let deeper = room.min_depth().is_some_and(|min| node.pdu.depth() > min);
            let want = Want::MissingEvents(node.pdu.event_id().clone());
            if deeper && let Some(step) = self.wait_for(want) {
                return Err(step);
            }
            let missing_prevs = missing.into_iter().cloned().collect();
            return Err(Step::Decide(Decision::Unresolved(missing_prevs), None));
        }
        let fetched = self.fetched_states(room, &missing)?;
        Ok(Prevs {
            known,
            missing,
            fetched,
        })
    }

    /// The state after each missing prev event from `/state_ids` (the state at it plus
    /// itself, as Synapse builds it), with `/event` for the events nobody has.
    fn fetched_states(
        &self,
        room: &dyn RoomView,
        missing: &[&EventId],
    ) -> Result<Vec<BTreeMap<StateKey, EventId>>, Step> {
        let mut wants = Vec::new();
        let mut waiting = false;
        let mut failed = Vec::new();
        let mut unknown = BTreeSet::new();
        for &prev in missing {
            let want = Want::StateIds(prev.clone());
            match self.asked.get(&want) {
                None => wants.push(want),
                Some(false) => waiting = true,
                Some(true) => match self.state_ids.get(prev) {
                    None => failed.push(prev.clone()),
                    Some(ids) => {
                        // The auth chain too, so the state events can be checked.
                        let all = ids.pdu_ids.iter().chain(&ids.auth_chain_ids);
                        let absent = all.chain([prev]).filter(|id| self.pdu(room, id).is_none());
                        unknown.extend(absent.cloned());
                    }
                },
            }
        }
        if !wants.is_empty() || waiting {
            return Err(Step::Wait(wants));
        }
        if !failed.is_empty() {
            return Err(Step::Decide(Decision::Unresolved(failed), None));
        }
        self.fetch_events(unknown.into_iter().collect())?;
        self.states_from_ids(room, missing)
    }

    /// The state after each missing prev event, from its `/state_ids` answer and the
    /// events now at hand; a state event still missing makes the state unavailable.
    fn states_from_ids(
        &self,
        room: &dyn RoomView,
        missing: &[&EventId],
    ) -> Result<Vec<BTreeMap<StateKey, EventId>>, Step> {
        self.outliers_settled()?;
        let mut states = Vec::new();
        let mut absent = BTreeSet::new();
        for &prev in missing {
            let Some(ids) = self.state_ids.get(prev) else {
                continue;
            };
            let mut map = BTreeMap::new();
            for id in ids.pdu_ids.iter().chain([prev]) {
                match self.pdu(room, id) {
                    Some(pdu) => {
                        if let Some(state_key) = pdu.state_key() {
                            map.insert(StateKey::new(pdu.event_type(), state_key), id.clone());
                        }
                    }
                    None => {
                        absent.insert(id.clone());
                    }
                }
            }
            states.push(map);
        }
        if absent.is_empty() {
            Ok(states)
        } else {
            let missing = absent.into_iter().collect();
            Err(Step::Decide(Decision::MissingState(missing), None))
        }
    }

    /// Checks 5 and 6, once the prev events' states are in hand.
    fn check_state(
        &self,
        room: &dyn RoomView,
        pdu: &Pdu,
        mode: Mode,
        listed: &[&Pdu],
        prevs: Prevs<'_>,
    ) -> Step {
        let state_before = match self.state_before(room, &prevs) {
            Ok(state_before) => state_before,
            Err(step) => return step,
        };
        let Some(before) = self.view_of(room, &state_before) else {
            return Step::Decide(Decision::MissingState(Vec::new()), None);
        };
        // Check 5: the auth events recomputed from the state before.
        let auth_state = match self.auth_state(room, pdu, &before) {
            Ok((auth_state, missing)) if missing.is_empty() => auth_state,
            Ok((_, missing)) => return Step::Decide(Decision::MissingState(missing), None),
            Err(step) => return step,
        };
        if let Err(rejection) = auth::authorize(pdu, listed, &auth_state) {
            let decision = Decision::Rejected(RejectReason::Rule(rejection), Check::StateBefore);
            return Step::Decide(decision, Some(state_before));
        }
        match self.soft_fail(room, pdu, mode, &prevs, &before) {
            Ok(Some(rejection)) => {
                Step::Decide(Decision::SoftFailed(rejection), Some(state_before))
            }
            Ok(None) => Step::Decide(Decision::Accepted, Some(state_before)),
            Err(step) => step,
        }
    }

    /// The state before the event: the state after its one prev event, or the
    /// resolution of its prev events' states.
    fn state_before(&self, room: &dyn RoomView, prevs: &Prevs<'_>) -> Result<StateBefore, Step> {
        if let ([only], []) = (prevs.known.as_slice(), prevs.missing.as_slice()) {
            return Ok(StateBefore::AfterPrev((*only).clone()));
        }
        let mut sets: Vec<BTreeMap<StateKey, EventId>> = prevs
            .known
            .iter()
            .filter_map(|prev| self.after(room, prev).map(|state| state.materialize()))
            .collect();
        sets.extend(prevs.fetched.iter().cloned());
        match sets.len() {
            0 => Ok(StateBefore::Resolved(BTreeMap::new())),
            1 => Ok(StateBefore::Resolved(sets.pop().unwrap_or_default())),
            _ => {
                self.outliers_settled()?;
                self.resolve(room, &sets).map(StateBefore::Resolved)
            }
        }
    }

    /// Waits while outliers of the batch are undecided, so that a state built from
    /// fetched events sees which were rejected, and the outcomes list those events
    /// first. Outliers wait only on their auth events; one that lists a timeline
    /// event waiting here waits in a cycle, and both are dropped as such.
    fn outliers_settled(&self) -> Result<(), Step> {
        let pending = self.undecided.iter().any(|(_, id)| {
            self.nodes
                .get(id)
                .is_some_and(|node| matches!(node.role, Role::Outlier { .. }))
        });
        if pending {
            Err(Step::Wait(Vec::new()))
        } else {
            Ok(())
        }
    }

    /// Check 6 (soft-failure): only for pushed and pulled events, not in a
    /// partial-state room, and only when the prev events are not the forward
    /// extremities. The current state is the room's, or, when prev events were
    /// missing, the resolution of the extremities' states and the state before (as
    /// Synapse's `_check_for_soft_fail`). Only the state-dependent rules apply.
    fn soft_fail(
        &self,
        room: &dyn RoomView,
        pdu: &Pdu,
        mode: Mode,
        prevs: &Prevs<'_>,
        before: &Layered<'_>,
    ) -> Result<Option<Rejection>, Step> {
        if !matches!(mode, Mode::Pushed | Mode::Pulled) || room.is_partial_state() {
            return Ok(None);
        }
        let extremities = self.extremities.as_ref();
        let prev_set: BTreeSet<&EventId> = pdu.prev_events().iter().collect();
        if extremities.is_some_and(|ext| ext.iter().collect::<BTreeSet<_>>() == prev_set) {
            return Ok(None);
        }
        let resolved;
        let current = if prevs.missing.is_empty() {
            self.current_view(room)
        } else {
            let mut sets: Vec<BTreeMap<StateKey, EventId>> = extremities
                .into_iter()
                .flatten()
                .filter_map(|ext| self.after(room, ext).map(|state| state.materialize()))
                .collect();
            sets.push(before.materialize());
            resolved = match self.resolve(room, &sets) {
                Ok(resolved) => resolved,
                Err(Step::Wait(wants)) => return Err(Step::Wait(wants)),
                // Synapse, too, lets the event through when it cannot compute the
                // current state.
                Err(Step::Decide(..)) => return Ok(None),
            };
            Some(Layered::over(&resolved))
        };
        let Some(current) = current else {
            return Ok(None);
        };
        let (auth_state, _) = self.auth_state(room, pdu, &current)?;
        Ok(auth::check(pdu, &auth_state).err())
    }

    /// The auth events the rules select for `pdu` from `state`, and the IDs nobody
    /// has even after asking.
    fn auth_state<'a>(
        &'a self,
        room: &'a dyn RoomView,
        pdu: &Pdu,
        state: &Layered<'_>,
    ) -> Result<(AuthEvents<'a>, Vec<EventId>), Step> {
        let keys = auth::auth_types_pdu(pdu).unwrap_or_default();
        let mut auth_state = AuthEvents::new();
        let mut missing = Vec::new();
        for key in keys {
            let Some(id) = state.get(&key) else {
                continue;
            };
            match self.pdu(room, id) {
                Some(event) => {
                    auth_state.insert_pdu(event);
                }
                None => missing.push(id.clone()),
            }
        }
        let missing = if missing.is_empty() {
            missing
        } else {
            self.fetch_events(missing)?
        };
        Ok((auth_state, missing))
    }

    /// Resolves `sets` over the batch and the room; an event neither has is fetched.
    pub(super) fn resolve(
        &self,
        room: &dyn RoomView,
        sets: &[BTreeMap<StateKey, EventId>],
    ) -> Result<BTreeMap<StateKey, EventId>, Step> {
        let source = Source { ingest: self, room };
        match state_res::resolve(&self.version, sets, &source) {
            Ok(resolved) => Ok(resolved.to_state_map()),
            Err(ResolveError::MissingEvent { event_id, .. }) => {
                let missing = self.fetch_events(vec![event_id])?;
                Err(Step::Decide(Decision::MissingState(missing), None))
            }
            Err(error) => Err(Step::Decide(Decision::StateUnresolvable(error), None)),
        }
    }

    /// Asks `/event` for each of `ids` not asked yet; once every one was answered,
    /// the IDs (still missing: callers look them up again).
    fn fetch_events(&self, ids: Vec<EventId>) -> Result<Vec<EventId>, Step> {
        let mut wants = Vec::new();
        let mut waiting = false;
        for id in &ids {
            let want = Want::Event(id.clone());
            match self.asked.get(&want) {
                None => wants.push(want),
                Some(false) => waiting = true,
                Some(true) => {}
            }
        }
        if wants.is_empty() && !waiting {
            Ok(ids)
        } else {
            Err(Step::Wait(wants))
        }
    }

    /// `Some(step)` while `want` is to be sent or in flight; `None` once answered.
    fn wait_for(&self, want: Want) -> Option<Step> {
        match self.asked.get(&want) {
            None => Some(Step::Wait(vec![want])),
            Some(false) => Some(Step::Wait(Vec::new())),
            Some(true) => None,
        }
    }

    /// An event of the batch (verified) or of the room.
    pub(super) fn pdu<'a>(&'a self, room: &'a dyn RoomView, id: &EventId) -> Option<&'a Pdu> {
        match self.nodes.get(id) {
            Some(node) => Some(&node.pdu),
            None => room.event(id).map(|known| known.pdu),
        }
    }

    /// The state after `id`: walks batch events back to a map of the room or the batch.
    pub(super) fn after<'a>(
        &'a self,
        room: &'a dyn RoomView,
        id: &'a EventId,
    ) -> Option<Layered<'a>> {
        let mut own = Vec::new();
        let mut at = id;
        // Each step moves to an earlier batch event: at most one per event.
        for _ in 0..=self.nodes.len() {
            let Some(node) = self.nodes.get(at) else {
                return room.state_after(at).map(|base| Layered { own, base });
            };
            match node.decision {
                Some(Decision::Accepted | Decision::SoftFailed(_)) if node.pdu.is_state() => {
                    own.push(&node.pdu);
                }
                Some(Decision::Accepted | Decision::SoftFailed(_) | Decision::Rejected(..)) => {}
                _ => return None,
            }
            match node.state_before.as_ref()? {
                StateBefore::AfterPrev(prev) => at = prev,
                StateBefore::Resolved(base) => return Some(Layered { own, base }),
            }
        }
        None
    }

    fn view_of<'a>(
        &'a self,
        room: &'a dyn RoomView,
        state: &'a StateBefore,
    ) -> Option<Layered<'a>> {
        match state {
            StateBefore::AfterPrev(prev) => self.after(room, prev),
            StateBefore::Resolved(base) => Some(Layered::over(base)),
        }
    }

    fn current_view<'a>(&'a self, room: &'a dyn RoomView) -> Option<Layered<'a>> {
        match &self.current {
            Current::Room => Some(Layered::over(room.current_state())),
            Current::After(id) => self.after(room, id),
            Current::Resolved(base) => Some(Layered::over(base)),
        }
    }

    /// Moves the forward extremities and the current state past the accepted `id`.
    pub(super) fn advance(&mut self, room: &dyn RoomView, id: &EventId) {
        let Some(prevs) = self
            .nodes
            .get(id)
            .map(|node| node.pdu.prev_events().to_vec())
        else {
            return;
        };
        let Some(extremities) = self.extremities.as_mut() else {
            return;
        };
        extremities.retain(|ext| !prevs.contains(ext));
        extremities.insert(id.clone());
        if extremities.len() == 1 {
            self.current = Current::After(id.clone());
            return;
        }
        let extremities = extremities.clone();
        let sets: Vec<BTreeMap<StateKey, EventId>> = extremities
            .iter()
            .filter_map(|ext| self.after(room, ext).map(|state| state.materialize()))
            .collect();
        // When resolution fails the current state stays as it was.
        if let Ok(resolved) = self.resolve(room, &sets) {
            self.current = Current::Resolved(resolved);
        }
    }
}

/// True when the batch event has a state after it.
fn has_state(node: &Node) -> bool {
    node.state_before.is_some()
        && matches!(
            node.decision,
            Some(Decision::Accepted | Decision::SoftFailed(_) | Decision::Rejected(..))
        )
}
