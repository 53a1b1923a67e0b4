//! Validating a send_join (v2) response on the joining side: the union of Synapse's
//! and gomatrixserverlib's checks
//! (<https://spec.matrix.org/v1.16/server-server-api/#put_matrixfederationv2send_joinroomideventid>).
//!
//! A response is parsed first ([`SendJoinResponse::parse`]: shape, counts, create
//! event, duplicate state keys, foreign create events), which says whose keys are
//! needed; then, with the keys, [`SendJoinResponse::validate`] verifies every
//! signature in one batch (a bad one drops that event, not the join), authorizes
//! every event against its own auth events in auth order (an event whose auth event
//! was dropped or rejected is rejected), and checks our join against its auth events
//! and against the returned state.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use super::error::AttemptError;
use crate::auth::{self, AuthEvents, Rejection};
use crate::crypto::{self, Prepared, PublicKeys, SignatureError};
use crate::event::StateKey;
use crate::event::{Pdu, PduError};
use crate::federation::keyring::KeyNeed;
use crate::id::{EventId, RoomId, ServerName};
use crate::json::{self, Object, ParseOptions, Value};
use crate::room_version::RoomVersion;

/// The most events (`state` and `auth_chain` together) a send_join response may
/// list; a response with more fails.
pub const MAX_RESPONSE_EVENTS: usize = 1_000_000;

/// Why an event of a response was left out, without failing the join.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DropReason {
    /// Not a PDU of the room version.
    Malformed(PduError),
    /// Not a state event (`state` and `auth_chain` hold only state events).
    NotState,
    /// A required signature is missing or does not verify.
    Signatures(SignatureError),
    /// In another room.
    WrongRoom {
        /// Its room ID.
        room_id: String,
    },
}

/// An event left out of a response, and why.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DroppedEvent {
    /// Its ID, when it parsed far enough to have one.
    pub event_id: Option<EventId>,
    /// Why.
    pub reason: DropReason,
}

/// Why an event of a response was rejected (kept out of the state, and tainting the
/// events it authorizes).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RejectReason {
    /// Its auth events lead back to it.
    AuthCycle,
    /// An auth event was dropped.
    AuthEventDropped {
        /// That auth event.
        event_id: EventId,
    },
    /// An auth event is absent from the response.
    AuthEventMissing {
        /// That auth event.
        event_id: EventId,
    },
    /// An auth event was itself rejected.
    AuthEventRejected {
        /// That auth event.
        event_id: EventId,
    },
    /// It fails the authorization rules against its auth events.
    Rules(Rejection),
}

/// A room joined through a resident: what the handshake hands over for persisting.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct JoinedRoom {
    /// The room version (from make_join, equal to the create event's).
    pub version: RoomVersion,
    /// The resident that answered.
    pub resident: ServerName,
    /// Our signed join (countersigned by the resident for a restricted join).
    pub join_event: Pdu,
    /// The state after the join: the accepted returned state with the join.
    pub state: BTreeMap<StateKey, Pdu>,
    /// The accepted events of `auth_chain` not in `state`, each after its auth
    /// events (persist them first, as outliers).
    pub auth_chain: Vec<Pdu>,
    /// Events left out, and why.
    pub dropped: Vec<DroppedEvent>,
    /// Events rejected, and why, in auth order.
    pub rejected: Vec<(EventId, RejectReason)>,
    /// For a partial-state answer (`members_omitted`): the servers in the room.
    pub partial: Option<Vec<ServerName>>,
}

/// One distinct event of a response.
#[derive(Debug, Clone)]
struct Node {
    pdu: Pdu,
    in_state: bool,
}

/// A send_join response, parsed but not yet verified.
#[derive(Debug, Clone)]
pub(super) struct SendJoinResponse {
    version: RoomVersion,
    nodes: Vec<Node>,
    create: usize,
    event: Option<Object>,
    servers_in_room: Option<Vec<ServerName>>,
    dropped: Vec<DroppedEvent>,
}

/// What the joining side knows when it reads a response.
#[derive(Debug, Clone, Copy)]
pub(super) struct Expected<'a> {
    pub(super) version: &'a RoomVersion,
    pub(super) room_id: &'a RoomId,
    pub(super) requested_partial: bool,
}

