//! The key-document op: `verify_key_document`.

use super::protocol::{ErrorWord, Failure};
use crate::json::Object;

/// `verify_key_document`: not answered yet.
pub(crate) fn verify_key_document(_request: &Object) -> Result<Object, Failure> {
    Err(Failure::new(
        ErrorWord::Internal,
        "verify_key_document is not answered yet",
    ))
}
