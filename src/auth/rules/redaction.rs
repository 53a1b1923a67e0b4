//! Rule L (room versions 1–2): `m.room.redaction` events.

use crate::auth::check::Event;
use crate::auth::fields::server_of;
use crate::auth::power_levels_reader::NamedLevel;
use crate::auth::rejection::Rejection;

/// Rule L: a redaction needs the redact level, or must redact an event from the
/// redaction's own server (by the servers of the two event IDs).
pub(in crate::auth) fn check(event: &Event<'_>) -> Result<(), Rejection> {
    // Rule L.1: allow at or above the redact level.
    let level = event.levels.user_level(event.sender)?;
    let needed = event.levels.named_level(NamedLevel::Redact)?;
    if level >= needed {
        return Ok(());
    }
    // Rule L.2: allow when the redacted event is from the same server. Like Synapse, a
    // missing or non-string `redacts` is allowed here (there is nothing to compare;
    // the redaction then redacts nothing).
    let Some(redacts) = event.pdu.redacts() else {
        return Ok(());
    };
    let own_server = server_of(event.pdu.event_id().as_str());
    if own_server.is_some() && own_server == server_of(redacts) {
        return Ok(());
    }
    // Rule L.3: reject.
    Err(Rejection::RedactionInsufficientPower { level, needed })
}
