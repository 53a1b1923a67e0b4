//! The module's error: bad input to [`auth_types`](super::auth_types).

/// Why the state an event needs cannot be listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The event lacks a field the selection reads, or it is of the wrong kind.
    #[error("event has no string {field:?}")]
    MalformedEvent {
        /// The field, such as `sender` or `content.membership`.
        field: &'static str,
    },
}
