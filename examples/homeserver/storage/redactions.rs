//! Redactions as stored: which event each timeline redaction names, and the redacted
//! form written over its target once the core's `may_redact` allows it, whichever of
//! the two arrived first. The stored event is then served redacted everywhere (client
//! API and federation), with the redaction in `unsigned.redacted_because`, as Synapse
//! serves it.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use matrix_serverlib::auth::PowerLevels;
use matrix_serverlib::event::Pdu;
use matrix_serverlib::event::StateKey;
use matrix_serverlib::redact::{RedactionSource, may_redact};
use matrix_serverlib::room_version::RoomVersion;

use super::{parse_pdu, stored_state_after};
use crate::error::ApiResult;

/// The table, created idempotently.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS redactions (
    redaction_id TEXT PRIMARY KEY,
    redacts TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS redactions_target ON redactions(redacts);
";

/// Creates the table.
pub(super) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)
}

/// After `pdu` joined the timeline: records it when it is a redaction and applies it
/// to its target if stored; otherwise applies a redaction of `pdu` that came first.
pub(super) fn on_timeline_event(tx: &Transaction<'_>, pdu: &Pdu) -> ApiResult<()> {
    let version = pdu.room_version();
    if pdu.event_type() == "m.room.redaction" {
        let Some(redacts) = pdu.redacts() else {
            return Ok(());
        };
        tx.execute(
            "INSERT OR IGNORE INTO redactions (redaction_id, redacts) VALUES (?1, ?2)",
            params![pdu.event_id().as_str(), redacts],
        )?;
        if let Some(target) = stored_pdu(tx, redacts, version)? {
            apply(tx, &target, pdu)?;
        }
        return Ok(());
    }
    let earlier: Vec<String> = {
        let mut statement =
            tx.prepare_cached("SELECT redaction_id FROM redactions WHERE redacts = ?1")?;
        statement
            .query_map([pdu.event_id().as_str()], |row| row.get(0))?
            .collect::<Result<_, _>>()?
    };
    for redaction_id in earlier {
        if let Some(redaction) = stored_pdu(tx, &redaction_id, version)? {
            // One valid redaction is enough: the rest strip nothing more.
            if apply(tx, pdu, &redaction)? {
                break;
            }
        }
    }
    Ok(())
}

/// Writes `target` redacted by `redaction` over the stored target when the rules allow
/// it (judged as a received redaction: the local send path has already applied the
/// stricter client checks); returns whether it did.
fn apply(tx: &Transaction<'_>, target: &Pdu, redaction: &Pdu) -> ApiResult<bool> {
    if target.redacted_by().is_some() {
        return Ok(true);
    }
    let version = redaction.room_version();
    let state = stored_state_after(tx, redaction.event_id().as_str())?.unwrap_or_default();
    let read = |key: StateKey| -> ApiResult<Option<Pdu>> {
        match state.get(&key) {
            Some(id) => stored_pdu(tx, id.as_str(), version),
            None => Ok(None),
        }
    };
    let Some(create) = read(StateKey::new("m.room.create", ""))? else {
        return Ok(false);
    };
    let power = read(StateKey::new("m.room.power_levels", ""))?;
    let levels = PowerLevels::new(
        version,
        create.as_object(),
        power.as_ref().map(Pdu::as_object),
    );
    if may_redact(redaction, target, &levels, RedactionSource::Received).is_err() {
        return Ok(false);
    }
    let redacted = target.redacted_because(redaction);
    let json = String::from_utf8(redacted.to_canonical_bytes())
        .map_err(|e| crate::error::ApiError::internal("redacted event", e))?;
    tx.execute(
        "UPDATE events SET json = ?1 WHERE event_id = ?2",
        params![json, target.event_id().as_str()],
    )?;
    Ok(true)
}

/// A stored event of the room version `version`, if stored.
fn stored_pdu(
    tx: &Transaction<'_>,
    event_id: &str,
    version: &RoomVersion,
) -> ApiResult<Option<Pdu>> {
    let json: Option<String> = tx
        .query_row(
            "SELECT json FROM events WHERE event_id = ?1",
            [event_id],
            |row| row.get(0),
        )
        .optional()?;
    json.map(|json| parse_pdu(&json, version)).transpose()
}
