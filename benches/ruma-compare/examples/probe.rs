#![allow(missing_docs, clippy::all)]
#[path = "../benches/common/mod.rs"]
mod common;
use common::*;
use matrix_serverlib::room_version::RoomVersion;
fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let version = RoomVersion::V11;
    let room = generate(RoomShape::LARGE, version);
    let input = ruma_input(&room);
    let mine = our_input(&room, &input);
    if mode.contains("all") { for _ in 0..20 { ours(&version, &mine); } }
    if mode.contains("ruma") { for _ in 0..5 { ruma_resolve(&input, input.auth_chains.clone()); } }
    for _ in 0..10 { ours_with_chains(&version, &mine); }
    let start = std::time::Instant::now();
    for _ in 0..60 { std::hint::black_box(ours_with_chains(&version, &mine)); }
    println!("{mode}: {:.2} ms", start.elapsed().as_secs_f64() * 1000.0 / 60.0);
}
