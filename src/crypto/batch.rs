//! Batch verification of many events' signatures, with a fallback that names the
//! events that failed.

use super::event_signing::prepare;
use super::json_signing::SignatureCheck;
use super::{PublicKeys, SignatureError};
use crate::json::Object;
use crate::room_version::RoomVersion;

/// One event's signatures, ready to check.
#[derive(Debug)]
pub(crate) struct Prepared<'a> {
    pub(crate) message: &'a [u8],
    pub(crate) checks: Vec<SignatureCheck>,
}

/// Verifies the required signatures of many events of one room version at once.
///
/// Returns one result per event, in order, equal to what
/// [`super::verify_event_signatures`] gives for it. Signatures are verified in one
/// batch when every pre-check passes (the fast path); when the batch fails, each event
/// is verified on its own to say which failed. See the module docs for how batch
/// acceptance relates to strict single verification.
#[must_use]
pub fn verify_batch(
    events: &[&Object],
    version: &RoomVersion,
    keys: &PublicKeys,
) -> Vec<Result<(), SignatureError>> {
    let prepared: Vec<_> = events
        .iter()
        .map(|event| prepare(event, version, keys))
        .collect();
    let borrowed: Vec<Result<Prepared<'_>, SignatureError>> = prepared
        .iter()
        .map(|item| match item {
            Ok((message, checks)) => Ok(Prepared {
                message,
                checks: checks.clone(),
            }),
            Err(error) => Err(error.clone()),
        })
        .collect();
    verify_prepared(&borrowed)
}

/// Verifies prepared events, batching what can be batched.
pub(crate) fn verify_prepared(
    items: &[Result<Prepared<'_>, SignatureError>],
) -> Vec<Result<(), SignatureError>> {
    let batchable: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| {
            item.as_ref()
                .is_ok_and(|prepared| prepared.checks.iter().all(batch_safe))
        })
        .map(|(index, _)| index)
        .collect();
    let mut messages: Vec<&[u8]> = Vec::new();
    let mut signatures = Vec::new();
    let mut keys = Vec::new();
    for &index in &batchable {
        if let Some(Ok(prepared)) = items.get(index) {
            for check in &prepared.checks {
                if let Some(signature) = &check.signature {
                    messages.push(prepared.message);
                    signatures.push(ed25519_dalek::Signature::from_bytes(signature));
                    keys.push(check.key.0);
                }
            }
        }
    }
    let batch_ok =
        !messages.is_empty() && ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok();
    items
        .iter()
        .enumerate()
        .map(|(index, item)| match item {
            Err(error) => Err(error.clone()),
            Ok(_) if batch_ok && batchable.binary_search(&index).is_ok() => Ok(()),
            Ok(prepared) => prepared
                .checks
                .iter()
                .try_for_each(|check| check.verify(prepared.message)),
        })
        .collect()
}

/// True when a signature may go into a batch: it decodes, its key is not of small
/// order, and its `R` is not one of the small-order encodings. These are the checks
/// strict single verification makes before the equation.
fn batch_safe(check: &SignatureCheck) -> bool {
    check
        .signature
        .as_ref()
        .is_some_and(|signature| !check.key.is_weak() && !has_small_order_encoding(signature))
}

/// The encodings of points of small order (with the sign bit cleared), as libsodium
/// lists them: 0 (order 4), 1 (order 1), the two order-8 points, p−1 (order 2), and the
/// non-canonical p and p+1.
const SMALL_ORDER_ENCODINGS: [[u8; 32]; 7] = [
    [0; 32],
    [
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0,
    ],
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ],
    high_limb_encoding(0xec),
    high_limb_encoding(0xed),
    high_limb_encoding(0xee),
];

/// `[low, 0xff × 30, 0x7f]`: the encodings of p−1, p and p+1.
const fn high_limb_encoding(low: u8) -> [u8; 32] {
    let mut bytes = [0xff; 32];
    bytes[0] = low;
    bytes[31] = 0x7f;
    bytes
}

fn has_small_order_encoding(signature: &[u8; 64]) -> bool {
    let mut r = [0u8; 32];
    r.copy_from_slice(&signature[..32]);
    r[31] &= 0x7f;
    SMALL_ORDER_ENCODINGS.contains(&r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{SigningKey, VerifyKey, sign_event, verify_event_signatures};
    use crate::json::{self, ParseOptions, Value};

    #[test]
    fn canonical_small_order_encodings_are_weak_points() {
        for encoding in &SMALL_ORDER_ENCODINGS[..5] {
            assert!(
                VerifyKey::from_bytes(encoding).unwrap().is_weak(),
                "{encoding:02x?}"
            );
            let mut negated = *encoding;
            negated[31] |= 0x80;
            if let Ok(key) = VerifyKey::from_bytes(&negated) {
                assert!(key.is_weak());
            }
        }
    }

    fn signed_events(count: usize) -> (Vec<Object>, PublicKeys) {
        let mut keys = PublicKeys::new();
        let mut events = Vec::new();
        for index in 0..count {
            let server = format!("s{}.example", index % 3);
            let key = SigningKey::from_seed("ed25519:k", [index as u8 % 3 + 1; 32]);
            keys.insert(server.clone(), "ed25519:k", key.public_key());
            let text = format!(
                r#"{{"type":"m.room.message","sender":"@u:{server}","content":{{"body":"{index}"}},"origin_server_ts":{index}}}"#
            );
            let mut event = json::parse(text.as_bytes(), &ParseOptions::strict())
                .unwrap()
                .as_object()
                .unwrap()
                .clone();
            sign_event(&mut event, &RoomVersion::V10, &server, &key).unwrap();
            events.push(event);
        }
        (events, keys)
    }

    #[test]
    fn batch_agrees_with_single_verification_and_names_failures() {
        let (mut events, keys) = signed_events(12);
        events[4].insert("content", Value::Object(Object::new()));
        events[7].insert("origin_server_ts", Value::from(99));
        events[9].remove("signatures");
        let refs: Vec<&Object> = events.iter().collect();
        let batch = verify_batch(&refs, &RoomVersion::V10, &keys);
        let single: Vec<_> = events
            .iter()
            .map(|event| verify_event_signatures(event, &RoomVersion::V10, &keys))
            .collect();
        assert_eq!(batch, single);
        let failed: Vec<usize> = batch
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_err())
            .map(|(i, _)| i)
            .collect();
        // Content is redacted away for messages, so changing it keeps the signature.
        assert_eq!(failed, [7, 9]);
    }

    #[test]
    fn all_good_batch_passes() {
        let (events, keys) = signed_events(20);
        let refs: Vec<&Object> = events.iter().collect();
        assert!(
            verify_batch(&refs, &RoomVersion::V10, &keys)
                .iter()
                .all(Result::is_ok)
        );
        assert!(verify_batch(&[], &RoomVersion::V10, &keys).is_empty());
    }
}
