//! Other servers' signing keys: the core's keyring, filled from `/_matrix/key/v2/server`
//! on a miss and kept in SQLite, so that a restart fetches nothing it already holds.
//! Our own key document is built by the core from the same key the server signs with.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use matrix_serverlib::crypto::{PublicKeys, SigningKey};
use matrix_serverlib::federation::keyring::{KeyEntry, KeyNeed, KeyRing};
use matrix_serverlib::federation::keys::{self, OldVerifyKey};
use matrix_serverlib::federation::outbound::Method;
use matrix_serverlib::federation::path;
use matrix_serverlib::id::ServerName;
use matrix_serverlib::json::{self, Object, ParseOptions, Value};

use super::peers::Peers;
use crate::app::App;
use crate::error::{ApiError, ApiResult};

/// How long others may cache our key document: a day, as Synapse serves its own.
pub(crate) const OWN_KEY_VALIDITY_MS: i64 = 24 * 60 * 60 * 1000;

/// The keyring shared by every request.
#[derive(Clone)]
pub(crate) struct ServerKeys {
    ring: Arc<Mutex<KeyRing>>,
}

impl ServerKeys {
    /// The keyring with our own key and the entries stored in the database.
    pub(crate) fn new(own: &ServerName, key: &SigningKey, stored: &[String]) -> Self {
        let entries = stored.iter().filter_map(|text| {
            match json::parse(text.as_bytes(), &ParseOptions::lenient()) {
                Ok(Value::Object(object)) => KeyEntry::from_object(&object).ok(),
                _ => None,
            }
        });
        let ring = KeyRing::import(entries).with_own(own, std::slice::from_ref(key));
        Self {
            ring: Arc::new(Mutex::new(ring)),
        }
    }

    /// The keys of `need.server` usable for a request at `now_ms`, fetching the
    /// server's key document first when the ring cannot meet `need`.
    ///
    /// # Errors
    ///
    /// An error when the keys are needed but cannot be fetched or are invalid.
    pub(crate) async fn for_request(
        &self,
        app: &App,
        need: KeyNeed,
        now_ms: i64,
    ) -> ApiResult<PublicKeys> {
        if !self
            .lock()
            .unsatisfied(std::slice::from_ref(&need))
            .is_empty()
        {
            self.fetch(app, &need.server).await?;
        }
        Ok(self.lock().for_request(&need.server, now_ms))
    }

    /// The keys of `servers` for verifying events (validity bounded as the core says
    /// for room versions 5+), fetching the documents of servers the ring knows nothing
    /// of first. A server whose keys cannot be fetched is left out: its events then
    /// fail their signature check.
    pub(crate) async fn for_events(
        &self,
        app: &App,
        servers: &[ServerName],
    ) -> ApiResult<PublicKeys> {
        for server in servers {
            let need = KeyNeed::new(server.clone(), std::collections::BTreeSet::new(), 0);
            let missing = !self
                .lock()
                .unsatisfied(std::slice::from_ref(&need))
                .is_empty();
            if missing && let Err(error) = self.fetch(app, server).await {
                tracing::warn!("keys of {server}: {error:?}");
            }
        }
        Ok(self.lock().for_events(servers.iter()))
    }

    /// Fetches, validates, accepts and stores the key document of `server`.
    async fn fetch(&self, app: &App, server: &ServerName) -> ApiResult<()> {
        let peers = app
            .peers()
            .ok_or_else(|| ApiError::internal("fetch keys", "federation is off"))?;
        let body = peers
            .request_bytes(server.as_str(), Method::Get, &path::key_server(), None)
            .await
            .map_err(|e| unauthorized(format!("cannot fetch the keys of {server}: {e}")))?;
        let document = keys::validate_key_document(&body, server)
            .map_err(|e| unauthorized(format!("the key document of {server}: {e}")))?;
        let report = self.lock().accept(document, crate::now_ms());
        if !report.conflicts.is_empty() {
            tracing::warn!(
                "{server} served new bytes under a key ID still valid: {:?}",
                report.conflicts
            );
        }
        let entries: Vec<(String, String, String)> = self
            .lock()
            .export()
            .into_iter()
            .filter(|entry| entry.server == *server)
            .map(|entry| {
                let text = json::to_string(&Value::Object(entry.to_object()));
                (entry.server.as_str().to_owned(), entry.key_id.clone(), text)
            })
            .collect();
        app.db(move |store| store.put_server_keys(&entries)).await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, KeyRing> {
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Our key document, signed by our key, valid for a day from `now_ms`.
///
/// # Errors
///
/// When the key ID is not one the core accepts.
pub(crate) fn own_document(
    server: &ServerName,
    key: &SigningKey,
    now_ms: i64,
) -> ApiResult<Object> {
    keys::server_key_document(
        server,
        std::slice::from_ref(key),
        &BTreeMap::<String, OldVerifyKey>::new(),
        now_ms + OWN_KEY_VALIDITY_MS,
    )
    .map_err(|e| ApiError::internal("key document", e))
}

fn unauthorized(message: String) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::UNAUTHORIZED,
        "M_UNAUTHORIZED",
        message,
    )
}

impl Peers {
    /// The raw body of a `200` answer.
    pub(crate) async fn request_bytes(
        &self,
        destination: &str,
        method: Method,
        uri: &str,
        body: Option<&Object>,
    ) -> Result<Vec<u8>, super::peers::PeerError> {
        self.request_raw(destination, method, uri, body)
            .await
            .and_then(|(status, bytes)| {
                if status == 200 {
                    Ok(bytes)
                } else {
                    Err(super::peers::PeerError::NotJson(status))
                }
            })
    }
}
