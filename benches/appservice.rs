//! The application-service interest check per room event
//! (`Registrations::interested_in_event`) against 10 registrations of 20 namespaces
//! each (14 user, 3 alias and 3 room namespaces, in the shapes bridges ship). Three
//! cases: the sender decides (a puppet of one bridge speaks), the room decides through
//! its members (a portal room with one puppet among 20 local members), and nothing
//! matches (every namespace, alias and member is tried: the worst case).

// Bench setup: a failed expect is a broken benchmark input.
#![allow(clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use matrix_serverlib::appservice::{Registration, Registrations, RoomSnapshot};
use matrix_serverlib::crypto::SigningKey;
use matrix_serverlib::event::{EventBuilder, Pdu};
use matrix_serverlib::id::ServerName;
use matrix_serverlib::json::Object;
use matrix_serverlib::room_version::RoomVersion;

const SERVICES: usize = 10;
const EVENTS: usize = 100;

fn registrations() -> Registrations {
    let list = (0..SERVICES)
        .map(|s| {
            let mut users: Vec<serde_json::Value> = (0..13)
                .map(|n| {
                    serde_json::json!({
                        "exclusive": true,
                        "regex": format!("@_b{s}_n{n}_.*:example\\.org$"),
                    })
                })
                .collect();
            let guests = format!("@b{s}guest[0-9]+:.*");
            users.push(serde_json::json!({"exclusive": false, "regex": guests}));
            let aliases: Vec<serde_json::Value> = (0..3)
                .map(|n| format!("#_b{s}_a{n}_.*:example\\.org$"))
                .map(|regex| serde_json::json!({"exclusive": true, "regex": regex}))
                .collect();
            let rooms: Vec<serde_json::Value> = (0..3)
                .map(|n| format!("!b{s}r{n}[A-Za-z]+:example\\.org"))
                .map(|regex| serde_json::json!({"exclusive": false, "regex": regex}))
                .collect();
            Registration::from_json(&serde_json::json!({
                "id": format!("bridge{s}"),
                "url": format!("http://127.0.0.1:{}", 9000 + s),
                "as_token": format!("as{s}"),
                "hs_token": format!("hs{s}"),
                "sender_localpart": format!("_b{s}_bot"),
                "namespaces": {"users": users, "aliases": aliases, "rooms": rooms},
            }))
            .expect("registration")
        })
        .collect();
    Registrations::new(list, &ServerName::parse("example.org").expect("server")).expect("load")
}

fn messages(sender: impl Fn(usize) -> String) -> Vec<Pdu> {
    let key = SigningKey::from_seed("ed25519:1", [5; 32]);
    (0..EVENTS)
        .map(|i| {
            EventBuilder::new(&RoomVersion::V11, &sender(i), "m.room.message")
                .room_id("!lobby:example.org")
                .content(Object::new())
                .depth(3)
                .origin_server_ts(1_000)
                .build("example.org", &key)
                .expect("event")
        })
        .collect()
}

fn bench_interest(c: &mut Criterion) {
    let services = registrations();
    let aliases = ["#lobby:example.org", "#general:example.org"];
    let plain_members: Vec<String> = (0..20).map(|m| format!("@user{m}:example.org")).collect();
    let mut portal_members = plain_members.clone();
    portal_members[19] = "@_b9_n12_carol:example.org".to_owned();

    let from_puppets = messages(|i| format!("@_b{}_n{}_x:example.org", i % SERVICES, i % 13));
    let from_users = messages(|i| format!("@user{}:example.org", i % 20));

    let mut group = c.benchmark_group("appservice_interest");
    group.throughput(Throughput::Elements(EVENTS as u64));
    let mut run = |name: &str, events: &[Pdu], members: &[String], expect: usize| {
        let room = RoomSnapshot::new(&aliases, members);
        let delivered: usize = events
            .iter()
            .map(|e| services.interested_in_event(e, &room).len())
            .sum();
        assert_eq!(delivered, expect, "{name}");
        group.bench_function(name, |b| {
            b.iter(|| {
                for event in events {
                    black_box(services.interested_in_event(black_box(event), &room));
                }
            });
        });
    };
    run("sender_decides", &from_puppets, &plain_members, EVENTS);
    run("member_decides", &from_users, &portal_members, EVENTS);
    run("no_match", &from_users, &plain_members, 0);
    group.finish();
}

criterion_group!(benches, bench_interest);
criterion_main!(benches);
