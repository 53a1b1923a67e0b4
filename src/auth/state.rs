//! The state the rules read: which entries an event needs ([`auth_types`]) and the
//! map the caller supplies ([`AuthEvents`]).

use std::collections::BTreeMap;

use super::fields::{content, state_key, str_field};
use super::rejection::Rejection;
use crate::event::{EventKind, Pdu, StateKey};
use crate::json::{Object, Value};
use crate::room_version::RoomVersion;

/// `m.room.create`.
pub(super) const CREATE: &str = "m.room.create";
/// `m.room.power_levels`.
pub(super) const POWER_LEVELS: &str = "m.room.power_levels";
/// `m.room.member`.
pub(super) const MEMBER: &str = "m.room.member";
/// `m.room.join_rules`.
pub(super) const JOIN_RULES: &str = "m.room.join_rules";
/// `m.room.third_party_invite`.
pub(super) const THIRD_PARTY_INVITE: &str = "m.room.third_party_invite";

/// The state entries the authorization rules need to judge `event`, sorted (§9 of the
/// server-server API's auth-event selection):
///
/// * `m.room.create` (room version 12 included: its events do not list the create
///   event in `auth_events`, but the rules still read it; [`check_auth_events`]
///   rejects a v12 listing that names it);
/// * `m.room.power_levels` and the sender's `m.room.member`;
/// * for `m.room.member` events: the target's member event; `m.room.join_rules` for
///   `join`, `invite` and `knock` (whatever the room version, as Synapse selects it);
///   for an `invite` with `third_party_invite`, the `m.room.third_party_invite`
///   named by `signed.token`; in v8+ for a `join` with
///   `join_authorised_via_users_server`, that user's member event.
///
/// A create event needs nothing.
///
/// ```
/// use matrix_serverlib::auth::auth_types;
/// use matrix_serverlib::json::{self, ParseOptions};
/// use matrix_serverlib::room_version::RoomVersion;
///
/// let event = json::parse(
///     br#"{"type":"m.room.message","sender":"@alice:a.example","content":{}}"#,
///     &ParseOptions::strict(),
/// )?;
/// let types = auth_types(event.as_object().ok_or("not an object")?, &RoomVersion::V11)?;
/// assert_eq!(types.len(), 3);
/// assert_eq!(types[0].event_type(), "m.room.create");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`check_auth_events`]: super::check_auth_events
///
/// # Errors
///
/// [`Rejection::MalformedEvent`] when `type` or `sender` is missing or not a string,
/// or a member event lacks what its selection reads (see above).
pub fn auth_types(event: &Object, version: &RoomVersion) -> Result<Vec<StateKey>, Rejection> {
    let event_type = required_str(event, "type")?;
    let sender = required_str(event, "sender")?;
    select(
        event_type,
        sender,
        state_key(event),
        content(event),
        version,
    )
}

/// [`auth_types`] for a parsed PDU, under its own room version (its type, sender,
/// state key and content are read from the PDU, not looked up again).
///
/// # Errors
///
/// As [`auth_types`]: [`Rejection::MalformedEvent`] when a member event lacks what
/// its selection reads.
pub fn auth_types_pdu(pdu: &Pdu) -> Result<Vec<StateKey>, Rejection> {
    select(
        pdu.event_type(),
        pdu.sender().as_str(),
        pdu.state_key(),
        pdu.content(),
        pdu.room_version(),
    )
}

/// The selection of [`auth_types`], given the fields it reads.
fn select(
    event_type: &str,
    sender: &str,
    state_key: Option<&str>,
    content: &Object,
    version: &RoomVersion,
) -> Result<Vec<StateKey>, Rejection> {
    let mut types = Vec::new();
    if event_type == CREATE {
        return Ok(types);
    }
    types.push(StateKey::new(CREATE, ""));
    types.push(StateKey::new(POWER_LEVELS, ""));
    types.push(StateKey::new(MEMBER, sender));
    if event_type == MEMBER {
        member_auth_types(state_key, content, version, &mut types)?;
    }
    types.sort();
    types.dedup();
    Ok(types)
}

