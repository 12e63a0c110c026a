//! Fleets: one command, many admin servers.
//!
//! A service runs as many replicas, each with its own Fusebox and admin
//! server, and the question at 3 a.m. is "is `db` blown everywhere (the
//! database is down) or on one host (that host is sick)?". Asking each
//! replica in turn takes as long as the slowest ones added up, and one
//! replica that accepts the connection and never answers stalls the rest.
//! So `status` and the control commands take several targets (`--url`
//! repeated, or `--fleet FILE`), ask them all at once, and give each its own
//! deadline (`--timeout`, 2 s): a target that has not answered by then is
//! reported as unreachable, with why, and the others are shown.
//!
//! Everything stays bounded, as every read of this command is
//! ([`crate::limit`]): at most [`targets::MAX_TARGETS`] targets, at most
//! `--parallel` (16) requests in flight at once, each on a connection of its
//! own that closes with its answer (no keep-alive: a client per target kept
//! to the end must not keep a descriptor per target too), every answer read
//! into a `--max-body` buffer by the same [`Client`](crate::client::Client)
//! a single target uses, and the fleet file itself read to at most
//! [`targets::MAX_FLEET_FILE`]. The whole command therefore ends within
//! `ceil(targets / parallel)` deadlines, one with the defaults up to 16
//! targets.
//!
//! One `--url` (or `$FUSEBOX_URL`, or none) is not a fleet: the command
//! prints what it always has.

pub(crate) mod fanout;
pub(crate) mod targets;
