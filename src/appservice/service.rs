//! The loaded set of application services: [`Registrations`] checks what holds across
//! registrations (unique IDs, distinct tokens, each sender a user ID on this server)
//! and answers who owns a user ID or alias and which service a token belongs to.

use std::hint::black_box;

use regex::{RegexSet, RegexSetBuilder};
use sha2::{Digest as _, Sha256};

use super::{NamespaceKind, REGEX_SIZE_LIMIT, Registration, RegistrationError};
use crate::id::{RoomAliasId, ServerName, UserId};

/// One loaded application service: its registration and its sender's user ID on this
/// server.
#[derive(Debug, Clone)]
pub struct ApplicationService {
    registration: Registration,
    sender: UserId,
    as_token_digest: [u8; 32],
    hs_token_digest: [u8; 32],
}

impl ApplicationService {
    /// The registration.
    #[must_use]
    pub fn registration(&self) -> &Registration {
        &self.registration
    }

    /// The registration's `id`.
    #[must_use]
    pub fn id(&self) -> &str {
        self.registration.id()
    }

    /// The service's own user, `@{sender_localpart}:{server_name}`.
    #[must_use]
    pub fn sender(&self) -> &UserId {
        &self.sender
    }

    /// Whether the service is interested in this user (Synapse's
    /// `is_interested_in_user`): it is the service's sender, or in its user namespace,
    /// exclusive or not.
    #[must_use]
    pub fn is_interested_in_user(&self, user_id: &str) -> bool {
        user_id == self.sender.as_str()
            || self
                .registration
                .is_in_namespace(NamespaceKind::Users, user_id)
    }

    /// Whether the service holds this user exclusively (Synapse's
    /// `is_exclusive_user`): its sender, or a user whose first matching namespace is
    /// exclusive.
    #[must_use]
    pub fn is_exclusive_user(&self, user_id: &str) -> bool {
        user_id == self.sender.as_str()
            || self
                .registration
                .is_exclusive(NamespaceKind::Users, user_id)
    }

    /// Whether the service holds this alias exclusively (its first matching alias
    /// namespace is exclusive).
    #[must_use]
    pub fn is_exclusive_alias(&self, alias: &str) -> bool {
        self.registration
            .is_exclusive(NamespaceKind::Aliases, alias)
    }

    /// Whether the service may act as `user_id` through `?user_id=` (the check before
    /// Synapse asks whether the user is registered): it is the sender, or in the user
    /// namespace. [`ApplicationService::masquerade`] makes the whole check.
    #[must_use]
    pub fn may_masquerade(&self, user_id: &str) -> bool {
        self.is_interested_in_user(user_id)
    }

    /// Whether a request made with this service's `as_token`, acting as `user_id`, is
    /// rate limited: as Synapse, never when the registration says `rate_limited: false`,
    /// and never for the service's sender.
    #[must_use]
    pub fn is_rate_limited(&self, user_id: &str) -> bool {
        self.registration.rate_limited() && user_id != self.sender.as_str()
    }

    /// Whether `token` is this service's `hs_token`, compared in constant time. For a
    /// bridge checking the homeserver's requests.
    #[must_use]
    pub fn verify_hs_token(&self, token: &str) -> bool {
        digest_eq(&digest(token), &self.hs_token_digest)
    }
}

/// The application services of one server, checked together.
///
/// ```
/// use matrix_serverlib::appservice::{Registration, Registrations};
/// use matrix_serverlib::id::ServerName;
///
/// let registration = Registration::from_json(&serde_json::json!({
///     "id": "irc", "url": null, "as_token": "a", "hs_token": "h",
///     "sender_localpart": "_irc_bot",
///     "namespaces": {"aliases": [{"exclusive": true, "regex": "#_irc_.*"}]},
/// }))?;
/// let services = Registrations::new(vec![registration], &ServerName::parse("example.org")?)?;
/// let bridge = services.by_as_token("a").ok_or("not found")?;
/// assert_eq!(bridge.sender().as_str(), "@_irc_bot:example.org");
/// assert!(services.by_as_token("h").is_none());
/// assert!(services.exclusive_alias_owner("#_irc_chan:example.org").is_some());
/// assert!(services.exclusive_user_owner("@_irc_bot:example.org").is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Registrations {
    services: Vec<ApplicationService>,
    users: Option<Combined>,
    aliases: Option<Combined>,
    rooms: Option<Combined>,
}

