//! Statistics kept by the fuses themselves, read by snapshots (and, later,
//! exported through the `metrics` facade without touching the hot path).

pub(crate) mod counters;
pub(crate) mod histogram;
