//! painters: layer-execution experiments on frozen transformers.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match painters::run(painters::cli::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
