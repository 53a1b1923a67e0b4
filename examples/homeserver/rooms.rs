//! Room events, every one made by the library: the state before the event (state
//! resolution where the room's forward extremities fork), then one call
//! ([`EventBuilder::build_in_room`]) that selects the auth events, builds the event in
//! the room version's format, signs it with the server's key and authorises it, before
//! it is stored, in one transaction, and acknowledged.

use std::collections::{BTreeMap, BTreeSet};

use matrix_serverlib::auth::{self, AuthEvents, NamedLevel, PowerLevels};
use matrix_serverlib::event::StateKey;
use matrix_serverlib::event::{BuildError, EventBuilder, Pdu, PduError, RoomCreators};
use matrix_serverlib::id::{EventId, UserId};
use matrix_serverlib::json::{Object, Value};
use matrix_serverlib::redact::{RedactionRefusal, RedactionSource, may_redact};
use matrix_serverlib::room_version::RoomVersion;
use matrix_serverlib::state_res;

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::storage::{EventCache, EventStatus, NewEvent, RoomEvents, StateMap, Storage};

/// An event the server is about to create: type, optional state key and content.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    /// The event type.
    pub(crate) event_type: String,
    /// The state key, for state events.
    pub(crate) state_key: Option<String>,
    /// The content.
    pub(crate) content: Object,
    /// The event a redaction redacts.
    pub(crate) redacts: Option<String>,
}

impl Draft {
    /// A state event.
    pub(crate) fn state(event_type: &str, state_key: &str, content: Object) -> Self {
        Self {
            event_type: event_type.to_owned(),
            state_key: Some(state_key.to_owned()),
            content,
            redacts: None,
        }
    }

    /// A message (non-state) event.
    pub(crate) fn message(event_type: &str, content: Object) -> Self {
        Self {
            event_type: event_type.to_owned(),
            state_key: None,
            content,
            redacts: None,
        }
    }

    /// A redaction of `event_id` (the library writes `redacts` where the room version
    /// reads it).
    pub(crate) fn redaction(event_id: &str, content: Object) -> Self {
        let mut draft = Self::message("m.room.redaction", content);
        draft.redacts = Some(event_id.to_owned());
        draft
    }
}

/// The device, request path and transaction ID of a client send: the spec scopes a
/// transaction ID to one device and one request path, so the same ID in another room,
/// or with another event type, is another transaction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Txn<'a> {
    /// The sending device.
    pub(crate) device_id: &'a str,
    /// The client's transaction ID.
    pub(crate) txn_id: &'a str,
    /// The request path without the transaction ID (`send/{roomId}/{eventType}`).
    pub(crate) path: &'a str,
}

/// Sends an event into a room: builds, signs, authorises and stores it, and wakes
/// `/sync`. A repeated transaction ID answers with the event the first send made; a new
/// one (a client's send) counts against the sender's `rc_message` limit first.
///
/// # Errors
///
/// `M_NOT_FOUND` for an unknown room, `M_FORBIDDEN` when the authorization rules refuse
/// the event, `M_TOO_LARGE` or `M_BAD_JSON` when it is not a valid PDU, 429
/// `M_LIMIT_EXCEEDED` for a client's send over its rate.
pub(crate) fn send(
    store: &mut Storage,
    app: &App,
    room_id: &str,
    sender: &str,
    draft: Draft,
    txn: Option<Txn<'_>>,
) -> ApiResult<EventId> {
    if let Some(txn) = txn
        && let Some(event_id) =
            store.transaction_event(sender, txn.device_id, txn.path, txn.txn_id)?
    {
        return EventId::parse(&event_id).map_err(|e| ApiError::internal("txn", e));
    }
    if txn.is_some() && app.is_rate_limited(sender) {
        app.limiters().message.take(sender)?;
    }
    let (pdu, state_after) = prepare(store, app, room_id, sender, draft)?;
    if pdu.event_type() == "m.room.redaction" {
        check_local_redaction(store, &pdu, &state_after)?;
    }
    store.append_event(&NewEvent {
        pdu: &pdu,
        state_after: &state_after,
        txn: txn.map(|txn| (sender, txn.device_id, txn.txn_id, txn.path)),
    })?;
    federate(store, app, &pdu, None)?;
    app.notify();
    Ok(pdu.event_id().clone())
}

