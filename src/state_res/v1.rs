//! State resolution v1 (room version 1)
//! (<https://spec.matrix.org/v1.16/rooms/v1/#state-resolution>), as Synapse runs it.

use std::borrow::Borrow;
use std::cmp::Reverse;

use super::passes::{Checker, JOIN_RULES, MEMBER, NONE, POWER_LEVELS};
use super::v2::Plan;
use crate::auth::Rejection;
use crate::event::Pdu;
use crate::event_graph::graph::Graph;
use crate::room_version::RoomVersion;
use sha1::{Digest, Sha1};

/// One conflicted key: its number, its event type and state key, and its candidates.
#[derive(Debug)]
pub(super) struct Conflict<'s> {
    pub(super) key: u32,
    pub(super) event_type: &'s str,
    pub(super) state_key: &'s str,
    pub(super) candidates: Vec<u32>,
}

/// Resolves each conflict against `state` (the unconflicted entries the rules read,
/// by key number), returning the winner of each key and the candidates that failed.
///
/// 1. Power levels: candidates from the oldest (depth ascending, then `sha1(event_id)`
///    descending); the first is taken, each next one replaces it while it passes the
///    rules against the state holding the one before; the first failure stops.
/// 2. The same for every join-rules key, each against the state after step 1.
/// 3. The same for every member key (Synapse resolves each key on its own), against the
///    state after step 2.
/// 4. Every other key: the first candidate from the newest (depth descending, then
///    `sha1(event_id)` ascending) that passes against the state after step 3, or the
///    last one when none does (Synapse; the spec leaves it open).
pub(super) fn resolve<E: Borrow<Pdu>>(
    graph: &Graph<E>,
    version: &RoomVersion,
    plan: &Plan,
    conflicts: &[Conflict<'_>],
    state: &mut Vec<u32>,
) -> Outcome {
    let checker = Checker::new(graph, version);
    let mut winners = Vec::with_capacity(conflicts.len());
    let mut rejected = Vec::new();
    let mut run = |is_step: &dyn Fn(&Conflict<'_>) -> bool,
                   auth_ordering: bool,
                   state: &mut Vec<u32>,
                   winners: &mut Vec<(u32, u32)>| {
        let mut step = Vec::new();
        for conflict in conflicts.iter().filter(|conflict| is_step(conflict)) {
            let order = ordered(graph, &conflict.candidates);
            let winner = if auth_ordering {
                resolve_auth(&checker, plan, &order, conflict.key, state, &mut rejected)
            } else {
                resolve_normal(&checker, plan, &order, state, &mut rejected)
            };
            step.push((conflict.key, winner));
        }
        // Keys of one step are resolved against the same state, then applied together.
        for &(key, winner) in &step {
            set(state, key, winner);
        }
        winners.extend(step);
    };
    let is_power_levels = |c: &Conflict<'_>| c.event_type == POWER_LEVELS && c.state_key.is_empty();
    let is_join_rules = |c: &Conflict<'_>| c.event_type == JOIN_RULES;
    let is_member = |c: &Conflict<'_>| c.event_type == MEMBER;
    run(&is_power_levels, true, state, &mut winners);
    run(&is_join_rules, true, state, &mut winners);
    run(&is_member, true, state, &mut winners);
    let is_other = |c: &Conflict<'_>| !(is_power_levels(c) || is_join_rules(c) || is_member(c));
    run(&is_other, false, state, &mut winners);
    Outcome { winners, rejected }
}

/// The winners of v1 by key number, and the candidates that failed.
#[derive(Debug)]
pub(super) struct Outcome {
    /// `(key number, node)` per conflicted key.
    pub(super) winners: Vec<(u32, u32)>,
    /// Candidates the rules rejected.
    pub(super) rejected: Vec<(u32, Rejection)>,
}

/// Candidates from the newest: depth descending, then `sha1(event_id)` ascending.
fn ordered<E: Borrow<Pdu>>(graph: &Graph<E>, candidates: &[u32]) -> Vec<u32> {
    let mut keyed: Vec<_> = candidates
        .iter()
        .map(|&node| {
            let depth = graph.event(node).map_or(0, Pdu::depth);
            (
                (
                    Reverse(depth),
                    <[u8; 20]>::from(Sha1::digest(graph.id(node).as_str())),
                ),
                node,
            )
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, node)| node).collect()
}

/// Steps 1–3 for one key: `order` is from the newest, so walk it backwards.
fn resolve_auth<E: Borrow<Pdu>>(
    checker: &Checker<'_, E>,
    plan: &Plan,
    order: &[u32],
    key: u32,
    state: &[u32],
    rejected: &mut Vec<(u32, Rejection)>,
) -> u32 {
    let mut oldest_first = order.iter().rev().copied();
    let Some(mut previous) = oldest_first.next() else {
        return NONE;
    };
    for node in oldest_first {
        let view = plan
            .auth_keys_of(node)
            .iter()
            .map(|&read| {
                if read == key {
                    previous
                } else {
                    at(state, read)
                }
            })
            .filter(|&target| target != NONE);
        match checker.check(node, view) {
            Ok(()) => previous = node,
            Err(rejection) => {
                rejected.push((node, rejection));
                return previous;
            }
        }
    }
    previous
}

/// Step 4 for one key.
fn resolve_normal<E: Borrow<Pdu>>(
    checker: &Checker<'_, E>,
    plan: &Plan,
    order: &[u32],
    state: &[u32],
    rejected: &mut Vec<(u32, Rejection)>,
) -> u32 {
    for &node in order {
        let view = plan
            .auth_keys_of(node)
            .iter()
            .map(|&read| at(state, read))
            .filter(|&target| target != NONE);
        match checker.check(node, view) {
            Ok(()) => return node,
            Err(rejection) => rejected.push((node, rejection)),
        }
    }
    order.last().copied().unwrap_or(NONE)
}

fn at(state: &[u32], key: u32) -> u32 {
    state.get(key as usize).copied().unwrap_or(NONE)
}

fn set(state: &mut Vec<u32>, key: u32, node: u32) {
    if state.len() <= key as usize {
        state.resize(key as usize + 1, NONE);
    }
    state[key as usize] = node;
}
