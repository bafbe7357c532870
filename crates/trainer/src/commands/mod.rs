//! One file per subcommand of `trainer`, each with its resolved description (`EvalRun`,
//! `PredictRun`, ...; `train`'s is [`crate::run::TrainRun`], which training itself reads) and the
//! `run` that does it. `cli.rs` builds the descriptions from the flags; nothing here sees the argument parser.

pub mod eval;
pub mod export;
pub mod export_tsv;
pub mod fetch;
pub mod predict;
pub mod serve;
pub mod train;
pub mod tutorials;
