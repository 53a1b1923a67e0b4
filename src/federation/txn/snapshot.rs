//! Persisting an [`OutboundQueue`] as JSON and rebuilding it after a restart.

use std::collections::VecDeque;

use crate::federation::edu::{self, Edu};
use crate::id::{RoomId, ServerName};
use crate::json::{Object, Value};

use super::incoming::TransactionPdu;
use super::queue::{InFlight, OutboundQueue, QueueError, RetryPolicy};

impl OutboundQueue {
    /// Everything the queue holds, as a JSON object for the caller to store: the next
    /// transaction number, the transaction in flight (number, timestamp, contents), the
    /// waiting PDUs and EDUs, the back-off state and the catch-up flag. Store it after
    /// every push and every result; nothing is lost between two snapshots but what
    /// came in between.
    #[must_use]
    pub fn snapshot(&self) -> Object {
        let mut object = Object::new();
        object.insert("next_txn_number", Value::from(self.next_number));
        object.insert("retry_interval_ms", Value::from(self.retry_interval_ms));
        if self.retry_at_ms != i64::MIN {
            object.insert("retry_at_ms", Value::from(self.retry_at_ms));
        }
        if let Some(since) = self.failing_since_ms {
            object.insert("failing_since_ms", Value::from(since));
        }
        object.insert("catching_up", Value::from(self.catching_up));
        if let Some(txn) = &self.in_flight {
            let mut in_flight = Object::new();
            in_flight.insert("number", Value::from(txn.number));
            in_flight.insert("origin_server_ts", Value::from(txn.origin_server_ts));
            in_flight.insert("pdus", pdus_value(txn.pdus.iter()));
            in_flight.insert("edus", edus_value(txn.edus.iter()));
            object.insert("in_flight", Value::Object(in_flight));
        }
        object.insert("pdus", pdus_value(self.pending_pdus.iter()));
        object.insert("edus", edus_value(self.pending_edus.iter()));
        object
    }

    /// Rebuilds a queue from a [`OutboundQueue::snapshot`]. A transaction that was in
    /// flight is sent again, under the same ID and with the same body, at the first
    /// poll after its back-off.
    ///
    /// # Errors
    ///
    /// [`QueueError::BadSnapshot`] naming the first field that does not read back.
    pub fn restore(
        origin: ServerName,
        destination: ServerName,
        policy: RetryPolicy,
        snapshot: &Object,
    ) -> Result<Self, QueueError> {
        let mut queue = Self::new(origin, destination, policy);
        queue.next_number = number(snapshot, "next_txn_number")?;
        queue.retry_interval_ms = integer(snapshot, "retry_interval_ms")?;
        queue.retry_at_ms = optional_integer(snapshot, "retry_at_ms")?.unwrap_or(i64::MIN);
        queue.failing_since_ms = optional_integer(snapshot, "failing_since_ms")?;
        queue.catching_up = snapshot.get("catching_up").and_then(Value::as_bool).ok_or(
            QueueError::BadSnapshot {
                field: "catching_up",
            },
        )?;
        if let Some(txn) = snapshot.get("in_flight") {
            let txn = txn
                .as_object()
                .ok_or(QueueError::BadSnapshot { field: "in_flight" })?;
            queue.in_flight = Some(InFlight {
                number: number(txn, "number")?,
                origin_server_ts: integer(txn, "origin_server_ts")?,
                pdus: read_pdus(txn)?.into(),
                edus: read_edus(txn)?.into(),
                sent: false,
            });
        }
        queue.pending_pdus = read_pdus(snapshot)?;
        queue.pending_edus = read_edus(snapshot)?;
        Ok(queue)
    }
}

fn pdus_value<'a>(pdus: impl Iterator<Item = &'a TransactionPdu>) -> Value {
    Value::Array(
        pdus.map(|pdu| {
            Value::Object(Object::from_entries(vec![
                ("pdu".into(), Value::Object(pdu.object.clone())),
                ("room_id".into(), Value::from(pdu.room_id.as_str())),
            ]))
        })
        .collect(),
    )
}

fn edus_value<'a>(edus: impl Iterator<Item = &'a Edu>) -> Value {
    Value::Array(edus.map(|edu| Value::Object(edu.to_object())).collect())
}

fn read_pdus(object: &Object) -> Result<VecDeque<TransactionPdu>, QueueError> {
    const BAD: QueueError = QueueError::BadSnapshot { field: "pdus" };
    let entries = object.get("pdus").and_then(Value::as_array).ok_or(BAD)?;
    entries
        .iter()
        .map(|entry| {
            let room_id = entry
                .get("room_id")
                .and_then(Value::as_str)
                .and_then(|room| RoomId::parse(room).ok())
                .ok_or(BAD)?;
            let pdu = entry.get("pdu").and_then(Value::as_object).ok_or(BAD)?;
            Ok(TransactionPdu::new(room_id, pdu.clone()))
        })
        .collect()
}

fn read_edus(object: &Object) -> Result<VecDeque<Edu>, QueueError> {
    const BAD: QueueError = QueueError::BadSnapshot { field: "edus" };
    let entries = object.get("edus").and_then(Value::as_array).ok_or(BAD)?;
    entries
        .iter()
        .map(|entry| {
            let entry = entry.as_object().ok_or(BAD)?;
            // An EDU the caller built as `Unknown` under a known type with content of
            // another shape does not parse as that type; it comes back as it went in.
            edu::parse_edu(entry).or_else(|_| {
                let edu_type = entry.get("edu_type").and_then(Value::as_str).ok_or(BAD)?;
                let content = entry.get("content").and_then(Value::as_object).ok_or(BAD)?;
                Ok(Edu::Unknown {
                    edu_type: edu_type.to_owned(),
                    content: content.clone(),
                })
            })
        })
        .collect()
}

fn integer(object: &Object, field: &'static str) -> Result<i64, QueueError> {
    optional_integer(object, field)?.ok_or(QueueError::BadSnapshot { field })
}

fn optional_integer(object: &Object, field: &'static str) -> Result<Option<i64>, QueueError> {
    object
        .get(field)
        .map(|value| value.as_i64().ok_or(QueueError::BadSnapshot { field }))
        .transpose()
}

fn number(object: &Object, field: &'static str) -> Result<u64, QueueError> {
    u64::try_from(integer(object, field)?).map_err(|_| QueueError::BadSnapshot { field })
}
