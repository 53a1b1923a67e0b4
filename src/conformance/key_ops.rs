//! The key-document op: `verify_key_document`.

use super::fields;
use super::protocol::{ErrorWord, Failure};
use crate::base64;
use crate::crypto::{PublicKeys, VerifyKey};
use crate::federation::keys::{self, ServerKeyDocument};
use crate::id::ServerName;
use crate::json::{Object, Value};

/// `verify_key_document`: `{"valid": bool, "keys": {...}}`, the document checked by
/// [`keys::validate_key_object`] (and [`keys::validate_notary_entry`] with a
/// `notary`). A case whose `server_name` (or the notary's) is not a server name, or
/// whose notary key is not an `ed25519:` key of 32 bytes, is `bad_input`.
pub(crate) fn verify_key_document(request: &Object) -> Result<Object, Failure> {
    let server = server_name(fields::string(request, "server_name")?)?;
    let response = fields::object(request, "response")?;
    let outcome = match request.get("notary") {
        None => keys::validate_key_object(response, &server),
        Some(notary) => {
            let notary = notary.as_object().ok_or_else(|| {
                Failure::new(ErrorWord::BadInput, "field 'notary' has the wrong kind")
            })?;
            let (name, notary_keys) = notary_keys(notary)?;
            keys::validate_notary_entry(response, &server, &name, &notary_keys)
        }
    };
    let mut answer = Object::new();
    match outcome {
        Ok(document) => {
            answer.insert("valid", Value::Bool(true));
            answer.insert("keys", Value::Object(listed_keys(&document)));
        }
        Err(error) => {
            answer.insert("valid", Value::Bool(false));
            answer.insert("reason", Value::String(error.to_string()));
        }
    }
    Ok(answer)
}

/// The notary's name and keys.
fn notary_keys(notary: &Object) -> Result<(ServerName, PublicKeys), Failure> {
    let name = server_name(fields::string(notary, "server_name")?)?;
    let mut keys = PublicKeys::new();
    for (key_id, key) in fields::object(notary, "keys")?.iter() {
        let bad = |what: &str| {
            Failure::new(
                ErrorWord::BadInput,
                format!("notary key {key_id} of {name}: {what}"),
            )
        };
        if !key_id.starts_with("ed25519:") {
            return Err(bad("unsupported signing algorithm"));
        }
        let text = key.as_str().ok_or_else(|| bad("not a string"))?;
        let bytes = base64::decode_array::<32>(text).map_err(|_| bad("not 32 bytes of base64"))?;
        let key = VerifyKey::from_bytes(&bytes).map_err(|_| bad("not an ed25519 public key"))?;
        keys.insert(name.as_str(), key_id, key);
    }
    Ok((name, keys))
}

fn server_name(text: &str) -> Result<ServerName, Failure> {
    ServerName::parse(text).map_err(|error| {
        Failure::new(
            ErrorWord::BadInput,
            format!("{text:?} is not a server name: {error}"),
        )
    })
}

/// `{key_id: {"key", "valid_until_ts"}}`: the current keys with the document's
/// `valid_until_ts`, then the old keys with their `expired_ts` (an old key under the ID
/// of a current one replaces it).
fn listed_keys(document: &ServerKeyDocument) -> Object {
    let entry = |key: &VerifyKey, until: i64| {
        let mut entry = Object::new();
        entry.insert("key", Value::String(key.to_base64()));
        entry.insert("valid_until_ts", Value::from(until));
        Value::Object(entry)
    };
    let mut listed = Object::new();
    for (key_id, key) in document.verify_keys() {
        listed.insert(key_id.as_str(), entry(key, document.valid_until_ts()));
    }
    for (key_id, old) in document.old_verify_keys() {
        listed.insert(key_id.as_str(), entry(&old.key, old.expired_ts));
    }
    listed
}
