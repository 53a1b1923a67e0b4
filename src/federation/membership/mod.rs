//! The membership handshakes of federation, on both sides: join, leave, knock and
//! invite (<https://spec.matrix.org/v1.16/server-server-api/#joining-rooms>).
//!
//! Resident side: [`make_join_template`], [`make_leave_template`] and
//! [`make_knock_template`] answer make_*; [`check_send_membership`] checks the signed
//! event of send_join, send_leave and send_knock; [`countersign`] signs a restricted
//! join; [`send_join_response`] builds the send_join answer, full or partial
//! ([`partial_state_selection`], [`send_join_auth_chain`]).
//!
//! Invites: [`check_incoming_invite`] and [`invite_response`] for an invite to one of
//! our users; [`invite_v2_body`] and [`check_invite_response`] for one we send.
//!
//! Joining, leaving and knocking side: the step machines [`JoinHandshake`],
//! [`LeaveHandshake`] and [`KnockHandshake`], which fail over across residents and,
//! for a join, validate the send_join answer into a [`JoinedRoom`].
//!
//! Every error maps to the spec's `errcode` through
//! [`MatrixError`](crate::federation::error::MatrixError).

mod error;
mod handshake;
mod incoming;
mod invite;
mod join;
mod knock;
mod leave;
mod response;
mod template;

pub use error::{AttemptError, HandshakeError, MembershipError};
pub use handshake::{HandshakeParams, KnockedRoom, LeftRoom, MAX_KNOCK_ROOM_STATE, Step};
pub use incoming::{
    Membership, SendJoinAnswer, SendMembership, check_send_membership, countersign,
    partial_state_selection, send_join_auth_chain, send_join_response,
};
pub use invite::{
    IncomingInvite, InviteApi, InviteRequest, InviteStateEvent, MAX_INVITE_ROOM_STATE,
    check_incoming_invite, check_invite_response, invite_response, invite_v2_body,
};
pub use join::JoinHandshake;
pub use knock::KnockHandshake;
pub use leave::LeaveHandshake;
pub use response::{DropReason, DroppedEvent, JoinedRoom, MAX_RESPONSE_EVENTS, RejectReason};
pub use template::{
    DEFAULT_VERSIONS, MAX_TEMPLATE_PREV_EVENTS, RoomState, TemplateParams, make_join_template,
    make_knock_template, make_leave_template,
};

#[cfg(test)]
mod tests;
