//! Why the authorization rules reject an event: one variant per rule, in spec order.

use super::power_levels_reader::{NamedLevel, PowerLevel, PowerLevelsError};
use crate::event::StateKey;

/// Why an event fails the authorization rules.
///
/// Variants follow the rules' order in the spec (rules A to M of the room versions'
/// "authorization rules"; the doc of each names its rule). [`Rejection::reason`] gives a
/// stable short word for each; `Display` gives a sentence for a server administrator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// Before rule A: the event lacks a field every rule reads: a string `type`, and a
    /// string `sender` with a server name.
    #[error("event has no valid {field}")]
    MalformedEvent {
        /// The missing field.
        field: &'static str,
    },

    /// Rule A.1: a create event has `prev_events`.
    #[error("create event has {count} prev_events, but must have none")]
    CreateHasPrevEvents {
        /// How many it lists.
        count: usize,
    },
    /// Rule A.2 (v1–11): the create event's `room_id` is not on the sender's server.
    #[error("create event's room ID {room_id:?} is not on the server of sender {sender}")]
    CreateRoomIdServerMismatch {
        /// The `room_id`, if it is a string.
        room_id: Option<String>,
        /// The sender.
        sender: String,
    },
    /// Rule A.2 (v12): the create event carries a `room_id`.
    #[error("create event carries a room_id ({room_id}), which room version 12 forbids")]
    CreateHasRoomId {
        /// The `room_id` as JSON.
        room_id: String,
    },
    /// Rule A.3: `content.room_version` names no supported room version.
    #[error("create event names unsupported room version {room_version}")]
    CreateUnsupportedRoomVersion {
        /// The value as JSON.
        room_version: String,
    },
    /// Rule A.4 (v1–10): the create event has no `content.creator`.
    #[error("create event has no creator in its content")]
    CreateMissingCreator,
    /// Rule A.5 (v12): `content.additional_creators` is not a list of user IDs.
    #[error("create event's additional_creators is invalid: {problem}")]
    CreateInvalidAdditionalCreators {
        /// What is wrong.
        problem: AdditionalCreatorsProblem,
    },

    /// Before rule B: the state holds no create event, so nothing can be judged
    /// (Synapse: "missing a create event in auth_events").
    #[error("no create event in the state the event is checked against")]
    MissingCreateEvent,
    /// Rule B (v12): the create event supplied is not the one the `room_id` names.
    #[error(
        "room ID {room_id:?} is not derived from the create event (which gives {create_room_id})"
    )]
    CreateEventNotRoomId {
        /// The event's `room_id`, if it is a string.
        room_id: Option<String>,
        /// The room ID the supplied create event defines.
        create_room_id: String,
    },

    /// Rule C: a listed auth event belongs to another room.
    #[error("auth event {key} belongs to room {room_id:?}, not this one")]
    AuthEventWrongRoom {
        /// The listed event's key.
        key: StateKey,
        /// Its `room_id`, if it is a string.
        room_id: Option<String>,
    },
    /// Rule C: two listed auth events share a type and state key.
    #[error("auth_events lists two events for {key}")]
    DuplicateAuthEvent {
        /// The shared key.
        key: StateKey,
    },
    /// Rule C: a listed auth event is not one the selection rules pick (in v12 this
    /// includes the create event).
    #[error("auth_events lists {key}, which the auth-event selection does not pick")]
    UnexpectedAuthEvent {
        /// The listed event's key.
        key: StateKey,
    },
    /// Rule C (v1–11): `auth_events` lists no create event.
    #[error("auth_events lists no create event")]
    CreateEventNotListed,

    /// Rule D: the room does not federate and the sender (or a member event's target)
    /// is on another server than the room's creator. Like Synapse, any `m.federate`
    /// value other than `true` blocks.
    #[error("room does not federate: {user} is not on the creator's server {create_server}")]
    NotFederated {
        /// The remote user (the sender, or a member event's target).
        user: String,
        /// The create event sender's server.
        create_server: String,
    },

    /// Rule E (v1–5): an `m.room.aliases` event has no state key (or an empty one).
    #[error("m.room.aliases event has no state key")]
    AliasesMissingStateKey,
    /// Rule E (v1–5): an `m.room.aliases` state key is not the sender's server.
    #[error("m.room.aliases state key {state_key:?} is not the sender's server {sender_server:?}")]
    AliasesStateKeyMismatch {
        /// The state key.
        state_key: String,
        /// The sender's server.
        sender_server: String,
    },

    /// Rule F.1: a member event lacks `state_key` or `content.membership` (or the state
    /// key is not a user ID).
    #[error("member event has no valid {field}")]
    MemberMalformed {
        /// `state_key` or `membership`.
        field: &'static str,
    },
    /// Rule F.3.2: a join whose sender is not its state key.
    #[error("{sender} cannot join on behalf of {target}")]
    JoinForOtherUser {
        /// The sender.
        sender: String,
        /// The state key.
        target: String,
    },
    /// Rule F.3.2: the joining user is banned.
    #[error("{user} is banned from the room and cannot join")]
    JoinBanned {
        /// The user.
        user: String,
    },
    /// Rule F.3.3: an `invite` (v7+: `knock`) room needs an invite or membership.
    #[error("{user} is not invited to this {join_rule} room ({})", membership_text(membership.as_deref()))]
    JoinNotInvited {
        /// The user.
        user: String,
        /// The join rule.
        join_rule: String,
        /// The user's current membership.
        membership: Option<String>,
    },
    /// Rule F.3.4 (v8+): a restricted join names no authorising user.
    #[error("join to a restricted room by {user} names no authorising user")]
    JoinMissingAuthoriser {
        /// The user.
        user: String,
    },
    /// Rule F.3.4 (v8+): the authorising user is not joined.
    #[error("authorising user {authoriser:?} is not joined ({})", membership_text(membership.as_deref()))]
    JoinAuthoriserNotJoined {
        /// `join_authorised_via_users_server` as JSON.
        authoriser: String,
        /// Their membership.
        membership: Option<String>,
    },
    /// Rule F.3.4 (v8+): the authorising user cannot invite.
    #[error(
        "authorising user {authoriser} has power level {level}, below the invite level {needed}"
    )]
    JoinAuthoriserInsufficientPower {
        /// The authorising user.
        authoriser: String,
        /// Their level.
        level: PowerLevel,
        /// The invite level.
        needed: i64,
    },
    /// Rule F.3.6: the join rule lets nobody join this way (no rule met, `private`, or
    /// a rule unknown to the room version).
    #[error("join rule {join_rule:?} does not allow {user} to join")]
    JoinRuleForbids {
        /// The user.
        user: String,
        /// The join rule, if it is a string.
        join_rule: Option<String>,
    },
    /// Rule F.4.1: a third-party invite's target is banned.
    #[error("{target} is banned from the room and cannot be invited")]
    ThirdPartyInviteTargetBanned {
        /// The target.
        target: String,
    },
    /// Rule F.4.1: the third-party invite does not check out.
    #[error("third-party invite is invalid: {problem}")]
    ThirdPartyInviteInvalid {
        /// What is wrong.
        problem: ThirdPartyInviteProblem,
    },
    /// Rule F.4.2: the inviter is not joined.
    #[error("{sender} cannot invite: not joined to the room ({})", membership_text(membership.as_deref()))]
    InviteSenderNotJoined {
        /// The sender.
        sender: String,
        /// Their membership.
        membership: Option<String>,
    },
    /// Rule F.4.2: the invitee is banned.
    #[error("{target} is banned from the room and cannot be invited")]
    InviteTargetBanned {
        /// The target.
        target: String,
    },
    /// Rule F.4.2: the invitee is already joined.
    #[error("{target} is already in the room")]
    InviteTargetJoined {
        /// The target.
        target: String,
    },
    /// Rule F.4.2: the inviter's level is below the invite level.
    #[error("sender has power level {level}, below the invite level {needed}")]
    InviteInsufficientPower {
        /// The sender's level.
        level: PowerLevel,
        /// The invite level.
        needed: i64,
    },
    /// Rule F.5.1: a user leaves a room they are not invited to, joined to or (v7+)
    /// knocking on.
    #[error("{user} cannot leave: {}", membership_text(membership.as_deref()))]
    LeaveNotMember {
        /// The user.
        user: String,
        /// Their membership.
        membership: Option<String>,
    },
    /// Rule F.5.2: the sender of a kick or unban is not joined.
    #[error("{sender} cannot kick or unban: not joined to the room ({})", membership_text(membership.as_deref()))]
    LeaveSenderNotJoined {
        /// The sender.
        sender: String,
        /// Their membership.
        membership: Option<String>,
    },
    /// Rule F.5.3: unbanning needs the ban level.
    #[error(
        "sender has power level {level}, below the ban level {needed} needed to unban {target}"
    )]
    UnbanInsufficientPower {
        /// The banned user.
        target: String,
        /// The sender's level.
        level: PowerLevel,
        /// The ban level.
        needed: i64,
    },
    /// Rule F.5.4: kicking needs the kick level and more power than the target.
    #[error(
        "sender has power level {level}; kicking {target} (level {target_level}) needs at least {needed} and more than the target"
    )]
    KickInsufficientPower {
        /// The kicked user.
        target: String,
        /// The sender's level.
        level: PowerLevel,
        /// The kick level.
        needed: i64,
        /// The target's level.
        target_level: PowerLevel,
    },
    /// Rule F.6: the sender of a ban is not joined.
    #[error("{sender} cannot ban: not joined to the room ({})", membership_text(membership.as_deref()))]
    BanSenderNotJoined {
        /// The sender.
        sender: String,
        /// Their membership.
        membership: Option<String>,
    },
    /// Rule F.6: banning needs the ban level and more power than the target.
    #[error(
        "sender has power level {level}; banning {target} (level {target_level}) needs at least {needed} and more than the target"
    )]
    BanInsufficientPower {
        /// The banned user.
        target: String,
        /// The sender's level.
        level: PowerLevel,
        /// The ban level.
        needed: i64,
        /// The target's level.
        target_level: PowerLevel,
    },
    /// Rule F.7 (v7+): the join rule does not allow knocking.
    #[error("join rule {join_rule:?} does not allow knocking")]
    KnockJoinRule {
        /// The join rule, if it is a string.
        join_rule: Option<String>,
    },
    /// Rule F.7 (v7+): a knock whose sender is not its state key.
    #[error("{sender} cannot knock on behalf of {target}")]
    KnockForOtherUser {
        /// The sender.
        sender: String,
        /// The state key.
        target: String,
    },
    /// Rule F.7 (v7+): the knocking user is already invited, joined or banned.
    #[error("{user} cannot knock: membership is already {membership}")]
    KnockAlreadyMember {
        /// The user.
        user: String,
        /// `ban`, `invite` or `join`.
        membership: String,
    },
    /// Rule F.8: a membership value the room version does not know (`knock` before v7).
    #[error("unknown membership {membership:?}")]
    UnknownMembership {
        /// The value.
        membership: String,
    },

    /// Rule G: the sender is not joined to the room.
    #[error("{sender} is not joined to the room ({})", membership_text(membership.as_deref()))]
    SenderNotJoined {
        /// The sender.
        sender: String,
        /// Their membership.
        membership: Option<String>,
    },

    /// Rule H: sending `m.room.third_party_invite` needs the invite level.
    #[error("sender has power level {level}, below the invite level {needed}")]
    ThirdPartyInviteInsufficientPower {
        /// The sender's level.
        level: PowerLevel,
        /// The invite level.
        needed: i64,
    },

    /// Rules F to L: the room's power-levels event holds a value a rule needs that is
    /// not a level under the room version's rules.
    #[error("the room's power levels cannot be read: {error}")]
    InvalidPowerLevels {
        /// What could not be read.
        error: PowerLevelsError,
    },
    /// Rule I: the sender's level is below the level the event type needs.
    #[error("sender has power level {level}, below the level {needed} needed to send {event_type}")]
    InsufficientPower {
        /// The event type.
        event_type: String,
        /// The sender's level.
        level: PowerLevel,
        /// The required level.
        needed: i64,
    },

    /// Rule J: a state key starting with `@` names someone other than the sender.
    #[error("state key {state_key:?} belongs to another user than the sender {sender}")]
    StateKeyNotSender {
        /// The state key.
        state_key: String,
        /// The sender.
        sender: String,
    },

    /// Rule K.1 (v10+): a level in the new power levels is not a JSON integer.
    #[error("power levels {path} must be an integer (or an object of integers): {value}")]
    PowerLevelsNotInteger {
        /// Where: a named level, `events`, `notifications` or `users`, or an entry.
        path: String,
        /// The value as JSON.
        value: String,
    },
    /// Rule K.2: `users` in the new power levels is not an object.
    #[error("power levels users is not an object")]
    PowerLevelsUsersNotObject,
    /// Rule K.2: a key of `users` is not a user ID.
    #[error("power levels users names {user:?}, which is not a user ID")]
    PowerLevelsInvalidUserId {
        /// The key.
        user: String,
    },
    /// Rule K.2: a value of `users` is not a level.
    #[error("power level of {user} is not an integer: {value}")]
    PowerLevelsInvalidUserLevel {
        /// The user.
        user: String,
        /// The value as JSON.
        value: String,
    },
    /// Rule K.3 (v12): `users` names a creator.
    #[error("creator {user} must not appear in power levels users")]
    PowerLevelsCreatorInUsers {
        /// The creator.
        user: String,
    },
    /// Rule K.5: a named level changes from or to a value above the sender's level.
    #[error(
        "sender (power level {level}) cannot change {} from {old:?} to {new:?}", name.key()
    )]
    PowerLevelsNamedAboveSender {
        /// The level.
        name: NamedLevel,
        /// The old value (absent: `None`).
        old: Option<i64>,
        /// The new value (absent: `None`).
        new: Option<i64>,
        /// The sender's level.
        level: PowerLevel,
    },
    /// Rule K.6: an `events` (v6+: or `notifications`) entry changes from or to a value
    /// above the sender's level.
    #[error("sender (power level {level}) cannot change {path} from {old:?} to {new:?}")]
    PowerLevelsEventAboveSender {
        /// `events.<type>` or `notifications.<key>`.
        path: String,
        /// The old value.
        old: Option<i64>,
        /// The new value.
        new: Option<i64>,
        /// The sender's level.
        level: PowerLevel,
    },
    /// Rule K.7: a user's level changes from a value not below the sender's own (for
    /// another user) or to a value above it.
    #[error(
        "sender (power level {level}) cannot change the level of {user} from {old:?} to {new:?}"
    )]
    PowerLevelsUserAboveSender {
        /// The user whose entry changes.
        user: String,
        /// The old value.
        old: Option<i64>,
        /// The new value.
        new: Option<i64>,
        /// The sender's level.
        level: PowerLevel,
    },

    /// Rule L (v1–2): a redaction by a sender below the redact level of an event from
    /// another server.
    #[error(
        "sender has power level {level}, below the redact level {needed}, and the redacted event is from another server"
    )]
    RedactionInsufficientPower {
        /// The sender's level.
        level: PowerLevel,
        /// The redact level.
        needed: i64,
    },
}

