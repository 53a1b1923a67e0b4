//! Signing events and checking the signatures an event needs.

use std::collections::BTreeSet;

use super::json_signing::{SignatureCheck, insert_signature, signature_checks};
use super::{PublicKeys, SignatureError, SigningKey, add_content_hash};
use crate::base64;
use crate::json::{Object, Value};
use crate::redact::write_redacted_signing_bytes;
use crate::room_version::{EventFormat, RoomVersion};

/// Signs an event as `server`: sets the content hash, then signs the redacted form and
/// adds the signature to the event's `signatures`.
///
/// # Errors
///
/// [`SignatureError::MalformedEvent`] when `hashes` is not an object,
/// [`SignatureError::MalformedSignatures`] when `signatures` is not an object.
pub fn sign_event(
    event: &mut Object,
    version: &RoomVersion,
    server: &str,
    key: &SigningKey,
) -> Result<(), SignatureError> {
    add_content_hash(event)?;
    let mut message = Vec::with_capacity(512);
    write_redacted_signing_bytes(event, version, &mut message);
    let signature = base64::encode(key.sign_bytes(&message));
    insert_signature(event, server, key.key_id(), signature)
}

/// The servers that must have signed `event`, sorted:
/// * the server of `sender`, except for an invite made from a third-party invite
///   (whose sender must match the third-party invite's, but which another server may
///   send);
/// * room versions 1–2: the server of the `event_id` when it differs;
/// * room versions 8+: for a join with `join_authorised_via_users_server`, that
///   user's server.
///
/// This follows Synapse's check of incoming PDUs.
///
/// # Errors
///
/// [`SignatureError::MalformedEvent`] when a field it needs is missing or is not an
/// identifier with a server name.
pub fn required_signers(
    event: &Object,
    version: &RoomVersion,
) -> Result<BTreeSet<String>, SignatureError> {
    let mut servers = BTreeSet::new();
    let sender = domain_of(event.get("sender"), "sender")?;
    let content = event.get("content").and_then(Value::as_object);
    let membership = content
        .and_then(|content| content.get("membership"))
        .and_then(Value::as_str);
    let is_member = event.get("type").and_then(Value::as_str) == Some("m.room.member");
    let invite_via_third_party = is_member
        && membership == Some("invite")
        && content.is_some_and(|content| content.contains_key("third_party_invite"));
    if !invite_via_third_party {
        servers.insert(sender.to_owned());
    }
    if version.event_format == EventFormat::EventIdInPdu {
        let event_server = domain_of(event.get("event_id"), "event_id")?;
        if event_server != sender {
            servers.insert(event_server.to_owned());
        }
    }
    let authoriser = content.and_then(|content| content.get("join_authorised_via_users_server"));
    if let Some(authoriser) = authoriser
        && version.signatures.authorising_server_signs
        && is_member
        && membership == Some("join")
    {
        servers.insert(domain_of(Some(authoriser), "join_authorised_via_users_server")?.to_owned());
    }
    Ok(servers)
}

/// Checks that every server in [`required_signers`] signed the redacted event with a
/// key in `keys`, and that all those signatures verify. In room versions 5+ keys whose
/// validity ended before the event's `origin_server_ts` are not used.
///
/// # Errors
///
/// The first failure, as a [`SignatureError`].
pub fn verify_event_signatures(
    event: &Object,
    version: &RoomVersion,
    keys: &PublicKeys,
) -> Result<(), SignatureError> {
    let (message, checks) = prepare(event, version, keys)?;
    checks.iter().try_for_each(|check| check.verify(&message))
}

/// The signed bytes of `event` and the signatures to check over them.
pub(crate) fn prepare(
    event: &Object,
    version: &RoomVersion,
    keys: &PublicKeys,
) -> Result<(Vec<u8>, Vec<SignatureCheck>), SignatureError> {
    let checks = required_checks(event, version, keys)?;
    let mut message = Vec::with_capacity(512);
    write_redacted_signing_bytes(event, version, &mut message);
    Ok((message, checks))
}

/// The signatures of the required signers that must verify over the event's redacted
/// form, with the keys supplied.
pub(crate) fn required_checks(
    event: &Object,
    version: &RoomVersion,
    keys: &PublicKeys,
) -> Result<Vec<SignatureCheck>, SignatureError> {
    let servers = required_signers(event, version)?;
    let origin_server_ts = if version.signatures.enforce_key_validity {
        Some(
            event
                .get("origin_server_ts")
                .and_then(Value::as_i64)
                .unwrap_or(0),
        )
    } else {
        None
    };
    let mut checks = Vec::with_capacity(servers.len());
    for server in &servers {
        checks.extend(signature_checks(
            event.get("signatures"),
            server,
            keys,
            origin_server_ts,
        )?);
    }
    Ok(checks)
}

