//! Rule E (room versions 1–5): `m.room.aliases` events.

use crate::auth::check::Event;
use crate::auth::fields::server_of;
use crate::auth::rejection::Rejection;

/// Rule E: the state key must be the sender's server; nothing else is checked.
pub(in crate::auth) fn check(event: &Event<'_>) -> Result<(), Rejection> {
    // Rule E.1: reject without a state key (Synapse also rejects an empty one).
    let state_key = match event.state_key {
        Some(state_key) if !state_key.is_empty() => state_key,
        _ => return Err(Rejection::AliasesMissingStateKey),
    };
    // Rule E.2: the state key must be the sender's server name.
    let sender_server = server_of(event.sender).unwrap_or_default();
    if state_key != sender_server {
        return Err(Rejection::AliasesStateKeyMismatch {
            state_key: state_key.to_owned(),
            sender_server: sender_server.to_owned(),
        });
    }
    // Rule E.3: allow.
    Ok(())
}
