//! Request plumbing shared by the handlers: the access-token extractor, the JSON body
//! extractor with the spec's error codes, query parameters, and typed reads of body
//! fields.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde_json::{Map, Value};

use crate::app::App;
use crate::error::ApiError;

/// The largest request body accepted; events themselves are limited to 64 KiB.
pub(crate) const MAX_BODY: usize = 1 << 20;

/// The address of the client, as the listener put it in the request's extensions (the
/// unspecified address when there is none, as in tests that call the router directly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientAddr(pub(crate) IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Self>()
            .copied()
            .unwrap_or(Self(IpAddr::V4(Ipv4Addr::UNSPECIFIED))))
    }
}

/// The user behind a valid access token, or the user an application service acts as
/// with its `as_token` (its sender, or `?user_id=` in its namespace).
#[derive(Debug, Clone)]
pub(crate) struct Auth {
    /// The user.
    pub(crate) user_id: String,
    /// The device the token belongs to (for an application service, `?device_id=` or
    /// a device named after the service).
    pub(crate) device_id: String,
    /// The token itself (for logout).
    pub(crate) token: String,
    /// The application service behind the request, by ID, when the token is an
    /// `as_token`.
    pub(crate) appservice: Option<String>,
}

impl FromRequestParts<App> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let token = access_token(parts).ok_or_else(ApiError::missing_token)?;
        if let Some(service) = app.appservices().by_as_token(&token) {
            return appservice_auth(parts, app, service.id().to_owned(), token).await;
        }
        let lookup = token.clone();
        let (user_id, device_id) = app
            .db(move |store| store.token_owner(&lookup))
            .await?
            .ok_or_else(ApiError::unknown_token)?;
        Ok(Self {
            user_id,
            device_id,
            token,
            appservice: None,
        })
    }
}

/// The identity an application service's request asserts, checked by the core's
/// masquerade rules (namespace first, then whether the user and device exist).
async fn appservice_auth(
    parts: &Parts,
    app: &App,
    service_id: String,
    token: String,
) -> Result<Auth, ApiError> {
    let Query(params) = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
        .map_err(|e| ApiError::invalid_param(format!("query string: {e}")))?;
    let service = app
        .appservices()
        .get(&service_id)
        .ok_or_else(ApiError::unknown_token)?;
    let check = service
        .masquerade(
            params.get("user_id").map(String::as_str),
            params.get("device_id").map(String::as_str),
        )
        .map_err(|e| masquerade_error(&e))?;
    let user_id = check.user_id().to_string();
    let device = check.device_id().map(str::to_owned);
    let needs_user = check.needs_registered_user();
    let (lookup, lookup_device) = (user_id.clone(), device.clone());
    let (registered, device_exists) = app
        .db(move |store| {
            let registered = !needs_user || store.account_exists(&lookup)?;
            let device_exists = match &lookup_device {
                Some(device) => store.device_exists(&lookup, device)?,
                None => false,
            };
            Ok((registered, device_exists))
        })
        .await?;
    let masquerade = check
        .finish(registered, device_exists)
        .map_err(|e| masquerade_error(&e))?;
    let device_id = masquerade
        .device_id
        .unwrap_or_else(|| format!("AS_{service_id}"));
    Ok(Auth {
        user_id: masquerade.user_id.to_string(),
        device_id,
        token,
        appservice: Some(service_id),
    })
}

/// The core's masquerade refusal as the API answers it.
fn masquerade_error(error: &matrix_serverlib::appservice::MasqueradeError) -> ApiError {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::FORBIDDEN);
    ApiError::new(status, error.errcode(), error.to_string())
}

/// The application service whose `as_token` the request carries, by ID: `None`
/// without a token, `Some(None)` for a token that is no service's (for registration,
/// which takes requests with and without one).
#[derive(Debug, Clone)]
pub(crate) struct AppserviceToken(pub(crate) Option<Option<String>>);

