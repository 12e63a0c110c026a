//! Graceful shutdown (`serve_router`, `serve_with_shutdown`): a request in
//! flight is answered in full, event streams end, idle connections close,
//! the listener stops, and the serve future returns; within the grace.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use fusebox::Fusebox;
use fusebox_admin::AdminConfig;
use support::raw::{self, closed_within, connect, read_reply};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

const SLOW: Duration = Duration::from_millis(300);

struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
    /// Told when `/slow` or `/never` has started.
    entered: mpsc::UnboundedReceiver<()>,
}

/// The admin router merged with `/slow` (sleeps 300 ms, then answers) and
/// `/never` (never answers), served by `serve_router`.
async fn start(config: AdminConfig) -> Running {
    let (tx, entered) = mpsc::unbounded_channel();
    let tx2 = tx.clone();
    let slow = move || {
        let tx = tx.clone();
        async move {
            let _ = tx.send(());
            tokio::time::sleep(SLOW).await;
            "slow and complete"
        }
    };
    let never = move || {
        let _ = tx2.send(());
        std::future::pending::<&'static str>()
    };
    let app = fusebox_admin::router(Fusebox::new(), config.clone())
        .route("/slow", axum::routing::get(slow))
        .route("/never", axum::routing::get(never));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(fusebox_admin::serve_router(listener, app, config, async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stop,
        server,
        entered,
    }
}

async fn send_get(addr: SocketAddr, path: &str) -> tokio::net::TcpStream {
    let mut c = connect(addr).await;
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    c.write_all(req.as_bytes()).await.unwrap();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_completes_the_request_in_flight() {
    let mut r = start(AdminConfig::new()).await;

    // An idle keep-alive connection, and an event stream.
    let mut idle = send_get(r.addr, "/api/fuses").await;
    assert_eq!(read_reply(&mut idle).await.status, 200);
    let mut events = send_get(r.addr, "/events").await;
    let mut got = Vec::new();
    let mut chunk = [0u8; 1024];
    while !String::from_utf8_lossy(&got).contains("event: ready") {
        let n = tokio::time::timeout(support::DEADLINE, events.read(&mut chunk))
            .await
            .expect("ready in time")
            .unwrap();
        assert!(n > 0);
        got.extend_from_slice(&chunk[..n]);
    }

    // A slow request, in its handler when the shutdown comes.
    let mut slow = send_get(r.addr, "/slow").await;
    tokio::time::timeout(support::DEADLINE, r.entered.recv())
        .await
        .expect("the slow handler started")
        .unwrap();
    let t = Instant::now();
    r.stop.send(()).unwrap();

    let reply = read_reply(&mut slow).await;
    let answered = t.elapsed();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, b"slow and complete");
    assert_eq!(reply.header("connection"), Some("close"));
    assert!(
        closed_within(&mut slow, Duration::from_secs(3))
            .await
            .is_some(),
        "closed after its answer"
    );

    // The stream ended cleanly: the chunked body's last chunk, then EOF.
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(3), events.read_to_end(&mut rest))
        .await
        .expect("the event stream ended within 3 s")
        .expect("ended cleanly, not reset");
    assert!(
        rest.ends_with(b"0\r\n\r\n"),
        "{:?}",
        String::from_utf8_lossy(&rest)
    );
    assert!(closed_within(&mut idle, Duration::from_secs(3))
        .await
        .is_some());

    tokio::time::timeout(Duration::from_secs(5), r.server)
        .await
        .expect("serve_router returned within 5 s")
        .unwrap()
        .unwrap();
    let returned = t.elapsed();
    eprintln!(
        "shutdown: slow request answered after {answered:?}, serve returned after {returned:?}"
    );
    // Not cut short: it ran its course.
    assert!(
        answered >= SLOW - Duration::from_millis(100),
        "{answered:?}"
    );
    // The listener is gone.
    assert!(tokio::net::TcpStream::connect(r.addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_never_ends_is_dropped_after_the_grace() {
    let grace = Duration::from_millis(300);
    let mut r = start(AdminConfig::new().shutdown_grace(grace)).await;
    let mut never = send_get(r.addr, "/never").await;
    tokio::time::timeout(support::DEADLINE, r.entered.recv())
        .await
        .expect("the endless handler started")
        .unwrap();
    let t = Instant::now();
    r.stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), r.server)
        .await
        .expect("serve_router returned within 5 s")
        .unwrap()
        .unwrap();
    let returned = t.elapsed();
    eprintln!(
        "shutdown with a request that never ends: returned after {returned:?} (grace {grace:?})"
    );
    assert!(
        returned >= grace - Duration::from_millis(50),
        "{returned:?}"
    );
    assert!(closed_within(&mut never, Duration::from_secs(3))
        .await
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_shutdown_returns_at_once_when_nothing_is_open() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(fusebox_admin::serve_with_shutdown(
        listener,
        Fusebox::new(),
        AdminConfig::new(),
        async {
            let _ = stopped.await;
        },
    ));
    assert_eq!(
        raw::get(addr, "/api/fuses", Some("localhost")).await.status,
        200
    );
    let t = Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("returned in time")
        .unwrap()
        .unwrap();
    eprintln!(
        "serve_with_shutdown returned {:?} after the signal",
        t.elapsed()
    );
}
