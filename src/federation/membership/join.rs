//! The joining side of a join: make_join, then send_join (v2), failing over across
//! candidate residents, and validating the answer before the room is taken as joined
//! (<https://spec.matrix.org/v1.16/server-server-api/#joining-rooms>).

use super::handshake::{HandshakeParams, Machine, Outcome, Step};
use super::incoming::Membership;
use super::response::JoinedRoom;
use crate::crypto::PublicKeys;
use crate::federation::outbound::{Reply, RequestId};

/// Joins a room through one of several residents, without I/O: [`Self::poll`] says
/// what to send or which keys to fetch; replies go back through
/// [`Self::provide_reply`] and keys through [`Self::provide_keys`].
///
/// For each candidate in turn it asks for a template (make_join with our `ver`
/// list), checks it (room, sender, state key, type, membership, a room version we
/// support), signs our join from it, sends it (send_join v2) and validates the answer
/// (see [`JoinedRoom`] and the module docs of the response check): a transport
/// failure, a bad answer, a 5xx or the codes Synapse fails over on move to the next
/// candidate; another refusal (such as a ban) ends the handshake.
///
/// ```
/// # use matrix_serverlib::crypto::SigningKey;
/// # use matrix_serverlib::federation::membership::{HandshakeParams, JoinHandshake, Step};
/// # use matrix_serverlib::federation::outbound::Reply;
/// # use matrix_serverlib::id::{RoomId, ServerName, UserId};
/// let params = HandshakeParams::new(
///     UserId::parse("@me:us.example")?,
///     RoomId::parse("!room:them.example")?,
///     vec![ServerName::parse("them.example")?],
///     ServerName::parse("us.example")?,
///     SigningKey::from_seed("ed25519:a", [3; 32]),
///     1_700_000_000_000,
/// );
/// let mut join = JoinHandshake::new(params);
/// let Step::Send(request) = join.poll() else { return Err("expected a request".into()) };
/// assert!(request.uri.starts_with("/_matrix/federation/v1/make_join/"));
/// join.provide_reply(request.id, Reply::response(404, r#"{"errcode":"M_NOT_FOUND"}"#));
/// assert!(matches!(join.poll(), Step::Failed(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct JoinHandshake {
    machine: Machine,
}

impl JoinHandshake {
    /// A handshake that has sent nothing yet.
    #[must_use]
    pub fn new(params: HandshakeParams) -> Self {
        Self {
            machine: Machine::new(params, Membership::Join),
        }
    }

    /// What to do next. After `Done` or `Failed`, it answers
    /// `Failed(HandshakeError::Finished)`.
    pub fn poll(&mut self) -> Step<JoinedRoom> {
        match self.machine.poll() {
            Step::Done(outcome) => match *outcome {
                Outcome::Joined(room) => Step::Done(room),
                _ => Step::Failed(super::error::HandshakeError::Finished),
            },
            other => other.map_outcome(),
        }
    }

    /// The reply to the request named `id` (replies to other IDs are ignored).
    pub fn provide_reply(&mut self, id: RequestId, reply: Reply) {
        self.machine.provide_reply(id, reply);
    }

    /// The keys asked for in [`Step::NeedKeys`] (all that could be found; events
    /// whose signatures cannot be checked are dropped).
    pub fn provide_keys(&mut self, keys: &PublicKeys) {
        self.machine.provide_keys(keys);
    }
}
