//! Joining, leaving and knocking on rooms that live on other servers: the core's
//! handshakes (`federation::membership::{JoinHandshake, LeaveHandshake,
//! KnockHandshake}`) run here over the signed client, with the keys they ask for, and
//! their results are stored: a join's state and auth chain as outliers, then the join
//! as the first event of the room's timeline here.

use std::collections::BTreeSet;

use matrix_serverlib::crypto::PublicKeys;
use matrix_serverlib::event::Pdu;
use matrix_serverlib::event::StateKey;
use matrix_serverlib::federation::membership::{
    HandshakeError, HandshakeParams, InviteStateEvent, JoinHandshake, JoinedRoom, KnockHandshake,
    KnockedRoom, LeaveHandshake, LeftRoom, Step,
};
use matrix_serverlib::federation::outbound::{Method, Reply, RequestId};
use matrix_serverlib::federation::path;
use matrix_serverlib::id::{RoomAliasId, RoomId, ServerName, UserId};
use matrix_serverlib::json::{Object, Value};

use super::peers::MAX_ANSWER;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::rooms;
use crate::storage::StateMap;

/// The largest send_join answer read (the whole state of a big room and its chain).
const MAX_SEND_JOIN_ANSWER: usize = 64 * 1024 * 1024;
/// Steps of one handshake at most (each sends a request or fetches keys).
const MAX_STEPS: usize = 64;

/// What the client join asked for, resolved to a room and the servers to try.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The room.
    pub(crate) room_id: RoomId,
    /// Residents to ask, in order.
    pub(crate) servers: Vec<ServerName>,
}

/// Resolves an alias on another server with `GET /query/directory`.
///
/// # Errors
///
/// `M_NOT_FOUND` when the alias's server does not know it; 502 when it cannot be
/// reached or answers nonsense.
pub(crate) async fn resolve_alias(app: &App, alias: &RoomAliasId) -> ApiResult<Target> {
    let peers = app
        .peers()
        .ok_or_else(|| ApiError::not_found(format!("unknown alias {alias}")))?;
    let (status, body) = peers
        .request(
            alias.server_name(),
            Method::Get,
            &path::query_directory(alias),
            None,
        )
        .await
        .map_err(|e| bad_gateway(format!("{}: {e}", alias.server_name())))?;
    if status == 404 {
        return Err(ApiError::not_found(format!("unknown alias {alias}")));
    }
    if status != 200 {
        return Err(bad_gateway(format!(
            "{} answered {status} for {alias}",
            alias.server_name()
        )));
    }
    let room_id = body
        .get("room_id")
        .and_then(Value::as_str)
        .and_then(|id| RoomId::parse(id).ok())
        .ok_or_else(|| bad_gateway(format!("no room ID for {alias}")))?;
    let mut servers: Vec<ServerName> = body
        .get("servers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|name| ServerName::parse(name).ok())
        .collect();
    if let Ok(name) = ServerName::parse(alias.server_name()) {
        servers.push(name);
    }
    Ok(Target { room_id, servers })
}

/// The servers to try for a join: the client's hints first, then the ones the caller
/// knows (alias, inviter), then the room ID's server (room versions 1 to 11), without
/// ours and without repeats.
pub(crate) fn candidates(app: &App, room_id: &RoomId, hints: Vec<ServerName>) -> Vec<ServerName> {
    let mut seen = BTreeSet::new();
    let from_id = room_id
        .server_name()
        .and_then(|name| ServerName::parse(name).ok());
    hints
        .into_iter()
        .chain(from_id)
        .filter(|name| name.as_str() != app.server_name())
        .filter(|name| seen.insert(name.clone()))
        .collect()
}

/// A client's join or knock, when it must go through another server: the target is an
/// alias of another server, or a room this server is not in. `None` when it is for
/// this server to do (an alias of ours, or a room with a member of ours joined).
///
/// # Errors
///
/// As [`resolve_alias`], and internal errors of storage.
pub(crate) async fn remote_target(
    app: &App,
    user_id: &str,
    target: &str,
    hints: Vec<ServerName>,
) -> ApiResult<Option<Target>> {
    if app.peers().is_none() {
        return Ok(None);
    }
    let (room_id, mut servers) = if target.starts_with('#') {
        let alias = RoomAliasId::parse(target)
            .map_err(|e| ApiError::invalid_param(format!("alias {target}: {e}")))?;
        if alias.server_name() == app.server_name() {
            return Ok(None);
        }
        let found = resolve_alias(app, &alias).await?;
        (found.room_id, found.servers)
    } else {
        let room_id = RoomId::parse(target)
            .map_err(|e| ApiError::invalid_param(format!("room {target}: {e}")))?;
        (room_id, Vec::new())
    };
    let (room, user, ours) = (
        room_id.as_str().to_owned(),
        user_id.to_owned(),
        app.server_name().to_owned(),
    );
    let (resident, inviter) = app
        .db(move |store| {
            let resident = store
                .members_with(&room, "join")?
                .iter()
                .filter_map(|member| UserId::parse(member).ok())
                .any(|member| member.server_name() == ours);
            let inviter = match store.remote_membership(&room, &user)? {
                Some(pending) => store
                    .event(&pending.event_id)?
                    .and_then(|event| sender_server(&event.json)),
                None => None,
            };
            Ok((resident, inviter))
        })
        .await?;
    if resident {
        return Ok(None);
    }
    let mut hinted = hints;
    hinted.extend(inviter);
    hinted.append(&mut servers);
    let servers = candidates(app, &room_id, hinted);
    Ok(Some(Target { room_id, servers }))
}

/// The server of a stored event's sender.
fn sender_server(json: &str) -> Option<ServerName> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let sender = UserId::parse(value.get("sender")?.as_str()?).ok()?;
    ServerName::parse(sender.server_name()).ok()
}

