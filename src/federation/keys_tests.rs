use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;
use crate::test_util::object;

fn server() -> ServerName {
    ServerName::parse("origin.example").unwrap()
}

fn notary() -> ServerName {
    ServerName::parse("notary.example:8448").unwrap()
}

fn key(id: &str, seed: u8) -> SigningKey {
    SigningKey::from_seed(id, [seed; 32])
}

fn old_keys(entries: &[(&str, u8, i64)]) -> BTreeMap<String, OldVerifyKey> {
    entries
        .iter()
        .map(|&(id, seed, expired_ts)| {
            let old = OldVerifyKey::new(key(id, seed).public_key(), expired_ts);
            (id.to_owned(), old)
        })
        .collect()
}

/// A document of `origin.example` with one current and one old key.
fn document() -> Object {
    let old = old_keys(&[("ed25519:old", 2, 500)]);
    server_key_document(&server(), &[key("ed25519:cur", 1)], &old, 10_000).unwrap()
}

/// `document` with its signatures replaced by a fresh one of `signer`.
fn resigned(mut document: Object, signer: &SigningKey) -> Object {
    document.remove("signatures");
    crypto::sign_json(&mut document, "origin.example", signer).unwrap();
    document
}

fn bytes(document: &Object) -> Vec<u8> {
    json::to_vec(&Value::Object(document.clone()))
}

fn validate(document: &Object) -> Result<ServerKeyDocument, KeyDocError> {
    validate_key_document(&bytes(document), &server())
}

#[test]
fn own_document_validates_and_keeps_the_raw_object() {
    let document = document();
    let validated = validate(&document).unwrap();
    assert_eq!(validated.server_name(), &server());
    assert_eq!(validated.valid_until_ts(), 10_000);
    assert_eq!(
        validated.verify_keys().get("ed25519:cur"),
        Some(&key("ed25519:cur", 1).public_key())
    );
    let old = validated.old_verify_keys().get("ed25519:old").unwrap();
    assert_eq!(old.key, key("ed25519:old", 2).public_key());
    assert_eq!(old.expired_ts, 500);
    assert_eq!(validated.as_object(), &document);
    assert_eq!(validated.into_object(), document);
}

#[test]
fn own_document_is_signed_by_every_current_key() {
    let keys = [key("ed25519:a", 1), key("ed25519:b", 2)];
    let document = server_key_document(&server(), &keys, &BTreeMap::new(), 1).unwrap();
    let signatures = document
        .get("signatures")
        .and_then(|s| s.get("origin.example"))
        .and_then(Value::as_object)
        .unwrap();
    assert_eq!(
        signatures.keys().collect::<Vec<_>>(),
        ["ed25519:a", "ed25519:b"]
    );
    for signer in &keys {
        let mut only = PublicKeys::new();
        only.insert("origin.example", signer.key_id(), signer.public_key());
        crypto::verify_json(&document, "origin.example", &only).unwrap();
    }
    assert!(document.get("old_verify_keys").is_some());
}

#[test]
fn own_document_refuses_misuse() {
    let none = server_key_document(&server(), &[], &BTreeMap::new(), 1);
    assert_eq!(none, Err(KeyDocError::NoSigningKey));
    let bad_id = server_key_document(&server(), &[key("ed25519:a+b", 1)], &BTreeMap::new(), 1);
    assert!(matches!(bad_id, Err(KeyDocError::BadKeyId { .. })));
    let twice = server_key_document(
        &server(),
        &[key("ed25519:a", 1), key("ed25519:a", 2)],
        &BTreeMap::new(),
        1,
    );
    assert!(matches!(twice, Err(KeyDocError::DuplicateKeyId { .. })));
    let old = old_keys(&[("ed25519:a", 3, 0)]);
    let current_and_old = server_key_document(&server(), &[key("ed25519:a", 1)], &old, 1);
    assert!(matches!(
        current_and_old,
        Err(KeyDocError::DuplicateKeyId { .. })
    ));
    let bad_old = old_keys(&[("ed25519:", 3, 0)]);
    let result = server_key_document(&server(), &[key("ed25519:a", 1)], &bad_old, 1);
    assert!(matches!(result, Err(KeyDocError::BadKeyId { .. })));
}

