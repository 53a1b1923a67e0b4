//! State resolution of the same synthetic forked rooms (about 100, 5,000 and 50,000
//! state events; about 17, 840 and 4,900 conflicted) by matrix-serverlib and by
//! ruma-state-res 0.18, in one run, after checking that both give the same state.
//!
//! ruma needs each state set's auth chain as input; it is computed once, outside the
//! timed loop, and so is the copy each run consumes. matrix-serverlib runs three ways:
//! computing everything itself; given the very same auth chains (the like-for-like
//! comparison); and given the auth difference, as a server with an auth-chain index
//! (Synapse's chain cover) would.
//!
//! ```text
//! cd benches/ruma-compare && cargo bench
//! ```

#![allow(clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeSet;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use matrix_serverlib::room_version::RoomVersion;
use matrix_serverlib::state_res::Resolver;

mod common;

use common::{
    RoomShape, generate, our_input, our_state, ours, ours_with_chains, ours_with_difference,
    ruma_input, ruma_resolve,
};

fn benches(c: &mut Criterion) {
    for (name, shape) in [
        ("small", RoomShape::SMALL),
        ("medium", RoomShape::MEDIUM),
        ("large", RoomShape::LARGE),
    ] {
        let version = RoomVersion::V11;
        let room = generate(shape, version);
        let input = ruma_input(&room);
        let mine = our_input(&room, &input);
        let theirs: BTreeSet<String> = ruma_resolve(&input, input.auth_chains.clone())
            .into_values()
            .map(|id| id.to_string())
            .collect();
        assert_eq!(
            our_state(&version, &mine),
            theirs,
            "{name}: the two libraries disagree"
        );
        let mut group = c.benchmark_group(format!("state_res_{name}"));
        group.sample_size(10);
        let with_chains = Resolver::new(&version, &mine.state_sets)
            .with_auth_chains(&mine.auth_chains)
            .run(&mine.events)
            .expect("resolves");
        assert_eq!(
            with_chains
                .iter()
                .map(|(_, id)| id.as_str().to_owned())
                .collect::<BTreeSet<_>>(),
            theirs,
            "{name}: the two libraries disagree given the same chains"
        );
        group.bench_function("matrix_serverlib", |b| b.iter(|| ours(&version, &mine)));
        group.bench_function("matrix_serverlib_with_auth_chains", |b| {
            b.iter(|| ours_with_chains(&version, &mine))
        });
        group.bench_function("matrix_serverlib_with_auth_difference", |b| {
            b.iter(|| ours_with_difference(&version, &mine))
        });
        group.bench_function("ruma_state_res_0_18", |b| {
            b.iter_batched(
                || input.auth_chains.clone(),
                |chains| ruma_resolve(&input, chains),
                BatchSize::LargeInput,
            )
        });
        group.finish();
    }
}

criterion_group!(compare, benches);
criterion_main!(compare);
