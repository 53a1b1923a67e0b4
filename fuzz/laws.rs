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

/// The signing keys and the room the `ingest` law runs over: room version 11, Alice
/// (`a.example`) creates it, joins, sets power levels and public join rules; Bob
/// (`b.example`) joins. Returns the keys, the room's events in order, and the room.
pub(crate) fn ingest_fixture() -> (
    PublicKeys,
    Vec<Pdu>,
    matrix_serverlib::federation::ingest::MemoryRoom,
) {
    use matrix_serverlib::event::EventBuilder;
    use matrix_serverlib::federation::ingest::{MemoryRoom, RoomView, Status};
    use matrix_serverlib::json::Object;
    use std::sync::Arc;

    let version = RoomVersion::V11;
    let key = |server: &str| SigningKey::from_seed("ed25519:k", [server.as_bytes()[0]; 32]);
    let content = |pairs: &[(&str, Value)]| {
        let mut object = Object::new();
        for (name, value) in pairs {
            object.insert(*name, value.clone());
        }
        object
    };
    let mut events: Vec<Pdu> = Vec::new();
    let mut add = |sender: &str, kind: &str, state_key: &str, body: Object, auth: &[usize]| {
        let server = sender.split(':').nth(1).expect("sender has a server");
        let mut builder = EventBuilder::new(&version, sender, kind)
            .room_id("!r:a.example")
            .state_key(state_key)
            .content(body)
            .depth(events.len() as i64 + 1)
            .origin_server_ts(events.len() as i64 + 1);
        if let Some(prev) = events.last() {
            builder = builder.prev_event(prev.event_id().as_str());
        }
        for &index in auth {
            builder = builder.auth_event(events[index].event_id().as_str());
        }
        events.push(
            builder
                .build(server, &key(server))
                .expect("fixture event builds"),
        );
    };
    let alice = "@alice:a.example";
    let bob = "@bob:b.example";
    let join = || content(&[("membership", Value::from("join"))]);
    add(
        alice,
        "m.room.create",
        "",
        content(&[("creator", Value::from(alice))]),
        &[],
    );
    add(alice, "m.room.member", alice, join(), &[0]);
    let mut users = Object::new();
    users.insert(alice, Value::from(100));
    add(
        alice,
        "m.room.power_levels",
        "",
        content(&[("users", Value::Object(users))]),
        &[0, 1],
    );
    add(
        alice,
        "m.room.join_rules",
        "",
        content(&[("join_rule", Value::from("public"))]),
        &[0, 1, 2],
    );
    add(bob, "m.room.member", bob, join(), &[0, 2, 3]);
    let mut room = MemoryRoom::new(version);
    for pdu in &events {
        let before = match pdu.prev_events().first() {
            Some(prev) => Arc::new(room.state_after(prev).cloned().unwrap_or_default()),
            None => Arc::new(BTreeMap::new()),
        };
        room.insert_timeline(pdu.clone(), Status::Timeline, before);
    }
    let mut keys = PublicKeys::new();
    for server in ["a.example", "b.example"] {
        keys.insert(server, "ed25519:k", key(server).public_key());
    }
    (keys, events, room)
}

/// The receipt pipeline over the fixed room of [`ingest_fixture`]: the first byte picks
/// the mode (low two bits) and how many PDUs to add (next two bits, plus one); the rest
/// splits at `0xff` bytes (never inside JSON text) into those PDUs and then the bodies
/// of the replies, in order. Laws: it never panics,
/// finishes within a bounded number of polls, gives exactly one outcome per added
/// event, and never accepts (or keeps) an event whose signatures do not verify.
pub(crate) fn ingest(data: &[u8]) {
    use matrix_serverlib::crypto::verify_event_signatures;
    use matrix_serverlib::federation::ingest::{Ingest, IngestStep, Mode};
    use matrix_serverlib::federation::outbound::Reply;

    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mode =
        [Mode::Pushed, Mode::Pulled, Mode::Backfilled, Mode::Outliers][selector as usize % 4];
    // Built once: signing the fixture costs more than a run.
    static FIXTURE: std::sync::OnceLock<(
        PublicKeys,
        Vec<Pdu>,
        matrix_serverlib::federation::ingest::MemoryRoom,
    )> = std::sync::OnceLock::new();
    let (keys, events, room) = FIXTURE.get_or_init(ingest_fixture);
    let version = RoomVersion::V11;
    let mut pieces = rest.split(|&byte| byte == 0xff);
    let origin = ServerName::parse("b.example").expect("valid server name");
    let mut ingest = Ingest::new(&version, events[0].room_id(), &origin, mode);
    let count = 1 + (selector as usize / 4) % 4;
    let added: Vec<&[u8]> = pieces.by_ref().take(count).collect();
    for raw in &added {
        ingest.add(raw);
    }
    let mut outcomes = None;
    for _ in 0..64 {
        match ingest.poll(room) {
            IngestStep::NeedKeys(_) => ingest.provide_keys(keys),
            IngestStep::Fetch(requests) => {
                for request in requests {
                    let reply = match pieces.next() {
                        Some(body) => Reply::response(200, body),
                        None => Reply::Failed,
                    };
                    ingest.provide_reply(request.id, reply);
                }
            }
            IngestStep::Done(done) => {
                outcomes = Some(done);
                break;
            }
            other => panic!("unexpected step with every reply given: {other:?}"),
        }
    }
    let outcomes = outcomes.expect("the pipeline finishes within 64 polls");
    let mut seen: Vec<usize> = outcomes
        .iter()
        .filter_map(|outcome| outcome.added)
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..added.len()).collect::<Vec<_>>(),
        "one outcome per added event"
    );
    for outcome in &outcomes {
        if let Some(pdu) = &outcome.pdu {
            assert!(
                verify_event_signatures(pdu.as_object(), &version, keys).is_ok(),
                "kept an event whose signatures do not verify: {outcome:?}"
            );
        }
    }
}
