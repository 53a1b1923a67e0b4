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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use matrix_serverlib::auth::StateKey;
use matrix_serverlib::dag;
use matrix_serverlib::event::Pdu;
use matrix_serverlib::id::EventId as OurEventId;
use matrix_serverlib::json::Value;
use matrix_serverlib::room_version::RoomVersion;
use matrix_serverlib::state_res::{self, Resolver};
use ruma_common::room_version_rules::{AuthorizationRules, StateResolutionV2Rules};
use ruma_common::{
    EventId, MilliSecondsSinceUnixEpoch, OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, UserId,
};
use ruma_events::{StateEventType, TimelineEventType};
use ruma_state_res::StateMap;
use ruma_state_res::utils::event_id_set::EventIdSet;
use serde_json::value::RawValue;

#[path = "../../support/synthetic_room.rs"]
#[allow(dead_code, unreachable_pub)]
mod synthetic_room;

use synthetic_room::{RoomShape, SyntheticRoom, generate};

/// Our PDU as ruma's `Event`.
#[derive(Clone, Debug)]
struct RumaPdu(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    event_id: OwnedEventId,
    room_id: OwnedRoomId,
    sender: OwnedUserId,
    origin_server_ts: MilliSecondsSinceUnixEpoch,
    event_type: TimelineEventType,
    content: Box<RawValue>,
    state_key: Option<String>,
    prev_events: Vec<OwnedEventId>,
    auth_events: Vec<OwnedEventId>,
}

impl ruma_state_res::Event for RumaPdu {
    type Id = OwnedEventId;

    fn event_id(&self) -> &Self::Id {
        &self.0.event_id
    }
    fn room_id(&self) -> Option<&RoomId> {
        Some(&self.0.room_id)
    }
    fn sender(&self) -> &UserId {
        &self.0.sender
    }
    fn origin_server_ts(&self) -> MilliSecondsSinceUnixEpoch {
        self.0.origin_server_ts
    }
    fn event_type(&self) -> &TimelineEventType {
        &self.0.event_type
    }
    fn content(&self) -> &RawValue {
        &self.0.content
    }
    fn state_key(&self) -> Option<&str> {
        self.0.state_key.as_deref()
    }
    fn prev_events(&self) -> Box<dyn DoubleEndedIterator<Item = &Self::Id> + '_> {
        Box::new(self.0.prev_events.iter())
    }
    fn auth_events(&self) -> Box<dyn DoubleEndedIterator<Item = &Self::Id> + '_> {
        Box::new(self.0.auth_events.iter())
    }
    fn redacts(&self) -> Option<&Self::Id> {
        None
    }
    fn rejected(&self) -> bool {
        false
    }
}

fn to_ruma(pdu: &Pdu) -> RumaPdu {
    let content = serde_json::Value::from(&Value::Object(pdu.content().clone()));
    RumaPdu(Arc::new(Inner {
        event_id: pdu.event_id().as_str().try_into().expect("event ID"),
        room_id: pdu.room_id().as_str().try_into().expect("room ID"),
        sender: pdu.sender().as_str().try_into().expect("user ID"),
        origin_server_ts: MilliSecondsSinceUnixEpoch(
            u64::try_from(pdu.origin_server_ts())
                .expect("positive timestamp")
                .try_into()
                .expect("fits"),
        ),
        event_type: pdu.event_type().into(),
        content: serde_json::value::to_raw_value(&content).expect("content serializes"),
        state_key: pdu.state_key().map(str::to_owned),
        prev_events: pdu
            .prev_events()
            .iter()
            .map(|id| id.as_str().try_into().expect("event ID"))
            .collect(),
        auth_events: pdu
            .auth_events()
            .iter()
            .map(|id| id.as_str().try_into().expect("event ID"))
            .collect(),
    }))
}

/// Everything ruma needs, built outside the timed loop.
struct RumaInput {
    events: HashMap<OwnedEventId, RumaPdu>,
    state_maps: Vec<StateMap<OwnedEventId>>,
    auth_chains: Vec<EventIdSet<OwnedEventId>>,
}