impl SendJoinResponse {
    /// Parses a response and applies the checks that need no keys.
    pub(super) fn parse(body: &[u8], expected: &Expected<'_>) -> Result<Self, AttemptError> {
        let options = ParseOptions::lenient().with_max_len(body.len().max(1));
        let Ok(Value::Object(mut object)) = json::parse(body, &options) else {
            return Err(bad("not a JSON object"));
        };
        let state = take_array(&mut object, "state")?;
        let chain = take_array(&mut object, "auth_chain")?;
        let count = state.len().saturating_add(chain.len());
        if count > MAX_RESPONSE_EVENTS {
            return Err(AttemptError::TooManyEvents {
                count,
                max: MAX_RESPONSE_EVENTS,
            });
        }
        let servers_in_room = members_omitted(&object, expected.requested_partial)?;
        let event = match object.remove("event") {
            None | Some(Value::Null) => None,
            Some(Value::Object(event)) => Some(event),
            Some(_) => return Err(bad("event is not an object")),
        };
        let mut builder = Builder::new(expected);
        for value in state {
            builder.add(value, true)?;
        }
        let create = builder.create(expected)?;
        for value in chain {
            builder.add(value, false)?;
        }
        Ok(Self {
            version: *expected.version,
            nodes: builder.nodes,
            create,
            event,
            servers_in_room,
            dropped: builder.dropped,
        })
    }

    /// The keys needed to verify every event, per server: the key IDs their
    /// signatures name, valid until the earliest `origin_server_ts` that needs them
    /// (room versions 5+; 0 before).
    pub(super) fn key_needs(&self) -> Vec<KeyNeed> {
        let mut needs: BTreeMap<String, (std::collections::BTreeSet<String>, i64)> =
            BTreeMap::new();
        let returned = self
            .event
            .as_ref()
            .and_then(|event| Pdu::from_object(event.clone(), &self.version).ok());
        let pdus = self
            .nodes
            .iter()
            .map(|node| &node.pdu)
            .chain(returned.as_ref());
        for pdu in pdus {
            let object = pdu.as_object();
            let Ok(signers) = crypto::required_signers(object, &self.version) else {
                continue;
            };
            let ts = if self.version.signatures.enforce_key_validity {
                pdu.origin_server_ts()
            } else {
                0
            };
            for server in signers {
                let key_ids = object
                    .get("signatures")
                    .and_then(|signatures| signatures.get(&server))
                    .and_then(Value::as_object)
                    .into_iter()
                    .flat_map(Object::keys)
                    .filter(|key_id| key_id.starts_with("ed25519:"))
                    .map(str::to_owned);
                let entry = needs
                    .entry(server)
                    .or_insert_with(|| (Default::default(), ts));
                entry.0.extend(key_ids);
                entry.1 = entry.1.min(ts);
            }
        }
        needs
            .into_iter()
            .filter_map(|(server, (key_ids, ts))| {
                let server = ServerName::parse(&server).ok()?;
                Some(KeyNeed::new(server, key_ids, ts))
            })
            .collect()
    }

    /// Verifies, authorizes and checks the response against our `join`.
    pub(super) fn validate(
        mut self,
        join: Pdu,
        resident: ServerName,
        keys: &PublicKeys,
    ) -> Result<JoinedRoom, AttemptError> {
        let join = self.returned_event(join, keys)?;
        let passed = self.verify(keys);
        let create = passed
            .get(..self.create)
            .map(|before| before.iter().filter(|&&ok| ok).count())
            .filter(|_| passed.get(self.create) == Some(&true))
            .ok_or(AttemptError::MissingCreate)?;
        let verified: Vec<Node> = std::mem::take(&mut self.nodes)
            .into_iter()
            .zip(passed)
            .filter_map(|(node, ok)| ok.then_some(node))
            .collect();
        let decisions = Decisions::make(&verified, create);
        if decisions.rejected(create).is_some() {
            return Err(AttemptError::MissingCreate);
        }
        check_join(
            &join,
            &verified,
            create,
            &decisions,
            self.servers_in_room.is_some(),
        )?;
        Ok(self.finish(join, resident, verified, decisions))
    }

