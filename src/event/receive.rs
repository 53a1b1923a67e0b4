//! The entry point for untrusted events: parse, check signatures, check the content
//! hash (<https://spec.matrix.org/v1.16/server-server-api/#checks-performed-on-receipt-of-a-pdu>).

use super::{Pdu, PduError};
use crate::crypto::{self, Prepared, PublicKeys, SignatureError};
use crate::room_version::RoomVersion;

/// A received event that passed the format and signature checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pdu: Pdu,
    content_hash_ok: bool,
}

impl Received {
    /// The event to process further: the event as received when its content hash
    /// matched, otherwise its redacted form (the spec's rule for a hash mismatch).
    #[must_use]
    pub fn pdu(&self) -> &Pdu {
        &self.pdu
    }

    /// The event to process further, by value.
    #[must_use]
    pub fn into_pdu(self) -> Pdu {
        self.pdu
    }

    /// True when the content hash matched; false when it did not and [`Self::pdu`] is
    /// the redacted form.
    #[must_use]
    pub fn content_hash_ok(&self) -> bool {
        self.content_hash_ok
    }
}

/// Why a received event is dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// Step 1: not a well-formed PDU of the room version.
    #[error("malformed event: {0}")]
    Malformed(#[from] PduError),
    /// Step 2: a required signature is missing or does not verify.
    #[error("bad signatures: {0}")]
    Signatures(#[from] SignatureError),
}

/// Receives one untrusted event: (1) parse and check its format for `version`, (2)
/// check that every required server signed it with a key in `keys`, (3) check its
/// content hash, replacing the event by its redacted form on a mismatch.
///
/// Authorization is the caller's next step, against the event's auth events and the
/// room state.
///
/// # Errors
///
/// [`ReceiveError::Malformed`] or [`ReceiveError::Signatures`]: the event is dropped.
pub fn receive_pdu(
    bytes: &[u8],
    version: &RoomVersion,
    keys: &PublicKeys,
) -> Result<Received, ReceiveError> {
    let pdu = Pdu::from_bytes(bytes, version)?;
    for check in crypto::required_checks(pdu.as_object(), version, keys)? {
        check.verify(pdu.signed_bytes())?;
    }
    Ok(finish(pdu))
}

/// Receives many untrusted events of one room version, verifying all their signatures
/// in one batch (see [`crate::crypto`] for the batch semantics). Returns one result per
/// input, in order, naming each event that failed.
#[must_use]
pub fn receive_batch(
    events: &[&[u8]],
    version: &RoomVersion,
    keys: &PublicKeys,
) -> Vec<Result<Received, ReceiveError>> {
    let parsed: Vec<Result<Pdu, ReceiveError>> = events
        .iter()
        .map(|bytes| Pdu::from_bytes(bytes, version).map_err(ReceiveError::from))
        .collect();
    let prepared: Vec<Result<Prepared<'_>, SignatureError>> = parsed
        .iter()
        .map(|pdu| match pdu {
            Ok(pdu) => {
                crypto::required_checks(pdu.as_object(), version, keys).map(|checks| Prepared {
                    message: pdu.signed_bytes(),
                    checks,
                })
            }
            // Placeholder for an event already failed at parsing; never reported.
            Err(_) => Err(SignatureError::MalformedEvent { field: "pdu" }),
        })
        .collect();
    let verified = crypto::verify_prepared(&prepared);
    parsed
        .into_iter()
        .zip(verified)
        .map(|(pdu, signatures)| {
            let pdu = pdu?;
            signatures?;
            Ok(finish(pdu))
        })
        .collect()
}

fn finish(pdu: Pdu) -> Received {
    if pdu.content_hash_ok() {
        Received {
            pdu,
            content_hash_ok: true,
        }
    } else {
        Received {
            pdu: pdu.redacted(),
            content_hash_ok: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SigningKey;
    use crate::event::EventBuilder;
    use crate::json::{Object, Value};

    fn signed(version: &RoomVersion, body: &str) -> (Vec<u8>, PublicKeys) {
        let key = SigningKey::from_seed("ed25519:1", [9; 32]);
        let mut content = Object::new();
        content.insert("body", Value::from(body));
        let pdu = EventBuilder::new(version, "@bob:b.example", "m.room.message")
            .room_id("!r:a.example")
            .content(content)
            .depth(3)
            .origin_server_ts(5)
            .build("b.example", &key)
            .unwrap();
        let mut keys = PublicKeys::new();
        keys.insert("b.example", "ed25519:1", key.public_key());
        (pdu.to_canonical_bytes(), keys)
    }

    #[test]
    fn good_event_is_received_whole() {
        let (bytes, keys) = signed(&RoomVersion::V11, "hello");
        let received = receive_pdu(&bytes, &RoomVersion::V11, &keys).unwrap();
        assert!(received.content_hash_ok());
        assert_eq!(
            received.pdu().content().get("body"),
            Some(&Value::from("hello"))
        );
    }

    #[test]
    fn altered_content_is_kept_redacted() {
        let (bytes, keys) = signed(&RoomVersion::V11, "hello");
        let altered = String::from_utf8(bytes).unwrap().replace("hello", "HELLO");
        let received = receive_pdu(altered.as_bytes(), &RoomVersion::V11, &keys).unwrap();
        assert!(!received.content_hash_ok());
        assert!(received.pdu().content().is_empty());
    }

    #[test]
    fn forged_and_malformed_events_are_dropped() {
        let (bytes, keys) = signed(&RoomVersion::V11, "hello");
        let forged = String::from_utf8(bytes.clone())
            .unwrap()
            .replace("\"depth\":3", "\"depth\":4");
        assert!(matches!(
            receive_pdu(forged.as_bytes(), &RoomVersion::V11, &keys),
            Err(ReceiveError::Signatures(_))
        ));
        assert!(matches!(
            receive_pdu(b"{}", &RoomVersion::V11, &keys),
            Err(ReceiveError::Malformed(_))
        ));
        assert!(matches!(
            receive_pdu(&bytes, &RoomVersion::V11, &PublicKeys::new()),
            Err(ReceiveError::Signatures(_))
        ));
    }

    #[test]
    fn batch_matches_single() {
        let (good, keys) = signed(&RoomVersion::V10, "a");
        let (other, _) = signed(&RoomVersion::V10, "b");
        let forged = String::from_utf8(other)
            .unwrap()
            .replace("\"depth\":3", "\"depth\":7")
            .into_bytes();
        let inputs: Vec<&[u8]> = vec![&good, &forged, b"nonsense", &good];
        let batch = receive_batch(&inputs, &RoomVersion::V10, &keys);
        let single: Vec<_> = inputs
            .iter()
            .map(|bytes| receive_pdu(bytes, &RoomVersion::V10, &keys))
            .collect();
        assert_eq!(batch, single);
        assert!(batch[0].is_ok() && batch[3].is_ok());
        assert!(matches!(batch[1], Err(ReceiveError::Signatures(_))));
        assert!(matches!(batch[2], Err(ReceiveError::Malformed(_))));
    }
}