/// The checks a redaction one of our users sends must pass beyond the authorization
/// rules: the core's [`may_redact`] for a local client (the redact level or the
/// user's own event; never the create or a server-ACL event), and, as Synapse answers,
/// `M_NOT_FOUND` for an unknown target unless the sender could redact anything.
fn check_local_redaction(store: &Storage, pdu: &Pdu, state: &StateMap) -> ApiResult<()> {
    let Some(redacts) = pdu.redacts() else {
        return Ok(());
    };
    let version = pdu.room_version();
    let read = |event_type: &str| -> ApiResult<Option<Pdu>> {
        match state.get(&StateKey::new(event_type, "")) {
            Some(id) => load_pdu(store, id, version).map(Some),
            None => Ok(None),
        }
    };
    let create = read("m.room.create")?
        .ok_or_else(|| ApiError::internal("redaction", "room without a create event"))?;
    let power = read("m.room.power_levels")?;
    let levels = PowerLevels::new(
        version,
        create.as_object(),
        power.as_ref().map(Pdu::as_object),
    );
    let target = match store.event(redacts)? {
        Some(stored) if stored.status == EventStatus::Timeline => {
            Some(crate::storage::parse_pdu(&stored.json, version)?)
        }
        _ => None,
    };
    let Some(target) = target else {
        let level = levels
            .user_level(pdu.sender().as_str())
            .map_err(|e| ApiError::internal("power levels", e))?;
        let needed = levels
            .named_level(NamedLevel::Redact)
            .map_err(|e| ApiError::internal("power levels", e))?;
        return if level >= needed {
            Ok(())
        } else {
            Err(ApiError::not_found(format!(
                "could not find event {redacts}"
            )))
        };
    };
    match may_redact(pdu, &target, &levels, RedactionSource::LocalClient) {
        Ok(_) => Ok(()),
        Err(refusal @ RedactionRefusal::DifferentRoom { .. }) => {
            Err(ApiError::invalid_param(format!("cannot redact: {refusal}")))
        }
        Err(refusal) => Err(ApiError::forbidden(format!("cannot redact: {refusal}"))),
    }
}

/// Builds, signs and authorises an event on the room's forward extremities without
/// storing it; returns it with the state after it.
///
/// # Errors
///
/// As [`send`].
pub(crate) fn prepare(
    store: &Storage,
    app: &App,
    room_id: &str,
    sender: &str,
    draft: Draft,
) -> ApiResult<(Pdu, StateMap)> {
    let version = store
        .room_version(room_id)?
        .ok_or_else(|| ApiError::not_found(format!("unknown room {room_id}")))?;
    if draft.event_type == "m.room.create" {
        // The room exists, so it has its create event; the rules refuse a second one.
        return Err(ApiError::forbidden(
            "the room already has its m.room.create event",
        ));
    }
    let extremities = store.forward_extremities(room_id)?;
    let prev_events = extremities
        .iter()
        .map(|id| load_pdu(store, id, &version))
        .collect::<ApiResult<Vec<Pdu>>>()?;
    let state_before = state_before(store, &version, &extremities)?;
    let at = Position {
        version: &version,
        room_id: Some(room_id),
        prev_events: &prev_events,
        state_before: &state_before,
    };
    let pdu = build_and_authorize(store, app, &at, sender, draft)?;
    let state_after = state_after(state_before, &pdu);
    Ok((pdu, state_after))
}

/// Stores an event [`prepare`] made (after the invitee's server countersigned an
/// invite), sends it to the room's servers but `skip`, and wakes `/sync`.
///
/// # Errors
///
/// When storage fails.
pub(crate) fn commit(
    store: &mut Storage,
    app: &App,
    pdu: &Pdu,
    state_after: &StateMap,
    skip: Option<&str>,
) -> ApiResult<()> {
    store.append_event(&NewEvent {
        pdu,
        state_after,
        txn: None,
    })?;
    federate(store, app, pdu, skip)?;
    app.notify();
    Ok(())
}

/// Stores an event another server made, whose `prev_events` this server has: the
/// state before it (resolved over its prev events), then the one authorization call of
/// the library ([`auth::authorize`]: rules B, C and the state-dependent rules) against
/// its listed auth events and that state. `state_before` may be given when the caller
/// already has it (the receipt pipeline computes it). Returns `false` when the event is
/// already stored.
///
/// # Errors
///
/// `M_FORBIDDEN` naming the rule when the rules refuse it; internal errors for missing
/// stored data.
pub(crate) fn accept_remote(
    store: &mut Storage,
    app: &App,
    pdu: &Pdu,
    state_before: Option<StateMap>,
    origin: Option<&str>,
) -> ApiResult<bool> {
    // Already in the timeline; an outlier goes on and takes its place there.
    if store
        .event(pdu.event_id().as_str())?
        .is_some_and(|stored| stored.status == EventStatus::Timeline)
    {
        return Ok(false);
    }
    let version = *pdu.room_version();
    let state_before = match state_before {
        Some(state) => state,
        None => self::state_before(store, &version, pdu.prev_events())?,
    };
    let listed = pdu
        .auth_events()
        .iter()
        .map(|id| load_pdu(store, id, &version))
        .collect::<ApiResult<Vec<Pdu>>>()?;
    let needed = auth_state(store, &version, &state_before)?;
    let mut state = AuthEvents::new();
    for event in &needed {
        state.insert_pdu(event);
    }
    let listed_refs: Vec<&Pdu> = listed.iter().collect();
    auth::authorize(pdu, &listed_refs, &state).map_err(|r| ApiError::rejected(&r))?;
    let state_after = state_after(state_before, pdu);
    store.append_event(&NewEvent {
        pdu,
        state_after: &state_after,
        txn: None,
    })?;
    if origin.is_some() {
        // The resident forwards what a joining, leaving or knocking server sent it.
        federate(store, app, pdu, origin)?;
    }
    app.notify();
    Ok(true)
}