    /// The returned `event`: same event ID as ours, and signed by every required
    /// server (ours and the authoriser's). Required when our join names an
    /// authoriser.
    fn returned_event(&mut self, join: Pdu, keys: &PublicKeys) -> Result<Pdu, AttemptError> {
        let needs_countersignature = join.room_version().signatures.authorising_server_signs
            && join
                .content()
                .contains_key("join_authorised_via_users_server");
        let Some(event) = self.event.take() else {
            if needs_countersignature {
                return Err(bad("no countersigned event for a restricted join"));
            }
            return Ok(join);
        };
        let returned = Pdu::from_object(event, &self.version)
            .map_err(|error| bad(format!("event: {error}")))?;
        if returned.event_id() != join.event_id() {
            return Err(AttemptError::EventMismatch {
                expected: join.event_id().clone(),
                actual: returned.event_id().as_str().to_owned(),
            });
        }
        crypto::verify_event_signatures(returned.as_object(), &self.version, keys)
            .map_err(|error| bad(format!("event signatures: {error}")))?;
        Ok(returned)
    }

    /// Verifies every event's signatures in one batch and checks content hashes
    /// (an event whose hash fails is kept redacted). Returns the indices of the
    /// events that passed; the others are recorded as dropped.
    fn verify(&mut self, keys: &PublicKeys) -> Vec<bool> {
        let version = self.version;
        let prepared: Vec<Result<Prepared<'_>, SignatureError>> = self
            .nodes
            .iter()
            .map(|node| {
                crypto::required_checks(node.pdu.as_object(), &version, keys).map(|checks| {
                    Prepared {
                        message: node.pdu.signed_bytes(),
                        checks,
                    }
                })
            })
            .collect();
        let results = crypto::verify_prepared(&prepared);
        drop(prepared);
        let mut passed = Vec::with_capacity(self.nodes.len());
        for (node, result) in self.nodes.iter_mut().zip(results) {
            match result {
                Ok(()) => {
                    if !node.pdu.content_hash_ok() {
                        node.pdu = node.pdu.redacted();
                    }
                    passed.push(true);
                }
                Err(error) => {
                    self.dropped.push(DroppedEvent {
                        event_id: Some(node.pdu.event_id().clone()),
                        reason: DropReason::Signatures(error),
                    });
                    passed.push(false);
                }
            }
        }
        passed
    }

    fn finish(
        self,
        join: Pdu,
        resident: ServerName,
        verified: Vec<Node>,
        decisions: Decisions,
    ) -> JoinedRoom {
        let mut rejected = Vec::new();
        let mut slots: Vec<Option<Node>> = verified.into_iter().map(Some).collect();
        let mut state = BTreeMap::new();
        let mut auth_chain = Vec::new();
        for &index in &decisions.order {
            let Some(node) = slots.get_mut(index).and_then(Option::take) else {
                continue;
            };
            if let Some(reason) = decisions.rejected(index) {
                rejected.push((node.pdu.event_id().clone(), reason.clone()));
            } else if node.in_state {
                let key = StateKey::new(node.pdu.event_type(), node.pdu.state_key().unwrap_or(""));
                state.insert(key, node.pdu);
            } else {
                auth_chain.push(node.pdu);
            }
        }
        let join_key = StateKey::new(join.event_type(), join.state_key().unwrap_or(""));
        state.insert(join_key, join.clone());
        JoinedRoom {
            version: self.version,
            resident,
            join_event: join,
            state,
            auth_chain,
            dropped: self.dropped,
            rejected,
            partial: self.servers_in_room,
        }
    }
}

/// Collects the distinct events of both lists, dropping what does not belong.
struct Builder<'a> {
    expected: Expected<'a>,
    nodes: Vec<Node>,
    by_id: HashMap<EventId, usize>,
    state_keys: HashSet<StateKey>,
    create: Option<usize>,
    dropped: Vec<DroppedEvent>,
}

impl<'a> Builder<'a> {
    fn new(expected: &Expected<'a>) -> Self {
        Self {
            expected: *expected,
            nodes: Vec::new(),
            by_id: HashMap::new(),
            state_keys: HashSet::new(),
            create: None,
            dropped: Vec::new(),
        }
    }

    fn drop_event(&mut self, event_id: Option<EventId>, reason: DropReason) {
        self.dropped.push(DroppedEvent { event_id, reason });
    }

