//! The requests a homeserver makes to an application service, as data: transactions,
//! user and alias queries and ping
//! (<https://spec.matrix.org/v1.16/application-service-api/#pushing-events>), each a
//! method, a percent-encoded path, an optional JSON body and the
//! `Authorization: Bearer <hs_token>` value. Sending them is the caller's job.

use super::Registration;
use crate::event::ClientEvent;
use crate::federation::path::encode;
use crate::id::{RoomAliasId, UserId};
use crate::json::{self, Object, Value};

/// The HTTP method of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
}

impl Method {
    /// The method's name, such as `"PUT"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
        }
    }
}

/// One request to an application service.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AsRequest {
    /// The method.
    pub method: Method,
    /// The path, with each argument percent-encoded as one segment (every byte
    /// outside `A–Z a–z 0–9 - . _ ~`, so a `/` in an ID cannot add a segment).
    pub path: String,
    /// The registration's URL followed by the path; `None` when the registration has
    /// `url: null`, and then nothing is sent (Synapse counts a transaction as
    /// delivered and a query as answered "no").
    pub url: Option<String>,
    /// The JSON body, if the request has one.
    pub body: Option<Object>,
    /// The `Authorization` header's value, `Bearer <hs_token>`.
    pub authorization: String,
}

impl AsRequest {
    fn new(
        registration: &Registration,
        method: Method,
        path: String,
        body: Option<Object>,
    ) -> Self {
        Self {
            method,
            url: registration.url().map(|base| format!("{base}{path}")),
            path,
            body,
            authorization: format!("Bearer {}", registration.hs_token()),
        }
    }

    /// The body encoded as JSON bytes (canonical JSON, which every JSON parser reads).
    #[must_use]
    pub fn body_bytes(&self) -> Option<Vec<u8>> {
        self.body
            .as_ref()
            .map(|body| json::to_vec(&Value::Object(body.clone())))
    }
}

/// Transaction IDs for one service, increasing by one from the last the caller
/// stored: the caller persists [`TransactionCounter::last`] with the transaction, and
/// resumes with [`TransactionCounter::resume`] after a restart, so that an ID is never
/// reused for different contents (the service deduplicates on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TransactionCounter {
    last: u64,
}

impl TransactionCounter {
    /// A counter that has issued nothing; the first ID is 1.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A counter whose last issued ID was `last`.
    #[must_use]
    pub fn resume(last: u64) -> Self {
        Self { last }
    }

    /// The last ID issued (0 for none).
    #[must_use]
    pub fn last(&self) -> u64 {
        self.last
    }

    /// The next ID; `None` once `u64::MAX` has been issued.
    pub fn next_id(&mut self) -> Option<u64> {
        self.last = self.last.checked_add(1)?;
        Some(self.last)
    }
}

/// A `PUT /_matrix/app/v1/transactions/{txnId}` under construction.
///
/// The body is `{"events": [...]}`, plus, when the service asked for ephemeral events,
/// the ephemeral events under `ephemeral` (for `receive_ephemeral`) and under
/// `de.sorunome.msc2409.ephemeral` (for the unstable `push_ephemeral`), and the
/// to-device messages under `de.sorunome.msc2409.to_device`, as Synapse's `push_bulk`
/// writes them. Ephemeral events given to a service that did not ask are left out.
#[derive(Debug, Clone)]
#[must_use]
pub struct Transaction<'a> {
    registration: &'a Registration,
    txn_id: u64,
    events: Vec<Value>,
    ephemeral: Vec<Value>,
    to_device: Vec<Value>,
}

impl<'a> Transaction<'a> {
    /// An empty transaction with this ID (from a [`TransactionCounter`]).
    pub fn new(registration: &'a Registration, txn_id: u64) -> Self {
        Self {
            registration,
            txn_id,
            events: Vec::new(),
            ephemeral: Vec::new(),
            to_device: Vec::new(),
        }
    }

    /// Adds a room event, in the client format with `room_id` (build it with
    /// [`ClientEvent::now`] so that it carries `unsigned.age`, as Synapse's do).
    pub fn event(mut self, event: &ClientEvent<'_>) -> Self {
        self.events.push(Value::Object(event.to_object()));
        self
    }

    /// Adds an ephemeral event (`m.typing`, `m.receipt`, `m.presence`, with its
    /// `type`, `room_id` or `sender`, and `content`).
    pub fn ephemeral(mut self, event: Object) -> Self {
        self.ephemeral.push(Value::Object(event));
        self
    }

    /// Adds a to-device message for one of the service's users.
    pub fn to_device(mut self, message: Object) -> Self {
        self.to_device.push(Value::Object(message));
        self
    }

    /// The transaction ID.
    #[must_use]
    pub fn txn_id(&self) -> u64 {
        self.txn_id
    }

    /// The number of room events.
    #[must_use]
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether there are no room events.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The request.
    #[must_use]
    pub fn to_request(&self) -> AsRequest {
        let registration = self.registration;
        let mut body = Object::new();
        body.insert("events", Value::Array(self.events.clone()));
        if registration.stable_ephemeral() {
            body.insert("ephemeral", Value::Array(self.ephemeral.clone()));
        }
        if registration.unstable_ephemeral() {
            body.insert(
                "de.sorunome.msc2409.ephemeral",
                Value::Array(self.ephemeral.clone()),
            );
        }
        if registration.receive_ephemeral() {
            body.insert(
                "de.sorunome.msc2409.to_device",
                Value::Array(self.to_device.clone()),
            );
        }
        let path = format!("/_matrix/app/v1/transactions/{}", self.txn_id);
        AsRequest::new(registration, Method::Put, path, Some(body))
    }
}

/// `GET /_matrix/app/v1/users/{userId}`: does the service know this user? (It creates
/// the user and answers 200, or answers 404.)
#[must_use]
pub fn user_query(registration: &Registration, user_id: &UserId) -> AsRequest {
    let path = format!("/_matrix/app/v1/users/{}", encode(user_id.as_str()));
    AsRequest::new(registration, Method::Get, path, None)
}

/// `GET /_matrix/app/v1/rooms/{roomAlias}`: does the service know this alias? (It
/// creates the room with the alias and answers 200, or answers 404.)
#[must_use]
pub fn alias_query(registration: &Registration, alias: &RoomAliasId) -> AsRequest {
    let path = format!("/_matrix/app/v1/rooms/{}", encode(alias.as_str()));
    AsRequest::new(registration, Method::Get, path, None)
}

/// `POST /_matrix/app/v1/ping` with `{"transaction_id": ...}` (`null` without one, as
/// Synapse sends it), for the client API's
/// `POST /_matrix/client/v1/appservice/{appserviceId}/ping`.
#[must_use]
pub fn ping(registration: &Registration, transaction_id: Option<&str>) -> AsRequest {
    let mut body = Object::new();
    body.insert(
        "transaction_id",
        transaction_id.map_or(Value::Null, Value::from),
    );
    AsRequest::new(
        registration,
        Method::Post,
        "/_matrix/app/v1/ping".to_owned(),
        Some(body),
    )
}
