//! What the database keeps for rooms that live on other servers too: events stored
//! without a place in the timeline (outliers: the state and auth chain a join brings
//! in, auth events pulled in by the receipt pipeline; soft-failed and rejected events),
//! the state a room joined through another server started from, and the stripped state
//! that came with an invite from another server.

use rusqlite::{Connection, OptionalExtension, params};

use matrix_serverlib::event::Pdu;
use matrix_serverlib::federation::ingest::Status;

use super::{NewEvent, StateMap, Storage};
use crate::error::{ApiError, ApiResult};

/// Tables and columns added after the first schema, applied idempotently.
const SCHEMA: &str = "
CREATE INDEX IF NOT EXISTS events_status ON events(room_id, status);
CREATE TABLE IF NOT EXISTS entry_state (
    room_id TEXT PRIMARY KEY,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS remote_memberships (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    membership TEXT NOT NULL,
    room_version TEXT NOT NULL,
    event_id TEXT NOT NULL,
    stripped_state TEXT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
";

/// How a stored event is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventStatus {
    /// In the room's timeline, with the state after it.
    Timeline,
    /// Known without state: not shown to clients, not a forward extremity.
    Outlier,
    /// Passed every check but the one against the current state: kept, never shown.
    SoftFailed,
    /// Failed the rules: kept so that events listing it are rejected too.
    Rejected,
}

impl EventStatus {
    /// The column value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Timeline => "timeline",
            Self::Outlier => "outlier",
            Self::SoftFailed => "soft_failed",
            Self::Rejected => "rejected",
        }
    }

    /// Reads the column value (unknown values read as outliers, the most cautious).
    pub(crate) fn parse(text: &str) -> Self {
        match text {
            "timeline" => Self::Timeline,
            "soft_failed" => Self::SoftFailed,
            "rejected" => Self::Rejected,
            _ => Self::Outlier,
        }
    }

    /// The receipt pipeline's word for it.
    pub(crate) fn ingest_status(self) -> Status {
        match self {
            Self::Timeline => Status::Timeline,
            Self::Outlier => Status::Outlier,
            Self::SoftFailed => Status::SoftFailed,
            Self::Rejected => Status::Rejected,
        }
    }
}

/// A pending invite from another server, or a knock on a room of another server.
#[derive(Debug, Clone)]
pub(crate) struct RemoteMembership {
    /// The member event (stored as an outlier).
    pub(crate) event_id: String,
    /// The stripped state that came with it (or with the knock's answer), as a JSON
    /// array.
    pub(crate) stripped_state: String,
}

/// Adds what older databases lack.
pub(super) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let has_status: bool = conn
        .prepare("SELECT 1 FROM pragma_table_info('events') WHERE name = 'status'")?
        .exists([])?;
    if !has_status {
        conn.execute_batch(
            "ALTER TABLE events ADD COLUMN status TEXT NOT NULL DEFAULT 'timeline';",
        )?;
    }
    // Transaction IDs were once scoped per device only: give each its send path (room
    // and event type of the event it made) in the table that scopes them.
    let unscoped: bool = conn
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'transactions'")?
        .exists([])?;
    if unscoped {
        conn.execute_batch(
            "INSERT OR IGNORE INTO client_transactions (user_id, device_id, path, txn_id, event_id) \
             SELECT t.user_id, t.device_id, 'send/' || e.room_id || '/' || e.event_type, \
             t.txn_id, t.event_id FROM transactions t JOIN events e ON e.event_id = t.event_id; \
             DROP TABLE transactions;",
        )?;
    }
    conn.execute_batch(SCHEMA)
}

impl Storage {
    /// Stores an event outside the timeline (a no-op when it is already stored).
    pub(crate) fn put_outside_timeline(&mut self, pdu: &Pdu, status: EventStatus) -> ApiResult<()> {
        let tx = self.conn.transaction()?;
        insert_outside_timeline(&tx, pdu, status)?;
        tx.commit()?;
        Ok(())
    }