    /// Adds one listed event (`in_state`: from `state`).
    fn add(&mut self, value: Value, in_state: bool) -> Result<(), AttemptError> {
        let Value::Object(object) = value else {
            self.drop_event(None, DropReason::Malformed(PduError::NotAnObject));
            return Ok(());
        };
        let pdu = match Pdu::from_object(object, self.expected.version) {
            Ok(pdu) => pdu,
            Err(error) => {
                self.drop_event(None, DropReason::Malformed(error));
                return Ok(());
            }
        };
        let is_create = pdu.event_type() == "m.room.create" && pdu.state_key() == Some("");
        if is_create
            && !in_state
            && let Some(create) = self.create
        {
            // Any create event in the auth chain must be the room's (Synapse).
            if self.nodes[create].pdu.event_id() != pdu.event_id() {
                return Err(AttemptError::ForeignCreate {
                    event_id: pdu.event_id().clone(),
                });
            }
        }
        let Some(state_key) = pdu.state_key() else {
            self.drop_event(Some(pdu.event_id().clone()), DropReason::NotState);
            return Ok(());
        };
        if pdu.room_id() != self.expected.room_id {
            let room_id = pdu.room_id().as_str().to_owned();
            self.drop_event(
                Some(pdu.event_id().clone()),
                DropReason::WrongRoom { room_id },
            );
            return Ok(());
        }
        if let Some(&index) = self.by_id.get(pdu.event_id()) {
            self.nodes[index].in_state |= in_state;
            return Ok(());
        }
        if in_state {
            let key = StateKey::new(pdu.event_type(), state_key);
            if !self.state_keys.insert(key.clone()) {
                return Err(AttemptError::DuplicateState { key });
            }
            if is_create {
                self.create = Some(self.nodes.len());
            }
        }
        self.by_id.insert(pdu.event_id().clone(), self.nodes.len());
        self.nodes.push(Node { pdu, in_state });
        Ok(())
    }

    /// The create event of `state`, with the make_join room version.
    fn create(&self, expected: &Expected<'_>) -> Result<usize, AttemptError> {
        let index = self.create.ok_or(AttemptError::MissingCreate)?;
        let create = &self.nodes[index].pdu;
        // Room versions 1 and 2 may omit `room_version` in the create content, which
        // then means "1".
        let actual = create
            .content()
            .get("room_version")
            .and_then(Value::as_str)
            .unwrap_or("1");
        if actual != expected.version.id {
            return Err(AttemptError::CreateVersionMismatch {
                expected: expected.version.id.to_owned(),
                actual: actual.to_owned(),
            });
        }
        Ok(index)
    }
}

/// `members_omitted` needs our request and a non-empty `servers_in_room`.
fn members_omitted(
    object: &Object,
    requested: bool,
) -> Result<Option<Vec<ServerName>>, AttemptError> {
    if object.get("members_omitted").and_then(Value::as_bool) != Some(true) {
        return Ok(None);
    }
    if !requested {
        return Err(AttemptError::MembersOmitted {
            reason: "partial state was not requested",
        });
    }
    let servers: Vec<ServerName> = object
        .get("servers_in_room")
        .and_then(Value::as_array)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .filter_map(|server| ServerName::parse(server).ok())
        .collect();
    if servers.is_empty() {
        return Err(AttemptError::MembersOmitted {
            reason: "no servers_in_room",
        });
    }
    Ok(Some(servers))
}

fn take_array(object: &mut Object, field: &str) -> Result<Vec<Value>, AttemptError> {
    match object.remove(field) {
        Some(Value::Array(items)) => Ok(items),
        _ => Err(bad(format!("{field} is not a list"))),
    }
}

fn bad(reason: impl Into<String>) -> AttemptError {
    AttemptError::BadResponse {
        reason: reason.into(),
    }
}

/// The verdict on every verified event, reached in auth order.
struct Decisions {
    /// `None`: accepted.
    verdicts: Vec<Option<RejectReason>>,
    /// The order the events were decided in (each after its auth events).
    order: Vec<usize>,
}

