//! The resident side of send_join, send_leave and send_knock: checking the signed event
//! a remote server sends, countersigning a restricted join, and building the send_join
//! answer (full or partial state)
//! (<https://spec.matrix.org/v1.16/server-server-api/#put_matrixfederationv2send_joinroomideventid>).
//!
//! The checks here are those specific to the handshake. Authorizing the event against
//! the room (checks 4 to 6 on receipt) is the receipt pipeline's next step.

use std::collections::BTreeSet;

use super::error::MembershipError;
use crate::crypto::{self, PublicKeys, SigningKey};
use crate::dag::{self, DagError, EventSource};
use crate::event::Pdu;
use crate::event::StateKey;
use crate::id::{EventId, RoomId, ServerName, UserId};
use crate::json::{Object, Value};
use crate::room_version::RoomVersion;

/// The membership a handshake is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Membership {
    /// `join` (make_join / send_join).
    Join,
    /// `knock` (make_knock / send_knock).
    Knock,
    /// `leave` (make_leave / send_leave).
    Leave,
}

impl Membership {
    /// The `content.membership` value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Join => "join",
            Self::Knock => "knock",
            Self::Leave => "leave",
        }
    }
}

/// An incoming send_join, send_leave or send_knock: what the path and the
/// authentication say.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct SendMembership<'a> {
    /// Which endpoint.
    pub membership: Membership,
    /// The room's version.
    pub version: &'a RoomVersion,
    /// The room ID in the path.
    pub room_id: &'a RoomId,
    /// The event ID in the path.
    pub event_id: &'a EventId,
    /// The authenticated requesting server.
    pub origin: &'a ServerName,
    /// This server's name.
    pub our_server: &'a ServerName,
    /// True while this server itself has only partial state for the room: a join is
    /// then refused with 404, as Synapse does (it cannot answer with the state).
    pub partial_state: bool,
}

impl<'a> SendMembership<'a> {
    /// The request's parts.
    #[must_use]
    pub fn new(
        membership: Membership,
        version: &'a RoomVersion,
        room_id: &'a RoomId,
        event_id: &'a EventId,
        origin: &'a ServerName,
        our_server: &'a ServerName,
    ) -> Self {
        Self {
            membership,
            version,
            room_id,
            event_id,
            origin,
            our_server,
            partial_state: false,
        }
    }

    /// Marks the room as one we hold only partial state of.
    #[must_use]
    pub fn with_partial_state(mut self, partial: bool) -> Self {
        self.partial_state = partial;
        self
    }
}

/// Checks the body of a send_join, send_leave or send_knock: a PDU of the room
/// version, in the path's room, with the path's event ID, a member event with the
/// endpoint's membership, `state_key` == `sender`, the sender on the requesting
/// server, a restricted join's authorising user on this server, and the signatures of
/// the required signers (all but this server, which countersigns a restricted join
/// afterwards; see [`countersign`]) and the content hash.
///
/// Keys are checked without their validity period; the receipt pipeline that
/// authorizes the event next applies it.
///
/// # Errors
///
/// [`MembershipError::PartialState`] for a join while we hold partial state;
/// [`MembershipError::KnockNotSupported`] for a knock in a version without knocking;
/// [`MembershipError::NotJson`] / [`MembershipError::Malformed`] for a body that is
/// not a PDU; [`MembershipError::Mismatch`] (400 `M_INVALID_PARAM`) for the room ID,
/// event ID or state key; [`MembershipError::BadJson`] for the type or membership,
/// as Synapse answers; [`MembershipError::UserNotOnOrigin`] (403);
/// [`MembershipError::AuthoriserNotLocal`]; [`MembershipError::BadSignature`].
pub fn check_send_membership(
    request: &SendMembership<'_>,
    body: &[u8],
    keys: &PublicKeys,
) -> Result<Pdu, MembershipError> {
    if request.partial_state && request.membership == Membership::Join {
        return Err(MembershipError::PartialState);
    }
    if request.membership == Membership::Knock && !request.version.auth.knock {
        return Err(MembershipError::KnockNotSupported {
            room_version: request.version.id.to_owned(),
        });
    }
    let pdu = Pdu::from_bytes(body, request.version)?;
    expect("room_id", request.room_id.as_str(), pdu.room_id().as_str())?;
    expect(
        "event_id",
        request.event_id.as_str(),
        pdu.event_id().as_str(),
    )?;
    if pdu.event_type() != "m.room.member" {
        return Err(MembershipError::BadJson {
            reason: "not an m.room.member event".to_owned(),
        });
    }
    let expected = request.membership.as_str();
    if pdu.membership() != Some(expected) {
        return Err(MembershipError::BadJson {
            reason: format!("not a {expected} event"),
        });
    }
    expect(
        "state_key",
        pdu.sender().as_str(),
        pdu.state_key().unwrap_or_default(),
    )?;
    if pdu.sender().server_name() != request.origin.as_str() {
        return Err(MembershipError::UserNotOnOrigin {
            user_id: pdu.sender().as_str().to_owned(),
            origin: request.origin.as_str().to_owned(),
        });
    }
    let authoriser = authoriser(&pdu);
    if let Some(authoriser) = &authoriser
        && authoriser.split_once(':').map(|(_, server)| server) != Some(request.our_server.as_str())
    {
        return Err(MembershipError::AuthoriserNotLocal {
            user_id: authoriser.clone(),
        });
    }
    check_signatures(&pdu, authoriser.is_some(), request.our_server, keys)?;
    Ok(pdu)
}

