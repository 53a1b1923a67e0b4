//! A pure key cache for federation: which server keys are missing for a request or for
//! events, which keys may verify what and until when, and what to keep across restarts
//! (<https://spec.matrix.org/v1.16/server-server-api/#retrieving-server-keys>).

use std::collections::{BTreeMap, BTreeSet};

use super::error::{ErrorCode, MatrixError};
use super::keys::ServerKeyDocument;
use crate::crypto::{PublicKeys, SigningKey, VerifyKey};
use crate::id::ServerName;
use crate::json::{Object, Value};

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

/// How long after a key document was fetched its current keys may still sign events,
/// whatever its `valid_until_ts` says: seven days, in milliseconds (the spec's cap on
/// `valid_until_ts`).
pub const MAX_KEY_VALIDITY_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// How long a held key is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyValidity {
    /// A key of a document's `verify_keys`.
    Current {
        /// The document's `valid_until_ts`.
        valid_until_ts: i64,
        /// When the document was fetched, in milliseconds since the epoch.
        fetched_at_ms: i64,
    },
    /// A key of a document's `old_verify_keys`.
    Old {
        /// When the key stopped being used.
        expired_ts: i64,
    },
    /// One of our own keys: valid at any time, never fetched.
    Own,
}

impl KeyValidity {
    /// A current key valid until `valid_until_ts`, fetched at `fetched_at_ms`.
    #[must_use]
    pub fn current(valid_until_ts: i64, fetched_at_ms: i64) -> Self {
        Self::Current {
            valid_until_ts,
            fetched_at_ms,
        }
    }

    /// The last time (inclusive) at which the key may have signed an event, as room
    /// versions 5+ judge it; `None` when unbounded. For a current key the lesser of its
    /// `valid_until_ts` and seven days after it was fetched; for an old key its
    /// `expired_ts`.
    #[must_use]
    pub fn usable_until(&self) -> Option<i64> {
        match *self {
            Self::Current {
                valid_until_ts,
                fetched_at_ms,
            } => Some(valid_until_ts.min(fetched_at_ms.saturating_add(MAX_KEY_VALIDITY_MS))),
            Self::Old { expired_ts } => Some(expired_ts),
            Self::Own => None,
        }
    }

    /// True for a key that may authenticate a request at `now_ms`: a current key still
    /// usable then, or our own. Old keys never sign requests.
    #[must_use]
    pub fn signs_requests_at(&self, now_ms: i64) -> bool {
        match self {
            Self::Current { .. } => self.usable_until().is_some_and(|until| until >= now_ms),
            Self::Old { .. } => false,
            Self::Own => true,
        }
    }

    /// True when a key with this validity meets a need for `min_valid_until_ts`.
    fn meets(&self, min_valid_until_ts: i64) -> bool {
        self.usable_until()
            .is_none_or(|until| until >= min_valid_until_ts)
    }
}

/// One key the ring holds, as [`KeyRing::export`] lists them and [`KeyRing::import`]
/// takes them back. [`KeyEntry::to_object`] and [`KeyEntry::from_object`] give a JSON
/// form for storage.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyEntry {
    /// The server the key belongs to.
    pub server: ServerName,
    /// The key ID (`ed25519:...`).
    pub key_id: String,
    /// The public key.
    pub key: VerifyKey,
    /// How long it is valid.
    pub validity: KeyValidity,
}

impl KeyEntry {
    /// An entry for `key_id` of `server`.
    #[must_use]
    pub fn new(
        server: ServerName,
        key_id: impl Into<String>,
        key: VerifyKey,
        validity: KeyValidity,
    ) -> Self {
        Self {
            server,
            key_id: key_id.into(),
            key,
            validity,
        }
    }

    /// The entry as a JSON object: `server`, `key_id`, `key` (unpadded base64), and
    /// `valid_until_ts` with `fetched_at_ms`, or `expired_ts`, or `"own": true`.
    #[must_use]
    pub fn to_object(&self) -> Object {
        let mut object = Object::new();
        object.insert("server", Value::from(self.server.as_str()));
        object.insert("key_id", Value::from(self.key_id.as_str()));
        object.insert("key", Value::String(self.key.to_base64()));
        match self.validity {
            KeyValidity::Current {
                valid_until_ts,
                fetched_at_ms,
            } => {
                object.insert("valid_until_ts", Value::from(valid_until_ts));
                object.insert("fetched_at_ms", Value::from(fetched_at_ms));
            }
            KeyValidity::Old { expired_ts } => {
                object.insert("expired_ts", Value::from(expired_ts));
            }
            KeyValidity::Own => {
                object.insert("own", Value::Bool(true));
            }
        }
        object
    }

