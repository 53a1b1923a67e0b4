//! The request-authentication ops: `sign_request` and `verify_request`.

use super::protocol::{ErrorWord, Failure};
use crate::json::Object;

/// `sign_request`: not answered yet.
pub(crate) fn sign_request(_request: &Object) -> Result<Object, Failure> {
    Err(Failure::new(
        ErrorWord::Internal,
        "sign_request is not answered yet",
    ))
}

/// `verify_request`: not answered yet.
pub(crate) fn verify_request(_request: &Object) -> Result<Object, Failure> {
    Err(Failure::new(
        ErrorWord::Internal,
        "verify_request is not answered yet",
    ))
}