fn ruma_input(room: &SyntheticRoom) -> RumaInput {
    let events: HashMap<OwnedEventId, RumaPdu> = room
        .events
        .iter()
        .map(to_ruma)
        .map(|pdu| (pdu.0.event_id.clone(), pdu))
        .collect();
    let mut state_maps = Vec::new();
    let mut auth_chains = Vec::new();
    for set in &room.state_sets {
        let mut map = StateMap::new();
        let mut chain = BTreeSet::new();
        let mut pending: Vec<OwnedEventId> = Vec::new();
        for id in set {
            let id: OwnedEventId = id.as_str().try_into().expect("event ID");
            let pdu = &events[&id];
            let key = (
                StateEventType::from(pdu.0.event_type.to_string()),
                pdu.0.state_key.clone().unwrap_or_default(),
            );
            map.insert(key, id.clone());
            pending.extend(pdu.0.auth_events.iter().cloned());
        }
        while let Some(id) = pending.pop() {
            if chain.insert(id.clone()) {
                pending.extend(events[&id].0.auth_events.iter().cloned());
            }
        }
        state_maps.push(map);
        auth_chains.push(chain.into_iter().collect());
    }
    RumaInput {
        events,
        state_maps,
        auth_chains,
    }
}

fn ruma_resolve(
    input: &RumaInput,
    auth_chains: Vec<EventIdSet<OwnedEventId>>,
) -> StateMap<OwnedEventId> {
    ruma_state_res::resolve(
        &AuthorizationRules::V11,
        &StateResolutionV2Rules::V2_0,
        input.state_maps.iter(),
        auth_chains,
        |id: &EventId| input.events.get(id).cloned(),
        |_| None,
    )
    .expect("ruma resolves the synthetic room")
}

/// Everything matrix-serverlib needs, built outside the timed loop: the events by ID
/// (in a hash map, as ruma gets them) and each state set as a map.
struct OurInput {
    events: HashMap<OurEventId, Pdu>,
    state_sets: Vec<BTreeMap<StateKey, OurEventId>>,
    auth_difference: Vec<OurEventId>,
    /// The same auth chains ruma is given.
    auth_chains: Vec<HashSet<OurEventId>>,
}

fn our_input(room: &SyntheticRoom, ruma: &RumaInput) -> OurInput {
    let events = room.event_map();
    let state_sets = room.state_maps(&events);
    let sets: Vec<Vec<OurEventId>> = room.state_sets.clone();
    let auth_difference = dag::auth_difference(&events, &sets)
        .expect("auth difference")
        .into_iter()
        .collect();
    let auth_chains = ruma
        .auth_chains
        .iter()
        .map(|chain| {
            chain
                .iter()
                .map(|id| id.as_str().parse().expect("event ID"))
                .collect()
        })
        .collect();
    OurInput {
        events,
        state_sets,
        auth_difference,
        auth_chains,
    }
}

/// Resolution by matrix-serverlib, computing everything itself.
fn ours(version: &RoomVersion, input: &OurInput) -> usize {
    state_res::resolve(version, &input.state_sets, &input.events)
        .expect("resolves")
        .len()
}

/// Resolution by matrix-serverlib given the auth difference, as ruma is given the
/// auth chains: what a server keeping an auth-chain index would do.
fn ours_with_difference(version: &RoomVersion, input: &OurInput) -> usize {
    Resolver::new(version, &input.state_sets)
        .with_auth_difference(input.auth_difference.iter().cloned())
        .run(&input.events)
        .expect("resolves")
        .len()
}

/// Resolution by matrix-serverlib given the same auth chains as ruma: the like-for-like
/// comparison.
fn ours_with_chains(version: &RoomVersion, input: &OurInput) -> usize {
    Resolver::new(version, &input.state_sets)
        .with_auth_chains(&input.auth_chains)
        .run(&input.events)
        .expect("resolves")
        .len()
}

fn our_state(version: &RoomVersion, input: &OurInput) -> BTreeSet<String> {
    let resolved = state_res::resolve(version, &input.state_sets, &input.events).expect("resolves");
    resolved
        .iter()
        .map(|(_, id)| id.as_str().to_owned())
        .collect()
}

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
