//! The outbound per-destination transaction queue, as a step machine.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::event::Pdu;
use crate::federation::edu::Edu;
use crate::federation::outbound::{Method, OutboundRequest, Reply, RequestId};
use crate::federation::path;
use crate::id::{RoomId, ServerName, UserId};
use crate::json::{Object, Value};

use super::incoming::{MAX_EDUS, MAX_PDUS, TransactionPdu, TransactionResponse};

/// How long to wait after failures, and when to give up on sending every PDU.
///
/// The defaults follow Synapse (`synapse/util/retryutils.py` and its `federation`
/// settings): 10 minutes after the first failure, doubling after each further one,
/// at most 7 days. Synapse multiplies each step by a random factor in [0.8, 1.4); the
/// core has no randomness, so the intervals here are exact and a caller who wants
/// jitter adds it to [`QueueStep::WaitUntil`].
///
/// Catch-up starts after the destination has been failing for
/// [`RetryPolicy::catch_up_after_ms`] (1 hour: Synapse drops its queued EDUs and
/// catches up once its back-off passes an hour) or when more than
/// [`RetryPolicy::max_pending_pdus`] PDUs wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// The wait after the first failure, in milliseconds.
    pub min_interval_ms: i64,
    /// The factor the wait grows by after each further failure.
    pub multiplier: i64,
    /// The longest wait, in milliseconds.
    pub max_interval_ms: i64,
    /// How long the destination may fail before catch-up, in milliseconds.
    pub catch_up_after_ms: i64,
    /// How many PDUs may wait before catch-up.
    pub max_pending_pdus: usize,
}

impl RetryPolicy {
    /// Synapse's defaults: 10 min, ×2, at most 7 days; catch-up after 1 hour of
    /// failures or past 1,000 waiting PDUs.
    #[must_use]
    pub const fn synapse() -> Self {
        Self {
            min_interval_ms: 10 * 60 * 1000,
            multiplier: 2,
            max_interval_ms: 7 * 24 * 60 * 60 * 1000,
            catch_up_after_ms: 60 * 60 * 1000,
            max_pending_pdus: 1_000,
        }
    }

    /// Sets the intervals: the first wait, the growth factor (at least 1) and the
    /// longest wait.
    #[must_use]
    pub const fn with_intervals(mut self, min_ms: i64, multiplier: i64, max_ms: i64) -> Self {
        self.min_interval_ms = min_ms;
        self.multiplier = if multiplier < 1 { 1 } else { multiplier };
        self.max_interval_ms = max_ms;
        self
    }

    /// Sets when catch-up starts: after failing for `after_ms`, or past `max_pdus`
    /// waiting PDUs.
    #[must_use]
    pub const fn with_catch_up(mut self, after_ms: i64, max_pdus: usize) -> Self {
        self.catch_up_after_ms = after_ms;
        self.max_pending_pdus = max_pdus;
        self
    }

    /// The wait after a failure, given the wait before it (0 when none).
    #[must_use]
    pub fn next_interval(&self, current_ms: i64) -> i64 {
        let next = if current_ms <= 0 {
            self.min_interval_ms
        } else {
            current_ms.saturating_mul(self.multiplier)
        };
        next.min(self.max_interval_ms).max(0)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::synapse()
    }
}

/// What the queue wants done next.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum QueueStep {
    /// Send this transaction, then call [`OutboundQueue::on_result`].
    Send(Transaction),
    /// Nothing to do before this time (ms since the epoch): the destination is in
    /// back-off.
    WaitUntil(i64),
    /// Nothing to do until something is pushed or a result comes back.
    Idle,
}

/// One transaction to send.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Transaction {
    /// The transaction ID: the decimal [`Transaction::number`].
    pub txn_id: String,
    /// The transaction's number, strictly increasing from one transaction to the next.
    pub number: u64,
    /// `PUT /_matrix/federation/v1/send/{txn_id}` with its body; its [`RequestId`] is
    /// the transaction's number.
    pub request: OutboundRequest,
}

/// What became of a sent transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The destination answered 200: every PDU and EDU is delivered. `pdu_errors` are
    /// the PDUs it refused (event ID → error), for the caller's log: a refusal is the
    /// peer's final word, so they are not sent again.
    Sent {
        /// The PDUs the destination refused.
        pdu_errors: BTreeMap<String, String>,
    },
    /// No 200 answer: the transaction is retried later under the same ID.
    Failed,
}

