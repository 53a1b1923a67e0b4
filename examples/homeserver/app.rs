//! The state every handler shares: configuration, the signing key, the database, the
//! change notifier that wakes long-polling `/sync` requests, and typing notifications
//! (kept in memory, as they expire within seconds), the rate limiters and the password
//! hasher.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use matrix_serverlib::appservice::Registrations;
use matrix_serverlib::crypto::SigningKey;

use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::federation::Federation;
use crate::federation::peers::Peers;
use crate::federation::sender::Sender;
use crate::federation::server_keys::ServerKeys;
use crate::limits::Limiters;
use crate::password::Hasher;
use crate::storage::Storage;

/// Long-polling `/sync` requests one user may have open at once; more are refused with
/// 429, so that one user's flood cannot take every connection's worth of waiting.
const SYNCS_PER_USER: usize = 8;

/// The shared server state; cheap to clone.
#[derive(Clone)]
pub(crate) struct App(Arc<Inner>);

struct Inner {
    config: Config,
    key: SigningKey,
    storage: Mutex<Storage>,
    /// Bumped after every change a `/sync` could report.
    changes: watch::Sender<u64>,
    typing: Mutex<Typing>,
    /// The federation client and the keyring; `None` when federation is off.
    federation: Option<Federation>,
    limiters: Limiters,
    hasher: Hasher,
    /// Open `/sync` requests by user.
    syncs: Mutex<HashMap<String, usize>>,
    /// The application services (`--appservice`).
    appservices: Registrations,
}

/// Who is typing where, and when each room last changed; and each user's presence
/// (one serial orders both, the sync token's ephemeral position).
#[derive(Default)]
struct Typing {
    rooms: HashMap<String, BTreeMap<String, Instant>>,
    /// The serial of the last change per room.
    changed_at: HashMap<String, u64>,
    serial: u64,
    /// Presence by user: local users who set it, and remote users who share a room
    /// with one of ours (the caller checks), with the serial of their last change.
    presence: HashMap<String, (Presence, u64)>,
}

/// A user's presence as last set or received.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Presence {
    /// `online`, `unavailable` or `offline`.
    pub(crate) presence: String,
    /// The status message, if any.
    pub(crate) status_msg: Option<String>,
    /// Whether the user is active now.
    pub(crate) currently_active: bool,
    /// When the user was last active, in milliseconds since the epoch.
    pub(crate) last_active_ts: i64,
}

impl App {
    /// Wraps the opened database and key, with the loaded application services.
    pub(crate) fn new(
        config: Config,
        key: SigningKey,
        storage: Storage,
        federation: Option<Federation>,
        appservices: Registrations,
    ) -> Self {
        let (changes, _) = watch::channel(0);
        Self(Arc::new(Inner {
            limiters: Limiters::new(&config.rate_limits),
            hasher: Hasher::default(),
            syncs: Mutex::default(),
            config,
            key,
            storage: Mutex::new(storage),
            changes,
            typing: Mutex::new(Typing::default()),
            federation,
            appservices,
        }))
    }

    /// The application services.
    pub(crate) fn appservices(&self) -> &Registrations {
        &self.0.appservices
    }

    /// Whether `user_id`'s actions count against the rate limits: not for a user an
    /// application service controls when the core says that service is not rate
    /// limited for it (`rate_limited: false`, or the service's sender).
    pub(crate) fn is_rate_limited(&self, user_id: &str) -> bool {
        !self
            .0
            .appservices
            .iter()
            .any(|service| service.may_masquerade(user_id) && !service.is_rate_limited(user_id))
    }

    /// The federation client, when federation is on.
    pub(crate) fn peers(&self) -> Option<&Peers> {
        self.0
            .federation
            .as_ref()
            .map(|federation| &federation.peers)
    }

    /// The keyring of other servers' keys.
    ///
    /// # Errors
    ///
    /// An internal error when federation is off (no federation route is served then).
    pub(crate) fn server_keys(&self) -> ApiResult<&ServerKeys> {
        self.0
            .federation
            .as_ref()
            .map(|federation| &federation.keys)
            .ok_or_else(|| ApiError::internal("server keys", "federation is off"))
    }

    /// The outbound sender, when federation is on.
    pub(crate) fn sender(&self) -> Option<&Sender> {
        self.0
            .federation
            .as_ref()
            .map(|federation| &federation.sender)
    }

    /// The configuration.
    pub(crate) fn config(&self) -> &Config {
        &self.0.config
    }

    /// The rate limiters.
    pub(crate) fn limiters(&self) -> &Limiters {
        &self.0.limiters
    }

    /// The password hasher.
    pub(crate) fn hasher(&self) -> &Hasher {
        &self.0.hasher
    }

    /// A place among `user_id`'s open `/sync` requests, held until the guard drops.
    ///
    /// # Errors
    ///
    /// 429 when the user already has [`SYNCS_PER_USER`] open.
    pub(crate) fn enter_sync(&self, user_id: &str) -> ApiResult<SyncGuard> {
        let mut syncs = self.syncs();
        let open = syncs.entry(user_id.to_owned()).or_default();
        if *open >= SYNCS_PER_USER {
            return Err(ApiError::limit_exceeded(Duration::from_secs(1)));
        }
        *open += 1;
        Ok(SyncGuard {
            app: self.clone(),
            user_id: user_id.to_owned(),
        })
    }