/// The stripped state a client is shown for an invite or a knock, as a JSON array.
pub(crate) fn stripped_json(entries: &[InviteStateEvent]) -> String {
    let events: Vec<serde_json::Value> = entries
        .iter()
        .filter_map(|entry| match entry {
            InviteStateEvent::Pdu(pdu) => Some(serde_json::json!({
                "type": pdu.event_type(),
                "state_key": pdu.state_key().unwrap_or_default(),
                "sender": pdu.sender().as_str(),
                "content": serde_json::Value::from(&Value::Object(pdu.content().clone())),
            })),
            InviteStateEvent::Stripped {
                event_type,
                state_key,
                sender,
                content,
            } => Some(serde_json::json!({
                "type": event_type,
                "state_key": state_key,
                "sender": sender,
                "content": serde_json::Value::from(&Value::Object(content.clone())),
            })),
            _ => None,
        })
        .collect();
    serde_json::Value::Array(events).to_string()
}

/// Joins `user_id` to a room through one of `servers`, stores the room and tells the
/// local clients.
///
/// # Errors
///
/// The resident's refusal (`M_FORBIDDEN` for a ban or a closed room), `M_NOT_FOUND`
/// when no resident knows the room, 502 when none could be reached or all answered
/// with invalid rooms.
pub(crate) async fn join_remote(
    app: &App,
    user_id: &str,
    target: Target,
    reason: Option<String>,
) -> ApiResult<()> {
    let user = parse_user(user_id)?;
    let lookup = user_id.to_owned();
    let mut content = app
        .db(move |store| rooms::member_content(store, &lookup, "join"))
        .await?;
    if let Some(reason) = reason {
        content.insert("reason", Value::from(reason));
    }
    let params = handshake_params(app, user, target.room_id, target.servers)?.with_content(content);
    let joined: JoinedRoom = drive(app, Join(JoinHandshake::new(params))).await?;
    let worker = app.clone();
    app.db(move |store| {
        let (outliers, state, before) = split(&joined, user_id_of(&joined));
        let creator = joined
            .state
            .get(&StateKey::new("m.room.create", ""))
            .map(|create| create.sender().as_str().to_owned())
            .unwrap_or_default();
        store.join_remote_room(
            &creator,
            crate::now_ms(),
            &outliers,
            &joined.join_event,
            &state,
            &before,
        )?;
        worker.notify();
        Ok(())
    })
    .await
}

