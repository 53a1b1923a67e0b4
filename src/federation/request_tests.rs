use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::federation::outbound::{Method, RequestId};
use crate::test_util::object;

const NOW: i64 = 1_700_000_000_000;
const URI: &str = "/_matrix/federation/v1/send/1?x=%21a%3Ab";

fn key(name: &str) -> SigningKey {
    let seed = name.bytes().fold([1u8; 32], |mut seed, byte| {
        seed[usize::from(byte) % 32] ^= byte;
        seed
    });
    SigningKey::from_seed(format!("ed25519:{name}"), seed)
}

fn keys_for(entries: &[(&str, &SigningKey)]) -> PublicKeys {
    let mut keys = PublicKeys::new();
    for (server, key) in entries {
        keys.insert(*server, key.key_id(), key.public_key());
    }
    keys
}

fn header(
    method: &str,
    uri: &str,
    origin: &str,
    destination: &str,
    body: Option<&Object>,
) -> String {
    let to_sign = RequestToSign::new(method, uri, origin, destination, body);
    sign_request(&to_sign, &key("k1")).unwrap().authorization
}

/// Authenticates with `ours` as our names and `keys` as the keys held.
fn authenticate(
    method: &str,
    body: &[u8],
    headers: &[&str],
    ours: &[&str],
    keys: &PublicKeys,
) -> Result<Authenticated, AuthenticationError> {
    let headers: Vec<&[u8]> = headers.iter().map(|value| value.as_bytes()).collect();
    let request = IncomingRequest::new(method, URI, body, &headers);
    begin_authentication(&request, ours)?.finish(keys)
}

fn a_keys() -> PublicKeys {
    keys_for(&[("a.example", &key("k1"))])
}

