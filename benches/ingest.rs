//! The whole receive path (parse, format checks, signatures, content hash) for 1,000
//! realistic signed events from several servers: messages and state events.

// Bench setup: a failed expect is a broken benchmark input.
#![allow(clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use matrix_serverlib::crypto::PublicKeys;
use matrix_serverlib::event::{EventBuilder, receive_batch, receive_pdu};
use matrix_serverlib::json::{Object, Value};
use matrix_serverlib::room_version::RoomVersion;

#[path = "support/servers.rs"]
mod servers;

use servers::signing_servers;

const VERSION: RoomVersion = RoomVersion::V11;
const EVENTS: usize = 1_000;

fn content(index: usize) -> (&'static str, Option<String>, Object) {
    let mut content = Object::new();
    match index % 10 {
        0 => {
            content.insert("membership", Value::from("join"));
            content.insert("displayname", Value::from(format!("User {index}")));
            (
                "m.room.member",
                Some(format!("@user{}:s{}.example", index % 50, index % 4)),
                content,
            )
        }
        1 => {
            content.insert("topic", Value::from("A topic with some unicode: 日本語 😀"));
            ("m.room.topic", Some(String::new()), content)
        }
        _ => {
            content.insert(
                "body",
                Value::from(format!(
                    "Message {index}: hello, this is a realistic chat line."
                )),
            );
            content.insert("msgtype", Value::from("m.text"));
            ("m.room.message", None, content)
        }
    }
}

fn events() -> (Vec<Vec<u8>>, PublicKeys) {
    let (servers, keys) = signing_servers();
    let events = (0..EVENTS)
        .map(|index| {
            let (server, key) = &servers[index % 4];
            let (event_type, state_key, content) = content(index);
            let sender = match &state_key {
                Some(key) if key.starts_with('@') => key.clone(),
                _ => format!("@user{}:{server}", index % 50),
            };
            let sender = if sender.ends_with(server.as_str()) {
                sender
            } else {
                format!("@user{}:{server}", index % 50)
            };
            let mut builder = EventBuilder::new(&VERSION, &sender, event_type)
                .room_id("!room:s0.example")
                .content(content)
                .prev_event("$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg")
                .auth_event("$acR1l0raoZnm60CBwAVgqbZqoO_mYU81xysh1u7XcJk")
                .auth_event("$CD66HAED5npg6074c6pDtLKalHjVfYb2q4Q3LZgrW6o")
                .depth(index as i64 + 10)
                .origin_server_ts(1_700_000_000_000 + index as i64);
            if let Some(state_key) = state_key {
                let state_key = if event_type == "m.room.member" {
                    sender.clone()
                } else {
                    state_key
                };
                builder = builder.state_key(&state_key);
            }
            builder
                .build(server, key)
                .expect("building a benchmark event")
                .to_canonical_bytes()
        })
        .collect();
    (events, keys)
}

fn benches(c: &mut Criterion) {
    let (events, keys) = events();
    let refs: Vec<&[u8]> = events.iter().map(Vec::as_slice).collect();
    assert!(
        receive_batch(&refs, &VERSION, &keys)
            .iter()
            .all(Result::is_ok)
    );
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(20);
    group.bench_function("receive_1000_single", |b| {
        b.iter(|| {
            refs.iter()
                .filter(|bytes| receive_pdu(bytes, &VERSION, &keys).is_ok())
                .count()
        })
    });
    group.bench_function("receive_1000_batch", |b| {
        b.iter(|| receive_batch(&refs, &VERSION, &keys))
    });
    group.finish();
}

criterion_group!(ingest_benches, benches);
criterion_main!(ingest_benches);
