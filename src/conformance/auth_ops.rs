//! The `auth_types` and `auth` operations.

use super::protocol::{ErrorWord, Failure};
use crate::json::Object;

/// `auth_types`: `room_version`, `event` → `{"types": [[type, state_key], ...]}`.
pub(crate) fn auth_types(_request: &Object) -> Result<Object, Failure> {
    Err(Failure::new(
        ErrorWord::Internal,
        "auth_types is not available yet",
    ))
}

/// `auth`: `room_version`, `event`, `auth_events` → `{"allowed", "reason"}`.
pub(crate) fn auth(_request: &Object) -> Result<Object, Failure> {
    Err(Failure::new(
        ErrorWord::Internal,
        "auth is not available yet",
    ))
}
