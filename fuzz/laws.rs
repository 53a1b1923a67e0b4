//! The laws the fuzz targets check, shared with the corpus replay in `tests/it`: each
//! function takes arbitrary bytes and panics only when a law is broken.

use std::collections::{BTreeMap, BTreeSet};

use matrix_serverlib::auth::{AuthEvents, auth_types, auth_types_pdu, check};
use matrix_serverlib::crypto::{PublicKeys, SigningKey, reference_hash};
use matrix_serverlib::event::StateKey;
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
/// object is the event and the rest the state; objects that do not parse as PDUs of
/// the version (with `Pdu::from_object_lenient`, as the conformance tool reads events)
/// are left out.
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
    let _ = auth_types(event, &version);
    let Ok(event) = Pdu::from_object_lenient((*event).clone(), &version) else {
        return;
    };
    let state_pdus: Vec<Pdu> = state_events
        .iter()
        .filter_map(|object| Pdu::from_object_lenient((*object).clone(), &version).ok())
        .collect();
    let state: AuthEvents<'_> = state_pdus.iter().collect();
    let verdict = check(&event, &state).map_err(|rejection| rejection.reason());
    let mut unrelated = match json::parse(
        br#"{"type":"org.example.unrelated","state_key":"","sender":"@x:y","content":{},
            "prev_events":[],"auth_events":[],"depth":1,
            "origin_server_ts":1,"hashes":{},"signatures":{}}"#,
        &ParseOptions::strict(),
    ) {
        Ok(Value::Object(object)) => object,
        other => panic!("a literal event parses: {other:?}"),
    };
    unrelated.insert("room_id", Value::from(event.room_id().as_str()));
    if version.event_format == matrix_serverlib::room_version::EventFormat::EventIdInPdu {
        unrelated.insert("event_id", Value::from("$unrelated:y"));
    }
    let unrelated = Pdu::from_object(unrelated, &version).expect("a literal PDU parses");
    let mut more = state.clone();
    more.insert_pdu(&unrelated);
    let again = check(&event, &more).map_err(|rejection| rejection.reason());
    assert_eq!(again, verdict, "unrelated state changed the verdict");
    let _ = auth_types_pdu(&event);
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

/// Key documents and notary bodies: validation of arbitrary bytes never panics; a
/// document that validates re-validates from its own canonical bytes with the same
/// keys; a notary answer gives one result per entry, each for a server asked about;
/// reading a notary question and writing it back is idempotent.
pub(crate) fn key_document(data: &[u8]) {
    use matrix_serverlib::federation::keyring::KeyNeed;
    use matrix_serverlib::federation::keys::{
        notary_query_body, parse_notary_query, validate_key_document, validate_notary_answer,
    };

    let parsed = json::parse(data, &ParseOptions::lenient()).ok();
    let named = parsed
        .as_ref()
        .and_then(|value| value.get("server_name"))
        .and_then(Value::as_str)
        .and_then(|name| ServerName::parse(name).ok());
    let server = named.unwrap_or_else(|| ServerName::parse("origin.example").expect("valid"));
    if let Ok(document) = validate_key_document(data, &server) {
        let canonical = json::to_vec(&Value::Object(document.as_object().clone()));
        let again = validate_key_document(&canonical, &server).expect("canonical bytes validate");
        assert_eq!(again.verify_keys(), document.verify_keys());
        assert_eq!(again.old_verify_keys(), document.old_verify_keys());
        assert_eq!(again.valid_until_ts(), document.valid_until_ts());
    }

    let notary = ServerName::parse("notary.example").expect("valid");
    let mut notary_keys = PublicKeys::new();
    let notary_key = SigningKey::from_seed("ed25519:n1", [5; 32]);
    notary_keys.insert("notary.example", "ed25519:n1", notary_key.public_key());
    let asked = vec![KeyNeed::new(server.clone(), BTreeSet::new(), 0)];
    if let Ok(results) = validate_notary_answer(data, &notary, &notary_keys, &asked) {
        let entries = parsed
            .as_ref()
            .and_then(|value| value.get("server_keys"))
            .and_then(Value::as_array)
            .map_or(usize::MAX, <[Value]>::len);
        assert_eq!(results.len(), entries, "one result per entry");
        for document in results.into_iter().flatten() {
            assert_eq!(document.server_name(), &server);
        }
    }

    if let Ok(needs) = parse_notary_query(data, 1_000) {
        let body = notary_query_body(&needs);
        let bytes = json::to_vec(&Value::Object(body.clone()));
        let reread = parse_notary_query(&bytes, 1_000).expect("a written question reads back");
        assert_eq!(notary_query_body(&reread), body, "question round trip");
    }
}

