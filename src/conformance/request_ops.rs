//! The request-authentication ops: `sign_request` and `verify_request`.

use super::fields;
use super::protocol::{ErrorWord, Failure};
use crate::base64;
use crate::crypto::{self, PublicKeys, SigningKey, VerifyKey};
use crate::federation::request::{self, IncomingRequest, RequestToSign, begin_authentication_with};
use crate::federation::xmatrix::Duplicates;
use crate::json::{self, Object, Value};

/// `sign_request`: `method`, `uri`, `origin`, `destination`, `content` (optional),
/// `key_id`, `seed` → `{"signed": object, "authorization": header}`.
pub(crate) fn sign_request(request: &Object) -> Result<Object, Failure> {
    let method = fields::string(request, "method")?;
    let uri = fields::string(request, "uri")?;
    let origin = fields::string(request, "origin")?;
    let destination = fields::string(request, "destination")?;
    let content = optional_object(request, "content")?;
    let key = signing_key(request)?;
    for (name, text) in [
        ("method", method),
        ("uri", uri),
        ("origin", origin),
        ("destination", destination),
    ] {
        if !text.is_ascii() {
            return Err(bad_input(format!("{name} must be ASCII")));
        }
    }
    if destination.is_empty() {
        return Err(bad_input("destination must not be empty"));
    }
    // The protocol signs whatever ASCII request-target it is given; the library's
    // `sign_request` also refuses targets no real request can have (no leading `/`, a
    // fragment) and values a header cannot carry unescaped, so the op signs the object
    // itself and writes the header with escapes where the library would refuse.
    let mut signed = Object::new();
    signed.insert("method", Value::from(method));
    signed.insert("uri", Value::from(uri));
    signed.insert("origin", Value::from(origin));
    signed.insert("destination", Value::from(destination));
    if let Some(content) = content {
        signed.insert("content", Value::Object(content.clone()));
    }
    crypto::sign_json(&mut signed, origin, &key).map_err(bad_input)?;
    let to_sign = RequestToSign::new(method, uri, origin, destination, content);
    let authorization = match request::sign_request(&to_sign, &key) {
        Ok(library) => library.authorization,
        Err(_) => escaped_header(&signed, origin, key.key_id(), destination),
    };
    let mut answer = Object::new();
    answer.insert("signed", Value::Object(signed));
    answer.insert("authorization", Value::String(authorization));
    Ok(answer)
}

/// An `X-Matrix` header with every value quoted and `"` and `\` escaped.
fn escaped_header(signed: &Object, origin: &str, key_id: &str, destination: &str) -> String {
    let quote = |text: &str| {
        let escaped: String = text
            .chars()
            .flat_map(|c| match c {
                '"' | '\\' => vec!['\\', c],
                _ => vec![c],
            })
            .collect();
        format!("\"{escaped}\"")
    };
    let sig = signed
        .get("signatures")
        .and_then(|signatures| signatures.get(origin))
        .and_then(|by_origin| by_origin.get(key_id))
        .and_then(Value::as_str)
        .unwrap_or_default();
    format!(
        "X-Matrix origin={},key={},sig={},destination={}",
        quote(origin),
        quote(key_id),
        quote(sig),
        quote(destination)
    )
}

/// `verify_request`: `method`, `uri`, `destination`, `authorization` (header values),
/// `content` (optional), `keys` → `{"valid": bool, "origin": server}` (`origin` only
/// when valid). Duplicate header parameters are read as Synapse reads them (the later
/// wins), which is what the protocol describes.
pub(crate) fn verify_request(request: &Object) -> Result<Object, Failure> {
    let method = fields::string(request, "method")?;
    let uri = fields::string(request, "uri")?;
    let destination = fields::string(request, "destination")?;
    let authorization = header_values(request)?;
    let content = optional_object(request, "content")?;
    let keys = held_keys(request)?;
    let body = content
        .map(|content| json::to_vec(&Value::Object(content.clone())))
        .unwrap_or_default();
    let headers: Vec<&[u8]> = authorization.iter().map(|value| value.as_bytes()).collect();
    let incoming = IncomingRequest::new(method, uri, &body, &headers);
    let outcome = begin_authentication_with(&incoming, &[destination], Duplicates::LastWins)
        .and_then(|pending| pending.finish(&keys));
    let mut answer = Object::new();
    match outcome {
        Ok(authenticated) => {
            answer.insert("valid", Value::Bool(true));
            answer.insert("origin", Value::String(authenticated.origin));
        }
        Err(error) => {
            answer.insert("valid", Value::Bool(false));
            answer.insert("reason", Value::String(error.to_string()));
        }
    }
    Ok(answer)
}

/// The `authorization` field: a list of strings.
fn header_values(request: &Object) -> Result<Vec<&str>, Failure> {
    let Value::Array(values) = fields::required(request, "authorization")? else {
        return Err(bad_input("field 'authorization' has the wrong kind"));
    };
    values
        .iter()
        .map(|value| {
            value
                .as_str()
                .ok_or_else(|| bad_input("authorization must be a list of strings"))
        })
        .collect()
}

/// The optional object field `name`.
fn optional_object<'a>(request: &'a Object, name: &str) -> Result<Option<&'a Object>, Failure> {
    match request.get(name) {
        None => Ok(None),
        Some(_) => fields::object(request, name).map(Some),
    }
}

/// The key from `key_id` (an `ed25519:` ID) and `seed`.
fn signing_key(request: &Object) -> Result<SigningKey, Failure> {
    let key_id = fields::string(request, "key_id")?;
    let algorithm = key_id
        .split_once(':')
        .map_or(key_id, |(algorithm, _)| algorithm);
    if algorithm != "ed25519" {
        return Err(bad_input(format!(
            "unsupported key algorithm '{algorithm}'"
        )));
    }
    let seed = fields::string(request, "seed")?;
    let seed = base64::decode_array::<32>(seed).map_err(|_| bad_input("seed must be 32 bytes"))?;
    Ok(SigningKey::from_seed(key_id, seed))
}