/// The events of `state` the rules read (create, power levels, join rules and members,
/// third-party invites): all of them, as the example's rooms are small.
fn auth_state(store: &Storage, version: &RoomVersion, state: &StateMap) -> ApiResult<Vec<Pdu>> {
    state
        .iter()
        .filter(|(key, _)| key.event_type().starts_with("m.room."))
        .map(|(_, id)| load_pdu(store, id, version))
        .collect()
}

/// Queues a stored event for every other server in its room (those with joined
/// members after it, and the target's server of a member event), except `skip` (the
/// server it came from), and wakes their senders. Nothing happens without federation.
///
/// # Errors
///
/// When the outbox cannot be written.
pub(crate) fn federate(
    store: &mut Storage,
    app: &App,
    pdu: &Pdu,
    skip: Option<&str>,
) -> ApiResult<()> {
    let Some(sender) = app.sender() else {
        return Ok(());
    };
    let room_id = pdu.room_id().as_str();
    let mut servers: BTreeSet<String> = store
        .members_with(room_id, "join")?
        .iter()
        .filter_map(|user| UserId::parse(user).ok())
        .map(|user| user.server_name().to_owned())
        .collect();
    if pdu.event_type() == "m.room.member"
        && let Some(target) = pdu.state_key().and_then(|key| UserId::parse(key).ok())
    {
        servers.insert(target.server_name().to_owned());
    }
    servers.remove(app.server_name());
    if let Some(skip) = skip {
        servers.remove(skip);
    }
    if servers.is_empty() {
        return Ok(());
    }
    let destinations: Vec<String> = servers.into_iter().collect();
    store.enqueue_outbox(room_id, pdu.event_id().as_str(), &destinations)?;
    for destination in &destinations {
        sender.wake(app, destination);
    }
    Ok(())
}

/// Creates a room: its create event, stored with the room in one transaction. The
/// other initial events follow through [`send`].
///
/// # Errors
///
/// When the create event cannot be built or fails rule A.
pub(crate) fn create(
    store: &mut Storage,
    app: &App,
    version: &RoomVersion,
    creator: &str,
    content: Object,
) -> ApiResult<String> {
    // Room versions 1 to 11 name the room in the event; in 12 the library drops the
    // name and derives the ID from the event.
    let room_id = format!("!{}:{}", crate::random_string(18), app.server_name());
    let draft = Draft::state("m.room.create", "", content);
    let at = Position {
        version,
        room_id: Some(&room_id),
        prev_events: &[],
        state_before: &StateMap::new(),
    };
    let pdu = build_and_authorize(store, app, &at, creator, draft)?;
    let state_after = state_after(StateMap::new(), &pdu);
    store.create_room_with(
        creator,
        crate::now_ms(),
        &NewEvent {
            pdu: &pdu,
            state_after: &state_after,
            txn: None,
        },
    )?;
    app.notify();
    Ok(pdu.room_id().as_str().to_owned())
}

/// The state before a new event whose `prev_events` are `extremities`: the state after
/// the one extremity, or where the room has forked, the resolution of the states after
/// each ([`state_res::resolve`], by the room version's algorithm).
///
/// # Errors
///
/// When stored data is missing or state resolution cannot finish.
pub(crate) fn state_before(
    store: &Storage,
    version: &RoomVersion,
    extremities: &[EventId],
) -> ApiResult<StateMap> {
    match extremities {
        [] => Ok(StateMap::new()),
        [only] => store.state_after(only.as_str()),
        several => {
            let sets = several
                .iter()
                .map(|id| store.state_after(id.as_str()))
                .collect::<ApiResult<Vec<StateMap>>>()?;
            let source = auth_closure(store, version, &sets)?;
            let resolved = state_res::resolve(version, &sets, &source)
                .map_err(|e| ApiError::internal("state resolution", e))?;
            Ok(resolved.to_state_map())
        }
    }
}

/// Every event in the state sets and their auth chains, for state resolution.
fn auth_closure(
    store: &Storage,
    version: &RoomVersion,
    sets: &[StateMap],
) -> ApiResult<BTreeMap<EventId, Pdu>> {
    let mut events = BTreeMap::new();
    let mut queue: Vec<EventId> = sets.iter().flat_map(|set| set.values().cloned()).collect();
    while let Some(id) = queue.pop() {
        if events.contains_key(&id) {
            continue;
        }
        let pdu = load_pdu(store, &id, version)?;
        queue.extend(pdu.auth_events().iter().cloned());
        events.insert(id, pdu);
    }
    Ok(events)
}

/// Where a new event goes: its room version, its room (none for a room-version-12
/// create event, which defines it), the events it follows and the state before it.
struct Position<'a> {
    version: &'a RoomVersion,
    room_id: Option<&'a str>,
    prev_events: &'a [Pdu],
    state_before: &'a StateMap,
}

