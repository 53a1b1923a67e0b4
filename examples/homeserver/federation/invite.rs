//! Invites across servers. Outbound: the invite is built and authorised here, sent to
//! the invitee's server with `PUT /_matrix/federation/v2/invite` (with the room's state
//! as full PDUs, the create event among them), and stored only once that server has
//! countersigned it (`federation::membership::check_invite_response`). Inbound
//! (`PUT /v2/invite` and `/v1/invite`): the core checks the invite
//! (`check_incoming_invite`), this server countersigns it (`invite_response`) and keeps
//! it, with the room state that came along, for the invitee's `/sync`.

use axum::Json;
use axum::extract::{Path, State};

use matrix_serverlib::event::Pdu;
use matrix_serverlib::federation::membership::{
    InviteApi, InviteRequest, check_incoming_invite, check_invite_response, invite_response,
    invite_v2_body,
};
use matrix_serverlib::federation::outbound::Method;
use matrix_serverlib::federation::path;
use matrix_serverlib::id::{EventId, RoomId, ServerName, UserId};
use matrix_serverlib::json::{self, Object, Value};

use super::inbound::{Origin, matrix_error};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::rooms::{self, Draft};

/// The state types sent along with an invite or a knock's answer, for the client.
pub(crate) const INVITE_STATE: [&str; 6] = [
    "m.room.create",
    "m.room.join_rules",
    "m.room.name",
    "m.room.avatar",
    "m.room.canonical_alias",
    "m.room.encryption",
];

/// Invites `target` (on another server) to `room_id` on behalf of `sender`.
///
/// # Errors
///
/// `M_FORBIDDEN` when the rules refuse the invite; the invitee server's refusal, or a
/// 502 when it cannot be reached or answers with something else than the countersigned
/// invite.
pub(crate) async fn invite_remote(
    app: &App,
    room_id: &str,
    sender: &str,
    target: &UserId,
    reason: Option<String>,
) -> ApiResult<()> {
    let peers = app
        .peers()
        .ok_or_else(|| ApiError::forbidden("this server does not federate"))?
        .clone();
    let destination = ServerName::parse(target.server_name())
        .map_err(|e| ApiError::invalid_param(e.to_string()))?;
    let (room, user, who) = (
        room_id.to_owned(),
        target.as_str().to_owned(),
        sender.to_owned(),
    );
    let worker = app.clone();
    let (pdu, state_after, room_state) = app
        .db(move |store| {
            let mut content = Object::new();
            content.insert("membership", Value::from("invite"));
            if let Some(reason) = reason {
                content.insert("reason", Value::from(reason));
            }
            let draft = Draft::state("m.room.member", &user, content);
            let (pdu, state_after) = rooms::prepare(store, &worker, &room, &who, draft)?;
            let version = *pdu.room_version();
            let room_state = store
                .current_state(&room)?
                .iter()
                .filter(|(key, _)| INVITE_STATE.contains(&key.event_type()))
                .filter_map(|(_, id)| store.pdu(id.as_str(), &version).transpose())
                .collect::<ApiResult<Vec<Pdu>>>()?;
            Ok((pdu, state_after, room_state))
        })
        .await?;
    let state_refs: Vec<&Pdu> = room_state.iter().collect();
    let body = invite_v2_body(&pdu, &state_refs);
    let uri = path::invite_v2(pdu.room_id(), pdu.event_id());
    let (status, answer) = peers
        .request_raw(destination.as_str(), Method::Put, &uri, Some(&body))
        .await
        .map_err(|e| bad_gateway(format!("{destination}: {e}")))?;
    if status != 200 {
        let text = String::from_utf8_lossy(&answer).into_owned();
        return Err(if status == 403 {
            ApiError::forbidden(format!("{destination} refused the invite: {text}"))
        } else {
            bad_gateway(format!("{destination} answered {status}: {text}"))
        });
    }
    let keys = app
        .server_keys()?
        .for_events(app, std::slice::from_ref(&destination))
        .await?;
    let signed =
        check_invite_response(&answer, &pdu, &destination, &keys).map_err(|e| matrix_error(&e))?;
    let worker = app.clone();
    let skip = destination.as_str().to_owned();
    app.db(move |store| rooms::commit(store, &worker, &signed, &state_after, Some(&skip)))
        .await
}

fn bad_gateway(message: String) -> ApiError {
    ApiError::new(axum::http::StatusCode::BAD_GATEWAY, "M_UNKNOWN", message)
}

/// `PUT /_matrix/federation/v2/invite/{roomId}/{eventId}`.
pub(crate) async fn incoming_v2(
    State(app): State<App>,
    Path((room_id, event_id)): Path<(String, String)>,
    origin: Origin,
) -> ApiResult<Json<serde_json::Value>> {
    incoming(&app, InviteApi::V2, &room_id, &event_id, &origin).await
}

/// `PUT /_matrix/federation/v1/invite/{roomId}/{eventId}` (room versions 1 and 2).
pub(crate) async fn incoming_v1(
    State(app): State<App>,
    Path((room_id, event_id)): Path<(String, String)>,
    origin: Origin,
) -> ApiResult<Json<serde_json::Value>> {
    incoming(&app, InviteApi::V1, &room_id, &event_id, &origin).await
}

async fn incoming(
    app: &App,
    api: InviteApi,
    room_id: &str,
    event_id: &str,
    origin: &Origin,
) -> ApiResult<Json<serde_json::Value>> {
    let room = RoomId::parse(room_id).map_err(|e| ApiError::invalid_param(e.to_string()))?;
    let event = EventId::parse(event_id).map_err(|e| ApiError::invalid_param(e.to_string()))?;
    let origin_name =
        ServerName::parse(&origin.server).map_err(|e| ApiError::invalid_param(e.to_string()))?;
    let ours = ServerName::parse(app.server_name()).map_err(|e| ApiError::internal("name", e))?;
    let body = origin
        .content
        .as_ref()
        .map(|content| json::to_vec(&Value::Object(content.clone())))
        .ok_or_else(|| ApiError::not_json("an invite needs a body"))?;
    let keys = app
        .server_keys()?
        .for_events(app, std::slice::from_ref(&origin_name))
        .await?;
    let request = InviteRequest::new(api, &room, &event, &origin_name, &ours);
    let invite = check_incoming_invite(&request, &body, &keys).map_err(|e| matrix_error(&e))?;
    let invitee = invite.pdu().state_key().unwrap_or_default().to_owned();
    let lookup = invitee.clone();
    if !app.db(move |store| store.account_exists(&lookup)).await? {
        return Err(ApiError::not_found(format!("unknown user {invitee}")));
    }
    let answer = invite_response(&invite, &ours, app.key()).map_err(|e| matrix_error(&e))?;
    let signed = match &answer {
        Value::Object(body) => body.get("event"),
        Value::Array(items) => items.get(1).and_then(|body| body.get("event")),
        _ => None,
    }
    .and_then(Value::as_object)
    .map(|event| Pdu::from_object(event.clone(), invite.pdu().room_version()))
    .transpose()
    .map_err(|e| ApiError::internal("countersigned invite", e))?
    .unwrap_or_else(|| invite.pdu().clone());
    let stripped = super::join::stripped_json(invite.room_state());
    let worker = app.clone();
    app.db(move |store| {
        store.put_remote_membership(&signed, &invitee, &stripped)?;
        worker.notify();
        Ok(())
    })
    .await?;
    Ok(Json(serde_json::Value::from(&answer)))
}
