//! What the black-box tests of the `fusebox` binary share: running it (with
//! a deadline, an environment and optionally a memory cap), a real admin
//! server over a Fusebox, and a fake server that answers what a test says.
//!
//! Nothing waits on a fixed sleep: listeners are bound before the binary
//! starts, and every run of the binary has a generous deadline after which
//! it is killed and the test fails.

// Each test file uses its own part of this module.
#![allow(dead_code)]

mod looping;

pub(crate) use looping::{looping, Looping};

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fusebox::{FuseConfig, Fusebox, ValveConfig};
use fusebox_admin::AdminConfig;

/// How long one run of the binary may take before the test gives up.
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

pub(crate) const TOKEN: &str = "s3cret";

/// An admin server over a Fusebox with fuse `db` (blows at the first melt),
/// fuse `other`, and valve `api`; it stops when dropped.
pub(crate) struct Server {
    pub(crate) url: String,
    pub(crate) fb: Fusebox,
    _rt: tokio::runtime::Runtime,
}

pub(crate) fn server() -> Server {
    let fb = Fusebox::new();
    fb.install("db", FuseConfig::standard(0, Duration::from_secs(60)))
        .unwrap();
    fb.install("other", FuseConfig::standard(0, Duration::from_secs(60)))
        .unwrap();
    fb.install_valve("api", ValveConfig::new().concurrency(4).queue(16))
        .unwrap();
    let (url, rt) = serve(fb.clone(), AdminConfig::new().token(TOKEN));
    Server { url, fb, _rt: rt }
}

/// Serves `fb` with `config` on a fresh port, from a one-worker runtime
/// of its own; the server's URL, and the runtime, which stops it when
/// dropped. The listener is bound before this returns.
pub(crate) fn serve(fb: Fusebox, config: AdminConfig) -> (String, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(fusebox_admin::serve_listener(listener, fb, config));
    (url, rt)
}

/// Melts and resets `names` in turn, forever, until dropped: a steady
/// stream of transitions (`ok -> blown`, `blown -> ok`).
pub(crate) fn churn(fb: &Fusebox, names: &'static [&'static str]) -> Looping {
    let fb = fb.clone();
    looping(move || {
        for name in names {
            fb.melt(name).unwrap();
            fb.reset(name).unwrap();
        }
        // Pacing, not synchronisation: a few hundred events a second.
        std::thread::sleep(Duration::from_millis(2));
    })
}

/// What a run of the binary left.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) took: Duration,
}

impl Run {
    pub(crate) fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// Runs `fusebox args...` with no FUSEBOX_* variables, killing it after
/// [`DEADLINE`].
pub(crate) fn fusebox(args: &[&str]) -> Run {
    Invocation::new(args).run()
}

/// One run of the binary, with what it runs under.
#[derive(Debug)]
pub(crate) struct Invocation {
    args: Vec<String>,
    env: Vec<(String, String)>,
    memory_cap: Option<u64>,
    open_files_cap: Option<u64>,
}

impl Invocation {
    pub(crate) fn new(args: &[&str]) -> Self {
        Invocation {
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
            memory_cap: None,
            open_files_cap: None,
        }
    }

    /// Sets an environment variable (every FUSEBOX_* one is removed first).
    pub(crate) fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Runs the binary with its address space capped at `bytes`
    /// (`RLIMIT_AS`): an allocation past it fails, and Rust aborts.
    pub(crate) fn memory_cap(mut self, bytes: u64) -> Self {
        self.memory_cap = Some(bytes);
        self
    }

    /// Runs the binary with at most `n` file descriptors (`RLIMIT_NOFILE`):
    /// a socket past them fails with "too many open files".
    pub(crate) fn open_files_cap(mut self, n: u64) -> Self {
        self.open_files_cap = Some(n);
        self
    }

    pub(crate) fn run(self) -> Run {
        let args = &self.args;
        let start = Instant::now();
        let mut command = Command::new(env!("CARGO_BIN_EXE_fusebox"));
        command
            .args(args)
            .env_remove("FUSEBOX_URL")
            .env_remove("FUSEBOX_TOKEN")
            .env_remove("FUSEBOX_MAX_BODY")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(cap) = self.memory_cap {
            cap_resource(&mut command, Resource::AddressSpace, cap);
        }
        if let Some(cap) = self.open_files_cap {
            cap_resource(&mut command, Resource::OpenFiles, cap);
        }
        let mut child = command.spawn().expect("the binary starts");
        let drain = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
        };
        let out = drain(Box::new(child.stdout.take().unwrap()));
        let err = drain(Box::new(child.stderr.take().unwrap()));
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "fusebox {args:?} still running after {DEADLINE:?}\nstdout:\n{}\nstderr:\n{}",
                    out.join().unwrap(),
                    err.join().unwrap()
                );
            }
            // Polling the child's exit, not waiting for an event of the test.
            std::thread::sleep(Duration::from_millis(10));
        };
        let run = Run {
            status,
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
            took: start.elapsed(),
        };
        eprintln!("fusebox {args:?} -> {run:?}");
        run
    }
}

/// A limit the binary runs under.
#[derive(Debug, Clone, Copy)]
enum Resource {
    AddressSpace,
    OpenFiles,
}

#[cfg(unix)]
fn cap_resource(command: &mut Command, resource: Resource, cap: u64) {
    use std::os::unix::process::CommandExt;
    let limit = libc::rlimit {
        rlim_cur: cap as libc::rlim_t,
        rlim_max: cap as libc::rlim_t,
    };
    let which = match resource {
        Resource::AddressSpace => libc::RLIMIT_AS,
        Resource::OpenFiles => libc::RLIMIT_NOFILE,
    };
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe calls are allowed: it calls setrlimit (which is)
    // and reads errno, and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::setrlimit(which, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

#[cfg(not(unix))]
fn cap_resource(_: &mut Command, _: Resource, _: u64) {
    panic!("resource caps need setrlimit (unix)");
}

/// What the fake server answers to every request.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// 200 with this Content-Type and body (and its Content-Length).
    Fixed {
        content_type: &'static str,
        body: String,
    },
    /// 200 with a chunked body of `fill` bytes that never ends.
    Endless {
        content_type: &'static str,
        fill: u8,
    },
}

/// An HTTP/1.1 server on 127.0.0.1 that gives every request the same
/// [`Reply`], one thread per connection; it stops accepting when dropped.
pub(crate) struct Fake {
    pub(crate) url: String,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
}

pub(crate) fn fake(reply: Reply) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if flag.load(Ordering::Relaxed) {
                break;
            }
            let Ok(conn) = conn else { continue };
            let reply = reply.clone();
            std::thread::spawn(move || answer(conn, &reply));
        }
    });
    Fake {
        url: format!("http://{addr}"),
        stop,
        addr,
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Reads one request's head and writes the reply; an endless one until the
/// client goes away (the write fails).
fn answer(mut conn: TcpStream, reply: &Reply) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 << 10 {
        match conn.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    match reply {
        Reply::Fixed { content_type, body } => {
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        Reply::Endless { content_type, fill } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
            );
            if conn.write_all(head.as_bytes()).is_err() {
                return;
            }
            let mut chunk = format!("{:x}\r\n", 64 << 10).into_bytes();
            chunk.extend(std::iter::repeat_n(*fill, 64 << 10));
            chunk.extend_from_slice(b"\r\n");
            while conn.write_all(&chunk).is_ok() {}
        }
    }
}
