//! The laws the fuzz targets check, shared with the corpus replay in `tests/it`: each
//! function takes arbitrary bytes and panics only when a law is broken.

use std::collections::{BTreeMap, BTreeSet};

use matrix_serverlib::auth::{AuthEvents, StateKey, auth_types, check};
use matrix_serverlib::crypto::{PublicKeys, SigningKey, reference_hash};
use matrix_serverlib::event::{Pdu, receive_pdu};
use matrix_serverlib::id::{EventId, KeyId, RoomAliasId, RoomId, ServerName, UserId};
use matrix_serverlib::json::{self, ParseOptions, Value};
use matrix_serverlib::redact::redact;
use matrix_serverlib::room_version::RoomVersion;
use matrix_serverlib::{dag, state_res};

/// Canonical JSON: parse → encode → parse is the identity, and encoding is idempotent.
pub(crate) fn canonical_json(data: &[u8]) {
    for options in [ParseOptions::strict(), ParseOptions::lenient()] {
        if let Ok(value) = json::parse(data, &options) {
            let encoded = json::to_vec(&value);
            let reparsed = json::parse(&encoded, &options).expect("canonical output reparses");
            assert_eq!(reparsed, value, "round trip changed the value");
            assert_eq!(
                json::to_vec(&reparsed),
                encoded,
                "encoding is not idempotent"
            );
        }
    }
}

/// Identifiers: a parsed ID prints as text that parses to the same ID.
pub(crate) fn identifiers(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    macro_rules! round_trip {
        ($($ty:ty),*) => {$(
            if let Ok(id) = <$ty>::try_from(text) {
                assert_eq!(<$ty>::try_from(id.to_string()).ok(), Some(id));
            }
        )*};
    }
    round_trip!(UserId, RoomId, EventId, RoomAliasId, ServerName, KeyId);
}

/// The room version chosen by the first byte, and the rest of the input.
fn version_and_rest(data: &[u8]) -> Option<(RoomVersion, &[u8])> {
    let (first, rest) = data.split_first()?;
    Some((
        RoomVersion::ALL[usize::from(*first) % RoomVersion::ALL.len()],
        rest,
    ))
}

/// PDUs: a parsed PDU re-parses from its canonical bytes to the same PDU.
pub(crate) fn pdu(data: &[u8]) {
    let Some((version, rest)) = version_and_rest(data) else {
        return;
    };
    if let Ok(pdu) = Pdu::from_bytes(rest, &version) {
        let again =
            Pdu::from_bytes(&pdu.to_canonical_bytes(), &version).expect("canonical PDU reparses");
        assert_eq!(again, pdu);
    }
}

/// Redaction: idempotent, and it keeps the reference hash (and so the event ID).
pub(crate) fn redact_event(data: &[u8]) {
    let Some((version, rest)) = version_and_rest(data) else {
        return;
    };
    let Ok(Value::Object(event)) = json::parse(rest, &ParseOptions::lenient()) else {
        return;
    };
    let once = redact(&event, &version);
    assert_eq!(redact(&once, &version), once, "redaction is not idempotent");
    assert_eq!(
        reference_hash(&once, &version),
        reference_hash(&event, &version)
    );
}

/// Receiving: never panics; an accepted event whose content hash matched is accepted
/// again from its own bytes. (A redacted one need not be: a third-party invite needs no
/// sender signature, but its redacted form, which loses `third_party_invite` before
/// room version 11, does.)
pub(crate) fn receive(data: &[u8]) {
    let Some((version, rest)) = version_and_rest(data) else {
        return;
    };
    let mut keys = PublicKeys::new();
    keys.insert(
        "example.org",
        "ed25519:1",
        SigningKey::from_seed("ed25519:1", [1; 32]).public_key(),
    );
    if let Ok(received) = receive_pdu(rest, &version, &keys)
        && received.content_hash_ok()
    {
        let again = receive_pdu(&received.pdu().to_canonical_bytes(), &version, &keys);
        assert_eq!(
            again.map(|event| event.pdu().event_id().clone()).ok(),
            Some(received.pdu().event_id().clone())
        );
    }
}