/// The extra entries of a member event.
///
/// Like Synapse, which cannot list them either, this refuses a member event without
/// `state_key` or `content.membership`, and an invite whose `third_party_invite` has no
/// `signed.token`: the rules would reject such an event anyway.
fn member_auth_types(
    state_key: Option<&str>,
    content: &Object,
    version: &RoomVersion,
    types: &mut Vec<StateKey>,
) -> Result<(), Rejection> {
    if !content.contains_key("membership") {
        return Err(Rejection::MalformedEvent {
            field: "content.membership",
        });
    }
    let target = state_key.ok_or(Rejection::MalformedEvent { field: "state_key" })?;
    let membership = str_field(content, "membership");
    if matches!(membership, Some("join" | "invite" | "knock")) {
        types.push(StateKey::new(JOIN_RULES, ""));
    }
    types.push(StateKey::new(MEMBER, target));
    if membership == Some("invite") && content.contains_key("third_party_invite") {
        let token = content
            .get("third_party_invite")
            .and_then(|invite| invite.get("signed"))
            .and_then(|signed| signed.get("token"))
            .and_then(Value::as_str)
            .ok_or(Rejection::MalformedEvent {
                field: "content.third_party_invite.signed.token",
            })?;
        types.push(StateKey::new(THIRD_PARTY_INVITE, token));
    }
    if version.auth.restricted_join_rule
        && membership == Some("join")
        && let Some(authoriser) = str_field(content, "join_authorised_via_users_server")
    {
        types.push(StateKey::new(MEMBER, authoriser));
    }
    Ok(())
}

fn required_str<'a>(event: &'a Object, field: &'static str) -> Result<&'a str, Rejection> {
    str_field(event, field).ok_or(Rejection::MalformedEvent { field })
}

/// The room state the rules read: parsed PDUs keyed by `(type, state_key)`; when two
/// events share a key, the later one inserted wins. Events without a state key are not
/// state and are left out.
///
/// In room version 12 include the room's create event, although events do not list it
/// in `auth_events`.
#[derive(Debug, Clone, Default)]
pub struct AuthEvents<'a> {
    // The entries every check reads have their own slots, and members are keyed by
    // user alone: lookups in a room of many members compare short keys only.
    create: Option<&'a Pdu>,
    power_levels: Option<&'a Pdu>,
    join_rules: Option<&'a Pdu>,
    members: Members<'a>,
    others: BTreeMap<(&'a str, &'a str), &'a Pdu>,
}

impl<'a> AuthEvents<'a> {
    /// An empty state.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a parsed PDU, replacing an event with the same key (its type and state key
    /// are read from the PDU, not looked up again). Returns `false` (and adds nothing)
    /// when it is not a state event.
    ///
    /// Inlined: state resolution inserts a handful of PDUs for every event it checks.
    #[inline(always)]
    pub fn insert_pdu(&mut self, pdu: &'a Pdu) -> bool {
        let Some(state_key) = pdu.state_key() else {
            return false;
        };
        match (pdu.kind(), state_key) {
            (EventKind::Create, "") => self.create = Some(pdu),
            (EventKind::PowerLevels, "") => self.power_levels = Some(pdu),
            (EventKind::JoinRules, "") => self.join_rules = Some(pdu),
            (EventKind::Member, user) => self.members.insert(user, pdu),
            _ => {
                self.others.insert((pdu.event_type(), state_key), pdu);
            }
        }
        true
    }