/// Builds, signs and authorises the event with the library's one call
/// ([`EventBuilder::build_in_room`]): it selects the auth events from the state before,
/// writes the references in the room version's format and refuses what the rules
/// refuse.
fn build_and_authorize(
    store: &Storage,
    app: &App,
    at: &Position<'_>,
    sender: &str,
    draft: Draft,
) -> ApiResult<Pdu> {
    let mut builder = EventBuilder::new(at.version, sender, &draft.event_type)
        .content(draft.content)
        .origin_server_ts(crate::now_ms());
    if let Some(room_id) = at.room_id {
        builder = builder.room_id(room_id);
    }
    if let Some(state_key) = &draft.state_key {
        builder = builder.state_key(state_key);
    }
    if let Some(redacts) = &draft.redacts {
        builder = builder.redacts(redacts);
    }
    let cache = EventCache::default();
    let events = RoomEvents::new(store, at.room_id.unwrap_or_default(), *at.version, &cache);
    let prev_events: Vec<&Pdu> = at.prev_events.iter().collect();
    builder
        .build_in_room(
            at.state_before,
            &prev_events,
            &events,
            app.server_name(),
            app.key(),
        )
        .map_err(|error| match error {
            BuildError::Rejected(rejection) => ApiError::rejected(&rejection),
            BuildError::Invalid(PduError::TooLarge { len, max }) => {
                ApiError::too_large(format!("event is {len} bytes, over the limit of {max}"))
            }
            BuildError::Invalid(invalid) => ApiError::bad_json(format!("invalid event: {invalid}")),
            other => ApiError::internal("build event", other),
        })
}

/// The state after `pdu`, given the state before it.
fn state_after(mut state: StateMap, pdu: &Pdu) -> StateMap {
    if let Some(state_key) = pdu.state_key() {
        state.insert(
            StateKey::new(pdu.event_type(), state_key),
            pdu.event_id().clone(),
        );
    }
    state
}

fn load_pdu(store: &Storage, id: &EventId, version: &RoomVersion) -> ApiResult<Pdu> {
    store
        .pdu(id.as_str(), version)?
        .ok_or_else(|| ApiError::internal("load event", format!("missing {id}")))
}

// --- room creation -------------------------------------------------------------------

/// What `POST /createRoom` asks for, already checked.
#[derive(Debug, Clone)]
pub(crate) struct CreateRoom {
    /// The room version.
    pub(crate) version: RoomVersion,
    /// `private_chat`, `public_chat` or `trusted_private_chat`.
    pub(crate) preset: Preset,
    /// `m.room.name`.
    pub(crate) name: Option<String>,
    /// `m.room.topic`.
    pub(crate) topic: Option<String>,
    /// Users to invite.
    pub(crate) invite: Vec<String>,
    /// Extra create-event content.
    pub(crate) creation_content: Object,
    /// Merged into the default power levels.
    pub(crate) power_level_content_override: Object,
    /// Extra state events, sent after the preset's.
    pub(crate) initial_state: Vec<Draft>,
    /// `is_direct` on the invites.
    pub(crate) is_direct: bool,
    /// A canonical alias, already reserved by the caller.
    pub(crate) alias: Option<String>,
}

/// The presets of `POST /createRoom`.
// The names follow the spec's `private_chat`, `public_chat`, `trusted_private_chat`.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Preset {
    /// Invite only, history shared, guests can join.
    PrivateChat,
    /// Anyone can join, history shared.
    PublicChat,
    /// Like private chat, and every invitee gets the creator's power.
    TrustedPrivateChat,
}

/// Creates a room and sends its initial events in the spec's order: create, the
/// creator's join, power levels, canonical alias, the preset's join rules, history
/// visibility and guest access, `initial_state`, name, topic, then the invites.
///
/// # Errors
///
/// As [`send`]; a failure leaves the events sent so far in place.
pub(crate) fn set_up_room(
    store: &mut Storage,
    app: &App,
    creator: &str,
    request: CreateRoom,
) -> ApiResult<String> {
    let version = request.version;
    let trusted = request.preset == Preset::TrustedPrivateChat;
    // The trusted invitees share the creator's power.
    let co_creators: &[String] = if trusted { &request.invite } else { &[] };
    let creators = RoomCreators::new(&version, creator, co_creators);
    let create_content = creators.create_content(request.creation_content.clone());
    let room_id = create(store, app, &version, creator, create_content)?;
    let send_state = |store: &mut Storage, event_type: &str, state_key: &str, content: Object| {
        send(
            store,
            app,
            &room_id,
            creator,
            Draft::state(event_type, state_key, content),
            None,
        )
    };
    send_state(
        store,
        "m.room.member",
        creator,
        member_content(store, creator, "join")?,
    )?;
    send_state(
        store,
        "m.room.power_levels",
        "",
        power_levels(&request, creator),
    )?;
    if let Some(alias) = &request.alias {
        send_state(
            store,
            "m.room.canonical_alias",
            "",
            object([("alias", Value::from(alias.as_str()))]),
        )?;
    }
    let (join_rule, guest_access) = match request.preset {
        Preset::PublicChat => ("public", "forbidden"),
        Preset::PrivateChat | Preset::TrustedPrivateChat => ("invite", "can_join"),
    };
    send_state(
        store,
        "m.room.join_rules",
        "",
        object([("join_rule", Value::from(join_rule))]),
    )?;
    send_state(
        store,
        "m.room.history_visibility",
        "",
        object([("history_visibility", Value::from("shared"))]),
    )?;
    send_state(
        store,
        "m.room.guest_access",
        "",
        object([("guest_access", Value::from(guest_access))]),
    )?;
    for draft in request.initial_state {
        send(store, app, &room_id, creator, draft, None)?;
    }
    if let Some(name) = &request.name {
        send_state(
            store,
            "m.room.name",
            "",
            object([("name", Value::from(name.as_str()))]),
        )?;
    }
    if let Some(topic) = &request.topic {
        send_state(
            store,
            "m.room.topic",
            "",
            object([("topic", Value::from(topic.as_str()))]),
        )?;
    }
    for invitee in &request.invite {
        let mut content = member_content(store, invitee, "invite")?;
        if request.is_direct {
            content.insert("is_direct", Value::Bool(true));
        }
        send_state(store, "m.room.member", invitee, content)?;
    }
    Ok(room_id)
}