/// The namespaces of one kind of every service in one set, so that one search tells
/// which services' namespaces match a text.
#[derive(Debug, Clone)]
pub(crate) struct Combined {
    set: RegexSet,
    /// For each pattern of the set, the index of its service.
    owner: Vec<usize>,
}

impl Combined {
    /// `None` when no service has a namespace of this kind, or when the union is over
    /// the size bound (then each service's own set is asked instead).
    fn build(services: &[ApplicationService], kind: NamespaceKind) -> Option<Self> {
        let mut patterns = Vec::new();
        let mut owner = Vec::new();
        for (index, service) in services.iter().enumerate() {
            for pattern in service.registration.anchored_patterns(kind) {
                patterns.push(pattern.as_str());
                owner.push(index);
            }
        }
        if patterns.is_empty() {
            return None;
        }
        let limit = REGEX_SIZE_LIMIT.saturating_mul(patterns.len());
        let set = RegexSetBuilder::new(patterns)
            .size_limit(limit)
            .dfa_size_limit(limit)
            .build()
            .ok()?;
        Some(Self { set, owner })
    }

    /// Marks in `decided` every service with a namespace matching `text`; `scratch`
    /// is a buffer of the set's length.
    pub(crate) fn mark(&self, text: &str, decided: &mut [bool], scratch: &mut Vec<bool>) {
        // Most texts match nothing; that answer is cheaper than the list of matches.
        if !self.set.is_match(text) {
            return;
        }
        scratch.clear();
        scratch.resize(self.set.len(), false);
        if !self.set.matches_read_at(scratch, text, 0) {
            return;
        }
        for (hit, owner) in scratch.iter().zip(&self.owner) {
            if *hit && let Some(done) = decided.get_mut(*owner) {
                *done = true;
            }
        }
    }
}

impl Registrations {
    /// Loads `registrations` for the server `server_name`, keeping their order (which
    /// decides ties, as the order of Synapse's `app_service_config_files` does).
    ///
    /// # Errors
    ///
    /// [`RegistrationError::InvalidSenderLocalpart`] when a `sender_localpart` has
    /// characters that URL-encoding would change (Synapse's check: only `A–Z a–z 0–9
    /// _ . - ~ /`), is empty, or does not make a valid user ID on `server_name`;
    /// [`RegistrationError::DuplicateId`]; [`RegistrationError::DuplicateAsToken`];
    /// [`RegistrationError::AsTokenIsHsToken`] when an `as_token` equals any `hs_token`,
    /// its own included (Synapse checks only that `as_token`s are unique).
    pub fn new(
        registrations: Vec<Registration>,
        server_name: &ServerName,
    ) -> Result<Self, RegistrationError> {
        let mut services: Vec<ApplicationService> = Vec::with_capacity(registrations.len());
        for registration in registrations {
            let sender = sender(&registration, server_name)?;
            if services.iter().any(|s| s.id() == registration.id()) {
                return Err(RegistrationError::DuplicateId {
                    id: registration.id().to_owned(),
                });
            }
            let service = ApplicationService {
                as_token_digest: digest(registration.as_token()),
                hs_token_digest: digest(registration.hs_token()),
                registration,
                sender,
            };
            check_tokens(&services, &service)?;
            services.push(service);
        }
        Ok(Self {
            users: Combined::build(&services, NamespaceKind::Users),
            aliases: Combined::build(&services, NamespaceKind::Aliases),
            rooms: Combined::build(&services, NamespaceKind::Rooms),
            services,
        })
    }

