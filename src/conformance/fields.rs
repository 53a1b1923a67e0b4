//! Reading the fields of a request, with the protocol's `bad_input` and
//! `unsupported_room_version` errors.

use super::protocol::{ErrorWord, Failure};
use crate::json::{Object, Value};
use crate::room_version::RoomVersion;

/// The field `name`, which must be present.
pub(crate) fn required<'a>(request: &'a Object, name: &str) -> Result<&'a Value, Failure> {
    request
        .get(name)
        .ok_or_else(|| Failure::new(ErrorWord::BadInput, format!("missing field '{name}'")))
}

fn wrong_kind(name: &str) -> Failure {
    Failure::new(
        ErrorWord::BadInput,
        format!("field '{name}' has the wrong kind"),
    )
}

/// The string field `name`.
pub(crate) fn string<'a>(request: &'a Object, name: &str) -> Result<&'a str, Failure> {
    required(request, name)?
        .as_str()
        .ok_or_else(|| wrong_kind(name))
}

/// The object field `name`.
pub(crate) fn object<'a>(request: &'a Object, name: &str) -> Result<&'a Object, Failure> {
    required(request, name)?
        .as_object()
        .ok_or_else(|| wrong_kind(name))
}

/// The optional boolean field `name`, with its default.
pub(crate) fn bool_or(request: &Object, name: &str, default: bool) -> Result<bool, Failure> {
    match request.get(name) {
        None => Ok(default),
        Some(value) => value.as_bool().ok_or_else(|| wrong_kind(name)),
    }
}

/// The room version named by the `room_version` field.
pub(crate) fn room_version(request: &Object) -> Result<RoomVersion, Failure> {
    let id = string(request, "room_version")?;
    RoomVersion::from_id(id)
        .map_err(|error| Failure::new(ErrorWord::UnsupportedRoomVersion, error.to_string()))
}