#[test]
fn signed_object_and_header() {
    let body = object(r#"{"pdus":[],"edus":[]}"#);
    let to_sign = RequestToSign::new("PUT", URI, "a.example", "b.example:8448", Some(&body));
    let signed = sign_request(&to_sign, &key("k1")).unwrap();
    let keys: Vec<&str> = signed.signed.keys().collect();
    assert_eq!(
        keys,
        [
            "content",
            "destination",
            "method",
            "origin",
            "signatures",
            "uri"
        ]
    );
    crypto::verify_json(&signed.signed, "a.example", &a_keys()).unwrap();
    assert_eq!(signed.x_matrix.origin(), "a.example");
    assert_eq!(signed.x_matrix.destination(), Some("b.example:8448"));
    assert_eq!(signed.x_matrix.key_id(), "ed25519:k1");
    let prefix = r#"X-Matrix origin="a.example",key="ed25519:k1",sig=""#;
    assert!(signed.authorization.starts_with(prefix));
    assert!(
        signed
            .authorization
            .ends_with(r#"",destination="b.example:8448""#)
    );

    let to_sign = RequestToSign::new("GET", URI, "a.example", "b.example", None);
    let signed = sign_request(&to_sign, &key("k1")).unwrap();
    assert!(!signed.signed.contains_key("content"));
}

#[test]
fn signing_guards() {
    let sign = |method, uri, origin, destination| {
        sign_request(
            &RequestToSign::new(method, uri, origin, destination, None),
            &key("k1"),
        )
    };
    let invalid_uri = |uri: &str| {
        Err(RequestError::InvalidUri {
            uri: uri.to_owned(),
        })
    };
    assert_eq!(sign("GET", "_matrix/x", "a", "b"), invalid_uri("_matrix/x"));
    assert_eq!(sign("GET", "/é", "a", "b"), invalid_uri("/é"));
    assert_eq!(sign("GET", "/a#b", "a", "b"), invalid_uri("/a#b"));
    assert_eq!(
        sign("GET", "/a", "a", ""),
        Err(RequestError::EmptyDestination)
    );
    assert_eq!(
        sign("GET", "/a", "a", "é"),
        Err(RequestError::NonAsciiDestination {
            destination: "é".into()
        })
    );
    assert!(matches!(
        sign("", "/a", "a", "b"),
        Err(RequestError::InvalidMethod { .. })
    ));
    assert!(matches!(
        sign("GÉT", "/a", "a", "b"),
        Err(RequestError::InvalidMethod { .. })
    ));
    assert!(matches!(
        sign("GET", "/a", "a b", "b"),
        Err(RequestError::Header(XMatrixError::InvalidOrigin { .. }))
    ));
    assert!(matches!(
        sign("GET", "/a", "a", "b,c"),
        Err(RequestError::Header(XMatrixError::UnsafeValue {
            name: "destination",
            ..
        }))
    ));
    let odd_key = SigningKey::from_seed("ed25519:\"", [1; 32]);
    let to_sign = RequestToSign::new("GET", "/a", "a", "b", None);
    assert!(matches!(
        sign_request(&to_sign, &odd_key),
        Err(RequestError::Header(XMatrixError::UnsafeValue {
            name: "key",
            ..
        }))
    ));
}

#[test]
fn outbound_request_authorization() {
    let destination = ServerName::parse("b.example").unwrap();
    let body = object(r#"{"a":1}"#);
    let put = OutboundRequest::new(
        RequestId::new(1),
        destination.clone(),
        Method::Put,
        URI.into(),
        Some(body.clone()),
    );
    let value = put.authorization("a.example", &key("k1")).unwrap();
    let authenticated =
        authenticate("PUT", br#"{"a":1}"#, &[&value], &["b.example"], &a_keys()).unwrap();
    assert_eq!(authenticated.content, Some(body.clone()));

    let get = OutboundRequest::new(
        RequestId::new(2),
        destination.clone(),
        Method::Get,
        URI.into(),
        None,
    );
    let value = get.authorization("a.example", &key("k1")).unwrap();
    let authenticated = authenticate("GET", b"", &[&value], &["b.example"], &a_keys()).unwrap();
    assert_eq!(authenticated.origin, "a.example");
    assert_eq!(authenticated.content, None);

    let mismatches = [
        (Method::Get, Some(body.clone()), false),
        (Method::Delete, Some(body), false),
        (Method::Post, None, true),
    ];
    for (method, body, has_body) in mismatches {
        let request = OutboundRequest::new(
            RequestId::new(3),
            destination.clone(),
            method,
            URI.into(),
            body,
        );
        assert_eq!(
            request.authorization("a.example", &key("k1")),
            Err(RequestError::BodyMismatch {
                method: method.as_str(),
                has_body
            })
        );
    }
}

#[test]
fn headers_required_and_read() {
    let valid = header("GET", URI, "a.example", "b.example", None);
    let ours = ["b.example"];
    let keys = a_keys();
    assert_eq!(
        authenticate("GET", b"", &[], &ours, &keys),
        Err(AuthenticationError::MissingAuthorization)
    );
    let other_schemes = ["Bearer abc", "x-matrix origin=a.example,key=k,sig=s"];
    assert_eq!(
        authenticate("GET", b"", &other_schemes, &ours, &keys),
        Err(AuthenticationError::MissingAuthorization)
    );
    // Other schemes beside a valid header are ignored.
    assert!(authenticate("GET", b"", &["Bearer abc", &valid], &ours, &keys).is_ok());
    // One broken X-Matrix header breaks the request, whatever the others say.
    let broken = "X-Matrix origin=a.example";
    assert_eq!(
        authenticate("GET", b"", &[&valid, broken], &ours, &keys),
        Err(AuthenticationError::Malformed(
            XMatrixError::MissingParameter { name: "key" }
        ))
    );
    // Duplicates are refused by default and the later one wins on request.
    let duplicated = format!("{valid},key=\"ed25519:other\"");
    let headers = [duplicated.as_bytes()];
    let request = IncomingRequest::new("GET", URI, b"", &headers);
    assert!(matches!(
        begin_authentication(&request, &ours),
        Err(AuthenticationError::Malformed(
            XMatrixError::DuplicateParameter { .. }
        ))
    ));
    let pending = begin_authentication_with(&request, &ours, Duplicates::LastWins).unwrap();
    assert_eq!(
        pending.key_ids().iter().collect::<Vec<_>>(),
        ["ed25519:other"]
    );
}

#[test]
fn destination_handling() {
    let keys = a_keys();
    let named = header("GET", URI, "a.example", "b.example", None);
    // A destination that is not ours, even by case alone.
    for ours in [["c.example"], ["B.EXAMPLE"]] {
        assert_eq!(
            authenticate("GET", b"", &[&named], &ours, &keys),
            Err(AuthenticationError::DestinationMismatch {
                destination: "b.example".into()
            })
        );
    }
    // A missing destination is accepted: the signature must cover our (first) name.
    let unnamed = |destination: &str| {
        let signed = header("GET", URI, "a.example", destination, None);
        let cut = signed.find(",destination=").unwrap();
        signed[..cut].to_owned()
    };
    let ours = ["b.example", "b2.example"];
    assert!(authenticate("GET", b"", &[&unnamed("b.example")], &ours, &keys).is_ok());
    assert!(matches!(
        authenticate("GET", b"", &[&unnamed("b2.example")], &ours, &keys),
        Err(AuthenticationError::Signature(
            SignatureError::Invalid { .. }
        ))
    ));
    // With several names, the one the header names is the one verified.
    let second = header("GET", URI, "a.example", "b2.example", None);
    assert!(authenticate("GET", b"", &[&second], &ours, &keys).is_ok());
    // ... even when a later header of the same key names none and signed our first name.
    assert!(authenticate("GET", b"", &[&second, &unnamed("b.example")], &ours, &keys).is_err());
    assert_eq!(
        authenticate("GET", b"", &[&named, &second], &ours, &keys),
        Err(AuthenticationError::ConflictingDestinations {
            first: "b.example".into(),
            second: "b2.example".into()
        })
    );
    let request = IncomingRequest::new("GET", URI, b"", &[]);
    assert_eq!(
        begin_authentication(&request, &[]),
        Err(AuthenticationError::NoServerName)
    );
}

#[test]
fn bodies() {
    let ours = ["b.example"];
    let keys = a_keys();
    let body = object(r#"{"a":[1,2.5]}"#);
    let put = header("PUT", URI, "a.example", "b.example", Some(&body));
    let put_empty = header("PUT", URI, "a.example", "b.example", Some(&Object::new()));
    assert!(authenticate("PUT", br#"{ "a" : [1, 2.5] }"#, &[&put], &ours, &keys).is_ok());
    assert!(authenticate("PUT", b"{}", &[&put_empty], &ours, &keys).is_ok());
    assert!(matches!(
        authenticate("PUT", b"", &[&put], &ours, &keys),
        Err(AuthenticationError::BodyNotJson { .. })
    ));
    assert!(matches!(
        authenticate("POST", b"{", &[&put], &ours, &keys),
        Err(AuthenticationError::BodyNotJson { .. })
    ));
    assert_eq!(
        authenticate("PUT", b"[1]", &[&put], &ours, &keys),
        Err(AuthenticationError::BodyNotObject)
    );
    let huge = vec![b' '; MAX_BODY_LEN + 1];
    assert_eq!(
        authenticate("PUT", &huge, &[&put], &ours, &keys),
        Err(AuthenticationError::BodyTooLarge {
            len: MAX_BODY_LEN + 1,
            max: MAX_BODY_LEN
        })
    );
    // A GET body is ignored: neither read nor covered by the signature.
    let get = header("GET", URI, "a.example", "b.example", None);
    assert!(authenticate("GET", b"not json", &[&get], &ours, &keys).is_ok());
    let get_signed_with_body = header("GET", URI, "a.example", "b.example", Some(&body));
    assert!(
        authenticate(
            "GET",
            br#"{"a":[1,2.5]}"#,
            &[&get_signed_with_body],
            &ours,
            &keys
        )
        .is_err()
    );
}

#[test]
fn method_and_uri_must_be_ascii() {
    let headers = [b"X-Matrix origin=a.example,key=ed25519:1,sig=s".as_slice()];
    for (method, uri, what) in [("GÉT", "/a", "method"), ("GET", "/é", "uri")] {
        let request = IncomingRequest::new(method, uri, b"", &headers);
        assert_eq!(
            begin_authentication(&request, &["b.example"]),
            Err(AuthenticationError::NotAscii { what })
        );
    }
}

#[test]
fn last_origin_wins() {
    let good = header("GET", URI, "a.example", "b.example", None);
    let other_key = key("k1");
    let forged = format!(
        "X-Matrix origin=z.example,key={},sig=AAAA,destination=b.example",
        other_key.key_id()
    );
    let ours = ["b.example"];
    let keys = a_keys();
    let authenticated = authenticate("GET", b"", &[&forged, &good], &ours, &keys).unwrap();
    assert_eq!(authenticated.origin, "a.example");
    assert_eq!(
        authenticate("GET", b"", &[&good, &forged], &ours, &keys),
        Err(AuthenticationError::Signature(SignatureError::NoKnownKey {
            entity: "z.example".into()
        }))
    );
}

#[test]
fn signatures_checked_with_held_keys() {
    let ours = ["b.example"];
    let good = header("GET", URI, "a.example", "b.example", None);
    let signed_by = |key: &SigningKey| {
        let to_sign = RequestToSign::new("GET", URI, "a.example", "b.example", None);
        sign_request(&to_sign, key).unwrap().authorization
    };
    let second = signed_by(&key("k2"));
    let wrong_k2 = second.replace("sig=\"", "sig=\"AAAA");
    let both = keys_for(&[("a.example", &key("k1")), ("a.example", &key("k2"))]);
    assert!(authenticate("GET", b"", &[&good, &second], &ours, &both).is_ok());
    // A second signature under an unheld key is ignored, under a held one must verify.
    assert!(authenticate("GET", b"", &[&good, &wrong_k2], &ours, &a_keys()).is_ok());
    assert!(matches!(
        authenticate("GET", b"", &[&good, &wrong_k2], &ours, &both),
        Err(AuthenticationError::Signature(
            SignatureError::Invalid { .. }
        ))
    ));
    // No held key, or a wrong public key.
    assert!(matches!(
        authenticate("GET", b"", &[&good], &ours, &PublicKeys::new()),
        Err(AuthenticationError::Signature(
            SignatureError::NoKnownKey { .. }
        ))
    ));
    let wrong = keys_for(&[("a.example", &SigningKey::from_seed("ed25519:k1", [9; 32]))]);
    assert!(authenticate("GET", b"", &[&good], &ours, &wrong).is_err());
    // Signatures read as padded or URL-safe base64.
    let sig_start = good.find("sig=\"").unwrap() + 5;
    let sig_end = sig_start + good[sig_start..].find('"').unwrap();
    let signature = &good[sig_start..sig_end];
    let padded = good.replace(signature, &format!("{signature}=="));
    let url_safe = good.replace(signature, &signature.replace('+', "-").replace('/', "_"));
    for variant in [padded, url_safe] {
        assert!(
            authenticate("GET", b"", &[&variant], &ours, &a_keys()).is_ok(),
            "{variant}"
        );
    }
}

#[test]
fn only_ed25519_key_ids_count() {
    let headers = [b"X-Matrix origin=a.example,key=rsa:1,sig=s".as_slice()];
    let request = IncomingRequest::new("GET", URI, b"", &headers);
    assert_eq!(
        begin_authentication(&request, &["b.example"]),
        Err(AuthenticationError::NotSigned {
            origin: "a.example".into()
        })
    );
}

#[test]
fn key_need() {
    let good = header("GET", URI, "a.example", "b.example", None);
    let headers = [good.as_bytes()];
    let request = IncomingRequest::new("GET", URI, b"", &headers);
    let pending = begin_authentication(&request, &["b.example"]).unwrap();
    assert_eq!(pending.origin(), "a.example");
    let need = pending.key_need(NOW).unwrap();
    assert_eq!(need.server.as_str(), "a.example");
    assert_eq!(need.key_ids.iter().collect::<Vec<_>>(), ["ed25519:k1"]);
    assert_eq!(need.min_valid_until_ts, NOW);

    let headers = [b"X-Matrix origin=a.example:99999,key=ed25519:1,sig=s".as_slice()];
    let request = IncomingRequest::new("GET", URI, b"", &headers);
    let pending = begin_authentication(&request, &["b.example"]).unwrap();
    assert_eq!(
        pending.key_need(NOW),
        Err(AuthenticationError::UnfetchableOrigin {
            origin: "a.example:99999".into()
        })
    );
}

#[test]
fn matrix_errors() {
    let cases: &[(AuthenticationError, ErrorCode, u16)] = &[
        (
            AuthenticationError::Malformed(XMatrixError::NotUtf8),
            ErrorCode::Unauthorized,
            400,
        ),
        (
            AuthenticationError::MissingAuthorization,
            ErrorCode::Unauthorized,
            401,
        ),
        (
            AuthenticationError::DestinationMismatch {
                destination: "x".into(),
            },
            ErrorCode::Unauthorized,
            401,
        ),
        (
            AuthenticationError::Signature(SignatureError::NoKnownKey { entity: "a".into() }),
            ErrorCode::Unauthorized,
            401,
        ),
        (
            AuthenticationError::BodyNotJson { reason: "x".into() },
            ErrorCode::NotJson,
            400,
        ),
        (AuthenticationError::BodyNotObject, ErrorCode::BadJson, 400),
        (
            AuthenticationError::BodyTooLarge { len: 2, max: 1 },
            ErrorCode::TooLarge,
            413,
        ),
        (AuthenticationError::NoServerName, ErrorCode::Unknown, 500),
    ];
    for (error, code, status) in cases {
        assert_eq!(
            (error.errcode(), error.status()),
            (*code, *status),
            "{error}"
        );
    }
}

/// One change to a signed request.
#[derive(Debug, Clone, Copy)]
enum Change {
    Method,
    Uri,
    Origin,
    Destination,
    Body,
}

fn server_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,6}\\.example(:[0-9]{1,4})?"
}

/// A request signed over the given parts authenticates; after `change`, it does not.
fn signed_and_changed(
    method: &str,
    uri: &str,
    origin: &str,
    destination: &str,
    entries: BTreeMap<String, String>,
    change: Change,
) -> Result<(), TestCaseError> {
    let (uri, origin, destination) = (uri.to_owned(), origin.to_owned(), destination.to_owned());
    let key = key("k1");
    let has_body = matches!(method, "PUT" | "POST");
    let content = Object::from_entries(
        entries
            .into_iter()
            .map(|(name, text)| (name, Value::from(text.as_str())))
            .collect(),
    );
    let body = if has_body {
        json::to_vec(&Value::Object(content.clone()))
    } else {
        Vec::new()
    };
    let to_sign = RequestToSign::new(
        method,
        &uri,
        &origin,
        &destination,
        has_body.then_some(&content),
    );
    let signed = sign_request(&to_sign, &key).unwrap();
    let mut keys = keys_for(&[(origin.as_str(), &key)]);
    keys.insert("other.test", key.key_id(), key.public_key());

    let headers = [signed.authorization.as_bytes()];
    let request = IncomingRequest::new(method, &uri, &body, &headers);
    let authenticated =
        begin_authentication(&request, &[&destination]).and_then(|pending| pending.finish(&keys));
    prop_assert_eq!(
        authenticated,
        Ok(Authenticated {
            origin: origin.clone(),
            content: has_body.then_some(content)
        })
    );

    // The other method of the same kind, so that only the signature can fail.
    let other_method = match method {
        "PUT" => "POST",
        "POST" => "PUT",
        "GET" => "DELETE",
        _ => "GET",
    };
    let other_uri = format!("{uri}x");
    let other_destination = format!("x{destination}");
    let authorization = signed.authorization.clone();
    let (method, uri, header, ours, body) = match change {
        Change::Method => (
            other_method,
            uri.clone(),
            authorization,
            destination.clone(),
            body,
        ),
        Change::Uri => (method, other_uri, authorization, destination.clone(), body),
        Change::Origin => {
            let header =
                authorization.replacen(&format!("origin=\"{origin}\""), "origin=\"other.test\"", 1);
            (method, uri.clone(), header, destination.clone(), body)
        }
        Change::Destination => {
            let header = authorization.replacen(
                &format!("destination=\"{destination}\""),
                &format!("destination=\"{other_destination}\""),
                1,
            );
            (method, uri.clone(), header, other_destination, body)
        }
        Change::Body if has_body => {
            let body = br#"{"changed":true}"#.to_vec();
            (
                method,
                uri.clone(),
                authorization,
                destination.clone(),
                body,
            )
        }
        // The body of a GET or DELETE is not covered: change the URI instead.
        Change::Body => (method, other_uri, authorization, destination.clone(), body),
    };
    let headers = [header.as_bytes()];
    let request = IncomingRequest::new(method, &uri, &body, &headers);
    let outcome =
        begin_authentication(&request, &[&ours]).and_then(|pending| pending.finish(&keys));
    prop_assert!(outcome.is_err(), "{:?} still authenticates", change);
    Ok(())
}

proptest! {
    #[test]
    fn signed_requests_authenticate_and_changed_ones_do_not(
        method in prop::sample::select(vec!["GET", "PUT", "POST", "DELETE"]),
        uri in "/_matrix/federation/v1/[a-z0-9%_.~-]{0,20}(\\?[a-z]=[a-z0-9%]{0,8}){0,2}",
        origin in server_name(),
        destination in server_name(),
        entries in prop::collection::btree_map("[a-z]{1,5}", "[ -~]{0,10}", 0..4),
        change in prop::sample::select(vec![
            Change::Method, Change::Uri, Change::Origin, Change::Destination, Change::Body,
        ]),
    ) {
        signed_and_changed(method, &uri, &origin, &destination, entries, change)?;
    }
}