/// The `join_authorised_via_users_server` of a join, in room versions that honour it.
fn authoriser(pdu: &Pdu) -> Option<String> {
    if !pdu.room_version().signatures.authorising_server_signs || pdu.membership() != Some("join") {
        return None;
    }
    pdu.content()
        .get("join_authorised_via_users_server")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The required signers' signatures (this server's left out when it is to
/// countersign) over the redacted event, and the content hash.
fn check_signatures(
    pdu: &Pdu,
    countersigned_here: bool,
    our_server: &ServerName,
    keys: &PublicKeys,
) -> Result<(), MembershipError> {
    let bad = |reason: String| MembershipError::BadSignature { reason };
    let mut signers = crypto::required_signers(pdu.as_object(), pdu.room_version())
        .map_err(|error| bad(error.to_string()))?;
    if countersigned_here {
        signers.remove(our_server.as_str());
    }
    let redacted = pdu.redacted();
    for server in &signers {
        crypto::verify_json(redacted.as_object(), server, keys)
            .map_err(|error| bad(error.to_string()))?;
    }
    if !pdu.content_hash_ok() {
        return Err(bad("content hash mismatch".to_owned()));
    }
    Ok(())
}

fn expect(field: &'static str, expected: &str, actual: &str) -> Result<(), MembershipError> {
    if expected == actual {
        Ok(())
    } else {
        Err(MembershipError::Mismatch {
            field,
            expected: expected.to_owned(),
            actual: actual.to_owned(),
        })
    }
}

/// Adds this server's signature to a restricted join whose
/// `join_authorised_via_users_server` is one of our users (what send_join returns in
/// `event`).
///
/// # Errors
///
/// [`MembershipError::AuthoriserNotLocal`] when the join names no authoriser of ours,
/// [`MembershipError::Signing`] when signing fails.
pub fn countersign(
    pdu: &Pdu,
    our_server: &ServerName,
    key: &SigningKey,
) -> Result<Pdu, MembershipError> {
    let authoriser = authoriser(pdu).unwrap_or_default();
    if authoriser.split_once(':').map(|(_, server)| server) != Some(our_server.as_str()) {
        return Err(MembershipError::AuthoriserNotLocal {
            user_id: authoriser,
        });
    }
    let version = pdu.room_version();
    let mut object = pdu.as_object().clone();
    crypto::sign_event(&mut object, version, our_server.as_str(), key)
        .map_err(MembershipError::Signing)?;
    Pdu::from_object(object, version).map_err(MembershipError::Malformed)
}

/// The parts of a send_join (v2) answer.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct SendJoinAnswer<'a> {
    /// The state before the join: all of it, or the partial selection
    /// ([`partial_state_selection`]).
    pub state: &'a [&'a Pdu],
    /// The auth chain of that state ([`send_join_auth_chain`]).
    pub auth_chain: &'a [&'a Pdu],
    /// The countersigned join, for a restricted join.
    pub event: Option<&'a Pdu>,
    /// For a partial answer: the servers in the room (then `members_omitted` is
    /// true).
    pub servers_in_room: Option<&'a [ServerName]>,
}

