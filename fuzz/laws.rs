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

/// Server-name resolution fed arbitrary well-known and SRV answers: it always ends
/// (done or a typed error) after at most three answers, a done answer has at least one
/// candidate, a TLS name exactly when no IP literal was the target, a cache expiry
/// within the limits, and the same input gives the same answer.
pub(crate) fn resolve_well_known(data: &[u8]) {
    use matrix_serverlib::federation::resolve::{
        MAX_CACHE_MS, MIN_CACHE_MS, ResolveStep, ServerResolver, SrvAnswer, SrvRecord, Step,
        WellKnownFetch, WellKnownResponse,
    };
    const NAMES: [&str; 6] = [
        "example.org",
        "example.org:8448",
        "1.2.3.4",
        "[::1]",
        "[2001:db8::1]:1",
        "a",
    ];
    const NOW: i64 = 1_700_000_000_000;
    let mut segments = data.split(|&byte| byte == 0xff);
    let first = segments.next().unwrap_or_default();
    let server = std::str::from_utf8(first)
        .ok()
        .and_then(|text| ServerName::parse(text).ok())
        .unwrap_or_else(|| {
            let index = first.first().map_or(0, |&b| usize::from(b)) % NAMES.len();
            ServerName::parse(NAMES[index]).expect("a valid name")
        });
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let well_known = segments.next().map(|body| {
        let status = match body.first() {
            Some(0) => 404,
            Some(1) => 500,
            _ => 200,
        };
        let mut response =
            WellKnownResponse::new(status, body.get(1..).unwrap_or_default().to_vec());
        response.cache_control = segments.next().map(text);
        response.expires = segments.next().map(text);
        WellKnownFetch::Response(response)
    });
    let srv: Vec<SrvAnswer> = segments
        .map(|segment| match segment.first() {
            Some(0) => SrvAnswer::Failed,
            Some(1) => SrvAnswer::NotFound,
            _ => {
                let rest = segment.get(1..).unwrap_or_default();
                let records = rest
                    .chunks(6)
                    .map(|c| {
                        let byte = |i: usize| c.get(i).copied().unwrap_or_default();
                        let target = match byte(5) % 4 {
                            0 => ".".to_owned(),
                            1 => "target.example.".to_owned(),
                            2 => text(c),
                            _ => format!("h{}.example", byte(4)),
                        };
                        let port = u16::from_be_bytes([byte(2), byte(3)]);
                        SrvRecord::new(u16::from(byte(0)), u16::from(byte(1)), port, &target)
                    })
                    .collect();
                SrvAnswer::Records(records)
            }
        })
        .collect();
    let run = |seed: Option<u64>| {
        let mut resolver = ServerResolver::new(&server, NOW);
        if let Some(seed) = seed {
            resolver = resolver.with_srv_seed(seed);
        }
        let mut well_known = well_known.clone().unwrap_or(WellKnownFetch::Failed);
        let mut srv = srv.iter().cloned();
        for _ in 0..4 {
            let step = resolver.poll();
            assert_eq!(step, resolver.poll(), "poll is not idempotent");
            match step {
                ResolveStep::FetchWellKnown { .. } => {
                    let answer = std::mem::replace(&mut well_known, WellKnownFetch::Failed);
                    resolver.provide_well_known(answer).expect("asked for");
                }
                ResolveStep::LookupSrv { .. } => {
                    let answer = srv.next().unwrap_or(SrvAnswer::NotFound);
                    resolver.provide_srv(answer).expect("asked for");
                }
                end => return end,
            }
        }
        panic!("the resolver asked more than three questions");
    };
    let seed = data.len() as u64;
    let answer = run(Some(seed));
    assert_eq!(
        answer,
        run(Some(seed)),
        "the same input gave another answer"
    );
    let unseeded = run(None);
    match (&answer, &unseeded) {
        (ResolveStep::Done(resolved), ResolveStep::Done(other)) => {
            assert!(!resolved.candidates.is_empty(), "no candidate");
            assert_eq!(resolved.candidates.len(), other.candidates.len());
            let ip_target = resolved
                .steps
                .iter()
                .any(|step| matches!(step, Step::IpLiteral | Step::DelegatedIpLiteral));
            assert_eq!(resolved.tls_server_name.is_none(), ip_target);
            assert!(!resolved.host_header.is_empty());
            let expiry = resolved.cache_until_ms - NOW;
            assert!(
                (MIN_CACHE_MS..=MAX_CACHE_MS).contains(&expiry),
                "cache {expiry}"
            );
            let priorities: Vec<u16> = resolved.candidates.iter().map(|c| c.priority).collect();
            assert!(priorities.is_sorted(), "SRV priorities out of order");
        }
        (ResolveStep::Failed(_), ResolveStep::Failed(_)) => {}
        other => panic!("the seed changed the outcome: {other:?}"),
    }
}
