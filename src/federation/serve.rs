//! What to answer to history and state requests: backfill, missing events, state,
//! events and auth chains (<https://spec.matrix.org/v1.16/server-server-api/#backfilling-and-retrieving-missing-events>).
//!
//! Pure selections over an [`EventSource`]: [`backfill_selection`] and
//! [`missing_events_selection`] say which events to send, [`visibility_for_server`]
//! whether the requesting server may see each one or only its redacted form,
//! [`server_in_room`] whether it may ask at all (Synapse's `assert_host_in_room`), and
//! the `*_body` functions build the response bodies. [`check_server`] puts the
//! room's server ACL and the in-room check together, as a refusal to answer with.
//!
//! ```
//! # use std::collections::BTreeMap;
//! use matrix_serverlib::federation::serve;
//! # use matrix_serverlib::event::Pdu;
//! # use matrix_serverlib::id::EventId;
//! # let events: BTreeMap<EventId, Pdu> = BTreeMap::new();
//! # let from: Vec<EventId> = vec!["$unknown:example.org".parse()?];
//!
//! // `GET /backfill/{roomId}?v=...&limit=...`: the given events and their ancestors,
//! // newest first, skipping what we do not have.
//! let ids = serve::backfill_selection(&from, 50, &events);
//! let pdus: Vec<&Pdu> = ids.iter().filter_map(|id| events.get(id)).collect();
//! let body = serve::transaction_body(&"our.server".parse()?, 1_700_000_000_000, &pdus);
//! assert_eq!(body.get("pdus").and_then(|pdus| pdus.as_array()).map(<[_]>::len), Some(0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashSet};

use super::error::{ErrorCode, MatrixError};
use super::net::acl_allows;
use crate::dag::EventSource;
use crate::event::Pdu;
use crate::id::{EventId, ServerName};
use crate::json::{Object, Value};

/// The most events one `/backfill` answer holds; a larger `limit` is lowered to it.
pub const MAX_BACKFILL_LIMIT: usize = 100;
/// The most events one `/get_missing_events` answer holds, as Synapse
/// (`on_get_missing_events`); a larger `limit` is lowered to it.
pub const MAX_MISSING_EVENTS_LIMIT: usize = 20;

/// Why a server may not be served a room's history, state or events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The room's server ACL denies the server (403 `M_FORBIDDEN`; Synapse says
    /// "Server is banned from room").
    #[error("{server} is denied by the room's server ACL")]
    DeniedByAcl {
        /// The requesting server.
        server: ServerName,
    },
    /// None of the server's users is joined (403 `M_FORBIDDEN`, as Synapse's
    /// `assert_host_in_room`).
    #[error("{server} is not in the room")]
    NotInRoom {
        /// The requesting server.
        server: ServerName,
    },
}

impl MatrixError for ServeError {
    fn errcode(&self) -> ErrorCode {
        ErrorCode::Forbidden
    }
}

/// Whether `server` may be served the room whose current state is `state`: the
/// room's `m.room.server_acl` (none allows everyone) must allow it, then one of its
/// users must be joined ([`server_in_room`]).
///
/// # Errors
///
/// [`ServeError::DeniedByAcl`] or [`ServeError::NotInRoom`].
pub fn check_server<'a, I>(state: I, server: &ServerName) -> Result<(), ServeError>
where
    I: IntoIterator<Item = &'a Pdu>,
    I::IntoIter: Clone,
{
    let state = state.into_iter();
    let acl = state
        .clone()
        .find(|pdu| pdu.event_type() == "m.room.server_acl" && pdu.state_key() == Some(""));
    if acl.is_some_and(|acl| !acl_allows(acl.content(), server)) {
        return Err(ServeError::DeniedByAcl {
            server: server.clone(),
        });
    }
    if !server_in_room(state, server) {
        return Err(ServeError::NotInRoom {
            server: server.clone(),
        });
    }
    Ok(())
}