impl Outcome {
    /// The outcome a [`Reply`] means: 200 with a readable body is [`Outcome::Sent`];
    /// anything else, an unreadable 200 included, is [`Outcome::Failed`]. Synapse's
    /// sender does not back off on most 4xx answers; here every failure backs off, so
    /// a peer that always refuses does not get the transaction in a tight loop.
    #[must_use]
    pub fn from_reply(reply: &Reply) -> Self {
        match reply {
            Reply::Response { status: 200, body } => match TransactionResponse::from_slice(body) {
                Ok(response) => Self::Sent {
                    pdu_errors: response
                        .errors()
                        .map(|(id, error)| (id.to_owned(), error.to_owned()))
                        .collect(),
                },
                Err(_) => Self::Failed,
            },
            _ => Self::Failed,
        }
    }
}

/// Misuse of the queue by its caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// A result for a transaction that is not the one in flight.
    #[error("result for transaction {txn_id}, but the one in flight is {in_flight:?}")]
    UnknownTransaction {
        /// The ID the result named.
        txn_id: String,
        /// The ID in flight, if any.
        in_flight: Option<String>,
    },
    /// A snapshot that does not read back.
    #[error("bad queue snapshot: {field} is missing or malformed")]
    BadSnapshot {
        /// The field at fault.
        field: &'static str,
    },
}

/// The transaction out (or to be resent): its number, timestamp and contents.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct InFlight {
    pub(super) number: u64,
    pub(super) origin_server_ts: i64,
    pub(super) pdus: Vec<TransactionPdu>,
    pub(super) edus: Vec<Edu>,
    /// Handed to the caller and not yet answered.
    pub(super) sent: bool,
}

/// The queue of PDUs and EDUs for one destination: at most one transaction in flight,
/// back-off after failures, catch-up after long ones.
///
/// The queue is pure: the caller sends what [`OutboundQueue::poll`] returns, reports
/// the outcome with [`OutboundQueue::on_result`], and persists
/// [`OutboundQueue::snapshot`] so that a restart resends the same transaction under
/// the same ID. Nothing pushed is dropped before a [`Outcome::Sent`] for the
/// transaction carrying it, except in catch-up, where a room's PDU gives way to a
/// later PDU of the same room (the destination fetches the gap with
/// `/get_missing_events`, as after Synapse's catch-up), typing notifications are
/// dropped, and only the latest presence per user and receipt per user, room, type
/// and thread are kept.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundQueue {
    pub(super) origin: ServerName,
    pub(super) destination: ServerName,
    pub(super) policy: RetryPolicy,
    pub(super) next_number: u64,
    pub(super) pending_pdus: VecDeque<TransactionPdu>,
    pub(super) pending_edus: VecDeque<Edu>,
    pub(super) in_flight: Option<InFlight>,
    pub(super) retry_interval_ms: i64,
    pub(super) retry_at_ms: i64,
    pub(super) failing_since_ms: Option<i64>,
    pub(super) catching_up: bool,
}

impl OutboundQueue {
    /// An empty queue from `origin` to `destination`, numbering transactions from 1.
    /// Use [`OutboundQueue::with_next_txn_number`] or a snapshot to carry on from an
    /// earlier run.
    #[must_use]
    pub fn new(origin: ServerName, destination: ServerName, policy: RetryPolicy) -> Self {
        Self {
            origin,
            destination,
            policy,
            next_number: 1,
            pending_pdus: VecDeque::new(),
            pending_edus: VecDeque::new(),
            in_flight: None,
            retry_interval_ms: 0,
            retry_at_ms: i64::MIN,
            failing_since_ms: None,
            catching_up: false,
        }
    }

    /// Numbers the next transaction `number`. A destination de-duplicates on the
    /// transaction ID, so a queue that lost its snapshot must not reuse numbers:
    /// Synapse seeds its counter with the clock at start-up, and passing `now_ms`
    /// does the same.
    #[must_use]
    pub fn with_next_txn_number(mut self, number: u64) -> Self {
        self.next_number = number;
        self
    }

    /// The destination.
    #[must_use]
    pub fn destination(&self) -> &ServerName {
        &self.destination
    }

    /// The number the next new transaction gets.
    #[must_use]
    pub fn next_txn_number(&self) -> u64 {
        self.next_number
    }

    /// The ID of the transaction in flight or waiting to be resent.
    #[must_use]
    pub fn in_flight_txn_id(&self) -> Option<String> {
        self.in_flight.as_ref().map(|txn| txn.number.to_string())
    }

    /// How many PDUs wait, the in-flight transaction's included.
    #[must_use]
    pub fn pending_pdus(&self) -> usize {
        let in_flight = self.in_flight.as_ref().map_or(0, |txn| txn.pdus.len());
        self.pending_pdus.len().saturating_add(in_flight)
    }