impl<'a> SendJoinAnswer<'a> {
    /// A full-state answer.
    #[must_use]
    pub fn new(state: &'a [&'a Pdu], auth_chain: &'a [&'a Pdu]) -> Self {
        Self {
            state,
            auth_chain,
            event: None,
            servers_in_room: None,
        }
    }

    /// With the countersigned join.
    #[must_use]
    pub fn with_event(mut self, event: &'a Pdu) -> Self {
        self.event = Some(event);
        self
    }

    /// As a partial answer (`members_omitted`), with the servers in the room.
    #[must_use]
    pub fn with_servers_in_room(mut self, servers: &'a [ServerName]) -> Self {
        self.servers_in_room = Some(servers);
        self
    }
}

/// The send_join v2 response body: `state`, `auth_chain`, `event` when given,
/// `members_omitted` (always, as Synapse sends it) and `servers_in_room` for a
/// partial answer.
#[must_use]
pub fn send_join_response(answer: &SendJoinAnswer<'_>) -> Object {
    let list = |events: &[&Pdu]| Value::Array(events.iter().map(|pdu| pdu_value(pdu)).collect());
    let mut body = Object::new();
    body.insert("state", list(answer.state));
    body.insert("auth_chain", list(answer.auth_chain));
    if let Some(event) = answer.event {
        body.insert("event", pdu_value(event));
    }
    body.insert(
        "members_omitted",
        Value::Bool(answer.servers_in_room.is_some()),
    );
    if let Some(servers) = answer.servers_in_room {
        let servers = servers
            .iter()
            .map(|server| Value::from(server.as_str()))
            .collect();
        body.insert("servers_in_room", Value::Array(servers));
    }
    body
}

/// A PDU as it goes over federation.
pub(super) fn pdu_value(pdu: &Pdu) -> Value {
    Value::Object(pdu.as_object().clone())
}

/// The state to answer a partial-state join (`omit_members=true`) with, following
/// Synapse's `_get_event_ids_for_partial_state_join`: every non-member state event,
/// the joiner's own member event (in the state before the join), and, when the room
/// has neither a name nor a canonical alias, the member events of `heroes` (the
/// members a client names the room after; the caller picks them as its room summary
/// does).
#[must_use]
pub fn partial_state_selection<'s>(
    state_before: impl IntoIterator<Item = (&'s StateKey, &'s EventId)>,
    joiner: &UserId,
    heroes: &[UserId],
) -> BTreeSet<EventId> {
    let mut selected = BTreeSet::new();
    let mut members = Vec::new();
    let mut named = false;
    for (key, event_id) in state_before {
        if key.event_type() == "m.room.member" {
            if key.state_key() == joiner.as_str() {
                selected.insert(event_id.clone());
            } else {
                members.push((key, event_id));
            }
            continue;
        }
        if key.is("m.room.name", "") || key.is("m.room.canonical_alias", "") {
            named = true;
        }
        selected.insert(event_id.clone());
    }
    if !named {
        for (key, event_id) in members {
            if heroes.iter().any(|hero| hero.as_str() == key.state_key()) {
                selected.insert(event_id.clone());
            }
        }
    }
    selected
}

/// The `auth_chain` of a send_join answer: the auth chain of every event of the
/// returned `state` and of the join's own auth events, sorted by ID. For a partial
/// answer (`partial` true) the events already in `state` are left out, as Synapse
/// does; a full answer lists them in both.
///
/// # Errors
///
/// A [`DagError`] when `source` lacks an event of the chain or the graph is malformed.
pub fn send_join_auth_chain<S: EventSource + ?Sized>(
    source: &S,
    state: &BTreeSet<EventId>,
    join: &Pdu,
    partial: bool,
) -> Result<Vec<EventId>, DagError> {
    let roots: Vec<&EventId> = state.iter().chain(join.auth_events()).collect();
    let mut chain = dag::auth_chain_of_events(source, roots.iter().copied())?;
    chain.extend(join.auth_events().iter().cloned());
    if partial {
        chain.retain(|event_id| !state.contains(event_id));
    }
    Ok(chain.into_iter().collect())
}
