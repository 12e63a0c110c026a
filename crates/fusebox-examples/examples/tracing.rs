//! The `tracing` feature with a real subscriber: every state change of a
//! fuse is a `tracing` event under the target `fusebox` (a blow or disable at
//! `warn`; a heal, heal step, reset, enable or install at `info`; a melt at
//! `debug`; nothing per ask), printed here by `tracing-subscriber`'s fmt
//! layer.
//!
//! On a `ManualClock` the blow, the heal program and the heal all happen at
//! once, on this thread, inside `advance`: so a thread-local subscriber sees
//! them all and the program needs no sleep.
//!
//! ```sh
//! cargo run -p fusebox-examples --example tracing
//! ```

use std::time::Duration;

use fusebox::{Ask, FuseConfig, Fusebox, Heal, ManualClock, Step};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::util::SubscriberInitExt;

/// `pub(crate)`: `tests/examples.rs` runs this example too.
pub(crate) fn main() {
    // For this thread only (`set_default`); a service would call `.init()`
    // once to make it the global subscriber.
    let _subscriber = tracing_subscriber::fmt()
        .with_max_level(LevelFilter::DEBUG)
        .with_target(true)
        .finish()
        .set_default();

    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    // More than one melt within 10 s blows it; then 5 s blown, 5 s at half
    // traffic, healed.
    let heal = Heal::program([
        Step::Delay(Duration::from_secs(5)),
        Step::Gradual(0.5),
        Step::Delay(Duration::from_secs(5)),
    ]);
    fb.install(
        "db",
        FuseConfig::standard(1, Duration::from_secs(10)).heal(heal),
    )
    .expect("a valid config"); // info: installed
    fb.melt("db").unwrap(); // debug: a melt
    fb.melt("db").unwrap(); // debug: a melt; warn: blown
    assert_eq!(fb.ask("db").unwrap(), Ask::Blown); // nothing: asks are silent

    clock.advance(Duration::from_secs(5)); // info: heal step 1 (gradual 0.5), step 2
    clock.advance(Duration::from_secs(5)); // info: healed
    assert_eq!(fb.ask("db").unwrap(), Ask::Ok);

    fb.disable("db").unwrap(); // warn: disabled
    fb.enable("db").unwrap(); // info: enabled
}