impl Decisions {
    /// Authorizes every event against its own auth events, auth events first
    /// (Kahn's algorithm over `auth_events`, iterative). An event whose auth event is
    /// missing, dropped or rejected is rejected.
    fn make(nodes: &[Node], create: usize) -> Self {
        let by_id: HashMap<&EventId, usize> = nodes
            .iter()
            .enumerate()
            .map(|(index, node)| (node.pdu.event_id(), index))
            .collect();
        let mut pending = vec![0usize; nodes.len()];
        let mut referrers: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        let mut auth: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        let mut verdicts: Vec<Option<RejectReason>> = vec![None; nodes.len()];
        for (index, node) in nodes.iter().enumerate() {
            for auth_id in node.pdu.auth_events() {
                match by_id.get(auth_id) {
                    Some(&target) => {
                        auth[index].push(target);
                        referrers[target].push(index);
                        pending[index] += 1;
                    }
                    None if verdicts[index].is_none() => {
                        verdicts[index] = Some(RejectReason::AuthEventMissing {
                            event_id: auth_id.clone(),
                        });
                    }
                    None => {}
                }
            }
        }
        let mut decided = vec![false; nodes.len()];
        let mut ready: VecDeque<usize> = (0..nodes.len()).filter(|&i| pending[i] == 0).collect();
        let mut order = Vec::with_capacity(nodes.len());
        let create_pdu = nodes.get(create).map(|node| &node.pdu);
        while let Some(index) = ready.pop_front() {
            if verdicts[index].is_none() {
                verdicts[index] = judge(nodes, &auth[index], &verdicts, index, create_pdu);
            }
            decided[index] = true;
            order.push(index);
            for &referrer in &referrers[index] {
                pending[referrer] -= 1;
                if pending[referrer] == 0 {
                    ready.push_back(referrer);
                }
            }
        }
        for index in 0..nodes.len() {
            if !decided[index] {
                verdicts[index] = Some(RejectReason::AuthCycle);
                order.push(index);
            }
        }
        Self { verdicts, order }
    }

    fn rejected(&self, index: usize) -> Option<&RejectReason> {
        self.verdicts.get(index).and_then(Option::as_ref)
    }
}

/// The verdict on one event whose auth events are all decided.
fn judge(
    nodes: &[Node],
    auth: &[usize],
    verdicts: &[Option<RejectReason>],
    index: usize,
    create: Option<&Pdu>,
) -> Option<RejectReason> {
    if let Some(&bad) = auth.iter().find(|&&target| verdicts[target].is_some()) {
        return Some(RejectReason::AuthEventRejected {
            event_id: nodes[bad].pdu.event_id().clone(),
        });
    }
    let pdu = &nodes[index].pdu;
    let listed: Vec<&Pdu> = auth.iter().map(|&target| &nodes[target].pdu).collect();
    let create = create.filter(|create| create.event_id() != pdu.event_id());
    auth::authorize_by_auth_events(pdu, &listed, create)
        .err()
        .map(RejectReason::Rules)
}

/// Our join must be allowed by its auth events (all present and accepted) and by the
/// returned state (for a partial answer, the auth chain under the state, so that the
/// state wins where both have an entry).
fn check_join(
    join: &Pdu,
    nodes: &[Node],
    create: usize,
    decisions: &Decisions,
    partial: bool,
) -> Result<(), AttemptError> {
    let by_id: HashMap<&EventId, usize> = nodes
        .iter()
        .enumerate()
        .map(|(index, node)| (node.pdu.event_id(), index))
        .collect();
    let mut listed = Vec::with_capacity(join.auth_events().len());
    for auth_id in join.auth_events() {
        let index = *by_id
            .get(auth_id)
            .ok_or_else(|| AttemptError::MissingAuthEvent {
                event_id: auth_id.clone(),
            })?;
        if decisions.rejected(index).is_some() {
            return Err(AttemptError::RejectedAuthEvent {
                event_id: auth_id.clone(),
            });
        }
        listed.push(&nodes[index].pdu);
    }
    let create_pdu = nodes.get(create).map(|node| &node.pdu);
    auth::authorize_by_auth_events(join, &listed, create_pdu)
        .map_err(AttemptError::EventNotAuthorized)?;
    let accepted = |index: &usize| decisions.rejected(*index).is_none();
    let mut state = AuthEvents::new();
    if partial {
        for index in decisions.order.iter().filter(|index| accepted(index)) {
            if !nodes[*index].in_state {
                state.insert_pdu(&nodes[*index].pdu);
            }
        }
    }
    for index in decisions.order.iter().filter(|index| accepted(index)) {
        if nodes[*index].in_state {
            state.insert_pdu(&nodes[*index].pdu);
        }
    }
    auth::authorize(join, &listed, &state).map_err(AttemptError::EventNotAuthorized)
}