impl FromRequestParts<App> for AppserviceToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        Ok(Self(access_token(parts).map(|token| {
            app.appservices()
                .by_as_token(&token)
                .map(|service| service.id().to_owned())
        })))
    }
}

/// The token from `Authorization: Bearer`, or the deprecated `access_token` query
/// parameter (which matrix-nio still uses).
fn access_token(parts: &Parts) -> Option<String> {
    if let Some(header) = parts.headers.get(AUTHORIZATION) {
        let value = header.to_str().ok()?;
        return value
            .strip_prefix("Bearer ")
            .map(|token| token.trim().to_owned());
    }
    let Query(params) = Query::<HashMap<String, String>>::try_from_uri(&parts.uri).ok()?;
    params.get("access_token").cloned()
}

/// The query string as a map; malformed encoding is `M_INVALID_PARAM`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
            .map(|Query(params)| Self(params))
            .map_err(|e| ApiError::invalid_param(format!("query string: {e}")))
    }
}

impl Params {
    /// A parameter's value.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// An integer parameter, `default` when absent.
    pub(crate) fn int(&self, name: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(text) => text
                .parse()
                .map_err(|_| ApiError::invalid_param(format!("{name} must be an integer"))),
        }
    }
}

/// A JSON object body. Not JSON: `M_NOT_JSON`; JSON but not an object: `M_BAD_JSON`;
/// over [`MAX_BODY`]: `M_TOO_LARGE` (413). An empty body reads as `{}`.
#[derive(Debug, Clone, Default)]
pub(crate) struct JsonBody(pub Map<String, Value>);

impl FromRequest<App> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, app: &App) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, app)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::too_large(format!("request body over {MAX_BODY} bytes"))
                } else {
                    ApiError::bad_json(format!("cannot read body: {rejection}"))
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(other) => Err(ApiError::bad_json(format!(
                "body must be a JSON object, not {}",
                kind(&other)
            ))),
            Err(error) => Err(ApiError::not_json(format!("body is not JSON: {error}"))),
        }
    }
}

impl JsonBody {
    /// An optional string field; another type is `M_BAD_JSON`.
    pub(crate) fn opt_str(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(wrong_type(name, "a string", other)),
        }
    }

    /// A required string field.
    pub(crate) fn str(&self, name: &str) -> Result<&str, ApiError> {
        self.opt_str(name)?
            .ok_or_else(|| ApiError::missing_param(name))
    }

    /// An optional boolean field.
    pub(crate) fn opt_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(value)) => Ok(Some(*value)),
            Some(other) => Err(wrong_type(name, "a boolean", other)),
        }
    }

    /// An optional object field.
    pub(crate) fn opt_object(&self, name: &str) -> Result<Option<&Map<String, Value>>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(other) => Err(wrong_type(name, "an object", other)),
        }
    }

    /// An optional array field.
    pub(crate) fn opt_array(&self, name: &str) -> Result<Option<&[Value]>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(wrong_type(name, "an array", other)),
        }
    }
}

fn wrong_type(name: &str, expected: &str, value: &Value) -> ApiError {
    ApiError::bad_json(format!("{name} must be {expected}, not {}", kind(value)))
}

/// The JSON kind of a value, for messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Event content from a client: a JSON object of what events of `version` may carry
/// (the library's `RoomVersion::allows_json`).
pub(crate) fn event_content(
    content: Map<String, Value>,
    version: &matrix_serverlib::room_version::RoomVersion,
) -> Result<matrix_serverlib::json::Object, ApiError> {
    let value = matrix_serverlib::json::Value::from(Value::Object(content));
    if !version.allows_json(&value) {
        return Err(ApiError::bad_json(
            "event content must be canonical JSON: integers only, within ±(2^53−1)",
        ));
    }
    match value {
        matrix_serverlib::json::Value::Object(object) => Ok(object),
        _ => Err(ApiError::bad_json("event content must be an object")),
    }
}
