//! Which admin servers a command talks to: the `--url`, `--fleet`,
//! `--timeout` and `--parallel` flags, and the fleet file.
//!
//! The fleet file is plain text, one URL per line, `#` to the end of a line
//! a comment:
//!
//! ```text
//! # checkout, eu-west
//! http://10.0.3.11:9797
//! http://10.0.3.12:9797   # the canary
//! ```
//!
//! Plain text rather than TOML because a fleet list is nearly always
//! generated (from DNS, a service registry, `kubectl get pods -o
//! jsonpath=...`) and edited with `grep`, `sort` and `sed`, which produce
//! and keep exactly this shape; a TOML array would add quoting and a schema
//! for what is a list of strings, and a mistake in one line would make the
//! whole file unreadable. A line is checked as `--url` is, and reported with
//! its line number. TOML would earn its keep only with settings per target
//! (a token each, a display name), which the fleet does not have: every
//! target gets the same `--token`, and is shown by its URL.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::client::{self, Client};
use crate::limit::{self, ByteSize};
use crate::{Failure, DEFAULT_URL};

/// The most targets one command talks to; a larger fleet is split, or
/// watched through Prometheus (`deploy/prometheus/`).
pub(crate) const MAX_TARGETS: usize = 1024;

/// The largest fleet file read.
pub(crate) const MAX_FLEET_FILE: usize = 1 << 20;

/// A fleet's per-target deadline when `--timeout` is not given.
pub(crate) const FLEET_TIMEOUT: Duration = Duration::from_secs(2);

/// The admin servers to talk to (every command that may talk to many).
#[derive(Debug, clap::Args)]
pub(crate) struct Targets {
    /// An admin server's base URL (http only); repeat it for a fleet.
    /// Without --url or --fleet: $FUSEBOX_URL, or http://127.0.0.1:9797.
    #[arg(long = "url", value_name = "URL")]
    urls: Vec<String>,
    /// A file of admin URLs, one per line, `#` comments; with --url, both.
    #[arg(long, value_name = "FILE")]
    fleet: Option<PathBuf>,
    /// The deadline of each target, from connect to the answer's last byte
    /// ("2s", "500ms"); default 2s for a fleet, 10s for one server.
    #[arg(long, value_name = "DURATION", value_parser = fusebox::duration::parse)]
    timeout: Option<Duration>,
    /// The most targets asked at once (1 to 256).
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    parallel: u16,
    /// The largest answer to read ("16MiB", "512KiB", bytes); larger ones
    /// are an error.
    #[arg(
        long,
        env = "FUSEBOX_MAX_BODY",
        value_name = "SIZE",
        default_value_t = limit::DEFAULT_MAX_BODY,
        value_parser = limit::parse_max_body,
    )]
    max_body: ByteSize,
}

/// One admin server of a fleet.
#[derive(Debug)]
pub(crate) struct Target {
    /// How tables name it: the URL without `http://`.
    pub(crate) label: String,
    pub(crate) client: Client,
}

/// What the flags name: one server, as before fleets, or a fleet.
#[derive(Debug)]
pub(crate) enum Plan {
    One(Client),
    Fleet(Fleet),
}

/// Several servers, and how to ask them.
#[derive(Debug)]
pub(crate) struct Fleet {
    pub(crate) targets: Vec<Target>,
    pub(crate) parallel: usize,
    pub(crate) timeout: Duration,
}

impl Targets {
    /// One server for a single `--url` (or `$FUSEBOX_URL`, or the default)
    /// and no `--fleet`; a fleet otherwise.
    pub(crate) fn plan(&self) -> Result<Plan, Failure> {
        if self.fleet.is_none() && self.urls.len() <= 1 {
            let url = match self.urls.first() {
                Some(url) => url.clone(),
                None => std::env::var("FUSEBOX_URL").unwrap_or_default(),
            };
            let url = if url.trim().is_empty() {
                DEFAULT_URL
            } else {
                &url
            };
            let client =
                Client::new(url, self.max_body)?.timeout(self.timeout.unwrap_or(client::TIMEOUT));
            return Ok(Plan::One(client));
        }
        let mut urls: Vec<(String, String)> = Vec::new();
        for url in &self.urls {
            if url.trim().is_empty() {
                return Err(Failure("an empty --url in a fleet".to_owned()));
            }
            urls.push((url.clone(), format!("--url {url:?}")));
        }
        if let Some(path) = &self.fleet {
            let text = read_fleet_file(path)?;
            let lines = parse_fleet(&text)
                .map_err(|(line, what)| Failure(format!("{}:{line}: {what}", path.display())))?;
            if lines.is_empty() {
                return Err(Failure(format!(
                    "{}: names no target (one URL per line)",
                    path.display()
                )));
            }
            urls.extend(
                lines
                    .into_iter()
                    .map(|(line, url)| (url, format!("{}:{line}", path.display()))),
            );
        }
        let timeout = self.timeout.unwrap_or(FLEET_TIMEOUT);
        let mut targets: Vec<Target> = Vec::new();
        for (url, from) in urls {
            let client = Client::new(&url, self.max_body)
                .map_err(|Failure(what)| Failure(format!("{from}: {what}")))?
                .timeout(timeout)
                .one_shot();
            // The same server named twice is asked once.
            if targets.iter().any(|t| t.client.base() == client.base()) {
                continue;
            }
            if targets.len() == MAX_TARGETS {
                return Err(Failure(format!(
                    "more than {MAX_TARGETS} targets; split the fleet, or watch it through Prometheus"
                )));
            }
            let label = client
                .base()
                .strip_prefix("http://")
                .unwrap_or(client.base())
                .to_owned();
            targets.push(Target { label, client });
        }
        Ok(Plan::Fleet(Fleet {
            targets,
            parallel: usize::from(self.parallel),
            timeout,
        }))
    }
}

