//! One module per subcommand.

pub(crate) mod check;
pub(crate) mod code_trace;
pub(crate) mod control;
pub(crate) mod demo;
pub(crate) mod refresh;
pub(crate) mod simulate;
pub(crate) mod status;
pub(crate) mod top;
pub(crate) mod trace;
pub(crate) mod watch;
