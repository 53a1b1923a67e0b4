//! The queue of each application service, as stored: how far along the event stream
//! the service's transactions have got, the last transaction ID issued, the
//! transaction built but not yet acknowledged (resent with the same ID and the same
//! bytes until the service answers 200), and the ephemeral events (typing, receipts)
//! waiting for the next transaction.
//!
//! A transaction is written, with the stream position it reaches and the ephemeral
//! events it takes, in one SQLite transaction before it is first sent, and deleted
//! only once the service acknowledged it: a kill -9 at any moment leaves either the
//! pending transaction (resent as it was) or the events still after the position
//! (put in a new transaction), never both and never neither.

use rusqlite::{Connection, OptionalExtension, params};

use super::Storage;
use crate::error::ApiResult;

/// The tables, created idempotently.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS appservice_position (
    service_id TEXT PRIMARY KEY,
    last_txn_id INTEGER NOT NULL,
    stream_ordering INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS appservice_txns (
    service_id TEXT NOT NULL,
    txn_id INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (service_id, txn_id)
);
CREATE TABLE IF NOT EXISTS appservice_ephemeral (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id TEXT NOT NULL,
    event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS appservice_ephemeral_service ON appservice_ephemeral(service_id, id);
";

/// Creates the tables.
pub(super) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)
}

/// A timeline event after a service's position: its stream ordering, room, room
/// version and PDU JSON.
#[derive(Debug, Clone)]
pub(crate) struct QueuedEvent {
    /// Its position in the event stream.
    pub(crate) stream_ordering: i64,
    /// Its room.
    pub(crate) room_id: String,
    /// The room's version.
    pub(crate) room_version: String,
    /// The PDU as stored.
    pub(crate) json: String,
}

/// A transaction to send: its ID and the exact body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingTxn {
    /// The transaction ID.
    pub(crate) txn_id: u64,
    /// The JSON body, byte for byte as first built.
    pub(crate) body: Vec<u8>,
}

impl Storage {
    /// The last transaction ID issued to `service_id` and the stream ordering its
    /// transactions have reached. A service seen for the first time starts at the
    /// stream's end (it is not sent the history from before it was registered).
    pub(crate) fn appservice_position(&self, service_id: &str) -> ApiResult<(u64, i64)> {
        let max = self.max_stream()?;
        self.conn.execute(
            "INSERT OR IGNORE INTO appservice_position (service_id, last_txn_id, \
             stream_ordering) VALUES (?1, 0, ?2)",
            params![service_id, max],
        )?;
        let (last, stream): (i64, i64) = self.conn.query_row(
            "SELECT last_txn_id, stream_ordering FROM appservice_position WHERE service_id = ?1",
            [service_id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        Ok((u64::try_from(last).unwrap_or(0), stream))
    }

    /// The oldest transaction built for `service_id` and not yet acknowledged.
    pub(crate) fn appservice_pending(&self, service_id: &str) -> ApiResult<Option<PendingTxn>> {
        let row: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT txn_id, body FROM appservice_txns WHERE service_id = ?1 \
                 ORDER BY txn_id LIMIT 1",
                [service_id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        Ok(row.map(|(txn_id, body)| PendingTxn {
            txn_id: u64::try_from(txn_id).unwrap_or(0),
            body,
        }))
    }

    /// Up to `limit` timeline events after stream ordering `after`, oldest first.
    pub(crate) fn appservice_events_after(
        &self,
        after: i64,
        limit: usize,
    ) -> ApiResult<Vec<QueuedEvent>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT e.stream_ordering, e.room_id, r.room_version, e.json FROM events e \
             JOIN rooms r ON r.room_id = e.room_id \
             WHERE e.stream_ordering > ?1 AND e.status = 'timeline' \
             ORDER BY e.stream_ordering LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = statement.query_map(params![after, limit], |row| {
            Ok(QueuedEvent {
                stream_ordering: row.get(0)?,
                room_id: row.get(1)?,
                room_version: row.get(2)?,
                json: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The ephemeral events waiting for `service_id`, oldest first, at most `limit`:
    /// (row, event JSON).
    pub(crate) fn appservice_ephemeral(
        &self,
        service_id: &str,
        limit: usize,
    ) -> ApiResult<Vec<(i64, String)>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT id, event FROM appservice_ephemeral WHERE service_id = ?1 ORDER BY id \
             LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = statement.query_map(params![service_id, limit], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Queues an ephemeral event (JSON) for each of `service_ids`.
    pub(crate) fn appservice_push_ephemeral(
        &mut self,
        service_ids: &[String],
        event: &str,
    ) -> ApiResult<()> {
        let tx = self.conn.transaction()?;
        for service_id in service_ids {
            tx.execute(
                "INSERT INTO appservice_ephemeral (service_id, event) VALUES (?1, ?2)",
                params![service_id, event],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Moves `service_id`'s position to `stream_ordering` without a transaction (the
    /// events up to there interest it not).
    pub(crate) fn appservice_advance(
        &mut self,
        service_id: &str,
        stream_ordering: i64,
    ) -> ApiResult<()> {
        self.conn.execute(
            "UPDATE appservice_position SET stream_ordering = ?2 WHERE service_id = ?1",
            params![service_id, stream_ordering],
        )?;
        Ok(())
    }

    /// Stores a new transaction for `service_id` with the position it reaches, and
    /// takes the ephemeral events up to row `ephemeral_upto` off the queue, all in one
    /// SQLite transaction.
    pub(crate) fn appservice_enqueue(
        &mut self,
        service_id: &str,
        txn: &PendingTxn,
        stream_ordering: i64,
        ephemeral_upto: Option<i64>,
    ) -> ApiResult<()> {
        let txn_id = i64::try_from(txn.txn_id)
            .map_err(|e| crate::error::ApiError::internal("appservice transaction ID", e))?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO appservice_txns (service_id, txn_id, body) VALUES (?1, ?2, ?3)",
            params![service_id, txn_id, txn.body],
        )?;
        tx.execute(
            "UPDATE appservice_position SET last_txn_id = ?2, stream_ordering = ?3 \
             WHERE service_id = ?1",
            params![service_id, txn_id, stream_ordering],
        )?;
        if let Some(upto) = ephemeral_upto {
            tx.execute(
                "DELETE FROM appservice_ephemeral WHERE service_id = ?1 AND id <= ?2",
                params![service_id, upto],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Whether `user_id` has a device `device_id` (an access token issued for it).
    pub(crate) fn device_exists(&self, user_id: &str, device_id: &str) -> ApiResult<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM access_tokens WHERE user_id = ?1 AND device_id = ?2 LIMIT 1",
                params![user_id, device_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Forgets transaction `txn_id` of `service_id`: the service acknowledged it.
    pub(crate) fn appservice_delivered(&self, service_id: &str, txn_id: u64) -> ApiResult<()> {
        let txn_id = i64::try_from(txn_id).unwrap_or(i64::MAX);
        self.conn.execute(
            "DELETE FROM appservice_txns WHERE service_id = ?1 AND txn_id = ?2",
            params![service_id, txn_id],
        )?;
        Ok(())
    }
}
