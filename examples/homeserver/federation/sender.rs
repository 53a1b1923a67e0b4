//! Outbound delivery of this server's events and EDUs, one task per destination,
//! driven by the core's `OutboundQueue` (one transaction in flight, back-off, catch-up).
//!
//! Events wait in the SQLite `outbox` table until the destination acknowledged the
//! transaction that carried them, so a restart resends whatever was not delivered.
//! EDUs (typing, receipts) are ephemeral and live in memory only.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use matrix_serverlib::crypto;
use matrix_serverlib::event::Pdu;
use matrix_serverlib::federation::edu::Edu;
use matrix_serverlib::federation::outbound::{Method, Reply};
use matrix_serverlib::federation::txn::{OutboundQueue, Outcome, QueueStep, RetryPolicy};
use matrix_serverlib::id::ServerName;
use matrix_serverlib::json::Value;
use matrix_serverlib::room_version::RoomVersion;

use crate::app::App;

/// Outbox rows loaded into a destination's queue at a time.
const LOAD_BATCH: usize = 200;

/// The per-destination senders.
#[derive(Clone, Default)]
pub(crate) struct Sender {
    destinations: Arc<Mutex<HashMap<String, Arc<Destination>>>>,
}

/// What a destination's task is told from outside.
#[derive(Default)]
struct Destination {
    wake: Notify,
    edus: Mutex<Vec<Edu>>,
    remote_up: Mutex<bool>,
}

impl Sender {
    /// Makes sure `destination` has a task, and wakes it (new outbox rows to send).
    pub(crate) fn wake(&self, app: &App, destination: &str) {
        self.destination(app, destination).wake.notify_one();
    }

    /// Queues an EDU for `destination`.
    pub(crate) fn push_edu(&self, app: &App, destination: &str, edu: Edu) {
        let handle = self.destination(app, destination);
        lock(&handle.edus).push(edu);
        handle.wake.notify_one();
    }

    /// `origin` just sent us an authenticated request: it is up, retry it at once.
    pub(crate) fn remote_up(&self, origin: &str) {
        let handle = lock(&self.destinations).get(origin).cloned();
        if let Some(handle) = handle {
            *lock(&handle.remote_up) = true;
            handle.wake.notify_one();
        }
    }

    fn destination(&self, app: &App, destination: &str) -> Arc<Destination> {
        let mut destinations = lock(&self.destinations);
        if let Some(handle) = destinations.get(destination) {
            return Arc::clone(handle);
        }
        let handle = Arc::new(Destination::default());
        destinations.insert(destination.to_owned(), Arc::clone(&handle));
        if let Ok(name) = ServerName::parse(destination) {
            tokio::spawn(run(app.clone(), name, Arc::clone(&handle)));
        }
        handle
    }
}

/// Sends `edu` to every other server with members joined to `room_id` (nothing when
/// federation is off).
pub(crate) async fn broadcast_edu(app: &App, room_id: &str, edu: Edu) {
    let Some(sender) = app.sender().cloned() else {
        return;
    };
    let room = room_id.to_owned();
    let ours = app.server_name().to_owned();
    let servers = app
        .db(move |store| {
            let mut servers: Vec<String> = store
                .members_with(&room, "join")?
                .iter()
                .filter_map(|user| matrix_serverlib::id::UserId::parse(user).ok())
                .map(|user| user.server_name().to_owned())
                .filter(|server| *server != ours)
                .collect();
            servers.sort();
            servers.dedup();
            Ok(servers)
        })
        .await
        .unwrap_or_default();
    for server in servers {
        sender.push_edu(app, &server, edu.clone());
    }
}

/// How the example retries a destination: after 2 s, doubling up to a minute (shorter
/// than Synapse's ten minutes, so that a peer back from a restart is caught up soon;
/// an authenticated request from it resets the wait anyway).
const RETRY: RetryPolicy = RetryPolicy::synapse().with_intervals(2_000, 2, 60_000);