/// The `keys` field, `{server: {key_id: b64 public key}}`. Only `ed25519:` key IDs can
/// be held, so entries under other IDs are skipped without being read.
fn held_keys(request: &Object) -> Result<PublicKeys, Failure> {
    let mut keys = PublicKeys::new();
    for (server, by_id) in fields::object(request, "keys")? {
        let by_id = by_id
            .as_object()
            .ok_or_else(|| bad_input(format!("keys of {server} are not an object")))?;
        for (key_id, key) in by_id {
            if !key_id.starts_with("ed25519:") {
                continue;
            }
            let key = key
                .as_str()
                .and_then(|text| VerifyKey::from_base64(text).ok())
                .ok_or_else(|| bad_input(format!("key '{key_id}' is not a valid ed25519 key")))?;
            keys.insert(server, key_id, key);
        }
    }
    Ok(keys)
}

fn bad_input(message: impl ToString) -> Failure {
    Failure::new(ErrorWord::BadInput, message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::answer;
    use crate::test_util::object;

    const SEED: &str = "LGRTy245q1Sbzz5Hndv+G3ulssqB+Y+W+/h3IKM5rzQ";

    fn ask(request: &str) -> Value {
        answer(&Value::Object(object(request)))
    }

    fn sign(method: &str, content: &str) -> (Value, String) {
        let answer = ask(&format!(
            r#"{{"op":"sign_request","method":"{method}","uri":"/_matrix/federation/v1/send/1",
            "origin":"a.example","destination":"b.example","key_id":"ed25519:k1",
            "seed":"{SEED}"{content}}}"#
        ));
        let header = answer
            .get("authorization")
            .and_then(Value::as_str)
            .unwrap()
            .to_owned();
        (answer, header)
    }

    fn public_key() -> String {
        let seed = base64::decode_array::<32>(SEED).unwrap();
        SigningKey::from_seed("ed25519:k1", seed)
            .public_key()
            .to_base64()
    }

    fn verify(method: &str, destination: &str, header: &str, content: &str) -> Value {
        let header = json::to_string(&Value::from(header));
        ask(&format!(
            r#"{{"op":"verify_request","method":"{method}","uri":"/_matrix/federation/v1/send/1",
            "destination":"{destination}","authorization":[{header}],
            "keys":{{"a.example":{{"ed25519:k1":"{}","rsa:1":"not a key"}}}}{content}}}"#,
            public_key()
        ))
    }

    #[test]
    fn signed_requests_verify() {
        let (signed, header) = sign("PUT", r#","content":{"pdus":[]}"#);
        let signed = signed.get("signed").and_then(Value::as_object).unwrap();
        let fields: Vec<&str> = signed.keys().collect();
        assert_eq!(
            fields,
            [
                "content",
                "destination",
                "method",
                "origin",
                "signatures",
                "uri"
            ]
        );
        let valid = verify("PUT", "b.example", &header, r#","content":{"pdus":[]}"#);
        assert_eq!(valid.get("valid"), Some(&Value::Bool(true)));
        assert_eq!(
            valid.get("origin").and_then(Value::as_str),
            Some("a.example")
        );
        // Not valid: no origin in the answer.
        for invalid in [
            verify("PUT", "b.example", &header, r#","content":{"pdus":[1]}"#),
            verify("PUT", "b.example", &header, ""),
            verify("PUT", "c.example", &header, r#","content":{"pdus":[]}"#),
        ] {
            assert_eq!(
                invalid.get("valid"),
                Some(&Value::Bool(false)),
                "{invalid:?}"
            );
            assert_eq!(invalid.get("origin"), None);
        }
        let (_, get) = sign("GET", "");
        let valid = verify("GET", "b.example", &get, r#","content":{"ignored":true}"#);
        assert_eq!(valid.get("valid"), Some(&Value::Bool(true)));
    }

    #[test]
    fn bad_input() {
        let error = |answer: Value| {
            answer
                .get("error")
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let bad = Some("bad_input".to_owned());
        assert_eq!(
            error(ask(
                r#"{"op":"sign_request","method":"GET","uri":"/a","origin":"a.example","destination":"","key_id":"ed25519:k1","seed":"AAAA"}"#
            )),
            bad
        );
        for (field, value) in [
            ("method", "\"GÉT\""),
            ("uri", "\"/é\""),
            ("origin", "\"é.example\""),
            ("destination", "\"é\""),
            ("destination", "\"\""),
            ("key_id", "\"rsa:1\""),
            ("content", "[1]"),
        ] {
            let mut request = object(&format!(
                r#"{{"op":"sign_request","method":"GET","uri":"/a","origin":"a.example",
                "destination":"b.example","key_id":"ed25519:k1","seed":"{SEED}"}}"#
            ));
            request.insert(
                field,
                json::parse(value.as_bytes(), &json::ParseOptions::lenient()).unwrap(),
            );
            assert_eq!(
                error(answer(&Value::Object(request))),
                bad,
                "{field} {value}"
            );
        }
        let verify_request = r#"{"op":"verify_request","method":"GET","uri":"/a","destination":"b.example","keys":{}"#;
        for extra in [
            r#","authorization":"X-Matrix""#,
            r#","authorization":[7]"#,
            r#","authorization":[],"content":"{}""#,
            r#","authorization":[],"keys":{"a.example":{"ed25519:1":"AAAA"}}"#,
        ] {
            assert_eq!(
                error(ask(&format!("{verify_request}{extra}}}"))),
                bad,
                "{extra}"
            );
        }
    }
}
