//! What the comparison benches share: the synthetic rooms as each library takes them,
//! and one resolution by each.

#![allow(clippy::expect_used, clippy::panic, dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use matrix_serverlib::event::StateKey;
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

#[path = "../../../support/synthetic_room.rs"]
#[allow(dead_code, unreachable_pub)]
mod synthetic_room;

pub(crate) use synthetic_room::{RoomShape, SyntheticRoom, generate};

/// Our PDU as ruma's `Event`.
#[derive(Clone, Debug)]
pub(crate) struct RumaPdu(Arc<Inner>);

#[derive(Debug)]
pub(crate) struct Inner {
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

pub(crate) fn to_ruma(pdu: &Pdu) -> RumaPdu {
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
pub(crate) struct RumaInput {
    pub(crate) events: HashMap<OwnedEventId, RumaPdu>,
    pub(crate) state_maps: Vec<StateMap<OwnedEventId>>,
    pub(crate) auth_chains: Vec<EventIdSet<OwnedEventId>>,
}

pub(crate) fn ruma_input(room: &SyntheticRoom) -> RumaInput {
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

pub(crate) fn ruma_resolve(
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
pub(crate) struct OurInput {
    pub(crate) events: HashMap<OurEventId, Pdu>,
    pub(crate) state_sets: Vec<BTreeMap<StateKey, OurEventId>>,
    pub(crate) auth_difference: Vec<OurEventId>,
    /// The same auth chains ruma is given.
    pub(crate) auth_chains: Vec<HashSet<OurEventId>>,
}

pub(crate) fn our_input(room: &SyntheticRoom, ruma: &RumaInput) -> OurInput {
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
pub(crate) fn ours(version: &RoomVersion, input: &OurInput) -> usize {
    state_res::resolve(version, &input.state_sets, &input.events)
        .expect("resolves")
        .len()
}

/// Resolution by matrix-serverlib given the auth difference, as ruma is given the
/// auth chains: what a server keeping an auth-chain index would do.
pub(crate) fn ours_with_difference(version: &RoomVersion, input: &OurInput) -> usize {
    Resolver::new(version, &input.state_sets)
        .with_auth_difference(input.auth_difference.iter().cloned())
        .run(&input.events)
        .expect("resolves")
        .len()
}

/// Resolution by matrix-serverlib given the same auth chains as ruma: the like-for-like
/// comparison.
pub(crate) fn ours_with_chains(version: &RoomVersion, input: &OurInput) -> usize {
    Resolver::new(version, &input.state_sets)
        .with_auth_chains(&input.auth_chains)
        .run(&input.events)
        .expect("resolves")
        .len()
}

pub(crate) fn our_state(version: &RoomVersion, input: &OurInput) -> BTreeSet<String> {
    let resolved = state_res::resolve(version, &input.state_sets, &input.events).expect("resolves");
    resolved
        .iter()
        .map(|(_, id)| id.as_str().to_owned())
        .collect()
}
