//! Closed event streams cost nothing (issue #13): 40,000 `/events`
//! connections opened and closed, 250 at a time, with no fuse event in
//! between, leave the process's resident memory within 16 MB of where it
//! was when the server had started, and the next melt is as cheap as ever.
//! (At 1,000 at a time the live connections' own buffers, about 16 KB each
//! in hyper and as much again on the client side in this same process, are
//! 20 MB of working set before anything leaks; the measure then starts
//! after a first batch.)
//!
//! A test binary of its own, so no other test's allocations move the RSS.
//! The server runs in this process, on this test's runtime; the RSS is this
//! process's `VmRSS`.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use fusebox::{FuseConfig, Fusebox};
use fusebox_admin::AdminConfig;
use support::raw::{self, connect};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BATCH: usize = 250;
const CYCLES: usize = 40_000;
/// The most the RSS may grow over the cycles.
const SLACK_BYTES: u64 = 16 << 20;

/// This process's resident set, from `/proc/self/status`.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line");
    kb * 1024
}

/// Opens `/events` and sends the request; the connection is connected (in
/// the listener's backlog, at least) when this returns.
async fn open(addr: SocketAddr) -> TcpStream {
    let mut s = connect(addr).await;
    s.write_all(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    s
}

/// Reads until the `ready` event: the subscription exists. `None` if the
/// stream was refused (503).
async fn ready(mut s: TcpStream) -> Option<TcpStream> {
    let mut got = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    loop {
        let n = s.read(&mut chunk).await.expect("read");
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&chunk[..n]);
        if got.windows(12).any(|w| w == b"event: ready") {
            return Some(s);
        }
        if got.starts_with(b"HTTP/1.1 503") {
            return None;
        }
    }
}

/// `n` streams open at once (every one past `ready`), then all closed; how
/// many were served. The connections are opened one after another (each
/// handshake done before the next begins), so the listener's backlog never
/// overflows into SYN retries; they are read concurrently.
async fn batch(addr: SocketAddr, n: usize) -> usize {
    let all = async {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            let s = open(addr).await;
            set.spawn(ready(s));
        }
        let mut open = Vec::with_capacity(n);
        while let Some(r) = set.join_next().await {
            open.extend(r.expect("a stream task"));
        }
        open.len()
        // Dropped here: all `n` close together.
    };
    tokio::time::timeout(support::DEADLINE, all)
        .await
        .expect("a batch in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_thousand_closed_event_streams_leave_no_memory_behind() {
    // 1,000 client sockets, and up to twice as many on the server's side
    // (a batch's streams may still be closing as the next one comes).
    let need = (3 * BATCH + 256) as libc::rlim_t;
    if !raw::raise_fd_limit(need) {
        eprintln!(
            "SKIPPED forty_thousand_closed_event_streams_leave_no_memory_behind: \
             the hard RLIMIT_NOFILE is below {need}"
        );
        return;
    }
    let fb = Fusebox::new();
    fb.install("db", FuseConfig::standard(0, Duration::from_secs(60)))
        .unwrap();
    // Caps above the batch, so that every one of the 40,000 streams really
    // subscribes (the default cap of 64 would answer most of them 503), with
    // room for a batch whose streams the server has not yet seen close.
    let config = AdminConfig::new()
        .max_connections(2 * BATCH + 64)
        .max_event_streams(2 * BATCH);
    let s = support::start_with(fb.clone(), config).await;

    let rss_start = rss_bytes();
    let t = Instant::now();
    // A warm-up batch: the runtime, the allocator and the socket buffers
    // reach the size one batch needs; what follows must not add to it.
    assert_eq!(batch(s.addr, BATCH).await, BATCH);
    let rss_warm = rss_bytes();

    let mut served = 0;
    let mut peak = rss_warm;
    for _ in 0..CYCLES / BATCH {
        served += batch(s.addr, BATCH).await;
        peak = peak.max(rss_bytes());
    }
    let took = t.elapsed();
    // Were streams not freed, the cap would soon refuse them.
    assert_eq!(served, CYCLES, "every stream was served");
    let rss_end = rss_bytes();

    // The next melt that blows publishes to no dead subscriber.
    let m = Instant::now();
    fb.melt("db").unwrap();
    let melt = m.elapsed();

    let mb = |b: u64| b as f64 / (1 << 20) as f64;
    eprintln!(
        "{CYCLES} /events cycles ({BATCH} at a time) in {took:?}: RSS {:.1} MB at start, \
         {:.1} MB after warm-up, {:.1} MB peak, {:.1} MB at end; the next melt took {melt:?}",
        mb(rss_start),
        mb(rss_warm),
        mb(peak),
        mb(rss_end)
    );
    assert!(
        rss_end <= rss_start + SLACK_BYTES,
        "RSS grew from {:.1} MB (the server started) to {:.1} MB",
        mb(rss_start),
        mb(rss_end)
    );
    assert!(melt < Duration::from_millis(50), "a melt took {melt:?}");
}
