//! Content hashes, reference hashes, event IDs and room-version-12 room IDs.

use sha2::{Digest as _, Sha256};

use super::HashError;
use crate::base64;
use crate::id::{EventId, EventIdFormat, RoomId};
use crate::json::{self, Object, Value};
use crate::redact::write_redacted_signing_bytes;
use crate::room_version::RoomVersion;

/// Top-level keys the content hash leaves out. The spec names `unsigned`,
/// `signatures` and `hashes`; Synapse also drops `age_ts`, `outlier` and
/// `destinations`, and the network follows Synapse.
fn excluded_from_content_hash(key: &str) -> bool {
    matches!(
        key,
        "age_ts" | "destinations" | "hashes" | "outlier" | "signatures" | "unsigned"
    )
}

/// SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The content hash of an event: SHA-256 of its canonical JSON without `unsigned`,
/// `signatures` and `hashes` (and Synapse's `age_ts`, `outlier`, `destinations`).
#[must_use]
pub fn content_hash(event: &Object) -> [u8; 32] {
    let mut out = Vec::with_capacity(512);
    json::write_object_filtered(event, |key| !excluded_from_content_hash(key), &mut out);
    sha256(&out)
}

/// Sets `hashes.sha256` to the event's content hash, keeping other algorithms' hashes.
///
/// # Errors
///
/// [`HashError::HashesNotAnObject`] when `hashes` exists and is not an object.
pub fn add_content_hash(event: &mut Object) -> Result<(), HashError> {
    let hash = base64::encode(content_hash(event));
    if !event.contains_key("hashes") {
        event.insert("hashes", Value::Object(Object::new()));
    }
    let hashes = event
        .get_mut("hashes")
        .and_then(Value::as_object_mut)
        .ok_or(HashError::HashesNotAnObject)?;
    hashes.insert("sha256", Value::String(hash));
    Ok(())
}

/// True when `hashes.sha256` is present and equals the event's content hash. An event
/// that fails this check is not dropped: the spec says to keep it in redacted form.
#[must_use]
pub fn check_content_hash(event: &Object) -> bool {
    let claimed = event
        .get("hashes")
        .and_then(|hashes| hashes.get("sha256"))
        .and_then(Value::as_str)
        .and_then(|text| base64::decode_lenient(text).ok());
    claimed.is_some_and(|claimed| claimed == content_hash(event))
}

/// The reference hash of an event: SHA-256 of its redacted form without `signatures`
/// and `unsigned`.
#[must_use]
pub fn reference_hash(event: &Object, version: &RoomVersion) -> [u8; 32] {
    let mut out = Vec::with_capacity(512);
    write_redacted_signing_bytes(event, version, &mut out);
    sha256(&out)
}

/// The event ID under `version`'s rules: the `event_id` field in room versions 1 and
/// 2, otherwise `$` and the unpadded base64 (standard in v3, URL-safe from v4) of the
/// reference hash.
///
/// # Errors
///
/// [`HashError::MissingEventId`] when a room-version-1/2 event has no string
/// `event_id`, [`HashError::InvalidId`] when it is not a valid event ID.
pub fn event_id(event: &Object, version: &RoomVersion) -> Result<EventId, HashError> {
    match version.event_id_format {
        EventIdFormat::Legacy => {
            let id = event
                .get("event_id")
                .and_then(Value::as_str)
                .ok_or(HashError::MissingEventId)?;
            Ok(EventId::parse(id)?)
        }
        format => Ok(EventId::from_reference_hash(
            &reference_hash(event, version),
            format,
        )),
    }
}