/// Leaves a room this server is not in (rejecting an invite from another server)
/// through the inviter's server with make_leave and send_leave.
///
/// # Errors
///
/// As [`join_remote`].
pub(crate) async fn leave_remote(
    app: &App,
    user_id: &str,
    room_id: RoomId,
    servers: Vec<ServerName>,
) -> ApiResult<()> {
    let user = parse_user(user_id)?;
    let params = handshake_params(app, user, room_id, servers)?;
    let left: LeftRoom = drive(app, Leave(LeaveHandshake::new(params))).await?;
    let worker = app.clone();
    let who = user_id.to_owned();
    app.db(move |store| {
        store.end_remote_membership(&left.leave_event, &who)?;
        worker.notify();
        Ok(())
    })
    .await
}

/// Knocks on a room of another server with make_knock and send_knock; the knock is
/// stored as an outlier and the room appears under `knock` in the user's membership.
///
/// # Errors
///
/// As [`join_remote`].
pub(crate) async fn knock_remote(
    app: &App,
    user_id: &str,
    target: Target,
    reason: Option<String>,
) -> ApiResult<()> {
    let user = parse_user(user_id)?;
    let mut content = Object::new();
    if let Some(reason) = reason {
        content.insert("reason", Value::from(reason));
    }
    let params = handshake_params(app, user, target.room_id, target.servers)?.with_content(content);
    let knocked: KnockedRoom = drive(app, Knock(KnockHandshake::new(params))).await?;
    let worker = app.clone();
    let who = user_id.to_owned();
    let stripped = stripped_json(&knocked.knock_room_state);
    app.db(move |store| {
        store.put_remote_membership(&knocked.knock_event, &who, &stripped)?;
        worker.notify();
        Ok(())
    })
    .await
}

fn handshake_params(
    app: &App,
    user: UserId,
    room_id: RoomId,
    servers: Vec<ServerName>,
) -> ApiResult<HandshakeParams> {
    if app.peers().is_none() {
        return Err(ApiError::forbidden("this server does not federate"));
    }
    let ours =
        ServerName::parse(app.server_name()).map_err(|e| ApiError::internal("server name", e))?;
    Ok(HandshakeParams::new(
        user,
        room_id,
        servers,
        ours,
        app.key().clone(),
        crate::now_ms(),
    ))
}

fn parse_user(user_id: &str) -> ApiResult<UserId> {
    UserId::parse(user_id).map_err(|e| ApiError::internal("user ID", e))
}

fn user_id_of(joined: &JoinedRoom) -> &str {
    joined.join_event.state_key().unwrap_or_default()
}

/// What a join stores: the outliers (auth chain, then the state but the join), the
/// state after the join, and the state before it (ours at the key of our previous
/// membership, when the join's auth events name one).
fn split<'a>(joined: &'a JoinedRoom, user_id: &str) -> (Vec<&'a Pdu>, StateMap, StateMap) {
    let join_id = joined.join_event.event_id();
    let mut outliers: Vec<&Pdu> = joined.auth_chain.iter().collect();
    outliers.extend(
        joined
            .state
            .values()
            .filter(|pdu| pdu.event_id() != join_id),
    );
    let state: StateMap = joined
        .state
        .iter()
        .map(|(key, pdu)| (key.clone(), pdu.event_id().clone()))
        .collect();
    let ours = StateKey::new("m.room.member", user_id);
    let mut before = state.clone();
    before.remove(&ours);
    let previous = outliers.iter().find(|pdu| {
        pdu.event_type() == "m.room.member"
            && pdu.state_key() == Some(user_id)
            && joined.join_event.auth_events().contains(pdu.event_id())
    });
    if let Some(previous) = previous {
        before.insert(ours, previous.event_id().clone());
    }
    (outliers, state, before)
}

/// The three handshakes, as one shape for [`drive`].
trait Handshake {
    type Output;
    fn poll(&mut self) -> Step<Self::Output>;
    fn provide_reply(&mut self, id: RequestId, reply: Reply);
    fn provide_keys(&mut self, keys: &PublicKeys);
}

struct Join(JoinHandshake);
struct Leave(LeaveHandshake);
struct Knock(KnockHandshake);

