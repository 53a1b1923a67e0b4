//! Signing and verifying JSON objects (spec appendix "Signing JSON").

use super::{PublicKeys, SignatureError, SigningKey, VerifyKey};
use crate::base64;
use crate::json::{self, Object, Value};

/// Signs `object` as `entity` (usually a server name) with `key`: the canonical JSON of
/// the object without `signatures` and `unsigned` is signed, and the signature is
/// added at `signatures[entity][key_id]`, keeping the signatures already there.
///
/// # Errors
///
/// [`SignatureError::MalformedSignatures`] when `signatures`, or its entry for
/// `entity`, exists but is not an object.
pub fn sign_json(
    object: &mut Object,
    entity: &str,
    key: &SigningKey,
) -> Result<(), SignatureError> {
    let signature = base64::encode(key.sign_bytes(&signing_bytes(object)));
    insert_signature(object, entity, key.key_id(), signature)
}

/// Puts `signature` at `signatures[entity][key_id]`.
pub(crate) fn insert_signature(
    object: &mut Object,
    entity: &str,
    key_id: &str,
    signature: String,
) -> Result<(), SignatureError> {
    if !object.contains_key("signatures") {
        object.insert("signatures", Value::Object(Object::new()));
    }
    let signatures = object
        .get_mut("signatures")
        .and_then(Value::as_object_mut)
        .ok_or(SignatureError::MalformedSignatures { entity: None })?;
    if !signatures.contains_key(entity) {
        signatures.insert(entity, Value::Object(Object::new()));
    }
    let by_entity = signatures
        .get_mut(entity)
        .and_then(Value::as_object_mut)
        .ok_or_else(|| SignatureError::MalformedSignatures {
            entity: Some(entity.to_owned()),
        })?;
    by_entity.insert(key_id, Value::String(signature));
    Ok(())
}

/// Verifies the signatures of `entity` on `object` with the keys supplied for it.
///
/// Succeeds when `object` carries at least one signature of `entity` under a key ID
/// that `keys` lists for `entity` (other key IDs are ignored) and every such signature
/// verifies.
///
/// # Errors
///
/// [`SignatureError::MissingSignature`], [`SignatureError::NoKnownKey`],
/// [`SignatureError::Invalid`] or [`SignatureError::MalformedSignatures`].
pub fn verify_json(object: &Object, entity: &str, keys: &PublicKeys) -> Result<(), SignatureError> {
    let message = signing_bytes(object);
    for check in signature_checks(object.get("signatures"), entity, keys, None)? {
        check.verify(&message)?;
    }
    Ok(())
}

/// The canonical JSON of `object` without `signatures` and `unsigned`.
pub(crate) fn signing_bytes(object: &Object) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    json::write_object_filtered(
        object,
        |key| key != "signatures" && key != "unsigned",
        &mut out,
    );
    out
}

/// One signature to check: who, with which key, and the signature bytes (or why they
/// could not be decoded).
#[derive(Debug, Clone)]
pub(crate) struct SignatureCheck {
    pub(crate) entity: String,
    pub(crate) key_id: String,
    pub(crate) key: VerifyKey,
    /// `None` when the signature is not base64 of 64 bytes: it can never verify.
    pub(crate) signature: Option<[u8; 64]>,
}

impl SignatureCheck {
    fn invalid(&self) -> SignatureError {
        SignatureError::Invalid {
            entity: self.entity.clone(),
            key_id: self.key_id.clone(),
        }
    }

    /// Verifies this signature over `message` strictly.
    pub(crate) fn verify(&self, message: &[u8]) -> Result<(), SignatureError> {
        match &self.signature {
            Some(signature) if self.key.verify_strict(message, signature) => Ok(()),
            _ => Err(self.invalid()),
        }
    }
}