    /// Reads an entry written by [`KeyEntry::to_object`].
    ///
    /// # Errors
    ///
    /// [`KeyRingError::BadEntry`] naming the field that is missing or wrong.
    pub fn from_object(object: &Object) -> Result<Self, KeyRingError> {
        let bad = |field: &'static str| KeyRingError::BadEntry { field };
        let text =
            |field: &'static str| object.get(field).and_then(Value::as_str).ok_or(bad(field));
        let int = |field: &'static str| object.get(field).and_then(Value::as_i64).ok_or(bad(field));
        let server = ServerName::parse(text("server")?).map_err(|_| bad("server"))?;
        let key = VerifyKey::from_base64(text("key")?).map_err(|_| bad("key"))?;
        let validity = if object.get("own").and_then(Value::as_bool) == Some(true) {
            KeyValidity::Own
        } else if object.contains_key("expired_ts") {
            KeyValidity::Old {
                expired_ts: int("expired_ts")?,
            }
        } else {
            KeyValidity::current(int("valid_until_ts")?, int("fetched_at_ms")?)
        };
        Ok(Self::new(server, text("key_id")?, key, validity))
    }
}

/// Why a stored key entry could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRingError {
    /// A field of a stored entry is missing or wrong.
    #[error("stored key entry has a missing or bad {field}")]
    BadEntry {
        /// The field.
        field: &'static str,
    },
}

impl MatrixError for KeyRingError {
    fn errcode(&self) -> ErrorCode {
        // Only the caller's own storage produces these.
        ErrorCode::Unknown
    }
}

/// A key a fetched document offered under an ID the ring holds, with other bytes,
/// while the held key is still valid. The held key is kept: servers cache keys by ID,
/// so a server that changes the bytes under an ID breaks verification for everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyConflict {
    /// The key held (and kept).
    pub held: VerifyKey,
    /// The key offered (and refused).
    pub offered: VerifyKey,
}

/// What [`KeyRing::accept`] did with each key of a document, by key ID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AcceptReport {
    /// Keys the ring did not know.
    pub added: Vec<String>,
    /// Known keys (same bytes) whose validity changed.
    pub refreshed: Vec<String>,
    /// Current keys the document now lists as old.
    pub retired: Vec<String>,
    /// Expired keys replaced by other bytes under the same ID.
    pub replaced: Vec<String>,
    /// Keys refused: other bytes under the ID of a still-valid key.
    pub conflicts: Vec<(String, KeyConflict)>,
}

/// The keys of remote servers (and our own), with their validity: a pure cache the
/// caller fills with validated key documents and persists as it likes.
///
/// ```
/// use std::collections::{BTreeMap, BTreeSet};
///
/// use matrix_serverlib::crypto::SigningKey;
/// use matrix_serverlib::federation::keyring::{KeyNeed, KeyRing};
/// use matrix_serverlib::federation::keys::{server_key_document, validate_key_object};
/// use matrix_serverlib::id::ServerName;
///
/// let remote = ServerName::parse("remote.example")?;
/// let key = SigningKey::from_seed("ed25519:a_1", [3; 32]);
/// let need = KeyNeed::new(remote.clone(), BTreeSet::from(["ed25519:a_1".to_owned()]), 5_000);
///
/// let mut ring = KeyRing::new();
/// assert_eq!(ring.unsatisfied(&[need.clone()]), vec![need.clone()]);
///
/// // The caller fetches the document, validates it and hands it over.
/// let document = server_key_document(&remote, &[key.clone()], &BTreeMap::new(), 10_000)?;
/// let report = ring.accept(validate_key_object(&document, &remote)?, 1_000);
/// assert_eq!(report.added, ["ed25519:a_1"]);
/// assert!(ring.unsatisfied(&[need]).is_empty());
/// assert_eq!(ring.for_request(&remote, 9_000).get("remote.example", "ed25519:a_1"), Some(key.public_key()));
/// assert!(ring.for_request(&remote, 11_000).get("remote.example", "ed25519:a_1").is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRing {
    servers: BTreeMap<ServerName, BTreeMap<String, Held>>,
}

