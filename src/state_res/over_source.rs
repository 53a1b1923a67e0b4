//! State resolution in one call, over a synchronous event source ([`resolve`]): the
//! step machine driven to its end, fetching from the source whatever it asks for.

use std::collections::BTreeMap;

use super::{ResolveError, Resolved, Resolver};
use crate::dag::EventSource;
use crate::event::StateKey;
use crate::id::EventId;
use crate::room_version::RoomVersion;

/// Resolves `state_sets` under `version`'s algorithm (v1, v2 or v2.1), taking events
/// from `source`: [`Resolver`] driven to the end.
///
/// ```
/// use std::collections::BTreeMap;
/// use matrix_serverlib::event::StateKey;
/// use matrix_serverlib::event::Pdu;
/// use matrix_serverlib::id::EventId;
/// use matrix_serverlib::room_version::RoomVersion;
/// use matrix_serverlib::state_res::resolve;
///
/// // Room version 2: events carry their own IDs. Alice creates the room, joins, and
/// // sets the topic twice on two forks.
/// let version = RoomVersion::V2;
/// let event = |id: &str, kind: &str, key: &str, content: &str, auth: &[&str], ts: u32| {
///     let auth: Vec<String> = auth.iter().map(|a| format!(r#"["${a}:x.org",{{}}]"#)).collect();
///     let json = format!(
///         r#"{{"event_id":"${id}:x.org","room_id":"!r:x.org","sender":"@alice:x.org",
///         "type":"{kind}","state_key":"{key}","content":{content},"auth_events":[{}],
///         "prev_events":[],"depth":{ts},"origin_server_ts":{ts},"hashes":{{}},
///         "signatures":{{}}}}"#,
///         auth.join(",")
///     );
///     Pdu::from_bytes(json.as_bytes(), &version)
/// };
/// let events = [
///     event("create", "m.room.create", "", r#"{"creator":"@alice:x.org"}"#, &[], 1)?,
///     event("join", "m.room.member", "@alice:x.org", r#"{"membership":"join"}"#, &["create"], 2)?,
///     event("topic1", "m.room.topic", "", r#"{"topic":"one"}"#, &["create", "join"], 3)?,
///     event("topic2", "m.room.topic", "", r#"{"topic":"two"}"#, &["create", "join"], 4)?,
/// ];
/// let state = |names: &[usize]| -> BTreeMap<StateKey, EventId> {
///     names
///         .iter()
///         .map(|&i| {
///             let pdu = &events[i];
///             let key = StateKey::new(pdu.event_type(), pdu.state_key().unwrap_or_default());
///             (key, pdu.event_id().clone())
///         })
///         .collect()
/// };
/// let sets = [state(&[0, 1, 2]), state(&[0, 1, 3])];
/// let source: BTreeMap<EventId, Pdu> =
///     events.iter().map(|pdu| (pdu.event_id().clone(), pdu.clone())).collect();
///
/// let resolved = resolve(&version, &sets, &source)?;
/// // No power levels: the topics are ordered by time, and the later one wins.
/// assert_eq!(resolved.get("m.room.topic", "").map(EventId::as_str), Some("$topic2:x.org"));
/// assert_eq!(resolved.len(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// As [`Resolver::run`].
pub fn resolve<'s, S: EventSource + ?Sized>(
    version: &RoomVersion,
    state_sets: &'s [BTreeMap<StateKey, EventId>],
    source: &S,
) -> Result<Resolved<'s>, ResolveError> {
    Resolver::new(version, state_sets).run(source)
}
