//! Writes `resolve` cases of the conformance protocol for synthetic forked rooms, one
//! JSON line per room, to standard output:
//!
//! ```text
//! cargo run --release --example synthetic_room -- small|medium|large [ROOM_VERSION]
//! ```
//!
//! The rooms come from the same deterministic generator the state-resolution benches
//! use, so a case can be replayed against any implementation.

use std::io::Write;
use std::process::ExitCode;

use matrix_serverlib::json::{self, Object, Value};
use matrix_serverlib::room_version::RoomVersion;

#[path = "../benches/support/synthetic_room.rs"]
#[allow(dead_code, clippy::expect_used)]
mod synthetic_room;

use synthetic_room::{RoomShape, generate};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let shape = match args.first().map(String::as_str) {
        Some("small") => RoomShape::SMALL,
        Some("medium") => RoomShape::MEDIUM,
        Some("large") => RoomShape::LARGE,
        _ => {
            eprintln!("usage: synthetic_room small|medium|large [ROOM_VERSION]");
            return ExitCode::from(2);
        }
    };
    let version = match RoomVersion::from_id(args.get(1).map_or("11", String::as_str)) {
        Ok(version) if version.event_id_format != matrix_serverlib::id::EventIdFormat::Legacy => {
            version
        }
        _ => {
            eprintln!("room version must be 3 to 12");
            return ExitCode::from(2);
        }
    };
    let room = generate(shape, version);
    let mut case = Object::new();
    case.insert("op", Value::from("resolve"));
    case.insert("room_version", Value::from(version.id));
    let sets = room
        .state_sets
        .iter()
        .map(|set| Value::Array(set.iter().map(|id| Value::from(id.as_str())).collect()))
        .collect();
    case.insert("state_sets", Value::Array(sets));
    let events = room
        .events
        .iter()
        .map(|pdu| Value::Object(pdu.as_object().clone()))
        .collect();
    case.insert("events", Value::Array(events));
    let mut line = json::to_vec(&Value::Object(case));
    line.push(b'\n');
    match std::io::stdout().write_all(&line) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("synthetic_room: {error}");
            ExitCode::FAILURE
        }
    }
}