#[test]
fn fresh_key_ids() {
    let id = fresh_key_id(&[0, 61, 62, 255]).unwrap();
    assert_eq!(id.as_str(), "ed25519:a_A9AH");
    check_key_id(id.as_str()).unwrap();
    assert_ne!(fresh_key_id(&[1, 2, 3, 4]), fresh_key_id(&[1, 2, 3, 5]));
    for len in [0, 3, 65] {
        assert_eq!(
            fresh_key_id(&vec![7; len]),
            Err(KeyDocError::BadRandomLength {
                len,
                min: MIN_KEY_ID_RANDOM_LEN,
                max: MAX_KEY_ID_RANDOM_LEN
            })
        );
    }
    assert!(fresh_key_id(&[9; 64]).is_ok());
}

#[test]
fn key_id_grammar() {
    for (key_id, ok) in [
        ("ed25519:a_Bc9", true),
        ("ed25519:1", true),
        ("ed25519:", false),
        ("ed25519:i+b2", false),
        ("ed25519:a.b", false),
        ("ed25519:a:b", false),
        ("curve25519:abc", false),
        ("ED25519:abc", false),
        ("ed25519", false),
    ] {
        assert_eq!(check_key_id(key_id).is_ok(), ok, "{key_id}");
    }
}

#[test]
fn required_fields() {
    for field in ["server_name", "verify_keys", "valid_until_ts", "signatures"] {
        let mut document = document();
        document.remove(field);
        assert_eq!(
            validate(&document).unwrap_err(),
            KeyDocError::MissingField {
                field: field.to_owned()
            },
            "{field}"
        );
    }
}

#[test]
fn fields_of_the_wrong_kind() {
    for (field, value) in [
        ("server_name", Value::from(1)),
        ("verify_keys", Value::Array(vec![])),
        ("valid_until_ts", Value::from("10000")),
        ("signatures", Value::from("x")),
        ("old_verify_keys", Value::from(1)),
    ] {
        let mut document = document();
        document.insert(field, value);
        assert!(
            matches!(validate(&document), Err(KeyDocError::WrongKind { .. })),
            "{field}"
        );
    }
    let float = br#"{"server_name":"origin.example","valid_until_ts":1.5,"verify_keys":{},"signatures":{}}"#;
    assert!(matches!(
        validate_key_document(float, &server()),
        Err(KeyDocError::WrongKind { .. })
    ));
}

#[test]
fn server_name_must_be_the_one_asked_for() {
    let other = ServerName::parse("other.example").unwrap();
    assert_eq!(
        validate_key_document(&bytes(&document()), &other),
        Err(KeyDocError::ServerNameMismatch {
            expected: "other.example".into(),
            actual: "origin.example".into()
        })
    );
}

