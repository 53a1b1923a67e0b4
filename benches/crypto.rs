//! Hashing, signing and verification: content hash, reference hash, event signing,
//! raw ed25519 verification, and event signature verification single vs batch.

// Bench setup: a failed expect is a broken benchmark input.
#![allow(clippy::expect_used)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use matrix_serverlib::crypto::{
    PublicKeys, SigningKey, content_hash, reference_hash, sign_event, verify_batch,
    verify_event_signatures,
};
use matrix_serverlib::json::{Object, Value};
use matrix_serverlib::room_version::RoomVersion;

#[path = "support/servers.rs"]
mod servers;

use servers::signing_servers;

const VERSION: RoomVersion = RoomVersion::V11;

fn message(index: usize) -> Object {
    let mut content = Object::new();
    content.insert(
        "body",
        Value::from(format!("message number {index}, with some text to sign")),
    );
    content.insert("msgtype", Value::from("m.text"));
    let mut event = Object::new();
    event.insert("type", Value::from("m.room.message"));
    event.insert(
        "sender",
        Value::from(format!("@user{}:s{}.example", index % 50, index % 4)),
    );
    event.insert("room_id", Value::from("!room:s0.example"));
    event.insert("content", Value::Object(content));
    event.insert("depth", Value::from(index as i64));
    event.insert(
        "origin_server_ts",
        Value::from(1_700_000_000_000_i64 + index as i64),
    );
    event.insert(
        "prev_events",
        Value::from(vec![Value::from(
            "$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg",
        )]),
    );
    event.insert(
        "auth_events",
        Value::from(vec![Value::from(
            "$acR1l0raoZnm60CBwAVgqbZqoO_mYU81xysh1u7XcJk",
        )]),
    );
    event
}

fn signed_messages(count: usize) -> (Vec<Object>, PublicKeys) {
    let (servers, keys) = signing_servers();
    let events = (0..count)
        .map(|index| {
            let mut event = message(index);
            let (server, key) = &servers[index % 4];
            sign_event(&mut event, &VERSION, server, key).expect("signing a built event");
            event
        })
        .collect();
    (events, keys)
}

fn benches(c: &mut Criterion) {
    let (events, keys) = signed_messages(64);
    let event = &events[0];
    let mut group = c.benchmark_group("crypto");
    group.bench_function("content_hash", |b| {
        b.iter(|| content_hash(black_box(event)))
    });
    group.bench_function("reference_hash", |b| {
        b.iter(|| reference_hash(black_box(event), &VERSION))
    });
    let key = SigningKey::from_seed("ed25519:k", [1; 32]);
    group.bench_function("sign_event", |b| {
        b.iter_batched(
            || message(1),
            |mut event| sign_event(&mut event, &VERSION, "s1.example", &key),
            BatchSize::SmallInput,
        )
    });
    let raw_message = [7u8; 300];
    let raw_signature = key.sign_bytes(&raw_message);
    let dalek_key =
        ed25519_dalek::VerifyingKey::from_bytes(&key.public_key().to_bytes()).expect("valid key");
    let dalek_signature = ed25519_dalek::Signature::from_bytes(&raw_signature);
    group.bench_function("raw_ed25519_verify_strict", |b| {
        b.iter(|| dalek_key.verify_strict(black_box(&raw_message), &dalek_signature))
    });
    group.bench_function("verify_event_single", |b| {
        b.iter(|| verify_event_signatures(black_box(event), &VERSION, &keys))
    });
    group.throughput(Throughput::Elements(events.len() as u64));
    let refs: Vec<&Object> = events.iter().collect();
    group.bench_function("verify_64_events_single", |b| {
        b.iter(|| {
            refs.iter()
                .filter(|event| verify_event_signatures(event, &VERSION, &keys).is_ok())
                .count()
        })
    });
    group.bench_function("verify_64_events_batch", |b| {
        b.iter(|| verify_batch(black_box(&refs), &VERSION, &keys))
    });
    group.finish();
}

criterion_group!(crypto_benches, benches);
criterion_main!(crypto_benches);