/// The default power levels (as Synapse sets them), with the preset's changes and the
/// request's override merged in.
fn power_levels(request: &CreateRoom, creator: &str) -> Object {
    let trusted = request.preset == Preset::TrustedPrivateChat;
    let co_creators: &[String] = if trusted { &request.invite } else { &[] };
    let users = RoomCreators::new(&request.version, creator, co_creators).power_levels_users();
    let events = object([
        ("m.room.avatar", Value::from(50)),
        ("m.room.canonical_alias", Value::from(50)),
        ("m.room.encryption", Value::from(100)),
        ("m.room.history_visibility", Value::from(100)),
        ("m.room.name", Value::from(50)),
        ("m.room.power_levels", Value::from(100)),
        ("m.room.server_acl", Value::from(100)),
        ("m.room.tombstone", Value::from(100)),
    ]);
    let invite = if request.preset == Preset::PublicChat {
        50
    } else {
        0
    };
    let mut content = object([
        ("ban", Value::from(50)),
        ("events", Value::Object(events)),
        ("events_default", Value::from(0)),
        ("invite", Value::from(invite)),
        ("kick", Value::from(50)),
        ("redact", Value::from(50)),
        ("state_default", Value::from(50)),
        ("users", Value::Object(users)),
        ("users_default", Value::from(0)),
    ]);
    for (key, value) in request.power_level_content_override.iter() {
        content.insert(key, value.clone());
    }
    content
}

/// `m.room.member` content for `user` with `membership`, carrying their profile.
pub(crate) fn member_content(store: &Storage, user: &str, membership: &str) -> ApiResult<Object> {
    let mut content = object([("membership", Value::from(membership))]);
    if let Some((displayname, avatar_url)) = store.profile(user)? {
        if let Some(name) = displayname {
            content.insert("displayname", Value::from(name));
        }
        if let Some(url) = avatar_url {
            content.insert("avatar_url", Value::from(url));
        }
    }
    Ok(content)
}

/// Changes `target`'s membership in `room_id` (join, invite, leave, kick, ban, unban),
/// with an optional reason.
///
/// # Errors
///
/// As [`send`]; `M_NOT_FOUND` when inviting an unknown local user.
pub(crate) fn set_membership(
    store: &mut Storage,
    app: &App,
    room_id: &str,
    sender: &str,
    target: &str,
    membership: &str,
    reason: Option<&str>,
) -> ApiResult<EventId> {
    let target_id =
        UserId::parse(target).map_err(|e| ApiError::invalid_param(format!("user_id: {e}")))?;
    if target_id.server_name() == app.server_name() && !store.account_exists(target)? {
        return Err(ApiError::not_found(format!("unknown user {target}")));
    }
    if target_id.server_name() != app.server_name() && membership == "invite" {
        // An invite to another server's user is countersigned by that server first:
        // `federation::invite::invite_remote`.
        return Err(ApiError::forbidden(
            "users of other servers are invited with POST /rooms/{roomId}/invite",
        ));
    }
    let mut content = if membership == "join" || membership == "invite" {
        member_content(store, target, membership)?
    } else {
        object([("membership", Value::from(membership))])
    };
    if let Some(reason) = reason {
        content.insert("reason", Value::from(reason));
    }
    send(
        store,
        app,
        room_id,
        sender,
        Draft::state("m.room.member", target, content),
        None,
    )
}

/// The rooms `user` is joined to.
pub(crate) fn joined_rooms(store: &Storage, user: &str) -> ApiResult<BTreeSet<String>> {
    Ok(store
        .memberships(user)?
        .into_iter()
        .filter(|(_, membership, _)| membership == "join")
        .map(|(room, _, _)| room)
        .collect())
}