/// The joining side of a join: arbitrary bytes as the make_join and send_join answers
/// (a little-endian `u32` length, the make_join body, then the send_join body). The
/// handshake never panics, ends `Done` or `Failed` within a bounded number of polls,
/// and a joined room's state holds a create event of the negotiated version and our
/// join.
pub(crate) fn send_join(data: &[u8]) {
    use matrix_serverlib::federation::membership::{HandshakeParams, JoinHandshake, Step};
    use matrix_serverlib::federation::outbound::Reply;

    let (make, send) = match data.get(..4) {
        Some(len) => {
            let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
            let rest = &data[4..];
            rest.split_at(len.min(rest.len()))
        }
        None => (data, &[][..]),
    };
    let params = HandshakeParams::new(
        UserId::parse("@bob:b.example").expect("valid user"),
        RoomId::parse("!room:a.example").expect("valid room"),
        vec![ServerName::parse("a.example").expect("valid server")],
        ServerName::parse("b.example").expect("valid server"),
        SigningKey::from_seed("ed25519:k", [2; 32]),
        7_000,
    );
    let mut keys = PublicKeys::new();
    for (server, seed) in [("a.example", 1), ("b.example", 2), ("c.example", 3)] {
        let key = SigningKey::from_seed("ed25519:k", [seed; 32]);
        keys.insert(server, "ed25519:k", key.public_key());
    }
    let mut join = JoinHandshake::new(params);
    let mut sent = 0;
    for _ in 0..16 {
        match join.poll() {
            Step::Send(request) => {
                let body = match sent {
                    0 => make,
                    1 => send,
                    _ => panic!("a third request with one candidate"),
                };
                sent += 1;
                join.provide_reply(request.id, Reply::response(200, body));
            }
            Step::NeedKeys(_) => join.provide_keys(&keys),
            Step::Done(room) => {
                let create = room
                    .state
                    .get(&StateKey::new("m.room.create", ""))
                    .expect("a joined room has a create event");
                let version = create
                    .content()
                    .get("room_version")
                    .and_then(Value::as_str)
                    .unwrap_or("1");
                assert_eq!(version, room.version.id, "create of another version");
                let ours = room
                    .state
                    .get(&StateKey::new("m.room.member", "@bob:b.example"))
                    .expect("a joined room's state holds our join");
                assert_eq!(ours.event_id(), room.join_event.event_id());
                assert_eq!(ours.membership(), Some("join"));
                return;
            }
            Step::Failed(_) => return,
            _ => {}
        }
    }
    panic!("the handshake did not end within 16 polls");
}

