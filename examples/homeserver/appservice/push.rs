//! The push queue: one task per application service with a URL turns the timeline
//! events after the service's stored position (and its queued ephemeral events) into
//! transactions, persists each before sending it, sends it with the `hs_token`, and
//! resends the same transaction (same ID, same bytes) with back-off until the service
//! answers 2xx. Which events a service gets is the core's `is_interested_in_event`,
//! asked with the room's aliases and joined local members as they are when the
//! transaction is built.

use std::collections::HashMap;
use std::time::Duration;

use matrix_serverlib::appservice::{
    ApplicationService, AsRequest, Registrations, RoomSnapshot, Transaction, TransactionCounter,
};
use matrix_serverlib::event::{ClientEvent, Pdu};
use matrix_serverlib::id::{RoomId, UserId};
use matrix_serverlib::json::{Object, Value};
use matrix_serverlib::room_version::RoomVersion;

use super::outbound;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::storage::{PendingTxn, Storage, parse_pdu};

/// Events read from the stream per transaction at most.
const EVENTS_PER_TXN: usize = 100;
/// Ephemeral events per transaction at most.
const EPHEMERAL_PER_TXN: usize = 100;
/// The bound on one transaction's request.
const PUSH_TIMEOUT: Duration = Duration::from_secs(15);
/// The first wait after a failed push; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait between two attempts (Synapse waits longer; a bridge that is back
/// should not wait minutes for its messages).
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// How long an idle task waits for a change before it looks again anyway.
const IDLE_WAIT: Duration = Duration::from_secs(30);

/// Records where each service's queue starts, before the server takes requests: a
/// service seen for the first time gets the events from now on (not the history from
/// before it was registered), and none made after start-up is missed.
///
/// # Errors
///
/// When storage fails.
pub(crate) fn init(store: &Storage, services: &Registrations) -> ApiResult<()> {
    for service in services.iter() {
        store.appservice_position(service.id())?;
    }
    Ok(())
}

/// Starts the push task of every service that has a URL.
pub(crate) fn start(app: &App) {
    for service in app.appservices().iter() {
        if service.registration().url().is_none() {
            continue;
        }
        let (app, id) = (app.clone(), service.id().to_owned());
        tokio::spawn(async move { run(app, id).await });
    }
}

/// Queues an ephemeral event (from the core's `typing_event` or `receipt_event`) for
/// the `services` that asked for ephemeral events, and wakes their tasks.
pub(crate) fn push_ephemeral(store: &mut Storage, app: &App, services: &[String], event: &Object) {
    if services.is_empty() {
        return;
    }
    let text = matrix_serverlib::json::to_string(&Value::Object(event.clone()));
    if let Err(error) = store.appservice_push_ephemeral(services, &text) {
        tracing::warn!("appservice ephemeral queue: {error}");
    }
    app.notify();
}