/// The events to answer `/backfill` with: the events of `from` and their ancestors
/// through `prev_events`, highest depth first (ties: smallest event ID), at most
/// `limit` of them (capped at [`MAX_BACKFILL_LIMIT`]), the given events included, as
/// the spec says. Events the source lacks are skipped and not walked through; the
/// rest still come (one missing event does not sink the batch).
///
/// The order is the selection order, newest first, as Synapse sorts its answer. The
/// walk reads at most `limit` events plus their references.
#[must_use]
pub fn backfill_selection<S: EventSource + ?Sized>(
    from: &[EventId],
    limit: usize,
    source: &S,
) -> Vec<EventId> {
    let limit = limit.min(MAX_BACKFILL_LIMIT);
    let mut walk = DepthWalk::new(source);
    for id in from {
        walk.offer(id);
    }
    let mut selected = Vec::new();
    while selected.len() < limit {
        let Some(pdu) = walk.pop() else { break };
        walk.offer_prevs(pdu);
        selected.push(pdu.event_id().clone());
    }
    selected
}

/// The events to answer `/get_missing_events` with: ancestors of `latest` through
/// `prev_events` (not `latest` themselves), never entering `earliest`, with depth at
/// least `min_depth`, at most `limit` (capped at [`MAX_MISSING_EVENTS_LIMIT`]).
///
/// When there are more, the **latest** are chosen, as Synapse does since its PR#4045
/// (the earliest would leave the requester with a gap under its new event). The walk
/// takes the highest depth first, so when depths grow along `prev_events` (as honest
/// servers make them) the answer is complete: every event between a returned event
/// and `latest` that the walk can reach is returned too. Events the source lacks, and
/// those below `min_depth`, are skipped and not walked through.
///
/// The answer is oldest first in topological order: each event after those of its
/// `prev_events` that are in it (ties: lowest depth, then smallest event ID).
#[must_use]
pub fn missing_events_selection<S: EventSource + ?Sized>(
    earliest: &[EventId],
    latest: &[EventId],
    limit: usize,
    min_depth: i64,
    source: &S,
) -> Vec<EventId> {
    let limit = limit.min(MAX_MISSING_EVENTS_LIMIT);
    let mut walk = DepthWalk::new(source);
    walk.seen.extend(earliest.iter().chain(latest));
    for id in latest {
        if earliest.contains(id) {
            continue;
        }
        if let Some(pdu) = source.event(id) {
            walk.offer_prevs(pdu);
        }
    }
    let mut selected: Vec<&Pdu> = Vec::new();
    while selected.len() < limit {
        let Some(pdu) = walk.pop() else { break };
        if pdu.depth() < min_depth {
            continue;
        }
        walk.offer_prevs(pdu);
        selected.push(pdu);
    }
    oldest_first(&selected)
}

/// Whether a server sees an event, or only its redacted form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Visibility {
    /// Send the redacted form only.
    Redacted,
    /// Send the event.
    Visible,
}

impl Visibility {
    /// The event as the server may see it: itself, or its redacted form.
    #[must_use]
    pub fn apply(self, pdu: &Pdu) -> Pdu {
        match self {
            Self::Visible => pdu.clone(),
            Self::Redacted => pdu.redacted(),
        }
    }
}

/// Whether the server whose users have `memberships` in the state at an event sees
/// the event, under `history_visibility` there, as Synapse decides
/// (`filter_events_for_server` with `redact=True`, `event_visible_to_server`):
///
/// 1. an event whose sender was erased (GDPR) is redacted;
/// 2. under `shared` and `world_readable`, and any value other than `invited` and
///    `joined` (Synapse's test is "not invited and not joined"), it is visible;
/// 3. under `invited`, it is visible if one of the server's users is invited or
///    joined;
/// 4. under `joined`, it is visible if one of them is joined;
/// 5. anything else is redacted, not dropped.
///
/// Synapse also withholds, in a room it holds only partial state of, the events of
/// other servers; that is the caller's to add, knowing whether its state is partial.
///
/// The state is the state at the event as Synapse stores it: after the event, so a
/// server sees its own users' joins. Take `history_visibility` from
/// [`history_visibility`]; pass the `membership` of each member event of the
/// server's users (see [`server_memberships`]).
#[must_use]
pub fn visibility_for_server<'a>(
    history_visibility: &str,
    memberships: impl IntoIterator<Item = &'a str>,
    sender_erased: bool,
) -> Visibility {
    if sender_erased {
        return Visibility::Redacted;
    }
    let invited_counts = match history_visibility {
        "invited" => true,
        "joined" => false,
        _ => return Visibility::Visible,
    };
    let sees = memberships
        .into_iter()
        .any(|membership| membership == "join" || (invited_counts && membership == "invite"));
    if sees {
        Visibility::Visible
    } else {
        Visibility::Redacted
    }
}

