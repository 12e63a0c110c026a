//! Testing with time under your control: a `ManualClock` stands still until
//! it is advanced, and every heal, heal step and alarm look that falls due
//! runs inside `advance`, before it returns. So exact timing is asserted
//! without a single sleep, and the program takes no time at all.
//!
//! ```text
//! consecutive(3), heal [Delay(30 s), Probe(2)], backoff ×2
//!
//! t:  0 s           30 s        40 s                 100 s
//!     ├─ 3 failures ┼─ probing ──┼─ the probe fails ───┼─ probing: 2 successes
//!     │  blown      │            │  re-blown, attempt 2 │  healed
//!     │             │            │  waits 60 s          │
//! ```
//!
//! ```sh
//! cargo run -p fusebox-examples --example manual_clock
//! ```

use std::time::Duration;

use fusebox::fuse::FuseState;
use fusebox::{Ask, FuseConfig, Fusebox, Heal, ManualClock, Step, Strategy};

const S: fn(u64) -> Duration = Duration::from_secs;

/// `pub(crate)`: `tests/examples.rs` runs this example too.
pub(crate) fn main() {
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();

    // Three failures in a row blow it; after 30 s (doubling on each
    // consecutive blow), two trial calls must succeed; then it is healed.
    let heal = Heal::program([Step::Delay(S(30)), Step::Probe(2)]).backoff(2.0, S(600));
    fb.install("db", FuseConfig::new(Strategy::consecutive(3)).heal(heal))
        .expect("a valid config");
    let db = fb.fuse("db").expect("installed");

    // t = 0 s: three failures blow it.
    for _ in 0..3 {
        let _ = db.run(|| Err::<(), _>("connection reset"));
    }
    assert_eq!(db.ask(), Ask::Blown);
    let snap = fb.state("db").unwrap();
    assert_eq!((snap.attempt, snap.next_heal), (1, Some(S(30))));
    println!("t = {:>3?}: blown, probing at {:?}", fb.now(), S(30));

    // One second before the delay ends, it is still blown; at 30 s exactly
    // it starts probing.
    clock.advance(S(29));
    assert_eq!(db.ask(), Ask::Blown);
    clock.advance(S(1));
    assert_eq!(fb.state("db").unwrap().heal_step, Some(1));
    println!("t = {:>3?}: probing (step 1, Probe(2))", fb.now());

    // t = 40 s: the probe fails: the program starts over, and the second
    // consecutive blow waits twice as long.
    clock.advance(S(10));
    let _ = db.run(|| Err::<(), _>("still down"));
    let snap = fb.state("db").unwrap();
    assert_eq!(snap.attempt, 2);
    assert_eq!(snap.next_heal, Some(S(40 + 60)));
    println!(
        "t = {:>3?}: probe failed, re-blown, probing at {:?}",
        fb.now(),
        S(100)
    );

    // t = 100 s: probing again; two successes heal it.
    clock.advance(S(59));
    assert_eq!(db.ask(), Ask::Blown);
    clock.advance(S(1));
    assert_eq!(db.run(|| Ok::<_, ()>("row 1")), Ok("row 1"));
    assert_eq!(fb.state("db").unwrap().state, FuseState::Blown); // one of two
    assert_eq!(db.run(|| Ok::<_, ()>("row 2")), Ok("row 2"));
    assert_eq!(fb.state("db").unwrap().state, FuseState::Ok);
    assert_eq!(db.ask(), Ask::Ok);
    println!("t = {:>3?}: two probes succeeded: healed", fb.now());

    let c = fb.state("db").unwrap().counters;
    println!(
        "counters: {} melts, {} successes, {} blows, {} heal",
        c.melts, c.successes, c.blows, c.heals
    );
    assert_eq!((c.blows, c.heals), (2, 1));
}