/// The room ID a room-version-12 create event defines: its event ID with `!` in place
/// of `$`.
///
/// # Errors
///
/// [`HashError::RoomIdNotDerived`] when `version` does not derive room IDs from
/// create events.
pub fn room_id_from_create_event(
    create: &Object,
    version: &RoomVersion,
) -> Result<RoomId, HashError> {
    if !version.room_id_from_create_event {
        return Err(HashError::RoomIdNotDerived {
            version: version.id,
        });
    }
    let id = event_id(create, version)?;
    Ok(RoomId::from_create_event_id(&id)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::object;

    const MINIMAL: &str = r#"{"room_id":"!x:domain","sender":"@a:domain","origin":"domain","origin_server_ts":1000000,"signatures":{},"hashes":{},"type":"X","content":{},"prev_events":[],"auth_events":[],"depth":3,"unsigned":{"age_ts":1000000}}"#;

    #[test]
    fn spec_derived_hashes_and_ids() {
        let event = object(MINIMAL);
        assert_eq!(
            base64::encode(content_hash(&event)),
            "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"
        );
        let mut hashed = event.clone();
        add_content_hash(&mut hashed).unwrap();
        assert!(check_content_hash(&hashed));
        assert!(!check_content_hash(&event));
        assert_eq!(
            event_id(&hashed, &RoomVersion::V3).unwrap().as_str(),
            "$8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc"
        );
        assert_eq!(
            event_id(&hashed, &RoomVersion::V4).unwrap().as_str(),
            "$8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc"
        );
        assert_eq!(
            event_id(&hashed, &RoomVersion::V11).unwrap().as_str(),
            "$70O_oKlXzFbkfu0KE88USi98DjSWrOELrPj-8tisl8I"
        );
        assert_eq!(
            event_id(&hashed, &RoomVersion::V3).unwrap().as_str().len(),
            44
        );
        assert!(matches!(
            event_id(&hashed, &RoomVersion::V1),
            Err(HashError::MissingEventId)
        ));
    }

    #[test]
    fn v11_standard_alphabet_in_v3() {
        let mut event = object(MINIMAL);
        add_content_hash(&mut event).unwrap();
        // v11-style redaction with v3's alphabet is not a real combination; check the
        // alphabet switch on the v1-10 hash instead.
        let hash = reference_hash(&event, &RoomVersion::V11);
        assert_eq!(
            EventId::from_reference_hash(&hash, EventIdFormat::Base64Standard).as_str(),
            "$70O/oKlXzFbkfu0KE88USi98DjSWrOELrPj+8tisl8I"
        );
    }

    #[test]
    fn spec_derived_v12_create_event() {
        let create = object(
            r#"{"type":"m.room.create","state_key":"","sender":"@a:domain","content":{"room_version":"12"},"origin_server_ts":1000000,"depth":1,"auth_events":[],"prev_events":[],"hashes":{"sha256":"ccqBumrNf46eCfIkdZSYW9RNafS0xFYYDm5rnZBSVJU"},"signatures":{"domain":{"ed25519:1":"0iTJ32BZFymf41Y7UBttP2wZ0JTo6UjsLDQuf+79LB+WeKVfoLyR2I8RF23ZdFgCuxtjVBl5MKXIOWP+ocELDw"}}}"#,
        );
        assert!(check_content_hash(&create));
        assert_eq!(
            event_id(&create, &RoomVersion::V12).unwrap().as_str(),
            "$P5-6WTYQ_woy6f4nmleE0XqxjtZcyKGza5_gDN-KAdM"
        );
        assert_eq!(
            room_id_from_create_event(&create, &RoomVersion::V12)
                .unwrap()
                .as_str(),
            "!P5-6WTYQ_woy6f4nmleE0XqxjtZcyKGza5_gDN-KAdM"
        );
        assert!(room_id_from_create_event(&create, &RoomVersion::V11).is_err());
    }

    #[test]
    fn synapse_extra_content_hash_exclusions() {
        let plain = object(r#"{"type":"x","content":{}}"#);
        let extra = object(
            r#"{"type":"x","content":{},"age_ts":1,"outlier":true,"destinations":{},"unsigned":{},"hashes":{"sha256":"x"}}"#,
        );
        assert_eq!(content_hash(&plain), content_hash(&extra));
    }
}
