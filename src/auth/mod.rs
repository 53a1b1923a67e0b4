//! The authorization rules of every room version
//! (<https://spec.matrix.org/v1.16/rooms/v12/#authorization-rules>), as pure functions
//! that answer with a typed [`Rejection`].
//!
//! [`authorize`] is the one call that authorizes an event completely (rules B, C and
//! the state-dependent rules), and [`authorize_by_auth_events`] is check 4 on receipt
//! (the event's own auth events as the state). The parts stay available:
//! authorization follows "ask, then supply": [`auth_types_pdu`] lists the state
//! entries an event needs ([`auth_types`] the same for an event still being built, as
//! JSON), the caller looks them up and passes them as [`AuthEvents`] to [`check`],
//! which applies the create-event rules (A) to a create event and the state-dependent
//! rules (D to M) to any other. [`check_auth_events`] applies rule C, which reads only
//! the events the event lists in its own `auth_events`, and
//! [`check_room_create_event`] rule B (v12), which reads only the create event its
//! room ID names.
//!
//! Every rule reads the event and the state through [`Pdu`](crate::event::Pdu): the
//! fields the parser checked once (sender, type, state key, references, event ID,
//! `content.membership`) are read from it, not looked up again in the JSON.
//! [`PowerLevels`] reads power levels under a room version's rules, for these rules
//! and for state resolution.
//!
//! Comments and [`Rejection`] variants cite the rules by letter, in the order every
//! room version applies them: A (create events), B (v12: the room ID names the create
//! event), C (the event's own `auth_events`), D (`m.federate`), E (v1–5
//! `m.room.aliases`), F (`m.room.member`), G (sender joined), H
//! (`m.room.third_party_invite`), I (required power level), J (user state keys), K
//! (`m.room.power_levels`), L (v1–2 `m.room.redaction`), M (allow); "rule F.3.4" is
//! the fourth item of the third item of F. The spec numbers them per version: in v12
//! A–D are rules 1–4 and F–K rules 5–10; in v6–11 A, C, D are 1–3 and F–K 4–9; in
//! v1–5 E is rule 4 and F–L rules 5–11 (L only in v1–2).
//!
//! Where Synapse, which decides what the network accepts, differs from the spec's
//! text, these functions match Synapse and say so where it happens: `m.federate` values
//! other than `true` block federation and the check also covers member events'
//! targets; a missing join-rules event reads as `invite`; power-levels `users` keys
//! need only `@` and a `:`.

mod authorize;
mod check;
mod fields;
mod power_levels_reader;
mod rejection;
mod rules;
mod state;

pub use authorize::{authorize, authorize_by_auth_events};
pub use check::check;
pub(crate) use check::check_as;
pub use power_levels_reader::{
    DEFAULT_NOTIFICATIONS_ROOM, NamedLevel, PowerLevel, PowerLevels, PowerLevelsContent,
    PowerLevelsError, parse_level,
};
pub use rejection::{AdditionalCreatorsProblem, Rejection, ThirdPartyInviteProblem};
pub use rules::auth_events::{check_auth_events, check_room_create_event};
pub use state::{AuthEvents, auth_types, auth_types_pdu};

#[cfg(test)]
mod tests;