    /// The services, in registration order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &ApplicationService> {
        self.services.iter()
    }

    /// How many services there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.services.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// The service with this `id`.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<&ApplicationService> {
        self.services.iter().find(|service| service.id() == id)
    }

    /// The service whose `as_token` is `token`: authenticates an application service's
    /// request (`Authorization: Bearer <as_token>`).
    ///
    /// Each comparison is of SHA-256 digests in constant time, and every service is
    /// compared, so the time taken tells nothing about how much of a guess was right.
    #[must_use]
    pub fn by_as_token(&self, token: &str) -> Option<&ApplicationService> {
        let candidate = digest(token);
        let mut found = None;
        for service in &self.services {
            if digest_eq(&candidate, &service.as_token_digest) && found.is_none() {
                found = Some(service);
            }
        }
        found
    }

    /// The service whose sender is `user_id`.
    #[must_use]
    pub fn by_sender(&self, user_id: &str) -> Option<&ApplicationService> {
        self.services
            .iter()
            .find(|service| service.sender.as_str() == user_id)
    }

    /// The first service that holds `user_id` exclusively: while there is one, an
    /// ordinary user may not register the ID (Synapse answers `M_EXCLUSIVE`).
    #[must_use]
    pub fn exclusive_user_owner(&self, user_id: &str) -> Option<&ApplicationService> {
        self.exclusive_user_owners(user_id).next()
    }

    /// Every service that holds `user_id` exclusively, in order. An application
    /// service registering a user in its namespace is refused when another service
    /// is among them (Synapse's `check_user_id_not_appservice_exclusive` with the
    /// registering service allowed).
    pub fn exclusive_user_owners<'a>(
        &'a self,
        user_id: &str,
    ) -> impl Iterator<Item = &'a ApplicationService> {
        self.services
            .iter()
            .filter(move |service| service.is_exclusive_user(user_id))
    }

    /// Whether `service` may register `user_id` for itself (`m.login.application_service`
    /// registration, Synapse's `appservice_register`): the user interests the service,
    /// and no other service holds it exclusively. Synapse answers `M_EXCLUSIVE` when
    /// not.
    #[must_use]
    pub fn may_register_as(&self, service: &ApplicationService, user_id: &str) -> bool {
        service.is_interested_in_user(user_id)
            && self
                .exclusive_user_owners(user_id)
                .all(|owner| owner.id() == service.id())
    }

    /// The first service whose alias namespaces match `alias` with an exclusive
    /// first match: while there is one, an ordinary user may not create or delete the
    /// alias (Synapse answers `M_EXCLUSIVE`).
    #[must_use]
    pub fn exclusive_alias_owner(&self, alias: &str) -> Option<&ApplicationService> {
        self.services
            .iter()
            .find(|service| service.is_exclusive_alias(alias))
    }

    /// Whether `user_id`, acting as itself (not through an application service token),
    /// may create or delete `alias` as far as namespaces go (Synapse's
    /// `can_modify_alias`): the services whose alias namespaces match are taken in
    /// order; the first whose sender is `user_id` allows it, the first holding it
    /// exclusively refuses it; none of either allows it.
    #[must_use]
    pub fn may_modify_alias(&self, alias: &RoomAliasId, user_id: &str) -> bool {
        for service in &self.services {
            let Some(namespace) = service
                .registration
                .matching_namespace(NamespaceKind::Aliases, alias.as_str())
            else {
                continue;
            };
            if service.sender.as_str() == user_id {
                return true;
            }
            if namespace.exclusive {
                return false;
            }
        }
        true
    }

    /// The services to ask `GET /_matrix/app/v1/users/{userId}` about an unknown local
    /// user, in order (Synapse asks each until one answers yes): those interested in
    /// the user that have a URL.
    pub fn user_query_targets<'a>(
        &'a self,
        user_id: &str,
    ) -> impl Iterator<Item = &'a ApplicationService> {
        self.services.iter().filter(move |service| {
            service.registration.url().is_some() && service.is_interested_in_user(user_id)
        })
    }

    /// The services to ask `GET /_matrix/app/v1/rooms/{roomAlias}` about an unknown
    /// alias, in order (Synapse asks each until one answers yes, then reads the alias
    /// again): those whose alias namespaces match it, exclusive or not, that have a
    /// URL.
    pub fn alias_query_targets<'a>(
        &'a self,
        alias: &str,
    ) -> impl Iterator<Item = &'a ApplicationService> {
        self.services.iter().filter(move |service| {
            service.registration.url().is_some()
                && service
                    .registration
                    .is_in_namespace(NamespaceKind::Aliases, alias)
        })
    }

    pub(crate) fn services(&self) -> &[ApplicationService] {
        &self.services
    }

    /// The same services without the combined sets, so that tests reach the
    /// per-service path taken when a union is over the size bound.
    #[cfg(test)]
    pub(crate) fn without_combined(mut self) -> Self {
        self.users = None;
        self.aliases = None;
        self.rooms = None;
        self
    }

    /// The combined set of one kind, if there is one.
    pub(crate) fn combined(&self, kind: NamespaceKind) -> Option<&Combined> {
        match kind {
            NamespaceKind::Aliases => self.aliases.as_ref(),
            NamespaceKind::Rooms => self.rooms.as_ref(),
            NamespaceKind::Users => self.users.as_ref(),
        }
    }
}