impl Rejection {
    /// A stable short word for the rejection (snake_case), as the conformance
    /// protocol's `reason` starts with.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MalformedEvent { .. } => "malformed_event",
            Self::CreateHasPrevEvents { .. } => "create_has_prev_events",
            Self::CreateRoomIdServerMismatch { .. } => "create_room_id_server_mismatch",
            Self::CreateHasRoomId { .. } => "create_has_room_id",
            Self::CreateUnsupportedRoomVersion { .. } => "create_unsupported_room_version",
            Self::CreateMissingCreator => "create_missing_creator",
            Self::CreateInvalidAdditionalCreators { .. } => "create_invalid_additional_creators",
            Self::MissingCreateEvent => "missing_create_event",
            Self::CreateEventNotRoomId { .. } => "room_id_not_create_event",
            Self::AuthEventWrongRoom { .. } => "auth_event_wrong_room",
            Self::DuplicateAuthEvent { .. } => "duplicate_auth_event",
            Self::UnexpectedAuthEvent { .. } => "unexpected_auth_event",
            Self::CreateEventNotListed => "create_event_not_listed",
            Self::NotFederated { .. } => "room_not_federated",
            Self::AliasesMissingStateKey => "aliases_missing_state_key",
            Self::AliasesStateKeyMismatch { .. } => "aliases_state_key_mismatch",
            Self::MemberMalformed { .. } => "member_malformed",
            Self::JoinForOtherUser { .. } => "join_other_user",
            Self::JoinBanned { .. } => "join_banned",
            Self::JoinNotInvited { .. } => "join_not_invited",
            Self::JoinMissingAuthoriser { .. } => "join_missing_authoriser",
            Self::JoinAuthoriserNotJoined { .. } => "join_authoriser_not_joined",
            Self::JoinAuthoriserInsufficientPower { .. } => "join_authoriser_insufficient_power",
            Self::JoinRuleForbids { .. } => "join_rule_forbids",
            Self::ThirdPartyInviteTargetBanned { .. } => "third_party_invite_target_banned",
            Self::ThirdPartyInviteInvalid { .. } => "third_party_invite_invalid",
            Self::InviteSenderNotJoined { .. } => "inviter_not_joined",
            Self::InviteTargetBanned { .. } => "invite_target_banned",
            Self::InviteTargetJoined { .. } => "invite_target_joined",
            Self::InviteInsufficientPower { .. } => "invite_insufficient_power",
            Self::LeaveNotMember { .. } => "leave_not_member",
            Self::LeaveSenderNotJoined { .. } => "kicker_not_joined",
            Self::UnbanInsufficientPower { .. } => "unban_insufficient_power",
            Self::KickInsufficientPower { .. } => "kick_insufficient_power",
            Self::BanSenderNotJoined { .. } => "banner_not_joined",
            Self::BanInsufficientPower { .. } => "ban_insufficient_power",
            Self::KnockJoinRule { .. } => "knock_join_rule",
            Self::KnockForOtherUser { .. } => "knock_other_user",
            Self::KnockAlreadyMember { .. } => "knock_already_member",
            Self::UnknownMembership { .. } => "unknown_membership",
            Self::SenderNotJoined { .. } => "sender_not_joined",
            Self::ThirdPartyInviteInsufficientPower { .. } => {
                "third_party_invite_insufficient_power"
            }
            Self::InvalidPowerLevels { .. } => "invalid_power_levels",
            Self::InsufficientPower { .. } => "insufficient_power",
            Self::StateKeyNotSender { .. } => "state_key_not_sender",
            Self::PowerLevelsNotInteger { .. } => "power_levels_not_integer",
            Self::PowerLevelsUsersNotObject => "power_levels_users_not_object",
            Self::PowerLevelsInvalidUserId { .. } => "power_levels_invalid_user_id",
            Self::PowerLevelsInvalidUserLevel { .. } => "power_levels_invalid_user_level",
            Self::PowerLevelsCreatorInUsers { .. } => "power_levels_creator_in_users",
            Self::PowerLevelsNamedAboveSender { .. } => "power_levels_named_above_sender",
            Self::PowerLevelsEventAboveSender { .. } => "power_levels_event_above_sender",
            Self::PowerLevelsUserAboveSender { .. } => "power_levels_user_above_sender",
            Self::RedactionInsufficientPower { .. } => "redaction_insufficient_power",
        }
    }
}

