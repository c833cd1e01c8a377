//! painters: layer-execution experiments on frozen transformers. The binary is a thin
//! shell over [`run`]; each subcommand lives in `cmd/`, the eval-suite backend over a
//! layer-graph model in `backend`.

mod atomic;
pub mod backend;
mod cells;
pub mod cli;
mod cmd;
pub mod experiment;
pub mod fetch;
mod grid;
pub mod identity;
pub mod importance;
pub mod lens;
pub mod output;
mod paired;
pub mod paper_table;
pub mod plot;
pub mod prune;
pub mod report;
pub mod shard;
mod store;
mod summary;
mod table;
mod task_files;
#[cfg(test)]
mod testing;

pub use cmd::run;
