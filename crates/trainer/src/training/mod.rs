//! Training a model: [`resume`] decides what a run does to its directory (fresh, overwrite or
//! resume) before anything changes; [`train`] runs it on Burn's Learner with the [`loader`],
//! [`optimizer`], [`trainee`] (mid-epoch saves), [`checkpoint`]s, and what it reports while it
//! runs ([`progress`], [`epoch_lines`], [`throughput`]), stopped by [`ctrl_c`].

pub mod checkpoint;
pub mod ctrl_c;
pub mod epoch_lines;
pub mod loader;
pub mod optimizer;
pub mod progress;
pub mod resume;
pub mod throughput;
pub mod train;
pub mod trainee;
