//! The server's bounds (DESIGN.md section 7, "Admin server bounds"; the
//! contract's section 4.1): what a careless or hostile client can do to a
//! real `fusebox_admin::serve_listener` on 127.0.0.1, and what it cannot.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fusebox::{FuseConfig, Fusebox};
use fusebox_admin::AdminConfig;
use support::raw::{self, closed_within, connect, read_reply};
use support::{start_with, TOKEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn fusebox() -> Fusebox {
    let fb = Fusebox::new();
    fb.install("db", FuseConfig::standard(0, Duration::from_secs(60)))
        .unwrap();
    fb
}

/// Reads until `needle` has arrived; panics after `DEADLINE`.
async fn read_until(s: &mut tokio::net::TcpStream, needle: &str) -> String {
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    tokio::time::timeout(support::DEADLINE, async {
        while !String::from_utf8_lossy(&got).contains(needle) {
            let n = s.read(&mut chunk).await.expect("read");
            assert!(
                n > 0,
                "closed before {needle:?}: {:?}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{needle:?} in time"));
    String::from_utf8_lossy(&got).into_owned()
}

async fn open_events(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    let mut s = connect(addr).await;
    s.write_all(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_idle_connections_do_not_lock_out_a_get() {
    const IDLE: usize = 1000;
    const CAP: usize = 256;
    if !raw::raise_fd_limit((IDLE + CAP + 256) as libc::rlim_t) {
        eprintln!(
            "SKIPPED a_thousand_idle_connections_do_not_lock_out_a_get: \
             the hard RLIMIT_NOFILE is below {}",
            IDLE + CAP + 256
        );
        return;
    }
    // The default cap; header timeout long enough that none fires during
    // the test, so the counts below are exact.
    let config = AdminConfig::new()
        .max_connections(CAP)
        .header_read_timeout(Duration::from_secs(120))
        .idle_timeout(Duration::from_secs(120));
    let s = start_with(fusebox(), config).await;

    // 1,000 connections that send nothing; count those the server closes.
    let closed = Arc::new(AtomicUsize::new(0));
    let mut idle = tokio::task::JoinSet::new();
    for _ in 0..IDLE {
        let mut c = connect(s.addr).await;
        let closed = closed.clone();
        idle.spawn(async move {
            if closed_within(&mut c, Duration::from_secs(60))
                .await
                .is_some()
            {
                closed.fetch_add(1, Ordering::SeqCst);
            }
            c // kept open until the test ends
        });
    }
    let wait_for = |n: usize| {
        let closed = closed.clone();
        async move {
            let deadline = Instant::now() + support::DEADLINE;
            while closed.load(Ordering::SeqCst) < n {
                assert!(
                    Instant::now() < deadline,
                    "only {closed:?} closed, want {n}"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    // Every one accepted: all but the cap's worth were closed to make room.
    wait_for(IDLE - CAP).await;

    // An operator's GET now: it takes the place of the oldest idle one.
    let t = Instant::now();
    let reply = tokio::time::timeout(
        Duration::from_secs(1),
        raw::get(s.addr, "/api/fuses/db", Some("127.0.0.1")),
    )
    .await
    .expect("a GET answered within 1 s beside 1,000 idle connections");
    let took = t.elapsed();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["name"], "db");

    wait_for(IDLE - CAP + 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let closed_now = closed.load(Ordering::SeqCst);
    eprintln!(
        "GET beside {IDLE} idle connections (cap {CAP}) answered in {took:?}; \
         {closed_now} idle ones closed, {} open",
        IDLE - closed_now
    );
    // Never more than the cap open: 255 idle ones and the GET's own.
    assert_eq!(closed_now, IDLE - CAP + 1);
    idle.abort_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_head_is_cut_off_after_the_header_timeout() {
    let timeout = Duration::from_millis(300);
    let config = AdminConfig::new().header_read_timeout(timeout);
    let s = start_with(fusebox(), config).await;

    // Part of a request line, then nothing.
    let mut c = connect(s.addr).await;
    c.write_all(b"GET /api/fu").await.unwrap();
    let took = closed_within(&mut c, Duration::from_secs(3))
        .await
        .expect("the server closed a half-sent head within 3 s");
    eprintln!("half a request line: closed after {took:?} (timeout {timeout:?})");
    assert!(took >= timeout - Duration::from_millis(50), "{took:?}");

    // A trickle does not reset the clock: a byte every 50 ms, closed anyway.
    let mut c = connect(s.addr).await;
    let t = Instant::now();
    let trickle = b"GET /api/fuses HTTP/1.1\r\nHost: localhost\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut cut = None;
    for b in trickle.iter() {
        if c.write_all(&[*b]).await.is_err() {
            cut = Some(t.elapsed());
            break;
        }
        if closed_within(&mut c, Duration::from_millis(50))
            .await
            .is_some()
        {
            cut = Some(t.elapsed());
            break;
        }
    }
    let cut = cut.expect("a trickled head was cut off");
    eprintln!("a head trickled a byte per 50 ms: closed after {cut:?}");
    assert!(cut < Duration::from_secs(3), "{cut:?}");

    // A connection that sends nothing at all goes the same way.
    let mut c = connect(s.addr).await;
    let took = closed_within(&mut c, Duration::from_secs(3))
        .await
        .expect("a silent connection closed within 3 s");
    eprintln!("a silent new connection: closed after {took:?}");

    // And the server still answers.
    assert_eq!(
        raw::get(s.addr, "/api/fuses", Some("localhost"))
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let idle = Duration::from_millis(300);
    let config = AdminConfig::new()
        .idle_timeout(idle)
        .header_read_timeout(Duration::from_secs(30));
    let s = start_with(fusebox(), config).await;
    let mut c = connect(s.addr).await;
    for _ in 0..2 {
        c.write_all(b"GET /api/fuses HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(read_reply(&mut c).await.status, 200);
    }
    let took = closed_within(&mut c, Duration::from_secs(3))
        .await
        .expect("an idle keep-alive connection closed within 3 s");
    eprintln!("idle keep-alive connection closed after {took:?} (idle timeout {idle:?})");
    assert!(took >= idle - Duration::from_millis(50), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_answered_400() {
    let config = AdminConfig::new()
        .token(TOKEN)
        .header_read_timeout(Duration::from_millis(300));
    let s = start_with(fusebox(), config).await;
    let mut c = connect(s.addr).await;
    let head = format!(
        "POST /api/fuses/db/disable HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {TOKEN}\r\nContent-Length: 10\r\n\r\n{{}}"
    );
    c.write_all(head.as_bytes()).await.unwrap();
    let t = Instant::now();
    let reply = tokio::time::timeout(Duration::from_secs(3), read_reply(&mut c))
        .await
        .expect("a stalled body answered within 3 s");
    eprintln!(
        "stalled body answered {} after {:?}",
        reply.status,
        t.elapsed()
    );
    reply.error(400);
    assert_eq!(
        s.fb.state("db").unwrap().state,
        fusebox::fuse::FuseState::Ok
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stream_is_never_idle() {
    // Idle timeout 1 s: keep-alive comments every 500 ms keep the stream.
    let config = AdminConfig::new().idle_timeout(Duration::from_secs(1));
    let s = start_with(fusebox(), config).await;
    let mut c = open_events(s.addr).await;
    read_until(&mut c, "event: ready").await;
    assert!(
        closed_within(&mut c, Duration::from_millis(2500))
            .await
            .is_none(),
        "an event stream was closed as idle"
    );
    s.fb.melt("db").unwrap();
    read_until(&mut c, "\"blown\"").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_are_capped() {
    let config = AdminConfig::new().max_event_streams(2);
    let s = start_with(fusebox(), config).await;
    let mut a = open_events(s.addr).await;
    read_until(&mut a, "event: ready").await;
    let mut b = open_events(s.addr).await;
    read_until(&mut b, "event: ready").await;

    let refused = raw::get(s.addr, "/events", Some("localhost")).await;
    let v = refused.error(503);
    assert_eq!(v["error"], "too many event streams");
    assert_eq!(v["limit"], 2);
    assert!(refused.header("retry-after").is_some());

    // A closed stream gives its place back (as soon as the server sees it).
    drop(a);
    let deadline = Instant::now() + support::DEADLINE;
    loop {
        let mut c = open_events(s.addr).await;
        let head = read_until(&mut c, "\r\n\r\n").await;
        if head.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the stream's place never came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Other endpoints are not affected.
    assert_eq!(
        raw::get(s.addr, "/api/fuses", Some("localhost"))
            .await
            .status,
        200
    );
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_connection_busy_a_newcomer_gets_503() {
    let config = AdminConfig::new().max_connections(2);
    let s = start_with(fusebox(), config).await;
    // Two event streams: busy, never closed for room.
    let mut a = open_events(s.addr).await;
    read_until(&mut a, "event: ready").await;
    let mut b = open_events(s.addr).await;
    read_until(&mut b, "event: ready").await;

    let reply = raw::get(s.addr, "/api/fuses", Some("localhost")).await;
    assert_eq!(reply.error(503)["error"], "server busy");
    assert_eq!(reply.header("connection"), Some("close"));
    // The streams live on.
    s.fb.melt("db").unwrap();
    read_until(&mut a, "\"blown\"").await;
    read_until(&mut b, "\"blown\"").await;

    drop(a);
    let deadline = Instant::now() + support::DEADLINE;
    while raw::get(s.addr, "/api/fuses", Some("localhost"))
        .await
        .status
        != 200
    {
        assert!(Instant::now() < deadline, "the slot never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(b);
}