/// An object from literal entries.
pub(crate) fn object<const N: usize>(entries: [(&str, Value); N]) -> Object {
    entries
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use matrix_serverlib::crypto::SigningKey;

    const ALICE: &str = "@alice:test.example";
    const BOB: &str = "@bob:test.example";

    /// A server with an empty database in a fresh directory (removed by the caller).
    fn open(version: &RoomVersion) -> (App, Storage, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "homeserver-test-v{}-{}",
            version.id,
            crate::random_string(8)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let config = Config::new(([127, 0, 0, 1], 0).into(), "test.example", dir.clone());
        let key = SigningKey::from_seed("ed25519:test", [7; 32]);
        let app = App::new(
            config,
            key,
            Storage::open(&dir).unwrap(),
            None,
            crate::appservice::load(&[], "test.example").unwrap(),
        );
        (app, Storage::open(&dir).unwrap(), dir)
    }

    fn member(membership: &str) -> Object {
        object([("membership", Value::from(membership))])
    }

    /// A public room where Alice is the creator and Bob, joined, has power 50.
    fn room(app: &App, store: &mut Storage, version: RoomVersion) -> String {
        let mut users = RoomCreators::new(&version, ALICE, &[]).power_levels_users();
        users.insert(BOB, Value::from(50));
        let request = CreateRoom {
            version,
            preset: Preset::PublicChat,
            name: None,
            topic: Some("original".to_owned()),
            invite: Vec::new(),
            creation_content: Object::new(),
            power_level_content_override: object([("users", Value::Object(users))]),
            initial_state: Vec::new(),
            is_direct: false,
            alias: None,
        };
        let room_id = set_up_room(store, app, ALICE, request).unwrap();
        let join = Draft::state("m.room.member", BOB, member("join"));
        send(store, app, &room_id, BOB, join, None).unwrap();
        room_id
    }

    /// Two forks from one event: Alice bans Bob on one, Bob changes the topic on the
    /// other. The next event merges them, and state resolution decides: the ban stands
    /// and, Bob being banned, his topic does not.
    #[test]
    fn merging_forks_resolves_state() {
        for version in [RoomVersion::V2, RoomVersion::V11, RoomVersion::V12] {
            let (app, mut store, dir) = open(&version);
            let room_id = room(&app, &mut store, version);
            let fork_point = store.forward_extremities(&room_id).unwrap();
            let prev = [load_pdu(&store, &fork_point[0], &version).unwrap()];
            let state = state_before(&store, &version, &fork_point).unwrap();
            let ban = Draft::state("m.room.member", BOB, member("ban"));
            let at = Position {
                version: &version,
                room_id: Some(&room_id),
                prev_events: &prev,
                state_before: &state,
            };
            let ban = build_and_authorize(&store, &app, &at, ALICE, ban).unwrap();
            let topic = Draft::state(
                "m.room.topic",
                "",
                object([("topic", Value::from("bob's"))]),
            );
            let topic = build_and_authorize(&store, &app, &at, BOB, topic).unwrap();
            for pdu in [&ban, &topic] {
                let state_after = state_after(state.clone(), pdu);
                let event = NewEvent {
                    pdu,
                    state_after: &state_after,
                    txn: None,
                };
                store.append_event(&event).unwrap();
            }
            assert_eq!(store.forward_extremities(&room_id).unwrap().len(), 2);

            let content = object([("body", Value::from("after the fork"))]);
            let merge = Draft::message("m.room.message", content);
            let merged = send(&mut store, &app, &room_id, ALICE, merge, None).unwrap();
            let merged = load_pdu(&store, &merged, &version).unwrap();
            assert_eq!(merged.prev_events().len(), 2, "room version {}", version.id);

            let current = store.current_state(&room_id).unwrap();
            let bob = StateKey::new("m.room.member", BOB);
            assert_eq!(
                current.get(&bob),
                Some(ban.event_id()),
                "room version {}",
                version.id
            );
            let topic_key = StateKey::new("m.room.topic", "");
            assert_ne!(current.get(&topic_key), Some(topic.event_id()));
            assert_eq!(
                store.state_after(merged.event_id().as_str()).unwrap(),
                current
            );
            assert_eq!(store.forward_extremities(&room_id).unwrap().len(), 1);
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    /// Redactions follow the spec's rules through the core's `may_redact`: a power-0
    /// member may redact only their own events (before, any member could redact
    /// anyone's), the redact level may redact others', an unknown target is
    /// `M_NOT_FOUND` without that level, the create event is never redacted; an applied
    /// redaction is stored over its target and served with `redacted_because`.
    #[test]
    fn redactions_follow_the_rules() {
        const CAROL: &str = "@carol:test.example";
        for version in [RoomVersion::V10, RoomVersion::V11, RoomVersion::V12] {
            let (app, mut store, dir) = open(&version);
            let room_id = room(&app, &mut store, version);
            let join = Draft::state("m.room.member", CAROL, member("join"));
            send(&mut store, &app, &room_id, CAROL, join, None).unwrap();
            let message = |body: &str| {
                Draft::message("m.room.message", object([("body", Value::from(body))]))
            };
            let bobs = send(&mut store, &app, &room_id, BOB, message("bob's"), None).unwrap();
            let carols = send(&mut store, &app, &room_id, CAROL, message("one"), None).unwrap();
            let carols_2 = send(&mut store, &app, &room_id, CAROL, message("two"), None).unwrap();
            let redaction = |id: &EventId| {
                Draft::redaction(id.as_str(), object([("reason", Value::from("r"))]))
            };
            let id = version.id;

            let before = store.max_stream().unwrap();
            let refused = send(&mut store, &app, &room_id, CAROL, redaction(&bobs), None);
            let refused = refused.unwrap_err().to_string();
            assert!(refused.contains("M_FORBIDDEN"), "{id}: {refused}");
            assert_eq!(store.max_stream().unwrap(), before, "{id}");

            let own = send(&mut store, &app, &room_id, CAROL, redaction(&carols), None).unwrap();
            send(&mut store, &app, &room_id, BOB, redaction(&carols_2), None).unwrap();

            let missing = EventId::parse("$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
            let refused = send(&mut store, &app, &room_id, CAROL, redaction(&missing), None);
            let refused = refused.unwrap_err().to_string();
            assert!(refused.contains("M_NOT_FOUND"), "{id}: {refused}");
            let create = store
                .current_state(&room_id)
                .unwrap()
                .get(&StateKey::new("m.room.create", ""))
                .cloned()
                .unwrap();
            let refused = send(&mut store, &app, &room_id, ALICE, redaction(&create), None);
            assert!(
                refused.unwrap_err().to_string().contains("M_FORBIDDEN"),
                "{id}"
            );

            for (target, redaction) in [(&carols, Some(&own)), (&bobs, None)] {
                let stored = store.event(target.as_str()).unwrap().unwrap();
                let shown = crate::client::format::client_event(&stored, None).unwrap();
                let because = shown["unsigned"]["redacted_because"]["event_id"].as_str();
                assert_eq!(because, redaction.map(EventId::as_str), "{id}");
                let body = shown["content"]["body"].as_str();
                assert_eq!(body, redaction.is_none().then_some("bob's"), "{id}");
            }
            let second = store.event(carols_2.as_str()).unwrap().unwrap();
            assert!(second.json.contains("redacted_because"), "{id}");
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    /// The gate of `/joined_members` and `/aliases`: members who left or were banned
    /// no longer read who is in the room now (before, they did, including members who
    /// joined after the ban); in a `world_readable` room anyone reads the aliases, but
    /// a departed member still not the joined members, as Synapse answers.
    #[test]
    fn departed_members_do_not_read_the_current_room() {
        use crate::client::format::current_member_or_world_readable as gate;
        const CAROL: &str = "@carol:test.example";
        const DAVE: &str = "@dave:test.example";
        let version = RoomVersion::V12;
        let (app, mut store, dir) = open(&version);
        let room_id = room(&app, &mut store, version);
        for user in [CAROL, DAVE] {
            let join = Draft::state("m.room.member", user, member("join"));
            send(&mut store, &app, &room_id, user, join, None).unwrap();
        }
        let leave = Draft::state("m.room.member", CAROL, member("leave"));
        send(&mut store, &app, &room_id, CAROL, leave, None).unwrap();
        let ban = Draft::state("m.room.member", DAVE, member("ban"));
        send(&mut store, &app, &room_id, ALICE, ban, None).unwrap();
        let forbidden = |result: ApiResult<()>| {
            result.is_err_and(|error| error.to_string().contains("M_FORBIDDEN"))
        };
        for departed_refused in [true, false] {
            assert!(gate(&store, &room_id, BOB, departed_refused).is_ok());
            for user in [CAROL, DAVE, "@eve:test.example"] {
                assert!(
                    forbidden(gate(&store, &room_id, user, departed_refused)),
                    "{user}"
                );
            }
        }
        let unknown = gate(&store, "!unknown:test.example", BOB, true);
        assert!(unknown.is_err_and(|error| error.to_string().contains("M_NOT_FOUND")));

        let readable = object([("history_visibility", Value::from("world_readable"))]);
        let visibility = Draft::state("m.room.history_visibility", "", readable);
        send(&mut store, &app, &room_id, ALICE, visibility, None).unwrap();
        assert!(gate(&store, &room_id, "@eve:test.example", true).is_ok());
        assert!(gate(&store, &room_id, CAROL, false).is_ok());
        assert!(forbidden(gate(&store, &room_id, CAROL, true)));
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The authorization rules refuse what the power levels forbid, and the refusal
    /// leaves the room untouched.
    #[test]
    fn unauthorised_events_are_refused() {
        let version = RoomVersion::V12;
        let (app, mut store, dir) = open(&version);
        let room_id = room(&app, &mut store, version);
        let before = store.max_stream().unwrap();
        let levels = Draft::state("m.room.power_levels", "", Object::new());
        let refused = send(&mut store, &app, &room_id, BOB, levels, None).unwrap_err();
        assert!(refused.to_string().contains("M_FORBIDDEN"), "{refused}");
        let stranger = Draft::message("m.room.message", Object::new());
        let refused = send(
            &mut store,
            &app,
            &room_id,
            "@eve:test.example",
            stranger,
            None,
        );
        assert!(refused.is_err());
        assert_eq!(store.max_stream().unwrap(), before);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A room joined through another server: its events arrive as outliers with the
    /// join as the first timeline event; the timeline starts from the state before the
    /// join, later events build on the join, and an outlier that arrives again as a
    /// timeline event takes its place in the timeline.
    #[test]
    fn a_room_joined_through_another_server() {
        for version in [RoomVersion::V10, RoomVersion::V12] {
            let (resident_app, mut resident, resident_dir) = open(&version);
            let room_id = room(&resident_app, &mut resident, version);
            let (app, mut store, dir) = open(&version);
            let mut events: Vec<Pdu> = resident
                .room_events_all(&room_id)
                .unwrap()
                .iter()
                .map(|event| crate::storage::parse_pdu(&event.json, &version).unwrap())
                .collect();
            let join = events.pop().unwrap();
            let state = resident.current_state(&room_id).unwrap();
            let mut before = state.clone();
            before.remove(&StateKey::new("m.room.member", BOB));
            let outliers: Vec<&Pdu> = events.iter().collect();
            let stream = store
                .join_remote_room(ALICE, 0, &outliers, &join, &state, &before)
                .unwrap();

            let timeline = store
                .room_events(&room_id, 0, i64::MAX, 100, false)
                .unwrap();
            assert_eq!(timeline.len(), 1, "only the join is in the timeline");
            assert_eq!(timeline[0].event_id, join.event_id().as_str());
            assert_eq!(store.state_before_stream(&room_id, stream).unwrap(), before);
            assert_eq!(store.current_state(&room_id).unwrap(), state);
            assert_eq!(
                store.forward_extremities(&room_id).unwrap(),
                vec![join.event_id().clone()]
            );
            assert_eq!(
                store.membership(&room_id, BOB).unwrap().map(|m| m.0),
                Some("join".to_owned())
            );

            // Two messages from the resident: the first arrives as an outlier first.
            let hello = Draft::message("m.room.message", object([("body", Value::from("hi"))]));
            send(
                &mut resident,
                &resident_app,
                &room_id,
                ALICE,
                hello.clone(),
                None,
            )
            .unwrap();
            send(&mut resident, &resident_app, &room_id, ALICE, hello, None).unwrap();
            let all = resident.room_events_all(&room_id).unwrap();
            let first = crate::storage::parse_pdu(&all[all.len() - 2].json, &version).unwrap();
            let second = crate::storage::parse_pdu(&all[all.len() - 1].json, &version).unwrap();
            store
                .put_outside_timeline(&first, EventStatus::Outlier)
                .unwrap();
            assert_eq!(
                store
                    .room_events(&room_id, 0, i64::MAX, 100, false)
                    .unwrap()
                    .len(),
                1
            );
            assert!(accept_remote(&mut store, &app, &first, None, None).unwrap());
            assert!(accept_remote(&mut store, &app, &second, None, None).unwrap());
            assert!(!accept_remote(&mut store, &app, &second, None, None).unwrap());
            let timeline = store
                .room_events(&room_id, 0, i64::MAX, 100, false)
                .unwrap();
            let ids: Vec<&str> = timeline.iter().map(|e| e.event_id.as_str()).collect();
            assert_eq!(
                ids,
                [
                    join.event_id().as_str(),
                    first.event_id().as_str(),
                    second.event_id().as_str()
                ]
            );
            assert_eq!(
                store.forward_extremities(&room_id).unwrap(),
                vec![second.event_id().clone()]
            );
            std::fs::remove_dir_all(dir).unwrap();
            std::fs::remove_dir_all(resident_dir).unwrap();
        }
    }

    /// The on-demand event source reads only the room it was opened on, remembers what
    /// it read (and what it did not find), and gives states of timeline events only.
    #[test]
    fn room_events_read_one_room_on_demand() {
        use crate::storage::{EventCache, RoomEvents};
        use matrix_serverlib::dag::EventSource;
        let version = RoomVersion::V11;
        let (app, mut store, dir) = open(&version);
        let first = room(&app, &mut store, version);
        let second = room(&app, &mut store, version);
        let in_first = store.forward_extremities(&first).unwrap().remove(0);
        let in_second = store.forward_extremities(&second).unwrap().remove(0);
        let cache = EventCache::default();
        let events = RoomEvents::new(&store, &first, version, &cache);
        assert_eq!(
            events.event(&in_first).map(|pdu| pdu.event_id()),
            Some(&in_first)
        );
        assert!(events.event(&in_second).is_none(), "another room's event");
        assert_eq!(
            events.state_after(&in_first),
            Some(&store.state_after(in_first.as_str()).unwrap())
        );
        let missing = EventId::parse("$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        assert!(events.event(&missing).is_none());
        assert!(events.state_after(&missing).is_none());
        assert!(!events.is_rejected(&in_first));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
