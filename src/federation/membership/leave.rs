//! The leaving side of a remote leave (rejecting an invite, or retracting a knock,
//! through a resident): make_leave, then send_leave (v2)
//! (<https://spec.matrix.org/v1.16/server-server-api/#leaving-rooms-rejecting-invites>).

use super::error::HandshakeError;
use super::handshake::{HandshakeParams, LeftRoom, Machine, Outcome, Step};
use super::incoming::Membership;
use crate::federation::outbound::{Reply, RequestId};

/// Leaves a room through one of several residents, the way [`super::JoinHandshake`]
/// joins (the same template checks and fail-over); the send_leave answer carries
/// nothing to check, so it never asks for keys.
///
/// ```
/// # use matrix_serverlib::crypto::SigningKey;
/// # use matrix_serverlib::federation::membership::{HandshakeParams, LeaveHandshake, Step};
/// # use matrix_serverlib::id::{RoomId, ServerName, UserId};
/// let params = HandshakeParams::new(
///     UserId::parse("@me:us.example")?,
///     RoomId::parse("!room:them.example")?,
///     vec![ServerName::parse("them.example")?],
///     ServerName::parse("us.example")?,
///     SigningKey::from_seed("ed25519:a", [3; 32]),
///     1_700_000_000_000,
/// );
/// let mut leave = LeaveHandshake::new(params);
/// let Step::Send(request) = leave.poll() else { return Err("expected a request".into()) };
/// assert!(request.uri.starts_with("/_matrix/federation/v1/make_leave/"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct LeaveHandshake {
    machine: Machine,
}

impl LeaveHandshake {
    /// A handshake that has sent nothing yet.
    #[must_use]
    pub fn new(params: HandshakeParams) -> Self {
        Self {
            machine: Machine::new(params, Membership::Leave),
        }
    }

    /// What to do next. After `Done` or `Failed`, it answers
    /// `Failed(HandshakeError::Finished)`.
    pub fn poll(&mut self) -> Step<LeftRoom> {
        match self.machine.poll() {
            Step::Done(outcome) => match *outcome {
                Outcome::Left(room) => Step::Done(room),
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
