//! The knocking side of a knock: make_knock (with `ver`, which knocks require), then
//! send_knock, whose answer's `knock_room_state` must hold the create event
//! (<https://spec.matrix.org/v1.16/server-server-api/#knocking-upon-a-room>).

use super::error::HandshakeError;
use super::handshake::{HandshakeParams, KnockedRoom, Machine, Outcome, Step};
use super::incoming::Membership;
use crate::federation::outbound::{Reply, RequestId};

/// Knocks on a room through one of several residents, the way
/// [`super::JoinHandshake`] joins (the same template checks and fail-over); it never
/// asks for keys.
///
/// ```
/// # use matrix_serverlib::crypto::SigningKey;
/// # use matrix_serverlib::federation::membership::{HandshakeParams, KnockHandshake, Step};
/// # use matrix_serverlib::id::{RoomId, ServerName, UserId};
/// let params = HandshakeParams::new(
///     UserId::parse("@me:us.example")?,
///     RoomId::parse("!room:them.example")?,
///     vec![ServerName::parse("them.example")?],
///     ServerName::parse("us.example")?,
///     SigningKey::from_seed("ed25519:a", [3; 32]),
///     1_700_000_000_000,
/// );
/// let mut knock = KnockHandshake::new(params);
/// let Step::Send(request) = knock.poll() else { return Err("expected a request".into()) };
/// assert!(request.uri.contains("make_knock") && request.uri.contains("ver="));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct KnockHandshake {
    machine: Machine,
}

impl KnockHandshake {
    /// A handshake that has sent nothing yet.
    #[must_use]
    pub fn new(params: HandshakeParams) -> Self {
        Self {
            machine: Machine::new(params, Membership::Knock),
        }
    }

    /// What to do next. After `Done` or `Failed`, it answers
    /// `Failed(HandshakeError::Finished)`.
    pub fn poll(&mut self) -> Step<KnockedRoom> {
        match self.machine.poll() {
            Step::Done(outcome) => match *outcome {
                Outcome::Knocked(room) => Step::Done(room),
                _ => Step::Failed(HandshakeError::Finished),
            },
            other => other.map_outcome(),
        }
    }

    /// The reply to the request named `id` (replies to other IDs are ignored).
    pub fn provide_reply(&mut self, id: RequestId, reply: Reply) {
        self.machine.provide_reply(id, reply);
    }
}