/// A key and its validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    key: VerifyKey,
    validity: KeyValidity,
}

impl KeyRing {
    /// An empty ring.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The ring with our own `keys` of `server`, valid at any time, so that they are
    /// never fetched. They replace whatever the ring held under their IDs.
    #[must_use]
    pub fn with_own(mut self, server: &ServerName, keys: &[SigningKey]) -> Self {
        let held = self.servers.entry(server.clone()).or_default();
        for key in keys {
            let own = Held {
                key: key.public_key(),
                validity: KeyValidity::Own,
            };
            held.insert(key.key_id().to_owned(), own);
        }
        self
    }

    /// Takes the keys of a validated document fetched at `fetched_at_ms`: its current
    /// keys with its `valid_until_ts`, its old keys with their `expired_ts`.
    ///
    /// A key ID already held with the same bytes has its validity updated (a current
    /// key is kept with the later `valid_until_ts`; an old key stays old). A key ID held
    /// with *other* bytes is refused and reported as a conflict while the held key is
    /// still valid at `fetched_at_ms`; once it has expired the new bytes replace it. Old
    /// and own keys are never replaced: events signed in the past still need them.
    #[must_use = "the report names the keys refused for reusing a key ID"]
    pub fn accept(&mut self, document: ServerKeyDocument, fetched_at_ms: i64) -> AcceptReport {
        let mut report = AcceptReport::default();
        let held = self
            .servers
            .entry(document.server_name().clone())
            .or_default();
        let current = KeyValidity::current(document.valid_until_ts(), fetched_at_ms);
        for (key_id, key) in document.verify_keys() {
            let offered = Held {
                key: *key,
                validity: current,
            };
            merge(held, key_id, offered, fetched_at_ms, &mut report);
        }
        for (key_id, old) in document.old_verify_keys() {
            let offered = Held {
                key: old.key,
                validity: KeyValidity::Old {
                    expired_ts: old.expired_ts,
                },
            };
            merge(held, key_id, offered, fetched_at_ms, &mut report);
        }
        report
    }

    /// The needs the ring cannot meet, which the caller must fetch (directly or from a
    /// notary) and [`accept`](Self::accept): for a need of named key IDs, those not
    /// held or not usable until `min_valid_until_ts`; for a need of any key, the whole
    /// need when no current key is usable until then. An old key whose `expired_ts` is
    /// before the minimum counts as not met, as in Synapse (a fetch may bring a newer
    /// view, e.g. from a notary).
    #[must_use]
    pub fn unsatisfied(&self, needs: &[KeyNeed]) -> Vec<KeyNeed> {
        let mut missing = Vec::new();
        for need in needs {
            let held = self.servers.get(&need.server);
            let meets = |key_id: &str| {
                held.and_then(|keys| keys.get(key_id))
                    .is_some_and(|key| key.validity.meets(need.min_valid_until_ts))
            };
            if need.key_ids.is_empty() {
                let any = held.is_some_and(|keys| {
                    keys.values().any(|key| {
                        !matches!(key.validity, KeyValidity::Old { .. })
                            && key.validity.meets(need.min_valid_until_ts)
                    })
                });
                if !any {
                    missing.push(need.clone());
                }
                continue;
            }
            let key_ids: BTreeSet<String> = need
                .key_ids
                .iter()
                .filter(|key_id| !meets(key_id))
                .cloned()
                .collect();
            if !key_ids.is_empty() {
                let server = need.server.clone();
                missing.push(KeyNeed::new(server, key_ids, need.min_valid_until_ts));
            }
        }
        missing
    }

