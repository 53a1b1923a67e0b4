//! Federation: the TLS listener and its router, the outbound transport, the server's
//! self-signed key document
//! (<https://spec.matrix.org/v1.16/server-server-api/#get_matrixkeyv2server>) and the
//! server version.

pub(crate) mod tls;
pub(crate) mod transport;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use matrix_serverlib::crypto::sign_json;
use matrix_serverlib::json::{Object, Value as CanonicalValue};

use crate::app::App;
use crate::error::{ApiError, ApiResult};

/// How long others may cache the key document: one week.
const KEY_VALIDITY_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// `GET /_matrix/key/v2/server`: the verify key, signed by itself with the library's
/// canonical-JSON signing.
pub(crate) async fn server_keys(State(app): State<App>) -> ApiResult<Json<Value>> {
    let key = app.key();
    let mut verify_key = Object::new();
    verify_key.insert("key", CanonicalValue::from(key.public_key().to_base64()));
    let mut verify_keys = Object::new();
    verify_keys.insert(key.key_id(), CanonicalValue::Object(verify_key));
    let mut document = Object::new();
    document.insert("server_name", CanonicalValue::from(app.server_name()));
    document.insert(
        "valid_until_ts",
        CanonicalValue::from(crate::now_ms() + KEY_VALIDITY_MS),
    );
    document.insert("verify_keys", CanonicalValue::Object(verify_keys));
    document.insert("old_verify_keys", CanonicalValue::Object(Object::new()));
    sign_json(&mut document, app.server_name(), key)
        .map_err(|e| ApiError::internal("sign keys", e))?;
    Ok(Json(Value::from(&CanonicalValue::Object(document))))
}

/// `GET /_matrix/federation/v1/version`.
pub(crate) async fn version() -> Json<Value> {
    Json(json!({
        "server": { "name": "matrix-serverlib example homeserver", "version": env!("CARGO_PKG_VERSION") }
    }))
}

/// The routes of the federation listener.
pub(crate) fn router() -> axum::Router<App> {
    use axum::routing::get;
    axum::Router::new()
        .route("/_matrix/key/v2/server", get(server_keys))
        .route("/_matrix/federation/v1/version", get(version))
}
