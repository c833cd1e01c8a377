//! painters: layer-execution experiments on frozen transformers.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use painters::output::StdoutClosed;

fn main() -> ExitCode {
    match painters::run(painters::cli::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of stdout stopped early (`painters plan x.toml | head -1`): not an
        // error, as in ripgrep (see `painters::output`).
        Err(e) if e.is::<StdoutClosed>() => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::from(2)
        }
    }
}
