//! The step machine: what it holds, its inputs, and the order of its phases.

use std::collections::{BTreeMap, BTreeSet};

use super::decide::{Decision, Step};
use super::outcome::{DropReason, IngestStep, Mode, Outcome, StateBefore, Verdict};
use super::view::{RoomView, Status};
use crate::crypto::{self, Prepared, PublicKeys, SignatureError};
use crate::event::StateKey;
use crate::event::{Pdu, ReceiveError};
use crate::federation::keyring::KeyNeed;
use crate::federation::outbound::{OutboundRequest, Reply, RequestId};
use crate::id::{EventId, RoomId, ServerName};
use crate::json::{Object, Value};
use crate::room_version::RoomVersion;

/// Most events [`Ingest::add`] takes in one batch (a `/send` carries at most 50, a
/// backfill answer at most 100); more are dropped.
pub const MAX_ADDED_EVENTS: usize = 200;
/// Most prev events an event may list (Synapse's `_sanity_check_event`).
pub const MAX_PREV_EVENTS: usize = 20;
/// Most auth events an event may list (Synapse's `_sanity_check_event`).
pub const MAX_AUTH_EVENTS: usize = 10;
/// Most events taken from replies in one batch.
pub const MAX_FETCHED_EVENTS: usize = 1_000;
/// Most requests sent for one batch.
pub const MAX_REQUESTS: usize = 200;
/// Most rounds of requests for one batch.
pub const MAX_ROUNDS: usize = 8;
/// Largest reply body parsed, in bytes.
pub const MAX_REPLY_BYTES: usize = 16 * 1024 * 1024;
/// Most event IDs taken from `/state_ids` replies in one batch, all replies together.
pub const MAX_STATE_IDS: usize = 100_000;
/// The `limit` of a `/get_missing_events` request (Synapse's).
pub const MISSING_EVENTS_LIMIT: i64 = 10;

/// Where an event in the batch sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// Checked as an outlier (check 4 only); `fetched` outliers ask for nothing more.
    Outlier { fetched: bool },
    /// A timeline event of this mode (never [`Mode::Outliers`]).
    Timeline(Mode),
}

/// An event that passed checks 1–3.
#[derive(Debug)]
pub(super) struct Node {
    pub(super) pdu: Pdu,
    pub(super) redacted: bool,
    pub(super) added: Option<usize>,
    pub(super) role: Role,
    pub(super) decision: Option<Decision>,
    pub(super) state_before: Option<StateBefore>,
}

/// An event parsed but not yet verified.
#[derive(Debug)]
struct Pending {
    pdu: Pdu,
    added: Option<usize>,
    role: Role,
}

/// Something the pipeline must fetch, named by the event it is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Want {
    /// `GET /event/{id}`.
    Event(EventId),
    /// `GET /event_auth/{room}/{id}`.
    EventAuth(EventId),
    /// `POST /get_missing_events/{room}` with the event as `latest_events`.
    MissingEvents(EventId),
    /// `GET /state_ids/{room}?event_id={id}`.
    StateIds(EventId),
}

/// The current state as the batch moves it.
#[derive(Debug)]
pub(super) enum Current {
    /// The room's.
    Room,
    /// The state after this batch event.
    After(EventId),
    /// Resolved over several extremities.
    Resolved(BTreeMap<StateKey, EventId>),
}

/// A `/state_ids` answer.
#[derive(Debug)]
pub(super) struct StateIds {
    pub(super) pdu_ids: Vec<EventId>,
    pub(super) auth_chain_ids: Vec<EventId>,
}

