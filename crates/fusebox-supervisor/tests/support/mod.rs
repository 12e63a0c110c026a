//! Shared by the supervisor's black-box tests.
#![allow(dead_code, unreachable_pub)]

pub mod model;
