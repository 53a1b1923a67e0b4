//! Inbound transactions (`PUT /_matrix/federation/v1/send/{txnId}`): the core parses
//! the transaction and takes each room's PDUs through its receipt pipeline
//! (`federation::ingest`: format, signatures, hashes, auth against the auth events and
//! against the state before, soft-failure), fetching what it asks for from the origin;
//! this module stores the accepted events and hands typing and receipts to the local
//! clients.
//!
//! Soft-failed, rejected and outlier events are stored outside the timeline: never
//! shown to clients, never forward extremities, but known to the next transaction's
//! pipeline (a rejected event taints the events that list it).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use matrix_serverlib::event::Pdu;
use matrix_serverlib::event::StateKey;
use matrix_serverlib::federation::edu::Edu;
use matrix_serverlib::federation::ingest::{
    Ingest, IngestStep, Known, Mode, Outcome, RoomView, StateBefore, Verdict,
};
use matrix_serverlib::federation::outbound::Reply;
use matrix_serverlib::federation::txn::{TransactionResponse, parse_transaction};
use matrix_serverlib::id::{EventId, RoomId, ServerName};
use matrix_serverlib::json::{self, Object, Value as CanonicalValue};
use matrix_serverlib::room_version::RoomVersion;

use super::inbound::{Origin, matrix_error};
use crate::app::{App, Presence};
use crate::error::{ApiError, ApiResult};
use crate::rooms;
use crate::storage::{EventCache, EventStatus, Receipt, RoomEvents, StateMap, Storage};

/// Polls of one room's pipeline at most (each poll answers keys or fetches).
const MAX_POLLS: usize = 32;
/// How long a remote typing notification lasts without a refresh.
const TYPING_TIMEOUT: Duration = Duration::from_secs(30);

/// `PUT /_matrix/federation/v1/send/{txnId}`.
pub(crate) async fn send(
    State(app): State<App>,
    Path(txn_id): Path<String>,
    origin: Origin,
) -> ApiResult<Json<Value>> {
    if let Some(sender) = app.sender() {
        sender.remote_up(&origin.server);
    }
    let origin_name =
        ServerName::parse(&origin.server).map_err(|e| ApiError::invalid_param(e.to_string()))?;
    let body = origin
        .content
        .as_ref()
        .map(|content| json::to_vec(&CanonicalValue::Object(content.clone())))
        .ok_or_else(|| ApiError::not_json("a transaction needs a body"))?;
    let transaction =
        parse_transaction(&txn_id, &body, &origin_name).map_err(|e| matrix_error(&e))?;
    let mut rooms: BTreeMap<RoomId, Vec<Object>> = BTreeMap::new();
    for pdu in transaction.pdus {
        rooms.entry(pdu.room_id).or_default().push(pdu.object);
    }
    let mut response = TransactionResponse::new();
    for (room_id, objects) in rooms {
        let lookup = room_id.as_str().to_owned();
        // PDUs of rooms this server is not in get no entry, as in Synapse.
        let Some(version) = app.db(move |store| store.room_version(&lookup)).await? else {
            continue;
        };
        let outcomes =
            run_pipeline(&app, version, &room_id, &origin_name, Mode::Pushed, objects).await?;
        record(&app, outcomes, &mut response).await?;
    }
    for edu in transaction.edus {
        ephemeral(&app, edu).await?;
    }
    Ok(Json(Value::from(&CanonicalValue::Object(
        response.to_object(),
    ))))
}

/// Runs the core's pipeline over one room's PDUs, answering its questions.
///
/// # Errors
///
/// Internal errors of storage, or a pipeline that does not finish.
pub(crate) async fn run_pipeline(
    app: &App,
    version: RoomVersion,
    room_id: &RoomId,
    origin: &ServerName,
    mode: Mode,
    objects: Vec<Object>,
) -> ApiResult<Vec<Outcome>> {
    let mut ingest = Ingest::new(&version, room_id, origin, mode);
    for object in objects {
        ingest.add_object(object);
    }
    let mut cache = EventCache::default();
    for _ in 0..MAX_POLLS {
        let room = room_id.as_str().to_owned();
        let step;
        (ingest, cache, step) = app
            .db(move |store| {
                let view = StoreView::new(store, &room, version, &cache)?;
                let step = ingest.poll(&view);
                drop(view);
                Ok((ingest, cache, step))
            })
            .await?;
        match step {
            IngestStep::Done(outcomes) => return Ok(outcomes),
            IngestStep::NeedKeys(needs) => {
                let servers: Vec<ServerName> = needs.into_iter().map(|need| need.server).collect();
                let keys = app.server_keys()?.for_events(app, &servers).await?;
                ingest.provide_keys(&keys);
            }
            IngestStep::Fetch(requests) => {
                let peers = app
                    .peers()
                    .ok_or_else(|| ApiError::internal("fetch", "federation is off"))?;
                for request in requests {
                    let reply = match peers
                        .request_raw(
                            request.destination.as_str(),
                            request.method,
                            &request.uri,
                            request.body.as_ref(),
                        )
                        .await
                    {
                        Ok((status, body)) => Reply::response(status, body),
                        Err(_) => Reply::Failed,
                    };
                    ingest.provide_reply(request.id, reply);
                }
            }
            IngestStep::Waiting(_) => {}
            _ => return Err(ApiError::internal("ingest", "unknown step")),
        }
    }
    Err(ApiError::internal("ingest", "the pipeline did not finish"))
}

