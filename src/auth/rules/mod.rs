//! The authorization rules, one file per event type or check: the create event (rule
//! A), an event's own `auth_events` and, in room version 12, the create event its room
//! ID names (rules C and B), `m.room.aliases` (E), `m.room.member` (F),
//! `m.room.third_party_invite` (H), `m.room.power_levels` (K) and `m.room.redaction`
//! (L). [`crate::auth::check`] runs them in the spec's order.

pub(super) mod aliases;
pub(super) mod auth_events;
pub(super) mod create;
pub(super) mod member;
pub(super) mod power_levels;
pub(super) mod redaction;
pub(super) mod third_party_invite;