/// The receipt pipeline for one batch of events of one room
/// (<https://spec.matrix.org/v1.16/server-server-api/#checks-performed-on-receipt-of-a-pdu>),
/// as a step machine: [`add`](Self::add) the events, then [`poll`](Self::poll) and
/// answer each [`IngestStep`] until [`IngestStep::Done`]: keys with
/// [`provide_keys`](Self::provide_keys), and a reply (or [`Reply::Failed`]) for every
/// request with [`provide_reply`](Self::provide_reply); polling before every reply is
/// in answers [`IngestStep::Waiting`]. Give the same room view to every poll.
///
/// The verdicts do not depend on the order events are added: events are decided in
/// order of depth, then event ID, each after the batch events it references.
///
/// See the [module docs](super) for the checks and an example.
#[derive(Debug)]
pub struct Ingest {
    pub(super) version: RoomVersion,
    pub(super) room_id: RoomId,
    pub(super) origin: ServerName,
    pub(super) mode: Mode,
    incoming: Vec<(Result<Pdu, ReceiveError>, Option<usize>, Role)>,
    added: usize,
    pending: Vec<Pending>,
    keys: Option<PublicKeys>,
    pub(super) nodes: BTreeMap<EventId, Node>,
    pub(super) undecided: BTreeSet<(i64, EventId)>,
    decided: Vec<EventId>,
    outcomes: Vec<Outcome>,
    pub(super) asked: BTreeMap<Want, bool>,
    requests: BTreeMap<RequestId, Want>,
    pub(super) state_ids: BTreeMap<EventId, StateIds>,
    /// Event IDs taken from `/state_ids` replies so far.
    pub(super) state_id_count: usize,
    pub(super) extremities: Option<BTreeSet<EventId>>,
    pub(super) current: Current,
    fetched: usize,
    sent: u64,
    rounds: usize,
    finished: bool,
}

impl Ingest {
    /// A pipeline for events of `room_id` (of `version`) that `origin` sent or
    /// answered, reached in `mode`.
    #[must_use]
    pub fn new(version: &RoomVersion, room_id: &RoomId, origin: &ServerName, mode: Mode) -> Self {
        Self {
            version: *version,
            room_id: room_id.clone(),
            origin: origin.clone(),
            mode,
            incoming: Vec::new(),
            added: 0,
            pending: Vec::new(),
            keys: None,
            nodes: BTreeMap::new(),
            undecided: BTreeSet::new(),
            decided: Vec::new(),
            outcomes: Vec::new(),
            asked: BTreeMap::new(),
            requests: BTreeMap::new(),
            state_ids: BTreeMap::new(),
            state_id_count: 0,
            extremities: None,
            current: Current::Room,
            fetched: 0,
            sent: 0,
            rounds: 0,
            finished: false,
        }
    }

    /// Adds one event as received (untrusted bytes).
    pub fn add(&mut self, raw: &[u8]) {
        let parsed = Pdu::from_bytes(raw, &self.version).map_err(ReceiveError::from);
        self.add_parsed(parsed);
    }

    /// Adds one event already parsed as a JSON object (untrusted).
    pub fn add_object(&mut self, object: Object) {
        let parsed = Pdu::from_object(object, &self.version).map_err(ReceiveError::from);
        self.add_parsed(parsed);
    }

    fn add_parsed(&mut self, parsed: Result<Pdu, ReceiveError>) {
        let index = self.added;
        self.added += 1;
        let role = match self.mode {
            Mode::Outliers => Role::Outlier { fetched: false },
            mode => Role::Timeline(mode),
        };
        if index >= MAX_ADDED_EVENTS {
            self.drop_added(
                index,
                parsed.ok().map(|pdu| pdu.event_id().clone()),
                DropReason::BatchFull {
                    max: MAX_ADDED_EVENTS,
                },
            );
            return;
        }
        self.incoming.push((parsed, Some(index), role));
    }

    /// Hands over the public keys for the last [`IngestStep::NeedKeys`] (every key the
    /// caller has for those servers; a missing one drops the events it signed).
    pub fn provide_keys(&mut self, keys: &PublicKeys) {
        self.keys = Some(keys.clone());
    }