    /// How many EDUs wait, the in-flight transaction's included.
    #[must_use]
    pub fn pending_edus(&self) -> usize {
        let in_flight = self.in_flight.as_ref().map_or(0, |txn| txn.edus.len());
        self.pending_edus.len().saturating_add(in_flight)
    }

    /// True while catching up.
    #[must_use]
    pub fn is_catching_up(&self) -> bool {
        self.catching_up
    }

    /// The current back-off interval in milliseconds (0 when the destination is up).
    #[must_use]
    pub fn retry_interval_ms(&self) -> i64 {
        self.retry_interval_ms
    }

    /// Queues a PDU.
    pub fn push_pdu(&mut self, pdu: &Pdu) {
        self.push_room_pdu(pdu.room_id().clone(), pdu.as_object().clone());
    }

    /// Queues a PDU given as its room and raw object.
    pub fn push_room_pdu(&mut self, room_id: RoomId, object: Object) {
        if self.catching_up {
            self.pending_pdus.retain(|pdu| pdu.room_id != room_id);
        }
        self.pending_pdus
            .push_back(TransactionPdu::new(room_id, object));
        if self.pending_pdus.len() > self.policy.max_pending_pdus {
            self.start_catching_up();
        }
    }

    /// Queues an EDU. A waiting typing notification of the same user and room, and
    /// waiting presence of the same user, give way to the new one (Synapse keys these
    /// EDUs the same way), as do waiting receipts of the same room, type, user and
    /// thread. In catch-up a typing notification is dropped at once: it would be stale
    /// by the time it arrives.
    pub fn push_edu(&mut self, edu: Edu) {
        if self.catching_up && matches!(edu, Edu::Typing { .. }) {
            return;
        }
        let keyed = matches!(edu, Edu::Typing { .. } | Edu::Presence(_) | Edu::Receipt(_));
        self.pending_edus.push_back(edu);
        if keyed {
            compact_edus(&mut self.pending_edus, self.catching_up);
        }
    }

    /// What to do next at `now_ms`: send a transaction (the one in flight again after a
    /// failure or a restore, else a new one of at most 50 PDUs and 100 EDUs), wait out
    /// the back-off, or nothing.
    #[must_use]
    pub fn poll(&mut self, now_ms: i64) -> QueueStep {
        if let Some(txn) = &self.in_flight {
            if txn.sent {
                return QueueStep::Idle;
            }
            if now_ms < self.retry_at_ms {
                return QueueStep::WaitUntil(self.retry_at_ms);
            }
        } else {
            if self.pending_pdus.is_empty() && self.pending_edus.is_empty() {
                return QueueStep::Idle;
            }
            if now_ms < self.retry_at_ms {
                return QueueStep::WaitUntil(self.retry_at_ms);
            }
            self.start_transaction(now_ms);
        }
        if let Some(txn) = &mut self.in_flight {
            txn.sent = true;
        }
        match &self.in_flight {
            Some(txn) => QueueStep::Send(self.build(txn)),
            None => QueueStep::Idle,
        }
    }

    /// Takes the outcome of transaction `txn_id` at `now_ms`. [`Outcome::Sent`] ends the
    /// transaction, clears the back-off and ends catch-up; [`Outcome::Failed`] keeps it
    /// for a resend under the same ID after the next back-off interval, and may start
    /// catch-up.
    ///
    /// # Errors
    ///
    /// [`QueueError::UnknownTransaction`] when `txn_id` is not the transaction in
    /// flight; the queue is unchanged.
    pub fn on_result(
        &mut self,
        txn_id: &str,
        outcome: Outcome,
        now_ms: i64,
    ) -> Result<(), QueueError> {
        let current = self.in_flight_txn_id();
        if current.as_deref() != Some(txn_id) {
            return Err(QueueError::UnknownTransaction {
                txn_id: txn_id.to_owned(),
                in_flight: current,
            });
        }
        match outcome {
            Outcome::Sent { .. } => {
                self.in_flight = None;
                self.catching_up = false;
                self.reset_backoff();
            }
            Outcome::Failed => {
                if let Some(txn) = &mut self.in_flight {
                    txn.sent = false;
                }
                self.retry_interval_ms = self.policy.next_interval(self.retry_interval_ms);
                self.retry_at_ms = now_ms.saturating_add(self.retry_interval_ms);
                let since = *self.failing_since_ms.get_or_insert(now_ms);
                if now_ms.saturating_sub(since) >= self.policy.catch_up_after_ms {
                    self.start_catching_up();
                }
            }
        }
        Ok(())
    }