impl<'a> IntoIterator for &'a Registrations {
    type Item = &'a ApplicationService;
    type IntoIter = std::slice::Iter<'a, ApplicationService>;

    fn into_iter(self) -> Self::IntoIter {
        self.services.iter()
    }
}

/// The sender's user ID, checked as Synapse checks `sender_localpart`.
fn sender(
    registration: &Registration,
    server_name: &ServerName,
) -> Result<UserId, RegistrationError> {
    let localpart = registration.sender_localpart();
    let invalid = |reason: String| RegistrationError::InvalidSenderLocalpart {
        id: registration.id().to_owned(),
        localpart: localpart.to_owned(),
        reason,
    };
    if localpart.is_empty() {
        return Err(invalid("it is empty".to_owned()));
    }
    // Synapse: `urllib.parse.quote(localpart) == localpart`, whose safe set is the
    // unreserved characters and `/`.
    if let Some(bad) = localpart
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '~' | '/')))
    {
        return Err(invalid(format!("{bad:?} would be URL-encoded")));
    }
    UserId::parse(&format!("@{localpart}:{}", server_name.as_str()))
        .map_err(|error| invalid(error.to_string()))
}

/// No `as_token` equal to an earlier service's `as_token`, and none equal to any
/// `hs_token` (an `hs_token` is sent to the service's URL, so whoever runs that URL
/// could otherwise act as a service).
fn check_tokens(
    earlier: &[ApplicationService],
    new: &ApplicationService,
) -> Result<(), RegistrationError> {
    let id = |service: &ApplicationService| service.id().to_owned();
    if new.as_token_digest == new.hs_token_digest {
        return Err(RegistrationError::AsTokenIsHsToken {
            as_token_of: id(new),
            hs_token_of: id(new),
        });
    }
    for other in earlier {
        if other.as_token_digest == new.as_token_digest {
            return Err(RegistrationError::DuplicateAsToken {
                first: id(other),
                second: id(new),
            });
        }
        if other.hs_token_digest == new.as_token_digest {
            return Err(RegistrationError::AsTokenIsHsToken {
                as_token_of: id(new),
                hs_token_of: id(other),
            });
        }
        if other.as_token_digest == new.hs_token_digest {
            return Err(RegistrationError::AsTokenIsHsToken {
                as_token_of: id(other),
                hs_token_of: id(new),
            });
        }
    }
    Ok(())
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Equality of two digests without an early exit.
fn digest_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    black_box(difference) == 0
}