    /// The keys of `server` that may authenticate a request arriving at `now_ms`: its
    /// current keys still usable then ([`KeyValidity::signs_requests_at`]), or our own.
    #[must_use]
    pub fn for_request(&self, server: &ServerName, now_ms: i64) -> PublicKeys {
        let mut keys = PublicKeys::new();
        for (key_id, held) in self.servers.get(server).into_iter().flatten() {
            if held.validity.signs_requests_at(now_ms) {
                keys.insert(server.as_str(), key_id.as_str(), held.key);
            }
        }
        keys
    }

    /// The keys of `servers` for verifying events, each bounded by
    /// [`KeyValidity::usable_until`]: the event code enforces the bound against
    /// `origin_server_ts` in room versions 5+ and ignores it before.
    #[must_use]
    pub fn for_events<'a>(&self, servers: impl IntoIterator<Item = &'a ServerName>) -> PublicKeys {
        let mut keys = PublicKeys::new();
        for server in servers {
            for (key_id, held) in self.servers.get(server).into_iter().flatten() {
                match held.validity.usable_until() {
                    Some(until) => {
                        keys.insert_with_validity(
                            server.as_str(),
                            key_id.as_str(),
                            held.key,
                            until,
                        );
                    }
                    None => keys.insert(server.as_str(), key_id.as_str(), held.key),
                }
            }
        }
        keys
    }

    /// The key `key_id` of `server` and its validity, if held.
    #[must_use]
    pub fn key(&self, server: &ServerName, key_id: &str) -> Option<(VerifyKey, KeyValidity)> {
        let held = self.servers.get(server)?.get(key_id)?;
        Some((held.key, held.validity))
    }

    /// Every key held, ordered by server and key ID, for the caller to store.
    #[must_use]
    pub fn export(&self) -> Vec<KeyEntry> {
        self.servers
            .iter()
            .flat_map(|(server, keys)| {
                keys.iter().map(|(key_id, held)| {
                    KeyEntry::new(server.clone(), key_id.as_str(), held.key, held.validity)
                })
            })
            .collect()
    }

    /// A ring holding exactly `entries` (as stored from [`export`](Self::export)); of
    /// two entries for the same key ID, the later wins.
    #[must_use]
    pub fn import(entries: impl IntoIterator<Item = KeyEntry>) -> Self {
        let mut ring = Self::new();
        for entry in entries {
            let held = Held {
                key: entry.key,
                validity: entry.validity,
            };
            ring.servers
                .entry(entry.server)
                .or_default()
                .insert(entry.key_id, held);
        }
        ring
    }
}

/// Merges one offered key into a server's held keys, recording what happened.
fn merge(
    held: &mut BTreeMap<String, Held>,
    key_id: &str,
    offered: Held,
    fetched_at_ms: i64,
    report: &mut AcceptReport,
) {
    let Some(known) = held.get(key_id).copied() else {
        held.insert(key_id.to_owned(), offered);
        report.added.push(key_id.to_owned());
        return;
    };
    if known.key != offered.key {
        let still_valid = match known.validity {
            KeyValidity::Current { .. } => known.validity.meets(fetched_at_ms),
            KeyValidity::Old { .. } | KeyValidity::Own => true,
        };
        if still_valid {
            let conflict = KeyConflict {
                held: known.key,
                offered: offered.key,
            };
            report.conflicts.push((key_id.to_owned(), conflict));
        } else {
            held.insert(key_id.to_owned(), offered);
            report.replaced.push(key_id.to_owned());
        }
        return;
    }
    let validity = match (known.validity, offered.validity) {
        (KeyValidity::Own, _) => return,
        (KeyValidity::Current { .. }, KeyValidity::Old { .. }) => {
            held.insert(key_id.to_owned(), offered);
            report.retired.push(key_id.to_owned());
            return;
        }
        // An old key stays old, whatever a stale document says.
        (KeyValidity::Old { .. }, KeyValidity::Current { .. }) => return,
        (
            KeyValidity::Current {
                valid_until_ts: known_until,
                ..
            },
            KeyValidity::Current { valid_until_ts, .. },
        ) if valid_until_ts < known_until => return,
        (_, offered) => offered,
    };
    if validity != known.validity {
        held.insert(
            key_id.to_owned(),
            Held {
                key: known.key,
                validity,
            },
        );
        report.refreshed.push(key_id.to_owned());
    }
}

#[cfg(test)]
#[path = "keyring_tests.rs"]
mod tests;