    /// Hands back the reply to a request of the last [`IngestStep::Fetch`]. A reply to
    /// an unknown or already answered request is ignored; a failed request, a status
    /// other than 200, and a body that does not parse within the limits all count as a
    /// failed fetch.
    pub fn provide_reply(&mut self, id: RequestId, reply: Reply) {
        let Some(want) = self.requests.remove(&id) else {
            return;
        };
        self.asked.insert(want.clone(), true);
        let Reply::Response { status: 200, body } = reply else {
            return;
        };
        if body.len() > MAX_REPLY_BYTES {
            return;
        }
        let options = crate::json::ParseOptions::lenient().with_max_len(MAX_REPLY_BYTES);
        let Ok(Value::Object(body)) = crate::json::parse(&body, &options) else {
            return;
        };
        self.take_reply(&want, body);
    }

    /// What to do next. Events already known to `room` as timeline, rejected or
    /// soft-failed events are skipped; known outliers are processed again.
    pub fn poll(&mut self, room: &dyn RoomView) -> IngestStep {
        if self.finished {
            return IngestStep::Done(Vec::new());
        }
        self.screen(room);
        if !self.pending.is_empty() {
            match self.keys.take() {
                Some(keys) => self.verify(&keys),
                None => return IngestStep::NeedKeys(self.key_needs()),
            }
        }
        if !self.requests.is_empty() {
            return IngestStep::Waiting(self.requests.keys().copied().collect());
        }
        if self.extremities.is_none() {
            self.extremities = Some(room.forward_extremities().iter().cloned().collect());
        }
        // Each pass either decides events, sends requests, or gives up on wants; the
        // wants are bounded by the batch's events, so this ends well before the cap.
        for _ in 0..4 * (MAX_FETCHED_EVENTS + MAX_ADDED_EVENTS) {
            let wants = self.decide_all(room);
            if self.undecided.is_empty() {
                break;
            }
            if wants.is_empty() {
                self.drop_stuck();
                break;
            }
            let requests = self.issue(room, wants);
            if !requests.is_empty() {
                return IngestStep::Fetch(requests);
            }
            // Every want was over the bounds and is given up: decide again.
        }
        self.drop_stuck();
        self.finished = true;
        IngestStep::Done(self.take_outcomes())
    }

    /// Moves incoming events to pending, dropping or skipping what needs no keys.
    fn screen(&mut self, room: &dyn RoomView) {
        for (parsed, added, role) in std::mem::take(&mut self.incoming) {
            let pdu = match parsed {
                Ok(pdu) => pdu,
                Err(error) => {
                    if let Some(index) = added {
                        self.drop_added(index, None, DropReason::Received(error));
                    }
                    continue;
                }
            };
            if let Err(reason) = self.sanity(&pdu) {
                if let Some(index) = added {
                    self.drop_added(index, Some(pdu.event_id().clone()), reason);
                }
                continue;
            }
            if let Some(status) = self.known(room, &pdu, role) {
                if let Some(index) = added {
                    self.outcomes.push(Outcome {
                        added: Some(index),
                        event_id: Some(pdu.event_id().clone()),
                        pdu: None,
                        verdict: status,
                    });
                }
                continue;
            }
            self.pending.push(Pending { pdu, added, role });
        }
    }

    /// Synapse's `_sanity_check_event`, and the room. Synapse applies the limits to
    /// pulled and backfilled events too (`_process_pulled_event` logs and skips them),
    /// so they drop in every mode.
    fn sanity(&self, pdu: &Pdu) -> Result<(), DropReason> {
        if pdu.room_id() != &self.room_id {
            return Err(DropReason::WrongRoom {
                room_id: pdu.room_id().clone(),
            });
        }
        if pdu.prev_events().len() > MAX_PREV_EVENTS {
            return Err(DropReason::TooManyPrevEvents {
                count: pdu.prev_events().len(),
            });
        }
        if pdu.auth_events().len() > MAX_AUTH_EVENTS {
            return Err(DropReason::TooManyAuthEvents {
                count: pdu.auth_events().len(),
            });
        }
        Ok(())
    }

