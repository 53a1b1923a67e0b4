//! Canonical JSON parse and encode against `serde_json` on the same documents: a
//! ~700-byte message event and a ~50 KB power-levels event with many users.

// Bench setup: a failed expect is a broken benchmark input.
#![allow(clippy::expect_used)]

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use matrix_serverlib::json::{self, ParseOptions};

fn message_event() -> String {
    let body = "Hello everyone! Here is a message of realistic length, with some unicode: \
                日本語, émoji 😀, and \"quotes\" plus a\nnewline.";
    let body = serde_json::to_string(body).expect("a string serializes");
    format!(
        r#"{{"auth_events":["$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg","$acR1l0raoZnm60CBwAVgqbZqoO_mYU81xysh1u7XcJk","$CD66HAED5npg6074c6pDtLKalHjVfYb2q4Q3LZgrW6o"],"content":{{"body":{body},"msgtype":"m.text","format":"org.matrix.custom.html","formatted_body":"<b>Hello</b> everyone!"}},"depth":12345,"hashes":{{"sha256":"5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"}},"origin_server_ts":1700000000000,"prev_events":["$8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc"],"room_id":"!jEsUZKDJdhlrceRyVU:example.org","sender":"@alice:example.org","signatures":{{"example.org":{{"ed25519:a_abcd":"KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"}}}},"type":"m.room.message","unsigned":{{"age":1234}}}}"#
    )
}

fn power_levels_event() -> String {
    let mut users = String::new();
    for index in 0..1_400 {
        if index > 0 {
            users.push(',');
        }
        // Unsorted keys, so the parser has to sort.
        let _ = write!(
            users,
            r#""@user{:05}:server{}.example.org":{}"#,
            (index * 7919) % 100_000,
            index % 17,
            index % 101
        );
    }
    format!(
        r#"{{"auth_events":["$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg"],"content":{{"ban":50,"events":{{"m.room.name":50,"m.room.power_levels":100}},"events_default":0,"invite":0,"kick":50,"redact":50,"state_default":50,"users":{{{users}}},"users_default":0}},"depth":99,"hashes":{{"sha256":"5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"}},"origin_server_ts":1700000000000,"prev_events":["$8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc"],"room_id":"!jEsUZKDJdhlrceRyVU:example.org","sender":"@alice:example.org","state_key":"","type":"m.room.power_levels"}}"#
    )
}

fn bench_document(c: &mut Criterion, name: &str, text: &str) {
    let bytes = text.as_bytes();
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    let options = ParseOptions::strict();
    group.bench_function("parse/matrix_serverlib", |b| {
        b.iter(|| json::parse(black_box(bytes), &options))
    });
    group.bench_function("parse/serde_json", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(bytes)))
    });
    let ours = json::parse(bytes, &options).expect("benchmark input is canonical JSON");
    let theirs: serde_json::Value = serde_json::from_slice(bytes).expect("benchmark input is JSON");
    group.bench_function("encode/matrix_serverlib", |b| {
        b.iter(|| json::to_vec(black_box(&ours)))
    });
    group.bench_function("encode/serde_json", |b| {
        b.iter(|| serde_json::to_vec(black_box(&theirs)))
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let message = message_event();
    let power_levels = power_levels_event();
    bench_document(c, "json/message_event", &message);
    bench_document(c, "json/power_levels_event", &power_levels);
}

criterion_group!(json_benches, benches);
criterion_main!(json_benches);