async fn run(app: App, id: String) {
    let mut changes = app.subscribe();
    let mut backoff = MIN_BACKOFF;
    loop {
        changes.borrow_and_update();
        let (handle, service_id) = (app.clone(), id.clone());
        let next = app
            .db(move |store| next_transaction(store, &handle, &service_id))
            .await;
        let pending = match next {
            Ok(Some(pending)) => pending,
            Ok(None) => {
                let _ = tokio::time::timeout(IDLE_WAIT, changes.changed()).await;
                continue;
            }
            Err(error) => {
                tracing::warn!(appservice = %id, "cannot build a transaction: {error}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        let Some(request) = transaction_request(&app, &id, pending.txn_id) else {
            return;
        };
        match outbound::send(&request, Some(pending.body.clone()), PUSH_TIMEOUT).await {
            Ok(answer) if (200..300).contains(&answer.status) => {
                let (service_id, txn_id) = (id.clone(), pending.txn_id);
                if let Err(error) = app
                    .db(move |store| store.appservice_delivered(&service_id, txn_id))
                    .await
                {
                    tracing::warn!(appservice = %id, "cannot mark txn {txn_id} sent: {error}");
                }
                tracing::debug!(appservice = %id, txn = pending.txn_id, "pushed");
                backoff = MIN_BACKOFF;
            }
            outcome => {
                let why = match outcome {
                    Ok(answer) => format!("answered {}", answer.status),
                    Err(error) => error.to_string(),
                };
                tracing::info!(
                    appservice = %id,
                    txn = pending.txn_id,
                    "push failed ({why}); again in {backoff:?}"
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// The request of transaction `txn_id` to service `id` (its body comes from storage).
fn transaction_request(app: &App, id: &str, txn_id: u64) -> Option<AsRequest> {
    let service = app.appservices().get(id)?;
    Some(Transaction::new(service.registration(), txn_id).to_request())
}

/// The transaction to send to `service_id` now: the one stored and not acknowledged,
/// or a new one built from the stream and the ephemeral queue and stored first; `None`
/// when there is nothing to send.
///
/// # Errors
///
/// When storage fails.
pub(crate) fn next_transaction(
    store: &mut Storage,
    app: &App,
    service_id: &str,
) -> ApiResult<Option<PendingTxn>> {
    if let Some(pending) = store.appservice_pending(service_id)? {
        return Ok(Some(pending));
    }
    let service = app
        .appservices()
        .get(service_id)
        .ok_or_else(|| ApiError::internal("appservice", format!("no service {service_id}")))?;
    let (last_txn, mut position) = store.appservice_position(service_id)?;
    let ephemeral = if service.registration().receive_ephemeral() {
        store.appservice_ephemeral(service_id, EPHEMERAL_PER_TXN)?
    } else {
        Vec::new()
    };
    loop {
        let batch = store.appservice_events_after(position, EVENTS_PER_TXN)?;
        let reached = batch.last().map_or(position, |event| event.stream_ordering);
        let mut rooms: HashMap<String, (Vec<String>, Vec<String>)> = HashMap::new();
        let mut events = Vec::new();
        for queued in &batch {
            let version = RoomVersion::from_id(&queued.room_version)
                .map_err(|e| ApiError::internal("room version", e))?;
            let pdu = parse_pdu(&queued.json, &version)?;
            if !rooms.contains_key(&queued.room_id) {
                let facts = room_facts(store, app, &queued.room_id)?;
                rooms.insert(queued.room_id.clone(), facts);
            }
            let Some((aliases, members)) = rooms.get(&queued.room_id) else {
                continue;
            };
            if service.is_interested_in_event(&pdu, &RoomSnapshot::new(aliases, members)) {
                events.push(pdu);
            }
        }
        if events.is_empty() && ephemeral.is_empty() {
            if batch.is_empty() {
                return Ok(None);
            }
            store.appservice_advance(service_id, reached)?;
            position = reached;
            continue;
        }
        let pending = build(service, last_txn, &events, &ephemeral)?;
        let upto = ephemeral.last().map(|(row, _)| *row);
        store.appservice_enqueue(service_id, &pending, reached, upto)?;
        return Ok(Some(pending));
    }
}

/// A new transaction after `last_txn` with `events` and `ephemeral`.
fn build(
    service: &ApplicationService,
    last_txn: u64,
    events: &[Pdu],
    ephemeral: &[(i64, String)],
) -> ApiResult<PendingTxn> {
    let mut counter = TransactionCounter::resume(last_txn);
    let txn_id = counter
        .next_id()
        .ok_or_else(|| ApiError::internal("appservice", "transaction IDs exhausted"))?;
    let now = crate::now_ms();
    let mut transaction = Transaction::new(service.registration(), txn_id);
    for pdu in events {
        transaction = transaction.event(&ClientEvent::new(pdu).now(now));
    }
    for (_, text) in ephemeral {
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(text)
            && let Value::Object(object) = Value::from(serde_json::Value::Object(map))
        {
            transaction = transaction.ephemeral(object);
        }
    }
    let body = transaction
        .to_request()
        .body_bytes()
        .ok_or_else(|| ApiError::internal("appservice", "transaction without a body"))?;
    Ok(PendingTxn { txn_id, body })
}

/// A room's local aliases and joined local members, for the interest rules.
fn room_facts(store: &Storage, app: &App, room_id: &str) -> ApiResult<(Vec<String>, Vec<String>)> {
    let aliases = store.room_aliases(room_id)?;
    let members = store
        .members_with(room_id, "join")?
        .into_iter()
        .filter(|user| {
            UserId::parse(user).is_ok_and(|user| user.server_name() == app.server_name())
        })
        .collect();
    Ok((aliases, members))
}

/// The services that get ephemeral events of `room_id` (the core's
/// `ephemeral_in_room`), by ID.
pub(crate) fn ephemeral_targets(store: &Storage, app: &App, room_id: &str) -> Vec<String> {
    let services = app.appservices();
    if services.is_empty() {
        return Vec::new();
    }
    let (Ok(room), Ok((aliases, members))) =
        (RoomId::parse(room_id), room_facts(store, app, room_id))
    else {
        return Vec::new();
    };
    services
        .ephemeral_in_room(&room, &RoomSnapshot::new(&aliases, &members))
        .into_iter()
        .map(|service| service.id().to_owned())
        .collect()
}