/// [`visibility_for_server`] read from `state_at_event`, the room state at the event
/// (its `m.room.history_visibility` event and the member events of `server`'s users;
/// other events are ignored).
#[must_use]
pub fn visibility_at<'a>(
    state_at_event: impl IntoIterator<Item = &'a Pdu> + Clone,
    server: &'a ServerName,
    sender_erased: bool,
) -> Visibility {
    let setting = state_at_event
        .clone()
        .into_iter()
        .find(|pdu| pdu.event_type() == "m.room.history_visibility" && pdu.state_key() == Some(""));
    let setting = history_visibility(setting);
    visibility_for_server(
        setting,
        server_memberships(state_at_event, server),
        sender_erased,
    )
}

/// The `history_visibility` of an `m.room.history_visibility` event: `shared` when
/// there is none, or its value is not a string (Synapse's default; it asserts a
/// string).
#[must_use]
pub fn history_visibility(event: Option<&Pdu>) -> &str {
    event
        .and_then(|event| event.content().get("history_visibility"))
        .and_then(Value::as_str)
        .unwrap_or("shared")
}

/// The memberships of `server`'s users among `state`'s `m.room.member` events (state
/// keys `@localpart:server`, compared as Synapse does: everything after the first
/// `:`).
pub fn server_memberships<'a>(
    state: impl IntoIterator<Item = &'a Pdu>,
    server: &'a ServerName,
) -> impl Iterator<Item = &'a str> {
    state
        .into_iter()
        .filter(move |pdu| is_member_of(pdu, server))
        .filter_map(Pdu::membership)
}

/// True when one of `server`'s users is joined in `state` (the room's current state,
/// or any events of it): the check Synapse makes before serving history, state and
/// events to a server (`assert_host_in_room`).
pub fn server_in_room<'a>(state: impl IntoIterator<Item = &'a Pdu>, server: &ServerName) -> bool {
    state
        .into_iter()
        .any(|pdu| is_member_of(pdu, server) && pdu.membership() == Some("join"))
}

/// `/state_ids`: `{"pdu_ids": [...], "auth_chain_ids": [...]}`, each list sorted by
/// depth, then event ID, without repeats.
#[must_use]
pub fn state_ids_body(state: &[&Pdu], auth_chain: &[&Pdu]) -> Object {
    let ids = |pdus: &[&Pdu]| {
        let list = sorted(pdus)
            .into_iter()
            .map(|pdu| Value::from(pdu.event_id().as_str()))
            .collect();
        Value::Array(list)
    };
    Object::from_entries(vec![
        ("auth_chain_ids".to_owned(), ids(auth_chain)),
        ("pdu_ids".to_owned(), ids(state)),
    ])
}

/// `/state`: `{"pdus": [...], "auth_chain": [...]}`, each list sorted by depth, then
/// event ID, without repeats.
#[must_use]
pub fn state_body(state: &[&Pdu], auth_chain: &[&Pdu]) -> Object {
    Object::from_entries(vec![
        ("auth_chain".to_owned(), pdu_list(&sorted(auth_chain))),
        ("pdus".to_owned(), pdu_list(&sorted(state))),
    ])
}

/// `/event/{eventId}` and `/backfill`: a transaction `{"origin", "origin_server_ts",
/// "pdus"}`, the PDUs in the order given (for backfill, the selection's).
#[must_use]
pub fn transaction_body(origin: &ServerName, origin_server_ts: i64, pdus: &[&Pdu]) -> Object {
    Object::from_entries(vec![
        ("origin".to_owned(), Value::from(origin.as_str())),
        ("origin_server_ts".to_owned(), Value::from(origin_server_ts)),
        ("pdus".to_owned(), pdu_list(pdus)),
    ])
}

/// `/event_auth`: `{"auth_chain": [...]}`, sorted by depth, then event ID, without
/// repeats.
#[must_use]
pub fn event_auth_body(auth_chain: &[&Pdu]) -> Object {
    Object::from_entries(vec![(
        "auth_chain".to_owned(),
        pdu_list(&sorted(auth_chain)),
    )])
}

/// `/get_missing_events`: `{"events": [...]}`, in the order given (the selection's,
/// oldest first).
#[must_use]
pub fn missing_events_body(events: &[&Pdu]) -> Object {
    Object::from_entries(vec![("events".to_owned(), pdu_list(events))])
}

