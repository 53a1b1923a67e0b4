use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;
use crate::crypto::{SignatureError, sign_event, verify_event_signatures};
use crate::federation::keys::{OldVerifyKey, server_key_document, validate_key_object};
use crate::room_version::RoomVersion;
use crate::test_util::object;

const DAY: i64 = 24 * 60 * 60 * 1000;

fn remote() -> ServerName {
    ServerName::parse("remote.example").unwrap()
}

fn key(id: &str, seed: u8) -> SigningKey {
    SigningKey::from_seed(id, [seed; 32])
}

/// A validated document of `remote.example` with `current` keys valid until
/// `valid_until_ts` and `old` keys (`(key, expired_ts)`).
fn doc(
    current: &[&SigningKey],
    old: &[(&SigningKey, i64)],
    valid_until_ts: i64,
) -> ServerKeyDocument {
    let current: Vec<SigningKey> = current.iter().map(|key| (*key).clone()).collect();
    let old: BTreeMap<String, OldVerifyKey> = old
        .iter()
        .map(|(key, expired_ts)| {
            (
                key.key_id().to_owned(),
                OldVerifyKey::new(key.public_key(), *expired_ts),
            )
        })
        .collect();
    let document = server_key_document(&remote(), &current, &old, valid_until_ts).unwrap();
    validate_key_object(&document, &remote()).unwrap()
}