#[test]
fn ed25519_entries_need_a_32_byte_key() {
    let signer = key("ed25519:cur", 1);
    let cases = [
        (r#"{"ed25519:x":{}}"#, "missing"),
        (r#"{"ed25519:x":{"key":5}}"#, "kind"),
        (r#"{"ed25519:x":5}"#, "kind"),
        (r#"{"ed25519:x":{"key":"!!"}}"#, "bad"),
        (r#"{"ed25519:x":{"key":"AAAA"}}"#, "bad"),
    ];
    for (extra, expected) in cases {
        let mut document = document();
        let mut verify_keys = document
            .get("verify_keys")
            .and_then(Value::as_object)
            .unwrap()
            .clone();
        for (id, value) in object(extra).iter() {
            verify_keys.insert(id, value.clone());
        }
        document.insert("verify_keys", Value::Object(verify_keys));
        let result = validate(&resigned(document, &signer));
        let ok = match expected {
            "missing" => matches!(result, Err(KeyDocError::MissingField { .. })),
            "kind" => matches!(result, Err(KeyDocError::WrongKind { .. })),
            _ => matches!(result, Err(KeyDocError::BadKey { .. })),
        };
        assert!(ok, "{extra}: {result:?}");
    }
}

#[test]
fn keys_in_either_alphabet_padded_or_not() {
    let signer = key("ed25519:cur", 1);
    let extra = key("ed25519:x", 9).public_key().to_bytes();
    for text in [
        base64::encode(extra),
        format!("{}=", base64::encode(extra)),
        base64::encode_url_safe(extra),
    ] {
        let mut document = document();
        let mut entry = Object::new();
        entry.insert("key", Value::String(text.clone()));
        if let Some(Value::Object(verify_keys)) = document.get_mut("verify_keys") {
            verify_keys.insert("ed25519:x", Value::Object(entry));
        }
        let validated = validate(&resigned(document, &signer)).unwrap();
        assert_eq!(
            validated
                .verify_keys()
                .get("ed25519:x")
                .map(VerifyKey::to_bytes),
            Some(extra),
            "{text}"
        );
    }
}

#[test]
fn old_keys_need_an_integer_expired_ts() {
    let signer = key("ed25519:cur", 1);
    let old_key = base64::encode(key("ed25519:old", 2).public_key().to_bytes());
    for (entry, missing) in [
        (format!(r#"{{"key":"{old_key}"}}"#), true),
        (format!(r#"{{"key":"{old_key}","expired_ts":"5"}}"#), false),
    ] {
        let mut document = document();
        let mut old = Object::new();
        old.insert("ed25519:old", Value::Object(object(&entry)));
        document.insert("old_verify_keys", Value::Object(old));
        let result = validate(&resigned(document, &signer));
        if missing {
            assert!(matches!(result, Err(KeyDocError::MissingField { .. })));
        } else {
            assert!(matches!(result, Err(KeyDocError::WrongKind { .. })));
        }
    }
}

#[test]
fn other_algorithms_are_ignored_unread() {
    let signer = key("ed25519:cur", 1);
    let mut document = document();
    for field in ["verify_keys", "old_verify_keys"] {
        if let Some(Value::Object(keys)) = document.get_mut(field) {
            keys.insert("curve25519:x", Value::from(5));
            keys.insert("ed25519", Value::from("junk"));
            keys.insert("ED25519:y", Value::Object(Object::new()));
        }
    }
    let validated = validate(&resigned(document, &signer)).unwrap();
    assert_eq!(
        validated.verify_keys().keys().collect::<Vec<_>>(),
        ["ed25519:cur"]
    );
    assert_eq!(
        validated.old_verify_keys().keys().collect::<Vec<_>>(),
        ["ed25519:old"]
    );
}

#[test]
fn self_signature_must_be_by_a_current_key_and_correct() {
    // Signed only by the old key: old keys do not count.
    let by_old = resigned(document(), &key("ed25519:old", 2));
    assert!(matches!(
        validate(&by_old),
        Err(KeyDocError::SelfSignature(
            SignatureError::NoKnownKey { .. }
        ))
    ));
    // Signed by a key the document does not list.
    let by_unlisted = resigned(document(), &key("ed25519:other", 3));
    assert!(matches!(
        validate(&by_unlisted),
        Err(KeyDocError::SelfSignature(
            SignatureError::NoKnownKey { .. }
        ))
    ));
    // Signed by another server only.
    let mut by_other = document();
    by_other.remove("signatures");
    crypto::sign_json(&mut by_other, "other.example", &key("ed25519:cur", 1)).unwrap();
    assert!(matches!(
        validate(&by_other),
        Err(KeyDocError::SelfSignature(
            SignatureError::MissingSignature { .. }
        ))
    ));
    // Tampered after signing.
    let mut tampered = document();
    tampered.insert("valid_until_ts", Value::from(99_999));
    assert!(matches!(
        validate(&tampered),
        Err(KeyDocError::SelfSignature(SignatureError::Invalid { .. }))
    ));
    // Signatures of others and extra fields do not matter; unsigned is not signed.
    let mut extra = document();
    crypto::sign_json(&mut extra, "someone.else", &key("ed25519:z", 4)).unwrap();
    extra.insert("unsigned", Value::from(1));
    validate(&extra).unwrap();
}

#[test]
fn bodies_are_bounded_and_must_be_json_objects() {
    let big = vec![b' '; MAX_KEY_DOCUMENT_LEN + 1];
    assert_eq!(
        validate_key_document(&big, &server()),
        Err(KeyDocError::TooLarge {
            len: MAX_KEY_DOCUMENT_LEN + 1,
            max_len: MAX_KEY_DOCUMENT_LEN
        })
    );
    assert!(matches!(
        validate_key_document(b"{", &server()),
        Err(KeyDocError::NotJson { .. })
    ));
    assert!(matches!(
        validate_key_document(b"[]", &server()),
        Err(KeyDocError::WrongKind { .. })
    ));
    let mut many = document();
    let mut verify_keys = Object::new();
    let public = base64::encode(key("ed25519:cur", 1).public_key().to_bytes());
    for n in 0..=MAX_KEYS {
        verify_keys.insert(
            format!("ed25519:k{n}"),
            Value::Object(object(&format!(r#"{{"key":"{public}"}}"#))),
        );
    }
    many.insert("verify_keys", Value::Object(verify_keys));
    assert!(matches!(
        validate(&many),
        Err(KeyDocError::TooMany { what: "keys", .. })
    ));
}

#[test]
fn notary_query_body_merges_needs() {
    let a = ServerName::parse("a.example").unwrap();
    let b = ServerName::parse("b.example").unwrap();
    let ids = |ids: &[&str]| {
        ids.iter()
            .map(|id| (*id).to_owned())
            .collect::<BTreeSet<_>>()
    };
    let needs = [
        KeyNeed::new(a.clone(), ids(&["ed25519:1"]), 5),
        KeyNeed::new(a.clone(), ids(&["ed25519:1", "ed25519:2"]), 9),
        KeyNeed::new(b.clone(), ids(&["ed25519:1"]), 5),
        KeyNeed::new(b.clone(), BTreeSet::new(), 7),
    ];
    let body = notary_query_body(&needs);
    assert_eq!(
        json::to_string(&Value::Object(body.clone())),
        r#"{"server_keys":{"a.example":{"ed25519:1":{"minimum_valid_until_ts":9},"ed25519:2":{"minimum_valid_until_ts":9}},"b.example":{}}}"#
    );
    let parsed = parse_notary_query(&bytes(&body), 100).unwrap();
    assert_eq!(
        parsed,
        [
            KeyNeed::new(a.clone(), ids(&["ed25519:1"]), 9),
            KeyNeed::new(a, ids(&["ed25519:2"]), 9),
            KeyNeed::new(b, BTreeSet::new(), 100),
        ]
    );
}

#[test]
fn notary_query_parsing_refuses_bad_shapes() {
    let now = 7;
    let parsed =
        parse_notary_query(br#"{"server_keys":{"a.example":{"ed25519:1":{}}}}"#, now).unwrap();
    assert_eq!(parsed[0].min_valid_until_ts, now);
    for body in [
        &br#"{}"#[..],
        br#"{"server_keys":[]}"#,
        br#"{"server_keys":{"not a name":{}}}"#,
        br#"{"server_keys":{"a.example":[]}}"#,
        br#"{"server_keys":{"a.example":{"ed25519:1":{"minimum_valid_until_ts":"x"}}}}"#,
        b"nope",
    ] {
        assert!(parse_notary_query(body, now).is_err(), "{body:?}");
    }
}

fn notary_setup() -> (Vec<SigningKey>, PublicKeys, Vec<KeyNeed>) {
    let notary_key = key("ed25519:n1", 5);
    let mut notary_keys = PublicKeys::new();
    notary_keys.insert(notary().as_str(), "ed25519:n1", notary_key.public_key());
    let asked = vec![KeyNeed::new(server(), BTreeSet::new(), 0)];
    (vec![notary_key], notary_keys, asked)
}

#[test]
fn notary_answers_round_trip() {
    let (signers, notary_keys, asked) = notary_setup();
    let cached = validate(&document()).unwrap();
    let answer = notary_answer([&cached, &cached], &notary(), &signers).unwrap();
    let results = validate_notary_answer(&bytes(&answer), &notary(), &notary_keys, &asked).unwrap();
    assert_eq!(results.len(), 2);
    for result in results {
        let validated = result.unwrap();
        assert_eq!(validated.verify_keys(), cached.verify_keys());
        assert_eq!(validated.old_verify_keys(), cached.old_verify_keys());
    }
    assert_eq!(
        notary_answer([&cached], &notary(), &[]),
        Err(KeyDocError::NoSigningKey)
    );
}

#[test]
fn notary_entries_are_judged_one_by_one() {
    let (signers, notary_keys, asked) = notary_setup();
    let cached = validate(&document()).unwrap();
    let mut answer = notary_answer([&cached], &notary(), &signers).unwrap();
    let signed = answer.get("server_keys").and_then(Value::as_array).unwrap()[0].clone();
    let unasked_server = ServerName::parse("elsewhere.example").unwrap();
    let unasked =
        server_key_document(&unasked_server, &[key("ed25519:e", 8)], &BTreeMap::new(), 1).unwrap();
    let entries = vec![
        signed,
        Value::Object(document()), // no notary signature
        Value::Object(unasked),
        Value::from(3),
    ];
    answer.insert("server_keys", Value::Array(entries));
    let results = validate_notary_answer(&bytes(&answer), &notary(), &notary_keys, &asked).unwrap();
    assert_eq!(results.len(), 4);
    assert!(results[0].is_ok());
    assert!(matches!(
        results[1],
        Err(KeyDocError::NotarySignature(
            SignatureError::MissingSignature { .. }
        ))
    ));
    assert!(matches!(results[2], Err(KeyDocError::UnaskedServer { .. })));
    assert!(matches!(results[3], Err(KeyDocError::WrongKind { .. })));
    // A wrong notary signature.
    let mut forged = notary_keys.clone();
    forged.insert(notary().as_str(), "ed25519:n1", key("x:y", 6).public_key());
    let results = validate_notary_answer(&bytes(&answer), &notary(), &forged, &asked).unwrap();
    assert!(matches!(
        results[0],
        Err(KeyDocError::NotarySignature(SignatureError::Invalid { .. }))
    ));
    for body in [&b"{}"[..], br#"{"server_keys":{}}"#, b"x"] {
        assert!(validate_notary_answer(body, &notary(), &notary_keys, &asked).is_err());
    }
}

#[test]
fn errors_map_to_matrix_codes() {
    let signature = KeyDocError::SelfSignature(SignatureError::NoKnownKey { entity: "x".into() });
    assert_eq!(signature.errcode(), ErrorCode::Unauthorized);
    assert_eq!(signature.status(), 401);
    assert_eq!(
        KeyDocError::NotJson { reason: "x".into() }.errcode(),
        ErrorCode::NotJson
    );
    assert_eq!(KeyDocError::TooLarge { len: 2, max_len: 1 }.status(), 413);
    assert_eq!(
        KeyDocError::MissingField { field: "x".into() }.errcode(),
        ErrorCode::BadJson
    );
    assert_eq!(KeyDocError::NoSigningKey.status(), 500);
}

fn arbitrary_keys() -> impl Strategy<Value = (Vec<SigningKey>, BTreeMap<String, OldVerifyKey>, i64)>
{
    (
        prop::collection::btree_map("[A-Za-z0-9_]{1,8}", any::<[u8; 32]>(), 1..4),
        prop::collection::btree_map("[A-Za-z0-9_]{1,8}", (any::<[u8; 32]>(), any::<i64>()), 0..3),
        any::<i64>(),
    )
        .prop_map(|(current, old, valid_until_ts)| {
            let current: Vec<SigningKey> = current
                .into_iter()
                .map(|(version, seed)| SigningKey::from_seed(format!("ed25519:c{version}"), seed))
                .collect();
            let old = old
                .into_iter()
                .map(|(version, (seed, expired_ts))| {
                    let public = SigningKey::from_seed("x:y", seed).public_key();
                    (
                        format!("ed25519:o{version}"),
                        OldVerifyKey::new(public, expired_ts),
                    )
                })
                .collect();
            (current, old, valid_until_ts)
        })
}

proptest! {
    #[test]
    fn sign_then_validate_round_trips((current, old, valid_until_ts) in arbitrary_keys()) {
        let document = server_key_document(&server(), &current, &old, valid_until_ts).unwrap();
        let validated = validate(&document).unwrap();
        let expected: BTreeMap<String, VerifyKey> = current
            .iter()
            .map(|key| (key.key_id().to_owned(), key.public_key()))
            .collect();
        prop_assert_eq!(validated.verify_keys(), &expected);
        prop_assert_eq!(validated.old_verify_keys(), &old);
        prop_assert_eq!(validated.valid_until_ts(), valid_until_ts);
    }

    #[test]
    fn any_change_to_the_signed_content_invalidates(
        (current, old, valid_until_ts) in arbitrary_keys(),
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let document = server_key_document(&server(), &current, &old, valid_until_ts).unwrap();
        let mut body = bytes(&document);
        let at = position.index(body.len());
        prop_assume!(body[at] != byte);
        body[at] = byte;
        let Ok(Value::Object(changed)) = json::parse(&body, &ParseOptions::lenient()) else {
            return Ok(());
        };
        let signed_content = |object: &Object| {
            let mut object = object.clone();
            object.remove("signatures");
            object.remove("unsigned");
            json::to_vec(&Value::Object(object))
        };
        prop_assume!(signed_content(&changed) != signed_content(&document));
        prop_assert!(validate_key_document(&body, &server()).is_err());
    }
}
