//! The rule switches that make up a room version.

use crate::id::EventIdFormat;

/// Everything that differs between room versions, as named switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoomVersion {
    /// The version string, such as `"11"`.
    pub id: &'static str,
    /// How events are laid out on the wire.
    pub event_format: EventFormat,
    /// How event IDs are written.
    pub event_id_format: EventIdFormat,
    /// v12: the create event has no `room_id`; the room ID is the create event's ID with
    /// `!` for `$`, and the create event is never listed in `auth_events`.
    pub room_id_from_create_event: bool,
    /// v6+: events must be strict canonical JSON (no floats, integers within
    /// ±(2^53−1)).
    pub strict_canonical_json: bool,
    /// v11+: the 255-byte limits on `sender`, `room_id`, `type`, `state_key` and
    /// `event_id` are hard limits. Before, Synapse enforced 255 code points and counted
    /// a byte overrun as a rejection, not a malformed event; servers follow that.
    pub strict_event_byte_limits: bool,
    /// The state resolution algorithm.
    pub state_res: StateResAlgorithm,
    /// What redaction keeps.
    pub redaction: RedactionRules,
    /// Switches of the authorization rules.
    pub auth: AuthRules,
    /// How power-level values are read.
    pub power_levels: PowerLevelRules,
    /// Who must sign an event and which keys count.
    pub signatures: SignatureRules,
}

/// The wire layout of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventFormat {
    /// Room versions 1 and 2: the PDU carries its own `event_id`, and `prev_events` /
    /// `auth_events` are `[event_id, {"sha256": hash}]` pairs.
    EventIdInPdu,
    /// Room versions 3 and later: the event ID is the reference hash, and
    /// `prev_events` / `auth_events` are plain lists of event IDs.
    ReferenceHashIds,
}

/// The state resolution algorithm of a room version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StateResAlgorithm {
    /// State resolution v1 (room version 1).
    V1,
    /// State resolution v2 (room versions 2 to 11).
    V2,
    /// State resolution v2.1 (room version 12): conflicted subgraph, empty start.
    V2_1,
}

/// What the redaction algorithm keeps, beyond what every version keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedactionRules {
    /// v1–10: keep the top-level `origin`, `membership` and `prev_state`.
    pub keeps_origin_membership_prev_state: bool,
    /// v1–5: keep `aliases` in `m.room.aliases` content.
    pub keeps_aliases: bool,
    /// v8+: keep `allow` in `m.room.join_rules` content.
    pub keeps_join_rules_allow: bool,
    /// v9+: keep `join_authorised_via_users_server` in `m.room.member` content.
    pub keeps_join_authorised_via_users_server: bool,
    /// v11+: keep all of `m.room.create` content (before: only `creator`).
    pub keeps_all_create_content: bool,
    /// v11+: keep `invite` in `m.room.power_levels` content.
    pub keeps_power_levels_invite: bool,
    /// v11+: keep `redacts` in `m.room.redaction` content.
    pub keeps_redaction_redacts: bool,
    /// v11+: keep `third_party_invite.signed` in `m.room.member` content.
    pub keeps_third_party_invite_signed: bool,
}

/// Switches of the authorization rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthRules {
    /// v1–2: the auth rule for `m.room.redaction` (redact level or same server).
    pub redaction_rule: bool,
    /// v1–5: the special auth rule for `m.room.aliases`.
    pub aliases_rule: bool,
    /// v7+: the `knock` membership and join rule.
    pub knock: bool,
    /// v8+: the `restricted` join rule and `join_authorised_via_users_server`.
    pub restricted_join_rule: bool,
    /// v10+: the `knock_restricted` join rule.
    pub knock_restricted_join_rule: bool,
    /// v1–10: `content.creator` is required on the create event and names the creator;
    /// from v11 the creator is the create event's `sender`.
    pub creator_in_content: bool,
    /// v12: the create event's sender and `content.additional_creators` are creators
    /// with infinite power, who may not appear in `users`.
    pub creators_infinite_power: bool,
}

/// How power-level values are read and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PowerLevelRules {
    /// v1–9: levels written as strings of decimal digits count as integers.
    pub string_values: bool,
    /// v1–5: levels written as floats count, truncated toward zero.
    pub float_values: bool,
    /// v10+: every level must be a JSON integer or the event is rejected.
    pub integer_only: bool,
    /// v6+: changes to `notifications` levels are checked like `events`.
    pub notifications_checked: bool,
}

/// Signature rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignatureRules {
    /// v1–2: the server named in the event ID must sign too.
    pub event_id_server_signs: bool,
    /// v5+: a key only counts for events sent while it was valid.
    pub enforce_key_validity: bool,
    /// v8+: the server of `join_authorised_via_users_server` must sign.
    pub authorising_server_signs: bool,
}
