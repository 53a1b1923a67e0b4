//! Authorization checks against a room with 10,000 members: a message, a join and a
//! power-levels change, with the whole state at hand.

// Bench setup: a failed expect or panic is a broken benchmark input.
#![allow(clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use matrix_serverlib::auth::{AuthEvents, auth_types_pdu, check};
use matrix_serverlib::event::Pdu;
use matrix_serverlib::json::{self, Object, ParseOptions, Value};
use matrix_serverlib::room_version::RoomVersion;

const MEMBERS: usize = 10_000;

/// The room version of the benchmark room.
const VERSION: RoomVersion = RoomVersion::V11;

/// `text` as a PDU of [`VERSION`], with empty `prev_events`, `auth_events`, `hashes`
/// and `signatures` where it has none (the rules read none of them here).
fn event(text: &str) -> Pdu {
    let mut object: Object = match json::parse(text.as_bytes(), &ParseOptions::strict()) {
        Ok(Value::Object(object)) => object,
        other => panic!("benchmark event is not an object: {other:?}"),
    };
    for (field, empty) in [
        ("prev_events", Value::Array(Vec::new())),
        ("auth_events", Value::Array(Vec::new())),
        ("hashes", Value::Object(Object::new())),
        ("signatures", Value::Object(Object::new())),
    ] {
        if !object.contains_key(field) {
            object.insert(field, empty);
        }
    }
    Pdu::from_object(object, &VERSION).expect("benchmark events are PDUs")
}

fn user(index: usize) -> String {
    format!("@user{index}:server{}.example", index % 20)
}

/// The room's state: create, power levels (100 users with levels), join rules, and
/// 10,000 joined members.
fn room(version: &RoomVersion) -> Vec<Pdu> {
    let admin = user(0);
    let mut state = vec![event(&format!(
        r#"{{"type":"m.room.create","state_key":"","sender":"{admin}","room_id":"!room:server0.example","content":{{"creator":"{admin}","room_version":"{}"}},"prev_events":[],"auth_events":[],"depth":1,"origin_server_ts":1}}"#,
        version.id
    ))];
    let users: Vec<String> = (0..100)
        .map(|index| format!(r#""{}":{}"#, user(index), if index == 0 { 100 } else { 50 }))
        .collect();
    state.push(event(&format!(
        r#"{{"type":"m.room.power_levels","state_key":"","sender":"{admin}","room_id":"!room:server0.example","content":{{"users":{{{}}},"users_default":0,"events_default":0,"state_default":50,"ban":50,"kick":50,"redact":50,"invite":0,"events":{{"m.room.name":50,"m.room.power_levels":100}}}},"depth":2,"origin_server_ts":2}}"#,
        users.join(",")
    )));
    state.push(event(&format!(
        r#"{{"type":"m.room.join_rules","state_key":"","sender":"{admin}","room_id":"!room:server0.example","content":{{"join_rule":"public"}},"depth":3,"origin_server_ts":3}}"#
    )));
    for index in 0..MEMBERS {
        let member = user(index);
        state.push(event(&format!(
            r#"{{"type":"m.room.member","state_key":"{member}","sender":"{member}","room_id":"!room:server0.example","content":{{"membership":"join","displayname":"User {index}"}},"depth":{},"origin_server_ts":{}}}"#,
            index + 4,
            index + 4
        )));
    }
    state
}

fn benches(c: &mut Criterion) {
    let version = VERSION;
    let state_events = room(&version);
    let state: AuthEvents<'_> = state_events.iter().collect();
    let sender = user(4242);
    let message = event(&format!(
        r#"{{"type":"m.room.message","sender":"{sender}","room_id":"!room:server0.example","content":{{"body":"hello","msgtype":"m.text"}},"depth":20000,"origin_server_ts":20000}}"#
    ));
    let newcomer = user(MEMBERS + 1);
    let join = event(&format!(
        r#"{{"type":"m.room.member","state_key":"{newcomer}","sender":"{newcomer}","room_id":"!room:server0.example","content":{{"membership":"join"}},"depth":20000,"origin_server_ts":20000}}"#
    ));
    let admin = user(0);
    let power_change = event(&format!(
        r#"{{"type":"m.room.power_levels","state_key":"","sender":"{admin}","room_id":"!room:server0.example","content":{{"users":{{"{admin}":100,"{sender}":50}},"users_default":0,"events_default":0,"state_default":50,"ban":50,"kick":50,"redact":50,"invite":0,"events":{{"m.room.name":50,"m.room.power_levels":100}}}},"depth":20000,"origin_server_ts":20000}}"#
    ));
    for event in [&message, &join, &power_change] {
        check(event, &state).expect("benchmark events are allowed");
    }
    let mut group = c.benchmark_group("auth_10k_members");
    group.throughput(Throughput::Elements(1));
    group.bench_function("message", |b| b.iter(|| check(black_box(&message), &state)));
    let selected: AuthEvents<'_> = auth_types_pdu(&message)
        .expect("message has a type and sender")
        .iter()
        .filter_map(|key| state.get(key.event_type(), key.state_key()))
        .collect();
    group.bench_function("message_selected_state", |b| {
        b.iter(|| check(black_box(&message), &selected))
    });
    group.bench_function("join", |b| b.iter(|| check(black_box(&join), &state)));
    group.bench_function("power_levels_change", |b| {
        b.iter(|| check(black_box(&power_change), &state))
    });
    group.finish();
}

criterion_group!(auth_benches, benches);
criterion_main!(auth_benches);
