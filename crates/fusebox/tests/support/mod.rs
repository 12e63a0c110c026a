//! Shared test helpers: the reference model.
#![allow(dead_code, unreachable_pub)]
pub mod model;
