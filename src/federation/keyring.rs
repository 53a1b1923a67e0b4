//! A pure key cache for federation: which server keys are missing for a request or for
//! events, which keys may verify what and until when, and what to keep across restarts
//! (<https://spec.matrix.org/v1.16/server-server-api/#retrieving-server-keys>).

use std::collections::BTreeSet;

use crate::id::ServerName;

/// Keys a check needs: these key IDs of `server` (empty: any current key), valid at
/// least until `min_valid_until_ts`. For a request that is the time it arrived; for
/// events of room version 5 and later their `origin_server_ts`; 0 for older versions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub struct KeyNeed {
    /// The server whose keys are needed.
    pub server: ServerName,
    /// The key IDs needed (`ed25519:...`); empty when any current key will do.
    pub key_ids: BTreeSet<String>,
    /// The earliest acceptable end of validity, in milliseconds since the epoch.
    pub min_valid_until_ts: i64,
}

impl KeyNeed {
    /// A need for `key_ids` of `server`, valid until at least `min_valid_until_ts`.
    #[must_use]
    pub fn new(server: ServerName, key_ids: BTreeSet<String>, min_valid_until_ts: i64) -> Self {
        Self {
            server,
            key_ids,
            min_valid_until_ts,
        }
    }
}