    fn syncs(&self) -> MutexGuard<'_, HashMap<String, usize>> {
        self.0.syncs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The server name, as in user IDs.
    pub(crate) fn server_name(&self) -> &str {
        &self.0.config.server_name
    }

    /// The server's signing key.
    pub(crate) fn key(&self) -> &SigningKey {
        &self.0.key
    }

    /// Runs `work` on the database on a blocking thread, with the database to itself
    /// (one writer at a time keeps each room's event graph linear).
    ///
    /// # Errors
    ///
    /// What `work` returns, or an internal error when the thread fails.
    pub(crate) async fn db<T, F>(&self, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Storage) -> ApiResult<T> + Send + 'static,
    {
        let app = self.clone();
        tokio::task::spawn_blocking(move || work(&mut app.storage()))
            .await
            .map_err(|e| ApiError::internal("database task", e))?
    }

    /// The database, for code already on a blocking thread.
    fn storage(&self) -> MutexGuard<'_, Storage> {
        // A panic while holding the lock dropped its transaction (rolled back), so the
        // connection is still consistent.
        self.0
            .storage
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes every waiting `/sync`.
    pub(crate) fn notify(&self) {
        self.0.changes.send_modify(|generation| *generation += 1);
    }

    /// A receiver that sees the next [`App::notify`].
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.changes.subscribe()
    }

    /// Marks `user_id` as typing in `room_id` for `timeout`, or as stopped.
    pub(crate) fn set_typing(&self, room_id: &str, user_id: &str, timeout: Option<Duration>) {
        {
            let mut typing = self.typing();
            let users = typing.rooms.entry(room_id.to_owned()).or_default();
            let changed = match timeout {
                Some(timeout) => {
                    users.insert(user_id.to_owned(), Instant::now() + timeout);
                    true
                }
                None => users.remove(user_id).is_some(),
            };
            if !changed {
                return;
            }
            typing.serial += 1;
            let serial = typing.serial;
            typing.changed_at.insert(room_id.to_owned(), serial);
        }
        self.notify();
        if let Some(timeout) = timeout {
            // Expire the notification, so that syncs see the user stop.
            let (app, room, user) = (self.clone(), room_id.to_owned(), user_id.to_owned());
            tokio::spawn(async move {
                tokio::time::sleep(timeout).await;
                app.expire_typing(&room, &user);
            });
        }
    }

    fn expire_typing(&self, room_id: &str, user_id: &str) {
        {
            let mut typing = self.typing();
            let now = Instant::now();
            let Some(users) = typing.rooms.get_mut(room_id) else {
                return;
            };
            if users.get(user_id).is_none_or(|until| *until > now) {
                return;
            }
            users.remove(user_id);
            typing.serial += 1;
            let serial = typing.serial;
            typing.changed_at.insert(room_id.to_owned(), serial);
        }
        self.notify();
    }

    /// The typing serial now (part of sync tokens).
    pub(crate) fn typing_serial(&self) -> u64 {
        self.typing().serial
    }

    /// The users typing in `room_id` if it changed after `since`.
    pub(crate) fn typing_since(&self, room_id: &str, since: u64) -> Option<Vec<String>> {
        let typing = self.typing();
        if typing
            .changed_at
            .get(room_id)
            .is_none_or(|serial| *serial <= since)
        {
            return None;
        }
        let now = Instant::now();
        let users = typing.rooms.get(room_id)?;
        Some(
            users
                .iter()
                .filter(|(_, until)| **until > now)
                .map(|(user, _)| user.clone())
                .collect(),
        )
    }

    /// Records `user_id`'s presence and wakes the syncs when it changed.
    pub(crate) fn set_presence(&self, user_id: &str, presence: Presence) {
        {
            let mut typing = self.typing();
            if typing
                .presence
                .get(user_id)
                .is_some_and(|(known, _)| *known == presence)
            {
                return;
            }
            typing.serial += 1;
            let serial = typing.serial;
            typing
                .presence
                .insert(user_id.to_owned(), (presence, serial));
        }
        self.notify();
    }

    /// `user_id`'s presence, if known.
    pub(crate) fn presence(&self, user_id: &str) -> Option<Presence> {
        self.typing()
            .presence
            .get(user_id)
            .map(|(presence, _)| presence.clone())
    }

    /// The users whose presence changed after `since`, with it, by user ID.
    pub(crate) fn presence_since(&self, since: u64) -> Vec<(String, Presence)> {
        let mut changed: Vec<(String, Presence)> = self
            .typing()
            .presence
            .iter()
            .filter(|(_, (_, serial))| *serial > since)
            .map(|(user, (presence, _))| (user.clone(), presence.clone()))
            .collect();
        changed.sort_by(|a, b| a.0.cmp(&b.0));
        changed
    }

    fn typing(&self) -> MutexGuard<'_, Typing> {
        self.0.typing.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One open `/sync` of a user, counted until dropped.
pub(crate) struct SyncGuard {
    app: App,
    user_id: String,
}

impl Drop for SyncGuard {
    fn drop(&mut self) {
        let mut syncs = self.app.syncs();
        if let Some(open) = syncs.get_mut(&self.user_id) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                syncs.remove(&self.user_id);
            }
        }
    }
}
