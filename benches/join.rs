//! Validating a send_join answer for a large room: the joining side's whole handshake
//! (make_join template, signing our join, parsing the answer, verifying every
//! signature in one batch, authorizing every event and our join), next to
//! `event::receive_batch` alone over the same events (the floor: parsing plus the
//! signature batch).
//!
//! The room holds about `JOIN_BENCH_EVENTS` (default 50,000) state events: create,
//! power levels, join rules, and members of four servers, every one built, hashed and
//! signed by its server. Set `JOIN_BENCH_EVENTS=5000` for a quick run.

// Bench setup: a failed expect or panic is a broken benchmark input.
#![allow(clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use matrix_serverlib::crypto::{PublicKeys, SigningKey};
use matrix_serverlib::event::StateKey;
use matrix_serverlib::event::{EventBuilder, Pdu, receive_batch};
use matrix_serverlib::federation::membership::{
    HandshakeParams, JoinHandshake, SendJoinAnswer, Step, TemplateParams, make_join_template,
    send_join_response,
};
use matrix_serverlib::federation::outbound::Reply;
use matrix_serverlib::id::{RoomId, ServerName, UserId};
use matrix_serverlib::json::{self, Object, Value};
use matrix_serverlib::room_version::RoomVersion;

#[path = "support/servers.rs"]
mod servers;

use servers::signing_servers;

const VERSION: RoomVersion = RoomVersion::V11;
const ROOM: &str = "!bench:s0.example";
const ADMIN: &str = "@admin:s0.example";
const JOINER: &str = "@joiner:joiner.example";

/// The room: every state event, the state map and the last event.
struct Room {
    events: Vec<Pdu>,
    state: BTreeMap<StateKey, Pdu>,
}

fn content(text: &str) -> Object {
    match json::parse(text.as_bytes(), &json::ParseOptions::strict()) {
        Ok(Value::Object(object)) => object,
        other => panic!("bench content is not an object: {other:?}"),
    }
}