    /// The event at `(event_type, state_key)`.
    #[must_use]
    pub fn get(&self, event_type: &str, state_key: &str) -> Option<&'a Pdu> {
        match (event_type, state_key) {
            (CREATE, "") => self.create,
            (POWER_LEVELS, "") => self.power_levels,
            (JOIN_RULES, "") => self.join_rules,
            (MEMBER, user) => self.members.get(user),
            key => self.others.get(&key).copied(),
        }
    }

    /// The number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        let slots = [self.create, self.power_levels, self.join_rules];
        slots.iter().flatten().count() + self.members.len() + self.others.len()
    }

    /// True when there are no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (StateKey, &'a Pdu)> + '_ {
        let slots = [
            (CREATE, self.create),
            (POWER_LEVELS, self.power_levels),
            (JOIN_RULES, self.join_rules),
        ];
        let mut entries: Vec<(StateKey, &'a Pdu)> = slots
            .into_iter()
            .filter_map(|(event_type, event)| Some((StateKey::new(event_type, ""), event?)))
            .chain(
                self.members
                    .iter()
                    .map(|(user, event)| (StateKey::new(MEMBER, user), event)),
            )
            .chain(
                self.others
                    .iter()
                    .map(|(&(event_type, state_key), &event)| {
                        (StateKey::new(event_type, state_key), event)
                    }),
            )
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.into_iter()
    }

    /// The create event.
    pub(super) fn create(&self) -> Option<&'a Pdu> {
        self.create
    }

    /// The power-levels event.
    pub(super) fn power_levels(&self) -> Option<&'a Pdu> {
        self.power_levels
    }

    /// `content.membership` of `user`'s member event.
    pub(super) fn membership_of(&self, user: &str) -> Option<&'a str> {
        self.members.get(user)?.membership()
    }
}

impl<'a> FromIterator<&'a Pdu> for AuthEvents<'a> {
    fn from_iter<I: IntoIterator<Item = &'a Pdu>>(events: I) -> Self {
        let mut state = Self::new();
        state.extend(events);
        state
    }
}

impl<'a> Extend<&'a Pdu> for AuthEvents<'a> {
    fn extend<I: IntoIterator<Item = &'a Pdu>>(&mut self, events: I) {
        for event in events {
            self.insert_pdu(event);
        }
    }
}

/// Member events by user: a few in place while there are few (the usual state for one
/// check holds one to three, and building it allocates nothing), a tree once there
/// are many (a whole room's state).
#[derive(Debug, Clone)]
enum Members<'a> {
    Few([Option<(&'a str, &'a Pdu)>; FEW_MEMBERS]),
    Many(BTreeMap<&'a str, &'a Pdu>),
}

impl Default for Members<'_> {
    fn default() -> Self {
        Self::Few([None; FEW_MEMBERS])
    }
}

/// Past this many members, [`Members`] switches to a tree.
const FEW_MEMBERS: usize = 4;

impl<'a> Members<'a> {
    fn insert(&mut self, user: &'a str, member: &'a Pdu) {
        match self {
            Self::Few(slots) => {
                // Filled slots come first: the first free one ends the search.
                for slot in slots.iter_mut() {
                    match slot {
                        Some((known, known_member)) if *known == user => {
                            *known_member = member;
                            return;
                        }
                        Some(_) => {}
                        None => {
                            *slot = Some((user, member));
                            return;
                        }
                    }
                }
                let mut tree: BTreeMap<&'a str, &'a Pdu> =
                    slots.iter().flatten().copied().collect();
                tree.insert(user, member);
                *self = Self::Many(tree);
            }
            Self::Many(tree) => {
                tree.insert(user, member);
            }
        }
    }

    fn get(&self, user: &str) -> Option<&'a Pdu> {
        match self {
            Self::Few(slots) => slots
                .iter()
                .map_while(|slot| *slot)
                .find(|(known, _)| *known == user)
                .map(|(_, member)| member),
            Self::Many(tree) => tree.get(user).copied(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Few(slots) => slots.iter().map_while(|slot| *slot).count(),
            Self::Many(tree) => tree.len(),
        }
    }

    fn iter(&self) -> Box<dyn Iterator<Item = (&'a str, &'a Pdu)> + '_> {
        match self {
            Self::Few(slots) => Box::new(slots.iter().map_while(|slot| *slot)),
            Self::Many(tree) => Box::new(tree.iter().map(|(&user, &member)| (user, member))),
        }
    }
}