/// A membership for messages: "membership is leave", or "no membership".
fn membership_text(membership: Option<&str>) -> String {
    match membership {
        Some(membership) => format!("membership is {membership}"),
        None => "no membership".to_owned(),
    }
}

impl From<PowerLevelsError> for Rejection {
    fn from(error: PowerLevelsError) -> Self {
        Self::InvalidPowerLevels { error }
    }
}

/// What is wrong with a v12 create event's `additional_creators` (rule A.5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdditionalCreatorsProblem {
    /// It is not an array.
    #[error("not an array")]
    NotArray,
    /// An entry is not a string.
    #[error("entry {index} is not a string")]
    NotString {
        /// The entry's index.
        index: usize,
    },
    /// An entry is not a valid user ID.
    #[error("entry {index} ({value:?}) is not a valid user ID")]
    InvalidUserId {
        /// The entry's index.
        index: usize,
        /// The entry.
        value: String,
    },
}

/// What is wrong with a third-party invite (rule F.4.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ThirdPartyInviteProblem {
    /// `content.third_party_invite` is not an object.
    #[error("third_party_invite is not an object")]
    NotObject,
    /// It has no `signed` object.
    #[error("no signed object")]
    MissingSigned,
    /// `signed` lacks a field (`mxid`, `token` or `signatures`).
    #[error("signed has no {field}")]
    MissingField {
        /// The field.
        field: &'static str,
    },
    /// `signed.mxid` is not the invite's state key.
    #[error("signed mxid {mxid:?} is not the invited user {target}")]
    MxidMismatch {
        /// `signed.mxid` as JSON.
        mxid: String,
        /// The state key.
        target: String,
    },
    /// No `m.room.third_party_invite` state event has the token as its state key.
    #[error("no m.room.third_party_invite for token {token:?}")]
    NoInviteEvent {
        /// `signed.token` as JSON.
        token: String,
    },
    /// The `m.room.third_party_invite` event was sent by someone else.
    #[error("the m.room.third_party_invite was sent by {invite_sender:?}, not {sender}")]
    SenderMismatch {
        /// The third-party invite event's sender.
        invite_sender: Option<String>,
        /// This event's sender.
        sender: String,
    },
    /// No signature in `signed` verifies with the invite's public keys.
    #[error("no signature in signed verifies with the invite's public keys")]
    NoValidSignature,
}