impl Handshake for Join {
    type Output = JoinedRoom;
    fn poll(&mut self) -> Step<JoinedRoom> {
        self.0.poll()
    }
    fn provide_reply(&mut self, id: RequestId, reply: Reply) {
        self.0.provide_reply(id, reply);
    }
    fn provide_keys(&mut self, keys: &PublicKeys) {
        self.0.provide_keys(keys);
    }
}

impl Handshake for Leave {
    type Output = LeftRoom;
    fn poll(&mut self) -> Step<LeftRoom> {
        self.0.poll()
    }
    fn provide_reply(&mut self, id: RequestId, reply: Reply) {
        self.0.provide_reply(id, reply);
    }
    fn provide_keys(&mut self, _: &PublicKeys) {}
}

impl Handshake for Knock {
    type Output = KnockedRoom;
    fn poll(&mut self) -> Step<KnockedRoom> {
        self.0.poll()
    }
    fn provide_reply(&mut self, id: RequestId, reply: Reply) {
        self.0.provide_reply(id, reply);
    }
    fn provide_keys(&mut self, _: &PublicKeys) {}
}

/// Runs a handshake to its end: sends what it asks (send_join answers may be large),
/// fetches the keys it needs.
async fn drive<H: Handshake>(app: &App, mut handshake: H) -> ApiResult<H::Output> {
    let peers = app
        .peers()
        .ok_or_else(|| ApiError::forbidden("this server does not federate"))?;
    for _ in 0..MAX_STEPS {
        match handshake.poll() {
            Step::Send(request) => {
                let limit = if request.uri.contains("/send_join/") {
                    MAX_SEND_JOIN_ANSWER
                } else {
                    MAX_ANSWER
                };
                let reply = match peers
                    .request_limited(
                        request.destination.as_str(),
                        request.method,
                        &request.uri,
                        request.body.as_ref(),
                        limit,
                    )
                    .await
                {
                    Ok((status, body)) => Reply::response(status, body),
                    Err(error) => {
                        tracing::warn!("{} {}: {error}", request.destination, request.uri);
                        Reply::Failed
                    }
                };
                handshake.provide_reply(request.id, reply);
            }
            Step::NeedKeys(needs) => {
                let servers: Vec<ServerName> = needs.into_iter().map(|need| need.server).collect();
                let keys = app.server_keys()?.for_events(app, &servers).await?;
                handshake.provide_keys(&keys);
            }
            Step::Done(output) => return Ok(*output),
            Step::Failed(error) => return Err(refusal(&error)),
            // Every request is answered before the next poll.
            Step::Waiting | _ => {
                return Err(ApiError::internal("handshake", "waiting with nothing sent"));
            }
        }
    }
    Err(ApiError::internal("handshake", "too many steps"))
}

/// The client's answer for a failed handshake: the last resident's refusal when it
/// refused, else 404 when none knew the room, else 502.
fn refusal(error: &HandshakeError) -> ApiError {
    use matrix_serverlib::federation::membership::AttemptError;
    let summary = error
        .attempts()
        .iter()
        .map(|(server, why)| format!("{server}: {why}"))
        .collect::<Vec<_>>()
        .join("; ");
    match error.attempts().last() {
        Some((_, AttemptError::Refused { status, errcode })) if *status < 500 => {
            let code = known_errcode(errcode);
            let status = axum::http::StatusCode::from_u16(*status)
                .unwrap_or(axum::http::StatusCode::FORBIDDEN);
            ApiError::new(status, code, summary)
        }
        None => ApiError::not_found("no server to join the room through"),
        Some(_) => bad_gateway(summary),
    }
}

/// The resident's `errcode` when it is one of those a join refusal carries.
fn known_errcode(errcode: &str) -> &'static str {
    const KNOWN: [&str; 6] = [
        "M_FORBIDDEN",
        "M_NOT_FOUND",
        "M_INCOMPATIBLE_ROOM_VERSION",
        "M_LIMIT_EXCEEDED",
        "M_UNABLE_TO_AUTHORISE_JOIN",
        "M_UNABLE_TO_GRANT_JOIN",
    ];
    KNOWN
        .into_iter()
        .find(|code| *code == errcode)
        .unwrap_or("M_FORBIDDEN")
}

fn bad_gateway(message: String) -> ApiError {
    ApiError::new(axum::http::StatusCode::BAD_GATEWAY, "M_UNKNOWN", message)
}
