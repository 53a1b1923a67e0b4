//! Asking application services about names they may know: an unknown alias in a
//! service's alias namespace (`GET /_matrix/app/v1/rooms/{alias}`, after which the
//! service has created the portal room with that alias), an unknown local user in a
//! user namespace (`GET /_matrix/app/v1/users/{userId}`, after which the service has
//! registered the puppet), and the client API's
//! `POST /_matrix/client/v1/appservice/{appserviceId}/ping`.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use matrix_serverlib::appservice::{alias_query, ping as ping_request, user_query};
use matrix_serverlib::id::{RoomAliasId, UserId};

use super::outbound::{self, OutboundError};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::{Auth, JsonBody};

/// The bound on one query to a service (Synapse allows a query this long too).
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Makes sure a local alias exists if a service can make it: when `alias` is unknown
/// and in the alias namespace of services with a URL, asks each in order until one
/// answers 200 and the alias then exists. A service that fails or hangs counts as
/// "no" (logged); the caller then reports the alias unknown.
///
/// # Errors
///
/// When storage fails.
pub(crate) async fn ensure_alias(app: &App, alias: &str) -> ApiResult<()> {
    let Ok(parsed) = RoomAliasId::parse(alias) else {
        return Ok(());
    };
    if parsed.server_name() != app.server_name() || app.appservices().is_empty() {
        return Ok(());
    }
    let lookup = alias.to_owned();
    if app.db(move |store| store.alias(&lookup)).await?.is_some() {
        return Ok(());
    }
    let requests: Vec<_> = app
        .appservices()
        .alias_query_targets(alias)
        .map(|service| {
            (
                service.id().to_owned(),
                alias_query(service.registration(), &parsed),
            )
        })
        .collect();
    for (id, request) in requests {
        if asked(&id, &request).await {
            let lookup = alias.to_owned();
            if app.db(move |store| store.alias(&lookup)).await?.is_some() {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Makes sure a local user exists if a service can make it, as [`ensure_alias`] does
/// for aliases, with the user query.
///
/// # Errors
///
/// When storage fails.
pub(crate) async fn ensure_user(app: &App, user_id: &str) -> ApiResult<()> {
    let Ok(parsed) = UserId::parse(user_id) else {
        return Ok(());
    };
    if parsed.server_name() != app.server_name() || app.appservices().is_empty() {
        return Ok(());
    }
    let lookup = user_id.to_owned();
    if app.db(move |store| store.account_exists(&lookup)).await? {
        return Ok(());
    }
    let requests: Vec<_> = app
        .appservices()
        .user_query_targets(user_id)
        .map(|service| {
            (
                service.id().to_owned(),
                user_query(service.registration(), &parsed),
            )
        })
        .collect();
    for (id, request) in requests {
        if asked(&id, &request).await {
            let lookup = user_id.to_owned();
            if app.db(move |store| store.account_exists(&lookup)).await? {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Whether service `id` answered the query `request` with 200.
async fn asked(id: &str, request: &matrix_serverlib::appservice::AsRequest) -> bool {
    match outbound::send(request, None, QUERY_TIMEOUT).await {
        Ok(answer) => answer.status == 200,
        Err(error) => {
            tracing::warn!(appservice = %id, path = %request.path, "query failed: {error}");
            false
        }
    }
}

/// `POST /_matrix/client/v1/appservice/{appserviceId}/ping`: the service (with its own
/// `as_token`) asks the server to ping it back at `/_matrix/app/v1/ping`; the answer
/// is the round trip in milliseconds, or the spec's error for what went wrong.
///
/// # Errors
///
/// `M_FORBIDDEN` for any caller but that service; `M_URL_NOT_SET` without a URL;
/// `M_CONNECTION_FAILED`, `M_CONNECTION_TIMEOUT` or `M_BAD_STATUS` (502/504) when the
/// ping fails.
pub(crate) async fn ping(
    State(app): State<App>,
    auth: Auth,
    Path(appservice_id): Path<String>,
    body: JsonBody,
) -> ApiResult<Json<Value>> {
    if auth.appservice.as_deref() != Some(appservice_id.as_str()) {
        return Err(ApiError::forbidden(
            "only the application service itself may ping it",
        ));
    }
    let service = app
        .appservices()
        .get(&appservice_id)
        .ok_or_else(|| ApiError::forbidden("unknown application service"))?;
    if service.registration().url().is_none() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "M_URL_NOT_SET",
            "the application service has no url",
        ));
    }
    let request = ping_request(service.registration(), body.opt_str("transaction_id")?);
    let started = Instant::now();
    match outbound::send(&request, None, QUERY_TIMEOUT).await {
        Ok(answer) if answer.status == 200 => {
            let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            Ok(Json(json!({ "duration_ms": millis })))
        }
        Ok(answer) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "M_BAD_STATUS",
            format!(
                "the application service answered {}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            ),
        )),
        Err(OutboundError::Timeout) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "M_CONNECTION_TIMEOUT",
            "the application service did not answer in time",
        )),
        Err(error) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "M_CONNECTION_FAILED",
            format!("cannot reach the application service: {error}"),
        )),
    }
}