/// Stores accepted events in the pipeline's order and fills the `/send` answer.
async fn record(
    app: &App,
    outcomes: Vec<Outcome>,
    response: &mut TransactionResponse,
) -> ApiResult<()> {
    for outcome in outcomes {
        let Some(event_id) = outcome.event_id.clone() else {
            continue;
        };
        let reported = outcome.added.is_some();
        match (outcome.verdict, outcome.pdu) {
            (Verdict::Accepted { state_before, .. }, Some(pdu)) => {
                let worker = app.clone();
                let stored = app
                    .db(move |store| store_accepted(store, &worker, &pdu, state_before))
                    .await;
                match stored {
                    Ok(()) if reported => response.ok(&event_id),
                    Ok(()) => {}
                    Err(error) if reported => response.error(&event_id, &format!("{error:?}")),
                    Err(_) => {}
                }
            }
            (
                verdict @ (Verdict::Outlier { .. }
                | Verdict::SoftFailed { .. }
                | Verdict::Rejected { .. }),
                Some(pdu),
            ) => {
                let status = match &verdict {
                    Verdict::Outlier {
                        rejection: None, ..
                    } => EventStatus::Outlier,
                    Verdict::SoftFailed { .. } => EventStatus::SoftFailed,
                    _ => EventStatus::Rejected,
                };
                app.db(move |store| store.put_outside_timeline(&pdu, status))
                    .await?;
                if reported {
                    // Soft-failed events are accepted as far as the sender knows.
                    if status == EventStatus::Rejected {
                        response.error(&event_id, &format!("{verdict:?}"));
                    } else {
                        response.ok(&event_id);
                    }
                }
            }
            (Verdict::Skipped(_), _) if reported => {
                response.ok(&event_id);
            }
            (verdict, _) if reported => {
                let message = verdict
                    .send_error()
                    .map_or_else(|| format!("{verdict:?}"), str::to_owned);
                response.error(&event_id, &message);
            }
            _ => {}
        }
    }
    Ok(())
}

fn store_accepted(
    store: &mut Storage,
    app: &App,
    pdu: &Pdu,
    state_before: StateBefore,
) -> ApiResult<()> {
    let state = match state_before {
        StateBefore::AfterPrev(prev) => store.state_after(prev.as_str())?,
        StateBefore::Resolved(map) => map,
        _ => return Err(ApiError::internal("ingest", "unknown state")),
    };
    rooms::accept_remote(store, app, pdu, Some(state), None).map(|_| ())
}

/// Typing, receipts and presence reach local clients; other EDUs are accepted and
/// ignored.
async fn ephemeral(app: &App, edu: Edu) -> ApiResult<()> {
    match edu {
        Edu::Typing {
            room_id,
            user_id,
            typing,
        } => {
            app.set_typing(
                room_id.as_str(),
                user_id.as_str(),
                typing.then_some(TYPING_TIMEOUT),
            );
        }
        Edu::Receipt(receipts) => {
            let rows: Vec<Receipt> = receipts
                .iter()
                .filter_map(|(room, kind, user, receipt)| {
                    Some(Receipt {
                        room_id: room.as_str().to_owned(),
                        user_id: user.as_str().to_owned(),
                        receipt_type: kind.to_owned(),
                        event_id: receipt.event_ids.first()?.as_str().to_owned(),
                        ts: receipt
                            .data
                            .get("ts")
                            .and_then(CanonicalValue::as_i64)
                            .unwrap_or_else(crate::now_ms),
                    })
                })
                .collect();
            app.db(move |store| {
                for receipt in &rows {
                    store.put_receipt(receipt)?;
                }
                Ok(())
            })
            .await?;
            app.notify();
        }
        Edu::Presence(updates) => {
            for update in updates {
                let user = update.user_id.as_str().to_owned();
                // Only users who share a room with ours: what an EDU can add is bounded.
                let shares = app.db(move |store| store.is_joined_anywhere(&user)).await?;
                if shares {
                    let presence = Presence {
                        presence: update.presence.clone(),
                        status_msg: update.status_msg.clone(),
                        currently_active: update.currently_active.unwrap_or(false),
                        last_active_ts: crate::now_ms()
                            - update.last_active_ago.unwrap_or(0).clamp(0, i64::MAX / 2),
                    };
                    app.set_presence(update.user_id.as_str(), presence);
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The room as the pipeline sees it: the forward extremities, the current state and
/// the least timeline depth read once; events and states on demand, through the
/// request's cache.
pub(crate) struct StoreView<'s> {
    events: RoomEvents<'s>,
    extremities: Vec<EventId>,
    current: StateMap,
    min_depth: Option<i64>,
}

impl<'s> StoreView<'s> {
    /// The view of `room_id` over `store`, reading through `cache`.
    ///
    /// # Errors
    ///
    /// Internal errors of storage.
    pub(crate) fn new(
        store: &'s Storage,
        room_id: &'s str,
        version: RoomVersion,
        cache: &'s EventCache,
    ) -> ApiResult<Self> {
        Ok(Self {
            events: RoomEvents::new(store, room_id, version, cache),
            extremities: store.forward_extremities(room_id)?,
            current: store.current_state(room_id)?,
            min_depth: store.min_timeline_depth(room_id)?,
        })
    }
}

impl RoomView for StoreView<'_> {
    fn event(&self, event_id: &EventId) -> Option<Known<'_>> {
        self.events
            .get(event_id)
            .map(|(pdu, status)| Known::new(pdu, status.ingest_status()))
    }

    fn state_after(&self, event_id: &EventId) -> Option<&BTreeMap<StateKey, EventId>> {
        self.events.state_after(event_id)
    }

    fn forward_extremities(&self) -> &[EventId] {
        &self.extremities
    }

    fn current_state(&self) -> &BTreeMap<StateKey, EventId> {
        &self.current
    }

    fn min_depth(&self) -> Option<i64> {
        self.min_depth
    }

    fn is_partial_state(&self) -> bool {
        false
    }
}
