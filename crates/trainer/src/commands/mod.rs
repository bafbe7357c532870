//! One file per subcommand of `trainer`.

pub mod predict;
pub mod serve;
pub mod tutorials;
