//! What an idle keyed fuse costs in memory, measured by a counting global
//! allocator (its own test binary, so nothing else allocates through it in
//! the measured stretch): 100,000 compact keys, against 1,000 named fuses.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use fusebox::keyed::{KeyedBuilder, KeyedFuses};
use fusebox::{FuseConfig, Fusebox, ManualClock};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to `System`, only counting the bytes live.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn an_idle_keyed_fuse_costs_at_most_256_bytes() {
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock).build();
    let keys: Vec<String> = (0..100_000)
        .map(|i| format!("host-{i:06}.example"))
        .collect();
    let key_bytes: usize = keys.iter().map(|k| k.len()).sum();

    let before = live();
    let hosts: KeyedFuses<String> = KeyedBuilder::new(FuseConfig::standard(5, HOUR))
        .idle_ttl(HOUR)
        .build(&fb, "hosts")
        .unwrap();
    for k in &keys {
        let _ = hosts.ask(k.as_str());
    }
    let per_key = (live() - before) as f64 / keys.len() as f64;

    let before = live();
    for k in keys.iter().take(1_000) {
        fb.install(k, FuseConfig::standard(5, HOUR)).unwrap();
    }
    let per_fuse = (live() - before) as f64 / 1_000.0;
    println!(
        "keyed: {per_key:.0} B per idle key (with its own copy of the key, {:.0} B of text), \
         named fuse: {per_fuse:.0} B",
        key_bytes as f64 / keys.len() as f64
    );
    assert!(per_key <= 256.0, "{per_key} B per idle keyed fuse");
    assert_eq!(hosts.stats().keys, 100_000);
}