fn ids(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

/// An event of `remote.example` at `origin_server_ts`, signed by `signer`.
fn event(version: &RoomVersion, origin_server_ts: i64, signer: &SigningKey) -> Object {
    let mut event = object(&format!(
        r#"{{"type":"m.room.message","sender":"@u:remote.example","origin_server_ts":{origin_server_ts},"content":{{}}}}"#
    ));
    sign_event(&mut event, version, "remote.example", signer).unwrap();
    event
}

fn verifies(ring: &KeyRing, version: &RoomVersion, ts: i64, signer: &SigningKey) -> bool {
    let keys = ring.for_events([&remote()]);
    match verify_event_signatures(&event(version, ts, signer), version, &keys) {
        Ok(()) => true,
        Err(SignatureError::KeyExpired { .. }) => false,
        Err(other) => panic!("unexpected {other:?}"),
    }
}

#[test]
fn accepted_keys_serve_requests_while_valid() {
    let k1 = key("ed25519:k1", 1);
    let old = key("ed25519:old", 2);
    let mut ring = KeyRing::new();
    let report = ring.accept(doc(&[&k1], &[(&old, 50)], 1_000), 100);
    assert_eq!(report.added, ["ed25519:k1", "ed25519:old"]);
    let at = |now| ring.for_request(&remote(), now);
    assert_eq!(
        at(1_000).get("remote.example", "ed25519:k1"),
        Some(k1.public_key())
    );
    assert!(at(1_001).get("remote.example", "ed25519:k1").is_none());
    // Old keys never sign requests.
    assert!(at(0).get("remote.example", "ed25519:old").is_none());
    assert!(
        !ring
            .for_request(&ServerName::parse("x.example").unwrap(), 0)
            .has_server("x.example")
    );
    assert_eq!(
        ring.key(&remote(), "ed25519:old"),
        Some((old.public_key(), KeyValidity::Old { expired_ts: 50 }))
    );
}

#[test]
fn same_id_new_bytes_is_refused_while_valid_and_accepted_after_expiry() {
    let first = key("ed25519:k1", 1);
    let reused = key("ed25519:k1", 9);
    let mut ring = KeyRing::new();
    assert!(
        ring.accept(doc(&[&first], &[], 1_000), 0)
            .conflicts
            .is_empty()
    );

    let report = ring.accept(doc(&[&reused], &[], 5_000), 1_000);
    assert_eq!(
        report.conflicts,
        [(
            "ed25519:k1".to_owned(),
            KeyConflict {
                held: first.public_key(),
                offered: reused.public_key()
            }
        )]
    );
    assert!(report.replaced.is_empty());
    assert_eq!(
        ring.key(&remote(), "ed25519:k1").unwrap().0,
        first.public_key()
    );

    let report = ring.accept(doc(&[&reused], &[], 5_000), 1_001);
    assert_eq!(report.replaced, ["ed25519:k1"]);
    assert!(report.conflicts.is_empty());
    assert_eq!(
        ring.key(&remote(), "ed25519:k1"),
        Some((reused.public_key(), KeyValidity::current(5_000, 1_001)))
    );
}

#[test]
fn old_and_own_keys_are_never_replaced() {
    let k1 = key("ed25519:k1", 1);
    let other = key("ed25519:k1", 9);
    let mut ring = KeyRing::new();
    assert!(
        ring.accept(doc(&[&key("ed25519:k2", 2)], &[(&k1, 10)], 100), 0)
            .conflicts
            .is_empty()
    );
    let report = ring.accept(doc(&[&other], &[], 100), 1_000_000);
    assert_eq!(report.conflicts.len(), 1);
    assert_eq!(
        ring.key(&remote(), "ed25519:k1").unwrap().0,
        k1.public_key()
    );

    let mut own = KeyRing::new().with_own(&remote(), std::slice::from_ref(&k1));
    let report = own.accept(doc(&[&other], &[], 100), 1_000_000);
    assert_eq!(report.conflicts.len(), 1);
    assert_eq!(
        own.key(&remote(), "ed25519:k1"),
        Some((k1.public_key(), KeyValidity::Own))
    );
}

#[test]
fn validity_is_refreshed_retired_and_never_shortened() {
    let k1 = key("ed25519:k1", 1);
    let mut ring = KeyRing::new();
    assert!(ring.accept(doc(&[&k1], &[], 1_000), 0).conflicts.is_empty());
    let report = ring.accept(doc(&[&k1], &[], 2_000), 500);
    assert_eq!(report.refreshed, ["ed25519:k1"]);
    // A stale copy (from a notary's cache, say) does not shorten the validity.
    let report = ring.accept(doc(&[&k1], &[], 1_500), 600);
    assert_eq!(report, AcceptReport::default());
    assert_eq!(
        ring.key(&remote(), "ed25519:k1").unwrap().1,
        KeyValidity::current(2_000, 500)
    );
    // Retired into old_verify_keys, it stays old.
    let report = ring.accept(doc(&[&key("ed25519:k2", 2)], &[(&k1, 1_800)], 3_000), 700);
    assert_eq!(report.retired, ["ed25519:k1"]);
    assert_eq!(report.added, ["ed25519:k2"]);
    let report = ring.accept(doc(&[&k1], &[], 9_000), 800);
    assert_eq!(report, AcceptReport::default());
    assert_eq!(
        ring.key(&remote(), "ed25519:k1").unwrap().1,
        KeyValidity::Old { expired_ts: 1_800 }
    );
}

#[test]
fn unsatisfied_needs() {
    let k1 = key("ed25519:k1", 1);
    let old = key("ed25519:old", 2);
    let mut ring = KeyRing::new();
    assert!(
        ring.accept(doc(&[&k1], &[(&old, 50)], 1_000), 0)
            .conflicts
            .is_empty()
    );
    let need = |key_ids: &[&str], min| KeyNeed::new(remote(), ids(key_ids), min);
    assert!(ring.unsatisfied(&[need(&["ed25519:k1"], 1_000)]).is_empty());
    assert!(ring.unsatisfied(&[need(&[], 1_000)]).is_empty());
    assert!(ring.unsatisfied(&[need(&["ed25519:old"], 50)]).is_empty());
    assert_eq!(
        ring.unsatisfied(&[need(&["ed25519:k1", "ed25519:k9", "ed25519:old"], 60)]),
        [need(&["ed25519:k9", "ed25519:old"], 60)]
    );
    assert_eq!(ring.unsatisfied(&[need(&[], 1_001)]), [need(&[], 1_001)]);
    let unknown = KeyNeed::new(ServerName::parse("x.example").unwrap(), ids(&[]), 0);
    assert_eq!(ring.unsatisfied(std::slice::from_ref(&unknown)), [unknown]);
    // An old key alone does not meet a need for any key.
    let mut only_old = KeyRing::new();
    assert!(
        only_old
            .accept(doc(&[&k1], &[(&old, 5_000)], 10), 0)
            .conflicts
            .is_empty()
    );
    assert_eq!(only_old.unsatisfied(&[need(&[], 100)]), [need(&[], 100)]);
}

#[test]
fn seven_day_cap() {
    let k1 = key("ed25519:k1", 1);
    let fetched = 1_000;
    let mut ring = KeyRing::new();
    assert!(
        ring.accept(doc(&[&k1], &[], fetched + 30 * DAY), fetched)
            .conflicts
            .is_empty()
    );
    let cap = fetched + 7 * DAY;
    assert_eq!(
        ring.key(&remote(), "ed25519:k1").unwrap().1.usable_until(),
        Some(cap)
    );
    let need = |min| KeyNeed::new(remote(), ids(&["ed25519:k1"]), min);
    assert!(ring.unsatisfied(&[need(cap)]).is_empty());
    assert_eq!(ring.unsatisfied(&[need(cap + 1)]), [need(cap + 1)]);
    assert!(verifies(&ring, &RoomVersion::V5, cap, &k1));
    assert!(!verifies(&ring, &RoomVersion::V5, cap + 1, &k1));
    assert!(verifies(&ring, &RoomVersion::V4, cap + 1, &k1));
    assert!(
        ring.for_request(&remote(), cap)
            .has_server("remote.example")
    );
    assert!(
        !ring
            .for_request(&remote(), cap + 1)
            .has_server("remote.example")
    );
    // No overflow near the end of time.
    let late = KeyValidity::current(i64::MAX, i64::MAX - 1);
    assert_eq!(late.usable_until(), Some(i64::MAX));
}

#[test]
fn event_validity_in_v4_and_v5() {
    let k1 = key("ed25519:k1", 1);
    let mut ring = KeyRing::new();
    assert!(
        ring.accept(doc(&[&k1], &[], 10_000), 0)
            .conflicts
            .is_empty()
    );
    assert!(verifies(&ring, &RoomVersion::V5, 10_000, &k1));
    assert!(!verifies(&ring, &RoomVersion::V5, 10_001, &k1));
    assert!(verifies(&ring, &RoomVersion::V4, 10_000, &k1));
    assert!(verifies(&ring, &RoomVersion::V4, 10_001, &k1));
    assert!(verifies(&ring, &RoomVersion::V12, 10_000, &k1));
    assert!(!verifies(&ring, &RoomVersion::V12, 10_001, &k1));
}

#[test]
fn old_key_validity_for_events() {
    let old = key("ed25519:old", 2);
    let mut ring = KeyRing::new();
    assert!(
        ring.accept(
            doc(&[&key("ed25519:k2", 3)], &[(&old, 5_000)], 10_000),
            9_000,
        )
        .conflicts
        .is_empty()
    );
    assert!(verifies(&ring, &RoomVersion::V5, 5_000, &old));
    assert!(!verifies(&ring, &RoomVersion::V5, 5_001, &old));
    assert!(verifies(&ring, &RoomVersion::V4, 5_001, &old));
    assert!(verifies(&ring, &RoomVersion::V10, 1, &old));
}

#[test]
fn own_keys_need_no_fetch() {
    let own = key("ed25519:a_own", 4);
    let ring = KeyRing::new().with_own(&remote(), std::slice::from_ref(&own));
    let need = KeyNeed::new(remote(), ids(&["ed25519:a_own"]), i64::MAX);
    assert!(ring.unsatisfied(&[need]).is_empty());
    assert!(
        ring.unsatisfied(&[KeyNeed::new(remote(), ids(&[]), i64::MAX)])
            .is_empty()
    );
    assert!(
        ring.for_request(&remote(), i64::MAX)
            .has_server("remote.example")
    );
    assert!(verifies(&ring, &RoomVersion::V11, i64::MAX / 2, &own));
}

#[test]
fn export_and_import_round_trip() {
    let mut ring = KeyRing::new().with_own(
        &ServerName::parse("me.example").unwrap(),
        &[key("ed25519:me", 7)],
    );
    assert!(
        ring.accept(
            doc(
                &[&key("ed25519:k1", 1)],
                &[(&key("ed25519:old", 2), 50)],
                1_000,
            ),
            10,
        )
        .conflicts
        .is_empty()
    );
    let entries = ring.export();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0].server.as_str(), "me.example");
    assert_eq!(KeyRing::import(entries.clone()), ring);
    for entry in &entries {
        assert_eq!(
            KeyEntry::from_object(&entry.to_object()).as_ref(),
            Ok(entry)
        );
    }
    let mut broken = entries[1].to_object();
    broken.insert("key", Value::from("short"));
    assert_eq!(
        KeyEntry::from_object(&broken),
        Err(KeyRingError::BadEntry { field: "key" })
    );
    broken.remove("server");
    assert_eq!(
        KeyEntry::from_object(&broken),
        Err(KeyRingError::BadEntry { field: "server" })
    );
    assert_eq!(
        KeyRingError::BadEntry { field: "key" }.errcode(),
        ErrorCode::Unknown
    );
}