/// A destination's task: load queued events, send transactions, record deliveries.
async fn run(app: App, destination: ServerName, handle: Arc<Destination>) {
    let Some(peers) = app.peers().cloned() else {
        return;
    };
    let Ok(origin) = ServerName::parse(app.server_name()) else {
        return;
    };
    let now = crate::now_ms();
    let mut queue = OutboundQueue::new(origin, destination.clone(), RETRY)
        .with_next_txn_number(now.unsigned_abs());
    let mut loaded_up_to = 0_i64;
    let mut versions: BTreeMap<String, RoomVersion> = BTreeMap::new();
    loop {
        loaded_up_to = load(&app, &destination, loaded_up_to, &mut queue, &mut versions).await;
        for edu in std::mem::take(&mut *lock(&handle.edus)) {
            queue.push_edu(edu);
        }
        if std::mem::take(&mut *lock(&handle.remote_up)) {
            queue.on_remote_up(crate::now_ms());
        }
        match queue.poll(crate::now_ms()) {
            QueueStep::Send(transaction) => {
                let body = transaction.request.body.clone();
                let reply = match peers
                    .request_raw(
                        destination.as_str(),
                        Method::Put,
                        &transaction.request.uri,
                        body.as_ref(),
                    )
                    .await
                {
                    Ok((status, bytes)) => Reply::response(status, bytes),
                    Err(error) => {
                        tracing::warn!("sending to {destination}: {error}");
                        Reply::Failed
                    }
                };
                let outcome = Outcome::from_reply(&reply);
                if let Outcome::Sent { .. } = &outcome {
                    let delivered = event_ids(body.as_ref(), &versions);
                    let name = destination.as_str().to_owned();
                    if let Err(error) = app
                        .db(move |store| store.outbox_delivered(&name, &delivered))
                        .await
                    {
                        tracing::warn!("outbox of {destination}: {error:?}");
                    }
                }
                if let Err(error) = queue.on_result(&transaction.txn_id, outcome, crate::now_ms()) {
                    tracing::warn!("queue of {destination}: {error}");
                }
            }
            QueueStep::WaitUntil(until) => {
                let wait = u64::try_from(until.saturating_sub(crate::now_ms())).unwrap_or(0);
                let _ =
                    tokio::time::timeout(Duration::from_millis(wait), handle.wake.notified()).await;
            }
            _ => handle.wake.notified().await,
        }
    }
}

/// Pushes the outbox rows after `after` into the queue; returns the last row loaded.
async fn load(
    app: &App,
    destination: &ServerName,
    after: i64,
    queue: &mut OutboundQueue,
    versions: &mut BTreeMap<String, RoomVersion>,
) -> i64 {
    let name = destination.as_str().to_owned();
    let rows = match app
        .db(move |store| store.outbox_after(&name, after, LOAD_BATCH))
        .await
    {
        Ok(rows) => rows,
        Err(error) => {
            tracing::warn!("outbox of {destination}: {error:?}");
            return after;
        }
    };
    let mut last = after;
    for (row, event, version) in rows {
        last = row;
        let Ok(version) = RoomVersion::from_id(&version) else {
            continue;
        };
        match Pdu::from_bytes(event.json.as_bytes(), &version) {
            Ok(pdu) => {
                versions.insert(event.room_id.clone(), version);
                queue.push_pdu(&pdu);
            }
            Err(error) => tracing::warn!("stored event {}: {error}", event.event_id),
        }
    }
    last
}

/// The event IDs of the PDUs in a transaction body.
fn event_ids(
    body: Option<&matrix_serverlib::json::Object>,
    versions: &BTreeMap<String, RoomVersion>,
) -> Vec<String> {
    let Some(pdus) = body
        .and_then(|body| body.get("pdus"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    pdus.iter()
        .filter_map(Value::as_object)
        .filter_map(|object| {
            let room = object.get("room_id").and_then(Value::as_str)?;
            let version = versions.get(room)?;
            crypto::event_id(object, version)
                .ok()
                .map(|id| id.as_str().to_owned())
        })
        .collect()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