/// A walk over `prev_events` taking the highest depth first.
struct DepthWalk<'s, S: ?Sized> {
    source: &'s S,
    /// Offered (or excluded) already; only membership is read, never the order.
    seen: HashSet<&'s EventId>,
    queue: BinaryHeap<(i64, Reverse<&'s EventId>)>,
}

impl<'s, S: EventSource + ?Sized> DepthWalk<'s, S> {
    fn new(source: &'s S) -> Self {
        Self {
            source,
            seen: HashSet::new(),
            queue: BinaryHeap::new(),
        }
    }

    /// Queues `id` if it is new and the source has it.
    fn offer(&mut self, id: &'s EventId) {
        if self.seen.insert(id)
            && let Some(pdu) = self.source.event(id)
        {
            self.queue.push((pdu.depth(), Reverse(pdu.event_id())));
        }
    }

    fn offer_prevs(&mut self, pdu: &'s Pdu) {
        for prev in pdu.prev_events() {
            self.offer(prev);
        }
    }

    fn pop(&mut self) -> Option<&'s Pdu> {
        while let Some((_, Reverse(id))) = self.queue.pop() {
            if let Some(pdu) = self.source.event(id) {
                return Some(pdu);
            }
        }
        None
    }
}

/// `events` in topological order, oldest first (Kahn's algorithm; ready ties by
/// depth, then event ID). Were the references among them to form a cycle, the rest
/// follow by depth and event ID.
fn oldest_first(events: &[&Pdu]) -> Vec<EventId> {
    let members: BTreeSet<&EventId> = events.iter().map(|pdu| pdu.event_id()).collect();
    let mut waiting: BTreeMap<&EventId, usize> = BTreeMap::new();
    let mut children: BTreeMap<&EventId, Vec<&Pdu>> = BTreeMap::new();
    let mut ready = BTreeSet::new();
    for &pdu in events {
        let prevs: BTreeSet<&EventId> = pdu
            .prev_events()
            .iter()
            .filter(|prev| members.contains(prev))
            .collect();
        for &prev in &prevs {
            children.entry(prev).or_default().push(pdu);
        }
        if prevs.is_empty() {
            ready.insert(key(pdu));
        }
        waiting.insert(pdu.event_id(), prevs.len());
    }
    let mut order = Vec::with_capacity(events.len());
    let mut emitted = BTreeSet::new();
    while order.len() < members.len() {
        let next = match ready.pop_first() {
            Some(next) => next,
            // A cycle: take the lowest of what is left.
            None => match events
                .iter()
                .filter(|p| !emitted.contains(p.event_id()))
                .map(|p| key(p))
                .min()
            {
                Some(next) => next,
                None => break,
            },
        };
        let (_, id) = next;
        if !emitted.insert(id) {
            continue;
        }
        order.push(id.clone());
        for child in children.get(id).into_iter().flatten() {
            if let Some(count) = waiting.get_mut(child.event_id()) {
                *count = count.saturating_sub(1);
                if *count == 0 && !emitted.contains(child.event_id()) {
                    ready.insert(key(child));
                }
            }
        }
    }
    order
}

fn key(pdu: &Pdu) -> (i64, &EventId) {
    (pdu.depth(), pdu.event_id())
}

/// `pdus` without repeated event IDs, by depth then event ID.
fn sorted<'a>(pdus: &[&'a Pdu]) -> Vec<&'a Pdu> {
    let mut sorted = pdus.to_vec();
    sorted.sort_by(|a, b| key(a).cmp(&key(b)));
    sorted.dedup_by(|a, b| a.event_id() == b.event_id());
    sorted
}

fn pdu_list(pdus: &[&Pdu]) -> Value {
    Value::Array(
        pdus.iter()
            .map(|pdu| Value::Object(pdu.as_object().clone()))
            .collect(),
    )
}

/// True for an `m.room.member` event whose state key is a user of `server`.
fn is_member_of(pdu: &Pdu, server: &ServerName) -> bool {
    pdu.event_type() == "m.room.member"
        && pdu
            .state_key()
            .filter(|key| key.starts_with('@'))
            .and_then(|key| key.split_once(':'))
            .is_some_and(|(_, domain)| domain == server.as_str())
}

#[cfg(test)]
#[path = "serve_tests.rs"]
mod tests;
