//! The resident side of make_join, make_leave and make_knock: the event template a
//! remote server fills in and signs
//! (<https://spec.matrix.org/v1.16/server-server-api/#get_matrixfederationv1make_joinroomiduserid>).
//!
//! The template is checked before it is sent: it must pass the authorization rules
//! against the room's current state, as Synapse checks before answering. A template is
//! unsigned and unhashed; for that check it is parsed as a PDU with empty `hashes` and
//! `signatures` (and, in room versions 1 and 2, a placeholder `event_id`), which the
//! rules never read.

use std::collections::BTreeMap;

use super::error::MembershipError;
use crate::auth::{self, AuthEvents, Rejection};
use crate::base64;
use crate::crypto;
use crate::event::Pdu;
use crate::event::StateKey;
use crate::id::{RoomId, ServerName, UserId};
use crate::json::{Object, Value};
use crate::room_version::{EventFormat, RoomVersion};

/// The most `prev_events` a template lists: the deepest forward extremities, as
/// Synapse limits new events to 10 of them.
pub const MAX_TEMPLATE_PREV_EVENTS: usize = 10;

/// The `ver` list a make_join without `ver` means (the spec's default).
pub const DEFAULT_VERSIONS: [&str; 1] = ["1"];

/// The room state a template is built from: the event at `(type, state_key)`.
///
/// Implemented for maps from [`StateKey`] to PDUs or references to PDUs.
pub trait RoomState {
    /// The current state event at `(event_type, state_key)`.
    fn state_event(&self, event_type: &str, state_key: &str) -> Option<&Pdu>;
}

impl RoomState for BTreeMap<StateKey, Pdu> {
    fn state_event(&self, event_type: &str, state_key: &str) -> Option<&Pdu> {
        self.get(&StateKey::new(event_type, state_key))
    }
}

impl RoomState for BTreeMap<StateKey, &Pdu> {
    fn state_event(&self, event_type: &str, state_key: &str) -> Option<&Pdu> {
        self.get(&StateKey::new(event_type, state_key)).copied()
    }
}

/// What a resident needs to answer make_join, make_leave or make_knock.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct TemplateParams<'a> {
    /// The room's version.
    pub version: &'a RoomVersion,
    /// The room (from the path).
    pub room_id: &'a RoomId,
    /// The user who joins, leaves or knocks (from the path).
    pub user_id: &'a UserId,
    /// The authenticated requesting server.
    pub origin: &'a ServerName,
    /// The parsed `ver` query parameters; empty when none were sent.
    pub remote_versions: &'a [String],
    /// The room's current state.
    pub state: &'a dyn RoomState,
    /// The room's forward extremities.
    pub forward_extremities: &'a [&'a Pdu],
    /// Now, for `origin_server_ts`.
    pub now_ms: i64,
    /// For a restricted join: the local user, joined with the power to invite, whom
    /// the caller chose to authorise it. The caller decides whether the joiner
    /// qualifies (is in an allowed room) and passes `None` when it does not, or when
    /// the joiner is already invited or joined.
    pub authorising_user: Option<&'a UserId>,
}

impl<'a> TemplateParams<'a> {
    /// Parameters with no `ver` list and no authorising user.
    #[must_use]
    pub fn new(
        version: &'a RoomVersion,
        room_id: &'a RoomId,
        user_id: &'a UserId,
        origin: &'a ServerName,
        state: &'a dyn RoomState,
        forward_extremities: &'a [&'a Pdu],
        now_ms: i64,
    ) -> Self {
        Self {
            version,
            room_id,
            user_id,
            origin,
            remote_versions: &[],
            state,
            forward_extremities,
            now_ms,
            authorising_user: None,
        }
    }

    /// With the requester's `ver` list.
    #[must_use]
    pub fn with_remote_versions(mut self, versions: &'a [String]) -> Self {
        self.remote_versions = versions;
        self
    }

    /// With the local user who authorises a restricted join.
    #[must_use]
    pub fn with_authorising_user(mut self, user_id: &'a UserId) -> Self {
        self.authorising_user = Some(user_id);
        self
    }
}

impl std::fmt::Debug for TemplateParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateParams")
            .field("version", &self.version.id)
            .field("room_id", &self.room_id)
            .field("user_id", &self.user_id)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// Answers make_join: `{room_version, event}`, the join template.
