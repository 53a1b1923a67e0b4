//! Everything the server keeps, in one embedded SQLite database (`homeserver.db` in the
//! data directory): accounts, access tokens, rooms, events in stream order, a state
//! snapshot after every state event, the current state, forward extremities,
//! transaction IDs, aliases, receipts and filters.
//!
//! The database runs in WAL mode with `synchronous = FULL`, and every accepted event is
//! written in one transaction (event, snapshot, current state, extremities,
//! transaction ID) before the client hears about it: a crash loses nothing that was
//! acknowledged.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use matrix_serverlib::event::Pdu;
use matrix_serverlib::event::StateKey;
use matrix_serverlib::id::EventId;
use matrix_serverlib::json;
use matrix_serverlib::room_version::RoomVersion;

use crate::error::{ApiError, ApiResult};

mod appservice;
mod lazy;
mod redactions;
mod remote;

pub(crate) use appservice::PendingTxn;
pub(crate) use lazy::{EventCache, RoomEvents};

pub(crate) use remote::EventStatus;

/// A room's state: `(type, state_key)` to event ID.
pub(crate) type StateMap = BTreeMap<StateKey, EventId>;

/// The schema, applied idempotently at every start.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS accounts (
    user_id TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    displayname TEXT,
    avatar_url TEXT,
    created_ts INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS access_tokens (
    token TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES accounts(user_id),
    device_id TEXT NOT NULL,
    created_ts INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS access_tokens_user ON access_tokens(user_id);
CREATE TABLE IF NOT EXISTS rooms (
    room_id TEXT PRIMARY KEY,
    room_version TEXT NOT NULL,
    creator TEXT NOT NULL,
    is_public INTEGER NOT NULL DEFAULT 0,
    created_ts INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    stream_ordering INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    room_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    state_key TEXT,
    sender TEXT NOT NULL,
    depth INTEGER NOT NULL,
    origin_server_ts INTEGER NOT NULL,
    state_group TEXT NOT NULL,
    membership TEXT,
    txn_device TEXT,
    txn_id TEXT,
    json TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'timeline'
);
CREATE INDEX IF NOT EXISTS events_room ON events(room_id, stream_ordering);
CREATE INDEX IF NOT EXISTS events_member ON events(room_id, state_key, membership)
    WHERE membership IS NOT NULL;
CREATE TABLE IF NOT EXISTS state_snapshots (
    event_id TEXT PRIMARY KEY,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS current_state (
    room_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    state_key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    stream_ordering INTEGER NOT NULL,
    membership TEXT,
    PRIMARY KEY (room_id, event_type, state_key)
);
CREATE INDEX IF NOT EXISTS current_state_by_key ON current_state(event_type, state_key);
CREATE TABLE IF NOT EXISTS forward_extremities (
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (room_id, event_id)
);
-- Client transaction IDs, scoped as the spec says: per device and request path (the
-- path names the endpoint, room and event type, without the transaction ID itself).
CREATE TABLE IF NOT EXISTS client_transactions (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    path TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id, path, txn_id)
);
CREATE TABLE IF NOT EXISTS aliases (
    alias TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    creator TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS receipts (
    stream_id INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    receipt_type TEXT NOT NULL,
    event_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    UNIQUE (room_id, user_id, receipt_type) ON CONFLICT REPLACE
);
CREATE TABLE IF NOT EXISTS filters (
    filter_id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    destination TEXT NOT NULL,
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_destination ON outbox(destination, id);
CREATE TABLE IF NOT EXISTS server_keys (
    server TEXT NOT NULL,
    key_id TEXT NOT NULL,
    entry TEXT NOT NULL,
    PRIMARY KEY (server, key_id)
);
";

/// An event as stored, with where it sits in the stream.
#[derive(Debug, Clone)]
pub(crate) struct StoredEvent {
    /// Position in the server's event stream (unique, increasing).
    pub(crate) stream_ordering: i64,
    /// The event ID.
    pub(crate) event_id: String,
    /// The room.
    pub(crate) room_id: String,
    /// The device that sent it with a transaction ID, and that ID.
    pub(crate) txn: Option<(String, String)>,
    /// The PDU as canonical JSON.
    pub(crate) json: String,
    /// Timeline, outlier, soft-failed or rejected.
    pub(crate) status: EventStatus,
    /// The room's version, when the room is known here.
    pub(crate) room_version: Option<String>,
}

/// A new event to store: the PDU, the state after it, and the transaction it answers.
pub(crate) struct NewEvent<'a> {
    /// The signed, authorised PDU.
    pub(crate) pdu: &'a Pdu,
    /// The room state after the event.
    pub(crate) state_after: &'a StateMap,
    /// `(user, device, txn_id, request path)` of a client send, for idempotency and
    /// `unsigned`.
    pub(crate) txn: Option<(&'a str, &'a str, &'a str, &'a str)>,
}

/// One receipt as stored.
#[derive(Debug, Clone)]
pub(crate) struct Receipt {
    /// The room.
    pub(crate) room_id: String,
    /// Who read.
    pub(crate) user_id: String,
    /// `m.read` or `m.read.private`.
    pub(crate) receipt_type: String,
    /// Up to which event.
    pub(crate) event_id: String,
    /// When, in milliseconds since the epoch.
    pub(crate) ts: i64,
}

/// A room in the public directory.
#[derive(Debug, Clone)]
pub(crate) struct PublicRoom {
    /// The room.
    pub(crate) room_id: String,
}

/// The database.
pub(crate) struct Storage {
    conn: Connection,
}

impl Storage {
    /// Opens (creating if needed) the database in `data_dir`.
    ///
    /// # Errors
    ///
    /// When SQLite cannot open or set up the file.
    pub(crate) fn open(data_dir: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(data_dir.join("homeserver.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a transaction that committed survives power loss, not only a crash.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        remote::migrate(&conn)?;
        redactions::migrate(&conn)?;
        appservice::migrate(&conn)?;
        Ok(Self { conn })
    }

    // --- accounts and tokens ---------------------------------------------------------

    /// Creates an account; `false` when the user ID is taken.
    pub(crate) fn create_account(
        &self,
        user_id: &str,
        password_hash: &str,
        now: i64,
    ) -> ApiResult<bool> {
        let inserted = self.conn.execute(
            "INSERT OR IGNORE INTO accounts (user_id, password_hash, created_ts) VALUES (?1, ?2, ?3)",
            params![user_id, password_hash, now],
        )?;
        Ok(inserted == 1)
    }

    /// True when the account exists.
    pub(crate) fn account_exists(&self, user_id: &str) -> ApiResult<bool> {
        Ok(self.password_hash(user_id)?.is_some())
    }

    /// The stored password hash of `user_id`.
    pub(crate) fn password_hash(&self, user_id: &str) -> ApiResult<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT password_hash FROM accounts WHERE user_id = ?1",
                [user_id],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// The display name and avatar URL of `user_id`; `None` for an unknown user.
    pub(crate) fn profile(
        &self,
        user_id: &str,
    ) -> ApiResult<Option<(Option<String>, Option<String>)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT displayname, avatar_url FROM accounts WHERE user_id = ?1",
                [user_id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?)
    }

    /// Stores a new access token for a device.
    pub(crate) fn insert_token(
        &self,
        token: &str,
        user_id: &str,
        device_id: &str,
        now: i64,
    ) -> ApiResult<()> {
        self.conn.execute(
            "INSERT INTO access_tokens (token, user_id, device_id, created_ts) VALUES (?1, ?2, ?3, ?4)",
            params![token, user_id, device_id, now],
        )?;
        Ok(())
    }

    /// The user and device of an access token.
    pub(crate) fn token_owner(&self, token: &str) -> ApiResult<Option<(String, String)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT user_id, device_id FROM access_tokens WHERE token = ?1",
                [token],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?)
    }

    /// Deletes one access token.
    pub(crate) fn delete_token(&self, token: &str) -> ApiResult<()> {
        self.conn
            .execute("DELETE FROM access_tokens WHERE token = ?1", [token])?;
        Ok(())
    }

    /// Deletes every access token of a user.
    pub(crate) fn delete_all_tokens(&self, user_id: &str) -> ApiResult<()> {
        self.conn
            .execute("DELETE FROM access_tokens WHERE user_id = ?1", [user_id])?;
        Ok(())
    }

    // --- rooms -----------------------------------------------------------------------

    /// The room version of a room this server knows.
    pub(crate) fn room_version(&self, room_id: &str) -> ApiResult<Option<RoomVersion>> {
        let id: Option<String> = self
            .conn
            .query_row(
                "SELECT room_version FROM rooms WHERE room_id = ?1",
                [room_id],
                |row| row.get(0),
            )
            .optional()?;
        id.map(|id| RoomVersion::from_id(&id).map_err(|e| ApiError::internal("room version", e)))
            .transpose()
    }

    /// Publishes the room in the directory, or withdraws it.
    pub(crate) fn set_public(&self, room_id: &str, public: bool) -> ApiResult<()> {
        self.conn.execute(
            "UPDATE rooms SET is_public = ?2 WHERE room_id = ?1",
            params![room_id, public],
        )?;
        Ok(())
    }

    /// True when the room is in the public directory.
    pub(crate) fn is_public(&self, room_id: &str) -> ApiResult<bool> {
        let public: Option<bool> = self
            .conn
            .query_row(
                "SELECT is_public FROM rooms WHERE room_id = ?1",
                [room_id],
                |row| row.get(0),
            )
            .optional()?;
        Ok(public.unwrap_or(false))
    }

    /// The rooms in the public directory, oldest first.
    pub(crate) fn public_rooms(&self) -> ApiResult<Vec<PublicRoom>> {
        let mut statement = self.conn.prepare(
            "SELECT room_id FROM rooms WHERE is_public = 1 ORDER BY created_ts, room_id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(PublicRoom {
                room_id: row.get(0)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // --- events and state ------------------------------------------------------------

    /// Stores an accepted event with everything that follows from it, in one
    /// transaction. Returns its stream ordering.
    pub(crate) fn append_event(&mut self, event: &NewEvent<'_>) -> ApiResult<i64> {
        let tx = self.conn.transaction()?;
        let stream = write_event(&tx, event)?;
        tx.commit()?;
        Ok(stream)
    }

    /// Sets a profile field (`displayname` or `avatar_url`; `None` clears it) and stores
    /// the member events that carry it into the user's rooms, all in one transaction:
    /// every room or none.
    pub(crate) fn update_profile(
        &mut self,
        user_id: &str,
        field: &str,
        value: Option<&str>,
        events: &[NewEvent<'_>],
    ) -> ApiResult<()> {
        let sql = match field {
            "displayname" => "UPDATE accounts SET displayname = ?2 WHERE user_id = ?1",
            "avatar_url" => "UPDATE accounts SET avatar_url = ?2 WHERE user_id = ?1",
            other => return Err(ApiError::internal("profile", format!("no field {other}"))),
        };
        let tx = self.conn.transaction()?;
        tx.execute(sql, params![user_id, value])?;
        for event in events {
            write_event(&tx, event)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Creates a room and stores its first event in one transaction.
    pub(crate) fn create_room_with(
        &mut self,
        creator: &str,
        now: i64,
        event: &NewEvent<'_>,
    ) -> ApiResult<i64> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES (?1, ?2, ?3, ?4)",
            params![
                event.pdu.room_id().as_str(),
                event.pdu.room_version().id,
                creator,
                now
            ],
        )?;
        let stream = write_event(&tx, event)?;
        tx.commit()?;
        Ok(stream)
    }

    /// The event answering an earlier send with the same transaction ID on the same
    /// request path.
    pub(crate) fn transaction_event(
        &self,
        user_id: &str,
        device_id: &str,
        path: &str,
        txn_id: &str,
    ) -> ApiResult<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT event_id FROM client_transactions \
                 WHERE user_id = ?1 AND device_id = ?2 AND path = ?3 AND txn_id = ?4",
                params![user_id, device_id, path, txn_id],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// The latest stream ordering (0 before any event).
    pub(crate) fn max_stream(&self) -> ApiResult<i64> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(MAX(stream_ordering), 0) FROM events",
            [],
            |row| row.get(0),
        )?)
    }

    /// One event by ID.
    pub(crate) fn event(&self, event_id: &str) -> ApiResult<Option<StoredEvent>> {
        Ok(self
            .conn
            .query_row(
                &format!("{EVENT_COLUMNS} WHERE event_id = ?1"),
                [event_id],
                stored_event,
            )
            .optional()?)
    }

    /// One event by ID, as a PDU of its room's version.
    pub(crate) fn pdu(&self, event_id: &str, version: &RoomVersion) -> ApiResult<Option<Pdu>> {
        self.event(event_id)?
            .map(|event| parse_pdu(&event.json, version))
            .transpose()
    }

    /// Events of a room with `after < stream_ordering <= until`, oldest first, at most
    /// `limit` of them, taken from the newest end when `newest` is set.
    pub(crate) fn room_events(
        &self,
        room_id: &str,
        after: i64,
        until: i64,
        limit: usize,
        newest: bool,
    ) -> ApiResult<Vec<StoredEvent>> {
        let order = if newest { "DESC" } else { "ASC" };
        let sql = format!(
            "{EVENT_COLUMNS} WHERE room_id = ?1 AND stream_ordering > ?2 AND stream_ordering <= ?3 \
             AND status = 'timeline' ORDER BY stream_ordering {order} LIMIT ?4"
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map(params![room_id, after, until, limit], stored_event)?;
        let mut events: Vec<StoredEvent> = rows.collect::<Result<_, _>>()?;
        if newest {
            events.reverse();
        }
        Ok(events)
    }

    /// The state after `event_id`.
    pub(crate) fn state_after(&self, event_id: &str) -> ApiResult<StateMap> {
        stored_state_after(&self.conn, event_id)?
            .ok_or_else(|| ApiError::internal("state", format!("no state for {event_id}")))
    }

    /// The state of a room before the event at `stream_ordering` (its state after the
    /// room's previous event); empty before the first.
    pub(crate) fn state_before_stream(
        &self,
        room_id: &str,
        stream_ordering: i64,
    ) -> ApiResult<StateMap> {
        let previous: Option<String> = self
            .conn
            .query_row(
                "SELECT event_id FROM events WHERE room_id = ?1 AND stream_ordering < ?2 \
                 AND status = 'timeline' ORDER BY stream_ordering DESC LIMIT 1",
                params![room_id, stream_ordering],
                |row| row.get(0),
            )
            .optional()?;
        match previous {
            Some(event_id) => self.state_after(&event_id),
            // Before the first timeline event: nothing in a room created here, the
            // state the join was built on in a room joined through another server.
            None => self.entry_state(room_id),
        }
    }

    /// The current state of a room.
    pub(crate) fn current_state(&self, room_id: &str) -> ApiResult<StateMap> {
        let mut statement = self.conn.prepare_cached(
            "SELECT event_type, state_key, event_id FROM current_state WHERE room_id = ?1",
        )?;
        let rows = statement.query_map([room_id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })?;
        let mut state = StateMap::new();
        for row in rows {
            let (event_type, state_key, event_id) = row?;
            state.insert(
                StateKey::new(event_type, state_key),
                parse_event_id(&event_id)?,
            );
        }
        Ok(state)
    }

    /// The current state event at `(event_type, state_key)`.
    pub(crate) fn current_state_event(
        &self,
        room_id: &str,
        event_type: &str,
        state_key: &str,
    ) -> ApiResult<Option<StoredEvent>> {
        let event_id: Option<String> = self
            .conn
            .query_row(
                "SELECT event_id FROM current_state WHERE room_id = ?1 AND event_type = ?2 AND state_key = ?3",
                params![room_id, event_type, state_key],
                |row| row.get(0),
            )
            .optional()?;
        match event_id {
            Some(event_id) => self.event(&event_id),
            None => Ok(None),
        }
    }

    /// The current membership of `user_id` in every room where they have one, with the
    /// stream ordering of the member event: `(room_id, membership, stream)`.
    pub(crate) fn memberships(&self, user_id: &str) -> ApiResult<Vec<(String, String, i64)>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT room_id, membership, stream_ordering FROM current_state \
             WHERE event_type = 'm.room.member' AND state_key = ?1 ORDER BY room_id",
        )?;
        let rows =
            statement.query_map([user_id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The current membership of `user_id` in `room_id`.
    pub(crate) fn membership(
        &self,
        room_id: &str,
        user_id: &str,
    ) -> ApiResult<Option<(String, i64)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT membership, stream_ordering FROM current_state \
                 WHERE room_id = ?1 AND event_type = 'm.room.member' AND state_key = ?2",
                params![room_id, user_id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?)
    }

    /// The stream ordering of the first member event of `user_id` in `room_id` with one
    /// of `memberships`.
    pub(crate) fn first_membership(
        &self,
        room_id: &str,
        user_id: &str,
        memberships: &[&str],
    ) -> ApiResult<Option<i64>> {
        let mut first: Option<i64> = None;
        for membership in memberships {
            let stream: Option<i64> = self.conn.query_row(
                "SELECT MIN(stream_ordering) FROM events \
                 WHERE room_id = ?1 AND state_key = ?2 AND membership = ?3 AND status = 'timeline'",
                params![room_id, user_id, membership],
                |row| row.get(0),
            )?;
            first = match (first, stream) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        Ok(first)
    }

    /// The users whose current membership in `room_id` is `membership`.
    pub(crate) fn members_with(&self, room_id: &str, membership: &str) -> ApiResult<Vec<String>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT state_key FROM current_state \
             WHERE room_id = ?1 AND event_type = 'm.room.member' AND membership = ?2 ORDER BY state_key",
        )?;
        let rows = statement.query_map(params![room_id, membership], |row| row.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The forward extremities of a room (the events with no successor yet), sorted.
    pub(crate) fn forward_extremities(&self, room_id: &str) -> ApiResult<Vec<EventId>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT event_id FROM forward_extremities WHERE room_id = ?1 ORDER BY event_id",
        )?;
        let rows = statement.query_map([room_id], |row| row.get::<_, String>(0))?;
        rows.map(|row| parse_event_id(&row?)).collect()
    }

    // --- aliases ---------------------------------------------------------------------

    /// Points an alias at a room; `false` when it already exists.
    pub(crate) fn insert_alias(
        &self,
        alias: &str,
        room_id: &str,
        creator: &str,
    ) -> ApiResult<bool> {
        let inserted = self.conn.execute(
            "INSERT OR IGNORE INTO aliases (alias, room_id, creator) VALUES (?1, ?2, ?3)",
            params![alias, room_id, creator],
        )?;
        Ok(inserted == 1)
    }

    /// The room and creator of an alias.
    pub(crate) fn alias(&self, alias: &str) -> ApiResult<Option<(String, String)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT room_id, creator FROM aliases WHERE alias = ?1",
                [alias],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?)
    }

    /// Deletes an alias.
    pub(crate) fn delete_alias(&self, alias: &str) -> ApiResult<()> {
        self.conn
            .execute("DELETE FROM aliases WHERE alias = ?1", [alias])?;
        Ok(())
    }

    /// The local aliases of a room.
    pub(crate) fn room_aliases(&self, room_id: &str) -> ApiResult<Vec<String>> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT alias FROM aliases WHERE room_id = ?1 ORDER BY alias")?;
        let rows = statement.query_map([room_id], |row| row.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // --- receipts and filters --------------------------------------------------------

    /// Stores a receipt, replacing the user's earlier one of that type in the room.
    pub(crate) fn put_receipt(&self, receipt: &Receipt) -> ApiResult<()> {
        self.conn.execute(
            "INSERT INTO receipts (room_id, user_id, receipt_type, event_id, ts) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                receipt.room_id,
                receipt.user_id,
                receipt.receipt_type,
                receipt.event_id,
                receipt.ts
            ],
        )?;
        Ok(())
    }

    /// The latest receipt stream ID (0 before any).
    pub(crate) fn max_receipt_stream(&self) -> ApiResult<i64> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(MAX(stream_id), 0) FROM receipts",
            [],
            |row| row.get(0),
        )?)
    }

    /// Receipts in a room newer than `after`.
    pub(crate) fn receipts_since(&self, room_id: &str, after: i64) -> ApiResult<Vec<Receipt>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT room_id, user_id, receipt_type, event_id, ts FROM receipts \
             WHERE room_id = ?1 AND stream_id > ?2 ORDER BY stream_id",
        )?;
        let rows = statement.query_map(params![room_id, after], |row| {
            Ok(Receipt {
                room_id: row.get(0)?,
                user_id: row.get(1)?,
                receipt_type: row.get(2)?,
                event_id: row.get(3)?,
                ts: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Stores a filter and returns its ID.
    pub(crate) fn insert_filter(&self, user_id: &str, filter: &str) -> ApiResult<i64> {
        self.conn.execute(
            "INSERT INTO filters (user_id, json) VALUES (?1, ?2)",
            params![user_id, filter],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    // --- the federation outbox -----------------------------------------------------------

    /// Queues `event_id` of `room_id` for each of `destinations`.
    pub(crate) fn enqueue_outbox(
        &mut self,
        room_id: &str,
        event_id: &str,
        destinations: &[String],
    ) -> ApiResult<()> {
        let transaction = self.conn.transaction()?;
        for destination in destinations {
            transaction.execute(
                "INSERT INTO outbox (destination, room_id, event_id) VALUES (?1, ?2, ?3)",
                params![destination, room_id, event_id],
            )?;
        }
        transaction.commit()?;
        Ok(())
    }

    /// The queued events for `destination` after outbox row `after`, oldest first, at
    /// most `limit`: (row, the event as stored, its room's version).
    pub(crate) fn outbox_after(
        &self,
        destination: &str,
        after: i64,
        limit: usize,
    ) -> ApiResult<Vec<(i64, StoredEvent, String)>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT o.id, e.stream_ordering, e.event_id, e.room_id, e.txn_device, e.txn_id, \
             e.json, r.room_version FROM outbox o JOIN events e ON e.event_id = o.event_id \
             JOIN rooms r ON r.room_id = o.room_id \
             WHERE o.destination = ?1 AND o.id > ?2 ORDER BY o.id LIMIT ?3",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = statement.query_map(params![destination, after, limit], |row| {
            let txn_device: Option<String> = row.get(4)?;
            let txn_id: Option<String> = row.get(5)?;
            Ok((
                row.get(0)?,
                StoredEvent {
                    stream_ordering: row.get(1)?,
                    event_id: row.get(2)?,
                    room_id: row.get(3)?,
                    txn: txn_device.zip(txn_id),
                    json: row.get(6)?,
                    status: EventStatus::Timeline,
                    room_version: row.get(7)?,
                },
                row.get(7)?,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Forgets the outbox rows of `destination` for `event_ids`, and every earlier row
    /// of the same rooms (delivered before, or superseded in catch-up).
    pub(crate) fn outbox_delivered(
        &mut self,
        destination: &str,
        event_ids: &[String],
    ) -> ApiResult<()> {
        let transaction = self.conn.transaction()?;
        for event_id in event_ids {
            transaction.execute(
                "DELETE FROM outbox WHERE destination = ?1 AND id <= (SELECT MAX(id) FROM \
                 outbox WHERE destination = ?1 AND event_id = ?2) AND room_id = (SELECT \
                 room_id FROM outbox WHERE destination = ?1 AND event_id = ?2 LIMIT 1)",
                params![destination, event_id],
            )?;
        }
        transaction.commit()?;
        Ok(())
    }

    /// Every destination with queued events.
    pub(crate) fn outbox_destinations(&self) -> ApiResult<Vec<String>> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT DISTINCT destination FROM outbox ORDER BY destination")?;
        let rows = statement.query_map([], |row| row.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // --- other servers' keys ------------------------------------------------------------

    /// Every stored key entry of other servers, as the keyring exported them (JSON).
    pub(crate) fn server_key_entries(&self) -> ApiResult<Vec<String>> {
        let mut statement = self.conn.prepare("SELECT entry FROM server_keys")?;
        let rows = statement.query_map([], |row| row.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Stores key entries `(server, key_id, entry JSON)`, replacing older ones.
    pub(crate) fn put_server_keys(
        &mut self,
        entries: &[(String, String, String)],
    ) -> ApiResult<()> {
        let transaction = self.conn.transaction()?;
        for (server, key_id, entry) in entries {
            transaction.execute(
                "INSERT OR REPLACE INTO server_keys (server, key_id, entry) VALUES (?1, ?2, ?3)",
                params![server, key_id, entry],
            )?;
        }
        transaction.commit()?;
        Ok(())
    }

    /// A stored filter of the user.
    pub(crate) fn filter(&self, user_id: &str, filter_id: i64) -> ApiResult<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT json FROM filters WHERE user_id = ?1 AND filter_id = ?2",
                params![user_id, filter_id],
                |row| row.get(0),
            )
            .optional()?)
    }
}

/// The columns of [`StoredEvent`], in order.
const EVENT_COLUMNS: &str = "SELECT stream_ordering, event_id, room_id, txn_device, txn_id, json, \
     status, (SELECT room_version FROM rooms WHERE rooms.room_id = events.room_id) FROM events";

fn stored_event(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEvent> {
    let txn_device: Option<String> = row.get(3)?;
    let txn_id: Option<String> = row.get(4)?;
    Ok(StoredEvent {
        stream_ordering: row.get(0)?,
        event_id: row.get(1)?,
        room_id: row.get(2)?,
        txn: txn_device.zip(txn_id),
        json: row.get(5)?,
        status: EventStatus::parse(&row.get::<_, String>(6)?),
        room_version: row.get(7)?,
    })
}

/// Writes the event, its state snapshot, the current state, the forward extremities
/// and the transaction ID.
fn write_event(tx: &Transaction<'_>, event: &NewEvent<'_>) -> ApiResult<i64> {
    let pdu = event.pdu;
    let room_id = pdu.room_id().as_str();
    let event_id = pdu.event_id().as_str();
    // An outlier (or soft-failed event) that is now accepted into the timeline.
    tx.execute(
        "DELETE FROM events WHERE event_id = ?1 AND status != 'timeline'",
        [event_id],
    )?;
    // The state group: a snapshot of its own for a state event, one that merges forks
    // (its resolved state) or one whose previous event has no state stored (in a room
    // joined through another server), else the snapshot of its one previous event.
    let inherited: Option<String> = match pdu.prev_events() {
        [prev] if !pdu.is_state() => tx
            .query_row(
                "SELECT state_group FROM events WHERE event_id = ?1 AND status = 'timeline'",
                [prev.as_str()],
                |row| row.get(0),
            )
            .optional()?,
        _ => None,
    };
    let state_group = match inherited {
        Some(group) => group,
        None => {
            tx.execute(
                "INSERT INTO state_snapshots (event_id, state) VALUES (?1, ?2)",
                params![event_id, encode_state(event.state_after)],
            )?;
            event_id.to_owned()
        }
    };
    let membership = (pdu.event_type() == "m.room.member")
        .then(|| pdu.content().get("membership").and_then(|m| m.as_str()))
        .flatten();
    let json =
        String::from_utf8(pdu.to_canonical_bytes()).map_err(|e| ApiError::internal("store", e))?;
    let (txn_device, txn_id) = match event.txn {
        Some((_, device, txn, _)) => (Some(device), Some(txn)),
        None => (None, None),
    };
    tx.execute(
        "INSERT INTO events (event_id, room_id, event_type, state_key, sender, depth, \
         origin_server_ts, state_group, membership, txn_device, txn_id, json) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            event_id,
            room_id,
            pdu.event_type(),
            pdu.state_key(),
            pdu.sender().as_str(),
            pdu.depth(),
            pdu.origin_server_ts(),
            state_group,
            membership,
            txn_device,
            txn_id,
            json
        ],
    )?;
    let stream = tx.last_insert_rowid();
    if pdu.prev_events().len() > 1 {
        // The event merged forks: its state (resolved) replaces the current state.
        replace_current_state(tx, room_id, event.state_after)?;
    } else if let Some(state_key) = pdu.state_key() {
        tx.execute(
            "INSERT OR REPLACE INTO current_state (room_id, event_type, state_key, event_id, \
             stream_ordering, membership) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                room_id,
                pdu.event_type(),
                state_key,
                event_id,
                stream,
                membership
            ],
        )?;
    }
    for prev in pdu.prev_events() {
        tx.execute(
            "DELETE FROM forward_extremities WHERE room_id = ?1 AND event_id = ?2",
            params![room_id, prev.as_str()],
        )?;
    }
    tx.execute(
        "INSERT INTO forward_extremities (room_id, event_id) VALUES (?1, ?2)",
        params![room_id, event_id],
    )?;
    if let Some((user, device, txn, path)) = event.txn {
        tx.execute(
            "INSERT INTO client_transactions (user_id, device_id, path, txn_id, event_id) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![user, device, path, txn, event_id],
        )?;
    }
    redactions::on_timeline_event(tx, pdu)?;
    Ok(stream)
}

/// Sets the current state of a room to `state`, whose events are all stored.
fn replace_current_state(tx: &Transaction<'_>, room_id: &str, state: &StateMap) -> ApiResult<()> {
    tx.execute("DELETE FROM current_state WHERE room_id = ?1", [room_id])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO current_state (room_id, event_type, state_key, event_id, stream_ordering, \
         membership) SELECT room_id, event_type, state_key, event_id, stream_ordering, membership \
         FROM events WHERE event_id = ?1",
    )?;
    for event_id in state.values() {
        insert.execute([event_id.as_str()])?;
    }
    Ok(())
}

/// The state after a stored event, when it has one (timeline events do).
fn stored_state_after(conn: &Connection, event_id: &str) -> ApiResult<Option<StateMap>> {
    let snapshot: Option<String> = conn
        .query_row(
            "SELECT s.state FROM events e JOIN state_snapshots s ON s.event_id = e.state_group \
             WHERE e.event_id = ?1",
            [event_id],
            |row| row.get(0),
        )
        .optional()?;
    snapshot.map(|text| decode_state(&text)).transpose()
}

/// A state map as stored: a JSON array of `[type, state_key, event_id]`.
fn encode_state(state: &StateMap) -> String {
    let entries: Vec<json::Value> = state
        .iter()
        .map(|(key, id)| {
            json::Value::Array(vec![
                json::Value::from(key.event_type()),
                json::Value::from(key.state_key()),
                json::Value::from(id.as_str()),
            ])
        })
        .collect();
    json::to_string(&json::Value::Array(entries))
}

fn decode_state(text: &str) -> ApiResult<StateMap> {
    let entries: Vec<(String, String, String)> =
        serde_json::from_str(text).map_err(|e| ApiError::internal("state snapshot", e))?;
    entries
        .into_iter()
        .map(|(event_type, state_key, event_id)| {
            Ok((
                StateKey::new(event_type, state_key),
                parse_event_id(&event_id)?,
            ))
        })
        .collect()
}

fn parse_event_id(text: &str) -> ApiResult<EventId> {
    EventId::parse(text).map_err(|e| ApiError::internal("stored event ID", e))
}

/// Parses a stored PDU (this server built and checked it, so failure is corruption).
pub(crate) fn parse_pdu(json: &str, version: &RoomVersion) -> ApiResult<Pdu> {
    Pdu::from_bytes(json.as_bytes(), version).map_err(|e| ApiError::internal("stored event", e))
}
