//! Serving a room's history and state to another server: `/event`, `/state_ids`,
//! `/state`, `/event_auth`, `/backfill` and `/get_missing_events`. Every one is gated
//! by the core's `serve::check_server` (the room's server ACL, then a joined user of
//! the requesting server), and events are filtered by history visibility for that
//! server at each event (`serve::visibility_at`: shown, or redacted). The selections
//! and the bodies are the core's.

use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use serde_json::Value;

use matrix_serverlib::dag::{self, EventSource};
use matrix_serverlib::event::Pdu;
use matrix_serverlib::federation::path;
use matrix_serverlib::federation::serve::{
    self, backfill_selection, event_auth_body, missing_events_body, missing_events_selection,
    state_body, state_ids_body, transaction_body,
};
use matrix_serverlib::id::{EventId, ServerName};
use matrix_serverlib::json::{Object, Value as CanonicalValue};
use matrix_serverlib::room_version::RoomVersion;

use super::inbound::{Origin, matrix_error, query_params, required};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::storage::{EventCache, EventStatus, RoomEvents, Storage};

/// A room's events, read on demand for one request, with who is asking.
struct Served<'s> {
    version: RoomVersion,
    events: RoomEvents<'s>,
    origin: ServerName,
}

impl<'s> Served<'s> {
    /// Opens the room and checks that `origin` may be served it.
    fn load(
        store: &'s Storage,
        cache: &'s EventCache,
        room_id: &'s str,
        origin: &str,
    ) -> ApiResult<Self> {
        let version = store
            .room_version(room_id)?
            .ok_or_else(|| ApiError::not_found(format!("unknown room {room_id}")))?;
        let origin =
            ServerName::parse(origin).map_err(|e| ApiError::invalid_param(e.to_string()))?;
        let events = RoomEvents::new(store, room_id, version, cache);
        let current: Vec<&Pdu> = store
            .current_state(room_id)?
            .values()
            .filter_map(|id| events.event(id))
            .collect();
        serve::check_server(current.iter().copied(), &origin).map_err(|e| matrix_error(&e))?;
        Ok(Self {
            version,
            events,
            origin,
        })
    }

    /// The event as `origin` may see it: whole, or redacted by history visibility.
    fn visible(&self, store: &Storage, pdu: &Pdu) -> ApiResult<Pdu> {
        let state = crate::rooms::state_before(store, &self.version, pdu.prev_events())?;
        let state: Vec<&Pdu> = state
            .values()
            .filter_map(|id| self.events.event(id))
            .collect();
        Ok(serve::visibility_at(state.iter().copied(), &self.origin, false).apply(pdu))
    }

    /// An event of the room that is not rejected.
    fn pdu(&self, id: &EventId) -> ApiResult<&'s Pdu> {
        match self.events.get(id) {
            Some((pdu, status)) if status != EventStatus::Rejected => Ok(pdu),
            _ => Err(ApiError::not_found(format!("unknown event {id}"))),
        }
    }

    /// The state after `at`'s prev events (the state at `at`), and its auth chain.
    fn state_at(&self, store: &Storage, at: &EventId) -> ApiResult<(Vec<&'s Pdu>, Vec<&'s Pdu>)> {
        let pdu = self.pdu(at)?;
        let state = crate::rooms::state_before(store, &self.version, pdu.prev_events())?;
        let state: Vec<&Pdu> = state
            .values()
            .filter_map(|id| self.events.get(id).map(|(pdu, _)| pdu))
            .collect();
        let ids: Vec<&EventId> = state.iter().map(|pdu| pdu.event_id()).collect();
        let chain = dag::auth_chain_of_events(&self.events, ids.iter().copied())
            .map_err(|e| ApiError::internal("auth chain", e))?;
        let chain: Vec<&Pdu> = chain
            .iter()
            .filter_map(|id| self.events.get(id).map(|(pdu, _)| pdu))
            .collect();
        Ok((state, chain))
    }
}

fn answer(object: Object) -> Json<Value> {
    Json(Value::from(&CanonicalValue::Object(object)))
}

fn event_id(text: &str) -> ApiResult<EventId> {
    EventId::parse(text).map_err(|e| ApiError::invalid_param(format!("event ID {text}: {e}")))
}

/// `GET /_matrix/federation/v1/event/{eventId}`: a transaction holding the event.
pub(crate) async fn event(
    State(app): State<App>,
    Path(id): Path<String>,
    origin: Origin,
) -> ApiResult<Json<Value>> {
    let id = event_id(&id)?;
    let ours = ServerName::parse(app.server_name()).map_err(|e| ApiError::internal("name", e))?;
    app.db(move |store| {
        let stored = store
            .event(id.as_str())?
            .ok_or_else(|| ApiError::not_found(format!("unknown event {id}")))?;
        let cache = EventCache::default();
        let served = Served::load(store, &cache, &stored.room_id, &origin.server)?;
        let pdu = served.visible(store, served.pdu(&id)?)?;
        Ok(answer(transaction_body(&ours, crate::now_ms(), &[&pdu])))
    })
    .await
}