///
/// Checks that the room version is in `ver` (default `["1"]`), that the user is on the
/// requesting server, and that the join would be authorized by the current state.
///
/// ```
/// # use std::collections::BTreeMap;
/// # use matrix_serverlib::event::StateKey;
/// # use matrix_serverlib::crypto::SigningKey;
/// # use matrix_serverlib::event::{EventBuilder, Pdu};
/// # use matrix_serverlib::federation::membership::{make_join_template, TemplateParams};
/// # use matrix_serverlib::id::{ServerName, UserId};
/// # use matrix_serverlib::json::{Object, Value};
/// # use matrix_serverlib::room_version::RoomVersion;
/// # let key = SigningKey::from_seed("ed25519:a", [1; 32]);
/// # let v = RoomVersion::V11;
/// # let mut c = Object::new();
/// # c.insert("room_version", Value::from("11"));
/// # c.insert("creator", Value::from("@a:a.example"));
/// # let create = EventBuilder::new(&v, "@a:a.example", "m.room.create").room_id("!r:a.example")
/// #     .state_key("").content(c).depth(1).build("a.example", &key)?;
/// # let mut jr = Object::new();
/// # jr.insert("join_rule", Value::from("public"));
/// # let rules = EventBuilder::new(&v, "@a:a.example", "m.room.join_rules").room_id("!r:a.example")
/// #     .state_key("").content(jr).prev_event(create.event_id().as_str())
/// #     .auth_event(create.event_id().as_str()).depth(2).build("a.example", &key)?;
/// let mut state: BTreeMap<StateKey, Pdu> = BTreeMap::new();
/// state.insert(StateKey::new("m.room.create", ""), create.clone());
/// state.insert(StateKey::new("m.room.join_rules", ""), rules.clone());
/// let user = UserId::parse("@b:b.example")?;
/// let origin = ServerName::parse("b.example")?;
/// let versions = vec!["11".to_owned()];
/// let extremities = [&rules];
/// let params = TemplateParams::new(&v, create.room_id(), &user, &origin, &state, &extremities, 9)
///     .with_remote_versions(&versions);
/// let answer = make_join_template(&params)?;
/// assert_eq!(answer.get("room_version").and_then(Value::as_str), Some("11"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`MembershipError::IncompatibleRoomVersion`], [`MembershipError::UserNotOnOrigin`],
/// [`MembershipError::UnableToGrantJoin`] (a restricted room and no authorising user),
/// [`MembershipError::NotAuthorized`], or [`MembershipError::InvalidRoomState`] when
/// the state given cannot make an event.
pub fn make_join_template(params: &TemplateParams<'_>) -> Result<Object, MembershipError> {
    check_versions(params, &DEFAULT_VERSIONS)?;
    let mut content = Object::new();
    content.insert("membership", Value::from("join"));
    if let Some(authoriser) = params.authorising_user {
        content.insert(
            "join_authorised_via_users_server",
            Value::from(authoriser.as_str()),
        );
    }
    template(params, content).map_err(|error| match error {
        MembershipError::NotAuthorized(rejection)
            if is_restricted(params.state) && needs_authoriser(&rejection) =>
        {
            MembershipError::UnableToGrantJoin
        }
        other => other,
    })
}

/// Answers make_leave: `{room_version, event}`, the leave template (no `ver` check:
/// make_leave has none).
///
/// # Errors
///
/// [`MembershipError::UserNotOnOrigin`], [`MembershipError::NotAuthorized`] (for
/// example the user is not in the room), [`MembershipError::InvalidRoomState`].
pub fn make_leave_template(params: &TemplateParams<'_>) -> Result<Object, MembershipError> {
    let mut content = Object::new();
    content.insert("membership", Value::from("leave"));
    template(params, content)
}

/// Answers make_knock: `{room_version, event}`, the knock template. `ver` is required
/// for knocks, and the room version must have knocking.
///
/// # Errors
///
/// [`MembershipError::MissingParam`] without `ver`,
/// [`MembershipError::KnockNotSupported`], then as [`make_join_template`].
pub fn make_knock_template(params: &TemplateParams<'_>) -> Result<Object, MembershipError> {
    if params.remote_versions.is_empty() {
        return Err(MembershipError::MissingParam { name: "ver" });
    }
    check_versions(params, &[])?;
    if !params.version.auth.knock {
        return Err(MembershipError::KnockNotSupported {
            room_version: params.version.id.to_owned(),
        });
    }
    let mut content = Object::new();
    content.insert("membership", Value::from("knock"));
    template(params, content)
}

/// The room version must be one the requester listed (`default` when it listed none).
fn check_versions(params: &TemplateParams<'_>, default: &[&str]) -> Result<(), MembershipError> {
    let id = params.version.id;
    let listed = if params.remote_versions.is_empty() {
        default.contains(&id)
    } else {
        params.remote_versions.iter().any(|version| version == id)
    };
    if listed {
        Ok(())
    } else {
        Err(MembershipError::IncompatibleRoomVersion {
            room_version: id.to_owned(),
        })
    }
}

