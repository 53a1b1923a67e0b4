//! History from before a room came to this server: when a client pages back past the
//! oldest event stored here, in a room joined through another server, the room's
//! other servers are asked with `GET /backfill`; what they answer goes through the
//! core's receipt pipeline (`Mode::Backfilled`: no soft-failure, the state at the
//! oldest events taken from `/state_ids`) and is stored before everything else of the
//! room's timeline.

use std::collections::{BTreeMap, BTreeSet};

use matrix_serverlib::event::Pdu;
use matrix_serverlib::federation::ingest::{Mode, StateBefore, Verdict};
use matrix_serverlib::federation::outbound::Method;
use matrix_serverlib::federation::path;
use matrix_serverlib::id::{EventId, RoomId, ServerName, UserId};
use matrix_serverlib::json::{self, ParseOptions, Value};

use super::receive::run_pipeline;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::storage::{EventStatus, StateMap, Storage};

/// Events asked for per `/backfill` request at most (the pipeline takes up to 200).
const MAX_BACKFILL: usize = 100;

/// Where paging back has reached the start of what is stored, and whom to ask.
struct Edge {
    version: matrix_serverlib::room_version::RoomVersion,
    oldest: EventId,
    servers: Vec<ServerName>,
}

/// Backfills a room before a client pages back from `until`, when fewer than `limit`
/// events are stored before it and the room's oldest stored event has prev events this
/// server does not hold. Failures are logged, not returned: the client still gets
/// what is stored.
///
/// # Errors
///
/// Internal errors of storage.
pub(crate) async fn before_paging_back(
    app: &App,
    room_id: &str,
    until: i64,
    limit: usize,
) -> ApiResult<()> {
    if app.peers().is_none() {
        return Ok(());
    }
    let (room, ours) = (room_id.to_owned(), app.server_name().to_owned());
    let Some(edge) = app
        .db(move |store| edge(store, &room, until, limit, &ours))
        .await?
    else {
        return Ok(());
    };
    let Ok(room) = RoomId::parse(room_id) else {
        return Ok(());
    };
    for server in edge.servers {
        match backfill_from(app, &edge.version, &room, &edge.oldest, &server, limit).await {
            Ok(()) => return Ok(()),
            Err(error) => tracing::warn!("backfill of {room} from {server}: {error:?}"),
        }
    }
    Ok(())
}

/// The backfill edge, or `None` when nothing is to be asked.
fn edge(
    store: &Storage,
    room_id: &str,
    until: i64,
    limit: usize,
    ours: &str,
) -> ApiResult<Option<Edge>> {
    let Some(version) = store.room_version(room_id)? else {
        return Ok(None);
    };
    if store
        .room_events(room_id, i64::MIN, until, limit, true)?
        .len()
        >= limit
    {
        return Ok(None);
    }
    let Some(oldest) = store
        .room_events(room_id, i64::MIN, i64::MAX, 1, false)?
        .pop()
    else {
        return Ok(None);
    };
    let pdu = crate::storage::parse_pdu(&oldest.json, &version)?;
    let mut missing = false;
    for prev in pdu.prev_events() {
        let held = store
            .event(prev.as_str())?
            .is_some_and(|event| event.status == EventStatus::Timeline);
        missing |= !held;
    }
    if !missing {
        return Ok(None);
    }
    let servers: BTreeSet<ServerName> = store
        .members_with(room_id, "join")?
        .iter()
        .filter_map(|user| UserId::parse(user).ok())
        .filter(|user| user.server_name() != ours)
        .filter_map(|user| ServerName::parse(user.server_name()).ok())
        .collect();
    Ok(Some(Edge {
        version,
        oldest: pdu.event_id().clone(),
        servers: servers.into_iter().collect(),
    }))
}

/// One `/backfill` from `server`, through the pipeline, stored.
async fn backfill_from(
    app: &App,
    version: &matrix_serverlib::room_version::RoomVersion,
    room_id: &RoomId,
    oldest: &EventId,
    server: &ServerName,
    limit: usize,
) -> ApiResult<()> {
    let peers = app
        .peers()
        .ok_or_else(|| ApiError::internal("backfill", "federation is off"))?;
    let count = u32::try_from(limit.clamp(1, MAX_BACKFILL)).unwrap_or(10);
    let uri = path::backfill(room_id, std::slice::from_ref(oldest), count);
    let (status, body) = peers
        .request_raw(server.as_str(), Method::Get, &uri, None)
        .await
        .map_err(|e| ApiError::internal("backfill", e))?;
    if status != 200 {
        return Err(ApiError::internal("backfill", format!("answered {status}")));
    }
    let Ok(Value::Object(mut answer)) = json::parse(&body, &ParseOptions::lenient()) else {
        return Err(ApiError::internal("backfill", "not a JSON object"));
    };
    let objects: Vec<_> = match answer.remove("pdus") {
        Some(Value::Array(pdus)) => pdus
            .into_iter()
            .filter_map(|pdu| match pdu {
                Value::Object(object) => Some(object),
                _ => None,
            })
            .take(MAX_BACKFILL)
            .collect(),
        _ => return Err(ApiError::internal("backfill", "no pdus")),
    };
    let outcomes = run_pipeline(app, *version, room_id, server, Mode::Backfilled, objects).await?;
    let mut accepted: Vec<(Pdu, StateBefore)> = Vec::new();
    let mut outside: Vec<(Pdu, EventStatus)> = Vec::new();
    for outcome in outcomes {
        match (outcome.verdict, outcome.pdu) {
            (Verdict::Accepted { state_before, .. }, Some(pdu)) => {
                accepted.push((pdu, state_before));
            }
            (Verdict::Outlier { rejection, .. }, Some(pdu)) => {
                let status = match rejection {
                    None => EventStatus::Outlier,
                    Some(_) => EventStatus::Rejected,
                };
                outside.push((pdu, status));
            }
            (Verdict::Rejected { .. }, Some(pdu)) => outside.push((pdu, EventStatus::Rejected)),
            _ => {}
        }
    }
    let worker = app.clone();
    app.db(move |store| {
        for (pdu, status) in &outside {
            store.put_outside_timeline(pdu, *status)?;
        }
        let with_state = states_after(store, accepted)?;
        store.insert_backfilled(&with_state)?;
        worker.notify();
        Ok(())
    })
    .await
}

/// The state after each accepted event, in the pipeline's order (each after its prev
/// events): from the batch itself, or from what is stored.
fn states_after(
    store: &Storage,
    accepted: Vec<(Pdu, StateBefore)>,
) -> ApiResult<Vec<(Pdu, StateMap)>> {
    let mut computed: BTreeMap<EventId, StateMap> = BTreeMap::new();
    let mut out = Vec::with_capacity(accepted.len());
    for (pdu, before) in accepted {
        let mut state = match before {
            StateBefore::AfterPrev(prev) => match computed.get(&prev) {
                Some(state) => state.clone(),
                None => store.state_after(prev.as_str())?,
            },
            StateBefore::Resolved(map) => map,
            _ => return Err(ApiError::internal("backfill", "unknown state")),
        };
        if let Some(key) = pdu.state_key() {
            state.insert(
                matrix_serverlib::event::StateKey::new(pdu.event_type(), key),
                pdu.event_id().clone(),
            );
        }
        computed.insert(pdu.event_id().clone(), state.clone());
        out.push((pdu, state));
    }
    Ok(out)
}
