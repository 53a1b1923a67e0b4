//! Peak memory of one state resolution of each synthetic room, against the size of
//! its input, for matrix-serverlib (each way of calling it) and ruma-state-res 0.18.
//!
//! A counting allocator records the bytes live at each moment. The input's size is
//! what building it left allocated (the events as the library takes them, the state
//! sets and, where given, the auth chains or difference); a resolution's peak is the
//! most it held above what was live when it started, its answer included.
//!
//! ```text
//! cd benches/ruma-compare && cargo bench --bench memory
//! ```

#![allow(clippy::expect_used, missing_docs, unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use matrix_serverlib::room_version::RoomVersion;

mod common;

use common::{
    RoomShape, generate, our_input, ours, ours_with_chains, ours_with_difference, ruma_input,
    ruma_resolve,
};

/// The system allocator, counting the bytes live and the most live since a reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged; the counters are
// only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is the system allocator's.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: as for `alloc`.
        unsafe { System.dealloc(pointer, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            let live = if new_size >= layout.size() {
                LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                    - layout.size()
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed) + new_size
                    - layout.size()
            };
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// The bytes `run` held at most above what was live when it started.
fn peak_of(run: impl FnOnce() -> usize) -> usize {
    let before = live();
    PEAK.store(before, Ordering::Relaxed);
    let kept = run();
    assert!(kept > 0, "a resolution answered nothing");
    PEAK.load(Ordering::Relaxed) - before
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    let version = RoomVersion::V11;
    for (name, shape) in [
        ("small", RoomShape::SMALL),
        ("medium", RoomShape::MEDIUM),
        ("large", RoomShape::LARGE),
    ] {
        let room = generate(shape, version);
        let start = live();
        let ruma = ruma_input(&room);
        let ruma_size = live() - start;
        let start = live();
        let mine = our_input(&room, &ruma);
        let our_size = live() - start;
        let cell = |peak: usize, input: usize| {
            format!(
                "{:.2} MiB ({:.0}%)",
                mib(peak),
                100.0 * peak as f64 / input as f64
            )
        };
        let everything = peak_of(|| ours(&version, &mine));
        let chains = peak_of(|| ours_with_chains(&version, &mine));
        let difference = peak_of(|| ours_with_difference(&version, &mine));
        // ruma consumes its auth chains: the copy is made before the count starts.
        let copy = ruma.auth_chains.clone();
        let theirs = peak_of(move || ruma_resolve(&ruma, copy).len());
        println!("{name} room:");
        println!(
            "  input: {:.2} MiB as matrix-serverlib takes it, {:.2} MiB as ruma takes it",
            mib(our_size),
            mib(ruma_size)
        );
        println!("  peak above the input (share of the input):");
        println!(
            "    matrix-serverlib, computing everything: {}",
            cell(everything, our_size)
        );
        println!(
            "    matrix-serverlib, given the auth chains: {}",
            cell(chains, our_size)
        );
        println!(
            "    matrix-serverlib, given the auth difference: {}",
            cell(difference, our_size)
        );
        println!("    ruma-state-res 0.18: {}", cell(theirs, ruma_size));
    }
}
