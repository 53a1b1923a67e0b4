//! Incoming `/send` transactions and their response, and the outbound per-destination
//! queue (<https://spec.matrix.org/v1.16/server-server-api/#transactions>).
//!
//! Receiving: [`parse_transaction`] reads the body of `PUT /send/{txnId}` (bounded, at
//! most [`MAX_PDUS`] PDUs and [`MAX_EDUS`] EDUs, `origin` equal to the authenticated
//! origin), keeps each PDU as its raw object with its room, parses and origin-checks
//! each EDU (dropping the bad ones, never the transaction); the caller checks each PDU
//! and records the result in a [`TransactionResponse`], whose body is deterministic, so
//! a retried transaction ID gets the identical answer.
//!
//! Sending: an [`OutboundQueue`] per destination is a step machine: push PDUs and EDUs,
//! [`OutboundQueue::poll`] for the next [`Transaction`] to send (one in flight at a
//! time), report its [`Outcome`]; failures back off as Synapse does and a long outage
//! switches to catch-up (the latest PDU per room). [`OutboundQueue::snapshot`] and
//! [`OutboundQueue::restore`] carry the queue across restarts.
//!
//! ```
//! use matrix_serverlib::federation::txn::{self, Outcome, OutboundQueue, QueueStep, RetryPolicy};
//! use matrix_serverlib::id::{RoomId, ServerName};
//! use matrix_serverlib::json::{self, Object, Value};
//!
//! let us = ServerName::parse("us.example")?;
//! let peer = ServerName::parse("peer.example")?;
//! let mut queue = OutboundQueue::new(us.clone(), peer.clone(), RetryPolicy::synapse());
//! let room = RoomId::parse("!room:us.example")?;
//! let mut pdu = Object::new();
//! pdu.insert("room_id", Value::from(room.as_str()));
//! queue.push_room_pdu(room, pdu);
//!
//! let QueueStep::Send(sent) = queue.poll(1_000) else {
//!     return Err("nothing to send".into());
//! };
//! assert_eq!(sent.request.uri, "/_matrix/federation/v1/send/1");
//! assert_eq!(queue.poll(1_001), QueueStep::Idle); // one transaction in flight
//!
//! // The peer reads what we sent...
//! let body = json::to_vec(&Value::Object(sent.request.body.clone().unwrap_or_default()));
//! let incoming = txn::parse_transaction(&sent.txn_id, &body, &us)?;
//! assert_eq!(incoming.pdus.len(), 1);
//! // ...and answers; the queue is then empty.
//! let answer = txn::TransactionResponse::new().to_object();
//! assert_eq!(json::to_string(&Value::Object(answer)), r#"{"pdus":{}}"#);
//! queue.on_result(&sent.txn_id, Outcome::Sent { pdu_errors: Default::default() }, 1_500)?;
//! assert_eq!(queue.poll(1_600), QueueStep::Idle);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod incoming;
mod queue;
mod snapshot;

pub use incoming::{
    IncomingTransaction, MAX_EDUS, MAX_PDUS, MAX_RESPONSE_ENTRIES, MAX_TRANSACTION_BYTES,
    MAX_TXN_ID_LEN, TransactionPdu, TransactionResponse, TxnError, check_txn_id, parse_transaction,
};
pub use queue::{OutboundQueue, Outcome, QueueError, QueueStep, RetryPolicy, Transaction};

#[cfg(test)]
mod tests;
