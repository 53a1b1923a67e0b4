//! The laws the fuzz targets check, shared with the corpus replay in `tests/it`: each
//! function takes arbitrary bytes and panics only when a law is broken.

use matrix_serverlib::auth::{AuthEvents, auth_types, check};
use matrix_serverlib::crypto::{PublicKeys, SigningKey, reference_hash};
use matrix_serverlib::event::{Pdu, receive_pdu};
use matrix_serverlib::id::{EventId, KeyId, RoomAliasId, RoomId, ServerName, UserId};
use matrix_serverlib::json::{self, ParseOptions, Value};
use matrix_serverlib::redact::redact;
use matrix_serverlib::room_version::RoomVersion;

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