/// The fleet file's text, at most [`MAX_FLEET_FILE`] bytes of it.
fn read_fleet_file(path: &Path) -> Result<String, Failure> {
    let file = std::fs::File::open(path)
        .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?;
    let bytes = limit::read_to_limit(file, MAX_FLEET_FILE)
        .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?
        .map_err(|_| {
            Failure(format!(
                "{}: larger than {} MiB, the limit of a fleet file",
                path.display(),
                MAX_FLEET_FILE >> 20
            ))
        })?;
    String::from_utf8(bytes).map_err(|_| Failure(format!("{}: not UTF-8 text", path.display())))
}

/// The URLs of a fleet file with their line numbers (from 1), or the first
/// line that is not one URL.
fn parse_fleet(text: &str) -> Result<Vec<(usize, String)>, (usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        // An admin URL has no fragment, so `#` always starts a comment.
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let url = words.next().unwrap_or_default();
        if words.next().is_some() {
            return Err((i + 1, format!("expected one URL per line, got {line:?}")));
        }
        out.push((i + 1, url.to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Args {
        #[command(flatten)]
        targets: Targets,
    }

    fn plan(args: &[&str]) -> Result<Plan, Failure> {
        Args::try_parse_from([&["t"], args].concat())
            .unwrap()
            .targets
            .plan()
    }

    #[test]
    fn one_url_is_one_server_and_more_are_a_fleet() {
        let Ok(Plan::One(one)) = plan(&["--url", "http://a:1/"]) else {
            panic!("one server");
        };
        assert_eq!(one.base(), "http://a:1");
        let Ok(Plan::One(one)) = plan(&["--url", " "]) else {
            panic!("one server");
        };
        assert_eq!(one.base(), DEFAULT_URL, "empty is the default");
        let Ok(Plan::Fleet(f)) = plan(&[
            "--url",
            "http://a:1",
            "--url",
            "http://b:2/x/",
            "--url",
            "http://a:1/",
        ]) else {
            panic!("a fleet");
        };
        let labels: Vec<&str> = f.targets.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["a:1", "b:2/x"], "named twice, asked once");
        assert_eq!((f.timeout, f.parallel), (FLEET_TIMEOUT, 16));
        let Ok(Plan::Fleet(f)) = plan(&[
            "--url",
            "http://a:1",
            "--url",
            "http://b:1",
            "--timeout",
            "250ms",
            "--parallel",
            "3",
        ]) else {
            panic!("a fleet");
        };
        assert_eq!((f.timeout, f.parallel), (Duration::from_millis(250), 3));
        assert!(plan(&["--url", "http://a:1", "--url", ""]).is_err());
        let Err(Failure(what)) = plan(&["--url", "http://a:1", "--url", "https://b:1"]) else {
            panic!("https refused");
        };
        assert!(what.starts_with("--url \"https://b:1\": "), "{what}");
        assert!(Args::try_parse_from(["t", "--parallel", "0"]).is_err());
        assert!(Args::try_parse_from(["t", "--parallel", "257"]).is_err());
    }

    #[test]
    fn a_fleet_file_is_checked_by_line_and_capped() {
        let dir = std::env::temp_dir().join(format!("fusebox-fleet-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path.to_str().unwrap().to_owned()
        };
        let good = file("good.txt", "# two\nhttp://a:1\nhttp://b:1 # b\n");
        let Ok(Plan::Fleet(f)) = plan(&["--fleet", &good]) else {
            panic!("a fleet");
        };
        assert_eq!(f.targets.len(), 2);
        // A fleet file of one is still a fleet: its output says so.
        let one = file("one.txt", "http://a:1\n");
        assert!(matches!(plan(&["--fleet", &one]), Ok(Plan::Fleet(_))));
        let bad = file("bad.txt", "http://a:1\n\nftp://b:1\n");
        let Err(Failure(what)) = plan(&["--fleet", &bad]) else {
            panic!("bad line");
        };
        assert!(what.starts_with(&format!("{bad}:3: bad --url")), "{what}");
        let empty = file("empty.txt", "# nobody\n");
        assert!(plan(&["--fleet", &empty]).is_err());
        let many: String = (0..=MAX_TARGETS)
            .map(|i| format!("http://h{i}:1\n"))
            .collect();
        let many = file("many.txt", &many);
        let Err(Failure(what)) = plan(&["--fleet", &many]) else {
            panic!("too many");
        };
        assert!(what.starts_with("more than 1024 targets"), "{what}");
        let huge = file("huge.txt", &"#".repeat(MAX_FLEET_FILE + 1));
        let Err(Failure(what)) = plan(&["--fleet", &huge]) else {
            panic!("too large");
        };
        assert!(what.contains("larger than 1 MiB"), "{what}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_fleet_file_is_urls_comments_and_blank_lines() {
        let text = "# eu-west\n\nhttp://a:9797\n  http://b:9797/admin  # canary\n#http://c:1\n";
        assert_eq!(
            parse_fleet(text).unwrap(),
            [
                (3, "http://a:9797".to_owned()),
                (4, "http://b:9797/admin".to_owned())
            ]
        );
        assert_eq!(parse_fleet("# nothing\n\n").unwrap(), []);
        let (line, what) = parse_fleet("http://a:1\nhttp://b:1 http://c:1\n").unwrap_err();
        assert_eq!(line, 2);
        assert!(what.contains("one URL per line"), "{what}");
    }
}
