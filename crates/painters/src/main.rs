//! painters: layer-execution experiments on frozen transformers.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use painters::output::StdoutClosed;

fn main() -> ExitCode {
    reproducible_cpu_math();
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

/// The same command gives the same numbers on a CPU: MKL's multithreaded SGEMM otherwise
/// picks its code path by buffer alignment, so one run in a few differs from the others in
/// the last bits (up to 1e-3 per token on a long passage under a reordered plan). MKL's
/// conditional numerical reproducibility (`MKL_CBWR=AUTO,STRICT`: the best code path for
/// this CPU, independent of alignment) removes it at a few per cent of speed (`make bench`).
/// MKL reads the variable when it initialises, at libtorch's first matrix product, so it
/// is set here, before any tensor exists; a value the user set is kept.
fn reproducible_cpu_math() {
    if std::env::var_os("MKL_CBWR").is_none() {
        // SAFETY: the first statement of main, before any other thread exists.
        unsafe { std::env::set_var("MKL_CBWR", "AUTO,STRICT") };
    }
}