    /// The verdict for an event that needs no processing: stored already, or already in
    /// the batch (an added duplicate is dropped; a fetched one is silently ignored,
    /// except that a pulled copy turns an undecided outlier into a timeline event).
    fn known(&mut self, room: &dyn RoomView, pdu: &Pdu, role: Role) -> Option<Verdict> {
        let id = pdu.event_id();
        let in_batch = self
            .nodes
            .get_mut(id)
            .map(|node| (&mut node.role, node.decision.is_none()))
            .or_else(|| {
                self.pending
                    .iter_mut()
                    .find(|pending| pending.pdu.event_id() == id)
                    .map(|pending| (&mut pending.role, true))
            });
        if let Some((existing, undecided)) = in_batch {
            if undecided
                && matches!(role, Role::Timeline(_))
                && matches!(existing, Role::Outlier { .. })
            {
                *existing = role;
            }
            return Some(Verdict::Dropped(DropReason::Duplicate));
        }
        let status = room.event(id)?.status;
        let skip = match role {
            Role::Outlier { .. } => true,
            Role::Timeline(_) => status != Status::Outlier,
        };
        skip.then_some(Verdict::Skipped(status))
    }

    /// The keys the pending events need, one entry per server.
    fn key_needs(&self) -> Vec<KeyNeed> {
        let mut needs: BTreeMap<String, (BTreeSet<String>, i64)> = BTreeMap::new();
        for pending in &self.pending {
            let object = pending.pdu.as_object();
            let Ok(servers) = crypto::required_signers(object, &self.version) else {
                continue;
            };
            let min_valid = if self.version.signatures.enforce_key_validity {
                pending.pdu.origin_server_ts()
            } else {
                0
            };
            for server in servers {
                let signed_with = object
                    .get("signatures")
                    .and_then(|signatures| signatures.get(&server))
                    .and_then(Value::as_object);
                let entry = needs.entry(server).or_insert((BTreeSet::new(), 0));
                entry.1 = entry.1.max(min_valid);
                for (key_id, _) in signed_with.into_iter().flatten() {
                    if key_id.starts_with("ed25519:") {
                        entry.0.insert(key_id.to_owned());
                    }
                }
            }
        }
        needs
            .into_iter()
            .filter_map(|(server, (key_ids, min_valid))| {
                Some(KeyNeed::new(
                    ServerName::parse(&server).ok()?,
                    key_ids,
                    min_valid,
                ))
            })
            .collect()
    }

    /// Checks 2 and 3 for every pending event, with the signatures verified in one
    /// batch, as [`event::receive_batch`](crate::event::receive_batch) does over events
    /// already parsed.
    fn verify(&mut self, keys: &PublicKeys) {
        let pending = std::mem::take(&mut self.pending);
        let prepared: Vec<Result<Prepared<'_>, SignatureError>> = pending
            .iter()
            .map(|p| {
                crypto::required_checks(p.pdu.as_object(), &self.version, keys).map(|checks| {
                    Prepared {
                        message: p.pdu.signed_bytes(),
                        checks,
                    }
                })
            })
            .collect();
        let verified = crypto::verify_prepared(&prepared);
        drop(prepared);
        for (p, result) in pending.into_iter().zip(verified) {
            if let Err(error) = result {
                if let Some(index) = p.added {
                    let reason = DropReason::Received(ReceiveError::Signatures(error));
                    self.drop_added(index, Some(p.pdu.event_id().clone()), reason);
                }
                continue;
            }
            let redacted = !p.pdu.content_hash_ok();
            let pdu = if redacted { p.pdu.redacted() } else { p.pdu };
            let id = pdu.event_id().clone();
            self.undecided.insert((pdu.depth(), id.clone()));
            let node = Node {
                pdu,
                redacted,
                added: p.added,
                role: p.role,
                decision: None,
                state_before: None,
            };
            self.nodes.insert(id, node);
        }
    }

