//! Shared test helpers: the reference model and a time bound for tests.
#![allow(dead_code, unreachable_pub)]
pub mod model;
pub mod reached;
pub mod watchdog;
