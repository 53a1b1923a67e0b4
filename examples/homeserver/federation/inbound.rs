//! Authentication of every inbound federation request through the core: the raw
//! request-target, the body and every `Authorization` header go to
//! `federation::request`, which says whose keys it needs; the keyring supplies them
//! (fetching the origin's key document on a miss), and the core verifies.

use axum::body::to_bytes;
use axum::extract::{FromRequest, OriginalUri, Request};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;

use matrix_serverlib::federation::MatrixError;
use matrix_serverlib::federation::request::{IncomingRequest, begin_authentication};
use matrix_serverlib::json::Object;

use crate::app::App;
use crate::error::ApiError;

/// The largest federation request body read (a transaction of 50 PDUs of 64 KiB and
/// 100 EDUs fits).
pub(crate) const MAX_FEDERATION_BODY: usize = 8 * 1024 * 1024;

/// An authenticated federation request: the server that sent it, and its JSON body
/// (`PUT` and `POST`).
#[derive(Debug)]
pub(crate) struct Origin {
    /// The requesting server's name.
    pub(crate) server: String,
    /// The body, for `PUT` and `POST`.
    pub(crate) content: Option<Object>,
}

/// The raw query of a federation request, parsed by the core (repeated names kept).
///
/// # Errors
///
/// `M_INVALID_PARAM` for a query that does not decode.
pub(crate) fn query_params(query: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    matrix_serverlib::federation::path::parse_query(query.unwrap_or_default())
        .map_err(|e| ApiError::invalid_param(e.to_string()))
}

/// The first value of the required query parameter `name`.
///
/// # Errors
///
/// `M_MISSING_PARAM` when it is absent.
pub(crate) fn required<'a>(
    params: &'a [(String, String)],
    name: &str,
) -> Result<&'a str, ApiError> {
    matrix_serverlib::federation::path::first(params, name)
        .ok_or_else(|| ApiError::missing_param(name))
}

/// The core's refusal as the Matrix error it maps to.
pub(crate) fn matrix_error(error: &(impl MatrixError + ?Sized)) -> ApiError {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    ApiError::new(status, error.errcode().as_str(), error.to_string())
}

impl FromRequest<App> for Origin {
    type Rejection = ApiError;

    async fn from_request(request: Request, app: &App) -> Result<Self, Self::Rejection> {
        // The request-target exactly as received: what the origin signed.
        let raw_uri = request
            .extensions()
            .get::<OriginalUri>()
            .map_or_else(|| request.uri().clone(), |original| original.0.clone());
        let raw_uri = raw_uri
            .path_and_query()
            .map_or_else(|| raw_uri.path().to_owned(), |pq| pq.as_str().to_owned());
        let method = request.method().as_str().to_owned();
        let headers: Vec<Vec<u8>> = request
            .headers()
            .get_all(AUTHORIZATION)
            .iter()
            .map(|value| value.as_bytes().to_vec())
            .collect();
        let body = to_bytes(request.into_body(), MAX_FEDERATION_BODY)
            .await
            .map_err(|_| ApiError::too_large("federation request body too large"))?;
        let header_refs: Vec<&[u8]> = headers.iter().map(Vec::as_slice).collect();
        let incoming = IncomingRequest::new(&method, &raw_uri, &body, &header_refs);
        let pending =
            begin_authentication(&incoming, &[app.server_name()]).map_err(|e| matrix_error(&e))?;
        let now = crate::now_ms();
        let need = pending.key_need(now).map_err(|e| matrix_error(&e))?;
        let keys = app.server_keys()?.for_request(app, need, now).await?;
        let authenticated = pending.finish(&keys).map_err(|e| matrix_error(&e))?;
        Ok(Self {
            server: authenticated.origin,
            content: authenticated.content,
        })
    }
}