/// The signatures of `entity` in `signatures` that `keys` can check, all of which must
/// verify. With `origin_server_ts`, keys whose validity ended before it are ignored.
///
/// # Errors
///
/// When `entity` has no signature, or none under a usable key.
pub(crate) fn signature_checks(
    signatures: Option<&Value>,
    entity: &str,
    keys: &PublicKeys,
    origin_server_ts: Option<i64>,
) -> Result<Vec<SignatureCheck>, SignatureError> {
    let missing = || SignatureError::MissingSignature {
        entity: entity.to_owned(),
    };
    let by_entity = match signatures {
        None => return Err(missing()),
        Some(Value::Object(signatures)) => signatures.get(entity).ok_or_else(missing)?,
        Some(_) => {
            return Err(SignatureError::MalformedSignatures { entity: None });
        }
    };
    let by_entity = by_entity
        .as_object()
        .ok_or_else(|| SignatureError::MalformedSignatures {
            entity: Some(entity.to_owned()),
        })?;
    let mut checks = Vec::new();
    let mut expired = None;
    for (key_id, signature) in by_entity {
        // Only ed25519 keys are defined; other algorithms are ignored.
        if !key_id.starts_with("ed25519:") {
            continue;
        }
        let Some((key, valid_until_ts)) = keys.lookup(entity, key_id) else {
            continue;
        };
        if let (Some(until), Some(ts)) = (valid_until_ts, origin_server_ts)
            && until < ts
        {
            expired = Some(SignatureError::KeyExpired {
                entity: entity.to_owned(),
                key_id: key_id.to_owned(),
                origin_server_ts: ts,
            });
            continue;
        }
        let signature = signature
            .as_str()
            .and_then(|text| base64::decode_array::<64>(text).ok());
        checks.push(SignatureCheck {
            entity: entity.to_owned(),
            key_id: key_id.to_owned(),
            key,
            signature,
        });
    }
    if checks.is_empty() {
        return Err(expired.unwrap_or_else(|| SignatureError::NoKnownKey {
            entity: entity.to_owned(),
        }));
    }
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::object;

    fn spec_key() -> SigningKey {
        SigningKey::from_base64_seed("ed25519:1", "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1")
            .unwrap()
    }

    #[test]
    fn spec_json_signing_vectors() {
        let cases = [
            (
                "{}",
                r#"{"signatures":{"domain":{"ed25519:1":"K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"}}}"#,
            ),
            (
                r#"{"one":1,"two":"Two"}"#,
                r#"{"one":1,"signatures":{"domain":{"ed25519:1":"KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"}},"two":"Two"}"#,
            ),
        ];
        let mut keys = PublicKeys::new();
        keys.insert("domain", "ed25519:1", spec_key().public_key());
        for (input, expected) in cases {
            let mut signed = object(input);
            sign_json(&mut signed, "domain", &spec_key()).unwrap();
            assert_eq!(json::to_string(&Value::Object(signed.clone())), expected);
            verify_json(&signed, "domain", &keys).unwrap();
        }
    }

    #[test]
    fn unsigned_is_not_signed_and_is_kept() {
        let mut signed = object(r#"{"a":1,"unsigned":{"age":5}}"#);
        sign_json(&mut signed, "domain", &spec_key()).unwrap();
        let mut plain = object(r#"{"a":1}"#);
        sign_json(&mut plain, "domain", &spec_key()).unwrap();
        assert_eq!(signed.get("signatures"), plain.get("signatures"));
        assert!(signed.contains_key("unsigned"));
    }

    #[test]
    fn verification_failures_are_typed() {
        let key = spec_key();
        let mut keys = PublicKeys::new();
        keys.insert("domain", "ed25519:1", key.public_key());
        let mut signed = object(r#"{"a":1}"#);
        sign_json(&mut signed, "domain", &key).unwrap();
        assert!(matches!(
            verify_json(&signed, "other", &keys),
            Err(SignatureError::MissingSignature { .. })
        ));
        let mut unknown = PublicKeys::new();
        unknown.insert("domain", "ed25519:2", key.public_key());
        assert!(matches!(
            verify_json(&signed, "domain", &unknown),
            Err(SignatureError::NoKnownKey { .. })
        ));
        let mut altered = signed.clone();
        altered.insert("a", Value::from(2));
        assert!(matches!(
            verify_json(&altered, "domain", &keys),
            Err(SignatureError::Invalid { .. })
        ));
        let mut garbage = signed.clone();
        insert_signature(&mut garbage, "domain", "ed25519:1", "not base64!".into()).unwrap();
        assert!(matches!(
            verify_json(&garbage, "domain", &keys),
            Err(SignatureError::Invalid { .. })
        ));
        let mut not_object = object(r#"{"signatures":[]}"#);
        assert!(matches!(
            sign_json(&mut not_object, "domain", &key),
            Err(SignatureError::MalformedSignatures { .. })
        ));
    }
}
