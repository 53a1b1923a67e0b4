//! The receipt pipeline (`federation::ingest`) on pushed 50-PDU transactions into a
//! large room, next to `event::receive_batch` alone over the same events (checks 1–3,
//! the floor the pipeline cannot beat). The room has `RECEIVE_BENCH_MEMBERS` joined
//! members (default 10,000) on four servers; each transaction is a chain of 50 events
//! from members of all four servers (messages, and every tenth a display-name change)
//! on the room's forward extremity.

// Bench setup: a failed expect or an unexpected step is a broken benchmark input.
#![allow(clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use matrix_serverlib::crypto::{PublicKeys, SigningKey};
use matrix_serverlib::event::StateKey;
use matrix_serverlib::event::{EventBuilder, Pdu, receive_batch};
use matrix_serverlib::federation::ingest::{
    Ingest, IngestStep, MemoryRoom, Mode, Outcome, Status, Verdict,
};
use matrix_serverlib::id::{EventId, RoomId, ServerName};
use matrix_serverlib::json::{Object, Value};
use matrix_serverlib::room_version::RoomVersion;

#[path = "support/servers.rs"]
mod servers;

const VERSION: RoomVersion = RoomVersion::V11;
const TRANSACTION: usize = 50;
const ROOM_ID: &str = "!big:s0.example";

