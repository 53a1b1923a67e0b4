//! State resolution of synthetic forked rooms of about 100, 5,000 and 50,000 state
//! events (about 17, 840 and 4,900 conflicted): computing everything, given each state
//! set's auth chain (as a server caching chains would), and given the auth difference
//! (as a server with an auth-chain index would).
//! `benches/ruma-compare/` runs the same rooms through ruma-state-res side by side.

// Bench setup: a failed expect is a broken benchmark input.
#![allow(clippy::expect_used)]

use std::collections::HashSet;

use criterion::{Criterion, criterion_group, criterion_main};
use matrix_serverlib::dag;
use matrix_serverlib::id::EventId;
use matrix_serverlib::room_version::RoomVersion;
use matrix_serverlib::state_res::{self, Resolver};

#[path = "support/synthetic_room.rs"]
#[allow(dead_code)]
mod synthetic_room;

use synthetic_room::{RoomShape, generate};

fn benches(c: &mut Criterion) {
    for (name, shape) in [
        ("small", RoomShape::SMALL),
        ("medium", RoomShape::MEDIUM),
        ("large", RoomShape::LARGE),
    ] {
        for version in [RoomVersion::V11, RoomVersion::V12] {
            let room = generate(shape, version);
            let events = room.event_map();
            let sets = room.state_maps(&events);
            let difference: Vec<EventId> = dag::auth_difference(&events, &room.state_sets)
                .expect("auth difference")
                .into_iter()
                .collect();
            let chains: Vec<HashSet<EventId>> = room
                .state_sets
                .iter()
                .map(|set| {
                    dag::auth_chain_of_events(&events, set)
                        .expect("auth chain")
                        .into_iter()
                        .collect()
                })
                .collect();
            let mut group = c.benchmark_group(format!("state_res_{name}_v{}", version.id));
            group.sample_size(10);
            group.bench_function("resolve", |b| {
                b.iter(|| {
                    state_res::resolve(&version, &sets, &events)
                        .expect("resolves")
                        .len()
                })
            });
            group.bench_function("resolve_with_auth_chains", |b| {
                b.iter(|| {
                    Resolver::new(&version, &sets)
                        .with_auth_chains(&chains)
                        .run(&events)
                        .expect("resolves")
                        .len()
                })
            });
            group.bench_function("resolve_with_auth_difference", |b| {
                b.iter(|| {
                    Resolver::new(&version, &sets)
                        .with_auth_difference(difference.iter().cloned())
                        .run(&events)
                        .expect("resolves")
                        .len()
                })
            });
            group.finish();
        }
    }
}

criterion_group!(state_res_benches, benches);
criterion_main!(state_res_benches);