/// Builds and authorizes the template of a member event with `content`.
fn template(params: &TemplateParams<'_>, content: Object) -> Result<Object, MembershipError> {
    let user = params.user_id.as_str();
    if params.user_id.server_name() != params.origin.as_str() {
        return Err(MembershipError::UserNotOnOrigin {
            user_id: user.to_owned(),
            origin: params.origin.as_str().to_owned(),
        });
    }
    let version = params.version;
    let mut event = Object::new();
    event.insert("type", Value::from("m.room.member"));
    event.insert("room_id", Value::from(params.room_id.as_str()));
    event.insert("sender", Value::from(user));
    event.insert("state_key", Value::from(user));
    event.insert("content", Value::Object(content));
    event.insert("origin_server_ts", Value::from(params.now_ms));
    let (auth_events, create) = select_auth_events(&event, params)?;
    let prev = prev_events(params.forward_extremities);
    let depth = prev
        .iter()
        .map(|pdu| pdu.depth())
        .max()
        .ok_or_else(|| invalid("no forward extremity"))?
        .saturating_add(1);
    event.insert("auth_events", references(&auth_events, version));
    event.insert("prev_events", references(&prev, version));
    event.insert("depth", Value::from(depth));
    authorize_template(&event, &auth_events, create, version)?;
    let mut answer = Object::new();
    answer.insert("room_version", Value::from(version.id));
    answer.insert("event", Value::Object(event));
    Ok(answer)
}

/// The auth events the selection picks from the current state (the create event left
/// out in room version 12, where events do not list it), and the create event.
fn select_auth_events<'s>(
    event: &Object,
    params: &TemplateParams<'s>,
) -> Result<(Vec<&'s Pdu>, Option<&'s Pdu>), MembershipError> {
    let version = params.version;
    let keys = auth::auth_types(event, version).map_err(|error| invalid(error.to_string()))?;
    let create = params.state.state_event("m.room.create", "");
    let selected = keys
        .iter()
        .filter(|key| !(version.room_id_from_create_event && key.is("m.room.create", "")))
        .filter_map(|key| params.state.state_event(key.event_type(), key.state_key()))
        .collect();
    Ok((selected, create))
}

/// The deepest forward extremities, at most [`MAX_TEMPLATE_PREV_EVENTS`], in a fixed
/// order (depth descending, then event ID).
fn prev_events<'p>(extremities: &[&'p Pdu]) -> Vec<&'p Pdu> {
    let mut sorted = extremities.to_vec();
    sorted.sort_by(|a, b| {
        b.depth()
            .cmp(&a.depth())
            .then_with(|| a.event_id().cmp(b.event_id()))
    });
    sorted.dedup_by(|a, b| a.event_id() == b.event_id());
    sorted.truncate(MAX_TEMPLATE_PREV_EVENTS);
    sorted
}

/// Event references in the version's format: IDs, or (v1, v2) `[id, {sha256}]` pairs
/// carrying the referenced event's reference hash.
pub(super) fn references(events: &[&Pdu], version: &RoomVersion) -> Value {
    Value::Array(
        events
            .iter()
            .map(|pdu| {
                let id = Value::from(pdu.event_id().as_str());
                if version.event_format != EventFormat::EventIdInPdu {
                    return id;
                }
                let hash = crypto::reference_hash(pdu.as_object(), version);
                let mut hashes = Object::new();
                hashes.insert("sha256", Value::from(base64::encode(hash)));
                Value::Array(vec![id, Value::Object(hashes)])
            })
            .collect(),
    )
}

/// Runs the authorization rules on the template, as the event the remote will sign.
fn authorize_template(
    event: &Object,
    auth_events: &[&Pdu],
    create: Option<&Pdu>,
    version: &RoomVersion,
) -> Result<(), MembershipError> {
    let mut object = event.clone();
    object.insert("hashes", Value::Object(Object::new()));
    object.insert("signatures", Value::Object(Object::new()));
    if version.event_format == EventFormat::EventIdInPdu {
        let server = event
            .get("sender")
            .and_then(Value::as_str)
            .and_then(|sender| sender.split_once(':'))
            .map_or("invalid", |(_, server)| server);
        object.insert("event_id", Value::from(format!("$template:{server}")));
    }
    let pdu = Pdu::from_object(object, version).map_err(|error| invalid(error.to_string()))?;
    let mut state = AuthEvents::new();
    if let Some(create) = create {
        state.insert_pdu(create);
    }
    for event in auth_events {
        state.insert_pdu(event);
    }
    auth::authorize(&pdu, auth_events, &state).map_err(MembershipError::NotAuthorized)
}

/// True when the room's join rule is `restricted` or `knock_restricted`.
fn is_restricted(state: &dyn RoomState) -> bool {
    let rule = state
        .state_event("m.room.join_rules", "")
        .and_then(|pdu| pdu.content().get("join_rule"))
        .and_then(Value::as_str);
    matches!(rule, Some("restricted" | "knock_restricted"))
}

/// True for the rejections a chosen authorising user would answer.
fn needs_authoriser(rejection: &Rejection) -> bool {
    matches!(
        rejection,
        Rejection::JoinMissingAuthoriser { .. }
            | Rejection::JoinAuthoriserNotJoined { .. }
            | Rejection::JoinAuthoriserInsufficientPower { .. }
    )
}

fn invalid(reason: impl Into<String>) -> MembershipError {
    MembershipError::InvalidRoomState {
        reason: reason.into(),
    }
}