/// Authorization: never panics, and adding state the rules never read (an unrelated
/// state type) changes no answer. Input: a version byte, then a JSON array whose first
/// object is the event and the rest the state.
pub(crate) fn auth(data: &[u8]) {
    let Some((version, rest)) = version_and_rest(data) else {
        return;
    };
    let Ok(Value::Array(items)) = json::parse(rest, &ParseOptions::lenient()) else {
        return;
    };
    let objects: Vec<&json::Object> = items.iter().filter_map(Value::as_object).collect();
    let Some((event, state_events)) = objects.split_first() else {
        return;
    };
    let state: AuthEvents<'_> = state_events.iter().copied().collect();
    let verdict = check(event, &state, &version).map_err(|rejection| rejection.reason());
    let unrelated = json::parse(
        br#"{"type":"org.example.unrelated","state_key":"","sender":"@x:y","content":{}}"#,
        &ParseOptions::strict(),
    )
    .expect("a literal event parses");
    let mut more = state.clone();
    more.insert(unrelated.as_object().expect("an object"));
    let again = check(event, &more, &version).map_err(|rejection| rejection.reason());
    assert_eq!(again, verdict, "unrelated state changed the verdict");
    let _ = auth_types(event, &version);
}

/// State resolution on a small random DAG (room versions 1 and 2, whose event IDs are
/// chosen freely, so references may dangle, point at the event itself or form cycles):
/// never panics, and the answer does not depend on the order of the state sets.
pub(crate) fn resolve(data: &[u8]) {
    let mut bytes = data.iter().copied();
    let mut next = move || bytes.next().unwrap_or(0);
    let version = if next() % 2 == 0 {
        RoomVersion::V1
    } else {
        RoomVersion::V2
    };
    let count = usize::from(next() % 24) + 1;
    let id = |index: u8| format!("$e{}:s.example", usize::from(index) % count);
    let mut events: BTreeMap<EventId, Pdu> = BTreeMap::new();
    for index in 0..count {
        let sender = format!("@u{}:s.example", next() % 4);
        let (event_type, state_key, content) = match next() % 7 {
            0 => (
                "m.room.create",
                String::new(),
                format!(r#"{{"creator":"{sender}"}}"#),
            ),
            1 => (
                "m.room.member",
                sender.clone(),
                r#"{"membership":"join"}"#.to_owned(),
            ),
            2 => (
                "m.room.member",
                format!("@u{}:s.example", next() % 4),
                r#"{"membership":"ban"}"#.to_owned(),
            ),
            3 => (
                "m.room.power_levels",
                String::new(),
                format!(r#"{{"users":{{"{sender}":{}}}}}"#, next()),
            ),
            4 => (
                "m.room.join_rules",
                String::new(),
                r#"{"join_rule":"public"}"#.to_owned(),
            ),
            5 => (
                "m.room.member",
                sender.clone(),
                r#"{"membership":"leave"}"#.to_owned(),
            ),
            _ => ("m.room.topic", String::new(), r#"{"topic":"t"}"#.to_owned()),
        };
        let references = |next: &mut dyn FnMut() -> u8| {
            let n = next() % 4;
            (0..n)
                .map(|_| format!(r#"["{}",{{}}]"#, id(next())))
                .collect::<Vec<_>>()
                .join(",")
        };
        let auth = references(&mut next);
        let prev = references(&mut next);
        let text = format!(
            r#"{{"event_id":"$e{index}:s.example","type":"{event_type}","state_key":"{state_key}","sender":"{sender}","room_id":"!r:s.example","content":{content},"auth_events":[{auth}],"prev_events":[{prev}],"depth":{index},"origin_server_ts":{},"hashes":{{}}}}"#,
            next()
        );
        if let Ok(pdu) = Pdu::from_bytes(text.as_bytes(), &version) {
            events.insert(pdu.event_id().clone(), pdu);
        }
    }
    let set_count = usize::from(next() % 3) + 1;
    let sets: Vec<BTreeMap<StateKey, EventId>> = (0..set_count)
        .map(|_| {
            let size = next() % 8;
            (0..size)
                .filter_map(|_| events.get(&EventId::parse(&id(next())).ok()?))
                .map(|pdu| {
                    (
                        StateKey::new(pdu.event_type(), pdu.state_key().unwrap_or_default()),
                        pdu.event_id().clone(),
                    )
                })
                .collect()
        })
        .collect();
    let forward =
        state_res::resolve(&version, &sets, &events).map(|resolved| resolved.to_state_map());
    let reversed: Vec<_> = sets.iter().rev().cloned().collect();
    let backward =
        state_res::resolve(&version, &reversed, &events).map(|resolved| resolved.to_state_map());
    if let (Ok(forward), Ok(backward)) = (&forward, &backward) {
        assert_eq!(
            forward, backward,
            "the order of the state sets changed the answer"
        );
    }
    // Given each state set's auth chain, the resolver walks only the conflicted
    // events' chains, and must reach the same state.
    let chains: Result<Vec<BTreeSet<EventId>>, _> = sets
        .iter()
        .map(|set| dag::auth_chain_of_events(&events, set.values()))
        .collect();
    if let (Ok(forward), Ok(chains)) = (&forward, chains) {
        let given = state_res::Resolver::new(&version, &sets)
            .with_auth_chains(&chains)
            .run(&events)
            .map(|resolved| resolved.to_state_map());
        assert_eq!(
            given.as_ref(),
            Ok(forward),
            "the auth chains changed the answer"
        );
    }
}

/// X-Matrix: a header that parses formats (or is refused for an unsafe value) to one
/// that parses back to it; and authentication agrees with the header reading. The
/// first byte picks the method, the rest up to the first newline is a header value
/// and what follows the body. Nothing authenticates without keys; a request signed by
/// the law's own key over a URI that carries the header bytes authenticates, after
/// the arbitrary header too, exactly when that header is not `X-Matrix` or parses
/// with no destination or ours.
pub(crate) fn xmatrix(data: &[u8]) {
    use matrix_serverlib::federation::request::{self, IncomingRequest, RequestToSign};
    use matrix_serverlib::federation::xmatrix::{Duplicates, XMatrix, XMatrixError};

    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let (header, body) = match rest.iter().position(|&byte| byte == b'\n') {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let lenient = XMatrix::parse(header, Duplicates::LastWins);
    if let Ok(strict) = XMatrix::parse(header, Duplicates::Refuse) {
        assert_eq!(
            lenient.as_ref(),
            Ok(&strict),
            "refusing duplicates changed a value"
        );
    }
    if let Ok(parsed) = &lenient {
        match parsed.to_header_value() {
            Ok(text) => assert_eq!(
                XMatrix::parse(text.as_bytes(), Duplicates::Refuse).as_ref(),
                Ok(parsed),
                "format then parse changed the header"
            ),
            Err(error) => assert!(matches!(error, XMatrixError::UnsafeValue { .. })),
        }
    }

    let method = ["GET", "PUT", "POST", "DELETE"][usize::from(*first) % 4];
    let ours = "b.example";
    let begin = |uri: &str, headers: &[&[u8]]| {
        let incoming = IncomingRequest::new(method, uri, body, headers);
        request::begin_authentication_with(&incoming, &[ours], Duplicates::LastWins)
    };
    let uri = "/_matrix/federation/v1/fuzz";
    if let Ok(pending) = begin(uri, &[header]) {
        assert!(
            pending.finish(&PublicKeys::new()).is_err(),
            "authenticated without keys"
        );
    }

    let key = SigningKey::from_seed("ed25519:fuzz", [42; 32]);
    let mut keys = PublicKeys::new();
    keys.insert("a.example", key.key_id(), key.public_key());
    let has_body = matches!(method, "PUT" | "POST");
    let options = ParseOptions::lenient();
    let content = match json::parse(body, &options) {
        Ok(Value::Object(content)) if has_body => Some(content),
        _ if has_body => return,
        _ => None,
    };
    let uri: String = header.iter().fold(format!("{uri}?h="), |mut uri, byte| {
        uri.push_str(&format!("%{byte:02X}"));
        uri
    });
    let to_sign = RequestToSign::new(method, &uri, "a.example", ours, content.as_ref());
    let signed = request::sign_request(&to_sign, &key).expect("the law's request signs");
    let outcome = begin(&uri, &[header, signed.authorization.as_bytes()])
        .and_then(|pending| pending.finish(&keys));
    let expected = !XMatrix::is_x_matrix(header)
        || lenient.is_ok_and(|parsed| parsed.destination().is_none_or(|named| named == ours));
    assert_eq!(outcome.is_ok(), expected, "{outcome:?}");
    if let Ok(authenticated) = outcome {
        assert_eq!(authenticated.origin, "a.example");
        assert_eq!(authenticated.content, content);
    }
}