    /// Stores a room joined through another server, in one transaction: the room, the
    /// events of the join's answer as outliers (`outliers`, each after its auth events),
    /// then our join as the first timeline event, with `state` (the state after it) as
    /// the current state and `before` as the state the timeline starts from.
    pub(crate) fn join_remote_room(
        &mut self,
        creator: &str,
        now: i64,
        outliers: &[&Pdu],
        join: &Pdu,
        state: &StateMap,
        before: &StateMap,
    ) -> ApiResult<i64> {
        let room_id = join.room_id().as_str();
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR IGNORE INTO rooms (room_id, room_version, creator, created_ts) \
             VALUES (?1, ?2, ?3, ?4)",
            params![room_id, join.room_version().id, creator, now],
        )?;
        for pdu in outliers {
            insert_outside_timeline(&tx, pdu, EventStatus::Outlier)?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO entry_state (room_id, state) VALUES (?1, ?2)",
            params![room_id, super::encode_state(before)],
        )?;
        let stream = super::write_event(
            &tx,
            &NewEvent {
                pdu: join,
                state_after: state,
                txn: None,
            },
        )?;
        super::replace_current_state(&tx, room_id, state)?;
        tx.execute(
            "DELETE FROM remote_memberships WHERE room_id = ?1 AND user_id = ?2",
            params![room_id, join.state_key().unwrap_or_default()],
        )?;
        tx.commit()?;
        Ok(stream)
    }

    /// The state before the first timeline event of a room joined through another
    /// server (empty for a room created here).
    pub(crate) fn entry_state(&self, room_id: &str) -> ApiResult<StateMap> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT state FROM entry_state WHERE room_id = ?1",
                [room_id],
                |row| row.get(0),
            )
            .optional()?;
        text.map_or_else(|| Ok(StateMap::new()), |text| super::decode_state(&text))
    }

    /// True when `user_id` is joined to some room this server holds.
    pub(crate) fn is_joined_anywhere(&self, user_id: &str) -> ApiResult<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT 1 FROM current_state WHERE event_type = 'm.room.member' \
                 AND state_key = ?1 AND membership = 'join' LIMIT 1",
            )?
            .exists([user_id])?)
    }

    /// The users joined to a room that `user_id` is joined to (`user_id` among them
    /// when joined anywhere).
    pub(crate) fn users_sharing_a_room(&self, user_id: &str) -> ApiResult<Vec<String>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT DISTINCT other.state_key FROM current_state mine \
             JOIN current_state other ON other.room_id = mine.room_id \
             WHERE mine.event_type = 'm.room.member' AND mine.state_key = ?1 \
             AND mine.membership = 'join' AND other.event_type = 'm.room.member' \
             AND other.membership = 'join' ORDER BY other.state_key",
        )?;
        let rows = statement.query_map([user_id], |row| row.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The least depth of a room's timeline events (`None` before any).
    pub(crate) fn min_timeline_depth(&self, room_id: &str) -> ApiResult<Option<i64>> {
        Ok(self.conn.query_row(
            "SELECT MIN(depth) FROM events WHERE room_id = ?1 AND status = 'timeline'",
            [room_id],
            |row| row.get(0),
        )?)
    }

    /// Every stored event of a room, whatever its status, in stream order.
    #[cfg(test)]
    pub(crate) fn room_events_all(&self, room_id: &str) -> ApiResult<Vec<super::StoredEvent>> {
        let mut statement = self.conn.prepare_cached(&format!(
            "{} WHERE room_id = ?1 ORDER BY stream_ordering",
            super::EVENT_COLUMNS
        ))?;
        let rows = statement.query_map([room_id], super::stored_event)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Stores backfilled events (given oldest first, each with the state after it) in
    /// the timeline before every event of the stream: at negative stream orderings,
    /// the oldest lowest. The current state and forward extremities do not change.
    pub(crate) fn insert_backfilled(&mut self, events: &[(Pdu, StateMap)]) -> ApiResult<()> {
        let tx = self.conn.transaction()?;
        let lowest: i64 = tx.query_row(
            "SELECT MIN(COALESCE(MIN(stream_ordering), 0), 0) FROM events",
            [],
            |row| row.get(0),
        )?;
        let mut stream = lowest;
        // Newest first, each one below the last.
        for (pdu, state_after) in events.iter().rev() {
            let event_id = pdu.event_id().as_str();
            let timeline: bool = tx
                .prepare_cached("SELECT 1 FROM events WHERE event_id = ?1 AND status = 'timeline'")?
                .exists([event_id])?;
            if timeline {
                continue;
            }
            tx.execute(
                "DELETE FROM events WHERE event_id = ?1 AND status != 'timeline'",
                [event_id],
            )?;
            tx.execute(
                "INSERT OR REPLACE INTO state_snapshots (event_id, state) VALUES (?1, ?2)",
                params![event_id, super::encode_state(state_after)],
            )?;
            stream -= 1;
            let membership = (pdu.event_type() == "m.room.member")
                .then(|| pdu.content().get("membership").and_then(|m| m.as_str()))
                .flatten();
            let json = String::from_utf8(pdu.to_canonical_bytes())
                .map_err(|e| ApiError::internal("store", e))?;
            tx.execute(
                "INSERT INTO events (stream_ordering, event_id, room_id, event_type, state_key, \
                 sender, depth, origin_server_ts, state_group, membership, json, status) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?2, ?9, ?10, 'timeline')",
                params![
                    stream,
                    event_id,
                    pdu.room_id().as_str(),
                    pdu.event_type(),
                    pdu.state_key(),
                    pdu.sender().as_str(),
                    pdu.depth(),
                    pdu.origin_server_ts(),
                    membership,
                    json
                ],
            )?;
            super::redactions::on_timeline_event(&tx, pdu)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Stores an invite of `user_id` from another server, or their knock on a room of
    /// another server: the member event as an outlier, the stripped state for their
    /// client, and the membership in the current state so that `/sync` lists the room
    /// (only when the room is not joined here already: then its state says it all).
    pub(crate) fn put_remote_membership(
        &mut self,
        event: &Pdu,
        user_id: &str,
        stripped_state: &str,
    ) -> ApiResult<()> {
        let room_id = event.room_id().as_str();
        let membership = event
            .content()
            .get("membership")
            .and_then(|m| m.as_str())
            .unwrap_or_default();
        let tx = self.conn.transaction()?;
        insert_outside_timeline(&tx, event, EventStatus::Outlier)?;
        let stream: i64 = tx.query_row(
            "SELECT stream_ordering FROM events WHERE event_id = ?1",
            [event.event_id().as_str()],
            |row| row.get(0),
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO remote_memberships (room_id, user_id, membership, \
             room_version, event_id, stripped_state) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                room_id,
                user_id,
                membership,
                event.room_version().id,
                event.event_id().as_str(),
                stripped_state
            ],
        )?;
        let joined: bool = tx
            .prepare_cached(
                "SELECT 1 FROM current_state WHERE room_id = ?1 AND event_type = 'm.room.member' \
                 AND membership = 'join' LIMIT 1",
            )?
            .exists([room_id])?;
        if !joined {
            tx.execute(
                "INSERT OR REPLACE INTO current_state (room_id, event_type, state_key, event_id, \
                 stream_ordering, membership) VALUES (?1, 'm.room.member', ?2, ?3, ?4, ?5)",
                params![
                    room_id,
                    user_id,
                    event.event_id().as_str(),
                    stream,
                    membership
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The pending invite or knock of `user_id` in `room_id` involving another server.
    pub(crate) fn remote_membership(
        &self,
        room_id: &str,
        user_id: &str,
    ) -> ApiResult<Option<RemoteMembership>> {
        Ok(self
            .conn
            .query_row(
                "SELECT event_id, stripped_state FROM remote_memberships \
                 WHERE room_id = ?1 AND user_id = ?2",
                params![room_id, user_id],
                |row| {
                    Ok(RemoteMembership {
                        event_id: row.get(0)?,
                        stripped_state: row.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    /// Ends a remote invite or knock that was withdrawn or rejected: the leave (stored
    /// as an outlier) becomes the membership, and the invite or knock is forgotten.
    pub(crate) fn end_remote_membership(&mut self, leave: &Pdu, user_id: &str) -> ApiResult<()> {
        let room_id = leave.room_id().as_str();
        let tx = self.conn.transaction()?;
        insert_outside_timeline(&tx, leave, EventStatus::Outlier)?;
        let stream: i64 = tx.query_row(
            "SELECT stream_ordering FROM events WHERE event_id = ?1",
            [leave.event_id().as_str()],
            |row| row.get(0),
        )?;
        tx.execute(
            "DELETE FROM remote_memberships WHERE room_id = ?1 AND user_id = ?2",
            params![room_id, user_id],
        )?;
        tx.execute(
            "UPDATE current_state SET event_id = ?3, stream_ordering = ?4, membership = 'leave' \
             WHERE room_id = ?1 AND event_type = 'm.room.member' AND state_key = ?2",
            params![room_id, user_id, leave.event_id().as_str(), stream],
        )?;
        tx.commit()?;
        Ok(())
    }
}

/// Inserts an event with no state, snapshot or extremity (ignored when stored).
fn insert_outside_timeline(
    tx: &rusqlite::Transaction<'_>,
    pdu: &Pdu,
    status: EventStatus,
) -> ApiResult<()> {
    let membership = (pdu.event_type() == "m.room.member")
        .then(|| pdu.content().get("membership").and_then(|m| m.as_str()))
        .flatten();
    let json =
        String::from_utf8(pdu.to_canonical_bytes()).map_err(|e| ApiError::internal("store", e))?;
    tx.execute(
        "INSERT OR IGNORE INTO events (event_id, room_id, event_type, state_key, sender, depth, \
         origin_server_ts, state_group, membership, json, status) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '', ?8, ?9, ?10)",
        params![
            pdu.event_id().as_str(),
            pdu.room_id().as_str(),
            pdu.event_type(),
            pdu.state_key(),
            pdu.sender().as_str(),
            pdu.depth(),
            pdu.origin_server_ts(),
            membership,
            json,
            status.as_str()
        ],
    )?;
    Ok(())
}