    /// The destination has shown at `now_ms` that it is up (it sent us an authenticated
    /// request): the back-off is cleared, so a waiting transaction is due from `now_ms`
    /// on (Synapse resets its retry timings the same way). Catch-up, if on, lasts until
    /// the next delivered transaction.
    pub fn on_remote_up(&mut self, now_ms: i64) {
        let due = self.retry_at_ms.min(now_ms);
        self.reset_backoff();
        self.retry_at_ms = due;
    }

    fn reset_backoff(&mut self) {
        self.retry_interval_ms = 0;
        self.retry_at_ms = i64::MIN;
        self.failing_since_ms = None;
    }

    fn start_transaction(&mut self, now_ms: i64) {
        let pdu_count = self.pending_pdus.len().min(MAX_PDUS);
        let edu_count = self.pending_edus.len().min(MAX_EDUS);
        let number = self.next_number;
        self.next_number = self.next_number.saturating_add(1);
        self.in_flight = Some(InFlight {
            number,
            origin_server_ts: now_ms,
            pdus: self.pending_pdus.drain(..pdu_count).collect(),
            edus: self.pending_edus.drain(..edu_count).collect(),
            sent: false,
        });
    }

    fn build(&self, txn: &InFlight) -> Transaction {
        let txn_id = txn.number.to_string();
        let pdus = txn
            .pdus
            .iter()
            .map(|pdu| Value::Object(pdu.object.clone()))
            .collect::<Vec<_>>();
        let edus = txn
            .edus
            .iter()
            .map(|edu| Value::Object(edu.to_object()))
            .collect::<Vec<_>>();
        let body = Object::from_entries(vec![
            ("edus".into(), Value::Array(edus)),
            ("origin".into(), Value::from(self.origin.as_str())),
            ("origin_server_ts".into(), Value::from(txn.origin_server_ts)),
            ("pdus".into(), Value::Array(pdus)),
        ]);
        let request = OutboundRequest::new(
            RequestId::new(txn.number),
            self.destination.clone(),
            Method::Put,
            path::send(&txn_id),
            Some(body),
        );
        Transaction {
            txn_id,
            number: txn.number,
            request,
        }
    }

    /// Enters catch-up: a failed transaction that is not out on the wire goes back to
    /// the head of the queue (its ID is retired; the next transaction gets a new one),
    /// then the queue keeps only the latest PDU per room and the EDUs worth keeping.
    fn start_catching_up(&mut self) {
        self.catching_up = true;
        if let Some(txn) = self.in_flight.take_if(|txn| !txn.sent) {
            for pdu in txn.pdus.into_iter().rev() {
                self.pending_pdus.push_front(pdu);
            }
            for edu in txn.edus.into_iter().rev() {
                self.pending_edus.push_front(edu);
            }
        }
        compact_pdus(&mut self.pending_pdus);
        compact_edus(&mut self.pending_edus, true);
    }
}

/// Keeps the latest PDU of each room, in queue order.
fn compact_pdus(pdus: &mut VecDeque<TransactionPdu>) {
    let mut seen = BTreeSet::new();
    let mut kept: Vec<TransactionPdu> = pdus
        .drain(..)
        .rev()
        .filter(|pdu| seen.insert(pdu.room_id.clone()))
        .collect();
    kept.reverse();
    pdus.extend(kept);
}

/// Keeps the latest typing notification of each (room, user), dropping them all when
/// `drop_typing`; the latest presence of each user; the latest receipt of each (room,
/// type, user, thread). Other EDUs are kept as they are.
fn compact_edus(edus: &mut VecDeque<Edu>, drop_typing: bool) {
    let mut typing_seen: BTreeSet<(RoomId, UserId)> = BTreeSet::new();
    let mut presence_seen: BTreeSet<UserId> = BTreeSet::new();
    let mut receipt_seen: BTreeSet<(RoomId, String, UserId, Option<String>)> = BTreeSet::new();
    let mut kept = Vec::with_capacity(edus.len());
    for mut edu in edus.drain(..).rev() {
        let keep = match &mut edu {
            Edu::Typing {
                room_id, user_id, ..
            } => !drop_typing && typing_seen.insert((room_id.clone(), user_id.clone())),
            Edu::Presence(updates) => {
                updates.reverse();
                updates.retain(|update| presence_seen.insert(update.user_id.clone()));
                updates.reverse();
                !updates.is_empty()
            }
            Edu::Receipt(receipts) => {
                receipts.retain(|room, kind, user, receipt| {
                    let key = (
                        room.clone(),
                        kind.to_owned(),
                        user.clone(),
                        receipt.thread_id().map(str::to_owned),
                    );
                    receipt_seen.insert(key)
                });
                !receipts.is_empty()
            }
            _ => true,
        };
        if keep {
            kept.push(edu);
        }
    }
    kept.reverse();
    edus.extend(kept);
}
