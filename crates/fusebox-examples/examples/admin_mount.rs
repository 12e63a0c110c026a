//! The admin router mounted inside an application's own axum app, under
//! `/admin`, served on a free loopback port; one `GET /admin/api/fuses`
//! shows the JSON an operator (or `fusebox status`) reads, then the program
//! exits. It ends by itself, within 5 s whatever happens.
//!
//! ```sh
//! cargo run -p fusebox-examples --example admin_mount
//! ```
//!
//! In a real service the server would run until shutdown, and
//! `http://127.0.0.1:PORT/admin/` would be the live dashboard.

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use fusebox::{FuseConfig, Fusebox};
use fusebox_admin::AdminConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// `pub(crate)`: `tests/examples.rs` runs this example too.
#[tokio::main(flavor = "current_thread")]
pub(crate) async fn main() {
    tokio::time::timeout(Duration::from_secs(5), run())
        .await
        .expect("done within 5 s")
        .expect("no I/O error");
}

async fn run() -> std::io::Result<()> {
    let fb = Fusebox::new();
    fb.install("db", FuseConfig::standard(5, Duration::from_secs(10)))
        .expect("a valid config");
    fb.melt("db").expect("installed");

    // Control (POST .../disable, enable, reset, unlock) needs this token;
    // with no token configured, control is off and reads still work.
    let admin = fusebox_admin::router(fb.clone(), AdminConfig::new().token("s3cret"));
    let app = Router::new()
        .route("/orders", get(|| async { "the service's own routes" }))
        // `nest_service` answers `/admin` and `/admin/` too (`Router::nest`
        // routes only `/admin` and what is under it).
        .nest_service("/admin", admin);

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    println!("dashboard: http://{addr}/admin/");

    // One request with a bare HTTP/1.1 client, to need no client crate.
    let mut conn = TcpStream::connect(addr).await?;
    conn.write_all(
        b"GET /admin/api/fuses HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await?;
    let mut response = String::new();
    conn.read_to_string(&mut response).await?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    println!(
        "GET /admin/api/fuses -> {}",
        head.lines().next().unwrap_or("")
    );
    println!("{body}");
    assert!(head.starts_with("HTTP/1.1 200"));
    assert!(body.contains(r#""name":"db""#));

    server.abort(); // a real service would serve until shutdown
    Ok(())
}