    /// Decides every event it can, in order of depth then ID, until a pass decides
    /// nothing; answers what the undecided events want fetched.
    fn decide_all(&mut self, room: &dyn RoomView) -> BTreeSet<Want> {
        loop {
            let mut progressed = false;
            let mut wants = BTreeSet::new();
            for key in self.undecided.clone() {
                match self.step(room, &key.1) {
                    Step::Decide(decision, state_before) => {
                        self.undecided.remove(&key);
                        self.record(room, &key.1, decision, state_before);
                        progressed = true;
                    }
                    Step::Wait(more) => wants.extend(more),
                }
            }
            if !progressed {
                return wants;
            }
        }
    }

    /// Stores a decision and moves the extremities and current state.
    fn record(
        &mut self,
        room: &dyn RoomView,
        id: &EventId,
        decision: Decision,
        state_before: Option<StateBefore>,
    ) {
        let advances = matches!(decision, Decision::Accepted);
        let Some(node) = self.nodes.get_mut(id) else {
            return;
        };
        let moves = advances && matches!(node.role, Role::Timeline(Mode::Pushed | Mode::Pulled));
        node.decision = Some(decision);
        node.state_before = state_before;
        self.decided.push(id.clone());
        if moves {
            self.advance(room, id);
        }
    }

    /// Events still undecided when nothing is in flight wait on each other: a cycle.
    fn drop_stuck(&mut self) {
        for (_, id) in std::mem::take(&mut self.undecided) {
            if let Some(node) = self.nodes.get_mut(&id) {
                node.decision = Some(Decision::Dropped(DropReason::Cycle));
                self.decided.push(id);
            }
        }
    }

    /// Turns wants into requests, within the bounds; wants over the bounds are given
    /// up (marked answered).
    fn issue(&mut self, room: &dyn RoomView, wants: BTreeSet<Want>) -> Vec<OutboundRequest> {
        let mut requests = Vec::new();
        for want in wants {
            if self.asked.contains_key(&want) {
                continue;
            }
            let over = self.rounds >= MAX_ROUNDS || self.sent >= MAX_REQUESTS as u64;
            if over {
                self.asked.insert(want, true);
                continue;
            }
            let id = RequestId::new(self.sent);
            self.sent += 1;
            requests.push(self.request(room, id, &want));
            self.asked.insert(want.clone(), false);
            self.requests.insert(id, want);
        }
        if !requests.is_empty() {
            self.rounds += 1;
        }
        requests
    }

    /// Queues an event from a reply, within the bound.
    pub(super) fn take_fetched(&mut self, object: Object, role: Role) {
        if self.fetched >= MAX_FETCHED_EVENTS {
            return;
        }
        self.fetched += 1;
        if let Ok(pdu) = Pdu::from_object(object, &self.version) {
            self.incoming.push((Ok(pdu), None, role));
        }
    }

    fn drop_added(&mut self, index: usize, event_id: Option<EventId>, reason: DropReason) {
        self.outcomes.push(Outcome {
            added: Some(index),
            event_id,
            pdu: None,
            verdict: Verdict::Dropped(reason),
        });
    }

    /// The outcomes: drops and skips first, then the decided events in the order
    /// decided (each after its auth and prev events).
    fn take_outcomes(&mut self) -> Vec<Outcome> {
        let mut outcomes = std::mem::take(&mut self.outcomes);
        let mut nodes = std::mem::take(&mut self.nodes);
        for id in std::mem::take(&mut self.decided) {
            let Some(node) = nodes.remove(&id) else {
                continue;
            };
            let Some(decision) = node.decision else {
                continue;
            };
            let verdict = decision.into_verdict(node.state_before, node.redacted);
            let pdu = (!matches!(verdict, Verdict::Dropped(_))).then_some(node.pdu);
            outcomes.push(Outcome {
                added: node.added,
                event_id: Some(id),
                pdu,
                verdict,
            });
        }
        outcomes
    }
}