/// The server name of an identifier: everything after its first `:`.
fn domain_of<'a>(value: Option<&'a Value>, field: &'static str) -> Result<&'a str, SignatureError> {
    value
        .and_then(Value::as_str)
        .and_then(|id| id.split_once(':'))
        .map(|(_, server)| server)
        .ok_or(SignatureError::MalformedEvent { field })
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
    fn spec_event_signing_vectors() {
        let minimal = r#"{"room_id":"!x:domain","sender":"@a:domain","origin":"domain","origin_server_ts":1000000,"signatures":{},"hashes":{},"type":"X","content":{},"prev_events":[],"auth_events":[],"depth":3,"unsigned":{"age_ts":1000000}}"#;
        let message = r#"{"content":{"body":"Here is the message content"},"event_id":"$0:domain","origin":"domain","origin_server_ts":1000000,"type":"m.room.message","room_id":"!r:domain","sender":"@u:domain","signatures":{},"unsigned":{"age_ts":1000000}}"#;
        let cases = [
            (
                minimal,
                &RoomVersion::V1,
                "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg",
            ),
            (
                minimal,
                &RoomVersion::V11,
                "Jxp+1glFcZM+nnHpY0EkedRR7u0VmKsJYGnQqIvqus3UvL5X/p1y6wSkLhGoTBel6MZ9lrMIzUqrjqFquWJKBw",
            ),
            (
                message,
                &RoomVersion::V1,
                "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA",
            ),
            (
                message,
                &RoomVersion::V11,
                "4WQB/6LN2OtkUN/+18xUNB/U4RTX1N3EeKBdlCxux08YO8izKDrSRqML1XB8V97IK7AujkNO1xMl7TaBLA4kDw",
            ),
        ];
        let mut keys = PublicKeys::new();
        keys.insert("domain", "ed25519:1", spec_key().public_key());
        for (input, version, signature) in cases {
            let mut event = object(input);
            sign_event(&mut event, version, "domain", &spec_key()).unwrap();
            let signed = event
                .get("signatures")
                .and_then(|s| s.get("domain"))
                .and_then(|s| s.get("ed25519:1"));
            assert_eq!(
                signed.and_then(Value::as_str),
                Some(signature),
                "room version {}",
                version.id
            );
            assert!(event.contains_key("unsigned"));
            if version.event_format == EventFormat::ReferenceHashIds {
                verify_event_signatures(&event, version, &keys).unwrap();
            }
        }
    }

    #[test]
    fn required_signers_follow_synapse() {
        let v1_join = object(
            r#"{"type":"m.room.member","sender":"@a:one","event_id":"$x:two","content":{"membership":"join"}}"#,
        );
        assert_eq!(
            required_signers(&v1_join, &RoomVersion::V1).unwrap(),
            BTreeSet::from(["one".to_owned(), "two".to_owned()])
        );
        assert_eq!(
            required_signers(&v1_join, &RoomVersion::V3).unwrap(),
            BTreeSet::from(["one".to_owned()])
        );
        let restricted = object(
            r#"{"type":"m.room.member","sender":"@a:one","content":{"membership":"join","join_authorised_via_users_server":"@b:three"}}"#,
        );
        assert_eq!(
            required_signers(&restricted, &RoomVersion::V7).unwrap(),
            BTreeSet::from(["one".to_owned()])
        );
        assert_eq!(
            required_signers(&restricted, &RoomVersion::V8).unwrap(),
            BTreeSet::from(["one".to_owned(), "three".to_owned()])
        );
        let third_party = object(
            r#"{"type":"m.room.member","sender":"@a:one","content":{"membership":"invite","third_party_invite":{}}}"#,
        );
        assert!(
            required_signers(&third_party, &RoomVersion::V10)
                .unwrap()
                .is_empty()
        );
        assert!(matches!(
            required_signers(&object(r#"{"sender":"nocolon"}"#), &RoomVersion::V10),
            Err(SignatureError::MalformedEvent { .. })
        ));
    }

    #[test]
    fn key_validity_is_enforced_from_v5() {
        let key = spec_key();
        let mut event = object(
            r#"{"type":"m.room.message","sender":"@a:domain","origin_server_ts":2000,"content":{}}"#,
        );
        sign_event(&mut event, &RoomVersion::V5, "domain", &key).unwrap();
        let mut keys = PublicKeys::new();
        keys.insert_with_validity("domain", "ed25519:1", key.public_key(), 1000);
        assert!(matches!(
            verify_event_signatures(&event, &RoomVersion::V5, &keys),
            Err(SignatureError::KeyExpired { .. })
        ));
        let mut v4_event = object(
            r#"{"type":"m.room.message","sender":"@a:domain","origin_server_ts":2000,"content":{}}"#,
        );
        sign_event(&mut v4_event, &RoomVersion::V4, "domain", &key).unwrap();
        verify_event_signatures(&v4_event, &RoomVersion::V4, &keys).unwrap();
    }
}
