//! The operations of the protocol.

use super::fields;
use super::protocol::{ErrorWord, Failure};
use crate::base64;
use crate::crypto::{self, PublicKeys, SigningKey, VerifyKey};
use crate::event::Pdu;
use crate::json::{self, Object, ParseOptions, Value};
use crate::redact::redact;

/// Runs `op`, or `None` when it is not an op of the protocol.
pub(crate) fn dispatch(op: &str, request: &Object) -> Option<Result<Object, Failure>> {
    let result = match op {
        "canonical" => canonical(request),
        "content_hash" => content_hash(request),
        "redact" => redact_op(request),
        "event_id" => event_id(request),
        "sign" => sign(request),
        "verify" => verify(request),
        "sign_event" => sign_event(request),
        "verify_event" => verify_event(request),
        "auth_types" => super::auth_ops::auth_types(request),
        "auth" => super::auth_ops::auth(request),
        "resolve" => super::resolve_op::resolve(request),
        "sign_request" => super::request_ops::sign_request(request),
        "verify_request" => super::request_ops::verify_request(request),
        "verify_key_document" => super::key_ops::verify_key_document(request),
        _ => return None,
    };
    Some(result)
}

/// `canonical`: `json` (text) and `strict` (default true) → `{"canonical": text}`.
fn canonical(request: &Object) -> Result<Object, Failure> {
    let text = fields::string(request, "json")?;
    let strict = fields::bool_or(request, "strict", true)?;
    let value =
        json::parse(text.as_bytes(), &ParseOptions::for_strictness(strict)).map_err(|error| {
            if error.is_invalid_json() {
                Failure::new(
                    ErrorWord::BadInput,
                    format!("json is not valid JSON text: {error}"),
                )
            } else {
                Failure::new(ErrorWord::NotCanonical, error.to_string())
            }
        })?;
    Ok(answer("canonical", Value::String(json::to_string(&value))))
}

/// `content_hash`: `event` → `{"sha256": b64}`.
fn content_hash(request: &Object) -> Result<Object, Failure> {
    let event = fields::object(request, "event")?;
    Ok(answer(
        "sha256",
        Value::String(base64::encode(crypto::content_hash(event))),
    ))
}

/// `redact`: `room_version`, `event` → `{"redacted": event}`.
fn redact_op(request: &Object) -> Result<Object, Failure> {
    let version = fields::room_version(request)?;
    let event = fields::object(request, "event")?;
    Ok(answer("redacted", Value::Object(redact(event, &version))))
}

/// `event_id`: `room_version`, `event` → `{"event_id": id}`.
fn event_id(request: &Object) -> Result<Object, Failure> {
    let version = fields::room_version(request)?;
    let event = fields::object(request, "event")?;
    // Like Synapse, compute IDs only of events that parse for the version.
    let pdu = Pdu::from_object(event.clone(), &version).map_err(bad_input)?;
    Ok(answer(
        "event_id",
        Value::String(pdu.event_id().as_str().to_owned()),
    ))
}

/// `sign`: `json`, `server_name`, `key_id`, `seed` → `{"signed": object}`.
fn sign(request: &Object) -> Result<Object, Failure> {
    let mut object = fields::object(request, "json")?.clone();
    let (server, key) = signing_key(request)?;
    crypto::sign_json(&mut object, server, &key).map_err(bad_input)?;
    Ok(answer("signed", Value::Object(object)))
}

/// `verify`: `json`, `keys` → `{"valid": bool}`: every server in `keys` signed the
/// object under a listed key, and all such signatures verify.
fn verify(request: &Object) -> Result<Object, Failure> {
    let object = fields::object(request, "json")?;
    let keys = public_keys(request)?;
    let valid = keys
        .servers()
        .all(|server| crypto::verify_json(object, server, &keys).is_ok());
    Ok(answer("valid", Value::Bool(valid)))
}

/// `sign_event`: `room_version`, `event`, `server_name`, `key_id`, `seed` →
/// `{"signed": event}`.
fn sign_event(request: &Object) -> Result<Object, Failure> {
    let version = fields::room_version(request)?;
    let mut event = fields::object(request, "event")?.clone();
    let (server, key) = signing_key(request)?;
    crypto::sign_event(&mut event, &version, server, &key).map_err(bad_input)?;
    Ok(answer("signed", Value::Object(event)))
}

/// `verify_event`: `room_version`, `event`, `keys` → `{"signatures_ok", "hash_ok"}`.
fn verify_event(request: &Object) -> Result<Object, Failure> {
    let version = fields::room_version(request)?;
    let event = fields::object(request, "event")?;
    let keys = public_keys(request)?;
    let signatures_ok = crypto::verify_event_signatures(event, &version, &keys).is_ok();
    let mut result = answer("signatures_ok", Value::Bool(signatures_ok));
    result.insert("hash_ok", Value::Bool(crypto::check_content_hash(event)));
    Ok(result)
}

/// The `server_name` and the key from `key_id` and `seed`.
fn signing_key(request: &Object) -> Result<(&str, SigningKey), Failure> {
    let server = fields::string(request, "server_name")?;
    let key_id = fields::string(request, "key_id")?;
    let algorithm = key_id
        .split_once(':')
        .map_or(key_id, |(algorithm, _)| algorithm);
    if algorithm != "ed25519" {
        return Err(Failure::new(
            ErrorWord::BadInput,
            format!("unsupported algorithm {algorithm}"),
        ));
    }
    let seed = fields::string(request, "seed")?;
    let seed = base64::decode_array::<32>(seed)
        .map_err(|_| Failure::new(ErrorWord::BadInput, "seed must be 32 bytes"))?;
    Ok((server, SigningKey::from_seed(key_id, seed)))
}

/// The `keys` field: `{server: {key_id: b64 public key}}`.
fn public_keys(request: &Object) -> Result<PublicKeys, Failure> {
    let mut keys = PublicKeys::new();
    for (server, by_id) in fields::object(request, "keys")? {
        let by_id = by_id.as_object().ok_or_else(|| {
            Failure::new(
                ErrorWord::BadInput,
                format!("keys of {server} are not an object"),
            )
        })?;
        for (key_id, key) in by_id {
            let key = key
                .as_str()
                .ok_or_else(|| {
                    Failure::new(ErrorWord::BadInput, format!("key {key_id} is not a string"))
                })
                .and_then(|text| VerifyKey::from_base64(text).map_err(bad_input))?;
            keys.insert(server, key_id, key);
        }
    }
    Ok(keys)
}

fn bad_input(error: impl std::fmt::Display) -> Failure {
    Failure::new(ErrorWord::BadInput, error.to_string())
}

/// A one-field answer.
fn answer(name: &str, value: Value) -> Object {
    let mut object = Object::new();
    object.insert(name, value);
    object
}