fn size() -> usize {
    std::env::var("JOIN_BENCH_EVENTS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(50_000)
}

/// Builds the room deterministically.
fn room(members: usize, servers: &[(String, SigningKey)]) -> Room {
    let (admin_server, admin_key) = &servers[0];
    let mut events: Vec<Pdu> = Vec::with_capacity(members + 4);
    let state_event = |kind: &str, sender: &str, key: &str, body: &str| {
        EventBuilder::new(&VERSION, sender, kind)
            .room_id(ROOM)
            .state_key(key)
            .content(content(body))
    };
    let create = state_event(
        "m.room.create",
        ADMIN,
        "",
        &format!(r#"{{"room_version":"11","creator":"{ADMIN}"}}"#),
    )
    .depth(1)
    .origin_server_ts(1)
    .build(admin_server, admin_key)
    .expect("create");
    let admin_join = state_event("m.room.member", ADMIN, ADMIN, r#"{"membership":"join"}"#)
        .prev_event(create.event_id().as_str())
        .auth_event(create.event_id().as_str())
        .depth(2)
        .origin_server_ts(2)
        .build(admin_server, admin_key)
        .expect("admin join");
    let levels = state_event(
        "m.room.power_levels",
        ADMIN,
        "",
        &format!(r#"{{"users":{{"{ADMIN}":100}}}}"#),
    )
    .prev_event(admin_join.event_id().as_str())
    .auth_event(create.event_id().as_str())
    .auth_event(admin_join.event_id().as_str())
    .depth(3)
    .origin_server_ts(3)
    .build(admin_server, admin_key)
    .expect("power levels");
    let rules = state_event("m.room.join_rules", ADMIN, "", r#"{"join_rule":"public"}"#)
        .prev_event(levels.event_id().as_str())
        .auth_event(create.event_id().as_str())
        .auth_event(admin_join.event_id().as_str())
        .auth_event(levels.event_id().as_str())
        .depth(4)
        .origin_server_ts(4)
        .build(admin_server, admin_key)
        .expect("join rules");
    let base = [
        create.event_id().clone(),
        levels.event_id().clone(),
        rules.event_id().clone(),
    ];
    events.extend([create, admin_join, levels, rules]);
    for index in 0..members {
        let (server, key) = &servers[index % servers.len()];
        let user = format!("@user{index}:{server}");
        let previous = events
            .last()
            .expect("non-empty")
            .event_id()
            .as_str()
            .to_owned();
        let mut builder = state_event(
            "m.room.member",
            &user,
            &user,
            &format!(r#"{{"membership":"join","displayname":"User {index}"}}"#),
        )
        .prev_event(&previous);
        for id in &base {
            builder = builder.auth_event(id.as_str());
        }
        let depth = i64::try_from(index).expect("small") + 5;
        let join = builder
            .depth(depth)
            .origin_server_ts(depth)
            .build(server, key)
            .expect("member join");
        events.push(join);
    }
    let state = events
        .iter()
        .map(|pdu| {
            let key = StateKey::new(pdu.event_type(), pdu.state_key().unwrap_or_default());
            (key, pdu.clone())
        })
        .collect();
    Room { events, state }
}

/// The make_join and send_join answers a resident would give.
fn answers(room: &Room) -> (Vec<u8>, Vec<u8>) {
    let room_id = RoomId::parse(ROOM).expect("room");
    let joiner = UserId::parse(JOINER).expect("user");
    let origin = ServerName::parse("joiner.example").expect("server");
    let last = room.events.last().expect("non-empty");
    let extremities = [last];
    let versions = vec!["11".to_owned()];
    let params = TemplateParams::new(
        &VERSION,
        &room_id,
        &joiner,
        &origin,
        &room.state,
        &extremities,
        10,
    )
    .with_remote_versions(&versions);
    let template = make_join_template(&params).expect("template");
    let state: Vec<&Pdu> = room.state.values().collect();
    let chain: Vec<&Pdu> = room.events.iter().take(4).collect();
    let body = send_join_response(&SendJoinAnswer::new(&state, &chain));
    (
        json::to_vec(&Value::Object(template)),
        json::to_vec(&Value::Object(body)),
    )
}

/// One whole join handshake against the canned answers.
fn join(make: &[u8], send: &[u8], keys: &PublicKeys) -> usize {
    let params = HandshakeParams::new(
        UserId::parse(JOINER).expect("user"),
        RoomId::parse(ROOM).expect("room"),
        vec![ServerName::parse("s0.example").expect("server")],
        ServerName::parse("joiner.example").expect("server"),
        SigningKey::from_seed("ed25519:j", [9; 32]),
        20,
    );
    let mut handshake = JoinHandshake::new(params);
    let mut sent = 0;
    loop {
        match handshake.poll() {
            Step::Send(request) => {
                let body = if sent == 0 { make } else { send };
                sent += 1;
                handshake.provide_reply(request.id, Reply::response(200, body));
            }
            Step::NeedKeys(_) => handshake.provide_keys(keys),
            Step::Done(room) => {
                assert!(room.dropped.is_empty() && room.rejected.is_empty());
                return room.state.len();
            }
            other => panic!("the bench join failed: {other:?}"),
        }
    }
}

fn bench(c: &mut Criterion) {
    let (servers, keys) = signing_servers();
    let members = size().saturating_sub(4);
    let room = room(members, &servers);
    let (make, send) = answers(&room);
    let event_bytes: Vec<Vec<u8>> = room.events.iter().map(Pdu::to_canonical_bytes).collect();
    let slices: Vec<&[u8]> = event_bytes.iter().map(Vec::as_slice).collect();
    assert_eq!(join(&make, &send, &keys), room.state.len() + 1);

    let mut group = c.benchmark_group("join");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(room.events.len() as u64));
    group.bench_function(format!("handshake_{}_events", room.events.len()), |b| {
        b.iter(|| join(black_box(&make), black_box(&send), &keys));
    });
    group.bench_function(format!("receive_batch_{}_events", room.events.len()), |b| {
        b.iter(|| {
            let received = receive_batch(black_box(&slices), &VERSION, &keys);
            assert!(received.iter().all(Result::is_ok));
            received.len()
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
