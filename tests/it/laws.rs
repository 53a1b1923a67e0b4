//! Property tests of the laws that tie events, hashes and signatures together.

use matrix_serverlib::crypto::{
    PublicKeys, SigningKey, event_id, verify_batch, verify_event_signatures,
};
use matrix_serverlib::event::{EventBuilder, Pdu};
use matrix_serverlib::json::{self, Object, ParseOptions, Value};
use matrix_serverlib::redact::redact;
use matrix_serverlib::room_version::RoomVersion;
use proptest::prelude::*;

fn version() -> impl Strategy<Value = RoomVersion> {
    (0..RoomVersion::ALL.len()).prop_map(|index| RoomVersion::ALL[index])
}

fn build(version: &RoomVersion, body: &str, state: bool, key: &SigningKey) -> Pdu {
    let mut content = Object::new();
    content.insert("body", Value::from(body));
    content.insert("membership", Value::from("join"));
    let event_type = if state {
        "m.room.member"
    } else {
        "m.room.message"
    };
    let mut builder = EventBuilder::new(version, "@u:s.example", event_type)
        .room_id("!r:s.example")
        .content(content)
        .depth(7)
        .origin_server_ts(99);
    if version.signatures.event_id_server_signs {
        builder = builder.event_id("$e:s.example");
    }
    if state {
        builder = builder.state_key("@u:s.example");
    }
    builder.build("s.example", key).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn redaction_is_idempotent(version in version(), body in "\\PC{0,20}", state in any::<bool>()) {
        let key = SigningKey::from_seed("ed25519:1", [2; 32]);
        let pdu = build(&version, &body, state, &key);
        let once = redact(pdu.as_object(), &version);
        prop_assert_eq!(redact(&once, &version), once);
    }

    #[test]
    fn event_id_ignores_key_order_unsigned_and_signatures(version in version(), body in "\\PC{0,20}") {
        let key = SigningKey::from_seed("ed25519:1", [2; 32]);
        let pdu = build(&version, &body, false, &key);
        let original = event_id(pdu.as_object(), &version).unwrap();
        // Reversed key order in the text.
        let mut text = String::from("{");
        for (index, (k, v)) in pdu.as_object().iter().collect::<Vec<_>>().into_iter().rev().enumerate() {
            if index > 0 { text.push(','); }
            text.push_str(&json::to_string(&Value::from(k)));
            text.push(':');
            text.push_str(&json::to_string(v));
        }
        text.push('}');
        let reordered = json::parse(text.as_bytes(), &ParseOptions::strict()).unwrap();
        let mut changed = reordered.as_object().unwrap().clone();
        changed.insert("unsigned", Value::Object(Object::from_iter([("age".to_owned(), Value::from(5))])));
        changed.insert("signatures", Value::Object(Object::new()));
        prop_assert_eq!(event_id(&changed, &version).unwrap(), original);
    }

    #[test]
    fn sign_then_verify_and_any_byte_change_fails(version in version(), body in "[a-z]{1,20}", position in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let key = SigningKey::from_seed("ed25519:1", [2; 32]);
        let pdu = build(&version, &body, true, &key);
        let mut keys = PublicKeys::new();
        keys.insert("s.example", "ed25519:1", key.public_key());
        if version.signatures.event_id_server_signs {
            // The event ID's server is the sender's server here, so one signature covers both.
            prop_assert_eq!(pdu.event_id().server_name(), Some("s.example"));
        }
        prop_assert!(verify_event_signatures(pdu.as_object(), &version, &keys).is_ok());
        // Change one byte of the signed (redacted) form: the signature must fail or the
        // bytes must stop being a valid event.
        let mut signed = pdu.signed_bytes().to_vec();
        let index = position.index(signed.len());
        signed[index] ^= flip;
        if let Ok(Value::Object(mut altered)) = json::parse(&signed, &ParseOptions::lenient()) {
            altered.insert("signatures", pdu.as_object().get("signatures").cloned().unwrap());
            prop_assert!(verify_event_signatures(&altered, &version, &keys).is_err() || redact(&altered, &version) == redact(pdu.as_object(), &version));
        }
    }

    #[test]
    fn batch_and_single_verification_agree(version in version(), tamper in prop::collection::vec(any::<bool>(), 1..12)) {
        let key = SigningKey::from_seed("ed25519:1", [2; 32]);
        let mut keys = PublicKeys::new();
        keys.insert("s.example", "ed25519:1", key.public_key());
        let events: Vec<Object> = tamper.iter().enumerate().map(|(index, &bad)| {
            let mut event = build(&version, &index.to_string(), true, &key).into_object();
            if bad {
                event.insert("depth", Value::from(1000));
            }
            event
        }).collect();
        let refs: Vec<&Object> = events.iter().collect();
        let batch = verify_batch(&refs, &version, &keys);
        let single: Vec<_> = refs.iter().map(|event| verify_event_signatures(event, &version, &keys)).collect();
        prop_assert_eq!(&batch, &single);
        for (result, bad) in batch.iter().zip(&tamper) {
            prop_assert_eq!(result.is_err(), *bad);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A state key orders, compares and matches exactly as its (type, state key) pair.
    #[test]
    fn state_keys_order_as_their_pairs(
        a in ("[a-c.]{0,4}", "[a-c@:]{0,4}"),
        b in ("[a-c.]{0,4}", "[a-c@:]{0,4}"),
    ) {
        use matrix_serverlib::event::StateKey;
        let (left, right) = (StateKey::new(&a.0, &a.1), StateKey::new(&b.0, &b.1));
        prop_assert_eq!(left.cmp(&right), a.cmp(&b));
        prop_assert_eq!(left == right, a == b);
        prop_assert_eq!(left.cmp_pair(&b.0, &b.1), a.cmp(&b));
        prop_assert_eq!(left.is(&b.0, &b.1), a == b);
        prop_assert_eq!((left.event_type(), left.state_key()), (a.0.as_str(), a.1.as_str()));
    }
}