#[test]
fn key_need_constructor_keeps_its_fields() {
    let need = KeyNeed::new(remote(), ids(&["ed25519:1"]), 42);
    assert_eq!(need.server, remote());
    assert_eq!(need.key_ids, ids(&["ed25519:1"]));
    assert_eq!(need.min_valid_until_ts, 42);
}

/// One fetched document in a random history: for each of two key IDs, absent, current
/// or old, with one of two key byte strings.
fn arbitrary_fetch() -> impl Strategy<Value = (ServerKeyDocument, i64)> {
    (
        prop::collection::vec((0u8..3, 1u8..3, 0i64..100), 2),
        1u8..3,
        0i64..100,
        0i64..100,
    )
        .prop_map(|(slots, fallback_seed, valid_until_ts, fetched_at_ms)| {
            let mut current = Vec::new();
            let mut old = Vec::new();
            for ((kind, seed, expired_ts), id) in slots.into_iter().zip(["ed25519:a", "ed25519:b"])
            {
                match kind {
                    1 => current.push(key(id, seed)),
                    2 => old.push((key(id, seed), expired_ts)),
                    _ => {}
                }
            }
            if current.is_empty() {
                current.push(key("ed25519:c", fallback_seed));
            }
            let current: Vec<&SigningKey> = current.iter().collect();
            let old: Vec<(&SigningKey, i64)> = old.iter().map(|(k, ts)| (k, *ts)).collect();
            (doc(&current, &old, valid_until_ts), fetched_at_ms)
        })
}

