//! Shared helpers: poll a future once, serve an axum app on 127.0.0.1, a
//! real HTTP client, and a gate that holds handlers until the test lets
//! them go (so concurrency is decided by the test, never by timing).

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use http_body_util::BodyExt;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use tokio::sync::{mpsc, Mutex, Semaphore};

/// A safety net only: nothing in the tests waits on time to synchronize.
pub const SAFETY: Duration = Duration::from_secs(20);

/// Polls `f` once, with a waker that does nothing.
pub fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(Waker::noop()))
}

/// Serves `app` on an ephemeral port of 127.0.0.1 until the runtime ends.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// What a GET got back.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

/// A hyper client over real TCP connections.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpConnector, Body>,
    addr: SocketAddr,
}

impl HttpClient {
    pub fn new(addr: SocketAddr) -> Self {
        HttpClient {
            client: Client::builder(TokioExecutor::new()).build_http(),
            addr,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        let uri = format!("http://{}{}", self.addr, path);
        let work = async {
            let resp = self.client.get(uri.parse().unwrap()).await.unwrap();
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            Reply {
                status,
                headers,
                body: String::from_utf8(body.to_vec()).unwrap(),
            }
        };
        tokio::time::timeout(SAFETY, work)
            .await
            .expect("safety net: request took too long")
    }
}

/// Handlers call [`Gate::pass`]: they say they entered, then wait until the
/// test [`release`](Gate::release)s them.
pub struct Gate {
    entered_tx: mpsc::UnboundedSender<()>,
    entered_rx: Mutex<mpsc::UnboundedReceiver<()>>,
    release: Semaphore,
}

impl Gate {
    pub fn new() -> Arc<Self> {
        let (entered_tx, entered_rx) = mpsc::unbounded_channel();
        Arc::new(Gate {
            entered_tx,
            entered_rx: Mutex::new(entered_rx),
            release: Semaphore::new(0),
        })
    }

    /// In a handler: announce, then wait for the test.
    pub async fn pass(&self) {
        self.entered_tx.send(()).unwrap();
        self.release.acquire().await.unwrap().forget();
    }

    /// In the test: wait until `n` more handlers have entered.
    pub async fn entered(&self, n: usize) {
        let mut rx = self.entered_rx.lock().await;
        for _ in 0..n {
            tokio::time::timeout(SAFETY, rx.recv())
                .await
                .expect("safety net: handler never entered")
                .unwrap();
        }
    }

    /// In the test: how many entered and were not yet counted by `entered`.
    pub async fn entered_now(&self) -> usize {
        let mut rx = self.entered_rx.lock().await;
        let mut n = 0;
        while rx.try_recv().is_ok() {
            n += 1;
        }
        n
    }

    /// Lets `n` handlers go.
    pub fn release(&self, n: usize) {
        self.release.add_permits(n);
    }
}

/// Waits (yielding, never sleeping a guessed time) until `cond` holds.
pub async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let wait = async {
        while !cond() {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(SAFETY, wait)
        .await
        .unwrap_or_else(|_| panic!("safety net: never saw {what}"));
}