fn members() -> usize {
    std::env::var("RECEIVE_BENCH_MEMBERS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(10_000)
}

fn content(pairs: &[(&str, Value)]) -> Object {
    let mut object = Object::new();
    for (name, value) in pairs {
        object.insert(*name, value.clone());
    }
    object
}

/// The room: create, power levels, join rules, then `count` joins; stored as outliers
/// but for the last join, a timeline event with the full state before it.
struct Room {
    room: MemoryRoom,
    create: EventId,
    power: EventId,
    rules: EventId,
    joins: Vec<(String, EventId)>,
    head: Pdu,
}

fn build_room(servers: &[(String, SigningKey)], count: usize) -> Room {
    let creator = format!("@u0:{}", servers[0].0);
    let event =
        |sender: &str, kind: &str, key: &str, body: Object, prev: &Pdu, auth: &[&EventId]| {
            let server = sender.split(':').nth(1).expect("sender has a server");
            let signing = &servers
                .iter()
                .find(|(name, _)| name == server)
                .expect("server")
                .1;
            let mut builder = EventBuilder::new(&VERSION, sender, kind)
                .room_id(ROOM_ID)
                .state_key(key)
                .content(body)
                .prev_event(prev.event_id().as_str())
                .depth(prev.depth() + 1)
                .origin_server_ts(prev.origin_server_ts() + 1);
            for id in auth {
                builder = builder.auth_event(id.as_str());
            }
            builder.build(server, signing).expect("room event builds")
        };
    let create = EventBuilder::new(&VERSION, &creator, "m.room.create")
        .room_id(ROOM_ID)
        .state_key("")
        .content(content(&[("creator", Value::from(creator.as_str()))]))
        .depth(1)
        .origin_server_ts(1_700_000_000_000)
        .build(&servers[0].0, &servers[0].1)
        .expect("create builds");
    let join = content(&[("membership", Value::from("join"))]);
    let creator_join = event(
        &creator,
        "m.room.member",
        &creator,
        join.clone(),
        &create,
        &[create.event_id()],
    );
    let mut users = Object::new();
    users.insert(creator.as_str(), Value::from(100));
    let auth = [create.event_id(), creator_join.event_id()];
    let power_content = content(&[("users", Value::Object(users))]);
    let power = event(
        &creator,
        "m.room.power_levels",
        "",
        power_content,
        &creator_join,
        &auth,
    );
    let auth = [create.event_id(), creator_join.event_id(), power.event_id()];
    let rules_content = content(&[("join_rule", Value::from("public"))]);
    let rules = event(
        &creator,
        "m.room.join_rules",
        "",
        rules_content,
        &power,
        &auth,
    );
    let mut state = BTreeMap::new();
    let mut room = MemoryRoom::new(VERSION);
    let mut joins = vec![(creator.clone(), creator_join.event_id().clone())];
    for pdu in [&create, &creator_join, &power, &rules] {
        let key = StateKey::new(pdu.event_type(), pdu.state_key().unwrap_or_default());
        state.insert(key, pdu.event_id().clone());
    }
    let mut head = rules.clone();
    let stored = [create.clone(), creator_join, power.clone(), rules.clone()];
    for pdu in stored {
        room.insert_outlier(pdu, Status::Outlier);
    }
    for index in 1..count {
        let user = format!("@u{index}:{}", servers[index % servers.len()].0);
        let auth = [create.event_id(), power.event_id(), rules.event_id()];
        let pdu = event(&user, "m.room.member", &user, join.clone(), &head, &auth);
        joins.push((user.clone(), pdu.event_id().clone()));
        if index + 1 < count {
            state.insert(
                StateKey::new("m.room.member", &user),
                pdu.event_id().clone(),
            );
            room.insert_outlier(pdu.clone(), Status::Outlier);
        }
        head = pdu;
    }
    room.insert_timeline(head.clone(), Status::Timeline, Arc::new(state));
    Room {
        room,
        create: create.event_id().clone(),
        power: power.event_id().clone(),
        rules: rules.event_id().clone(),
        joins,
        head,
    }
}

/// One pushed transaction: 50 chained events on the room's extremity, from members
/// spread over every server.
fn transaction(servers: &[(String, SigningKey)], room: &Room) -> Vec<Vec<u8>> {
    let mut prev = room.head.clone();
    let mut events = Vec::new();
    for index in 0..TRANSACTION {
        let (user, join) = &room.joins[(index * 7919) % room.joins.len()];
        let server = user.split(':').nth(1).expect("user has a server");
        let signing = &servers
            .iter()
            .find(|(name, _)| name == server)
            .expect("server")
            .1;
        let mut builder = EventBuilder::new(&VERSION, user, "m.room.message")
            .room_id(ROOM_ID)
            .prev_event(prev.event_id().as_str())
            .auth_event(room.create.as_str())
            .auth_event(room.power.as_str())
            .auth_event(join.as_str())
            .depth(prev.depth() + 1)
            .origin_server_ts(prev.origin_server_ts() + 1);
        builder = if index % 10 == 9 {
            let body = content(&[
                ("membership", Value::from("join")),
                ("displayname", Value::from(format!("Member {index}"))),
            ]);
            EventBuilder::new(&VERSION, user, "m.room.member")
                .room_id(ROOM_ID)
                .state_key(user)
                .content(body)
                .prev_event(prev.event_id().as_str())
                .auth_event(room.create.as_str())
                .auth_event(room.power.as_str())
                .auth_event(room.rules.as_str())
                .auth_event(join.as_str())
                .depth(prev.depth() + 1)
                .origin_server_ts(prev.origin_server_ts() + 1)
        } else {
            let body = content(&[
                (
                    "body",
                    Value::from(format!("Message {index}: a realistic chat line.")),
                ),
                ("msgtype", Value::from("m.text")),
            ]);
            builder.content(body)
        };
        let pdu = builder
            .build(server, signing)
            .expect("transaction event builds");
        events.push(pdu.to_canonical_bytes());
        prev = pdu;
    }
    events
}

fn run(raw: &[Vec<u8>], room: &MemoryRoom, keys: &PublicKeys) -> Vec<Outcome> {
    let origin = ServerName::parse("s1.example").expect("server name");
    let room_id = RoomId::parse(ROOM_ID).expect("room ID");
    let mut ingest = Ingest::new(&VERSION, &room_id, &origin, Mode::Pushed);
    for event in raw {
        ingest.add(event);
    }
    loop {
        match ingest.poll(room) {
            IngestStep::NeedKeys(_) => ingest.provide_keys(keys),
            IngestStep::Done(outcomes) => return outcomes,
            other => panic!("a transaction on the extremity needs nothing else: {other:?}"),
        }
    }
}

fn benches(c: &mut Criterion) {
    let (servers, keys) = servers::signing_servers();
    let room = build_room(&servers, members());
    let raw = transaction(&servers, &room);
    let outcomes = run(&raw, &room.room, &keys);
    assert_eq!(outcomes.len(), TRANSACTION);
    assert!(
        outcomes
            .iter()
            .all(|outcome| matches!(outcome.verdict, Verdict::Accepted { .. })),
        "every event of the transaction is accepted"
    );
    let mut group = c.benchmark_group("receive");
    group.throughput(Throughput::Elements(TRANSACTION as u64));
    group.sample_size(20);
    group.bench_function("pipeline_pushed_txn", |b| {
        b.iter(|| black_box(run(&raw, &room.room, &keys)));
    });
    group.bench_function("receive_batch_floor", |b| {
        let slices: Vec<&[u8]> = raw.iter().map(Vec::as_slice).collect();
        b.iter(|| black_box(receive_batch(&slices, &VERSION, &keys)));
    });
    group.finish();
}

criterion_group!(receive_benches, benches);
criterion_main!(receive_benches);