/// `/send` transactions: parsing arbitrary bytes never panics; a parsed transaction
/// holds at most 50 PDUs and 100 EDUs, every kept EDU names only the origin's users,
/// and re-encoding an EDU parses back to the same EDU; what an outbound queue sends for
/// the parsed PDUs and EDUs parses back to the same PDUs and unkeyed EDUs, with one
/// typing notification per room and user.
pub(crate) fn transaction(data: &[u8]) {
    use matrix_serverlib::federation::edu::{Edu, check_edu_origin, parse_edu};
    use matrix_serverlib::federation::txn::{
        MAX_EDUS, MAX_PDUS, OutboundQueue, QueueStep, RetryPolicy, parse_transaction,
    };

    let origin = ServerName::parse("a.example").expect("valid server name");
    let Ok(parsed) = parse_transaction("t1", data, &origin) else {
        return;
    };
    assert!(parsed.pdus.len() + parsed.ignored_pdus <= MAX_PDUS);
    assert!(parsed.edus.len() + parsed.dropped_edus.len() <= MAX_EDUS);
    for edu in &parsed.edus {
        assert!(check_edu_origin(edu, "a.example").is_ok());
        assert!(
            edu.users()
                .iter()
                .all(|user| user.server_name() == "a.example")
        );
        assert_eq!(
            parse_edu(&edu.to_object()).as_ref(),
            Ok(edu),
            "edu round trip"
        );
    }
    let destination = ServerName::parse("b.example").expect("valid server name");
    let mut queue = OutboundQueue::new(origin.clone(), destination, RetryPolicy::synapse());
    for pdu in &parsed.pdus {
        queue.push_room_pdu(pdu.room_id.clone(), pdu.object.clone());
    }
    for edu in &parsed.edus {
        queue.push_edu(edu.clone());
    }
    // The queue drops presence and receipt EDUs that carry no entry: nothing to send.
    let carries_nothing = |edu: &Edu| match edu {
        Edu::Presence(updates) => updates.is_empty(),
        Edu::Receipt(receipts) => receipts.is_empty(),
        _ => false,
    };
    let QueueStep::Send(txn) = queue.poll(parsed.origin_server_ts) else {
        assert!(parsed.pdus.is_empty() && parsed.edus.iter().all(carries_nothing));
        return;
    };
    let body = Value::Object(txn.request.body.clone().expect("a body"));
    let again = parse_transaction(&txn.txn_id, &json::to_vec(&body), &origin)
        .expect("a queued transaction parses");
    assert_eq!(again.pdus, parsed.pdus, "pdus survive the queue");
    // Typing, presence and receipts are keyed: a later one replaces a waiting one of
    // the same key. Every other EDU goes out as it came in.
    let keyed = |edu: &Edu| matches!(edu, Edu::Typing { .. } | Edu::Presence(_) | Edu::Receipt(_));
    let unkeyed = |edus: &[Edu]| {
        edus.iter()
            .filter(|edu| !keyed(edu))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        unkeyed(&again.edus),
        unkeyed(&parsed.edus),
        "edus survive the queue"
    );
    let typing_keys = |edus: &[Edu]| {
        edus.iter()
            .filter_map(|edu| match edu {
                Edu::Typing {
                    room_id, user_id, ..
                } => Some((room_id.clone(), user_id.clone())),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let sent_keys = typing_keys(&again.edus);
    let distinct: BTreeSet<_> = typing_keys(&parsed.edus).into_iter().collect();
    assert_eq!(
        sent_keys.len(),
        distinct.len(),
        "one typing edu per room and user"
    );
    assert!(sent_keys.iter().all(|key| distinct.contains(key)));
    assert_eq!(again.origin_server_ts, parsed.origin_server_ts);
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

/// Incoming invites (`PUT /v1/invite` and `/v2/invite`): checking arbitrary bytes never
/// panics; an invite that passes is the one the path names (room and event ID), an
/// `invite` of one of our users sent by a user of the requesting server; an invite
/// whose path names another event never passes; and our countersigned answer keeps
/// the event ID and carries a signature of ours that verifies.
///
/// The first byte chooses the endpoint (bit 0: v1) and whether the path names another
/// event (bit 1); the rest is the body. The path's IDs are taken from the body, so
/// that well-formed invites can pass.
pub(crate) fn incoming_invite(data: &[u8]) {
    use matrix_serverlib::federation::membership::{
        InviteApi, InviteRequest, check_incoming_invite, invite_response,
    };

    let Some((&flags, body)) = data.split_first() else {
        return;
    };
    let api = if flags & 1 == 1 {
        InviteApi::V1
    } else {
        InviteApi::V2
    };
    let parsed = json::parse(body, &ParseOptions::lenient()).ok();
    let (version, event) = match (api, parsed.as_ref()) {
        (InviteApi::V1, Some(Value::Object(event))) => (Some(RoomVersion::V1), Some(event)),
        (_, Some(Value::Object(body))) => (
            body.get("room_version")
                .and_then(Value::as_str)
                .and_then(|id| RoomVersion::from_id(id).ok()),
            body.get("event").and_then(Value::as_object),
        ),
        _ => (None, None),
    };
    let fallback_room = RoomId::parse("!room:a.example").expect("valid room");
    let fallback_event = EventId::parse("$other:a.example").expect("valid event");
    let room_id = event
        .and_then(|event| event.get("room_id"))
        .and_then(Value::as_str)
        .and_then(|id| RoomId::parse(id).ok())
        .unwrap_or(fallback_room);
    let derived = match (version, event) {
        (Some(version), Some(event)) => matrix_serverlib::crypto::event_id(event, &version).ok(),
        _ => None,
    };
    let wrong_path = flags & 2 == 2 || derived.is_none();
    let event_id = match &derived {
        Some(id) if flags & 2 == 0 => id.clone(),
        _ => fallback_event.clone(),
    };
    let origin = ServerName::parse("a.example").expect("valid server");
    let ours = ServerName::parse("b.example").expect("valid server");
    let our_key = SigningKey::from_seed("ed25519:k", [2; 32]);
    let mut keys = PublicKeys::new();
    keys.insert(
        "a.example",
        "ed25519:k",
        SigningKey::from_seed("ed25519:k", [1; 32]).public_key(),
    );
    keys.insert("b.example", "ed25519:k", our_key.public_key());
    let request = InviteRequest::new(api, &room_id, &event_id, &origin, &ours);
    let Ok(invite) = check_incoming_invite(&request, body, &keys) else {
        return;
    };
    let pdu = invite.pdu();
    assert!(
        !wrong_path || derived.as_ref() == Some(&fallback_event),
        "an invite passed under another event's path"
    );
    assert_eq!(pdu.event_id(), &event_id, "the path's event");
    assert_eq!(pdu.room_id(), &room_id, "the path's room");
    assert_eq!(pdu.membership(), Some("invite"));
    let invitee = UserId::parse(pdu.state_key().expect("a member event")).expect("a user ID");
    assert_eq!(invitee.server_name(), "b.example", "one of our users");
    assert_eq!(
        pdu.sender().server_name(),
        "a.example",
        "sent by the origin's user"
    );
    let answer = invite_response(&invite, &ours, &our_key).expect("countersigning");
    let signed = match &answer {
        Value::Array(items) => items.get(1).and_then(|body| body.get("event")),
        body => body.get("event"),
    }
    .and_then(Value::as_object)
    .expect("the answer holds the event");
    let version = *pdu.room_version();
    assert_eq!(
        matrix_serverlib::crypto::event_id(signed, &version)
            .ok()
            .as_ref(),
        Some(pdu.event_id()),
        "countersigning changed the event ID"
    );
    let redacted = redact(signed, &version);
    matrix_serverlib::crypto::verify_json(&redacted, "b.example", &keys)
        .expect("our countersignature verifies");
}

/// serde interop: whatever `serde_json` reads into the crate's `Value` re-encodes as
/// canonical JSON that parses back (leniently) to the same value and that `serde_json`
/// reads back to it too; any JSON handed to `Pdu::from_json_value` gives a PDU or a
/// typed error, never a panic, and a PDU so made round-trips through its bytes.
pub(crate) fn serde_value(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        let encoded = json::to_vec(&value);
        let reparsed =
            json::parse(&encoded, &ParseOptions::lenient()).expect("canonical output reparses");
        assert_eq!(reparsed, value, "canonical round trip changed the value");
        let again: Value = serde_json::from_slice(&encoded).expect("serde reads canonical output");
        assert_eq!(again, value, "serde round trip changed the value");
    }
    if let Ok(raw) = serde_json::from_slice::<serde_json::Value>(data) {
        for version in [
            RoomVersion::V1,
            RoomVersion::V6,
            RoomVersion::V11,
            RoomVersion::V12,
        ] {
            if let Ok(pdu) = Pdu::from_json_value(raw.clone(), &version) {
                let bytes = pdu.to_canonical_bytes();
                let reread = Pdu::from_bytes(&bytes, &version).expect("a PDU's bytes reparse");
                assert_eq!(reread.event_id(), pdu.event_id(), "event ID changed");
            }
        }
    }
}

/// Application-service registrations: any JSON either loads or is refused with a typed
/// error, without panicking and in time linear in the texts matched (the regex engine
/// never backtracks); a loaded registration's namespace answers agree with each other
/// (in a namespace exactly when some namespace matches, exclusive only when in one), a
/// set of one authenticates by its `as_token` and never by its `hs_token`, and a set
/// with the same registration twice is refused for the repeated ID.
pub(crate) fn appservice_registration(data: &[u8]) {
    use matrix_serverlib::appservice::{
        NamespaceKind, Registration, RegistrationError, Registrations,
    };

    let Ok(value) = json::parse(data, &ParseOptions::lenient()) else {
        return;
    };
    let Ok(registration) = Registration::from_json(&(&value).into()) else {
        return;
    };
    let mut probes: Vec<String> = [
        "",
        "@a:example.org",
        "@_irc_bob:example.org",
        "#a:example.org",
        "!a:example.org",
        "@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
    ]
    .map(str::to_owned)
    .to_vec();
    for kind in [
        NamespaceKind::Users,
        NamespaceKind::Aliases,
        NamespaceKind::Rooms,
    ] {
        probes.extend(
            registration
                .namespaces(kind)
                .iter()
                .map(|n| n.regex.clone()),
        );
    }
    for kind in [
        NamespaceKind::Users,
        NamespaceKind::Aliases,
        NamespaceKind::Rooms,
    ] {
        for probe in &probes {
            let first = registration.matching_namespace(kind, probe);
            assert_eq!(
                registration.is_in_namespace(kind, probe),
                first.is_some(),
                "is_in_namespace disagrees with matching_namespace on {probe:?}"
            );
            assert_eq!(
                registration.is_exclusive(kind, probe),
                first.is_some_and(|n| n.exclusive),
                "is_exclusive disagrees with the first match on {probe:?}"
            );
        }
    }
    let server = ServerName::parse("example.org").expect("server name");
    let Ok(services) = Registrations::new(vec![registration.clone()], &server) else {
        return;
    };
    let id = registration.id();
    assert_eq!(
        services
            .by_as_token(registration.as_token())
            .map(|s| s.id()),
        Some(id)
    );
    assert!(services.by_as_token(registration.hs_token()).is_none());
    assert_eq!(
        Registrations::new(vec![registration.clone(), registration.clone()], &server).map(|_| ()),
        Err(RegistrationError::DuplicateId { id: id.to_owned() })
    );
}