proptest! {
    #[test]
    fn valid_keys_keep_their_bytes(history in prop::collection::vec(arbitrary_fetch(), 1..8)) {
        let mut ring = KeyRing::new();
        for (document, fetched_at_ms) in history {
            let before = ring.export();
            let report = ring.accept(document.clone(), fetched_at_ms);
            for entry in before {
                let still_valid = match entry.validity {
                    KeyValidity::Current { .. } => entry.validity.usable_until() >= Some(fetched_at_ms),
                    _ => true,
                };
                if still_valid {
                    let now = ring.key(&entry.server, &entry.key_id).map(|(key, _)| key);
                    prop_assert_eq!(now, Some(entry.key));
                }
            }
            // Accepting the same document again at the same time changes nothing (it
            // may only report the same refusals again).
            let settled = ring.clone();
            let again = ring.accept(document, fetched_at_ms);
            prop_assert_eq!(&ring, &settled);
            prop_assert_eq!(
                &again,
                &AcceptReport { conflicts: again.conflicts.clone(), ..AcceptReport::default() }
            );
            prop_assert!(report.conflicts.iter().all(|(_, c)| c.held != c.offered));
        }
    }

    #[test]
    fn fresh_key_ids_follow_the_grammar(random in prop::collection::vec(any::<u8>(), 4..=64)) {
        let key_id = crate::federation::keys::fresh_key_id(&random).unwrap();
        let version = key_id.as_str().strip_prefix("ed25519:a_").unwrap();
        prop_assert_eq!(version.len(), random.len());
        prop_assert!(version.bytes().all(|b| b.is_ascii_alphanumeric()));
        prop_assert!(crate::federation::keys::check_key_id(key_id.as_str()).is_ok());
    }
}