/// `GET /_matrix/federation/v1/state_ids/{roomId}?event_id=...`.
pub(crate) async fn state_ids(
    State(app): State<App>,
    Path(room_id): Path<String>,
    OriginalUri(uri): OriginalUri,
    origin: Origin,
) -> ApiResult<Json<Value>> {
    state_answer(app, room_id, uri.query(), origin, state_ids_body).await
}

/// `GET /_matrix/federation/v1/state/{roomId}?event_id=...`.
pub(crate) async fn state(
    State(app): State<App>,
    Path(room_id): Path<String>,
    OriginalUri(uri): OriginalUri,
    origin: Origin,
) -> ApiResult<Json<Value>> {
    state_answer(app, room_id, uri.query(), origin, state_body).await
}

/// The state at the event the query names and its auth chain, as `body` writes them.
async fn state_answer(
    app: App,
    room_id: String,
    query: Option<&str>,
    origin: Origin,
    body: fn(&[&Pdu], &[&Pdu]) -> Object,
) -> ApiResult<Json<Value>> {
    let at = query_event(query)?;
    app.db(move |store| {
        let cache = EventCache::default();
        let served = Served::load(store, &cache, &room_id, &origin.server)?;
        let (state, chain) = served.state_at(store, &at)?;
        Ok(answer(body(&state, &chain)))
    })
    .await
}

/// `GET /_matrix/federation/v1/event_auth/{roomId}/{eventId}`.
pub(crate) async fn event_auth(
    State(app): State<App>,
    Path((room_id, id)): Path<(String, String)>,
    origin: Origin,
) -> ApiResult<Json<Value>> {
    let id = event_id(&id)?;
    app.db(move |store| {
        let cache = EventCache::default();
        let served = Served::load(store, &cache, &room_id, &origin.server)?;
        let chain = dag::auth_chain(&served.events, &id)
            .map_err(|e| ApiError::internal("auth chain", e))?;
        let chain: Vec<&Pdu> = chain
            .iter()
            .filter_map(|id| served.events.event(id))
            .collect();
        Ok(answer(event_auth_body(&chain)))
    })
    .await
}

/// `GET /_matrix/federation/v1/backfill/{roomId}?v=...&limit=N`.
pub(crate) async fn backfill(
    State(app): State<App>,
    Path(room_id): Path<String>,
    OriginalUri(uri): OriginalUri,
    origin: Origin,
) -> ApiResult<Json<Value>> {
    let params = query_params(uri.query())?;
    let from = path::values(&params, "v")
        .into_iter()
        .map(event_id)
        .collect::<ApiResult<Vec<_>>>()?;
    let limit = path::first(&params, "limit")
        .and_then(|limit| limit.parse::<usize>().ok())
        .unwrap_or(10);
    let ours = ServerName::parse(app.server_name()).map_err(|e| ApiError::internal("name", e))?;
    app.db(move |store| {
        let cache = EventCache::default();
        let served = Served::load(store, &cache, &room_id, &origin.server)?;
        let pdus = backfill_selection(&from, limit, &served.events)
            .iter()
            .map(|id| served.visible(store, served.pdu(id)?))
            .collect::<ApiResult<Vec<Pdu>>>()?;
        let refs: Vec<&Pdu> = pdus.iter().collect();
        Ok(answer(transaction_body(&ours, crate::now_ms(), &refs)))
    })
    .await
}

/// `POST /_matrix/federation/v1/get_missing_events/{roomId}`.
pub(crate) async fn get_missing_events(
    State(app): State<App>,
    Path(room_id): Path<String>,
    origin: Origin,
) -> ApiResult<Json<Value>> {
    let body = origin
        .content
        .clone()
        .ok_or_else(|| ApiError::not_json("get_missing_events needs a body"))?;
    let ids = |name: &str| -> ApiResult<Vec<EventId>> {
        body.get(name)
            .and_then(CanonicalValue::as_array)
            .ok_or_else(|| ApiError::missing_param(name))?
            .iter()
            .map(|value| event_id(value.as_str().unwrap_or_default()))
            .collect()
    };
    let earliest = ids("earliest_events")?;
    let latest = ids("latest_events")?;
    let limit = body
        .get("limit")
        .and_then(CanonicalValue::as_i64)
        .and_then(|limit| usize::try_from(limit).ok())
        .unwrap_or(10);
    let min_depth = body
        .get("min_depth")
        .and_then(CanonicalValue::as_i64)
        .unwrap_or(0);
    app.db(move |store| {
        let cache = EventCache::default();
        let served = Served::load(store, &cache, &room_id, &origin.server)?;
        let pdus = missing_events_selection(&earliest, &latest, limit, min_depth, &served.events)
            .iter()
            .map(|id| served.visible(store, served.pdu(id)?))
            .collect::<ApiResult<Vec<Pdu>>>()?;
        let refs: Vec<&Pdu> = pdus.iter().collect();
        Ok(answer(missing_events_body(&refs)))
    })
    .await
}

fn query_event(query: Option<&str>) -> ApiResult<EventId> {
    event_id(required(&query_params(query)?, "event_id")?)
}
